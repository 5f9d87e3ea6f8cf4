// The server and the migrate script as a newcomer runs them: real child processes
// (`npm start` is `node scripts/start.mjs`), a database folder that does not exist yet, and
// the operations GraphiQL opens with.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Kind, parse, print, type OperationDefinitionNode } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exampleOperations } from "../../src/graphql/graphiql-tab.js";
import { gql, subscribe, type GqlResult, type Transport } from "../helpers/client.js";
import { freePort } from "../helpers/free-port.js";
import type { TestServer } from "../helpers/server.js";
import { killGroup, newcomerEnv, watched, type Watched } from "../helpers/child-process.js";
import { waitUntil } from "../helpers/wait-until.js";

const root = join(import.meta.dirname, "../..");
const tsx = join(root, "node_modules/.bin/tsx");
const migrationCount = readdirSync(join(root, "prisma/migrations/sqlite"), { withFileTypes: true }).filter((e) => e.isDirectory()).length;

// ---------------------------------------------------------------------------------
// Child processes

interface Proc extends Watched {
  stdoutLines(): string[];
  /** Waits for a stdout line matching `pattern`; fails early if the process exits. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

const children = new Set<ChildProcess>();

const killAll = () => children.forEach(killGroup);
// Should the worker die before afterAll runs, leave no server behind.
process.once("exit", killAll);

/** Runs the server as `npm start` does, or a script as its npm script does (tsx). */
function run(args: string[], settings: Record<string, string>): Proc {
  const [command, commandArgs] = args[0] === "src/main.ts" ? [process.execPath, ["scripts/start.mjs"]] : [tsx, args];
  // Its own process group, so that cleanup reaches any child as well.
  const child = spawn(command, commandArgs, { cwd: root, env: newcomerEnv(settings), detached: true, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  const proc = watched(child, () => children.delete(child));
  return { ...proc, stdoutLines: () => proc.stdout().split("\n").filter((l) => l.length > 0), waitForLine: (pattern, timeoutMs = 20_000) => proc.line(pattern, timeoutMs) };
}

/** Waits for the exit, killing the process if it takes longer than `timeoutMs`. */
async function exitOf(proc: Proc, timeoutMs = 15_000) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      killGroup(proc.child);
      reject(new Error(`did not exit within ${timeoutMs} ms\nstdout:\n${proc.stdout()}\nstderr:\n${proc.stderr()}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([proc.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface Running {
  proc: Proc;
  port: number;
  base: string;
  url: string;
  readyLine: string;
  /** A TestServer-like object for the subscription helpers. */
  server: TestServer;
}

async function startMain(databaseUrl: string, settings: Record<string, string> = { HOST: "127.0.0.1" }): Promise<Running> {
  const port = await freePort();
  const proc = run(["src/main.ts"], { PORT: String(port), DATABASE_URL: databaseUrl, ...settings });
  const base = `http://127.0.0.1:${port}`;
  const url = `${base}/graphql`;
  try {
    const readyLine = await proc.waitForLine(/agent-hq ready at/);
    return { proc, port, base, url, readyLine, server: { url, wsUrl: `ws://127.0.0.1:${port}/graphql` } as TestServer };
  } catch (error) {
    killGroup(proc.child);
    throw error;
  }
}

/** SIGTERM, as `docker stop` or Ctrl-C would; returns the exit. */
async function stop(running: Running) {
  running.proc.child.kill("SIGTERM");
  return exitOf(running.proc);
}

// ---------------------------------------------------------------------------------
// The example operations

/** Runs one named operation of the whole document, as GraphiQL sends it. */
async function runOperation(url: string, operationName: string, variables: Record<string, unknown>, token?: string): Promise<GqlResult> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/graphql-response+json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query: exampleOperations, operationName, variables }),
    signal: AbortSignal.timeout(15_000),
  });
  return (await response.json()) as GqlResult;
}

const operations = parse(exampleOperations).definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);

function migrationRows(file: string) {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(`SELECT migration_name, finished_at, rolled_back_at FROM _prisma_migrations`).all() as {
      migration_name: string;
      finished_at: unknown;
      rolled_back_at: unknown;
    }[];
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "agent-hq-startup-"));
});
afterAll(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe("npm start", () => {
  let running: Running | undefined;
  let databaseFile: string;
  let databaseUrl: string;
  let token: string;
  let teamId: string;

  beforeAll(() => {
    databaseFile = join(dir, "data", "agent-hq.db");
    databaseUrl = `file:${databaseFile}`;
  });
  afterAll(async () => {
    if (running) {
      killGroup(running.proc.child);
      await running.proc.exited;
    }
  });

  it("starts on an empty folder: creates and migrates the SQLite file and is ready", async () => {
    expect(existsSync(join(dir, "data"))).toBe(false);
    running = await startMain(databaseUrl);
    const { base, url, proc } = running;

    expect(existsSync(databaseFile)).toBe(true);
    const rows = migrationRows(databaseFile);
    expect(rows).toHaveLength(migrationCount);
    expect(rows.every((r) => r.finished_at !== null && r.rolled_back_at === null)).toBe(true);

    const health = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5_000) });
    expect(health.status).toBe(200);
    const ready = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(5_000) });
    expect(ready.status).toBe(200);

    // One line tells the newcomer where to go.
    expect(url).toBe(`http://127.0.0.1:${running.port}/graphql`);
    expect(proc.stdoutLines().filter((l) => l.includes(url))).toEqual([running.readyLine]);
    expect(JSON.parse(running.readyLine)).toMatchObject({ msg: `agent-hq ready at ${url}`, database: "sqlite", level: 30 });
    expect(proc.stderr()).toBe("");
  });

  it("serves GraphiQL with the example operations", async () => {
    const response = await fetch(running!.url, { headers: { accept: "text/html" }, signal: AbortSignal.timeout(5_000) });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain("<title>agent-hq</title>");
    // The options are embedded as JSON: the example text, escaped as JSON escapes it.
    expect(html).toContain(JSON.stringify(exampleOperations));
  });

  it("runs the example operations in order, as shown", async () => {
    const { url, server } = running!;
    expect(operations.map((o) => o.name?.value)).toEqual(["RegisterAgent", "Me", "CreateTeam", "AddMember", "Journal", "TeamEvents"]);

    for (const operation of operations) {
      const name = operation.name!.value;
      const variables: Record<string, unknown> = {};
      for (const v of operation.variableDefinitions ?? []) {
        expect(v.variable.name.value, `${name} takes an unexpected variable`).toBe("teamId");
        variables.teamId = teamId;
      }

      if (operation.operation === "subscription") {
        for (const transport of ["ws", "sse"] as Transport[]) {
          const sub = subscribe(transport, server, token, print(operation), variables);
          try {
            const kinds: string[] = [];
            for (let i = 0; i < 3; i++) {
              const event = await sub.next(10_000);
              expect(event.errors, `${name} over ${transport}`).toBeUndefined();
              expect(event.data.teamEvents).toMatchObject({ cursor: expect.anything(), actor: { name: "planner" } });
              kinds.push(event.data.teamEvents.kind);
            }
            expect(kinds, `${name} over ${transport}`).toEqual(["team.created", "team.member_added", "team.member_added"]);
          } finally {
            await sub.close();
          }
        }
        continue;
      }

      if (name === "AddMember") {
        const worker = await gql(url, `mutation { registerAgent(input: { name: "worker" }) { agent { id } } }`);
        expect(worker.errors).toBeUndefined();
      }
      const result = await runOperation(url, name, variables, token);
      expect(result.errors, `${name} answered with errors`).toBeUndefined();
      expect(result.data, name).toBeTruthy();

      if (name === "RegisterAgent") {
        expect(result.data.registerAgent.agent.name).toBe("planner");
        token = result.data.registerAgent.token;
        expect(token).toMatch(/^ahq_/);
      }
      if (name === "Me") expect(result.data.me.name).toBe("planner");
      if (name === "CreateTeam") {
        teamId = result.data.createTeam.id;
        expect(result.data.createTeam.members).toEqual([{ role: "lead", agent: { name: "planner" } }]);
      }
      if (name === "AddMember") expect(result.data.addTeamMember).toEqual({ role: "researcher", agent: { name: "worker" } });
      if (name === "Journal") {
        const kinds = result.data.team.journal.edges.map((e: { node: { kind: string } }) => e.node.kind);
        expect(kinds).toEqual(expect.arrayContaining(["team.created", "team.member_added"]));
      }
    }
  });

  it("keeps all data across a SIGTERM and a second start on the same file", async () => {
    expect(token, "needs the example operations to have run").toBeDefined();
    const first = running!;
    running = undefined;
    expect(await stop(first)).toMatchObject({ code: 0, signal: null });

    running = await startMain(databaseUrl);
    const { url } = running;
    const me = await gql(url, `{ me { name } }`, {}, token);
    expect(me.errors).toBeUndefined();
    expect(me.data.me.name).toBe("planner");
    const team = await gql(url, `query($id: ID!) { team(id: $id) { id name members { agent { name } } } }`, { id: teamId }, token);
    expect(team.errors).toBeUndefined();
    expect(team.data.team).toMatchObject({ id: teamId, name: "research" });
    expect(team.data.team.members.map((m: { agent: { name: string } }) => m.agent.name).sort()).toEqual(["planner", "worker"]);
    expect(migrationRows(databaseFile)).toHaveLength(migrationCount);

    const second = running;
    running = undefined;
    expect(await stop(second)).toMatchObject({ code: 0, signal: null });
  });

  it("refuses an invalid setting with a message naming it", async () => {
    const proc = run(["src/main.ts"], { PORT: "abc", HOST: "127.0.0.1", DATABASE_URL: `file:${join(dir, "never", "x.db")}` });
    const { code } = await exitOf(proc);
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(proc.stderr()).toMatch(/Invalid configuration/);
    expect(proc.stderr()).toMatch(/PORT/);
    expect(existsSync(join(dir, "never"))).toBe(false);
  });
});

describe("where it listens", () => {
  /** One address of this machine that is not loopback, if it has one. */
  const outward = Object.values(networkInterfaces()).flat().find((a) => a && a.family === "IPv4" && !a.internal)?.address;

  it("listens on 127.0.0.1 when HOST is unset: reachable from this machine only", async () => {
    const running = await startMain(`file:${join(dir, "loopback", "hq.db")}`, {});
    try {
      expect(JSON.parse(running.readyLine).msg).toBe(`agent-hq ready at http://127.0.0.1:${running.port}/graphql`);
      expect((await fetch(`${running.base}/healthz`, { signal: AbortSignal.timeout(5_000) })).status).toBe(200);
      if (outward) {
        const error = await fetch(`http://${outward}:${running.port}/healthz`, { signal: AbortSignal.timeout(5_000) }).then(() => null, (e: Error) => e);
        expect((error?.cause as NodeJS.ErrnoException | undefined)?.code, `reached through ${outward}`).toBe("ECONNREFUSED");
      }
    } finally {
      expect(await stop(running)).toMatchObject({ code: 0, signal: null });
    }
  });

  it.each(["0.0.0.0", "::"])("refuses HOST=%s without AGENT_HQ_REGISTRATION_KEY, naming both settings", async (host) => {
    const never = join(dir, "open", "hq.db");
    const proc = run(["src/main.ts"], { PORT: String(await freePort()), HOST: host, DATABASE_URL: `file:${never}` });
    const { code } = await exitOf(proc);
    expect(code).toBe(2);
    expect(proc.stderr()).toMatch(/^Invalid configuration:/);
    expect(proc.stderr()).toContain(`HOST: ${host} is reachable from other machines`);
    expect(proc.stderr()).toMatch(/set AGENT_HQ_REGISTRATION_KEY/);
    expect(proc.stderr()).toMatch(/ALLOW_OPEN_REGISTRATION=true/);
    expect(existsSync(never)).toBe(false);
  });

  it("listens beyond loopback with ALLOW_OPEN_REGISTRATION=true, and says registration is open", async () => {
    const running = await startMain(`file:${join(dir, "allowed", "hq.db")}`, { HOST: "0.0.0.0", ALLOW_OPEN_REGISTRATION: "true" });
    try {
      const warning = JSON.parse(await running.proc.waitForLine(/registration is open/));
      expect(warning).toMatchObject({ level: 40, msg: `registration is open to anyone who can reach 0.0.0.0:${running.port} (ALLOW_OPEN_REGISTRATION=true)` });
      expect((await fetch(`http://127.0.0.1:${running.port}/healthz`, { signal: AbortSignal.timeout(5_000) })).status).toBe(200);
    } finally {
      expect(await stop(running)).toMatchObject({ code: 0, signal: null });
    }
  });

  it("listens beyond loopback with a registration key, without the warning", async () => {
    const running = await startMain(`file:${join(dir, "keyed", "hq.db")}`, { HOST: "0.0.0.0", AGENT_HQ_REGISTRATION_KEY: "a-long-key" });
    try {
      expect((await fetch(`http://127.0.0.1:${running.port}/healthz`, { signal: AbortSignal.timeout(5_000) })).status).toBe(200);
    } finally {
      expect(await stop(running)).toMatchObject({ code: 0, signal: null });
    }
    expect(running.proc.stdout()).not.toMatch(/registration is open/);
  });
});

describe("npm run migrate", () => {
  it("creates and migrates a database, then finds it up to date", async () => {
    const file = join(dir, "migrate", "hq.db");
    const settings = { DATABASE_URL: `file:${file}` };

    const first = run(["scripts/migrate.ts"], settings);
    expect((await exitOf(first)).code, first.stderr()).toBe(0);
    expect(first.stdout()).toContain(`applied ${migrationCount} migration`);
    expect(existsSync(file)).toBe(true);

    const second = run(["scripts/migrate.ts"], settings);
    expect((await exitOf(second)).code, second.stderr()).toBe(0);
    expect(second.stdout().trim()).toBe("database is up to date");

    const rows = migrationRows(file);
    expect(rows).toHaveLength(migrationCount);
    expect(rows.every((r) => r.finished_at !== null && r.rolled_back_at === null)).toBe(true);
  });
});
