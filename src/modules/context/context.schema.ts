import { builder } from "../../graphql/builder.js";
import { requireViewer } from "../../graphql/context.js";
import { liveEvents } from "../../graphql/live.js";
import { AgentRef } from "../agents/agents.schema.js";
import { JournalEventRef } from "../journal/journal.schema.js";

const ContextScope = builder.inputType("ContextScope", {
  description: "Where an entry lives: give exactly one of teamId, taskId (readable by the task's team) or private: true (only you).",
  fields: (t) => ({
    teamId: t.id(),
    taskId: t.id(),
    private: t.boolean(),
  }),
});

builder.prismaObject("ContextEntry", {
  description: "A shared context entry: its current value and version.",
  fields: (t) => ({
    id: t.exposeID("id"),
    scopeType: t.exposeString("scopeType", { description: "team, task or agent (private)." }),
    scopeId: t.exposeID("scopeId"),
    key: t.exposeString("key"),
    version: t.exposeInt("version", { description: "Bumped by every write; pass it as expectedVersion to compare-and-set." }),
    value: t.field({ type: "JSON", nullable: true, select: { value: true }, resolve: (e) => e.value }),
    deleted: t.exposeBoolean("deleted"),
    author: t.field({
      type: AgentRef,
      select: { authorId: true },
      resolve: (e, _args, ctx) => ctx.services.agents.byId(e.authorId),
    }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

builder.prismaObject("ContextVersion", {
  description: "One version of a context entry, kept for good.",
  fields: (t) => ({
    version: t.exposeInt("version"),
    value: t.field({ type: "JSON", nullable: true, select: { value: true }, resolve: (v) => v.value }),
    deleted: t.exposeBoolean("deleted", { description: "This version deleted the key." }),
    author: t.field({
      type: AgentRef,
      select: { authorId: true },
      resolve: (v, _args, ctx) => ctx.services.agents.byId(v.authorId),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

builder.prismaObject("WriteRule", {
  description: "A rule of a team's write policy: a role, or one agent, may write keys matching the pattern.",
  fields: (t) => ({
    role: t.exposeString("role", { nullable: true }),
    agentId: t.exposeID("agentId", { nullable: true }),
    pattern: t.exposeString("pattern"),
  }),
});

const WriteRuleInput = builder.inputType("WriteRuleInput", {
  fields: (t) => ({
    role: t.string({ description: "A role in the team (or give agentName)." }),
    agentName: t.string({ description: "One member (or give role)." }),
    patterns: t.stringList({ required: true, description: "Key patterns; '*' matches any run of characters (findings*, draft.*)." }),
  }),
});

builder.prismaObjectField("Team", "writePolicy", (t) =>
  t.prismaField({
    type: ["WriteRule"],
    description: "Who may write which keys of the team's context. Empty: every member may write anything.",
    resolve: (_query, team, _args, ctx) => ctx.services.context.policy(team.id),
  }),
);

builder.queryFields((t) => ({
  context: t.prismaField({
    type: "ContextEntry",
    nullable: true,
    description: "The current value of a key (recall); null when it does not exist or was deleted.",
    args: { scope: t.arg({ type: ContextScope, required: true }), key: t.arg.string({ required: true }) },
    resolve: (_query, _root, { scope, key }, ctx) => ctx.services.context.get(requireViewer(ctx), scope, key),
  }),
  contextHistory: t.prismaField({
    type: ["ContextVersion"],
    description: "A key's versions, newest first; with `version`, just that one.",
    args: { scope: t.arg({ type: ContextScope, required: true }), key: t.arg.string({ required: true }), version: t.arg.int(), first: t.arg.int() },
    resolve: (_query, _root, { scope, key, version, first }, ctx) => ctx.services.context.versions(requireViewer(ctx), scope, key, { version, first }),
  }),
  contextEntries: t.prismaField({
    type: ["ContextEntry"],
    description: "Entries of a scope in key order, by prefix and/or pattern ('*' matches any run), after a key; at most 100.",
    args: {
      scope: t.arg({ type: ContextScope, required: true }),
      prefix: t.arg.string(),
      pattern: t.arg.string(),
      after: t.arg.string({ description: "A key: list the keys after it." }),
      first: t.arg.int(),
    },
    resolve: (_query, _root, { scope, ...opts }, ctx) => ctx.services.context.list(requireViewer(ctx), scope, opts),
  }),
}));

builder.mutationFields((t) => ({
  setContext: t.prismaField({
    type: "ContextEntry",
    description:
      "Writes a key's value (remember). With expectedVersion it is compare-and-set: 0 means the key must not exist; on a mismatch the answer is CONFLICT with extensions.currentVersion, and nothing changes.",
    args: {
      scope: t.arg({ type: ContextScope, required: true }),
      key: t.arg.string({ required: true }),
      value: t.arg({ type: "JSON", required: true }),
      expectedVersion: t.arg.int(),
    },
    resolve: (_query, _root, { scope, key, value, expectedVersion }, ctx) =>
      ctx.services.context.set(requireViewer(ctx), scope, { key, value, expectedVersion }),
  }),
  deleteContext: t.prismaField({
    type: "ContextEntry",
    description: "Deletes a key (a tombstone version; its history stays readable).",
    args: { scope: t.arg({ type: ContextScope, required: true }), key: t.arg.string({ required: true }), expectedVersion: t.arg.int() },
    resolve: (_query, _root, { scope, key, expectedVersion }, ctx) => ctx.services.context.delete(requireViewer(ctx), scope, { key, expectedVersion }),
  }),
  setWritePolicy: t.prismaField({
    type: ["WriteRule"],
    description: "Replaces the team's write policy for its team-scope context (lead only). An empty list lets every member write.",
    args: { teamId: t.arg.id({ required: true }), rules: t.arg({ type: [WriteRuleInput], required: true }) },
    resolve: (_query, _root, { teamId, rules }, ctx) => ctx.services.context.setPolicy(requireViewer(ctx), teamId, rules),
  }),
}));

builder.subscriptionFields((t) => ({
  contextEvents: t.field({
    type: JournalEventRef,
    description: "Changes in a context scope (optionally under a key prefix): replayed after `after`, then live. The payload has key, version and value.",
    args: { scope: t.arg({ type: ContextScope, required: true }), prefix: t.arg.string(), after: t.arg.int() },
    subscribe: async (_root, { scope, prefix, after }, ctx) => {
      const viewer = requireViewer(ctx);
      const events = await ctx.services.context.events(viewer, scope, { prefix, after });
      return liveEvents(ctx, events, ctx.services.presence.subscribed(viewer.id));
    },
    resolve: (row) => row,
  }),
}));
