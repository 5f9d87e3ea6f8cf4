// Messaging: direct messages, team broadcasts, topics, notices, threads and the inbox.
// How a message is written is in message-delivery.ts, ask-and-wait in ask-and-wait.ts.
import { BadInputError, NotFoundError } from "../../errors.js";
import type { Message, MessageDelivery, Prisma, TopicFollow } from "../../generated/prisma/client.js";
import type { Database } from "../../infra/db.js";
import { parseInput } from "../../validation.js";
import type { AgentService, Viewer } from "../agents/agents.service.js";
import type { IdempotencyService } from "../idempotency/idempotency.service.js";
import type { JournalTailer } from "../journal/journal-tailer.js";
import { streamJournal, type StreamOptions } from "../journal/journal-stream.js";
import type { JournalRow, JournalService, JournalWrite } from "../journal/journal.service.js";
import type { TeamService } from "../teams/teams.service.js";
import { AskAndWait, type AskResult } from "./ask-and-wait.js";
import { deliver, deliverDirect, loadMessage, recipientsByName, replyTarget, visibleTo, written } from "./message-delivery.js";
import {
  directInput,
  patternInput,
  teamInput,
  topicInput,
  type AskInput,
  type AwaitRepliesInput,
  type DirectInput,
  type Intent,
  type MessageKind,
  type TeamMessageInput,
  type TopicInput,
} from "./message-input.js";
import { topicMatches } from "./topic-pattern.js";

export interface InboxFilter {
  unread?: boolean | null;
  from?: string | null;
  intent?: Intent | null;
  teamId?: string | null;
  kind?: MessageKind | null;
  /** false: leave the board's notices out; true: only them. */
  notices?: boolean | null;
  /** A message ID: only the messages after it (IDs are time-ordered), for the next page. */
  after?: string | null;
}

/** A notice from the server to one agent (task assigned, work unblocked, ...). */
export interface Notice {
  recipientId: string;
  teamId: string;
  actorId: string | null;
  /** Names the notice: task_assigned, task_ready, role_assigned, lease_lost. */
  notice: string;
  body: string;
  payload: Prisma.InputJsonObject;
}

export class MessageService {
  private readonly asks: AskAndWait;

  constructor(
    private readonly db: Database,
    private readonly journal: JournalService,
    private readonly tailer: JournalTailer,
    private readonly teams: TeamService,
    private readonly agents: AgentService,
    private readonly idempotency: IdempotencyService,
  ) {
    this.asks = new AskAndWait(db, tailer, teams, agents, idempotency);
  }

  // ---- sending -----------------------------------------------------------------

  /** A direct message to one or more agents who share a team with the sender. */
  async sendDirect(viewer: Viewer, raw: DirectInput, idempotencyKey?: string | null): Promise<Message> {
    const input = parseInput(directInput, raw);
    return this.idempotency.write(viewer, idempotencyKey, { operation: "sendMessage", args: input }, loadMessage, async (w) => {
      const recipients = await recipientsByName(this.teams, w.tx, viewer, input.to);
      const replyTo = await replyTarget(w.tx, viewer, input.replyToId);
      return deliverDirect(this.teams, w, recipients.map((r) => r.id), { kind: "direct", teamId: null, ...written(viewer, input, replyTo, "inform") });
    });
  }

  /** A message to every other member of a team. */
  async broadcast(viewer: Viewer, teamId: string, raw: TeamMessageInput, idempotencyKey?: string | null): Promise<Message> {
    const input = parseInput(teamInput, raw);
    return this.idempotency.write(viewer, idempotencyKey, { operation: "broadcast", args: { teamId, ...input } }, loadMessage, async (w) => {
      await this.teams.requireVisible(w.tx, viewer, teamId);
      const replyTo = await replyTarget(w.tx, viewer, input.replyToId);
      const members = await this.teams.memberIds(w.tx, teamId, { except: viewer.id });
      return deliver(w, members, { kind: "broadcast", teamId, ...written(viewer, input, replyTo, "inform") });
    });
  }

  /** Publishes on a topic in a team; members following a matching pattern receive it. */
  async publish(viewer: Viewer, teamId: string, raw: TopicInput, idempotencyKey?: string | null): Promise<Message> {
    const input = parseInput(topicInput, raw);
    return this.idempotency.write(viewer, idempotencyKey, { operation: "publish", args: { teamId, ...input } }, loadMessage, async (w) => {
      await this.teams.requireVisible(w.tx, viewer, teamId);
      const replyTo = await replyTarget(w.tx, viewer, input.replyToId);
      const follows = await w.tx.topicFollow.findMany({ where: { teamId, agentId: { not: viewer.id } }, select: { agentId: true, pattern: true } });
      const matching = [...new Set(follows.filter((f) => topicMatches(f.pattern, input.topic)).map((f) => f.agentId))];
      // A follow outlives its follower's membership; only members receive.
      const members = await this.teams.membersAmong(w.tx, teamId, matching);
      const followers = matching.filter((id) => members.has(id));
      return deliver(w, followers, { kind: "topic", teamId, topic: input.topic, ...written(viewer, input, replyTo, "inform") });
    });
  }

  /** Replies to a message's sender, in its thread. */
  async reply(viewer: Viewer, messageId: string, raw: TeamMessageInput, idempotencyKey?: string | null): Promise<Message> {
    const input = parseInput(teamInput, raw);
    if (input.replyToId != null && input.replyToId !== messageId) {
      throw new BadInputError("replyToId", "reply answers messageId; leave replyToId out (or use sendMessage to reply elsewhere)");
    }
    return this.idempotency.write(viewer, idempotencyKey, { operation: "reply", args: { messageId, ...input } }, loadMessage, async (w) => {
      const replyTo = (await replyTarget(w.tx, viewer, messageId))!;
      if (!replyTo.senderId) throw new BadInputError("messageId", "a notice from the server cannot be replied to");
      return deliverDirect(this.teams, w, [replyTo.senderId], { kind: "direct", teamId: null, ...written(viewer, input, replyTo, "reply") });
    });
  }

  /** Notices from other modules, written in their transaction. */
  async notify(w: JournalWrite, notices: Notice[]): Promise<void> {
    for (const n of notices) {
      await deliver(w, [n.recipientId], {
        kind: "notice",
        teamId: n.teamId,
        sender: null,
        actorId: n.actorId,
        intent: "notice",
        body: n.body,
        payload: { notice: n.notice, ...n.payload },
        deliveryKind: `notice.${n.notice}`,
        notice: { notice: n.notice, ...n.payload },
      });
    }
  }

  // ---- ask and wait ------------------------------------------------------------

  /** Sends a question and waits for the replies (see ask-and-wait.ts). */
  ask(viewer: Viewer, raw: AskInput, idempotencyKey?: string | null): Promise<AskResult> {
    return this.asks.ask(viewer, raw, idempotencyKey);
  }

  /** Waits again for the replies to a question the viewer asked (see ask-and-wait.ts). */
  awaitReplies(viewer: Viewer, raw: AwaitRepliesInput): Promise<AskResult> {
    return this.asks.awaitReplies(viewer, raw);
  }

  // ---- the inbox -----------------------------------------------------------------

  /** The where-clause of my inbox: deliveries to me, team ones only while I am in the team. */
  async inboxWhere(viewer: Viewer, filter: InboxFilter): Promise<Prisma.MessageDeliveryWhereInput> {
    const teamIds = await this.teams.teamIdsOf(viewer.id);
    const and: Prisma.MessageDeliveryWhereInput[] = [{ agentId: viewer.id }, { OR: [{ teamId: null }, { teamId: { in: teamIds } }] }];
    if (filter.unread) and.push({ readAt: null });
    if (filter.from != null) and.push(await this.fromAgentNamed(filter.from));
    if (filter.intent != null) and.push({ intent: filter.intent });
    if (filter.teamId != null) and.push({ teamId: filter.teamId });
    if (filter.kind != null) and.push({ message: { kind: filter.kind } });
    // Only the server sends intent "notice", so the delivery's own column tells notices apart without a join.
    if (filter.notices != null) and.push({ intent: filter.notices ? "notice" : { not: "notice" } });
    if (filter.after != null) and.push({ messageId: { gt: filter.after } });
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
    if (which.from != null) Object.assign(where, await this.fromAgentNamed(which.from));
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
    const message = await this.db.reader.message.findFirst({ ...query, where: { id, ...visibleTo(viewer.id) } });
    if (!message) throw new NotFoundError("message");
    return message;
  }

  /** A thread: its first message and every reply I can see, in order. */
  async thread<Q extends Omit<Prisma.MessageFindManyArgs, "where">>(viewer: Viewer, messageId: string, query?: Q): Promise<Message[]> {
    const message = await this.get(viewer, messageId);
    return this.db.reader.message.findMany({ ...query, where: { threadId: message.threadId, ...visibleTo(viewer.id) }, orderBy: { id: "asc" } });
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

  async follows(viewer: Viewer): Promise<TopicFollow[]> {
    // Follows are kept while their agent is in some team.
    if ((await this.teams.teamIdsOf(viewer.id)).length === 0) return [];
    return this.db.reader.topicFollow.findMany({ where: { agentId: viewer.id }, orderBy: { createdAt: "asc" } });
  }

  // ---- live ----------------------------------------------------------------------

  /**
   * My inbox, live: each delivery to me, after a cursor. Deliveries are made only to
   * members, so live rows need no check; replayed rows of a team I have left since are
   * skipped, as the inbox query skips them.
   */
  async inboxEvents(viewer: Viewer, opts: { after?: number | null; threadId?: string | null }): Promise<AsyncIterable<JournalRow>> {
    if (opts.threadId != null) await this.get(viewer, opts.threadId);
    return streamJournal(this.journal, this.tailer, { ...(await this.inboxRows(viewer, opts.threadId)), after: opts.after });
  }

  /**
   * Which journal rows are the viewer's inbox: messages delivered to it and notices, less
   * (in replay) broadcasts and topics of teams it has left. The one inbox rule, for the
   * subscription and the wait call.
   */
  async inboxRows(viewer: Viewer, threadId?: string | null): Promise<Required<Pick<StreamOptions, "scope" | "emit">>> {
    const teams = new Set(await this.teams.teamIdsOf(viewer.id));
    const replayedUpTo = await this.journal.head();
    return {
      scope: { recipientId: viewer.id },
      emit: (row) => {
        const p = row.payload as { teamId?: string | null; threadId?: string };
        if (!row.kind.startsWith("message.received") && !row.kind.startsWith("notice.")) return false;
        if (p.teamId && row.id <= replayedUpTo && !teams.has(p.teamId)) return false;
        return !threadId || p.threadId === threadId;
      },
    };
  }

  /** Messages published on topics matching `pattern` in a team, after a cursor. */
  async topicEvents(viewer: Viewer, teamId: string, pattern: string, after?: number | null): Promise<AsyncIterable<JournalRow>> {
    parseInput(patternInput, { pattern });
    return this.teams.events(viewer, teamId, {
      after,
      where: (row) => row.kind === "message.published" && topicMatches(pattern, (row.payload as { topic: string }).topic),
    });
  }

  /** Deliveries sent by the agent of this name (none when no agent has it). */
  private async fromAgentNamed(name: string): Promise<Prisma.MessageDeliveryWhereInput> {
    const id = (await this.agents.idsByNames([name])).get(name);
    return { senderId: { in: id === undefined ? [] : [id] } };
  }
}
