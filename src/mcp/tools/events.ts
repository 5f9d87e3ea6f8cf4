// The wait call for agents in a tool loop: wait, act, wait, and never poll.
import { z } from "zod";
import { WAIT_LIMITS } from "../../modules/events/events.service.js";
import { agentNames, tool } from "../tool.js";

/** An event's payload as the model reads it: compact JSON, cut at this many characters. */
const PAYLOAD_CHARS = 600;

export const eventTools = [
  tool({
    name: "await_events",
    description: `Waits for what concerns you and returns it as soon as it happens: messages and notices in your inbox (a task assigned to you, your work unblocked, a role given, a lease lost), and with team_kinds those kinds of your teams' events. Pass the cursor of the previous answer as after (omit it the first time: from now). With nothing by timeout_seconds (default ${WAIT_LIMITS.defaultSeconds}, at most ${WAIT_LIMITS.maxSeconds}) it answers "nothing yet" and the same cursor: call it again. Use it instead of polling.`,
    input: z.strictObject({
      after: z.number().int().optional().describe("The cursor from the previous answer; omit it the first time."),
      timeout_seconds: z.number().int().optional().describe(`How long to wait, 0 to ${WAIT_LIMITS.maxSeconds} seconds (default ${WAIT_LIMITS.defaultSeconds}).`),
      team_kinds: z.array(z.string()).optional().describe('Also these kinds of your teams\' events, e.g. ["task.ready", "task.completed"].'),
      limit: z.number().int().optional().describe(`At most this many events (default ${WAIT_LIMITS.defaultFirst}, at most ${WAIT_LIMITS.maxFirst}).`),
    }),
    output: z.object({
      events: z.array(
        z.object({
          cursor: z.number().describe("The event's journal cursor."),
          kind: z.string().describe("What happened, e.g. message.received, notice.task_ready, task.completed."),
          by: z.string().optional().describe("Who did it (a name); none for the server's own events."),
          teamId: z.string().optional().describe("The team, for a team's event."),
          subjectId: z.string().describe("The ID of what it is about: the message, the task."),
          payload: z.record(z.string(), z.unknown()).describe("What it carries: a message's body and sender, a task's number and title."),
        }),
      ),
      cursor: z.number().describe("Pass it as after to wait for what comes next."),
      timedOut: z.boolean().describe("Nothing came before the timeout."),
    }),
    readOnly: true,
    worker: true,
    run: async (ctx, a) => {
      const result = await ctx.services.events.awaitEvents(ctx.viewer, { after: a.after, timeoutSeconds: a.timeout_seconds, teamKinds: a.team_kinds, first: a.limit });
      const names = await agentNames(ctx, result.events.map((e) => e.actorId));
      const lines = result.events.map((e) => {
        const by = e.actorId ? ` by ${names.get(e.actorId) ?? "?"}` : "";
        // IDs stay in the structured content: tools name tasks by number and agents by name.
        const payload = JSON.stringify(Object.fromEntries(Object.entries(e.payload as Record<string, unknown>).filter(([key]) => !key.endsWith("Id"))));
        return `[${e.id}] ${e.kind}${by}: ${payload.length > PAYLOAD_CHARS ? `${payload.slice(0, PAYLOAD_CHARS)}…` : payload}`;
      });
      lines.push(result.events.length === 0 ? `Nothing yet; cursor ${result.cursor}: call again with after: ${result.cursor}.` : `cursor ${result.cursor}: pass after: ${result.cursor} to wait for what comes next.`);
      const events = result.events.map((e) => ({
        cursor: e.id,
        kind: e.kind,
        by: e.actorId ? names.get(e.actorId) : undefined,
        teamId: e.teamId ?? undefined,
        subjectId: e.subjectId,
        payload: e.payload as Record<string, unknown>,
      }));
      return { text: lines.join("\n"), data: { events, cursor: result.cursor, timedOut: result.timedOut } };
    },
  }),
];
