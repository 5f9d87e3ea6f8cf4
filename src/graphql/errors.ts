// The one place domain errors become GraphQL errors. A domain error keeps its message
// and gets `extensions.code`; anything unexpected is masked and logged with the request id.
import { GraphQLError, type ExecutionResult } from "graphql";
import type { Plugin } from "graphql-yoga";
import { AppError } from "../errors.js";
import { unavailableFrom } from "../infra/db.js";
import type { Context } from "./context.js";

/**
 * The request id of each error in a result, tagged before masking: maskError has no
 * context, and carrying the id in AsyncLocalStorage instead cost about a quarter of a
 * cheap request's CPU (promise hooks on every await, measured).
 */
const requestIdOfError = new WeakMap<object, string>();

export function useRequestIdOnErrors(): Plugin<Context> {
  const tag = (ctx: Context, result: unknown) => {
    for (const error of (result as ExecutionResult).errors ?? []) requestIdOfError.set(error, ctx.requestId);
  };
  return {
    onExecute: ({ args }) => ({ onExecuteDone: ({ result }) => tag(args.contextValue as Context, result) }),
    onSubscribe: ({ args }) => ({
      onSubscribeResult: ({ result }) => {
        tag(args.contextValue as Context, result);
        return { onNext: ({ result }) => tag(args.contextValue as Context, result) };
      },
    }),
  };
}

export function toGraphQLError(error: AppError, path?: readonly (string | number)[]): GraphQLError {
  const http = error.code === "UNAVAILABLE" ? { http: { status: 503 } } : {};
  return new GraphQLError(error.message, { path, extensions: { code: error.code, ...error.details, ...http } });
}

// graphql ships both CommonJS and ESM builds and the executor may use the other one,
// so GraphQLError is recognised by shape, not by instanceof.
interface GraphQLErrorLike extends Error {
  path?: readonly (string | number)[];
  originalError?: unknown;
  extensions?: Record<string, unknown>;
}
const isGraphQLError = (e: unknown): e is GraphQLErrorLike =>
  e instanceof Error && (e.name === "GraphQLError" || e instanceof GraphQLError);

/**
 * Yoga's `maskError`: domain errors pass with their code, the rest are masked and
 * handed to `onUnexpected` with the request id the client is told.
 */
export function maskError(error: unknown, message: string, onUnexpected: (error: unknown, requestId: string) => void): Error {
  const path = isGraphQLError(error) ? error.path : undefined;
  const original = isGraphQLError(error) && error.originalError ? error.originalError : error;
  // A domain error keeps its code, also where it carries no path (a live stream ended by one).
  if (original instanceof AppError) return toGraphQLError(original, path);
  // The database dropped or refused the connection: the same request may succeed on retry.
  const unavailable = unavailableFrom(original);
  if (unavailable) return toGraphQLError(unavailable, path);
  // Errors about the request itself (syntax, validation, variable values) carry no path
  // and are the client's to see and fix.
  if (isGraphQLError(error) && !path) return withRequestCode(error);
  // Pothos refuses malformed connection arguments (both before and after, a bad cursor).
  if (original instanceof Error && original.name === "PothosValidationError") {
    return new GraphQLError(original.message, { path, extensions: { code: "BAD_USER_INPUT" } });
  }
  // GraphQL's own errors (parsing, validation, variables) and those we built with a
  // code are the client's to see.
  if (isGraphQLError(original) && (original === error || original.extensions?.code)) return original;
  const requestId = (typeof error === "object" && error !== null && requestIdOfError.get(error)) || "unknown";
  onUnexpected(error, requestId);
  return new GraphQLError(message, { path, extensions: { code: "INTERNAL_SERVER_ERROR", requestId } });
}

// GraphQL Armor's refusals carry no code of their own; they are recognised here.
const requestCodes: [RegExp, string][] = [
  [/^Variable "\$/, "BAD_USER_INPUT"],
  [/Aliases limit of/, "TOO_MANY_ALIASES"],
  [/Directives limit of/, "TOO_MANY_DIRECTIVES"],
  [/Token limit of/, "TOO_MANY_TOKENS"],
];

function withRequestCode(error: GraphQLErrorLike): Error {
  // A limit's own code wins over the generic one Yoga may have stamped on while parsing.
  const specific = requestCodes.find(([pattern]) => pattern.test(error.message))?.[1];
  if (error.extensions?.code && !specific) return error;
  const code = specific ?? "GRAPHQL_VALIDATION_FAILED";
  return new GraphQLError(error.message, {
    nodes: (error as GraphQLError).nodes,
    extensions: { ...error.extensions, code },
  });
}
