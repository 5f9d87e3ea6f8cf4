// `agent-hq` (bin/agent-hq.mjs) as a person runs it: a real child process against a real
// server; what it prints is what they copy into their MCP client, so that is used as printed.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gql } from "../helpers/client.js";
import { killGroup, newcomerEnv, watched, type Watched } from "../helpers/child-process.js";
import { freePort } from "../helpers/free-port.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { waitUntil } from "../helpers/wait-until.js";

const root = join(import.meta.dirname, "../..");
const migrationCount = readdirSync(join(root, "prisma/migrations/sqlite"), { withFileTypes: true }).filter((e) => e.isDirectory()).length;

const children = new Set<ChildProcess>();
process.once("exit", () => children.forEach(killGroup));

type Cli = Watched;

/** Starts `agent-hq <args>` in a clean shell's environment plus `settings`. */
function spawnCli(args: string[], settings: Record<string, string> = {}): Cli {
  const env = newcomerEnv(settings);
  // Only what the test gives: none of the CLI's own settings leak in from this shell.
  for (const key of ["HQ_URL", "AGENT_HQ_TOKEN"]) if (!(key in settings)) delete env[key];
  // Its own process group, so that cleanup reaches the server `start` runs as well.
  const child = spawn(process.execPath, [join(root, "bin/agent-hq.mjs"), ...args], { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  return watched(child, () => children.delete(child));
}

/** Runs `agent-hq <args>` to its end. */
function cli(args: string[], settings: Record<string, string> = {}) {
  const run = spawnCli(args, settings);
  const timer = setTimeout(() => killGroup(run.child), 30_000);
  return run.exited.finally(() => clearTimeout(timer));
}

/** The JSON object that starts on the line `{` of the human output. */
function printedJson(stdout: string): any {
  const lines = stdout.split("\n");
  const start = lines.indexOf("{");
  const end = lines.indexOf("}", start);
  return JSON.parse(lines.slice(start, end + 1).join("\n"));
}

/** Calls whoami over MCP with exactly the configuration a client would be given. */
async function whoamiWith(config: { url: string; headers: Record<string, string> }): Promise<string> {
  const client = new Client({ name: "cli-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(config.url), { requestInit: { headers: config.headers } }));
  try {
    const result = (await client.callTool({ name: "whoami", arguments: {} })) as { isError?: boolean; content: { type: string; text: string }[] };
    expect(result.isError).toBeFalsy();
    return result.content.map((c) => c.text).join("\n");
  } finally {
    await client.close();
  }
}

let server: TestServer;
let keyed: TestServer;
let dir: string;
beforeAll(async () => {
  [server, keyed] = await Promise.all([startServer(), startServer({ AGENT_HQ_REGISTRATION_KEY: "the-registration-key" })]);
  dir = mkdtempSync(join(tmpdir(), "agent-hq-cli-"));
});
afterAll(async () => {
  children.forEach(killGroup);
  await Promise.all([server?.close(), keyed?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe("agent-hq register", () => {
  it("prints the token, the claude mcp add command and the MCP configuration, each working as printed", async () => {
    const run = await cli(["register", "planner", "--description", "plans the sprint", "--url", server.url]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const mcpUrl = server.url.replace(/\/graphql$/, "/mcp");

    const token = /^ {2}(ahq_\S+)$/m.exec(run.stdout)![1]!;
    expect(run.stdout).toMatch(/^Registered agent "planner" \(\S+\)\.$/m);
    const me = await gql(server.url, `{ me { name description } }`, {}, token);
    expect(me.data.me).toEqual({ name: "planner", description: "plans the sprint" });

    // The command line, as Claude Code would receive it from a shell.
    const command = /^ {2}(claude mcp add .*)$/m.exec(run.stdout)![1]!;
    expect(command).toBe(`claude mcp add --transport http agent-hq ${mcpUrl} --header "Authorization: Bearer ${token}"`);
    const header = /--header "([^"]+)"/.exec(command)![1]!;
    const [name, value] = header.split(": ");
    expect(await whoamiWith({ url: command.split(" ")[6]!, headers: { [name!]: value! } })).toContain("planner");

    // The configuration, as a client would read it from .mcp.json.
    const config = printedJson(run.stdout);
    expect(config).toEqual({ mcpServers: { "agent-hq": { type: "http", url: mcpUrl, headers: { Authorization: `Bearer ${token}` } } } });
    expect(await whoamiWith(config.mcpServers["agent-hq"])).toContain("planner");
    expect(run.stdout).toContain(`export AGENT_HQ_TOKEN=${token}`);
  });

  it("--json prints the same for scripts; HQ_URL gives the server", async () => {
    const run = await cli(["register", "scripted", "--json"], { HQ_URL: server.url });
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out).toMatchObject({ agent: { id: expect.any(String), name: "scripted" }, token: expect.stringMatching(/^ahq_/), mcpUrl: server.url.replace(/\/graphql$/, "/mcp") });
    expect(out.claudeMcpAdd).toContain(`Bearer ${out.token}`);
    expect(await whoamiWith(out.mcpConfig.mcpServers["agent-hq"])).toContain("scripted");
  });

  it("a taken name: the server's code and message, exit status 1, nothing on stdout", async () => {
    expect((await cli(["register", "twice", "--url", server.url])).code).toBe(0);
    const run = await cli(["register", "twice", "--url", server.url]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim()).toBe(`agent-hq: CONFLICT: an agent named "twice" already exists; choose another name`);
  });

  it("on a server with a registration key: refused without it, accepted from --registration-key or AGENT_HQ_REGISTRATION_KEY", async () => {
    const refused = await cli(["register", "no-key", "--url", keyed.url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^agent-hq: FORBIDDEN: registration on this server needs its registration key/);

    const fromOption = await cli(["register", "with-option", "--url", keyed.url, "--registration-key", "the-registration-key", "--json"]);
    expect(fromOption.code, fromOption.stderr).toBe(0);
    const fromEnv = await cli(["register", "with-env", "--url", keyed.url, "--json"], { AGENT_HQ_REGISTRATION_KEY: "the-registration-key" });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    expect(JSON.parse(fromEnv.stdout).agent.name).toBe("with-env");
  });

  it("a server that is not there: says so and how to fix it, exit status 1", async () => {
    const url = `http://127.0.0.1:${await freePort()}/graphql`;
    const run = await cli(["register", "nobody", "--url", url]);
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(`agent-hq: cannot reach ${url} (ECONNREFUSED): is the server running? Start it with \`agent-hq start\` (or npm start), or give its address with --url or HQ_URL.`);
  });
});

describe("agent-hq token", () => {
  it("rotate: prints a new token and its MCP configuration; the old one is refused", async () => {
    const registered = JSON.parse((await cli(["register", "rotator", "--url", server.url, "--json"])).stdout);
    const run = await cli(["token", "rotate"], { HQ_URL: server.url, AGENT_HQ_TOKEN: registered.token });
    expect(run.code, run.stderr).toBe(0);
    const token = /^ {2}(ahq_\S+)$/m.exec(run.stdout)![1]!;
    expect(token).not.toBe(registered.token);
    expect(printedJson(run.stdout).mcpServers["agent-hq"].headers).toEqual({ Authorization: `Bearer ${token}` });
    expect((await gql(server.url, `{ me { name } }`, {}, token)).data.me.name).toBe("rotator");
    expect((await gql(server.url, `{ me { name } }`, {}, registered.token)).errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");

    const again = await cli(["token", "rotate", "--token", registered.token, "--url", server.url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^agent-hq: UNAUTHENTICATED: /);
  });

  it("revoke: the token is refused afterwards", async () => {
    const registered = JSON.parse((await cli(["register", "revoker", "--url", server.url, "--json"])).stdout);
    const run = await cli(["token", "revoke", "--token", registered.token, "--url", server.url]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toMatch(/^Revoked token \S+ at \d{4}-\d\d-\d\dT[\d:.]+Z\.$/);
    expect((await gql(server.url, `{ me { name } }`, {}, registered.token)).errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("without a token: a usage error naming --token and AGENT_HQ_TOKEN, exit status 2", async () => {
    const run = await cli(["token", "revoke", "--url", server.url]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^agent-hq: token revoke needs the agent's token: --token <token>, or AGENT_HQ_TOKEN in the environment$/m);
  });
});

describe("agent-hq usage", () => {
  it("--help lists the commands, exit status 0", async () => {
    const run = await cli(["--help"]);
    expect(run.code).toBe(0);
    for (const command of ["register <name>", "token rotate", "token revoke", "migrate", "start"]) expect(run.stdout).toContain(command);
  });

  it.each([
    [["frobnicate"], /unknown command: frobnicate/],
    [["register"], /register needs the agent's name/],
    [["register", "a", "b"], /unexpected argument: b/],
    [["token", "renew"], /unknown token command: renew \(rotate or revoke\)/],
    [["register", "a", "--nope"], /Unknown option '--nope'/],
    [["register", "a", "--url", "not a url"], /not a URL: not a url/],
  ])("%j: a usage error, exit status 2", async (args, message) => {
    const run = await cli(args as string[]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toMatch(/Run agent-hq --help/);
  });
});

describe("agent-hq migrate and start", () => {
  it("migrate creates and migrates the database, then finds it up to date; a bad setting exits 1", async () => {
    const file = join(dir, "migrate", "hq.db");
    const first = await cli(["migrate"], { DATABASE_URL: `file:${file}` });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`applied ${migrationCount} migration`);
    expect(existsSync(file)).toBe(true);
    const second = await cli(["migrate"], { DATABASE_URL: `file:${file}` });
    expect(second.stdout.trim()).toBe("database is up to date");

    const bad = await cli(["migrate"], { DATABASE_URL: "mysql://x" });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Invalid configuration:\n {2}- DATABASE_URL: must start with file:/);
  });

  it("start serves as npm start does; register works against it; SIGTERM to the command stops the server", async () => {
    const port = await freePort();
    const start = spawnCli(["start"], { PORT: String(port), DATABASE_URL: `file:${join(dir, "start", "hq.db")}` });
    const ready = JSON.parse(await start.line(/agent-hq ready at/));
    expect(ready.msg).toBe(`agent-hq ready at http://127.0.0.1:${port}/graphql`);

    const registered = await cli(["register", "started", "--json"], { HQ_URL: `http://localhost:${port}/graphql` });
    expect(registered.code, registered.stderr).toBe(0);

    // To the command only, not its group: it passes the signal on to the server.
    start.child.kill("SIGTERM");
    const { code } = await start.exited;
    expect(code).toBe(0);
    expect(start.stdout()).toMatch(/"msg":"shutting down"/);
    const after = await fetch(`http://127.0.0.1:${port}/healthz`).then(() => null, (e: Error) => e);
    expect((after?.cause as NodeJS.ErrnoException | undefined)?.code).toBe("ECONNREFUSED");
  });
});
