// The one place domain errors become GraphQL errors. A domain error keeps its message
// and gets `extensions.code`; anything unexpected is masked and logged with the request id.
import { GraphQLError, Kind, type ASTNode, type ExecutionResult } from "graphql";
import type { Plugin, YogaLogger } from "graphql-yoga";
import type { Logger } from "pino";
import { AppError, RateLimitedError, type ErrorCode } from "../errors.js";
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

/**
 * The codes that refuse a whole request, with the HTTP status that says so (over GraphQL
 * and MCP alike). Every other code answers 200 beside whatever data there is, as GraphQL
 * over HTTP asks.
 */
const REQUEST_STATUS: Partial<Record<ErrorCode, number>> = { UNAUTHENTICATED: 401, RATE_LIMITED: 429, UNAVAILABLE: 503 };

/** How an error is answered over HTTP: a status and headers, or nothing for 200. */
export function httpOf(error: AppError): { status: number; headers?: Record<string, string> } | undefined {
  const status = REQUEST_STATUS[error.code];
  if (status === undefined) return undefined;
  return error instanceof RateLimitedError ? { status, headers: { "retry-after": String(error.retryAfterSeconds) } } : { status };
}

export function toGraphQLError(error: AppError, path?: readonly (string | number)[]): GraphQLError {
  const http = httpOf(error);
  return new GraphQLError(error.message, { path, extensions: { code: error.code, ...error.details, ...(http ? { http } : {}) } });
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
 * What maskError made of each error: the refusal the client was given, or "logged" for an
 * unexpected error it has handed to onUnexpected. Yoga logs every error its masking
 * replaced at error level with its stack; yogaLogger reads this to log it as it deserves.
 */
const masked = new WeakMap<object, GraphQLErrorLike | "logged">();

/**
 * Yoga's `maskError`: domain errors pass with their code, the rest are masked and
 * handed to `onUnexpected` with the request id the client is told.
 */
export function maskError(error: unknown, message: string, onUnexpected: (error: unknown, requestId: string) => void): Error {
  let unexpected = false;
  const answer = masking(error, message, (e, requestId) => {
    unexpected = true;
    onUnexpected(e, requestId);
  });
  if (typeof error === "object" && error !== null) masked.set(error, unexpected ? "logged" : answer);
  return answer;
}

/**
 * Yoga's logger: pino, except for the errors Yoga logs after masking them. An operator's
 * error log holds only what needs a person: a refusal (the client's to fix, answered with
 * its code) is a debug line without a stack, and an unexpected error is logged once, by
 * maskError's onUnexpected, with its stack and request id.
 */
export function yogaLogger(logger: Logger): YogaLogger {
  const log = (level: "debug" | "info" | "warn" | "error") => (...args: unknown[]) => (logger[level] as (...a: unknown[]) => void)(...args);
  const error = log("error");
  return {
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: (...args: unknown[]) => {
      const [first] = args;
      const answer = typeof first === "object" && first !== null ? masked.get(first) : undefined;
      if (answer === undefined) return error(...args);
      if (answer === "logged") return;
      logger.debug({ requestId: requestIdOfError.get(first as object), code: answer.extensions?.code, path: answer.path }, `refused: ${answer.message}`);
    },
  };
}

function masking(error: unknown, message: string, onUnexpected: (error: unknown, requestId: string) => void): Error {
  const path = isGraphQLError(error) ? error.path : undefined;
  const original = isGraphQLError(error) && error.originalError ? error.originalError : error;
  // A domain error keeps its code, also where it carries no path (a live stream ended by one).
  if (original instanceof AppError) return toGraphQLError(original, path);
  // The database dropped or refused the connection: the same request may succeed on retry.
  const unavailable = unavailableFrom(original);
  if (unavailable) return toGraphQLError(unavailable, path);
  // Errors about the request itself (syntax, validation, variable values) carry no path
  // and are the client's to see and fix.
  if (isGraphQLError(error) && !path) return withRequestCode(error as GraphQLErrorLike & { nodes?: readonly ASTNode[] });
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

/**
 * A request error without a code of its own: a variable's value that does not fit its type
 * (graphql-js points such errors at the variable's definition) is BAD_USER_INPUT, the rest
 * (validation, an unknown operation) GRAPHQL_VALIDATION_FAILED.
 */
function withRequestCode(error: GraphQLErrorLike & { nodes?: readonly ASTNode[] }): Error {
  if (error.extensions?.code) return error;
  const code = error.nodes?.[0]?.kind === Kind.VARIABLE_DEFINITION ? "BAD_USER_INPUT" : "GRAPHQL_VALIDATION_FAILED";
  return new GraphQLError(error.message, { nodes: error.nodes, extensions: { ...error.extensions, code } });
}
