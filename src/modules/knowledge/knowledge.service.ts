// Knowledge: what a team has learned, as titled entries with tags, written by an agent
// and optionally found while working on a task. Entries are searched by text (ranked,
// through the database's own full-text index) and listed newest first. Every write
// appends a row to the team's journal in the same transaction.
import { z } from "zod";
import { ForbiddenError, NotFoundError } from "../../errors.js";
import type { KnowledgeEntry, Prisma } from "../../generated/prisma/client.js";
import type { Database, Tx } from "../../infra/db.js";
import { boundedText, parseInput } from "../../validation.js";
import type { AgentService, Viewer } from "../agents/agents.service.js";
import type { IdempotencyService } from "../idempotency/idempotency.service.js";
import type { JournalService } from "../journal/journal.service.js";
import type { TaskService } from "../tasks/tasks.service.js";
import { TeamService } from "../teams/teams.service.js";
import type { SearchKnowledge } from "./knowledge-search.js";
import { postgresKnowledgeSearch } from "./postgres-knowledge-search.js";
import { searchWords } from "./search-text.js";
import { sqliteKnowledgeSearch } from "./sqlite-knowledge-search.js";

export const TITLE_MAX = 300;
export const BODY_MAX = 100_000;
export const TAGS_MAX = 20;
export const SEARCH_DEFAULT = 20;
export const SEARCH_MAX = 100;

const TAG = /^[a-z0-9][a-z0-9._-]{0,49}$/i;
const tag = z
  .string()
  .regex(TAG, "1–50 characters: letters, digits, '.', '_' or '-', starting with a letter or digit")
  .transform((t) => t.toLowerCase());
const tags = z
  .array(tag)
  .max(TAGS_MAX, `at most ${TAGS_MAX} tags`)
  .transform((list) => [...new Set(list)]);
const title = boundedText(TITLE_MAX).pipe(z.string().trim().min(1, "must not be empty"));
// The body keeps its leading whitespace (an indented code block is text too).
const body = boundedText(BODY_MAX).refine((b) => b.trim().length > 0, "must not be empty");
const taskId = z.string().max(64);

const addInput = z.object({ title, body, tags: tags.nullish(), taskId: taskId.nullish() });
const updateInput = z.object({ title: title.nullish(), body: body.nullish(), tags: tags.nullish(), taskId: taskId.nullish() });
const filterInput = z.object({
  since: z.date().nullish(),
  until: z.date().nullish(),
  tags: tags.nullish(),
  author: z.string().max(64).nullish(),
});
const searchInput = filterInput.pick({ tags: true, author: true }).extend({
  text: z.string(),
  first: z
    .number()
    .int()
    .min(1, `must be between 1 and ${SEARCH_MAX}`)
    .max(SEARCH_MAX, `must be between 1 and ${SEARCH_MAX}`)
    .nullish(),
});

export type AddKnowledgeInput = z.input<typeof addInput>;
/** Omitted (or null) fields stay as they are, except `taskId`: null unlinks the task. */
export type UpdateKnowledgeInput = z.input<typeof updateInput>;
/** `since` is inclusive, `until` exclusive; an entry must carry every tag; `author` is an agent name. */
export type KnowledgeFilter = z.input<typeof filterInput>;
export type KnowledgeSearchInput = z.input<typeof searchInput>;

export interface KnowledgeHit {
  entry: KnowledgeEntry;
  /** Higher is better; comparable only within one answer. */
  rank: number;
}

const NEWEST_FIRST: Prisma.KnowledgeEntryOrderByWithRelationInput[] = [{ createdAt: "desc" }, { id: "desc" }];

/** Full-text search differs by database; each has its own file. */
const SEARCH: Record<Database["dialect"]["name"], SearchKnowledge> = { sqlite: sqliteKnowledgeSearch, postgres: postgresKnowledgeSearch };

export class KnowledgeService {
  private readonly searchKnowledge: SearchKnowledge;

  constructor(
    private readonly db: Database,
    private readonly journal: JournalService,
    private readonly teams: TeamService,
    private readonly tasks: TaskService,
    private readonly agents: AgentService,
    private readonly idempotency: IdempotencyService,
  ) {
    this.searchKnowledge = SEARCH[db.dialect.name];
  }

  /** The filter every read goes through: entries of the viewer's teams. */
  static visibleTo(agentId: string): Prisma.KnowledgeEntryWhereInput {
    return { team: TeamService.visibleTo(agentId) };
  }

  // ---- writes ------------------------------------------------------------------

  async add(viewer: Viewer, teamId: string, raw: AddKnowledgeInput, idempotencyKey?: string | null): Promise<KnowledgeEntry> {
    const input = parseInput(addInput, raw);
    const request = { operation: "addKnowledge", args: { teamId, ...input } };
    return this.idempotency.write(viewer, idempotencyKey, request, (tx, id) => tx.knowledgeEntry.findUnique({ where: { id } }), async ({ tx, append }) => {
      await this.teams.requireVisible(tx, viewer, teamId);
      if (input.taskId != null) await this.tasks.requireInTeam(tx, teamId, input.taskId);
      const entry = await tx.knowledgeEntry.create({
        data: {
          teamId,
          title: input.title,
          body: input.body,
          authorId: viewer.id,
          taskId: input.taskId ?? null,
          tags: { create: (input.tags ?? []).map((t) => ({ tag: t })) },
        },
      });
      await append({
        teamId,
        actorId: viewer.id,
        kind: "knowledge.added",
        subjectType: "KnowledgeEntry",
        subjectId: entry.id,
        payload: { title: entry.title, tags: input.tags ?? [], taskId: entry.taskId },
      });
      return entry;
    });
  }

  /** Changes an entry; only its author may. */
  async update(viewer: Viewer, entryId: string, raw: UpdateKnowledgeInput): Promise<KnowledgeEntry> {
    const changes = parseInput(updateInput, raw);
    const data: Prisma.KnowledgeEntryUncheckedUpdateInput = {};
    if (changes.title != null) data.title = changes.title;
    if (changes.body != null) data.body = changes.body;
    if (changes.taskId !== undefined) data.taskId = changes.taskId;
    return this.journal.write(async ({ tx, append }) => {
      const entry = await this.visibleInTx(tx, viewer, entryId);
      if (entry.authorId !== viewer.id) throw new ForbiddenError("only the entry's author may change it");
      if (changes.taskId != null) await this.tasks.requireInTeam(tx, entry.teamId, changes.taskId);
      if (changes.tags != null) {
        await tx.knowledgeTag.deleteMany({ where: { entryId } });
        if (changes.tags.length) await tx.knowledgeTag.createMany({ data: changes.tags.map((t) => ({ entryId, tag: t })) });
      }
      // Always written, so a change of tags alone moves updatedAt too.
      const updated = await tx.knowledgeEntry.update({ where: { id: entryId }, data: { ...data, updatedAt: new Date() } });
      const changed = [...Object.keys(data), ...(changes.tags != null ? ["tags"] : [])];
      await append({
        teamId: entry.teamId,
        actorId: viewer.id,
        kind: "knowledge.updated",
        subjectType: "KnowledgeEntry",
        subjectId: entryId,
        payload: { changed, title: updated.title, ...(changes.tags != null ? { tags: changes.tags } : {}), taskId: updated.taskId },
      });
      return updated;
    });
  }

  /** Deletes an entry; its author or the team's lead may. */
  async delete(viewer: Viewer, entryId: string): Promise<KnowledgeEntry> {
    return this.journal.write(async ({ tx, append }) => {
      const entry = await this.visibleInTx(tx, viewer, entryId);
      const team = await this.teams.requireVisible(tx, viewer, entry.teamId);
      if (entry.authorId !== viewer.id && team.leadId !== viewer.id) {
        throw new ForbiddenError("only the entry's author or the team's lead may delete it");
      }
      await tx.knowledgeEntry.delete({ where: { id: entryId } });
      await append({
        teamId: entry.teamId,
        actorId: viewer.id,
        kind: "knowledge.deleted",
        subjectType: "KnowledgeEntry",
        subjectId: entryId,
        payload: { title: entry.title, authorId: entry.authorId },
      });
      return entry;
    });
  }

  // ---- reads -------------------------------------------------------------------

  /** An entry of one of the viewer's teams; NOT_FOUND otherwise, exactly as for an unknown ID. */
  async get<Q extends Omit<Prisma.KnowledgeEntryFindFirstArgs, "where">>(viewer: Viewer, entryId: string, query?: Q): Promise<KnowledgeEntry> {
    const entry = await this.db.reader.knowledgeEntry.findFirst({ ...query, where: { id: entryId, ...KnowledgeService.visibleTo(viewer.id) } });
    if (!entry) throw new NotFoundError("knowledge entry");
    return entry;
  }

  /** A team's entries, newest first, filtered. */
  async recent<Q extends Omit<Prisma.KnowledgeEntryFindManyArgs, "where">>(viewer: Viewer, teamId: string, raw: KnowledgeFilter, query?: Q): Promise<KnowledgeEntry[]> {
    const filter = parseInput(filterInput, raw);
    await this.teams.get(viewer, teamId);
    const and: Prisma.KnowledgeEntryWhereInput[] = [{ teamId }];
    if (filter.since != null) and.push({ createdAt: { gte: filter.since } });
    if (filter.until != null) and.push({ createdAt: { lt: filter.until } });
    for (const t of filter.tags ?? []) and.push({ tags: { some: { tag: t } } });
    if (filter.author != null) and.push({ authorId: { in: await this.authorIds(filter.author) } });
    return this.db.reader.knowledgeEntry.findMany({ orderBy: NEWEST_FIRST, ...query, where: { AND: and } });
  }

  /**
   * Entries matching every word of `text` (stemmed), best first. Any text is accepted:
   * it is reduced to plain words, and text without words finds nothing. `query` selects
   * what each entry is read with.
   */
  async search<Q extends Omit<Prisma.KnowledgeEntryFindManyArgs, "where">>(viewer: Viewer, teamId: string, raw: KnowledgeSearchInput, query?: Q): Promise<KnowledgeHit[]> {
    const input = parseInput(searchInput, raw);
    await this.teams.get(viewer, teamId);
    const words = searchWords(input.text);
    if (!words.length) return [];
    const authorIds = input.author == null ? null : await this.authorIds(input.author);
    if (authorIds?.length === 0) return [];
    const ranked = await this.searchKnowledge(this.db.reader, {
      teamId,
      words,
      tags: input.tags ?? [],
      authorId: authorIds?.[0] ?? null,
      limit: input.first ?? SEARCH_DEFAULT,
    });
    const entries = await this.db.reader.knowledgeEntry.findMany({ ...query, where: { id: { in: ranked.map((r) => r.id) }, teamId } });
    const byId = new Map(entries.map((e) => [e.id, e]));
    // An entry deleted between the two reads is left out.
    return ranked.flatMap((r) => {
      const entry = byId.get(r.id);
      return entry ? [{ entry, rank: r.rank }] : [];
    });
  }

  // ---- helpers -----------------------------------------------------------------

  private async visibleInTx(tx: Tx, viewer: Viewer, entryId: string): Promise<KnowledgeEntry> {
    const entry = await tx.knowledgeEntry.findFirst({ where: { id: entryId, ...KnowledgeService.visibleTo(viewer.id) } });
    if (!entry) throw new NotFoundError("knowledge entry");
    return entry;
  }

  /** The ID of the agent named `author`, as a list: empty when no agent has that name. */
  private async authorIds(author: string): Promise<string[]> {
    const id = (await this.agents.idsByNames([author])).get(author);
    return id === undefined ? [] : [id];
  }
}
