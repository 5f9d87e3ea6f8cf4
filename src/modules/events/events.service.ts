// The wait call: the events that concern an agent after a cursor, answered as soon as
// there is one. An agent in a tool loop (no socket between turns) calls it again and
// again instead of polling: wait, act, wait. It reads the same rows, with the same rules,
// as the inboxEvents and teamEvents subscriptions (one stream over both scopes, so one
// cursor order and no merge), holds no connection or transaction while it waits, and
// wakes through the journal tailer, so a commit on any instance wakes it.
import { z } from "zod";
import { parseInput } from "../../validation.js";
import type { Viewer } from "../agents/agents.service.js";
import type { JournalTailer } from "../journal/journal-tailer.js";
import { streamJournal, type StreamOptions } from "../journal/journal-stream.js";
import { inScope, type JournalRow, type JournalService } from "../journal/journal.service.js";
import type { MessageService } from "../messages/messages.service.js";
import type { TeamService } from "../teams/teams.service.js";

export const WAIT_LIMITS = { maxSeconds: 300, defaultSeconds: 25, defaultFirst: 50, maxFirst: 100 } as const;

const awaitInput = z.object({
  after: z.number().int().min(0).nullish(),
  timeoutSeconds: z.number().int().min(0).max(WAIT_LIMITS.maxSeconds, `at most ${WAIT_LIMITS.maxSeconds} seconds`).nullish(),
  first: z.number().int().min(1).max(WAIT_LIMITS.maxFirst, `at most ${WAIT_LIMITS.maxFirst}`).nullish(),
  teamKinds: z.array(z.string().min(1).max(100)).max(50).nullish(),
});

export interface AwaitedEvents {
  events: JournalRow[];
  /** Where the next call starts: the last event's cursor, or the one it started from. */
  cursor: number;
  /** Nothing came before the timeout. */
  timedOut: boolean;
}

export class EventService {
  constructor(
    private readonly journal: JournalService,
    private readonly tailer: JournalTailer,
    private readonly messages: MessageService,
    private readonly teams: TeamService,
  ) {}

  /**
   * The events concerning the viewer after `after` (from now when omitted): its inbox,
   * and the `teamKinds` kinds of its teams' events. Answers with those already there, or
   * as soon as one comes, or with none and the same cursor when the timeout passes.
   */
  async awaitEvents(viewer: Viewer, raw: z.input<typeof awaitInput>): Promise<AwaitedEvents> {
    const input = parseInput(awaitInput, raw);
    const after = input.after ?? (await this.journal.head());
    const first = input.first ?? WAIT_LIMITS.defaultFirst;
    const stream = streamJournal(this.journal, this.tailer, { ...(await this.rowsOf(viewer, input.teamKinds ?? [])), after });
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      const pending = stream.next();
      // The timeout counts from the end of the replay: what is already there always comes.
      await Promise.race([stream.caughtUp, pending]);
      timer = setTimeout(() => {
        timedOut = true;
        void stream.return();
      }, (input.timeoutSeconds ?? WAIT_LIMITS.defaultSeconds) * 1000);
      const next = await pending;
      // Ended without an event: the timeout, or the server shutting down (call again).
      if (next.done) return { events: [], cursor: after, timedOut };
      const events = [next.value, ...stream.takeReady()].slice(0, first);
      return { events, cursor: events.at(-1)!.id, timedOut: false };
    } finally {
      clearTimeout(timer);
      void stream.return();
    }
  }

  /** The viewer's inbox, and when asked, chosen kinds of its teams' events: one scope. */
  private async rowsOf(viewer: Viewer, teamKinds: readonly string[]): Promise<Omit<StreamOptions, "after">> {
    const inbox = await this.messages.inboxRows(viewer);
    if (teamKinds.length === 0) return inbox;
    const teams = await Promise.all((await this.teams.teamIdsOf(viewer.id)).map((id) => this.teams.teamRows(viewer, id, { kinds: teamKinds })));
    const byTeam = new Map(teams.map((t) => [(t.scope as { teamId: string }).teamId, t]));
    const mine = (row: JournalRow) => inScope(inbox.scope, row) && inbox.emit(row);
    const ofTeam = (row: JournalRow) => (row.teamId === null ? undefined : byTeam.get(row.teamId));
    return {
      scope: { anyOf: [{ recipientId: viewer.id }, ...[...byTeam.keys()].map((teamId) => ({ teamId }))] },
      emit: (row) => mine(row) || (ofTeam(row)?.emit(row) ?? false),
      endsAfter: (row) => ofTeam(row)?.endsAfter(row) ?? false,
    };
  }
}
