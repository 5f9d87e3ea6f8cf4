// graphql-sse's own protocol (its client's two modes), at GRAPHQL_PATH/stream. Yoga itself
// answers GraphQL over SSE at GRAPHQL_PATH, which is graphql-sse's "distinct connections"
// mode; its "single connection" mode reserves a stream (PUT), opens it (GET) and sends each
// operation on its own (POST): that needs a path of its own. Each operation runs through
// the same context (the bearer token of its POST) and plugins as any other.
//
// Not @graphql-yoga/plugin-graphql-sse, which does the same on graphql-sse's handler but
// answers every refusal (a validation error, UNAUTHENTICATED) 400 "Unable to detect
// operation AST": graphql-sse takes an answer with errors and no data for execution
// arguments. Here such an answer is a JSON error response with its status and codes.
import { STATUS_CODES } from "node:http";
import { getOperationAST, type ExecutionArgs, type ExecutionResult, type GraphQLError } from "graphql";
import type { Response as SseResponse } from "graphql-sse";
import { createHandler } from "graphql-sse/lib/use/fetch";
import type { Plugin, YogaServerInstance } from "graphql-yoga";

/** Where graphql-sse's protocol is served (the plugin's documented default for /graphql). */
export const sseStreamPath = (graphqlPath: string) => `${graphqlPath.replace(/\/$/, "")}/stream`;

type Handler = (request: Request) => Promise<Response>;

/**
 * `mask` is Yoga's masking (maskError): it is applied to the errors answered here, which
 * do not pass through Yoga's own answer.
 */
export function useGraphQLSSEProtocol(graphqlPath: string, mask: (error: unknown) => Error): Plugin {
  const endpoint = sseStreamPath(graphqlPath);
  const serverContexts = new WeakMap<Request, object>();
  let handler: Handler | undefined;
  return {
    onYogaInit({ yoga }) {
      const server = yoga as YogaServerInstance<Record<string, unknown>, Record<string, unknown>>;
      handler = createHandler(
        {
          async onSubscribe(req, params) {
            try {
              const enveloped = server.getEnveloped({ ...serverContexts.get(req.raw), request: req.raw, params });
              const document = enveloped.parse(params.query);
              const errors = enveloped.validate(enveloped.schema, document);
              if (errors.length > 0) return refusal(mask, errors);
              const args: ExecutionArgs = {
                schema: enveloped.schema,
                document,
                contextValue: await enveloped.contextFactory(),
                variableValues: params.variables,
                operationName: params.operationName,
              };
              const run = getOperationAST(document, params.operationName)?.operation === "subscription" ? enveloped.subscribe : enveloped.execute;
              const result = (await run(args)) as ExecutionResult | AsyncIterable<ExecutionResult>;
              return Symbol.asyncIterator in result || "data" in result ? (result as ExecutionResult<Record<string, unknown>>) : refusal(mask, result.errors ?? []);
            } catch (error) {
              // A syntax error, or the context's refusal (an unknown token).
              return refusal(mask, [error]);
            }
          },
        },
        server.fetchAPI,
      ) as Handler;
    },
    onRequest({ request, url, endResponse, serverContext }) {
      if (url.pathname !== endpoint || !handler) return;
      serverContexts.set(request, serverContext);
      return handler(request).then(endResponse);
    },
  };
}

/**
 * Errors without data, answered as JSON: masked as Yoga masks them, with the status their
 * code has at GRAPHQL_PATH (400 for the request's own errors).
 */
function refusal(mask: (error: unknown) => Error, errors: readonly unknown[]): SseResponse {
  let status: number | undefined;
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
  const shown = errors.map((error) => {
    const masked = mask(error) as GraphQLError;
    const { http, ...extensions } = (masked.extensions ?? {}) as { http?: { status?: number; headers?: Record<string, string> } };
    if (http?.status) status = Math.max(status ?? 0, http.status);
    Object.assign(headers, http?.headers);
    return { message: masked.message, ...(masked.locations ? { locations: masked.locations } : {}), ...(masked.path ? { path: masked.path } : {}), extensions };
  });
  status ??= 400;
  return [JSON.stringify({ errors: shown }), { status, statusText: STATUS_CODES[status] ?? "", headers }];
}
