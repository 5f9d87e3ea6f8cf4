// Ask-and-wait: a question sent to agents, and a wait for their replies that holds no
// transaction or connection. Replies arrive through the journal tailer, so the replier
// may be on any server instance; a wait cut short names the question, so the asker waits
// again with awaitReplies rather than asking twice.
import { AppError, NotFoundError, UnavailableError } from "../../errors.js";
import type { Message, Prisma } from "../../generated/prisma/client.js";
import type { Database } from "../../infra/db.js";
import { parseInput } from "../../validation.js";
import type { AgentService, Viewer } from "../agents/agents.service.js";
import type { IdempotencyService } from "../idempotency/idempotency.service.js";
import type { JournalRow } from "../journal/journal.service.js";
import type { JournalTailer } from "../journal/journal-tailer.js";
import type { TeamService } from "../teams/teams.service.js";
import { deliverDirect, loadMessage, recipientsByName } from "./message-delivery.js";
import { askInput, awaitRepliesInput, type AskInput, type AwaitRepliesInput } from "./message-input.js";

export interface AskResult {
  question: Message;
  replies: Message[];
  /** Asked agents who did not answer in time. */
  unanswered: { id: string; name: string }[];
  timedOut: boolean;
}

type Asked = { id: string; name: string }[];
type Ending = "answered" | "deadline" | "shutdown";

/** An ask whose wait the server could not finish: the question was sent. */
const interrupted = (questionId: string) =>
  new UnavailableError(
    `the server stopped waiting before every reply came (it is shutting down, or its database is unreachable); your question ${questionId} was sent: wait for its replies with awaitReplies (MCP: await_replies) and this questionId, on any instance, rather than asking again`,
    { questionId },
  );

export class AskAndWait {
  constructor(
    private readonly db: Database,
    private readonly tailer: JournalTailer,
    private readonly teams: TeamService,
    private readonly agents: AgentService,
    private readonly idempotency: IdempotencyService,
  ) {}

  /**
   * Sends a question and waits for the asked agents' replies until the deadline.
   * Listening starts before the question is sent: a server shutting down refuses here
   * with nothing sent.
   */
  async ask(viewer: Viewer, raw: AskInput, idempotencyKey?: string | null): Promise<AskResult> {
    const input = parseInput(askInput, raw);
    const deadline = new Date(Date.now() + input.timeoutSeconds * 1000);
    const listening = await ReplyListener.start(this.db, this.tailer, viewer);
    try {
      let asked: Asked | null = null;
      // The timeout is how long this call waits, not part of the question: a repeat may wait longer.
      const { timeoutSeconds: _, ...request } = input;
      const question = await this.idempotency.write(viewer, idempotencyKey, { operation: "ask", args: request }, loadMessage, async (w) => {
        asked = await recipientsByName(this.teams, w.tx, viewer, input.to);
        return deliverDirect(this.teams, w, asked.map((a) => a.id), {
          kind: "direct",
          teamId: null,
          sender: { id: viewer.id, name: viewer.name },
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
    const listening = await ReplyListener.start(this.db, this.tailer, viewer);
    try {
      return await listening.collect(question, await this.askedBy(question.id), deadline);
    } finally {
      listening.stop();
    }
  }

  /** The agents a question was sent to. */
  private async askedBy(questionId: string): Promise<Asked> {
    const deliveries = await this.db.reader.messageDelivery.findMany({ where: { messageId: questionId }, select: { agentId: true }, orderBy: { agentId: "asc" } });
    const names = await this.agents.namesByIds(deliveries.map((d) => d.agentId));
    return deliveries.map((d) => ({ id: d.agentId, name: names.get(d.agentId)! }));
  }
}

/**
 * Listens to the replies addressed to one agent; `collect` then takes the first reply of
 * each asked agent to one question until the deadline. A shutdown ends the wait with
 * UNAVAILABLE naming the question, unless every reply is in.
 */
class ReplyListener {
  private target: { questionId: string; from: Set<string> } | null = null;
  /** The first reply's message ID, by sender. */
  private readonly replies = new Map<string, string>();
  private end!: (ending: Ending) => void;
  private readonly ended = new Promise<Ending>((resolve) => (this.end = resolve));
  stop: () => void = () => {};

  private constructor(
    private readonly db: Database,
    private readonly askerId: string,
  ) {}

  static async start(db: Database, tailer: JournalTailer, viewer: Viewer): Promise<ReplyListener> {
    const listening = new ReplyListener(db, viewer.id);
    const listener = await tailer.listen(
      (rows) => listening.see(rows),
      () => listening.end("shutdown"),
    );
    listening.stop = listener.stop;
    return listening;
  }

  async collect(question: Message, asked: Asked, deadline: number): Promise<AskResult> {
    const target = (this.target = { questionId: question.id, from: new Set(asked.map((a) => a.id)) });
    let timer: NodeJS.Timeout | undefined;
    try {
      // Replies committed before the question was known here are in the database.
      const early = await this.db.reader.message.findMany({ where: { replyToId: question.id, senderId: { in: [...target.from] } }, orderBy: { id: "asc" }, select: { id: true, senderId: true } });
      for (const m of early) this.take(m.senderId, m.id);
      if (this.replies.size === target.from.size) this.end("answered");
      // Timed out means the asker's deadline passed by the clock (a timer may fire a
      // millisecond early), never that the wait ended some other way.
      const arm = () => (timer = setTimeout(() => (Date.now() >= deadline ? this.end("deadline") : arm()), Math.max(0, deadline - Date.now())));
      arm();
      const ending = await this.ended;
      const unanswered = asked.filter((a) => !this.replies.has(a.id));
      if (ending === "shutdown" && unanswered.length > 0) throw interrupted(question.id);
      const answers = await this.db.reader.message.findMany({ where: { id: { in: [...this.replies.values()] } }, orderBy: { id: "asc" } });
      return { question, replies: answers, unanswered, timedOut: ending === "deadline" && unanswered.length > 0 };
    } catch (error) {
      // The question was sent: whatever stops the wait (a database gone with the server),
      // the asker must learn its id rather than ask again.
      if (error instanceof AppError) throw error;
      throw Object.assign(interrupted(question.id), { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  private see(rows: readonly JournalRow[]): void {
    const target = this.target;
    if (!target) return;
    for (const row of rows) {
      if (row.recipientId === this.askerId && row.kind === "message.received" && (row.payload as { replyToId?: string }).replyToId === target.questionId) {
        this.take(row.actorId, row.subjectId);
      }
    }
  }

  private take(senderId: string | null, messageId: string): void {
    if (!this.target || !senderId || !this.target.from.has(senderId) || this.replies.has(senderId)) return;
    this.replies.set(senderId, messageId);
    if (this.replies.size === this.target.from.size) this.end("answered");
  }
}
