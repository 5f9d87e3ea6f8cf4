// The README's walkthrough, run exactly as written: its ```sh blocks, pasted into bash by a
// newcomer, against a real server. Twice on the same server, because agent names are unique
// and the data is kept: what works once on a fresh server must work on the next run too.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killGroup, newcomerEnv, watched } from "../helpers/child-process.js";
import { startServer, type TestServer } from "../helpers/server.js";

const root = join(import.meta.dirname, "../..");
const readme = readFileSync(join(root, "README.md"), "utf8");

/** The README's section whose heading names the walkthrough, up to the next heading of its level. */
function walkthroughSection(): string {
  const start = readme.search(/^## .*walkthrough/im);
  if (start < 0) throw new Error('README.md has no "## … walkthrough" section');
  const rest = readme.slice(start + 3);
  const end = rest.search(/^## /m);
  return end < 0 ? rest : rest.slice(0, end);
}

const section = walkthroughSection();
const script = [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]).join("\n");
// What the README shows the last command printing.
const shownOutput = /^```text\n([\s\S]*?)^```$/m.exec(section)?.[1]?.trimEnd().split("\n") ?? [];

// The board at the end, as the walkthrough leaves it; the worker's name carries the run's suffix.
const finalBoard = [/^#1 \[completed\] Design the schema \((worker-[\w.-]+)\)$/, /^#2 \[pending\] Build the API$/];

const children = new Set<ChildProcess>();
process.once("exit", () => children.forEach(killGroup));

/** Runs the walkthrough in bash as a newcomer's shell would, stopping at the first failing command. */
function runWalkthrough(url: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // -e and pipefail make a failed command (a GraphQL error included: `pick` fails on one) end
  // the run; -u makes a variable used before the walkthrough sets it an error.
  const child = spawn("bash", ["-euo", "pipefail", "-c", script], {
    cwd: root,
    env: newcomerEnv({ HQ: url }),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  const run = watched(child, () => children.delete(child));
  // A safety net only: a run takes seconds; this bounds a hung server or command.
  const timer = setTimeout(() => killGroup(child), 120_000);
  return run.exited.finally(() => clearTimeout(timer));
}

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  children.forEach(killGroup);
  await server?.close();
});

describe("the README's walkthrough", () => {
  it("is shell commands that take the server's URL from HQ, defaulting to the one npm start serves", () => {
    expect(script).toContain("HQ=${HQ:-http://localhost:4000/graphql}");
    // The output the README shows is what the run below checks.
    expect(shownOutput).toHaveLength(finalBoard.length);
    shownOutput.forEach((line, i) => expect(line).toMatch(finalBoard[i]!));
  });

  it("runs as written, twice in a row on the same server, and leaves the board it shows", { timeout: 300_000 }, async () => {
    const workers: string[] = [];
    for (const run of [1, 2]) {
      const { code, stdout, stderr } = await runWalkthrough(server.url);
      expect({ run, code, stderr }).toEqual({ run, code: 0, stderr: "" });
      const board = stdout.trimEnd().split("\n").slice(-finalBoard.length);
      board.forEach((line, i) => expect(line).toMatch(finalBoard[i]!));
      workers.push(finalBoard[0]!.exec(board[0]!)![1]!);
    }
    expect(new Set(workers).size).toBe(2);

    // Both runs reached this server (not another one on port 4000): their agents are here.
    const agents = await server.app.services.db.reader.agent.findMany({ where: { name: { in: workers } }, select: { name: true } });
    expect(agents.map((a) => a.name).sort()).toEqual([...workers].sort());
  });
});
