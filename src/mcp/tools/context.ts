// Shared context, the blackboard: versioned JSON values by key in the team's scope (the
// default), a task's, or your private one. A write may demand the version it read.
import { z } from "zod";
import { agentNames, json, limitArg, limitOf, scopeArgs, scopeOf, time, tool } from "../tool.js";

const LIST_DEFAULT = 50;
const LIST_MAX = 100;
/** Values in listings are cut to this many characters of JSON; recall shows them whole. */
const VALUE_PREVIEW = 300;

const key = z.string().describe("The key: 1–200 letters, digits, '_', '.', ':', '/' or '-'.");

export const contextTools = [
  tool({
    name: "remember",
    description:
      "Writes a JSON value under a key in shared context (the team's by default; or a task's, or your private one). Every write bumps the key's version and keeps the old one. With expected_version it is compare-and-set: 0 means the key must not exist yet; a mismatch is refused with CONFLICT and the current version, and nothing changes.",
    input: z.strictObject({
      ...scopeArgs,
      key,
      value: z.unknown().describe("Any JSON value (at most 64 KB)."),
      expected_version: z.number().optional().describe("The version you read (0: the key must not exist)."),
    }),
    run: async (ctx, a) => {
      const entry = await ctx.services.context.set(ctx.viewer, await scopeOf(ctx, a), { key: a.key, value: a.value, expectedVersion: a.expected_version });
      return `Remembered "${entry.key}" at version ${entry.version}.`;
    },
  }),

  tool({
    name: "recall",
    description: "Reads a key of shared context: its value, version, author and time. With version, that earlier version.",
    input: z.strictObject({ ...scopeArgs, key, version: z.number().optional().describe("An earlier version to read.") }),
    readOnly: true,
    run: async (ctx, a) => {
      const scope = await scopeOf(ctx, a);
      if (a.version === undefined) {
        const entry = await ctx.services.context.get(ctx.viewer, scope, a.key);
        if (!entry) return `"${a.key}" is not set.`;
        const author = (await agentNames(ctx, [entry.authorId])).get(entry.authorId);
        return `"${entry.key}" version ${entry.version} by ${author} at ${time(entry.updatedAt)}:\n${json(entry.value)}`;
      }
      const [v] = await ctx.services.context.versions(ctx.viewer, scope, a.key, { version: a.version });
      if (!v) return `"${a.key}" has no version ${a.version}.`;
      const author = (await agentNames(ctx, [v.authorId])).get(v.authorId);
      return `"${a.key}" version ${v.version} by ${author} at ${time(v.createdAt)}:\n${v.deleted ? "(deleted)" : json(v.value)}`;
    },
  }),

  tool({
    name: "context_history",
    description: "A key's versions, newest first: version, author, time and value (long values are cut; recall with version shows one whole).",
    input: z.strictObject({ ...scopeArgs, key, limit: limitArg(20, LIST_MAX) }),
    readOnly: true,
    run: async (ctx, a) => {
      const versions = await ctx.services.context.versions(ctx.viewer, await scopeOf(ctx, a), a.key, { first: limitOf(a.limit, 20, LIST_MAX) });
      const authors = await agentNames(ctx, versions.map((v) => v.authorId));
      return versions.map((v) => `v${v.version} by ${authors.get(v.authorId)} at ${time(v.createdAt)}: ${v.deleted ? "(deleted)" : json(v.value, VALUE_PREVIEW)}`).join("\n");
    },
  }),

  tool({
    name: "list_context",
    description: "Lists keys of shared context in key order, by prefix and/or pattern ('*' matches any run), with version, author and value (long values are cut).",
    input: z.strictObject({
      ...scopeArgs,
      prefix: z.string().optional().describe("Only keys starting with this."),
      pattern: z.string().optional().describe("Only keys matching this, such as findings.*"),
      after: z.string().optional().describe("A key: list the keys after it (next page)."),
      limit: limitArg(LIST_DEFAULT, LIST_MAX),
    }),
    readOnly: true,
    run: async (ctx, a) => {
      const first = limitOf(a.limit, LIST_DEFAULT, LIST_MAX);
      const entries = await ctx.services.context.list(ctx.viewer, await scopeOf(ctx, a), { prefix: a.prefix, pattern: a.pattern, after: a.after, first });
      if (entries.length === 0) return "No keys match.";
      const authors = await agentNames(ctx, entries.map((e) => e.authorId));
      const lines = entries.map((e) => `${e.key} (v${e.version}, ${authors.get(e.authorId)}): ${json(e.value, VALUE_PREVIEW)}`);
      if (entries.length === first) lines.push(`… possibly more: list again with after "${entries[entries.length - 1]!.key}".`);
      return lines.join("\n");
    },
  }),
];
