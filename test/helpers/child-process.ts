// For tests that run the real server as a child process, as a newcomer's shell would.
import type { ChildProcess } from "node:child_process";
import { CONFIG_KEYS } from "../../src/config.js";
import { waitUntil } from "./wait-until.js";

const inherited = new RegExp(`^(${[...CONFIG_KEYS, "NODE_ENV", "TEST_DB", "TEST_LOG_LEVEL", "VITEST.*"].join("|")})$`);

/** The environment of a clean shell plus `settings`: none of our settings or vitest's leak in. */
export function newcomerEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!inherited.test(key)) env[key] = value;
  return { ...env, ...settings };
}

/** Kills a child started with `detached: true` and everything it started (its process group). */
export function killGroup(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** A child process whose output a test reads as it comes. */
export interface Watched {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once the process has exited, with what it printed. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  /** Resolves with the first stdout line matching `pattern`; rejects if the process exits first. */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

/** Reads a child's output as it comes (it must have been spawned with piped stdout and stderr). */
export function watched(child: ChildProcess, onExit: () => void = () => {}): Watched {
  let out = "";
  let err = "";
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
    listeners.forEach((l) => l());
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.once("close", (code, signal) => {
      onExit();
      listeners.forEach((l) => l());
      resolve({ code, signal, stdout: out, stderr: err });
    }),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    line: (pattern, timeoutMs = 30_000) =>
      waitUntil<string>(
        listeners,
        () => {
          const found = out.split("\n").find((l) => pattern.test(l));
          if (found !== undefined) return { value: found };
          if (child.exitCode !== null || child.signalCode !== null) return { error: new Error(`exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}\nstdout:\n${out}\nstderr:\n${err}`) };
        },
        timeoutMs,
        () => `no line matching ${pattern} within ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`,
      ),
  };
}
