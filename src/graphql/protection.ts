// Operation-level protection, one Yoga plugin: every operation but registration and
// introspection needs a valid token, each agent (or IP, without a token) spends
// rate-limit points (a query field 1, a mutation or subscription field 5), and no text
// may carry what cannot be stored as sent: a NUL character (PostgreSQL cannot store or
// compare one) or, in variables, a lone UTF-16 surrogate (GraphQL's parser already refuses
// one in the query text).
import { BREAK, getOperationAST, Kind, visit, type DocumentNode, type ExecutionResult } from "graphql";
import type { Plugin } from "graphql-yoga";
import { AppError, BadInputError, RateLimitedError, UnauthenticatedError } from "../errors.js";
import { unstorableText } from "../validation.js";
import type { Context } from "./context.js";
import { toGraphQLError } from "./errors.js";
import type { RateLimiter } from "./rate-limit.js";

const PUBLIC_FIELDS = new Set(["registerAgent", "__schema", "__type", "__typename"]);
const WEIGHT = { query: 1, mutation: 5, subscription: 5 } as const;

export interface ProtectionOptions {
  agents: RateLimiter;
  ips: RateLimiter;
  onRefused(kind: "unauthenticated" | "rate_limited"): void;
}

export function useProtection(options: ProtectionOptions): Plugin<Context> {
  /** Why the operation may not run, or null. */
  const refusal = async (args: { document: DocumentNode; operationName?: string | null; contextValue: unknown; variableValues?: unknown }): Promise<AppError | null> => {
    const operation = getOperationAST(args.document, args.operationName);
    if (!operation) return null;
    if (documentHasNul(args.document)) return new BadInputError(null, "text must not contain NUL characters (U+0000)");
    const badText = unstorableText(args.variableValues, "$", "variables");
    if (badText) return badText;
    const roots = operation.selectionSet.selections.map((s) => (s.kind === Kind.FIELD ? s.name.value : "?"));
    const ctx = args.contextValue as Context;
    if (!ctx.viewer && roots.some((f) => !PUBLIC_FIELDS.has(f))) {
      options.onRefused("unauthenticated");
      return new UnauthenticatedError("this operation needs a bearer token (Authorization: Bearer <token>); registerAgent gives you one");
    }
    const fields = Math.max(1, roots.filter((f) => !f.startsWith("__")).length);
    const cost = WEIGHT[operation.operation] * fields;
    const wait = ctx.viewer ? await options.agents.take(`agent:${ctx.viewer.id}`, cost) : await options.ips.take(`ip:${ctx.ip}`, cost);
    if (wait === 0) return null;
    options.onRefused("rate_limited");
    return new RateLimitedError(wait, `rate limit exceeded for ${ctx.viewer ? `agent ${ctx.viewer.name}` : `address ${ctx.ip}`}`);
  };
  const refuse = async (args: Parameters<typeof refusal>[0]): Promise<ExecutionResult | null> => {
    const error = await refusal(args);
    return error && { errors: [toGraphQLError(error)] };
  };
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const refusal = await refuse(args);
      if (refusal) setResultAndStopExecution(refusal);
    },
    async onSubscribe({ args, setResultAndStopExecution }) {
      const refusal = await refuse(args);
      if (refusal) setResultAndStopExecution(refusal);
    },
  };
}

// Parsed documents come from Yoga's parse cache, so each is visited once.
const nulChecked = new WeakMap<DocumentNode, boolean>();

/** Whether a string literal of the document holds U+0000 once parsed ("\\u0000" escapes one in). */
function documentHasNul(document: DocumentNode): boolean {
  let found = nulChecked.get(document);
  if (found === undefined) nulChecked.set(document, (found = visitForNul(document)));
  return found;
}

function visitForNul(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    StringValue(node) {
      if (!node.value.includes("\u0000")) return undefined;
      found = true;
      return BREAK;
    },
  });
  return found;
}
