// Servers under test, each a child process pinned to the server core: agent-hq started
// exactly as `npm start` starts it (package.json's start script, without npm in front, so
// the PID is the server's own) and the bare-Yoga baseline, started the same way.
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../test/helpers/free-port.js";
import { cleanEnv, cpuSeconds, killGroup, root, rssBytes, sleep, spawnPinned, stopGroup, track } from "./proc.js";

export const SERVER_CORE = 0;
export const LOAD_CORE = 1;
/** The baseline's entry point, for scripts/start.mjs. */
export const BARE_YOGA = "bench/bare-yoga.ts";

export interface RunningServer {
  name: string;
  pid: number;
  port: number;
  base: string;
  url: string;
  wsUrl: string;
  child: ChildProcess;
  output(): string;
  rss(): number | null;
  /** CPU seconds (user and system) the server has used so far. */
  cpu(): number | null;
  stop(): Promise<void>;
}

/**
 * What `npm start` runs: package.json's start script, which must be a plain `node …`
 * command. `args` are node's arguments, `script` the file node runs (to find the server
 * among npm's processes by its command line).
 */
export function npmStart(): { args: string[]; script: string } {
  const command: string = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts.start;
  const [node, ...args] = command.trim().split(/\s+/);
  const script = args.find((a) => !a.startsWith("-"));
  if (node !== "node" || !script || /["'$`\\;&|<>]/.test(command)) throw new Error(`the bench runs npm start's command without npm, so it must be a plain "node …" command; it is: ${command}`);
  return { args, script };
}

/** Settings every agent-hq server under test gets (before the caller's own). */
export const serverDefaults: Record<string, string> = {
  LOG_LEVEL: "warn",
  // Rate limits must not throttle a benchmark.
  RATE_LIMIT_PER_MINUTE: "100000000",
  RATE_LIMIT_ANONYMOUS_PER_MINUTE: "100000000",
  INTROSPECTION: "true",
};

async function startProcess(name: string, args: string[], env: Record<string, string>, ready: (base: string) => Promise<boolean>, timeoutMs = 60_000): Promise<RunningServer> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = track(
    spawnPinned(SERVER_CORE, process.execPath, args, {
      cwd: root,
      env: cleanEnv({ ...env, PORT: String(port), HOST: "127.0.0.1" }),
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (c: string) => (output = (output + c).slice(-20_000)));
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (output = (output + c).slice(-20_000)));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited before it was ready:\n${output}`);
    if (await ready(base).catch(() => false)) break;
    if (Date.now() > deadline) {
      killGroup(child);
      throw new Error(`${name} was not ready within ${timeoutMs} ms:\n${output}`);
    }
    await sleep(50);
  }
  return {
    name,
    pid: child.pid!,
    port,
    base,
    url: `${base}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    child,
    output: () => output,
    rss: () => rssBytes(child.pid!),
    cpu: () => cpuSeconds(child.pid!),
    stop: () => stopGroup(child, "SIGTERM", 15_000),
  };
}

/** agent-hq on `databaseUrl` (migrated at start), ready when /readyz answers 200. */
export function startAgentHq(name: string, databaseUrl: string, env: Record<string, string> = {}): Promise<RunningServer> {
  // BENCH_CPU_PROF=<dir>: each agent-hq server writes a V8 CPU profile there when it stops.
  const profile = process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  return startProcess(name, [...profile, ...npmStart().args], { ...serverDefaults, DATABASE_URL: databaseUrl, ...env }, async (base) => {
    const response = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) });
    return response.status === 200;
  });
}

/** The bare Yoga baseline (bundled and run by npm start's script), ready when it answers { __typename }. */
export function startBareYoga(): Promise<RunningServer> {
  return startProcess("bare-yoga", [...npmStart().args, BARE_YOGA], {}, async (base) => {
    const response = await fetch(`${base}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"query":"{ __typename }"}',
      signal: AbortSignal.timeout(2_000),
    });
    return response.status === 200;
  });
}
