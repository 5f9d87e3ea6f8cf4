// Knowledge: what a team learned, as titled entries with tags, searchable by text.
import { z } from "zod";
import { BadInputError } from "../../errors.js";
import type { Prisma } from "../../generated/prisma/client.js";
import { SEARCH_DEFAULT, SEARCH_MAX } from "../../modules/knowledge/knowledge.service.js";
import { excerpt, idempotencyKeyArg, limitArg, limitOf, taskIdOf, taskRef, teamArg, teamOf, teamOut, time, tool } from "../tool.js";

const RECENT_DEFAULT = 20;
const RECENT_MAX = 100;
const EXCERPT = 300;

const display = { include: { tags: { select: { tag: true }, orderBy: { tag: "asc" } }, author: { select: { name: true } } } } satisfies Prisma.KnowledgeEntryFindManyArgs;
type Entry = Prisma.KnowledgeEntryGetPayload<typeof display>;

/** `[id] title #tag #tag, by author at time`, then the start of the body. */
function entryLines(e: Entry): string {
  const tags = e.tags.map((t) => ` #${t.tag}`).join("");
  return `[${e.id}] ${e.title}${tags}, by ${e.author.name} at ${time(e.createdAt)}\n  ${excerpt(e.body, EXCERPT)}`;
}

const tags = z.array(z.string()).optional();

/** An entry in a listing: the start of its body, cut as in the text; get_knowledge has it whole. */
const entryOut = z.object({ id: z.string(), title: z.string(), tags: z.array(z.string()), author: z.string(), createdAt: z.string(), excerpt: z.string() });
const entriesOut = z.object({ entries: z.array(entryOut) });
const entryData = (e: Entry) => ({ id: e.id, title: e.title, tags: e.tags.map((t) => t.tag), author: e.author.name, createdAt: time(e.createdAt), excerpt: excerpt(e.body, EXCERPT) });

export const knowledgeTools = [
  tool({
    name: "add_knowledge",
    description: "Adds a knowledge entry to a team: something learned, with a title, a body, tags, and optionally the task it was found on. Members find it with search_knowledge.",
    input: z.strictObject({
      team: teamArg,
      title: z.string().describe("1–300 characters."),
      body: z.string().describe("The text (up to 100,000 characters)."),
      tags: tags.describe("Up to 20 tags: letters, digits, '.', '_' or '-'."),
      task: taskRef.optional().describe("The task it was found on (number or ID)."),
      idempotency_key: idempotencyKeyArg,
    }),
    output: z.object({ team: teamOut, entry: z.object({ id: z.string(), title: z.string() }) }),
    run: async (ctx, a) => {
      const team = await teamOf(ctx, a.team);
      const taskId = a.task === undefined ? null : await taskIdOf(ctx, a.task, team.id);
      const entry = await ctx.services.knowledge.add(ctx.viewer, team.id, { title: a.title, body: a.body, tags: a.tags, taskId }, a.idempotency_key);
      return { text: `Added "${entry.title}" to the knowledge of ${team.name} (id ${entry.id}).`, data: { team: { id: team.id, name: team.name }, entry: { id: entry.id, title: entry.title } } };
    },
  }),

  tool({
    name: "search_knowledge",
    description: "Searches a team's knowledge for entries containing every word of the text (stemmed: claims finds claiming), best first. Shows the start of each body; get_knowledge shows one whole.",
    input: z.strictObject({
      team: teamArg,
      text: z.string().describe("Words to look for."),
      tags: tags.describe("Only entries with every one of these tags."),
      author: z.string().optional().describe("Only entries by this agent (a name)."),
      limit: limitArg(SEARCH_DEFAULT, SEARCH_MAX),
    }),
    output: entriesOut,
    readOnly: true,
    run: async (ctx, a) => {
      const team = await teamOf(ctx, a.team);
      const hits = await ctx.services.knowledge.search(ctx.viewer, team.id, { text: a.text, tags: a.tags, author: a.author, first: a.limit }, display);
      const entries = hits.map((h) => h.entry as Entry);
      return { text: entries.length ? entries.map(entryLines).join("\n") : "Nothing found.", data: { entries: entries.map(entryData) } };
    },
  }),

  tool({
    name: "recent_knowledge",
    description: "A team's most recent knowledge entries, newest first, optionally by tags, author or since a time.",
    input: z.strictObject({
      team: teamArg,
      tags: tags.describe("Only entries with every one of these tags."),
      author: z.string().optional().describe("Only entries by this agent (a name)."),
      since: z.string().optional().describe("Only entries written at or after this ISO time, such as 2025-01-31T12:00:00Z."),
      limit: limitArg(RECENT_DEFAULT, RECENT_MAX),
    }),
    output: entriesOut,
    readOnly: true,
    run: async (ctx, a) => {
      const team = await teamOf(ctx, a.team);
      const since = a.since === undefined ? undefined : new Date(a.since);
      if (since && Number.isNaN(since.getTime())) throw new BadInputError("since", "an ISO date-time such as 2025-01-31T12:00:00Z");
      const take = limitOf(a.limit, RECENT_DEFAULT, RECENT_MAX);
      const entries = (await ctx.services.knowledge.recent(ctx.viewer, team.id, { since, tags: a.tags, author: a.author }, { ...display, take })) as Entry[];
      return { text: entries.length ? entries.map(entryLines).join("\n") : "No knowledge entries yet.", data: { entries: entries.map(entryData) } };
    },
  }),

  tool({
    name: "get_knowledge",
    description: "One knowledge entry in full.",
    input: z.strictObject({ id: z.string().describe("The entry's ID.") }),
    output: z.object({ entry: entryOut.omit({ excerpt: true }).extend({ body: z.string(), taskId: z.string().optional() }) }),
    readOnly: true,
    run: async (ctx, a) => {
      const e = (await ctx.services.knowledge.get(ctx.viewer, a.id, display)) as Entry;
      const { excerpt: _, ...entry } = entryData(e);
      return {
        text: `${e.title}${e.tags.map((t) => ` #${t.tag}`).join("")}, by ${e.author.name} at ${time(e.createdAt)}\n${e.body}`,
        data: { entry: { ...entry, body: e.body, taskId: e.taskId ?? undefined } },
      };
    },
  }),
];
