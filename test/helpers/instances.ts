// Real server processes for the scale-out tests: `node scripts/start.mjs` as `npm start`
// runs it, each in its own process group on its own port, all on one database. An instance
// can be killed with SIGKILL (as a crash or `kill -9` would) and started again on the
// same port, so clients configured with its URL find it again.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { freePort } from "./free-port.js";
import type { TestServer } from "./server.js";
import { killGroup, newcomerEnv } from "./child-process.js";

const root = join(import.meta.dirname, "../..");

export interface Instance {
  readonly name: string;
  readonly port: number;
  /** http://127.0.0.1:PORT/graphql */
  readonly url: string;
  readonly wsUrl: string;
  /** http://127.0.0.1:PORT */
  readonly base: string;
  /** For the client helpers (TestAgent, subscribe), which use only url and wsUrl. */
  readonly server: TestServer;
  /** How many times it was started. */
  readonly starts: number;
  alive(): boolean;
  /** SIGKILL to its whole process group; resolves once it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port and waits for /readyz. */
  restart(): Promise<void>;
  /** stdout and stderr of every start, for failure messages. */
  output(): string;
}

const children = new Set<ChildProcess>();


let exitHookInstalled = false;

/** Kills every instance this worker started (for afterAll; also runs on exit). */
export async function killAllInstances(): Promise<void> {
  const waiting = [...children].map((child) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("close", () => resolve()))));
  children.forEach(killGroup);
  await Promise.all(waiting);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts one server process with `env` (DATABASE_URL, REDIS_URL, ...; PORT and HOST are
 * set here) and waits until /readyz answers 200.
 */
export async function startInstance(name: string, env: Record<string, string>, options: { readyTimeoutMs?: number } = {}): Promise<Instance> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => children.forEach(killGroup));
  }
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const url = `${base}/graphql`;
  const wsUrl = `ws://127.0.0.1:${port}/graphql`;
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  let child: ChildProcess | null = null;
  let closed: Promise<void> = Promise.resolve();
  let output = "";
  let starts = 0;

  const alive = () => child !== null && child.exitCode === null && child.signalCode === null;

  const start = async () => {
    starts++;
    output += `--- start ${starts} of ${name} on port ${port}\n`;
    const proc = spawn(process.execPath, ["scripts/start.mjs"], {
      cwd: root,
      env: newcomerEnv({ LOG_LEVEL: "warn", JOURNAL_POLL_MS: "1000", ...env, PORT: String(port), HOST: "127.0.0.1" }),
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = proc;
    children.add(proc);
    proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    proc.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    closed = new Promise<void>((resolve) =>
      proc.once("close", (code, signal) => {
        children.delete(proc);
        output += `--- ${name} exited (${code ?? signal})\n`;
        resolve();
      }),
    );
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${name} exited before it was ready:\n${output}`);
      const status = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) }).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) return;
      if (Date.now() > deadline) {
        killGroup(proc);
        throw new Error(`${name} was not ready within ${readyTimeoutMs} ms:\n${output}`);
      }
      await sleep(100);
    }
  };

  const kill = async () => {
    if (child) killGroup(child);
    await closed;
  };

  await start();
  return {
    name,
    port,
    url,
    wsUrl,
    base,
    server: { url, wsUrl } as TestServer,
    get starts() {
      return starts;
    },
    alive,
    kill,
    restart: async () => {
      await kill();
      await start();
    },
    output: () => output,
  };
}

/**
 * Starts `count` instances on one database. The first one applies the migrations; the
 * others start once it is ready (concurrently with each other), so no two processes
 * migrate an empty database at the same time.
 */
export async function startInstances(count: number, env: Record<string, string>): Promise<Instance[]> {
  const first = await startInstance("instance-0", env);
  const rest = await Promise.allSettled(Array.from({ length: count - 1 }, (_, i) => startInstance(`instance-${i + 1}`, env)));
  const failed = rest.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await killAllInstances();
    throw failed.reason;
  }
  return [first, ...rest.map((r) => (r as PromiseFulfilledResult<Instance>).value)];
}
