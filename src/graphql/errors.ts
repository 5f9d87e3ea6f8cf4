// The one place domain errors become GraphQL errors. A domain error keeps its message
// and gets `extensions.code`; anything unexpected is masked and logged with the request id.
import { GraphQLError } from "graphql";
import { AppError } from "../errors.js";

export function toGraphQLError(error: AppError, path?: readonly (string | number)[]): GraphQLError {
  return new GraphQLError(error.message, { path, extensions: { code: error.code, ...error.details } });
}

/** Yoga's `maskError`: domain errors pass with their code, the rest are masked. */
export function maskError(
  error: unknown,
  message: string,
  onUnexpected: (error: unknown) => string,
): Error {
  const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
  if (original instanceof AppError) {
    return toGraphQLError(original, error instanceof GraphQLError ? error.path : undefined);
  }
  // GraphQL's own errors (validation, variables, parsing) are the client's to see.
  if (error instanceof GraphQLError && !error.originalError) return error;
  if (error instanceof GraphQLError && error.originalError instanceof GraphQLError) return error.originalError;
  const requestId = onUnexpected(error);
  return new GraphQLError(message, {
    path: error instanceof GraphQLError ? error.path : undefined,
    extensions: { code: "INTERNAL_SERVER_ERROR", requestId },
  });
}
