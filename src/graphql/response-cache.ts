// Answers to queries are kept and given again while nothing they show can have changed.
// Every query first reads the database's version (Database.readVersion, one small
// statement); an answer is given again only under the version it was read under. A commit
// from any instance, the MCP endpoint or the lease sweeper gives a new version, so a kept
// answer is never given after a change, and nothing needs invalidating. One answer is kept
// per token, query and variables: a newer one replaces it.
//
// Besides commits the clock changes answers (a held task turns ready when its lease ends):
// the version's `until` says when, and the app has the tasks module supply it (the
// earliest lease end, tasks/lease.ts). So an answer is given again only before the
// `until` of the version it was read under (checked against the clock at each lookup),
// and not kept at all once that moment has passed. Fields that move with the clock or with
// live connections in other ways are marked where they are defined (`extensions:
// changesWithoutCommit`) and keep their query uncached.
//
// An answer that reads only task pages of one team also outlives commits that change
// nothing it shows, as the team's journal rows since it was read say (kept-reads.ts).
//
// Mutations and subscriptions always run. This plugin comes last, so rate limits, logs and
// metrics see every query, kept or not.
//
// Not @envelop/response-cache: it adds __typename and id to every selection set to find
// entities to invalidate when a mutation returns them. That pays on every miss and
// mutation, raised queries' complexity cost past the limit (queries that passed were
// refused), and cannot see writes from other instances, MCP or the sweeper anyway.
import { getOperationAST, Kind, TypeInfo, visit, visitWithTypeInfo, type DocumentNode, type ExecutionResult, type GraphQLSchema } from "graphql";
import type { Plugin } from "graphql-yoga";
import { LRUCache } from "lru-cache";
import type { ReadVersion } from "../infra/db.js";
import type { JournalChange } from "../modules/journal/journal.service.js";
import type { Context } from "./context.js";
import { outlives, ReadLedger, readsOnlyTaskPages, type KeptReads } from "./kept-reads.js";

export interface ResponseCacheOptions {
  /** Answers kept at most, in bytes of their JSON (the least recently used go first). */
  maxBytes: number;
  /** The commit version, with when the clock alone changes answers (null: never) and the journal's head. */
  readVersion(): Promise<ReadVersion>;
  /** What a team's journal rows after `after`, up to `upTo`, changed: at most `limit` of them. */
  teamChangesBetween(teamId: string, after: number, upTo: number, limit: number): Promise<JournalChange[]>;
  /** Told of every query that could be kept: answered from a kept answer, or computed. */
  onAnswer?(from: "kept" | "computed"): void;
}

interface Kept {
  /** The committed version it was read under, or last found unchanged under. */
  version: string;
  /** The journal's head in that version's snapshot (null: not read). */
  head: number | null;
  /** For an answer that outlives commits which change nothing it read: what it read. */
  reads: KeptReads | null;
  /** When it stops being true by the clock alone: the version's `until` (ms), or Infinity. */
  until: number;
  /** The answer as sent. */
  json: string;
  /** Parsed from `json` when first given again. */
  result: ExecutionResult | null;
}

/**
 * `result`, sent as `json`: Yoga sends the string a result's `stringify` gives (the contract
 * @envelop/graphql-jit's results use) instead of stringifying the result again. Not
 * enumerable, so a result sent another way (graphql-ws, SSE) is stringified without it.
 */
function sentAs<T extends ExecutionResult>(result: T, json: string): T {
  Object.defineProperty(result, "stringify", { value: () => json, enumerable: false, configurable: true });
  return result;
}

/** A field's extensions when its value changes without a commit: a query selecting it is never kept. */
export const changesWithoutCommit = { changesWithoutCommit: true } as const;

/** Journal rows read at most to find a kept answer unchanged; more changes than that, and it is read again. */
const CHANGES_READ = 200;

export function useCachedReads({ maxBytes, readVersion, teamChangesBetween, onAnswer }: ResponseCacheOptions): Plugin<Context> {
  // An answer bigger than an eighth of the whole is not kept: a few huge ones would evict all.
  const answers = new LRUCache<string, Kept>({ maxSize: maxBytes, maxEntrySize: Math.max(1, Math.floor(maxBytes / 8)) });
  // Yoga's parser cache hands out one DocumentNode per query text; number each once.
  const documents = new WeakMap<DocumentNode, { id: number; keepable: boolean }>();
  let nextDocument = 0;
  const documentOf = (document: DocumentNode, schema: GraphQLSchema) => {
    let known = documents.get(document);
    if (!known) documents.set(document, (known = { id: nextDocument++, keepable: readsData(document) && !selectsChangingField(schema, document) }));
    return known;
  };

  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const viewer = args.contextValue.viewer;
      const operation = getOperationAST(args.document, args.operationName);
      if (!viewer || operation?.operation !== "query") return;
      const document = documentOf(args.document, args.schema);
      if (!document.keepable) return;
      // Without a version nothing can be judged current: answer as if nothing were kept.
      const version = await readVersion().catch(() => null);
      if (!version) return onAnswer?.("computed");
      // Per token, not per agent: an answer may say which token asked (AgentToken.current).
      // Only declared variables count: graphql-js ignores the rest, so they must not make
      // new keys for one answer.
      const variables = (operation.variableDefinitions ?? []).map((d) => args.variableValues?.[d.variable.name.value] ?? null);
      const key = [viewer.tokenId, document.id, args.operationName ?? "", JSON.stringify(variables)].join("\n");
      const kept = answers.get(key);
      if (kept && Date.now() < kept.until && (kept.version === version.committed || (await unchanged(kept, version, teamChangesBetween).catch(() => false)))) {
        onAnswer?.("kept");
        // A copy as plain JSON: graphql-js builds results from prototype-less objects,
        // which V8 keeps as dictionaries (measured: 56 KB of heap for a 10 KB board).
        kept.result ??= sentAs(JSON.parse(kept.json) as ExecutionResult, kept.json);
        return setResultAndStopExecution(kept.result);
      }
      onAnswer?.("computed");
      const ledger = readsOnlyTaskPages(args.schema, args.document, operation) ? new ReadLedger() : null;
      if (ledger) args.contextValue.keptReads = ledger;
      return {
        onExecuteDone({ result }) {
          if (Symbol.asyncIterator in result || result.errors?.length) return;
          const until = version.until?.getTime() ?? Infinity;
          if (Date.now() >= until) return;
          // Kept as its JSON, parsed only if it is given again: under writes most answers
          // are replaced first. The computed answer is sent as that same string; one with
          // extensions is not, since Yoga sends those without its internal ones.
          const json = JSON.stringify(result);
          answers.set(key, { version: version.committed, head: version.head, reads: ledger?.reads() ?? null, until, json, result: null }, { size: json.length });
          if (!result.extensions) sentAs(result, json);
        },
      };
    },
  };
}

/**
 * Whether `kept`, read under another version, still holds under `version`: it reads only
 * task pages, and no journal row of its team since its head changed what it read. Then it is
 * marked as found under `version` (a concurrent lookup may mark an older one: that only reads
 * more rows next time).
 */
async function unchanged(kept: Kept, version: ReadVersion, teamChangesBetween: ResponseCacheOptions["teamChangesBetween"]): Promise<boolean> {
  if (!kept.reads || kept.head === null || version.head === null) return false;
  if (version.head > kept.head) {
    const changes = await teamChangesBetween(kept.reads.teamId, kept.head, version.head, CHANGES_READ + 1);
    if (changes.length > CHANGES_READ || !outlives(kept.reads, changes)) return false;
  }
  kept.version = version.committed;
  kept.head = version.head;
  return true;
}

/** Whether an operation of the document asks for more than __typename or introspection at its root. */
function readsData(document: DocumentNode): boolean {
  return document.definitions.some(
    (d) => d.kind === Kind.OPERATION_DEFINITION && d.selectionSet.selections.some((s) => s.kind !== Kind.FIELD || !s.name.value.startsWith("__")),
  );
}

/** Whether the document selects a field marked changesWithoutCommit, in any operation or fragment. */
function selectsChangingField(schema: GraphQLSchema, document: DocumentNode): boolean {
  const typeInfo = new TypeInfo(schema);
  let found = false;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field() {
        if (typeInfo.getFieldDef()?.extensions.changesWithoutCommit) found = true;
      },
    }),
  );
  return found;
}
