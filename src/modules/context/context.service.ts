// Shared context, the blackboard: versioned key-value entries with JSON values in a
// scope (a team, a task, or private to one agent). Every write bumps the version and
// keeps the old one; a write may demand the version it read (compare-and-set); a delete
// is a tombstone version. Writes in a team scope follow the team's write policy.
import { z } from "zod";
import { BadInputError, ConflictError, ForbiddenError, NotFoundError } from "../../errors.js";
import { Prisma, type ContextEntry, type ContextVersion, type WriteRule } from "../../generated/prisma/client.js";
import type { Database, Tx } from "../../infra/db.js";
import { jsonValue, parseInput, shortName } from "../../validation.js";
import { isUniqueViolation, type AgentService, type Viewer } from "../agents/agents.service.js";
import type { JournalTailer } from "../journal/journal-tailer.js";
import { streamJournal } from "../journal/journal-stream.js";
import type { JournalRow, JournalService } from "../journal/journal.service.js";
import type { TaskService } from "../tasks/tasks.service.js";
import type { TeamService } from "../teams/teams.service.js";
import { KEY_PATTERN, keyMatches, writeRefusal } from "./write-policy.js";

/** Where an entry lives. Exactly one of teamId, taskId or private. */
export interface ScopeInput {
  teamId?: string | null;
  taskId?: string | null;
  private?: boolean | null;
}

interface Scope {
  scopeType: "team" | "task" | "agent";
  scopeId: string;
  /** The team whose members may read it; null for a private scope. */
  teamId: string | null;
}

export const KEY = /^[A-Za-z0-9_][A-Za-z0-9._:/-]{0,199}$/;
const VALUE_MAX = 65_536;
const LIST_MAX = 100;

const keyInput = z.string().regex(KEY, "1–200 characters: letters, digits, '_', '.', ':', '/' or '-', starting with a letter, digit or '_'");
const valueInput = jsonValue(VALUE_MAX);
const versionInput = z.number().int().min(0, "must be 0 (the key must not exist) or a version").nullish();
const ruleInput = z.object({
  role: shortName.nullish(),
  agentName: z.string().max(64).nullish(),
  patterns: z.array(z.string().regex(KEY_PATTERN, "a key pattern: key characters and '*'")).min(1, "give at least one pattern").max(50),
});

export class ContextService {
  constructor(
    private readonly db: Database,
    private readonly journal: JournalService,
    private readonly tailer: JournalTailer,
    private readonly teams: TeamService,
    private readonly tasks: TaskService,
    private readonly agents: AgentService,
  ) {}

  // ---- writes --------------------------------------------------------------------

  /**
   * Writes a value. With `expectedVersion` it is compare-and-set: 0 means the key must
   * not exist (or be deleted); otherwise the current version must be that one. On a
   * mismatch nothing changes and the CONFLICT carries the current version.
   */
  async set(viewer: Viewer, scopeInput: ScopeInput, raw: { key: string; value: unknown; expectedVersion?: number | null }): Promise<ContextEntry> {
    const { key, value, expectedVersion } = parseInput(z.object({ key: keyInput, value: valueInput, expectedVersion: versionInput }), raw);
    return this.retryingFirstWrite(expectedVersion, () =>
      this.journal.write(async ({ tx, append }) => {
        const scope = await this.resolve(tx, viewer, scopeInput);
        await this.checkPolicy(tx, viewer, scope, key);
        const entry = await this.bump(tx, viewer, scope, key, expectedVersion, { value: value === null ? Prisma.JsonNull : (value as Prisma.InputJsonValue), deleted: false });
        await append(this.event(viewer, scope, entry, "context.set", { value: value as Prisma.InputJsonValue }));
        return entry;
      }),
    );
  }

  /** Deletes a key: a tombstone version, kept in the history like any other. */
  async delete(viewer: Viewer, scopeInput: ScopeInput, raw: { key: string; expectedVersion?: number | null }): Promise<ContextEntry> {
    const { key, expectedVersion } = parseInput(z.object({ key: keyInput, expectedVersion: versionInput }), raw);
    return this.journal.write(async ({ tx, append }) => {
      const scope = await this.resolve(tx, viewer, scopeInput);
      const existing = await tx.contextEntry.findUnique({ where: { scopeType_scopeId_key: { ...scopeKey(scope), key } } });
      if (!existing || existing.deleted) throw new NotFoundError(`context key "${key}"`);
      await this.checkPolicy(tx, viewer, scope, key);
      const entry = await this.bump(tx, viewer, scope, key, expectedVersion, { value: Prisma.DbNull, deleted: true });
      await append(this.event(viewer, scope, entry, "context.deleted"));
      return entry;
    });
  }

  /** Replaces a team's write policy (lead only). An empty list lets every member write. */
  async setPolicy(viewer: Viewer, teamId: string, rules: z.input<typeof ruleInput>[]): Promise<WriteRule[]> {
    const parsed = parseInput(z.object({ rules: z.array(ruleInput).max(100) }), { rules }).rules;
    return this.journal.write(async ({ tx, append }) => {
      const team = await this.teams.requireVisible(tx, viewer, teamId);
      if (team.leadId !== viewer.id) throw new ForbiddenError("only the team's lead may set its write policy");
      const rows: Prisma.WriteRuleCreateManyInput[] = [];
      for (const rule of parsed) {
        if ((rule.role == null) === (rule.agentName == null)) throw new BadInputError("rules", "each rule names a role or an agentName (one of them)");
        const agentId = rule.agentName == null ? null : await this.teams.memberIdByName(tx, teamId, rule.agentName, "rules");
        for (const pattern of rule.patterns) rows.push({ teamId, role: rule.role ?? null, agentId, pattern, createdById: viewer.id });
      }
      await tx.writeRule.deleteMany({ where: { teamId } });
      if (rows.length) await tx.writeRule.createMany({ data: rows });
      await append({
        teamId,
        actorId: viewer.id,
        kind: "context.policy_set",
        subjectType: "Team",
        subjectId: teamId,
        payload: { rules: rows.map((r) => ({ role: r.role ?? null, agentId: r.agentId ?? null, pattern: r.pattern })) },
      });
      return tx.writeRule.findMany({ where: { teamId }, orderBy: { createdAt: "asc" } });
    });
  }

  // ---- reads ---------------------------------------------------------------------

  /** The current entry for a key (recall), or null when it does not exist or was deleted. */
  async get(viewer: Viewer, scopeInput: ScopeInput, key: string): Promise<ContextEntry | null> {
    const scope = await this.resolve(this.db.reader, viewer, scopeInput);
    const entry = await this.db.reader.contextEntry.findUnique({ where: { scopeType_scopeId_key: { ...scopeKey(scope), key } } });
    return entry && !entry.deleted ? entry : null;
  }

  /** One version of a key, or its history (newest first). */
  async versions(viewer: Viewer, scopeInput: ScopeInput, key: string, opts: { version?: number | null; first?: number | null }): Promise<ContextVersion[]> {
    const scope = await this.resolve(this.db.reader, viewer, scopeInput);
    const entry = await this.db.reader.contextEntry.findUnique({ where: { scopeType_scopeId_key: { ...scopeKey(scope), key } }, select: { id: true } });
    if (!entry) throw new NotFoundError(`context key "${key}"`);
    return this.db.reader.contextVersion.findMany({
      where: { entryId: entry.id, ...(opts.version != null ? { version: opts.version } : {}) },
      orderBy: { version: "desc" },
      take: Math.min(Math.max(opts.first ?? 50, 1), LIST_MAX),
    });
  }

  /**
   * Keys in a scope, in key order after `after`, by prefix and/or pattern ('*' matches any
   * run). The prefix narrows in SQL; the pattern is matched on the narrowed keys.
   */
  async list(viewer: Viewer, scopeInput: ScopeInput, opts: { prefix?: string | null; pattern?: string | null; after?: string | null; first?: number | null }): Promise<ContextEntry[]> {
    if (opts.pattern != null && !KEY_PATTERN.test(opts.pattern)) throw new BadInputError("pattern", "a key pattern: key characters and '*'");
    const scope = await this.resolve(this.db.reader, viewer, scopeInput);
    const first = Math.min(Math.max(opts.first ?? 50, 1), LIST_MAX);
    const literal = opts.pattern ? opts.pattern.split("*")[0]! : "";
    const prefix = [opts.prefix ?? "", literal].reduce((a, b) => (b.startsWith(a) ? b : a));
    const found: ContextEntry[] = [];
    let after = opts.after ?? null;
    for (;;) {
      const page = await this.db.reader.contextEntry.findMany({
        where: { ...scopeKey(scope), deleted: false, key: { startsWith: prefix, ...(after !== null ? { gt: after } : {}) } },
        orderBy: { key: "asc" },
        take: 500,
      });
      for (const entry of page) {
        if ((!opts.prefix || entry.key.startsWith(opts.prefix)) && (!opts.pattern || keyMatches(opts.pattern, entry.key))) found.push(entry);
        if (found.length === first) return found;
      }
      if (page.length < 500) return found;
      after = page[page.length - 1]!.key;
    }
  }

  policy(teamId: string): Promise<WriteRule[]> {
    return this.db.reader.writeRule.findMany({ where: { teamId }, orderBy: { createdAt: "asc" } });
  }

  /** Changes in a scope (optionally under a key prefix): replay after a cursor, then live. */
  async events(viewer: Viewer, scopeInput: ScopeInput, opts: { prefix?: string | null; after?: number | null }): Promise<AsyncIterable<JournalRow>> {
    const scope = await this.resolve(this.db.reader, viewer, scopeInput);
    const mine = (row: JournalRow) => {
      const p = row.payload as { scopeType?: string; scopeId?: string; key?: string };
      return row.kind.startsWith("context.") && p.scopeType === scope.scopeType && p.scopeId === scope.scopeId && (!opts.prefix || !!p.key?.startsWith(opts.prefix));
    };
    if (scope.teamId) return this.teams.events(viewer, scope.teamId, { after: opts.after, where: mine });
    return streamJournal(this.journal, this.tailer, { scope: { recipientId: viewer.id }, after: opts.after, emit: mine });
  }

  // ---- private -------------------------------------------------------------------

  /** Writes the next version of a key, honouring an expected version. */
  private async bump(
    tx: Tx,
    viewer: Viewer,
    scope: Scope,
    key: string,
    expected: number | null | undefined,
    state: { value: Prisma.InputJsonValue | typeof Prisma.JsonNull | typeof Prisma.DbNull; deleted: boolean },
  ): Promise<ContextEntry> {
    const where = { scopeType_scopeId_key: { ...scopeKey(scope), key } };
    const existing = await tx.contextEntry.findUnique({ where });
    const current = existing ? existing.version : 0;
    const live = existing && !existing.deleted;
    if (expected != null && (expected === 0 ? live : expected !== current)) {
      throw new ConflictError(`context key "${key}" is at version ${live ? current : 0}${live ? "" : " (absent)"}, not ${expected}; read it again`, {
        currentVersion: live ? current : 0,
      });
    }
    const value = state.value;
    let entry: ContextEntry;
    if (!existing) {
      entry = await tx.contextEntry.create({ data: { ...scopeKey(scope), teamId: scope.teamId, key, version: 1, value, deleted: state.deleted, authorId: viewer.id } });
    } else {
      // Conditional on the version read: a concurrent writer makes this a CONFLICT (with
      // an expectation) or a retry on the next version (without one).
      const { count } = await tx.contextEntry.updateMany({
        where: { id: existing.id, version: existing.version },
        data: { version: existing.version + 1, value, deleted: state.deleted, authorId: viewer.id },
      });
      if (count === 0) {
        if (expected != null) throw new ConflictError(`context key "${key}" changed meanwhile; read it again`, { currentVersion: (await tx.contextEntry.findUniqueOrThrow({ where })).version });
        const bumped = await tx.contextEntry.update({ where, data: { version: { increment: 1 }, value, deleted: state.deleted, authorId: viewer.id } });
        entry = bumped;
      } else {
        entry = await tx.contextEntry.findUniqueOrThrow({ where });
      }
    }
    await tx.contextVersion.create({ data: { entryId: entry.id, version: entry.version, value, deleted: state.deleted, authorId: viewer.id } });
    return entry;
  }

  /** Two first writes of one key race on its unique index: the loser retries (unless it asked for version 0). */
  private async retryingFirstWrite<T>(expected: number | null | undefined, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      if (expected != null) throw new ConflictError("the key was created meanwhile; read it again", { currentVersion: 1 });
      return write();
    }
  }

  private async resolve(client: Tx, viewer: Viewer, input: ScopeInput): Promise<Scope> {
    const given = [input.teamId != null, input.taskId != null, input.private === true].filter(Boolean).length;
    if (given !== 1) throw new BadInputError("scope", "give exactly one of teamId, taskId or private: true");
    if (input.private) return { scopeType: "agent", scopeId: viewer.id, teamId: null };
    if (input.teamId != null) {
      const team = await this.teams.requireVisible(client, viewer, input.teamId);
      return { scopeType: "team", scopeId: team.id, teamId: team.id };
    }
    const task = await this.tasks.visibleInTx(client, viewer, input.taskId!);
    return { scopeType: "task", scopeId: task.id, teamId: task.teamId };
  }

  private async checkPolicy(tx: Tx, viewer: Viewer, scope: Scope, key: string): Promise<void> {
    if (scope.scopeType !== "team") return;
    const rules = await tx.writeRule.findMany({ where: { teamId: scope.scopeId } });
    if (rules.length === 0) return;
    const role = await this.teams.roleOf(tx, scope.scopeId, viewer.id);
    const names = await this.agents.namesByIds(rules.map((r) => r.agentId), tx);
    const views = rules.map((r) => ({ ...r, agentName: r.agentId === null ? null : (names.get(r.agentId) ?? null) }));
    const refusal = writeRefusal(views, key, { id: viewer.id, name: viewer.name, role: role ?? "" });
    if (refusal) throw new ForbiddenError(refusal, { key });
  }

  private event(viewer: Viewer, scope: Scope, entry: ContextEntry, kind: string, extra: Prisma.InputJsonObject = {}) {
    return {
      // Team and task scopes are journaled for the team; a private scope only for its owner.
      teamId: scope.teamId,
      recipientId: scope.teamId ? null : viewer.id,
      actorId: viewer.id,
      kind,
      subjectType: "ContextEntry",
      subjectId: entry.id,
      payload: { scopeType: scope.scopeType, scopeId: scope.scopeId, key: entry.key, version: entry.version, ...extra },
    };
  }
}

const scopeKey = (scope: Scope) => ({ scopeType: scope.scopeType, scopeId: scope.scopeId });
