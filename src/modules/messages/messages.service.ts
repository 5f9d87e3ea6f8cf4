// Messaging: direct messages, team broadcasts, topics, notices, threads, the inbox and
// ask-and-wait. Recipients are fixed when a message is sent: one delivery per
// recipient (its read state) and one journal row per delivery, addressed to the
// recipient, in the same transaction. Every live path reads those rows.
import { z } from "zod";
import { AppError, BadInputError, NotFoundError, UnavailableError } from "../../errors.js";
import type { Message, MessageDelivery, Prisma, TopicFollow } from "../../generated/prisma/client.js";
import type { Database, Tx } from "../../infra/db.js";
import { boundedText, jsonObject, parseInput } from "../../validation.js";
import type { Viewer } from "../agents/agents.service.js";
import type { IdempotencyService } from "../idempotency/idempotency.service.js";
import type { JournalTailer } from "../journal/journal-tailer.js";
import { streamJournal } from "../journal/journal-stream.js";
import type { JournalEntry, JournalRow, JournalService, JournalWrite } from "../journal/journal.service.js";
import type { TeamService } from "../teams/teams.service.js";
import { TOPIC, TOPIC_MAX, TOPIC_PATTERN, topicMatches } from "./topic-pattern.js";

export const INTENTS = ["ask", "inform", "delegate", "escalate", "reply", "notice"] as const;
export const MESSAGE_PRIORITIES = ["low", "normal", "high", "critical"] as const;
export const MESSAGE_KINDS = ["direct", "broadcast", "topic", "notice"] as const;
export type Intent = (typeof INTENTS)[number];
export const BODY_MAX = 20_000;
export const PAYLOAD_MAX = 65_536;
export const ASK_TIMEOUT = { min: 1, max: 300 } as const;
const MAX_RECIPIENTS = 100;

const content = {
  body: boundedText(BODY_MAX).pipe(z.string().trim().min(1, "must not be empty")),
  intent: z.enum(INTENTS).refine((i) => i !== "notice", "notice is for messages from the server").nullish(),
  priority: z.enum(MESSAGE_PRIORITIES).nullish(),
  payload: jsonObject(PAYLOAD_MAX).nullish(),
  replyToId: z.string().max(64).nullish(),
};
const directInput = z.object({ ...content, to: z.array(z.string().max(64)).min(1, "name at least one agent").max(MAX_RECIPIENTS) });
const teamInput = z.object(content);
const topicInput = z.object({ ...content, topic: z.string().max(TOPIC_MAX).regex(TOPIC, "a dotted name such as research.complete (letters, digits, '_' or '-' between dots)") });
const askInput = z.object({
  to: z.array(z.string().max(64)).min(1, "name at least one agent").max(MAX_RECIPIENTS),
  question: content.body,
  timeoutSeconds: z
    .number()
    .int()
    .min(ASK_TIMEOUT.min, `must be between ${ASK_TIMEOUT.min} and ${ASK_TIMEOUT.max}`)
    .max(ASK_TIMEOUT.max, `must be between ${ASK_TIMEOUT.min} and ${ASK_TIMEOUT.max}`),
  priority: content.priority,
  payload: content.payload,
});
const awaitRepliesInput = z.object({
  questionId: z.string().max(64),
  // 0 looks without waiting.
  timeoutSeconds: z
    .number()
    .int()
    .min(0, `must be between 0 and ${ASK_TIMEOUT.max}`)
    .max(ASK_TIMEOUT.max, `must be between 0 and ${ASK_TIMEOUT.max}`),
});
const patternInput = z.object({ pattern: z.string().max(TOPIC_MAX).regex(TOPIC_PATTERN, "segments split on '.', each a name, '*' (one segment) or '#' (any number)") });

export type DirectInput = z.input<typeof directInput>;
export type TeamMessageInput = z.input<typeof teamInput>;
export type TopicInput = z.input<typeof topicInput>;
export type AskInput = z.input<typeof askInput>;
export type AwaitRepliesInput = z.input<typeof awaitRepliesInput>;

export interface InboxFilter {
  unread?: boolean | null;
  from?: string | null;
  intent?: Intent | null;
  teamId?: string | null;
  kind?: (typeof MESSAGE_KINDS)[number] | null;
}

/** A notice from the server to one agent (task assigned, work unblocked, ...). */
export interface Notice {
  recipientId: string;
  teamId: string;
  actorId: string | null;
  /** Names the notice: task_assigned, task_ready, role_assigned. */
  notice: string;
  body: string;
  payload: Prisma.InputJsonObject;
}

export interface AskResult {
  question: Message;
  replies: Message[];
  /** Asked agents who did not answer in time. */
  unanswered: { id: string; name: string }[];
  timedOut: boolean;
}

/** An ask whose wait the server could not finish: the question was sent. */
const interrupted = (questionId: string) =>
  new UnavailableError(
    `the server stopped waiting before every reply came (it is shutting down, or its database is unreachable); your question ${questionId} was sent: wait for its replies with awaitReplies (MCP: await_replies) and this questionId, on any instance, rather than asking again`,
    { questionId },
  );

interface Draft {
  kind: (typeof MESSAGE_KINDS)[number];
  teamId: string | null;
  senderId: string | null;
  /** Who caused it, for the journal (the sender, or for a notice the acting agent). */
  actorId?: string | null;
  topic?: string | null;
  intent: Intent;
  priority?: string | null;
  body: string;
  payload?: Prisma.InputJsonObject | null;
  replyTo?: Message | null;
  deadline?: Date | null;
  /** Journal kind of each delivery row. */
  deliveryKind: string;
  extraPayload?: Prisma.InputJsonObject;
}

/** A message by ID, for the repeat of a keyed send (it was the sender's). */
const loadMessage = (tx: Tx, id: string) => tx.message.findUnique({ where: { id } });

/** The parts of a draft that come from what an agent wrote. */
function written(viewer: Viewer, input: z.output<typeof teamInput>, replyTo: Message | null, defaultIntent: Intent) {
  return {
    senderId: viewer.id,
    intent: input.intent ?? (replyTo ? "reply" : defaultIntent),
    priority: input.priority,
    body: input.body,
    payload: input.payload as Prisma.InputJsonObject | null,
    replyTo,
    deliveryKind: "message.received",
  };
}

export class MessageService {
  constructor(
    private readonly db: Database,
    private readonly journal: JournalService,
    private readonly tailer: JournalTailer,
    private readonly teams: TeamService,
    private readonly idempotency: IdempotencyService,
  ) {}

  // ---- sending -----------------------------------------------------------------

  /** A direct message to one or more agents who share a team with the sender. */
  async sendDirect(viewer: Viewer, raw: DirectInput, idempotencyKey?: string | null): Promise<Message> {
    const input = parseInput(directInput, raw);
    return this.idempotency.write(viewer, idempotencyKey, { operation: "sendMessage", args: input }, loadMessage, async (w) => {
      const recipients = await this.reachable(w.tx, viewer, input.to);
      const replyTo = await this.replyTarget(w.tx, viewer, input.replyToId);
      return this.deliver(w, recipients.map((r) => r.id), { kind: "direct", teamId: null, ...written(viewer, input, replyTo, "inform") });
    });
  }

  /** A message to every other member of a team. */
  async broadcast(viewer: Viewer, teamId: string, raw: TeamMessageInput, idempotencyKey?: string | null): Promise<Message> {
    const input = parseInput(teamInput, raw);
    return this.idempotency.write(viewer, idempotencyKey, { operation: "broadcast", args: { teamId, ...input } }, loadMessage, async (w) => {
      await this.teams.requireVisible(w.tx, viewer, teamId);
      const replyTo = await this.replyTarget(w.tx, viewer, input.replyToId);
      const members = await w.tx.teamMember.findMany({ where: { teamId, agentId: { not: viewer.id } }, select: { agentId: true } });
      return this.deliver(w, members.map((m) => m.agentId), { kind: "broadcast", teamId, ...written(viewer, input, replyTo, "inform") });
    });
  }

  /** Publishes on a topic in a team; members following a matching pattern receive it. */
  async publish(viewer: Viewer, teamId: string, raw: TopicInput, idempotencyKey?: string | null): Promise<Message> {
    const input = parseInput(topicInput, raw);
    return this.idempotency.write(viewer, idempotencyKey, { operation: "publish", args: { teamId, ...input } }, loadMessage, async (w) => {
      await this.teams.requireVisible(w.tx, viewer, teamId);
      const replyTo = await this.replyTarget(w.tx, viewer, input.replyToId);
      const follows = await w.tx.topicFollow.findMany({
        where: { teamId, agentId: { not: viewer.id }, agent: { memberships: { some: { teamId } } } },
        select: { agentId: true, pattern: true },
      });
      const followers = [...new Set(follows.filter((f) => topicMatches(f.pattern, input.topic)).map((f) => f.agentId))];
      return this.deliver(w, followers, { kind: "topic", teamId, topic: input.topic, ...written(viewer, input, replyTo, "inform") });
    });
  }

  /** Replies to a message's sender, in its thread. */
  async reply(viewer: Viewer, messageId: string, raw: TeamMessageInput, idempotencyKey?: string | null): Promise<Message> {
    const input = parseInput(teamInput, raw);
    if (input.replyToId != null && input.replyToId !== messageId) {
      throw new BadInputError("replyToId", "reply answers messageId; leave replyToId out (or use sendMessage to reply elsewhere)");
    }
    return this.idempotency.write(viewer, idempotencyKey, { operation: "reply", args: { messageId, ...input } }, loadMessage, async (w) => {
      const replyTo = (await this.replyTarget(w.tx, viewer, messageId))!;
      if (!replyTo.senderId) throw new BadInputError("messageId", "a notice from the server cannot be replied to");
      return this.deliver(w, [replyTo.senderId], { kind: "direct", teamId: null, ...written(viewer, input, replyTo, "reply") });
    });
  }

  /** Notices from other modules, written in their transaction. */
  async notify(w: JournalWrite, notices: Notice[]): Promise<void> {
    for (const n of notices) {
      await this.deliver(w, [n.recipientId], {
        kind: "notice",
        teamId: n.teamId,
        senderId: null,
        actorId: n.actorId,
        intent: "notice",
        body: n.body,
        payload: { notice: n.notice, ...n.payload },
        deliveryKind: `notice.${n.notice}`,
        extraPayload: { notice: n.notice, ...n.payload },
      });
    }
  }

  // ---- ask and wait ------------------------------------------------------------

  /**
   * Sends a question and waits for the asked agents' replies until the deadline. It
   * holds no transaction or connection while waiting: replies arrive through the
   * journal tailer, so the replier may be on any server instance. Listening starts
   * before the question is sent: a server shutting down refuses here with nothing sent.
   */
  async ask(viewer: Viewer, raw: AskInput, idempotencyKey?: string | null): Promise<AskResult> {
    const input = parseInput(askInput, raw);
    const deadline = new Date(Date.now() + input.timeoutSeconds * 1000);
    const listening = await this.listenForReplies(viewer);
    try {
      let asked: { id: string; name: string }[] | null = null;
      // The timeout is how long this call waits, not part of the question: a repeat may wait longer.
      const { timeoutSeconds: _, ...request } = input;
      const question = await this.idempotency.write(viewer, idempotencyKey, { operation: "ask", args: request }, loadMessage, async (w) => {
        asked = await this.reachable(w.tx, viewer, input.to);
        return this.deliver(w, asked.map((a) => a.id), {
          kind: "direct",
          teamId: null,
          senderId: viewer.id,
          intent: "ask",
          priority: input.priority,
          body: input.question,
          payload: input.payload as Prisma.InputJsonObject | null,
          deadline,
          deliveryKind: "message.received",
        });
      });
      // A repeat sent nothing: it waits, with its own timeout, on the question the first one sent.
      return await listening.collect(question, asked ?? (await this.askedBy(question.id)), deadline.getTime());
    } finally {
      listening.stop();
    }
  }

  /**
   * Waits again for the replies to a question the viewer asked (an ask cut short by a
   * shutdown, or one that timed out), until `timeoutSeconds` from now; at once when every
   * asked agent has replied. Only the asker may: for anyone else the question is
   * NOT_FOUND (the replies are addressed to the asker alone). The question's own deadline
   * stays as it was.
   */
  async awaitReplies(viewer: Viewer, raw: AwaitRepliesInput): Promise<AskResult> {
    const input = parseInput(awaitRepliesInput, raw);
    const deadline = Date.now() + input.timeoutSeconds * 1000;
    const question = await this.db.reader.message.findFirst({ where: { id: input.questionId, senderId: viewer.id, intent: "ask" } });
    if (!question) throw new NotFoundError("question you asked");
    const listening = await this.listenForReplies(viewer);
    try {
      return await listening.collect(question, await this.askedBy(question.id), deadline);
    } finally {
      listening.stop();
    }
  }

  /** The agents a question was sent to. */
  private async askedBy(questionId: string): Promise<{ id: string; name: string }[]> {
    const deliveries = await this.db.reader.messageDelivery.findMany({ where: { messageId: questionId }, select: { agent: { select: { id: true, name: true } } }, orderBy: { agentId: "asc" } });
    return deliveries.map((d) => d.agent);
  }

  /**
   * Listens to the replies addressed to the viewer; `collect` then takes the first reply
   * of each asked agent to one question until the deadline. A shutdown ends the wait with
   * UNAVAILABLE naming the question, unless every reply is in: the asker waits again with
   * awaitReplies, on any instance, rather than asking twice.
   */
  private async listenForReplies(viewer: Viewer) {
    let target: { questionId: string; from: Set<string> } | null = null;
    const replies = new Map<string, string>();
    let end!: (ending: "answered" | "deadline" | "shutdown") => void;
    const ended = new Promise<"answered" | "deadline" | "shutdown">((resolve) => (end = resolve));
    const take = (senderId: string | null, messageId: string) => {
      if (!target || !senderId || !target.from.has(senderId) || replies.has(senderId)) return;
      replies.set(senderId, messageId);
      if (replies.size === target.from.size) end("answered");
    };
    const listener = await this.tailer.listen(
      (rows) => {
        for (const row of rows) {
          if (target && row.recipientId === viewer.id && row.kind === "message.received" && (row.payload as { replyToId?: string }).replyToId === target.questionId) {
            take(row.actorId, row.subjectId);
          }
        }
      },
      () => end("shutdown"),
    );
    const collect = async (question: Message, asked: { id: string; name: string }[], deadline: number): Promise<AskResult> => {
      target = { questionId: question.id, from: new Set(asked.map((a) => a.id)) };
      let timer: NodeJS.Timeout | undefined;
      try {
        // Replies committed before the question was known here are in the database.
        const early = await this.db.reader.message.findMany({ where: { replyToId: question.id, senderId: { in: [...target.from] } }, orderBy: { id: "asc" }, select: { id: true, senderId: true } });
        for (const m of early) take(m.senderId, m.id);
        if (replies.size === target.from.size) end("answered");
        // Timed out means the asker's deadline passed by the clock (a timer may fire a
        // millisecond early), never that the wait ended some other way.
        const arm = () => (timer = setTimeout(() => (Date.now() >= deadline ? end("deadline") : arm()), Math.max(0, deadline - Date.now())));
        arm();
        const ending = await ended;
        const unanswered = asked.filter((a) => !replies.has(a.id));
        if (ending === "shutdown" && unanswered.length > 0) throw interrupted(question.id);
        const answers = await this.db.reader.message.findMany({ where: { id: { in: [...replies.values()] } }, orderBy: { id: "asc" } });
        return { question, replies: answers, unanswered, timedOut: ending === "deadline" && unanswered.length > 0 };
      } catch (error) {
        // The question was sent: whatever stops the wait (a database gone with the server),
        // the asker must learn its id rather than ask again.
        if (error instanceof AppError) throw error;
        throw Object.assign(interrupted(question.id), { cause: error });
      } finally {
        clearTimeout(timer);
      }
    };
    return { collect, stop: listener.stop };
  }

  // ---- the inbox -----------------------------------------------------------------

  /** The where-clause of my inbox: deliveries to me, team ones only while I am in the team. */
  async inboxWhere(viewer: Viewer, filter: InboxFilter): Promise<Prisma.MessageDeliveryWhereInput> {
    const teamIds = await this.myTeamIds(viewer);
    const and: Prisma.MessageDeliveryWhereInput[] = [{ agentId: viewer.id }, { OR: [{ teamId: null }, { teamId: { in: teamIds } }] }];
    if (filter.unread) and.push({ readAt: null });
    if (filter.from != null) and.push({ message: { sender: { name: filter.from } } });
    if (filter.intent != null) and.push({ intent: filter.intent });
    if (filter.teamId != null) and.push({ teamId: filter.teamId });
    if (filter.kind != null) and.push({ message: { kind: filter.kind } });
    return { AND: and };
  }

  async inbox<Q extends Omit<Prisma.MessageDeliveryFindManyArgs, "where">>(viewer: Viewer, filter: InboxFilter, oldestFirst: boolean, query?: Q): Promise<MessageDelivery[]> {
    return this.db.reader.messageDelivery.findMany({
      ...query,
      where: await this.inboxWhere(viewer, filter),
      orderBy: { messageId: oldestFirst ? "asc" : "desc" },
    });
  }

  async unreadCount(viewer: Viewer, filter: InboxFilter = {}): Promise<number> {
    return this.db.reader.messageDelivery.count({ where: await this.inboxWhere(viewer, { ...filter, unread: true }) });
  }

  /**
   * Marks messages read: these IDs, everything up to and including `upTo`, everything from
   * one sender, or with none of them everything.
   */
  async markRead(viewer: Viewer, which: { ids?: string[] | null; upTo?: string | null; from?: string | null }): Promise<number> {
    if (which.ids != null && which.upTo != null) throw new BadInputError("upTo", "give either ids or upTo, not both");
    const where: Prisma.MessageDeliveryWhereInput = { agentId: viewer.id, readAt: null };
    if (which.ids) where.messageId = { in: [...new Set(which.ids)] };
    else if (which.upTo != null) {
      // Message IDs are time-ordered (UUIDv7): "up to" is an ID comparison, of a message I received.
      const delivery = await this.db.reader.messageDelivery.findUnique({ where: { messageId_agentId: { messageId: which.upTo, agentId: viewer.id } } });
      if (!delivery) throw new NotFoundError("message in your inbox");
      where.messageId = { lte: which.upTo };
    }
    if (which.from != null) where.message = { sender: { name: which.from } };
    return this.journal.write(async ({ tx, append }) => {
      const { count } = await tx.messageDelivery.updateMany({ where, data: { readAt: new Date() } });
      if (count > 0) {
        await append({ actorId: viewer.id, recipientId: viewer.id, kind: "message.read", subjectType: "Agent", subjectId: viewer.id, payload: { count, ...(which.from ? { from: which.from } : {}) } });
      }
      return count;
    });
  }

  /** A message I sent or received. */
  async get<Q extends Omit<Prisma.MessageFindFirstArgs, "where">>(viewer: Viewer, id: string, query?: Q): Promise<Message> {
    const message = await this.db.reader.message.findFirst({ ...query, where: { id, ...MessageService.visibleTo(viewer.id) } });
    if (!message) throw new NotFoundError("message");
    return message;
  }

  /** A thread: its first message and every reply I can see, in order. */
  async thread<Q extends Omit<Prisma.MessageFindManyArgs, "where">>(viewer: Viewer, messageId: string, query?: Q): Promise<Message[]> {
    const message = await this.get(viewer, messageId);
    return this.db.reader.message.findMany({ ...query, where: { threadId: message.threadId, ...MessageService.visibleTo(viewer.id) }, orderBy: { id: "asc" } });
  }

  static visibleTo(agentId: string): Prisma.MessageWhereInput {
    return { OR: [{ senderId: agentId }, { deliveries: { some: { agentId } } }] };
  }

  // ---- topics --------------------------------------------------------------------

  async follow(viewer: Viewer, teamId: string, pattern: string): Promise<TopicFollow> {
    parseInput(patternInput, { pattern });
    return this.journal.write(async ({ tx, append }) => {
      await this.teams.requireVisible(tx, viewer, teamId);
      const existing = await tx.topicFollow.findUnique({ where: { agentId_teamId_pattern: { agentId: viewer.id, teamId, pattern } } });
      if (existing) return existing;
      const follow = await tx.topicFollow.create({ data: { agentId: viewer.id, teamId, pattern } });
      await append({ teamId, actorId: viewer.id, kind: "topic.followed", subjectType: "Agent", subjectId: viewer.id, payload: { pattern } });
      return follow;
    });
  }

  async unfollow(viewer: Viewer, teamId: string, pattern: string): Promise<boolean> {
    return this.journal.write(async ({ tx, append }) => {
      await this.teams.requireVisible(tx, viewer, teamId);
      const { count } = await tx.topicFollow.deleteMany({ where: { agentId: viewer.id, teamId, pattern } });
      if (count) await append({ teamId, actorId: viewer.id, kind: "topic.unfollowed", subjectType: "Agent", subjectId: viewer.id, payload: { pattern } });
      return count > 0;
    });
  }

  follows(viewer: Viewer): Promise<TopicFollow[]> {
    return this.db.reader.topicFollow.findMany({ where: { agentId: viewer.id, agent: { memberships: { some: {} } } }, orderBy: { createdAt: "asc" } });
  }

  // ---- live ----------------------------------------------------------------------

  /**
   * My inbox, live: each delivery to me, after a cursor. Deliveries are made only to
   * members, so live rows need no check; replayed rows of a team I have left since are
   * skipped, as the inbox query skips them.
   */
  async inboxEvents(viewer: Viewer, opts: { after?: number | null; threadId?: string | null }): Promise<AsyncIterable<JournalRow>> {
    if (opts.threadId != null) await this.get(viewer, opts.threadId);
    const teams = new Set(await this.myTeamIds(viewer));
    const replayedUpTo = await this.journal.head();
    return streamJournal(this.journal, this.tailer, {
      scope: { recipientId: viewer.id },
      after: opts.after,
      emit: (row) => {
        const p = row.payload as { teamId?: string | null; threadId?: string };
        if (!row.kind.startsWith("message.received") && !row.kind.startsWith("notice.")) return false;
        if (p.teamId && row.id <= replayedUpTo && !teams.has(p.teamId)) return false;
        return !opts.threadId || p.threadId === opts.threadId;
      },
    });
  }

  /** Messages published on topics matching `pattern` in a team, after a cursor. */
  async topicEvents(viewer: Viewer, teamId: string, pattern: string, after?: number | null): Promise<AsyncIterable<JournalRow>> {
    parseInput(patternInput, { pattern });
    return this.teams.events(viewer, teamId, {
      after,
      where: (row) => row.kind === "message.published" && topicMatches(pattern, (row.payload as { topic: string }).topic),
    });
  }

  // ---- private -------------------------------------------------------------------

  /** Writes a message, a delivery per recipient and their journal rows. */
  private async deliver(w: JournalWrite, recipientIds: string[], d: Draft): Promise<Message> {
    const message = await w.tx.message.create({
      data: {
        kind: d.kind,
        teamId: d.teamId,
        senderId: d.senderId,
        topic: d.topic ?? null,
        intent: d.intent,
        priority: d.priority ?? "normal",
        body: d.body,
        payload: d.payload ?? {},
        replyToId: d.replyTo?.id ?? null,
        threadId: "",
        deadline: d.deadline ?? null,
      },
    });
    // A first message is its own thread.
    const threadId = d.replyTo?.threadId ?? message.id;
    const saved = await w.tx.message.update({ where: { id: message.id }, data: { threadId } });
    if (recipientIds.length) {
      await w.tx.messageDelivery.createMany({
        data: recipientIds.map((agentId) => ({ messageId: message.id, agentId, teamId: d.teamId, senderId: d.senderId, intent: d.intent })),
      });
    }
    const summary = {
      messageId: message.id,
      kind: d.kind,
      teamId: d.teamId,
      intent: d.intent,
      priority: saved.priority,
      threadId,
      replyToId: saved.replyToId,
      ...(d.topic ? { topic: d.topic } : {}),
      ...d.extraPayload,
    };
    const entries: JournalEntry[] = recipientIds.map((recipientId) => ({
      recipientId,
      actorId: d.actorId ?? d.senderId,
      kind: d.deliveryKind,
      subjectType: "Message",
      subjectId: message.id,
      payload: summary,
    }));
    // Broadcasts and topics also appear once in the team's journal (its audit log, and
    // what topic subscriptions read).
    if (d.kind === "broadcast" || d.kind === "topic") {
      entries.push({ teamId: d.teamId, actorId: d.senderId, kind: d.kind === "topic" ? "message.published" : "message.broadcast", subjectType: "Message", subjectId: message.id, payload: { ...summary, recipients: recipientIds.length } });
    }
    await w.append(...entries);
    return saved;
  }

  /**
   * Agents by name who share a team with the viewer. Unknown names and agents sharing
   * no team are refused alike, so the answer does not reveal who is registered.
   */
  private async reachable(tx: Tx, viewer: Viewer, names: string[]): Promise<{ id: string; name: string }[]> {
    const unique = [...new Set(names)];
    const found = await tx.agent.findMany({
      where: { name: { in: unique }, memberships: { some: { team: { members: { some: { agentId: viewer.id } } } } } },
      select: { id: true, name: true },
    });
    const missing = unique.filter((n) => !found.some((a) => a.name === n));
    if (missing.length) throw new NotFoundError(`no agent named ${missing.map((n) => `"${n}"`).join(", ")} shares a team with you.`);
    if (found.some((a) => a.id === viewer.id)) throw new BadInputError("to", "you cannot send a message to yourself");
    return found;
  }

  /** The message being replied to, if the viewer can see it. */
  private async replyTarget(tx: Tx, viewer: Viewer, id: string | null | undefined): Promise<Message | null> {
    if (id == null) return null;
    const message = await tx.message.findFirst({ where: { id, ...MessageService.visibleTo(viewer.id) } });
    if (!message) throw new NotFoundError("message to reply to");
    return message;
  }

  private async myTeamIds(viewer: Viewer): Promise<string[]> {
    const rows = await this.db.reader.teamMember.findMany({ where: { agentId: viewer.id }, select: { teamId: true } });
    return rows.map((r) => r.teamId);
  }
}
