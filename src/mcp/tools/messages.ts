// Messages: direct messages and broadcasts, the inbox, read state, and ask-and-wait.
import { z } from "zod";
import type { Prisma } from "../../generated/prisma/client.js";
import { IDEMPOTENCY_KEY_HELP } from "../../modules/idempotency/idempotency.service.js";
import type { AskResult } from "../../modules/messages/ask-and-wait.js";
import { INTENTS, MESSAGE_PRIORITIES } from "../../modules/messages/message-input.js";
import { agentNames, idempotencyKeyArg, limitArg, limitOf, teamOf, teamArg, time, tool, type ToolContext } from "../tool.js";

const INBOX_DEFAULT = 20;
const INBOX_MAX = 100;

const recipients = z.union([z.string(), z.array(z.string())], { error: "an agent name or a list of names" }).describe("An agent name, or a list of names, sharing a team with you.");
const content = {
  body: z.string().describe("The text (1–20,000 characters)."),
  intent: z
    .enum(INTENTS)
    .optional()
    .describe("What you want: ask, inform (default), delegate, escalate or reply."),
  priority: z.enum(MESSAGE_PRIORITIES).optional().describe("low, normal (default), high or critical."),
  payload: z.record(z.string(), z.unknown()).optional().describe("Structured data beside the body (a JSON object, at most 64 KB)."),
};
const names = (to: string | string[]) => (Array.isArray(to) ? to : [to]);

const inboxInclude = {
  include: { message: { include: { sender: { select: { name: true } }, team: { select: { name: true } } } } },
} satisfies Prisma.MessageDeliveryFindManyArgs;
type InboxRow = Prisma.MessageDeliveryGetPayload<typeof inboxInclude>;

/** `[id] time from → to (intent, priority): body`, with what the reader can do about it. */
function inboxLine({ message: m, readAt }: InboxRow): string {
  const to = m.kind === "broadcast" ? ` → team ${m.team?.name}` : m.kind === "topic" ? ` → topic ${m.topic}` : "";
  const from = m.sender?.name ?? `notice${m.team ? ` from ${m.team.name}` : ""}`;
  const tags = [m.intent !== "notice" && m.intent !== "inform" ? m.intent : null, m.priority !== "normal" ? m.priority : null, readAt ? "read" : null].filter(Boolean);
  const lines = [`[${m.id}] ${time(m.createdAt)} ${from}${to}${tags.length ? ` (${tags.join(", ")})` : ""}: ${m.body}`];
  const payload = m.payload as Record<string, unknown>;
  if (m.kind !== "notice" && Object.keys(payload).length) lines.push(`  payload: ${JSON.stringify(payload)}`);
  if (m.replyToId) lines.push(`  in reply to [${m.replyToId}]`);
  if (m.intent === "ask" && m.deadline) {
    lines.push(m.deadline > new Date() ? `  answer before ${time(m.deadline)}: send_message to ${m.sender?.name} with reply_to "${m.id}"` : "  (the asker stopped waiting)");
  }
  return lines.join("\n");
}

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
    run: async ({ services, viewer }, a) => {
      const message = await services.messages.sendDirect(viewer, {
        to: names(a.to),
        body: a.body,
        intent: a.intent,
        priority: a.priority,
        payload: a.payload,
        replyToId: a.reply_to,
      }, a.idempotency_key);
      return `Sent to ${names(a.to).join(", ")} (message id ${message.id}).`;
    },
  }),

  tool({
    name: "broadcast",
    description: "Sends a message to every other member of a team.",
    input: z.strictObject({ team: teamArg, ...content, idempotency_key: idempotencyKeyArg }),
    run: async (ctx, a) => {
      const team = await teamOf(ctx, a.team);
      const message = await ctx.services.messages.broadcast(ctx.viewer, team.id, { body: a.body, intent: a.intent, priority: a.priority, payload: a.payload }, a.idempotency_key);
      return `Broadcast to ${team.name} (message id ${message.id}).`;
    },
  }),

  tool({
    name: "get_messages",
    description:
      "Your inbox, oldest first: direct messages, team broadcasts, topics you follow, and notices from the board (a task assigned to you, your work unblocked, a role given). Only unread ones unless unread: false. Reading does not mark them read: use mark_read or acknowledge.",
    input: z.strictObject({
      unread: z.boolean().optional().describe("Only unread messages (default true)."),
      from: z.string().optional().describe("Only from this agent (a name)."),
      intent: z.enum(INTENTS).optional(),
      team: z.string().optional().describe("Only messages of this team (name or ID)."),
      limit: limitArg(INBOX_DEFAULT, INBOX_MAX),
    }),
    readOnly: true,
    run: async (ctx, a) => {
      const take = limitOf(a.limit, INBOX_DEFAULT, INBOX_MAX);
      const filter = { unread: a.unread ?? true, from: a.from, intent: a.intent, teamId: a.team === undefined ? null : (await teamOf(ctx, a.team)).id };
      const rows = (await ctx.services.messages.inbox(ctx.viewer, filter, true, { ...inboxInclude, take })) as InboxRow[];
      if (rows.length === 0) return filter.unread ? "No unread messages." : "No messages.";
      const lines = rows.map(inboxLine);
      const unread = await ctx.services.messages.unreadCount(ctx.viewer, { ...filter, unread: true });
      lines.push(`${unread} unread${rows.length === take ? ` (showing the oldest ${take}${filter.unread ? "; mark them read to see more" : ""})` : ""}.`);
      return lines.join("\n");
    },
  }),

  tool({
    name: "mark_read",
    description: "Marks messages of your inbox read: these IDs, or everything up to and including up_to (a message ID); with neither, everything.",
    input: z.strictObject({
      ids: z.array(z.string()).optional().describe("Message IDs."),
      up_to: z.string().optional().describe("A message ID: it and every earlier message."),
    }),
    run: async ({ services, viewer }, a) => {
      const count = await services.messages.markRead(viewer, { ids: a.ids, upTo: a.up_to });
      return `Marked ${count} message${count === 1 ? "" : "s"} read.`;
    },
  }),

  tool({
    name: "acknowledge",
    description: "Marks everything from one agent read.",
    input: z.strictObject({ from: z.string().describe("The sender's agent name.") }),
    run: async ({ services, viewer }, a) => {
      const count = await services.messages.markRead(viewer, { from: a.from });
      return `Marked ${count} message${count === 1 ? "" : "s"} from ${a.from} read.`;
    },
  }),

  tool({
    name: "ask",
    description:
      "Asks one or more agents a question and waits for their replies (they answer with send_message reply_to) until timeout_seconds (1–300). A timeout is an answer, not an error: you get the replies that came in time and who did not answer. If the server shuts down meanwhile it answers UNAVAILABLE with the question id: the question was sent, so wait with await_replies rather than asking again. Keep the timeout below your MCP client's own request timeout.",
    input: z.strictObject({
      to: recipients,
      question: z.string(),
      timeout_seconds: z.number().describe("How long to wait, 1–300 seconds."),
      priority: content.priority,
      payload: content.payload,
      idempotency_key: idempotencyKeyArg.describe(`${IDEMPOTENCY_KEY_HELP} A repeat sends no second question: it waits, with its own timeout_seconds, for the replies to the first.`),
    }),
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
    readOnly: true,
    run: async (ctx, a) => answerText(ctx, await ctx.services.messages.awaitReplies(ctx.viewer, { questionId: a.question_id, timeoutSeconds: a.timeout_seconds }), a.timeout_seconds),
  }),
];

/** The replies that came, who did not answer in time, and the question's id to wait on. */
async function answerText(ctx: ToolContext, result: AskResult, timeoutSeconds: number): Promise<string> {
  const senders = await agentNames(ctx, result.replies.map((r) => r.senderId));
  const lines = result.replies.map((r) => `${senders.get(r.senderId ?? "") ?? "?"} answered [${r.id}]: ${r.body}`);
  if (result.timedOut) lines.push(`Timed out after ${timeoutSeconds} s: no answer from ${result.unanswered.map((u) => u.name).join(", ")}.`);
  lines.push(`(question id ${result.question.id})`);
  return lines.join("\n");
}
