// Agents: registration, bearer tokens (rotate, revoke), and who a token belongs to.
import { timingSafeEqual } from "node:crypto";
import { LRUCache } from "lru-cache";
import { z } from "zod";
import { ConflictError, ForbiddenError, NotFoundError } from "../../errors.js";
import type { Agent, AgentToken } from "../../generated/prisma/client.js";
import type { Database, PrismaClient, Tx } from "../../infra/db.js";
import { CONTROL_CHARS, parseInput } from "../../validation.js";
import type { JournalTailer } from "../journal/journal-tailer.js";
import type { JournalService } from "../journal/journal.service.js";
import { TokenRevocations } from "./token-revocations.js";
import { hashToken, looksLikeToken, newToken } from "./token.js";

/** The authenticated caller. */
export interface Viewer {
  id: string;
  name: string;
  tokenId: string;
}

export const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Principals: programs, and the people who run them (shown as humans everywhere). */
export const PRINCIPAL_KINDS = ["agent", "human"] as const;
export type PrincipalKind = (typeof PRINCIPAL_KINDS)[number];

/** A principal's name as text shows it: a person's says so ("alice [human]"). */
export function displayName(principal: { name: string; kind: string }): string {
  return principal.kind === "human" ? `${principal.name} [human]` : principal.name;
}

const registerInput = z.object({
  name: z
    .string()
    .regex(AGENT_NAME, "1–64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit"),
  description: z
    .string()
    .max(1000, "at most 1000 characters")
    .refine((s) => !CONTROL_CHARS.test(s), "must not contain control characters")
    .nullish(),
  registrationKey: z.string().max(200).nullish(),
  kind: z.enum(PRINCIPAL_KINDS).nullish(),
});

/** Most tokens remembered at once; past it the least recently used goes. */
const TOKEN_CACHE_SIZE = 10_000;

export class AgentService {
  /**
   * Tokens recently found valid, by hash, each kept `tokenCacheMs` (none when 0): every
   * request authenticates, and a statement each was a quarter of a cheap request's CPU. A
   * token revoked here is forgotten at once; one revoked on another instance as soon as
   * the revocation watch sees it, and at the latest after `tokenCacheMs`.
   */
  private readonly validTokens: LRUCache<string, Viewer> | null;
  /** Bumped by every revocation, so a lookup that raced one does not cache its answer. */
  private revocations = 0;
  private readonly revocationWatch: TokenRevocations;

  constructor(
    private readonly db: Database,
    private readonly journal: JournalService,
    tailer: JournalTailer,
    private readonly registrationKey: string | undefined,
    tokenCacheMs: number,
    onError: (error: unknown) => void,
  ) {
    this.validTokens = tokenCacheMs > 0 ? new LRUCache({ max: TOKEN_CACHE_SIZE, ttl: tokenCacheMs }) : null;
    this.revocationWatch = new TokenRevocations(
      tailer,
      async (tokenId) => (await db.reader.agentToken.findUnique({ where: { id: tokenId }, select: { revokedAt: true } }))?.revokedAt !== null,
      // Seen from another instance's revocation: refused here at once, not after tokenCacheMs.
      (tokenId) => this.forgetToken(tokenId),
      onError,
    );
  }

  /**
   * Calls `onRevoked` once when the token is revoked or rotated away, on any instance
   * (or at once if it already was). Returns the function that stops watching.
   */
  whenRevoked(tokenId: string, onRevoked: () => void): () => void {
    return this.revocationWatch.watch(tokenId, onRevoked);
  }

  async register(input: z.input<typeof registerInput>): Promise<{ agent: Agent; token: string }> {
    const { name, description, registrationKey, kind } = parseInput(registerInput, input);
    // A person is registered with the server's key, so no agent can register itself as one.
    if (kind === "human" && this.registrationKey === undefined) {
      throw new ForbiddenError("people are registered with the server's registration key: set AGENT_HQ_REGISTRATION_KEY on the server and pass it as registrationKey");
    }
    if (this.registrationKey !== undefined && !sameSecret(registrationKey ?? "", this.registrationKey)) {
      throw new ForbiddenError("registration on this server needs its registration key (registrationKey)");
    }
    const token = newToken();
    try {
      const agent = await this.journal.write(async ({ tx, append }) => {
        const agent = await tx.agent.create({
          data: { name, kind: kind ?? "agent", description: description ?? null, tokens: { create: { hash: hashToken(token) } } },
        });
        await append({ actorId: agent.id, kind: "agent.registered", subjectType: "Agent", subjectId: agent.id, payload: { name, kind: agent.kind } });
        return agent;
      });
      return { agent, token };
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`an agent named "${name}" already exists; choose another name`);
      throw error;
    }
  }

  /** The agent a bearer token belongs to, or null for an unknown or revoked token. */
  async authenticate(token: string): Promise<Viewer | null> {
    if (!looksLikeToken(token)) return null;
    const hash = hashToken(token);
    const cached = this.validTokens?.get(hash);
    if (cached) return cached;
    const revocationsBefore = this.revocations;
    // One statement (Prisma would load the relation in a second).
    const rows = await this.db.reader.$queryRaw<{ tokenId: string; revoked: unknown; id: string; name: string }[]>`
      SELECT t."id" AS "tokenId", t."revokedAt" AS "revoked", a."id" AS "id", a."name" AS "name"
      FROM "AgentToken" t JOIN "Agent" a ON a."id" = t."agentId"
      WHERE t."hash" = ${hash}`;
    const row = rows[0];
    if (!row || row.revoked !== null) return null;
    const viewer = { id: row.id, name: row.name, tokenId: row.tokenId };
    if (revocationsBefore === this.revocations) this.validTokens?.set(hash, viewer);
    return viewer;
  }

  /** Forgets a revoked token (called once its revocation committed). */
  private forgetToken(tokenId: string): void {
    this.revocations++;
    if (!this.validTokens) return;
    const hashes = [...this.validTokens.entries()].flatMap(([hash, viewer]) => (viewer.tokenId === tokenId ? [hash] : []));
    for (const hash of hashes) this.validTokens.delete(hash);
  }

  /** Issues a new token and revokes the one the caller used. */
  async rotateToken(viewer: Viewer): Promise<{ token: string; tokenRecord: AgentToken }> {
    const token = newToken();
    const tokenRecord = await this.journal.write(async ({ tx, append }) => {
      const revoked = await tx.agentToken.updateMany({
        where: { id: viewer.tokenId, revokedAt: null },
        data: { revokedAt: new Date() },
      });
      if (revoked.count === 0) throw new ConflictError("this token was revoked meanwhile; authenticate with a valid token");
      const created = await tx.agentToken.create({ data: { agentId: viewer.id, hash: hashToken(token) } });
      await append({ actorId: viewer.id, kind: "agent.token_rotated", subjectType: "AgentToken", subjectId: created.id, payload: { revokedTokenId: viewer.tokenId } });
      return created;
    });
    this.forgetToken(viewer.tokenId);
    return { token, tokenRecord };
  }

  /** Revokes one of the caller's tokens (the one in use when no ID is given). */
  async revokeToken(viewer: Viewer, tokenId?: string | null): Promise<AgentToken> {
    const id = tokenId ?? viewer.tokenId;
    const revoked = await this.journal.write(async ({ tx, append }) => {
      const token = await tx.agentToken.findFirst({ where: { id, agentId: viewer.id } });
      if (!token) throw new NotFoundError("token");
      if (token.revokedAt) return token;
      const updated = await tx.agentToken.update({ where: { id }, data: { revokedAt: new Date() } });
      await append({ actorId: viewer.id, kind: "agent.token_revoked", subjectType: "AgentToken", subjectId: id });
      return updated;
    });
    this.forgetToken(id);
    return revoked;
  }

  tokens(agentId: string): Promise<AgentToken[]> {
    return this.db.reader.agentToken.findMany({ where: { agentId }, orderBy: { createdAt: "asc" } });
  }

  /** Agents' names by ID (IDs of no agent are left out); every module reads names here. */
  async namesByIds(ids: readonly (string | null)[], tx: Tx | PrismaClient = this.db.reader): Promise<Map<string, string>> {
    const wanted = [...new Set(ids.filter((id): id is string => id !== null))];
    if (wanted.length === 0) return new Map();
    const rows = await tx.agent.findMany({ where: { id: { in: wanted } }, select: { id: true, name: true } });
    return new Map(rows.map((r) => [r.id, r.name]));
  }

  /** Agents' IDs by name (names of no agent are left out); every module resolves names here. */
  async idsByNames(names: readonly string[], tx: Tx | PrismaClient = this.db.reader): Promise<Map<string, string>> {
    const wanted = [...new Set(names)];
    if (wanted.length === 0) return new Map();
    const rows = await tx.agent.findMany({ where: { name: { in: wanted } }, select: { id: true, name: true } });
    return new Map(rows.map((r) => [r.name, r.id]));
  }

  /** The agent with this ID; the lookups of one tick are one statement (Prisma batches findUnique). */
  byId(id: string): Promise<Agent> {
    return this.db.reader.agent.findUniqueOrThrow({ where: { id } });
  }

  async byName(name: string): Promise<Agent> {
    const agent = AGENT_NAME.test(name) ? await this.db.reader.agent.findUnique({ where: { name } }) : null;
    if (!agent) throw new NotFoundError(`agent "${name}"`);
    return agent;
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: string }).code === "P2002";
}
