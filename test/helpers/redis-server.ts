// Starts a private redis-server on a free port for the scale-out tests: no persistence,
// no config file, a child process of the test worker. stop() and restart() keep the
// port, so servers configured with its URL find it again. Needs Debian's
// `redis-server` package; redisServerPath() is null without it.
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { freePort } from "./free-port.js";

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** Stops the server as a crash would (SIGKILL; there is nothing to save). */
  stop(): Promise<void>;
  /** Starts it again on the same port (empty: there is no persistence). */
  restart(): Promise<void>;
  running(): boolean;
  /** Stops it for good and removes its folder. */
  dispose(): Promise<void>;
}

/** The redis-server program, or null when Redis is not installed. */
export function redisServerPath(): string | null {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), "/usr/bin", "/usr/local/bin", "/usr/sbin"];
  for (const dir of dirs) {
    const candidate = join(dir, "redis-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

const live = new Set<ChildProcess>();
const folders = new Set<string>();
let exitHookInstalled = false;

function kill(child: ChildProcess) {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

export async function startRedisServer(): Promise<RedisServer> {
  const program = redisServerPath();
  if (!program) throw new Error("redis-server is not installed (apt-get install -y redis-server)");
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Should the worker die before the suite's afterAll, leave no server behind.
    process.once("exit", () => {
      live.forEach(kill);
      folders.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
    });
  }
  const dir = mkdtempSync(join(tmpdir(), "agent-hq-redis-"));
  folders.add(dir);
  const port = await freePort();
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const start = async () => {
    const proc = spawn(
      program,
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--loglevel", "notice"],
      { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
    );
    child = proc;
    live.add(proc);
    exited = new Promise<void>((resolve) =>
      proc.once("close", () => {
        live.delete(proc);
        resolve();
      }),
    );
    let log = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`redis-server did not start within 10 s:\n${log}`)), 10_000);
      const onData = (chunk: string) => {
        log += chunk;
        if (log.includes("Ready to accept connections")) done(resolve);
      };
      const onExit = () => fail(new Error(`redis-server exited during start:\n${log}`));
      const done = (settle: () => void) => {
        clearTimeout(timer);
        proc.stdout!.off("data", onData);
        proc.off("exit", onExit);
        // Keep draining its output so that it never blocks on a full pipe.
        proc.stdout!.resume();
        proc.stderr!.resume();
        settle();
      };
      const fail = (error: Error) => {
        kill(proc);
        done(() => reject(error));
      };
      proc.stdout!.setEncoding("utf8").on("data", onData);
      proc.stderr!.setEncoding("utf8").on("data", (chunk: string) => (log += chunk));
      proc.once("exit", onExit);
    });
  };

  const stop = async () => {
    if (child) kill(child);
    await exited;
    child = null;
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    running: () => child !== null && child.exitCode === null && child.signalCode === null,
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
      folders.delete(dir);
    },
  };
}
