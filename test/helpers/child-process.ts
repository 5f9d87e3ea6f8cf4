// For tests that run the real server as a child process, as a newcomer's shell would.
import type { ChildProcess } from "node:child_process";
import { CONFIG_KEYS } from "../../src/config.js";

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
