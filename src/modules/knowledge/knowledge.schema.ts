import { builder } from "../../graphql/builder.js";
import { requireViewer, rowForSelection } from "../../graphql/context.js";
import { IDEMPOTENCY_KEY_HELP } from "../idempotency/idempotency.service.js";
import { BODY_MAX, SEARCH_DEFAULT, SEARCH_MAX, TAGS_MAX, TITLE_MAX, type KnowledgeHit } from "./knowledge.service.js";

export const KnowledgeEntryRef = builder.prismaObject("KnowledgeEntry", {
  description: "Something a team learned: a titled text with tags, by an agent, possibly found while working on a task.",
  fields: (t) => ({
    id: t.exposeID("id"),
    title: t.exposeString("title"),
    body: t.exposeString("body"),
    tags: t.field({
      type: ["String"],
      description: "Lowercase, in alphabetical order.",
      select: { tags: { select: { tag: true }, orderBy: { tag: "asc" } } },
      resolve: (entry) => entry.tags.map((t) => t.tag),
    }),
    author: t.relation("author"),
    task: t.relation("task", { nullable: true, description: "The task it was found on." }),
    team: t.relation("team"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

const KnowledgeHitRef = builder.objectRef<KnowledgeHit>("KnowledgeHit").implement({
  description: "A knowledge entry matching a search, with its rank.",
  fields: (t) => ({
    entry: t.prismaField({ type: "KnowledgeEntry", resolve: (query, hit, _a, ctx) => rowForSelection(query, hit.entry, ctx.reader.knowledgeEntry) }),
    rank: t.exposeFloat("rank", { description: "Higher is better. Ranks compare only within one answer." }),
  }),
});

const AddKnowledgeInput = builder.inputType("AddKnowledgeInput", {
  fields: (t) => ({
    title: t.string({ required: true, description: `1–${TITLE_MAX} characters.` }),
    body: t.string({ required: true, description: `The text (1–${BODY_MAX.toLocaleString("en")} characters).` }),
    tags: t.stringList({ description: `At most ${TAGS_MAX}: letters, digits, '.', '_' or '-' (stored lowercase).` }),
    taskId: t.id({ description: "A task of the same team this was found on." }),
  }),
});

const UpdateKnowledgeInput = builder.inputType("UpdateKnowledgeInput", {
  description: "Omitted fields stay as they are.",
  fields: (t) => ({
    title: t.string(),
    body: t.string(),
    tags: t.stringList({ description: "Replaces the tags ([] removes them all)." }),
    taskId: t.id({ description: "null unlinks the task." }),
  }),
});

builder.prismaObjectField("Task", "knowledge", (t) =>
  t.relation("knowledge", { description: "Knowledge entries found on this task, oldest first.", query: { orderBy: [{ createdAt: "asc" }, { id: "asc" }] } }),
);

builder.queryFields((t) => ({
  knowledge: t.prismaField({
    type: "KnowledgeEntry",
    description: "A knowledge entry of one of my teams.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, { id }, ctx) => ctx.services.knowledge.get(requireViewer(ctx), id, query),
  }),
  searchKnowledge: t.field({
    type: [KnowledgeHitRef],
    description:
      "A team's knowledge entries containing every word of `text` (stemmed: claims finds claiming), best first: title matches above body matches, then newest. Any text is accepted; operators and punctuation only separate words, and text without words finds nothing.",
    args: {
      teamId: t.arg.id({ required: true }),
      text: t.arg.string({ required: true }),
      tags: t.arg.stringList({ description: "Only entries with every one of these tags." }),
      author: t.arg.string({ description: "Only entries by this agent (a name)." }),
      first: t.arg.int({ description: `How many (default ${SEARCH_DEFAULT}, at most ${SEARCH_MAX}).` }),
    },
    resolve: (_root, { teamId, ...search }, ctx) => ctx.services.knowledge.search(requireViewer(ctx), teamId, search),
  }),
  recentKnowledge: t.prismaConnection({
    type: "KnowledgeEntry",
    cursor: "id",
    description: "A team's knowledge entries, newest first.",
    args: {
      teamId: t.arg.id({ required: true }),
      since: t.arg({ type: "DateTime", description: "Written at or after this time." }),
      until: t.arg({ type: "DateTime", description: "Written before this time." }),
      tags: t.arg.stringList({ description: "Only entries with every one of these tags." }),
      author: t.arg.string({ description: "Only entries by this agent (a name)." }),
    },
    resolve: (query, _root, { teamId, since, until, tags, author }, ctx) =>
      ctx.services.knowledge.recent(requireViewer(ctx), teamId, { since, until, tags, author }, query),
  }),
}));

builder.mutationFields((t) => ({
  addKnowledge: t.prismaField({
    type: "KnowledgeEntry",
    description: "Adds a knowledge entry to a team; it appears in the team's events as knowledge.added.",
    args: { teamId: t.arg.id({ required: true }), input: t.arg({ type: AddKnowledgeInput, required: true }), idempotencyKey: t.arg.string({ description: IDEMPOTENCY_KEY_HELP }) },
    resolve: async (query, _root, { teamId, input, idempotencyKey }, ctx) =>
      rowForSelection(query, await ctx.services.knowledge.add(requireViewer(ctx), teamId, input, idempotencyKey), ctx.reader.knowledgeEntry),
  }),
  updateKnowledge: t.prismaField({
    type: "KnowledgeEntry",
    description: "Changes a knowledge entry (its author only).",
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateKnowledgeInput, required: true }) },
    resolve: async (query, _root, { id, input }, ctx) =>
      rowForSelection(query, await ctx.services.knowledge.update(requireViewer(ctx), id, input), ctx.reader.knowledgeEntry),
  }),
  deleteKnowledge: t.boolean({
    description: "Deletes a knowledge entry (its author or the team's lead).",
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => {
      await ctx.services.knowledge.delete(requireViewer(ctx), id);
      return true;
    },
  }),
}));
