// Child processes for the benchmarks: spawning pinned to a core, killing a whole process
// group, and reading resident memory from /proc.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";

export const root = join(import.meta.dirname, "../..");

let tasksetPath: string | null | undefined;

/** taskset's path, or null when it is not installed (then nothing is pinned). */
export function taskset(): string | null {
  if (tasksetPath === undefined) {
    tasksetPath = ["/usr/bin/taskset", "/bin/taskset"].find((p) => existsSync(p)) ?? null;
    if (tasksetPath) {
      try {
        execFileSync(tasksetPath, ["-c", "0", "true"], { stdio: "ignore" });
      } catch {
        tasksetPath = null;
      }
    }
  }
  return tasksetPath;
}

/** Online CPUs as taskset numbers them. */
export function cpuCount(): number {
  return availableParallelism();
}

/**
 * Spawns `command args` pinned to `core` (when taskset exists and the machine has that
 * core). taskset execs the command, so the child's PID is the command's own.
 */
export function spawnPinned(core: number | null, command: string, args: string[], options: SpawnOptions): ChildProcess {
  const ts = core === null ? null : taskset();
  if (ts && core !== null && core < cpuCount()) return spawn(ts, ["-c", String(core), command, ...args], options);
  return spawn(command, args, options);
}

/** Whether a spawn on `core` is really pinned (for the report). */
export function pinningAvailable(): boolean {
  return taskset() !== null && cpuCount() >= 2;
}

/** The environment of a clean shell plus `settings`: none of the server's variables leak in. */
export function cleanEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const ours =
    /^(PORT|HOST|DATABASE_URL|REDIS_URL|LOG_LEVEL|AGENT_HQ_REGISTRATION_KEY|GRAPHQL_PATH|GRAPHIQL|INTROSPECTION|RATE_LIMIT_PER_MINUTE|RATE_LIMIT_ANONYMOUS_PER_MINUTE|SHUTDOWN_TIMEOUT_MS|JOURNAL_POLL_MS|LEASE_SWEEP_MS|PRESENCE_FLUSH_MS|NODE_ENV|TEST_DB|VITEST.*)$/;
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!ours.test(key)) env[key] = value;
  return { ...env, ...settings };
}

const children = new Set<ChildProcess>();

/** Remembers a child so that it is killed (with its group) when the bench exits. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** SIGKILL to a detached child's process group (it and everything it started). */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

export function killAllChildren(): void {
  for (const child of children) killGroup(child);
}

/** Resolves once the child has exited. */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Sends `signal` to the group, then SIGKILL if it is still there after `graceMs`. */
export async function stopGroup(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM", graceMs = 5_000): Promise<void> {
  const done = exited(child);
  killGroup(child, signal);
  const timer = setTimeout(() => killGroup(child, "SIGKILL"), graceMs);
  await done;
  clearTimeout(timer);
}

/** Resident memory of one process in bytes (VmRSS), or null if it is gone. */
export function rssBytes(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : null;
  } catch {
    return null;
  }
}

/** CPU time one process has used, user and system, in seconds (from /proc; clock ticks of 1/100 s), or null if it is gone. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** Direct children of a process (from /proc). */
export function childPids(pid: number): number[] {
  try {
    const out: number[] = [];
    for (const task of readdirTasks(pid)) {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
    return out;
  } catch {
    return [];
  }
}

function readdirTasks(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
}

/** A process and all its descendants. */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...childPids(all[i]!));
  return all;
}

export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The next IPC message of `type` from a child process; rejects if the child exits first. */
export function nextMessage<T>(child: ChildProcess, type: string, name: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type?: string }) => {
      if (m.type !== type) return;
      child.off("message", onMessage);
      child.off("exit", onExit);
      resolve(m as T);
    };
    const onExit = (code: number | null) => reject(new Error(`${name} exited (${code})`));
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}
