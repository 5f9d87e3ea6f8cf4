// How a message is written: the message, one delivery per recipient (its read state) and
// one journal row per delivery, addressed to the recipient, in the sender's transaction.
// Recipients are fixed here, when the message is sent; every live path reads those rows.
import type { z } from "zod";
import { BadInputError, NotFoundError } from "../../errors.js";
import type { Message, Prisma } from "../../generated/prisma/client.js";
import type { Tx } from "../../infra/db.js";
import type { Viewer } from "../agents/agents.service.js";
import { eventText, type JournalEntry, type JournalWrite } from "../journal/journal.service.js";
import type { TeamService } from "../teams/teams.service.js";
import type { Intent, MessageKind, teamInput } from "./message-input.js";

export interface Draft {
  kind: MessageKind;
  teamId: string | null;
  /** Who sends it; null for a notice from the server. */
  sender: { id: string; name: string } | null;
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
  /** A notice's name and what it is about: its delivery row carries these. */
  notice?: Prisma.InputJsonObject;
  /** Teams whose journal records a direct message, each with the recipients it may name. */
  auditIn?: { teamId: string; members: string[] }[];
}

/** The messages an agent may see: those it sent or received. */
export function visibleTo(agentId: string): Prisma.MessageWhereInput {
  return { OR: [{ senderId: agentId }, { deliveries: { some: { agentId } } }] };
}

/** A message by ID, for the repeat of a keyed send (it was the sender's). */
export const loadMessage = (tx: Tx, id: string) => tx.message.findUnique({ where: { id } });

/** The parts of a draft that come from what an agent wrote. */
export function written(viewer: Viewer, input: z.output<typeof teamInput>, replyTo: Message | null, defaultIntent: Intent) {
  return {
    sender: { id: viewer.id, name: viewer.name },
    intent: input.intent ?? (replyTo ? "reply" : defaultIntent),
    priority: input.priority,
    body: input.body,
    payload: input.payload as Prisma.InputJsonObject | null,
    replyTo,
    deliveryKind: "message.received",
  };
}

/** Writes a message, a delivery per recipient and their journal rows. */
export async function deliver(w: JournalWrite, recipientIds: string[], d: Draft): Promise<Message> {
  const message = await w.tx.message.create({
    data: {
      kind: d.kind,
      teamId: d.teamId,
      senderId: d.sender?.id ?? null,
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
      data: recipientIds.map((agentId) => ({ messageId: message.id, agentId, teamId: d.teamId, senderId: d.sender?.id ?? null, intent: d.intent })),
    });
  }
  await w.append(...journalRows(saved, recipientIds, d));
  return saved;
}

/**
 * A direct message (a DM, an ask, a reply), written as `deliver` does, and recorded in
 * each team the sender shares with a recipient (its audit log) without its body.
 */
export async function deliverDirect(teams: TeamService, w: JournalWrite, recipientIds: string[], d: Draft): Promise<Message> {
  const auditIn = d.sender ? await teams.sharedTeams(w.tx, d.sender.id, recipientIds) : [];
  return deliver(w, recipientIds, { ...d, auditIn });
}

/**
 * A row per delivery, addressed to its recipient, carrying what it acts on (body
 * included, bounded). Broadcasts and topics also once in the team's journal, whole (every
 * member may follow a topic); a direct message once in each team of `auditIn`, naming
 * only that team's members and without the body, which is for its recipients alone.
 */
function journalRows(saved: Message, recipientIds: string[], d: Draft): JournalEntry[] {
  const actorId = d.actorId ?? d.sender?.id ?? null;
  const from = d.sender ? { from: d.sender.name, fromId: d.sender.id } : {};
  const thread = { threadId: saved.threadId, ...(saved.replyToId ? { replyToId: saved.replyToId } : {}) };
  const about = {
    ...from,
    intent: saved.intent,
    priority: saved.priority,
    ...thread,
    ...(d.topic ? { topic: d.topic } : {}),
    ...(saved.deadline ? { deadline: saved.deadline.toISOString() } : {}),
  };
  const text = eventText("body", saved.body);
  const received = d.notice ? { ...d.notice, teamId: d.teamId, ...text } : { kind: d.kind, ...(d.teamId ? { teamId: d.teamId } : {}), ...about, ...text };
  const row = (kind: string, payload: Prisma.InputJsonObject, to: { recipientId: string } | { teamId: string | null }): JournalEntry => ({ ...to, actorId, kind, subjectType: "Message", subjectId: saved.id, payload });
  const entries = recipientIds.map((recipientId) => row(d.deliveryKind, received, { recipientId }));
  if (d.kind === "broadcast" || d.kind === "topic") {
    entries.push(row(d.kind === "topic" ? "message.published" : "message.broadcast", { ...about, ...text, recipients: recipientIds.length }, { teamId: d.teamId }));
  }
  for (const { teamId, members } of d.auditIn ?? []) {
    entries.push(row("message.sent", { ...from, to: members, intent: saved.intent, ...thread }, { teamId }));
  }
  return entries;
}

/**
 * Agents by name who share a team with the viewer. Unknown names and agents sharing
 * no team are refused alike, so the answer does not reveal who is registered.
 */
export async function recipientsByName(teams: TeamService, tx: Tx, viewer: Viewer, names: string[]): Promise<{ id: string; name: string }[]> {
  const unique = [...new Set(names)];
  const found = await teams.agentsSharingATeam(tx, viewer.id, unique);
  const missing = unique.filter((n) => !found.some((a) => a.name === n));
  if (missing.length) throw new NotFoundError(`no agent named ${missing.map((n) => `"${n}"`).join(", ")} shares a team with you.`);
  if (found.some((a) => a.id === viewer.id)) throw new BadInputError("to", "you cannot send a message to yourself");
  return found;
}

/** The message being replied to, if the viewer can see it. */
export async function replyTarget(tx: Tx, viewer: Viewer, id: string | null | undefined): Promise<Message | null> {
  if (id == null) return null;
  const message = await tx.message.findFirst({ where: { id, ...visibleTo(viewer.id) } });
  if (!message) throw new NotFoundError("message to reply to");
  return message;
}
