import { builder } from "../../graphql/builder.js";
import { requireViewer, rowForSelection } from "../../graphql/context.js";
import { enumOf } from "../../graphql/enum-of.js";
import { liveEvents } from "../../graphql/live.js";
import { changesWithoutCommit } from "../../graphql/response-cache.js";
import { IDEMPOTENCY_KEY_HELP } from "../idempotency/idempotency.service.js";
import { JournalEventRef } from "../journal/journal.schema.js";
import type { AskResult } from "./ask-and-wait.js";
import { INTENTS, MESSAGE_KINDS, MESSAGE_PRIORITIES } from "./message-input.js";

const IntentEnum = enumOf("MessageIntent", INTENTS, "What the sender wants: ASK, INFORM, DELEGATE, ESCALATE, REPLY (NOTICE: from the server).");
const PriorityEnum = enumOf("MessagePriority", MESSAGE_PRIORITIES);
const KindEnum = enumOf("MessageKind", MESSAGE_KINDS, "DIRECT to agents, a team BROADCAST, a TOPIC publication, or a NOTICE from the server.");

export const MessageRef = builder.prismaObject("Message", {
  fields: (t) => ({
    id: t.exposeID("id"),
    kind: t.field({ type: KindEnum, select: { kind: true }, resolve: (m) => m.kind as (typeof MESSAGE_KINDS)[number] }),
    team: t.relation("team", { nullable: true }),
    sender: t.relation("sender", { nullable: true, description: "Null for notices from the server itself." }),
    topic: t.exposeString("topic", { nullable: true }),
    intent: t.field({ type: IntentEnum, select: { intent: true }, resolve: (m) => m.intent as (typeof INTENTS)[number] }),
    priority: t.field({ type: PriorityEnum, select: { priority: true }, resolve: (m) => m.priority as (typeof MESSAGE_PRIORITIES)[number] }),
    body: t.exposeString("body"),
    payload: t.expose("payload", { type: "JSONObject" }),
    replyTo: t.relation("replyTo", { nullable: true }),
    threadId: t.exposeID("threadId", { description: "The first message of this message's thread." }),
    deadline: t.expose("deadline", { type: "DateTime", nullable: true, description: "An ask's deadline." }),
    expired: t.boolean({
      description: "An ask whose deadline has passed: the asker stopped waiting.",
      extensions: changesWithoutCommit,
      select: { deadline: true },
      resolve: (m) => m.deadline !== null && m.deadline < new Date(),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

builder.prismaObject("MessageDelivery", {
  name: "InboxItem",
  description: "A message in my inbox, with my read state.",
  fields: (t) => ({
    message: t.relation("message"),
    read: t.boolean({ select: { readAt: true }, resolve: (d) => d.readAt !== null }),
    readAt: t.expose("readAt", { type: "DateTime", nullable: true }),
    receivedAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

builder.prismaObject("TopicFollow", {
  fields: (t) => ({
    id: t.exposeID("id"),
    teamId: t.exposeID("teamId"),
    pattern: t.exposeString("pattern"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

const InboxFilterInput = builder.inputType("InboxFilter", {
  fields: (t) => ({
    unread: t.boolean({ description: "Only what I have not read." }),
    from: t.string({ description: "Only from this agent (a name)." }),
    intent: t.field({ type: IntentEnum }),
    teamId: t.id(),
    kind: t.field({ type: KindEnum }),
  }),
});

const MessageContent = builder.inputType("MessageInput", {
  fields: (t) => ({
    body: t.string({ required: true, description: `The text (1–20,000 characters).` }),
    intent: t.field({ type: IntentEnum, description: "Default INFORM (REPLY when replyToId is set)." }),
    priority: t.field({ type: PriorityEnum, description: "Default NORMAL." }),
    payload: t.field({ type: "JSONObject", description: "Structured data beside the body (at most 64 KB)." }),
    replyToId: t.id({ description: "A message I can see: puts this one in its thread." }),
  }),
});

const AskResultRef = builder.objectRef<AskResult>("AskResult").implement({
  description: "The question sent, the replies that came in time, and who did not answer.",
  fields: (t) => ({
    question: t.prismaField({ type: "Message", resolve: (query, r, _a, ctx) => rowForSelection(query, r.question, ctx.reader.message) }),
    replies: t.prismaField({
      type: ["Message"],
      resolve: (query, r, _a, ctx) => ctx.reader.message.findMany({ ...query, where: { id: { in: r.replies.map((m) => m.id) } }, orderBy: { id: "asc" } }),
    }),
    reply: t.prismaField({
      type: "Message",
      nullable: true,
      description: "The first reply (for a question to one agent).",
      resolve: (query, r, _a, ctx) => (r.replies[0] ? rowForSelection(query, r.replies[0], ctx.reader.message) : null),
    }),
    unanswered: t.stringList({ description: "Names of asked agents who did not answer in time.", resolve: (r) => r.unanswered.map((a) => a.name) }),
    timedOut: t.exposeBoolean("timedOut", { description: "Whether the timeout passed before every asked agent answered." }),
  }),
});

builder.queryFields((t) => ({
  inbox: t.prismaConnection({
    type: "MessageDelivery",
    cursor: "messageId_agentId",
    description: "What was sent to me: directly, to my teams, on topics I follow, and notices. Newest first unless oldestFirst.",
    args: { filter: t.arg({ type: InboxFilterInput }), oldestFirst: t.arg.boolean() },
    resolve: (query, _root, { filter, oldestFirst }, ctx) => ctx.services.messages.inbox(requireViewer(ctx), filter ?? {}, oldestFirst ?? false, query),
  }),
  unreadCount: t.int({
    description: "How many messages in my inbox I have not read.",
    args: { filter: t.arg({ type: InboxFilterInput }) },
    resolve: (_root, { filter }, ctx) => ctx.services.messages.unreadCount(requireViewer(ctx), filter ?? {}),
  }),
  message: t.prismaField({
    type: "Message",
    description: "A message I sent or received.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, { id }, ctx) => ctx.services.messages.get(requireViewer(ctx), id, query),
  }),
  thread: t.prismaField({
    type: ["Message"],
    description: "A message's thread: its first message and the replies I can see, in order.",
    args: { messageId: t.arg.id({ required: true }) },
    resolve: (query, _root, { messageId }, ctx) => ctx.services.messages.thread(requireViewer(ctx), messageId, query),
  }),
  awaitReplies: t.field({
    type: AskResultRef,
    // It waits: a kept "timed out" would answer at once.
    extensions: changesWithoutCommit,
    description:
      "Waits again for the replies to a question I asked (an ask cut short by a shutdown answers UNAVAILABLE with extensions.questionId), until timeoutSeconds (0 to 300; 0 looks without waiting), on any instance; at once when every asked agent has replied. NOT_FOUND for anyone but the asker.",
    args: { questionId: t.arg.id({ required: true }), timeoutSeconds: t.arg.int({ required: true }) },
    resolve: (_root, { questionId, timeoutSeconds }, ctx) => ctx.services.messages.awaitReplies(requireViewer(ctx), { questionId, timeoutSeconds }),
  }),
  myTopicFollows: t.prismaField({
    type: ["TopicFollow"],
    resolve: (_query, _root, _args, ctx) => ctx.services.messages.follows(requireViewer(ctx)),
  }),
}));

builder.mutationFields((t) => ({
  sendMessage: t.prismaField({
    type: "Message",
    description: "A direct message to one or more agents (by name) who share a team with you.",
    args: { to: t.arg.stringList({ required: true }), message: t.arg({ type: MessageContent, required: true }), idempotencyKey: t.arg.string({ description: IDEMPOTENCY_KEY_HELP }) },
    resolve: async (query, _root, { to, message, idempotencyKey }, ctx) =>
      rowForSelection(query, await ctx.services.messages.sendDirect(requireViewer(ctx), { to, ...message }, idempotencyKey), ctx.reader.message),
  }),
  broadcast: t.prismaField({
    type: "Message",
    description: "A message to every other member of a team.",
    args: { teamId: t.arg.id({ required: true }), message: t.arg({ type: MessageContent, required: true }), idempotencyKey: t.arg.string({ description: IDEMPOTENCY_KEY_HELP }) },
    resolve: async (query, _root, { teamId, message, idempotencyKey }, ctx) =>
      rowForSelection(query, await ctx.services.messages.broadcast(requireViewer(ctx), teamId, message, idempotencyKey), ctx.reader.message),
  }),
  publish: t.prismaField({
    type: "Message",
    description: "Publishes on a topic (a dotted name such as research.complete) in a team; members following a matching pattern receive it.",
    args: { teamId: t.arg.id({ required: true }), topic: t.arg.string({ required: true }), message: t.arg({ type: MessageContent, required: true }), idempotencyKey: t.arg.string({ description: IDEMPOTENCY_KEY_HELP }) },
    resolve: async (query, _root, { teamId, topic, message, idempotencyKey }, ctx) =>
      rowForSelection(query, await ctx.services.messages.publish(requireViewer(ctx), teamId, { topic, ...message }, idempotencyKey), ctx.reader.message),
  }),
  reply: t.prismaField({
    type: "Message",
    description: "Replies to a message's sender, in its thread (answers an ask).",
    args: { messageId: t.arg.id({ required: true }), message: t.arg({ type: MessageContent, required: true }), idempotencyKey: t.arg.string({ description: IDEMPOTENCY_KEY_HELP }) },
    resolve: async (query, _root, { messageId, message, idempotencyKey }, ctx) =>
      rowForSelection(query, await ctx.services.messages.reply(requireViewer(ctx), messageId, message, idempotencyKey), ctx.reader.message),
  }),
  ask: t.field({
    type: AskResultRef,
    description:
      "Asks one or more agents a question and waits for their replies until timeoutSeconds (at most 300). A timeout is an answer, not an error. Cut short by a shutdown, it answers UNAVAILABLE with extensions.questionId: wait on with awaitReplies, do not ask again.",
    args: {
      to: t.arg.stringList({ required: true }),
      question: t.arg.string({ required: true }),
      timeoutSeconds: t.arg.int({ required: true }),
      priority: t.arg({ type: PriorityEnum }),
      payload: t.arg({ type: "JSONObject" }),
      idempotencyKey: t.arg.string({ description: `${IDEMPOTENCY_KEY_HELP} A repeat sends no second question: it waits, with its own timeoutSeconds, for the replies to the first.` }),
    },
    resolve: (_root, { idempotencyKey, ...args }, ctx) => ctx.services.messages.ask(requireViewer(ctx), args, idempotencyKey),
  }),
}));

// Read state and topic follows.
builder.mutationFields((t) => ({
  markRead: t.int({
    description: "Marks messages read: these IDs, or everything up to and including upTo (a message ID); with neither, everything. Returns how many changed.",
    args: { ids: t.arg.idList(), upTo: t.arg.id() },
    resolve: (_root, { ids, upTo }, ctx) =>
      ctx.services.messages.markRead(requireViewer(ctx), { ids: ids ?? null, upTo: upTo ?? null }),
  }),
  acknowledge: t.int({
    description: "Marks everything from one agent read. Returns how many changed.",
    args: { from: t.arg.string({ required: true }) },
    resolve: (_root, { from }, ctx) => ctx.services.messages.markRead(requireViewer(ctx), { from }),
  }),
  followTopic: t.prismaField({
    type: "TopicFollow",
    description: "Follows topics in a team by pattern: '*' is one segment, '#' any number (reports.*, research.#).",
    args: { teamId: t.arg.id({ required: true }), pattern: t.arg.string({ required: true }) },
    resolve: (_query, _root, { teamId, pattern }, ctx) => ctx.services.messages.follow(requireViewer(ctx), teamId, pattern),
  }),
  unfollowTopic: t.boolean({
    args: { teamId: t.arg.id({ required: true }), pattern: t.arg.string({ required: true }) },
    resolve: (_root, { teamId, pattern }, ctx) => ctx.services.messages.unfollow(requireViewer(ctx), teamId, pattern),
  }),
}));

builder.subscriptionFields((t) => ({
  inboxEvents: t.field({
    type: JournalEventRef,
    description: "Each message delivered to me (kind message.received, or notice.* from the server), replayed after `after`, then live. `subjectId` is the message ID.",
    args: { after: t.arg.int(), threadId: t.arg.id({ description: "Only this thread." }) },
    subscribe: async (_root, { after, threadId }, ctx) => {
      const viewer = requireViewer(ctx);
      const events = await ctx.services.messages.inboxEvents(viewer, { after, threadId: threadId ?? null });
      return liveEvents(ctx, events, ctx.services.presence.subscribed(viewer.id));
    },
    resolve: (row) => row,
  }),
  topicEvents: t.field({
    type: JournalEventRef,
    description: "Messages published in a team on topics matching a pattern, replayed after `after`, then live.",
    args: { teamId: t.arg.id({ required: true }), pattern: t.arg.string({ required: true }), after: t.arg.int() },
    subscribe: async (_root, { teamId, pattern, after }, ctx) => {
      const viewer = requireViewer(ctx);
      const events = await ctx.services.messages.topicEvents(viewer, teamId, pattern, after);
      return liveEvents(ctx, events, ctx.services.presence.subscribed(viewer.id));
    },
    resolve: (row) => row,
  }),
}));
