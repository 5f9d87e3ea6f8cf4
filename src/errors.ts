// Domain errors: thrown by services, mapped once to GraphQL errors with
// `extensions.code` in src/graphql/errors.ts. Services never import GraphQL.

export const errorCodes = [
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "NOT_FOUND",
  "BAD_USER_INPUT",
  "CONFLICT",
  "RATE_LIMITED",
  "QUERY_TOO_DEEP",
  "QUERY_TOO_COMPLEX",
  "TOO_MANY_FIELDS",
  "TOO_MANY_ALIASES",
  "TOO_MANY_DIRECTIVES",
  "TOO_MANY_TOKENS",
  "UNAVAILABLE",
] as const;
export type ErrorCode = (typeof errorCodes)[number];

export abstract class AppError extends Error {
  abstract readonly code: ErrorCode;
  /** Extra fields a client can branch on, copied to `extensions`. */
  readonly details: Record<string, unknown>;
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}

export class UnauthenticatedError extends AppError {
  readonly code = "UNAUTHENTICATED";
}

export class ForbiddenError extends AppError {
  readonly code = "FORBIDDEN";
}

/** Also what a non-member sees for another team's data: it does not exist for them. */
export class NotFoundError extends AppError {
  readonly code = "NOT_FOUND";
  /** `what` names the thing ("team" → "team not found"), or is a whole sentence ending in a period. */
  constructor(what: string, details: Record<string, unknown> = {}) {
    super(what.endsWith(".") ? what.slice(0, -1) : `${what} not found`, details);
  }
}

export class BadInputError extends AppError {
  readonly code = "BAD_USER_INPUT";
  /** `field` names the input at fault; null when it is the request as a whole. */
  constructor(
    readonly field: string | null,
    message: string,
  ) {
    super(field === null ? message : `${field}: ${message}`, field === null ? {} : { field });
  }
}

export class ConflictError extends AppError {
  readonly code = "CONFLICT";
}

export class RateLimitedError extends AppError {
  readonly code = "RATE_LIMITED";
  constructor(readonly retryAfterSeconds: number, what: string) {
    super(`${what}; retry in ${retryAfterSeconds} s`, { retryAfterSeconds });
  }
}

/** A query over one of the limits in src/graphql/limits.ts. */
export class LimitError extends AppError {
  constructor(
    readonly code: "QUERY_TOO_DEEP" | "QUERY_TOO_COMPLEX" | "TOO_MANY_FIELDS" | "TOO_MANY_ALIASES" | "TOO_MANY_DIRECTIVES" | "TOO_MANY_TOKENS",
    message: string,
  ) {
    super(message);
  }
}

/**
 * The server cannot finish this now (it is shutting down, or its database is
 * unreachable); the same request may succeed on retry, here or on another instance.
 * HTTP 503.
 */
export class UnavailableError extends AppError {
  readonly code = "UNAVAILABLE";
}
