// Retry-safe writes. A creating mutation sent with an idempotency key runs once per agent
// and key: a repeat within KEY_LIFETIME_MS answers with what the first one created and
// writes nothing. The key row is inserted first in the creation's own transaction, under
// the (agent, key) primary key, so the database picks the one writer among concurrent
// repeats, on one server or many: on PostgreSQL the loser's insert waits for the winner's
// commit and then sees its row; SQLite runs write transactions one at a time.
import { createHash } from "node:crypto";
import { z } from "zod";
import { ConflictError, NotFoundError } from "../../errors.js";
import type { Database, Tx } from "../../infra/db.js";
import { parseInput } from "../../validation.js";
import type { Viewer } from "../agents/agents.service.js";
import type { JournalService, JournalWrite } from "../journal/journal.service.js";

/** How long a key stands for its first answer; after that it may be used again. */
export const KEY_LIFETIME_MS = 24 * 60 * 60 * 1000;
// Rows one purge deletes at most; a backlog goes over a few sweeps.
const PURGE_BATCH = 1_000;

// Printable ASCII, as the IETF Idempotency-Key header's string: a UUID fits, and so does
// any name an agent builds from its own run and step.
const keyInput = z.string().regex(/^[\x20-\x7E]{1,200}$/, "1–200 printable ASCII characters");

/** What a client reads about the argument (GraphQL and MCP). */
export const IDEMPOTENCY_KEY_HELP =
  "Makes a retry safe: a repeat with the same key (1–200 printable ASCII characters) within 24 hours answers with what the first call created and writes nothing; the same key with other arguments is refused (CONFLICT).";

/** What a key stands for: the mutation and the arguments that make it this request. */
export interface KeyedRequest {
  operation: string;
  args: Record<string, unknown>;
}

export class IdempotencyService {
  constructor(
    private readonly db: Database,
    private readonly journal: JournalService,
  ) {}

  /**
   * JournalService.write for a creating mutation. Without a key it is exactly that. With
   * one, `fn` runs only if no live row holds (viewer, key); otherwise the answer is what
   * `load` reads of the object that row names, and nothing is written. The same key with
   * other arguments is refused (CONFLICT).
   */
  write<T extends { id: string }>(
    viewer: Viewer,
    key: string | null | undefined,
    request: KeyedRequest,
    load: (tx: Tx, id: string) => Promise<T | null>,
    fn: (w: JournalWrite) => Promise<T>,
  ): Promise<T> {
    if (key == null) return this.journal.write(fn);
    const idempotencyKey = parseInput(z.object({ idempotencyKey: keyInput }), { idempotencyKey: key }).idempotencyKey;
    const argsHash = fingerprint(request);
    return this.journal.write(async (w) => {
      const { tx } = w;
      const now = new Date();
      // An expired row no longer stands for anything: the key is free again.
      await tx.idempotencyKey.deleteMany({ where: { agentId: viewer.id, key: idempotencyKey, createdAt: { lt: new Date(now.getTime() - KEY_LIFETIME_MS) } } });
      const claimed = await tx.$executeRaw`
        INSERT INTO "IdempotencyKey" ("agentId", "key", "operation", "subjectId", "argsHash", "createdAt")
        VALUES (${viewer.id}, ${idempotencyKey}, ${request.operation}, '', ${argsHash}, ${now})
        ON CONFLICT DO NOTHING`;
      if (claimed === 1) {
        const created = await fn(w);
        await tx.idempotencyKey.update({ where: { agentId_key: { agentId: viewer.id, key: idempotencyKey } }, data: { subjectId: created.id } });
        return created;
      }
      // A concurrent first request committed before the insert above returned.
      const first = await tx.idempotencyKey.findUniqueOrThrow({ where: { agentId_key: { agentId: viewer.id, key: idempotencyKey } } });
      if (first.argsHash !== argsHash) {
        const what = first.operation === request.operation ? `${first.operation} with other arguments` : first.operation;
        throw new ConflictError(
          `idempotency key "${idempotencyKey}" was used at ${first.createdAt.toISOString()} for ${what}; a repeat must send the same arguments, and a new request a new key`,
          { operation: first.operation },
        );
      }
      const answer = await load(tx, first.subjectId);
      if (!answer) throw new NotFoundError(`what ${first.operation} created with idempotency key "${idempotencyKey}" no longer exists.`);
      return answer;
    });
  }

  /** Deletes expired keys, at most PURGE_BATCH of them; reads first, so an idle sweep writes nothing. */
  async purgeExpired(now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - KEY_LIFETIME_MS);
    const oldest = await this.db.reader.idempotencyKey.findMany({ where: { createdAt: { lt: cutoff } }, orderBy: { createdAt: "asc" }, take: PURGE_BATCH, select: { createdAt: true } });
    if (oldest.length === 0) return 0;
    const upTo = oldest[oldest.length - 1]!.createdAt;
    return this.db.write(async (tx) => (await tx.idempotencyKey.deleteMany({ where: { createdAt: { lte: upTo, lt: cutoff } } })).count);
  }

  /** Purges every `ms` (the lease sweeper's cadence) until the returned function is called. */
  purgeEvery(ms: number, onError: (error: unknown) => void): () => void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      this.purgeExpired()
        .catch(onError)
        .finally(() => (running = false));
    }, ms);
    timer.unref();
    return () => clearInterval(timer);
  }
}

/** SHA-256 of the request as JSON with sorted keys; absent and null arguments are the same. */
export function fingerprint(request: KeyedRequest): string {
  return createHash("sha256").update(canonical(request)).digest("hex");
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v != null).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
