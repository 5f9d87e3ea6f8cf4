// The orchestrator's handle on the load-generator process (bench/load-worker.ts),
// pinned to the load core: jobs go over IPC, measurements come back.
import type { ChildProcess } from "node:child_process";
import type { CannonJob, CannonResult, DrainJob, DrainResult, Job, SequentialJob, SequentialResult, TeamJob, TeamResult, WriterJob, WriterResult } from "../load-worker.js";
import { cleanEnv, root, spawnPinned, stopGroup, track } from "./proc.js";
import { LOAD_CORE } from "./server.js";

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class LoadGenerator {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private constructor(private readonly child: ChildProcess) {
    child.on("message", (message: { id?: number; ok?: boolean; result?: unknown; error?: string }) => {
      if (message.id === undefined) return;
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`load worker: ${message.error}`));
    });
    child.once("exit", (code, signal) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`load worker exited (${code ?? signal})`));
      this.pending.clear();
    });
  }

  static async start(): Promise<LoadGenerator> {
    const child = track(
      spawnPinned(LOAD_CORE, process.execPath, ["--import", "tsx", "bench/load-worker.ts"], {
        cwd: root,
        env: cleanEnv({}),
        detached: true,
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      }),
    );
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: { ready?: boolean }) => {
        if (m.ready) {
          child.off("message", onMessage);
          resolve();
        }
      };
      child.on("message", onMessage);
      child.once("exit", (code) => reject(new Error(`load worker exited at start (${code})`)));
    });
    return new LoadGenerator(child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  private run<R>(job: Job): Promise<R> {
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, job });
    });
  }

  cannon(job: Omit<CannonJob, "kind">): Promise<CannonResult> {
    return this.run({ kind: "cannon", ...job });
  }
  sequential(job: Omit<SequentialJob, "kind">): Promise<SequentialResult> {
    return this.run({ kind: "sequential", ...job });
  }
  drain(job: Omit<DrainJob, "kind">): Promise<DrainResult> {
    return this.run({ kind: "drain", ...job });
  }
  writer(job: Omit<WriterJob, "kind">): Promise<WriterResult> {
    return this.run({ kind: "writer", ...job });
  }

  team(job: Omit<TeamJob, "kind">): Promise<TeamResult> {
    return this.run({ kind: "team", ...job });
  }

  async stop(): Promise<void> {
    this.child.disconnect();
    await stopGroup(this.child, "SIGTERM", 3_000);
  }
}
