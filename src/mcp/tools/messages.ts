// Messages: direct messages and broadcasts, the inbox, read state, and ask-and-wait.
import { z } from "zod";
import type { Prisma } from "../../generated/prisma/client.js";
import type { AskResult } from "../../modules/messages/ask-and-wait.js";
import { INTENTS, MESSAGE_KINDS, MESSAGE_PRIORITIES } from "../../modules/messages/message-input.js";
import { agentNames, idempotencyKeyArg, jsonObject, limitArg, limitOf, teamOf, teamArg, teamOut, time, tool, type ToolContext } from "../tool.js";

const INBOX_DEFAULT = 20;
const INBOX_MAX = 100;

/** What an agent may say it wants; "notice" is the server's own. */
const SENDER_INTENTS = INTENTS.filter((i) => i !== "notice");

const recipients = z.union([z.string(), z.array(z.string())], { error: "an agent name or a list of names" }).describe("An agent name or a list of names.");
const content = {
  body: z.string().describe("The text (1–20,000 characters)."),
  intent: z.enum(SENDER_INTENTS).optional().describe("What you want (default inform)."),
  priority: z.enum(MESSAGE_PRIORITIES).optional().describe("Default normal."),
  payload: jsonObject.optional().describe("A JSON object beside the body (at most 64 KB)."),
};
const names = (to: string | string[]) => (Array.isArray(to) ? to : [to]);

const inboxInclude = {
  include: { message: { include: { sender: { select: { name: true } }, team: { select: { name: true } } } } },
} satisfies Prisma.MessageDeliveryFindManyArgs;
type InboxRow = Prisma.MessageDeliveryGetPayload<typeof inboxInclude>;

const messageOut = z.object({
  id: z.string(),
  kind: z.enum(MESSAGE_KINDS),
  from: z.string().optional().describe("The sender's name; absent for a notice from the board."),
  team: z.string().optional(),
  topic: z.string().optional(),
  intent: z.enum(INTENTS),
  priority: z.enum(MESSAGE_PRIORITIES),
  body: z.string(),
  payload: jsonObject,
  replyTo: z.string().optional(),
  threadId: z.string(),
  createdAt: z.string(),
  read: z.boolean(),
  answerBefore: z.string().optional().describe("An ask's deadline: reply with send_message reply_to its id before then."),
});

function messageData({ message: m, readAt }: InboxRow): z.input<typeof messageOut> {
  return {
    id: m.id,
    kind: m.kind as never,
    from: m.sender?.name,
    team: m.team?.name,
    topic: m.topic ?? undefined,
    intent: m.intent as never,
    priority: m.priority as never,
    body: m.body,
    payload: m.payload as Record<string, unknown>,
    replyTo: m.replyToId ?? undefined,
    threadId: m.threadId,
    createdAt: time(m.createdAt),
    read: readAt !== null,
    answerBefore: m.intent === "ask" && m.deadline ? time(m.deadline) : undefined,
  };
}

/**
 * `from → to (intent, priority): body`, with what the reader can do about it. IDs and times
 * only when verbose: a model rarely needs them, and they were half of a line's characters.
 */
function inboxLine({ message: m, readAt }: InboxRow, verbose: boolean, now: number): string {
  const to = m.kind === "broadcast" ? ` → team ${m.team?.name}` : m.kind === "topic" ? ` → topic ${m.topic}` : "";
  const from = m.sender?.name ?? `notice${m.team ? ` from ${m.team.name}` : ""}`;
  const tags = [m.intent !== "notice" && m.intent !== "inform" ? m.intent : null, m.priority !== "normal" ? m.priority : null, readAt ? "read" : null].filter(Boolean);
  const lines = [`${verbose ? `[${m.id}] ${time(m.createdAt)} ` : ""}${from}${to}${tags.length ? ` (${tags.join(", ")})` : ""}: ${m.body}`];
  const payload = m.payload as Record<string, unknown>;
  if (m.kind !== "notice" && Object.keys(payload).length) lines.push(`  payload: ${JSON.stringify(payload)}`);
  if (verbose && m.replyToId) lines.push(`  in reply to [${m.replyToId}]`);
  if (m.intent === "ask" && m.deadline) {
    const left = Math.ceil((m.deadline.getTime() - now) / 1000);
    lines.push(left > 0 ? `  answer within ${left} s: send_message to ${m.sender?.name} with reply_to "${m.id}"` : "  (the asker stopped waiting)");
  }
  return lines.join("\n");
}

const markedOut = z.object({ marked: z.number().describe("How many messages were marked read.") });

const answersOut = z.object({
  questionId: z.string().describe("Wait on with await_replies and this id, rather than asking again."),
  replies: z.array(z.object({ id: z.string(), from: z.string(), body: z.string() })),
  timedOut: z.boolean(),
  unanswered: z.array(z.string()).describe("Who did not answer in time."),
});

export const messageTools = [
  tool({
    name: "send_message",
    description: "Sends a direct message to one or more agents who share a team with you. With reply_to it answers a message in its thread (that is how you answer an ask).",
    input: z.strictObject({
      to: recipients,
      ...content,
      reply_to: z.string().optional().describe("The ID of the message you are answering."),
      idempotency_key: idempotencyKeyArg,
    }),
    output: z.object({ messageId: z.string(), to: z.array(z.string()) }),
    worker: true,
    run: async ({ services, viewer }, a) => {
      const message = await services.messages.sendDirect(viewer, {
        to: names(a.to),
        body: a.body,
        intent: a.intent,
        priority: a.priority,
        payload: a.payload,
        replyToId: a.reply_to,
      }, a.idempotency_key);
      return { text: `Sent to ${names(a.to).join(", ")} (message id ${message.id}).`, data: { messageId: message.id, to: names(a.to) } };
    },
  }),

  tool({
    name: "broadcast",
    description: "Sends a message to every other member of a team.",
    input: z.strictObject({ team: teamArg, ...content, idempotency_key: idempotencyKeyArg }),
    output: z.object({ messageId: z.string(), team: teamOut }),
    run: async (ctx, a) => {
      const team = await teamOf(ctx, a.team);
      const message = await ctx.services.messages.broadcast(ctx.viewer, team.id, { body: a.body, intent: a.intent, priority: a.priority, payload: a.payload }, a.idempotency_key);
      return { text: `Broadcast to ${team.name} (message id ${message.id}).`, data: { messageId: message.id, team: { id: team.id, name: team.name } } };
    },
  }),

  tool({
    name: "get_messages",
    description:
      "Your inbox, oldest first: messages to you, your teams and topics you follow, and notices from the board (task assigned, work unblocked, role given). Only unread ones unless unread: false; reading does not mark them read (mark_read does). A full page ends with the cursor of the next.",
    input: z.strictObject({
      unread: z.boolean().optional().describe("Only unread messages (default true)."),
      kind: z.enum(["messages", "notices"]).optional().describe("messages: from agents only; notices: from the board only; default both."),
      from: z.string().optional().describe("Only from this agent (a name)."),
      intent: z.enum(SENDER_INTENTS).optional().describe("Only messages with this intent."),
      team: z.string().optional().describe("Only messages of this team (name or ID)."),
      after: z.string().optional().describe("The cursor a full page ended with: the messages after it."),
      limit: limitArg(INBOX_DEFAULT, INBOX_MAX),
      verbose: z.boolean().optional().describe("Also each message's ID, time and the message it answers."),
    }),
    output: z.object({
      messages: z.array(messageOut),
      unread: z.number().describe("Unread messages matching the filters, this page included."),
      cursor: z.string().optional().describe("When more follow this page: pass it as after."),
    }),
    readOnly: true,
    worker: true,
    run: async (ctx, a) => {
      const take = limitOf(a.limit, INBOX_DEFAULT, INBOX_MAX);
      const filter = {
        unread: a.unread ?? true,
        notices: a.kind === undefined ? null : a.kind === "notices",
        from: a.from,
        intent: a.intent,
        teamId: a.team === undefined ? null : (await teamOf(ctx, a.team)).id,
      };
      const found = (await ctx.services.messages.inbox(ctx.viewer, { ...filter, after: a.after }, true, { ...inboxInclude, take: take + 1 })) as InboxRow[];
      const rows = found.slice(0, take);
      const unread = await ctx.services.messages.unreadCount(ctx.viewer, filter);
      const cursor = found.length > take ? rows[rows.length - 1]!.messageId : undefined;
      const data = { messages: rows.map(messageData), unread, cursor };
      if (rows.length === 0) return { text: filter.unread ? "No unread messages." : "No messages.", data };
      const now = Date.now();
      const lines = rows.map((r) => inboxLine(r, a.verbose === true, now));
      lines.push(`${unread} unread${cursor ? `; more after this page: get_messages after "${cursor}"` : ""}.`);
      return { text: lines.join("\n"), data };
    },
  }),

  tool({
    name: "mark_read",
    description: "Marks inbox messages read: these IDs, or up_to and everything before it; with neither, everything.",
    input: z.strictObject({
      ids: z.array(z.string()).optional().describe("Message IDs."),
      up_to: z.string().optional().describe("A message ID (or a get_messages cursor): it and every earlier message."),
    }),
    output: markedOut,
    worker: true,
    run: async ({ services, viewer }, a) => {
      const count = await services.messages.markRead(viewer, { ids: a.ids, upTo: a.up_to });
      return { text: `Marked ${count} message${count === 1 ? "" : "s"} read.`, data: { marked: count } };
    },
  }),

  tool({
    name: "acknowledge",
    description: "Marks everything from one agent read.",
    input: z.strictObject({ from: z.string().describe("The sender's agent name.") }),
    output: markedOut,
    run: async ({ services, viewer }, a) => {
      const count = await services.messages.markRead(viewer, { from: a.from });
      return { text: `Marked ${count} message${count === 1 ? "" : "s"} from ${a.from} read.`, data: { marked: count } };
    },
  }),

  tool({
    name: "ask",
    description:
      "Asks one or more agents a question and waits for their replies (they answer with send_message reply_to) until timeout_seconds (1–300). A timeout is an answer, not an error: you get the replies that came in time and who did not answer. If the server shuts down meanwhile it answers UNAVAILABLE with the question id: the question was sent, so wait with await_replies rather than asking again. Keep the timeout below your MCP client's own request timeout.",
    input: z.strictObject({
      to: recipients,
      question: z.string().describe("The question (1–20,000 characters)."),
      timeout_seconds: z.number().describe("How long to wait, 1–300 seconds."),
      priority: content.priority,
      payload: content.payload,
      idempotency_key: idempotencyKeyArg.describe("Makes a retry safe: a repeat with this key within 24 h sends no second question and waits, with its own timeout_seconds, for the replies to the first."),
    }),
    output: answersOut,
    run: async (ctx, a) => answerText(ctx, await ctx.services.messages.ask(ctx.viewer, { to: names(a.to), question: a.question, timeoutSeconds: a.timeout_seconds, priority: a.priority, payload: a.payload }, a.idempotency_key), a.timeout_seconds),
  }),

  tool({
    name: "await_replies",
    description:
      "Waits again for the replies to a question you asked, until timeout_seconds (0–300; 0 looks without waiting); at once if everyone asked has replied. Use it when ask answered UNAVAILABLE (the server shut down: the question was sent, its id is in the error) or timed out, instead of asking again. Works on any server.",
    input: z.strictObject({
      question_id: z.string().describe("The question's message ID (from ask)."),
      timeout_seconds: z.number().describe("How long to wait, 0–300 seconds."),
    }),
    output: answersOut,
    readOnly: true,
    run: async (ctx, a) => answerText(ctx, await ctx.services.messages.awaitReplies(ctx.viewer, { questionId: a.question_id, timeoutSeconds: a.timeout_seconds }), a.timeout_seconds),
  }),
];

/** The replies that came, who did not answer in time, and the question's id to wait on. */
async function answerText(ctx: ToolContext, result: AskResult, timeoutSeconds: number) {
  const senders = await agentNames(ctx, result.replies.map((r) => r.senderId));
  const replies = result.replies.map((r) => ({ id: r.id, from: senders.get(r.senderId ?? "") ?? "?", body: r.body }));
  const lines = replies.map((r) => `${r.from} answered [${r.id}]: ${r.body}`);
  if (result.timedOut) lines.push(`Timed out after ${timeoutSeconds} s: no answer from ${result.unanswered.map((u) => u.name).join(", ")}.`);
  lines.push(`(question id ${result.question.id})`);
  return {
    text: lines.join("\n"),
    data: { questionId: result.question.id, replies, timedOut: result.timedOut, unanswered: result.unanswered.map((u) => u.name) },
  };
}
