// The HTTP server in front of GraphQL and MCP: a request id for every request, refusals
// in JSON where Node would answer an empty 400, 408, 411, 413, 417 or 431, the timeouts,
// and the routing of /mcp. It keeps the requests in flight, so a shutdown can wait for them.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Config } from "../config.js";
import { UnavailableError } from "../errors.js";
import { clientErrorRefusal, rawResponse, refusalBody, refusalOf, type Refusal } from "../graphql/http-refusals.js";
import { LIMITS } from "../graphql/limits.js";
import { isMcpPath } from "../mcp/mcp-endpoint.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface HttpFront {
  server: Server;
  /** Requests being answered now. */
  inFlight: ReadonlySet<ServerResponse>;
  /** From now on every request is refused 503, and every answer not yet begun closes its connection. */
  drain(): void;
  draining(): boolean;
}

export const shuttingDown: Refusal = refusalOf(
  new UnavailableError("the server is shutting down; send the request again (to another instance, or to this one once it has restarted)"),
);

/** Each HTTP request's id (given in x-request-id or made up), for its context and logs. */
const requestIds = new WeakMap<IncomingMessage, string>();

export function requestIdOf(req: IncomingMessage): string | undefined {
  return requestIds.get(req);
}

function requestIdFrom(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
}

/** Refusals before anything reads the body: a body needs a length, and a bounded one. */
function requestRefusal(req: IncomingMessage): Refusal | null {
  // Node's own answer to this is an empty 400 (requireHostHeader is off below).
  if (req.httpVersion === "1.1" && req.headers.host === undefined) {
    return { status: 400, code: "BAD_REQUEST", message: "send a Host header: HTTP/1.1 requires one" };
  }
  const length = req.headers["content-length"];
  if (length === undefined) {
    return req.headers["transfer-encoding"] ? { status: 411, code: "LENGTH_REQUIRED", message: "send the request body with a Content-Length header" } : null;
  }
  if (Number(length) > LIMITS.bodyBytes) {
    return { status: 413, code: "BODY_TOO_LARGE", message: `the request body is ${length} bytes; the limit is ${LIMITS.bodyBytes}` };
  }
  return null;
}

/** Answers with a refusal and closes the connection after it. */
function refuse(req: IncomingMessage, res: ServerResponse, refusal: Refusal): void {
  const body = refusalBody(refusal);
  res.writeHead(refusal.status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), connection: "close" });
  res.end(body);
  req.resume();
}

export function createHttpFront(config: Config, handlers: { graphql: Handler; mcp: Handler; console: (req: IncomingMessage, res: ServerResponse) => boolean }): HttpFront {
  const inFlight = new Set<ServerResponse>();
  let draining = false;
  const server = createServer(
    {
      headersTimeout: config.HEADERS_TIMEOUT_MS,
      requestTimeout: config.REQUEST_TIMEOUT_MS,
      // Node looks for overdue requests every 30 s by default, so a timeout fired up to 30 s late.
      connectionsCheckingInterval: Math.min(1000, config.HEADERS_TIMEOUT_MS / 4),
      // Checked in requestRefusal, to answer in JSON.
      requireHostHeader: false,
    },
    (req, res) => {
      const requestId = requestIdFrom(req);
      res.setHeader("x-request-id", requestId);
      inFlight.add(res);
      res.once("close", () => inFlight.delete(res));
      const refusal = draining ? shuttingDown : requestRefusal(req);
      if (refusal) return refuse(req, res, refusal);
      requestIds.set(req, requestId);
      if (isMcpPath(req.url)) return void handlers.mcp(req, res);
      // The console's pages and assets; everything else is the API's.
      if (handlers.console(req, res)) return;
      void handlers.graphql(req, res);
    },
  );
  // Node's own answer to an Expect other than 100-continue is an empty 417.
  server.on("checkExpectation", (req: IncomingMessage, res: ServerResponse) =>
    refuse(req, res, { status: 417, code: "EXPECTATION_FAILED", message: `Expect: ${req.headers.expect} is not supported; send the request without it (or with Expect: 100-continue)` }),
  );
  // A request that is not valid HTTP, or too slow (headersTimeout, requestTimeout): Node
  // would answer an empty 400 or 408. A response is written only while none has begun on
  // the socket (its handler may be running, waiting for the rest of the body).
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    const refusal = clientErrorRefusal(error, { headersMs: config.HEADERS_TIMEOUT_MS, requestMs: config.REQUEST_TIMEOUT_MS });
    const started = [...inFlight].some((res) => res.socket === socket && res.headersSent);
    if (refusal && socket.writable && !started) socket.end(rawResponse(refusal), () => socket.destroy());
    else socket.destroy();
  });
  return {
    server,
    inFlight,
    drain() {
      draining = true;
      for (const res of inFlight) res.shouldKeepAlive = false;
    },
    draining: () => draining,
  };
}
