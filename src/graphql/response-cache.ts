// Answers to queries are kept per agent and given again while nothing they show can have
// changed. Every query first reads the database's version (Database.readVersion, one
// small statement); an answer is given again only under the version it was read under. A
// commit from any instance, the MCP endpoint or the lease sweeper gives a new version, so
// a kept answer is never given after a change, and nothing needs invalidating. One answer
// is kept per agent, query and variables: a newer one replaces it.
//
// Besides commits only the clock changes answers: a held task turns ready when its lease
// ends. So an answer is kept no longer than until the earliest lease end of the version it
// was read under, and not at all while a lease has ended unswept. Fields that move with
// the clock or with live connections in other ways (NOT_KEPT) keep their query uncached.
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
import type { Context } from "./context.js";

export interface ResponseCacheOptions {
  /** Answers kept at most (the least recently used go first). */
  maxEntries: number;
  readVersion(): Promise<ReadVersion>;
}

const NOT_KEPT = new Set(["Agent.online", "Agent.lastSeenAt", "Message.expired"]);

// lru-cache reads its clock at most once a millisecond: end an answer that much early.
const CLOCK_MARGIN_MS = 2;

export function useCachedReads({ maxEntries, readVersion }: ResponseCacheOptions): Plugin<Context> {
  const answers = new LRUCache<string, { version: string; result: ExecutionResult }>({ max: maxEntries });
  // Yoga's parser cache hands out one DocumentNode per query text; number each once.
  const documents = new WeakMap<DocumentNode, { id: number; keepable: boolean }>();
  let nextDocument = 0;
  const documentOf = (document: DocumentNode, schema: GraphQLSchema) => {
    let known = documents.get(document);
    if (!known) documents.set(document, (known = { id: nextDocument++, keepable: readsData(document) && !selectsAny(schema, document, NOT_KEPT) }));
    return known;
  };

  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const viewer = args.contextValue.viewer;
      if (!viewer || getOperationAST(args.document, args.operationName)?.operation !== "query") return;
      const document = documentOf(args.document, args.schema);
      if (!document.keepable) return;
      const { committed, leaseEnd } = await readVersion();
      const key = [viewer.id, document.id, args.operationName ?? "", JSON.stringify(args.variableValues ?? {})].join("\n");
      const kept = answers.get(key);
      if (kept?.version === committed) return setResultAndStopExecution(kept.result);
      return {
        onExecuteDone({ result }) {
          if (Symbol.asyncIterator in result || result.errors?.length) return;
          // A copy as plain JSON: graphql-js builds results from prototype-less objects,
          // which V8 keeps as dictionaries (measured: 56 KB of heap for a 10 KB board).
          const answer = { version: committed, result: JSON.parse(JSON.stringify(result)) as ExecutionResult };
          if (!leaseEnd) return void answers.set(key, answer);
          const ttl = leaseEnd.getTime() - Date.now() - CLOCK_MARGIN_MS;
          if (ttl > 0) answers.set(key, answer, { ttl });
        },
      };
    },
  };
}

/** Whether an operation of the document asks for more than __typename or introspection at its root. */
function readsData(document: DocumentNode): boolean {
  return document.definitions.some(
    (d) => d.kind === Kind.OPERATION_DEFINITION && d.selectionSet.selections.some((s) => s.kind !== Kind.FIELD || !s.name.value.startsWith("__")),
  );
}

/** Whether the document selects any of these fields ("Type.field"), in any operation or fragment. */
function selectsAny(schema: GraphQLSchema, document: DocumentNode, fields: Set<string>): boolean {
  const typeInfo = new TypeInfo(schema);
  let found = false;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        if (fields.has(`${typeInfo.getParentType()?.name}.${node.name.value}`)) found = true;
      },
    }),
  );
  return found;
}
