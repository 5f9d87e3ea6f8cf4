import { builder } from "../../graphql/builder.js";
import { BadInputError } from "../../errors.js";
import { MAX_PAGE } from "../../graphql/limits.js";
import type { JournalRow } from "./journal.service.js";

/**
 * JournalEvent fields whose value comes from the row alone, never from who asks. A live
 * subscription selecting only these (and its actor's fields, JOURNAL_ROW_VIEWER_FREE)
 * shares one execution per event with every other subscriber of the same operation
 * (graphql/live.ts); keep any field that reads the context out of it.
 */
const ROW_ONLY_FIELDS: ReadonlySet<string> = new Set(["cursor", "kind", "teamId", "subjectType", "subjectId", "payload", "createdAt"]);

/** Fields of a result that read the same for every viewer: scalars, and relations whose own fields do. */
export interface ViewerFreeFields {
  scalars: ReadonlySet<string>;
  relations: ReadonlyMap<string, ViewerFreeFields>;
}

/**
 * What a journal subscription may select and still be the same for every subscriber, so
 * that graphql/live.ts executes it once a row for all of them: the row's own fields and its
 * actor's (no Agent field depends on who asks). Listed, not derived: a field added to Agent
 * that does depend on the viewer must not be shared by accident.
 */
export const JOURNAL_ROW_VIEWER_FREE: ViewerFreeFields = {
  scalars: ROW_ONLY_FIELDS,
  relations: new Map([["actor", { scalars: new Set(["id", "name", "kind", "description", "createdAt", "lastSeenAt", "online"]), relations: new Map() }]]),
};

export const JournalEventRef = builder.prismaObject("JournalEvent", {
  description: "One entry of the append-only journal: who did what, when. Every change writes one.",
  fields: (t) => ({
    cursor: t.exposeInt("id", { description: "Increasing position in the journal; pass it as `after` to resume." }),
    kind: t.exposeString("kind", { description: "What happened, such as team.member_added." }),
    teamId: t.exposeID("teamId", { nullable: true }),
    actor: t.relation("actor", { nullable: true, description: "Who did it (null for the server itself)." }),
    subjectType: t.exposeString("subjectType"),
    subjectId: t.exposeID("subjectId"),
    payload: t.expose("payload", { type: "JSONObject" }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

// A journal page defaults larger than other lists: reading an audit log is the point.
const JOURNAL_PAGE = 50;

/** Reads `first` and `after` of a journal connection; the cursor is the journal cursor. */
export function journalPageArgs(args: { first?: number | null; after?: number | null; kinds?: readonly string[] | null }) {
  if (args.kinds && new Set(args.kinds).size > 100) throw new BadInputError("kinds", "at most 100 kinds");
  const first = args.first ?? JOURNAL_PAGE;
  if (first < 1 || first > MAX_PAGE) throw new BadInputError("first", `must be between 1 and ${MAX_PAGE}`);
  const after = args.after ?? 0;
  if (after < 0) throw new BadInputError("after", "must be a journal cursor (0 or an event's cursor)");
  return { first, after };
}

/** Builds a forward-only Relay connection from rows read with `first + 1`. */
export function journalConnection(rows: JournalRow[], first: number) {
  const page = rows.slice(0, first);
  return {
    edges: page.map((node) => ({ cursor: String(node.id), node })),
    pageInfo: {
      hasNextPage: rows.length > first,
      hasPreviousPage: false,
      startCursor: page[0] ? String(page[0].id) : null,
      endCursor: page.length ? String(page[page.length - 1]!.id) : null,
    },
  };
}
