// Refusals at the HTTP layer, before any GraphQL runs, in the shape of a GraphQL error
// response, so a client reads every refusal the same way: `errors[0].extensions.code`.
import { STATUS_CODES } from "node:http";
import type { Plugin } from "graphql-yoga";
import type { AppError } from "../errors.js";
import { httpOf } from "./errors.js";

export interface Refusal {
  status: number;
  code: string;
  message: string;
}

/** A domain error refusing a request before GraphQL runs, with the status its code has everywhere. */
export function refusalOf(error: AppError): Refusal {
  return { status: httpOf(error)?.status ?? 400, code: error.code, message: error.message };
}

export function refusalBody({ code, message }: Refusal): string {
  return JSON.stringify({ errors: [{ message, extensions: { code } }] });
}

/** A whole HTTP response, for a socket no ServerResponse can write to (see `clientErrorRefusal`). */
export function rawResponse(refusal: Refusal): string {
  const body = refusalBody(refusal);
  return (
    `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? ""}\r\n` +
    `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
  );
}

/**
 * What Node's 'clientError' (a request that is not valid HTTP, or too slow) answers; null
 * when there is nobody left to answer.
 */
export function clientErrorRefusal(error: NodeJS.ErrnoException, timeouts: { headersMs: number; requestMs: number }): Refusal | null {
  switch (error.code) {
    case "ECONNRESET":
      return null;
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return {
        status: 408,
        code: "REQUEST_TIMEOUT",
        message: `the request was not received in time: headers must arrive within ${timeouts.headersMs} ms and the whole request (with its body, as long as its Content-Length says) within ${timeouts.requestMs} ms`,
      };
    case "HPE_HEADER_OVERFLOW":
      return { status: 431, code: "HEADERS_TOO_LARGE", message: "the request headers are over 16 KB; send fewer or shorter headers" };
    default:
      return { status: 400, code: "BAD_REQUEST", message: `the request is not valid HTTP/1.1 (${error.code ?? error.message}); check the request line, headers and body framing` };
  }
}

/**
 * Yoga answers some refusals with no body at all (an unknown path, a Content-Type or
 * Accept it cannot serve, a failed readiness check); these get one with a code and the
 * way to fix the request.
 */
export function useJsonRefusals(graphqlPath: string): Plugin {
  const refusals: Record<number, (request: Request, response: Response) => Omit<Refusal, "status">> = {
    404: (request) => ({
      code: "NOT_FOUND",
      message: `nothing is served at ${new URL(request.url).pathname}; GraphQL is at ${graphqlPath}, MCP at /mcp, and /healthz, /readyz, /metrics`,
    }),
    406: (_request, response) => ({
      code: "NOT_ACCEPTABLE",
      message: `no media type in Accept can carry this answer; accept one of ${(response.headers.get("accept") ?? "").replace(/; charset=utf-8/g, "")}`,
    }),
    415: (request) => ({
      code: "UNSUPPORTED_MEDIA_TYPE",
      message: `${request.headers.get("content-type") ? `Content-Type ${request.headers.get("content-type")} is not accepted` : "the request has no Content-Type"}; POST the body as application/json (also accepted: application/graphql+json, application/graphql, application/x-www-form-urlencoded, multipart/form-data)`,
    }),
    503: () => ({ code: "UNAVAILABLE", message: "not ready: the database does not answer or a migration is not applied" }),
  };
  return {
    onResponse({ request, response, setResponse, fetchAPI }) {
      const refusal = refusals[response.status];
      if (!refusal || response.headers.has("content-type")) return;
      const headers = new fetchAPI.Headers(response.headers);
      headers.set("content-type", "application/json; charset=utf-8");
      setResponse(new fetchAPI.Response(refusalBody({ status: response.status, ...refusal(request, response) }), { status: response.status, headers }));
    },
  };
}
