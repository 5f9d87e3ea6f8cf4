import { builder } from "../../graphql/builder.js";
import { requireViewer } from "../../graphql/context.js";
import { changesWithoutCommit } from "../../graphql/response-cache.js";
import { JournalEventRef } from "../journal/journal.schema.js";
import { WAIT_LIMITS, type AwaitedEvents } from "./events.service.js";

const AwaitedEventsRef = builder.objectRef<AwaitedEvents>("AwaitedEvents").implement({
  description: "Events that concern me after a cursor, and where to wait from next.",
  fields: (t) => ({
    events: t.field({ type: [JournalEventRef], resolve: (r) => r.events }),
    cursor: t.exposeInt("cursor", { description: "Pass it as `after` to the next call: the last event's cursor, or the one this call started from." }),
    timedOut: t.exposeBoolean("timedOut", { description: "Nothing came before the timeout (events is empty)." }),
  }),
});

builder.queryFields((t) => ({
  awaitEvents: t.field({
    type: AwaitedEventsRef,
    // It waits: a kept "nothing yet" would answer at once.
    extensions: changesWithoutCommit,
    description:
      "Waits for what concerns me, for agents that cannot hold a socket: my inbox (messages and notices) and, with teamKinds, those kinds of my teams' events, after the cursor `after` (omitted: from now). Answers as soon as there is at least one (at most `first`), or with none and the same cursor when timeoutSeconds pass. The same rows, in the same order, as inboxEvents and teamEvents. Holds no connection while waiting; a commit on any instance wakes it.",
    args: {
      after: t.arg.int({ description: "A journal cursor (the `cursor` of the previous answer)." }),
      timeoutSeconds: t.arg.int({ description: `How long to wait: 0 looks without waiting; at most ${WAIT_LIMITS.maxSeconds}; default ${WAIT_LIMITS.defaultSeconds}.` }),
      first: t.arg.int({ description: `At most this many events (default ${WAIT_LIMITS.defaultFirst}, at most ${WAIT_LIMITS.maxFirst}); the rest come with the next call.` }),
      teamKinds: t.arg.stringList({ description: 'These kinds of my teams\' events too (e.g. ["task.ready", "task.completed"]).' }),
    },
    resolve: (_root, args, ctx) => ctx.services.events.awaitEvents(requireViewer(ctx), args),
  }),
}));
