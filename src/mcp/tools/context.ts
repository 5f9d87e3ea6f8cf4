// Shared context, the blackboard: versioned JSON values by key in the team's scope (the
// default), a task's, or your private one. A write may demand the version it read.
import { z } from "zod";
import { agentNames, json, jsonValue, limitArg, limitOf, scopeArgs, scopeOf, time, tool } from "../tool.js";

const LIST_DEFAULT = 50;
const LIST_MAX = 100;
/** Values in listings are cut to this many characters of JSON for the model; recall shows them whole. */
const VALUE_PREVIEW = 300;

const key = z.string().describe("The key: 1–200 letters, digits, '_', '.', ':', '/' or '-'.");

/** A value as stored: GraphQL may have written null, which is a value, not "none". */
const storedValue = z.union([...jsonValue.options, z.null()]);
type Value = z.input<typeof storedValue>;
/** One version of a key, whole, for programs (a deleted version's value is null). */
const versionOut = z.object({ version: z.number(), author: z.string(), at: z.string(), value: storedValue, deleted: z.boolean() });

export const contextTools = [
  tool({
    name: "remember",
    description:
      "Writes a JSON value under a key in shared context (the team's, a task's, or your private one); each write bumps the key's version. With expected_version it is compare-and-set (0: the key must not exist yet); a mismatch is CONFLICT with the current version, and nothing changes.",
    input: z.strictObject({
      ...scopeArgs,
      key,
      value: jsonValue.describe("A JSON value: string, number, boolean, object or array (at most 64 KB)."),
      expected_version: z.number().optional().describe("The version you read (0: the key must not exist)."),
    }),
    output: z.object({ key: z.string(), version: z.number() }),
    worker: true,
    run: async (ctx, a) => {
      const entry = await ctx.services.context.set(ctx.viewer, await scopeOf(ctx, a), { key: a.key, value: a.value, expectedVersion: a.expected_version });
      return { text: `Remembered "${entry.key}" at version ${entry.version}.`, data: { key: entry.key, version: entry.version } };
    },
  }),

  tool({
    name: "recall",
    description: "Reads a key of shared context: its value, version, author and time. With version, that earlier version.",
    input: z.strictObject({ ...scopeArgs, key, version: z.number().optional().describe("An earlier version to read.") }),
    output: z.object({ key: z.string(), found: z.boolean().describe("false: the key is not set, or has no such version."), entry: versionOut.optional() }),
    readOnly: true,
    worker: true,
    run: async (ctx, a) => {
      const scope = await scopeOf(ctx, a);
      if (a.version === undefined) {
        const entry = await ctx.services.context.get(ctx.viewer, scope, a.key);
        if (!entry) return { text: `"${a.key}" is not set.`, data: { key: a.key, found: false } };
        const author = (await agentNames(ctx, [entry.authorId])).get(entry.authorId) ?? "?";
        return {
          text: `"${entry.key}" version ${entry.version} by ${author} at ${time(entry.updatedAt)}:\n${json(entry.value)}`,
          data: { key: entry.key, found: true, entry: { version: entry.version, author, at: time(entry.updatedAt), value: entry.value as Value, deleted: false } },
        };
      }
      const [v] = await ctx.services.context.versions(ctx.viewer, scope, a.key, { version: a.version });
      if (!v) return { text: `"${a.key}" has no version ${a.version}.`, data: { key: a.key, found: false } };
      const author = (await agentNames(ctx, [v.authorId])).get(v.authorId) ?? "?";
      return {
        text: `"${a.key}" version ${v.version} by ${author} at ${time(v.createdAt)}:\n${v.deleted ? "(deleted)" : json(v.value)}`,
        data: { key: a.key, found: true, entry: { version: v.version, author, at: time(v.createdAt), value: v.deleted ? null : (v.value as Value), deleted: v.deleted } },
      };
    },
  }),

  tool({
    name: "context_history",
    description: "A key's versions, newest first: version, author, time and value (long values are cut; recall with version shows one whole).",
    input: z.strictObject({ ...scopeArgs, key, limit: limitArg(20, LIST_MAX) }),
    output: z.object({ key: z.string(), versions: z.array(versionOut) }),
    readOnly: true,
    run: async (ctx, a) => {
      const versions = await ctx.services.context.versions(ctx.viewer, await scopeOf(ctx, a), a.key, { first: limitOf(a.limit, 20, LIST_MAX) });
      const authors = await agentNames(ctx, versions.map((v) => v.authorId));
      const data = versions.map((v) => ({ version: v.version, author: authors.get(v.authorId) ?? "?", at: time(v.createdAt), value: v.deleted ? null : (v.value as Value), deleted: v.deleted }));
      return {
        text: data.map((v) => `v${v.version} by ${v.author} at ${v.at}: ${v.deleted ? "(deleted)" : json(v.value, VALUE_PREVIEW)}`).join("\n"),
        data: { key: a.key, versions: data },
      };
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
    output: z.object({
      entries: z.array(z.object({ key: z.string(), version: z.number(), author: z.string(), at: z.string(), value: storedValue })),
      next: z.string().optional().describe("When the page is full: pass it as after for the next page."),
    }),
    readOnly: true,
    worker: true,
    run: async (ctx, a) => {
      const first = limitOf(a.limit, LIST_DEFAULT, LIST_MAX);
      const entries = await ctx.services.context.list(ctx.viewer, await scopeOf(ctx, a), { prefix: a.prefix, pattern: a.pattern, after: a.after, first });
      const authors = await agentNames(ctx, entries.map((e) => e.authorId));
      const data = {
        entries: entries.map((e) => ({ key: e.key, version: e.version, author: authors.get(e.authorId) ?? "?", at: time(e.updatedAt), value: e.value as Value })),
        next: entries.length === first ? entries[entries.length - 1]!.key : undefined,
      };
      if (entries.length === 0) return { text: "No keys match.", data };
      const lines = data.entries.map((e) => `${e.key} (v${e.version}, ${e.author}): ${json(e.value, VALUE_PREVIEW)}`);
      if (data.next) lines.push(`… possibly more: list again with after "${data.next}".`);
      return { text: lines.join("\n"), data };
    },
  }),
];
