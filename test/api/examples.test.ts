// The example agents in examples/, run as a newcomer runs them
// (`HQ_URL=… node --import tsx examples/<name>.ts`) against one real server: each must exit 0
// on its own, having printed the story it tells.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killGroup, newcomerEnv, watched } from "../helpers/child-process.js";
import { freePort } from "../helpers/free-port.js";
import { startServer, type TestServer } from "../helpers/server.js";

const root = join(import.meta.dirname, "../..");
const TIMEOUT_MS = 30_000;

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.close());

const children = new Set<ChildProcess>();
process.once("exit", () => children.forEach(killGroup));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Python 3, where the machine has it: the Python example runs only then. */
const python = (() => {
  try {
    return execFileSync("python3", ["--version"], { encoding: "utf8" }).startsWith("Python 3") ? "python3" : null;
  } catch {
    return null;
  }
})();
if (!python) console.warn("[examples] python3 not found: the Python example is skipped");

/** Runs one example to its end (killed after TIMEOUT_MS): a .py file with Python, else TypeScript. */
function runExample(name: string, settings: Record<string, string>): Promise<Run> {
  const [command, args] = name.endsWith(".py") ? [python!, [`examples/${name}`]] : [process.execPath, ["--import", "tsx", `examples/${name}.ts`]];
  // Its own process group, so that a kill on timeout reaches everything it started.
  const child = spawn(command, args, {
    cwd: root,
    env: newcomerEnv(settings),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  const run = watched(child, () => children.delete(child));
  const timer = setTimeout(() => killGroup(child), TIMEOUT_MS - 2_000);
  return run.exited.finally(() => clearTimeout(timer));
}

/** Runs an example against the test server; it must exit 0 on its own. Returns its output. */
async function story(name: string): Promise<string> {
  const run = await runExample(name, { HQ_URL: server.url });
  if (run.code !== 0) throw new Error(`${name} exited with ${run.code ?? run.signal}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  expect(run.stdout.trimEnd().split("\n").at(-1)).toBe("done.");
  return run.stdout;
}

const name = (role: string) => `${role}-[0-9a-f]{6}`;

describe("the example agents", () => {
  it.skipIf(!python)("task_api.py: story 3 in Python's standard library, waiting with awaitEvents instead of polling", { timeout: TIMEOUT_MS }, async () => {
    const out = await story("task_api.py");
    expect(out).toMatch(new RegExp(`\\[${name("researcher")}\\] got a message from ${name("orchestrator")}: "#1 is yours: start with Acme"`));
    expect(out).toContain("progress 120 is refused: BAD_USER_INPUT");
    // PostgreSQL's jsonb keeps its own key order.
    expect(out).toMatch(/finding on #1 by researcher-[0-9a-f]{6}: \{.*"competitor": "Acme"/);
    expect(out).toMatch(/still has: #2 Summarize pricing tiers \(PENDING\)/);
  });

  it("planner-and-worker: the worker works the sprint in track order; the planner sees every task done", { timeout: TIMEOUT_MS }, async () => {
    const out = await story("planner-and-worker");
    expect(out).toContain(`[worker]       read "Tasks ready. Sprint 1 is live." from the planner`);
    expect(out).toContain("my task #2 \"Implement the API endpoints\" (track main): blocked by #1 (track main)");
    expect(out).toContain("tried to claim #2 too: CONFLICT: task #2 is not ready: blocked by #1 (track main)");
    expect(out).toContain("claimed #3 on track review at the same time");
    expect(out).toContain("notice: #2 is ready");
    for (const line of ["#1 [completed] Design the data schema", "#2 [completed] Implement the API endpoints", "#3 [completed] Review the API design"]) {
      expect(out).toMatch(new RegExp(`^    ${line.replace(/[[\]]/g, "\\$&")} \\(${name("worker")}\\)$`, "m"));
    }
  });

  it("team-headquarters: the board, the refused cycle, the owner's notice, the nudge to verify", { timeout: TIMEOUT_MS }, async () => {
    const out = await story("team-headquarters");
    expect(out).toContain("tried #2 blocked by #3: CONFLICT: #2 blocked by #3 would close a cycle: #2 → #3 → #2");
    expect(out).toContain(`mailbox: "Task #3 "Update unit tests" is assigned to you."`);
    expect(out).toMatch(new RegExp(`^    #1 \\[completed\\] Analyze current schema \\(${name("alice")}\\)$`, "m"));
    expect(out).toMatch(new RegExp(`^    #2 \\[in_progress\\] Create migration script \\(${name("bob")}\\)$`, "m"));
    expect(out).toMatch(new RegExp(`^    #3 \\[pending\\] Update unit tests \\(${name("bob")}\\) \\[blocked by #2\\]$`, "m"));
    expect(out).toMatch(/completed #6 "Drop legacy columns"; the answer says: .*verif/i);
  });

  it("task-api: tasks with metadata, progress and notes, findings read by another agent, lists by assignee and status", { timeout: TIMEOUT_MS }, async () => {
    const out = await story("task-api");
    // PostgreSQL's jsonb keeps keys in its own order: look for the key, not the order.
    expect(out).toMatch(new RegExp(`created #1 "Collect competitor prices": IN_PROGRESS, HIGH, for ${name("researcher")}, metadata \\{.*"source":"web"`));
    expect(out).toContain(`#1: progress 60, notes "3 of 5 sites done"`);
    expect(out).toContain("progress 120 is refused: BAD_USER_INPUT");
    expect(out).toMatch(new RegExp(`\\[analyst\\] +finding by ${name("researcher")}: \\{.*"competitor":"Acme"`));
    expect(out).toContain("the researcher's open tasks: #2 Summarize pricing tiers [PENDING]");
    expect(out).toContain("the researcher's completed tasks: #1 Collect competitor prices (100%)");
  });

  it("research-pipeline: write policy, reports.*, ask and wait, ask several, the journal", { timeout: TIMEOUT_MS }, async () => {
    const out = await story("research-pipeline");
    expect(out).toMatch(/tried to overwrite findings\.acme: FORBIDDEN: .*may not write "findings\.acme"/);
    expect(out).toMatch(new RegExp(`heard on reports\\.pricing from ${name("researcher")}: "Pricing report ready`));
    expect(out).toContain(`asked the researcher, got "Monthly; annual billing takes 10% off."`);
    expect(out).toMatch(new RegExp(`asked all three for 2 s: 2 answers in \\d+ ms; unanswered: ${name("writer")}$`, "m"));
    expect(out).toMatch(new RegExp(`^    ${name("analyst")}: context\\.set analysis\\.summary, topic\\.followed, message\\.sent, message\\.sent$`, "m"));
  });

  it("blackboard-and-knowledge: findings by key and pattern, compare-and-set, tagged knowledge, search, recent", { timeout: TIMEOUT_MS }, async () => {
    const out = await story("blackboard-and-knowledge");
    expect(out).toMatch(new RegExp(`read findings\\.acme: "Acme: Pro at \\$49 and Team at \\$99 a month" by ${name("ada")} at \\S+ \\(version 1\\)`));
    expect(out).toContain("findings.* holds 3 keys: findings.acme, findings.globex, findings.initech");
    expect(out).toContain(`CONFLICT: context key "findings.acme" is at version 2, not 1`);
    expect(out).toContain(`search "claims", best first: 1. Claiming tasks with leases  2. Acme pricing tiers`);
    expect(out).toMatch(new RegExp(`^    \\S+  Initech free tier \\(${name("linus")}\\)$`, "m"));
  });

  it("an example that cannot reach the server says so and exits 1", { timeout: TIMEOUT_MS }, async () => {
    const run = await runExample("task-api", { HQ_URL: `http://127.0.0.1:${await freePort()}/graphql` });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("FAILED:");
  });
});
