// How a message is written: the message, one delivery per recipient (its read state) and
// one journal row per delivery, addressed to the recipient, in the sender's transaction.
// Recipients are fixed here, when the message is sent; every live path reads those rows.
import type { z } from "zod";
import { BadInputError, NotFoundError } from "../../errors.js";
import type { Message, Prisma } from "../../generated/prisma/client.js";
import type { Tx } from "../../infra/db.js";
import type { Viewer } from "../agents/agents.service.js";
import type { JournalEntry, JournalWrite } from "../journal/journal.service.js";
import type { TeamService } from "../teams/teams.service.js";
import type { Intent, MessageKind, teamInput } from "./message-input.js";

export interface Draft {
  kind: MessageKind;
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

/** The messages an agent may see: those it sent or received. */
export function visibleTo(agentId: string): Prisma.MessageWhereInput {
  return { OR: [{ senderId: agentId }, { deliveries: { some: { agentId } } }] };
}

/** A message by ID, for the repeat of a keyed send (it was the sender's). */
export const loadMessage = (tx: Tx, id: string) => tx.message.findUnique({ where: { id } });

/** The parts of a draft that come from what an agent wrote. */
export function written(viewer: Viewer, input: z.output<typeof teamInput>, replyTo: Message | null, defaultIntent: Intent) {
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

/** Writes a message, a delivery per recipient and their journal rows. */
export async function deliver(w: JournalWrite, recipientIds: string[], d: Draft): Promise<Message> {
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
  await w.append(...journalRows(saved, recipientIds, d));
  return saved;
}

/** A row per delivery; broadcasts and topics also once in the team's journal (its audit log, and what topic subscriptions read). */
function journalRows(saved: Message, recipientIds: string[], d: Draft): JournalEntry[] {
  const summary = {
    messageId: saved.id,
    kind: d.kind,
    teamId: d.teamId,
    intent: d.intent,
    priority: saved.priority,
    threadId: saved.threadId,
    replyToId: saved.replyToId,
    ...(d.topic ? { topic: d.topic } : {}),
    ...d.extraPayload,
  };
  const entries: JournalEntry[] = recipientIds.map((recipientId) => ({
    recipientId,
    actorId: d.actorId ?? d.senderId,
    kind: d.deliveryKind,
    subjectType: "Message",
    subjectId: saved.id,
    payload: summary,
  }));
  if (d.kind === "broadcast" || d.kind === "topic") {
    entries.push({ teamId: d.teamId, actorId: d.senderId, kind: d.kind === "topic" ? "message.published" : "message.broadcast", subjectType: "Message", subjectId: saved.id, payload: { ...summary, recipients: recipientIds.length } });
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
