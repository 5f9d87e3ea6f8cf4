// Builds the server: Yoga (HTTP and SSE) and graphql-ws on one port and path. It
// never listens; src/main.ts and the tests do.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { GraphQLError, type ExecutionArgs } from "graphql";
import { createYoga, useReadinessCheck } from "graphql-yoga";
import type { OperationResult } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
import type { Logger } from "pino";
import { Registry } from "prom-client";
import { usePrometheus } from "@graphql-yoga/plugin-prometheus";
import { useDisableIntrospection } from "@graphql-yoga/plugin-disable-introspection";
import type { Config } from "./config.js";
import type { Context } from "./graphql/context.js";
import { maskError, toGraphQLError, useRequestIdOnErrors } from "./graphql/errors.js";
import { exampleOperations } from "./graphql/graphiql-tab.js";
import { clientErrorRefusal, rawResponse, refusalBody, useJsonRefusals, type Refusal } from "./graphql/http-refusals.js";
import { offerSocket } from "./graphql/live.js";
import { armorPlugins, LIMITS } from "./graphql/limits.js";
import { createMetrics } from "./graphql/observability.js";
import { rateLimited, useProtection } from "./graphql/protection.js";
import { RateLimiter } from "./graphql/rate-limit.js";
import { useCachedReads } from "./graphql/response-cache.js";
import { schema } from "./graphql/schema.js";
import { unavailableFrom, type Database } from "./infra/db.js";
import type { AnnouncementBus, SharedCounter } from "./infra/pubsub.js";
import { consoleHandler } from "./http/console.js";
import { createMcpHandler, isMcpPath } from "./mcp/mcp-endpoint.js";
import type { Viewer } from "./modules/agents/agents.service.js";
import { bearerToken } from "./modules/agents/token.js";
import { createServices, type Services } from "./services.js";

export interface AppDeps {
  config: Config;
  db: Database;
  bus: AnnouncementBus;
  logger: Logger;
  /** With several instances: rate limits counted in Redis, shared by all. */
  sharedCounter?: SharedCounter;
}

export interface App {
  server: Server;
  services: Services;
  /** Open WebSocket connections (for tests and metrics). */
  sockets(): number;
  /**
   * Shuts down gracefully: stops accepting, completes every subscription, lets
   * in-flight requests finish (bounded by SHUTDOWN_TIMEOUT_MS), closes WebSockets with
   * 1001, stops background work and closes the database.
   */
  close(): Promise<void>;
}

const YOGA_METRICS = [
  "graphql_envelop_deprecated_field",
  "graphql_envelop_request",
  "graphql_envelop_request_duration",
  "graphql_envelop_request_time_summary",
  "graphql_envelop_phase_parse",
  "graphql_envelop_phase_validate",
  "graphql_envelop_phase_context",
  "graphql_envelop_error_result",
  "graphql_envelop_execute_resolver",
  "graphql_envelop_phase_execute",
  "graphql_envelop_phase_subscribe",
  "graphql_envelop_schema_change",
  "graphql_yoga_http_duration",
] as const;

/** Each HTTP request's id (given in x-request-id or made up), for its context and logs. */
const requestIds = new WeakMap<IncomingMessage, string>();

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

const shuttingDown: Refusal = {
  status: 503,
  code: "UNAVAILABLE",
  message: "the server is shutting down; send the request again (to another instance, or to this one once it has restarted)",
};

/** Answers with a refusal and closes the connection after it. */
function refuse(req: IncomingMessage, res: ServerResponse, refusal: Refusal): void {
  const body = refusalBody(refusal);
  res.writeHead(refusal.status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), connection: "close" });
  res.end(body);
  req.resume();
}

const unauthenticated = () =>
  new GraphQLError("the bearer token is unknown or revoked; register again or use a valid token", {
    extensions: { code: "UNAUTHENTICATED", http: { status: 401 } },
  });

export function createApp({ config, db, bus, logger, sharedCounter }: AppDeps): App {
  const services = createServices({ config, db, bus, logger });
  services.presence.start();
  const stopSweeping = services.claims.sweepEvery(config.LEASE_SWEEP_MS, (err) => logger.error({ err }, "lease sweep failed"));
  const stopPurging = services.idempotency.purgeEvery(config.LEASE_SWEEP_MS, (err) => logger.error({ err }, "idempotency key purge failed"));
  const agentLimits = new RateLimiter(config.RATE_LIMIT_PER_MINUTE, sharedCounter);
  const ipLimits = new RateLimiter(config.RATE_LIMIT_ANONYMOUS_PER_MINUTE, sharedCounter);
  const registry = new Registry();
  let wss: WebSocketServer;
  const metrics = createMetrics(registry, services, () => wss?.clients.size ?? 0);

  /** The agent a token belongs to: null without a token, an error for a bad one. */
  async function viewerFor(token: string | null, ip: string): Promise<Viewer | null> {
    if (token === null) return null;
    const viewer = await services.agents.authenticate(token);
    if (!viewer) {
      // Guessing tokens spends the address's anonymous budget.
      const wait = await ipLimits.take(`ip:${ip}`, 1);
      metrics.refused(wait ? "rate_limited" : "bad_token");
      throw wait ? rateLimited(wait, `address ${ip}`) : unauthenticated();
    }
    services.presence.markSeen(viewer.id);
    return viewer;
  }

  const yoga = createYoga<{ req?: IncomingMessage; connectionParams?: Record<string, unknown>; requestId?: string }, Context>({
    schema,
    graphqlEndpoint: config.GRAPHQL_PATH,
    healthCheckEndpoint: "/healthz",
    landingPage: false,
    batching: false,
    // The HTTP handler below has already bounded the body by its Content-Length; Yoga's
    // own limit would re-stream every body through a counting TransformStream (measured:
    // about a tenth of a cheap request's CPU).
    maxRequestBodySize: false,
    graphiql: config.INTROSPECTION ? { title: "agent-hq", defaultQuery: exampleOperations } : false,
    logging: logger,
    maskedErrors: {
      maskError: (error, message) =>
        maskError(error, message, (unexpected, requestId) => logger.error({ err: unexpected, requestId }, "unexpected error")),
    },
    context: async ({ request, req, connectionParams, requestId }) => {
      const ip = req?.socket.remoteAddress ?? "unknown";
      const token = request
        ? bearerToken(request.headers.get("authorization"))
        : bearerToken(connectionParams?.authorization ?? connectionParams?.Authorization ?? connectionParams?.token);
      return {
        services,
        viewer: await viewerFor(token, ip),
        requestId: requestId ?? (req && requestIds.get(req)) ?? randomUUID(),
        ip,
        reader: db.reader,
      };
    },
    plugins: [
      useReadinessCheck({ endpoint: "/readyz", check: () => db.isReady() }),
      // Serves our registry. Yoga's own per-request series are all off: together they cost
      // about a fifth of a cheap request's CPU (measured), and our operation counter and
      // duration histogram (observability.ts) answer the same questions.
      usePrometheus({ endpoint: "/metrics", registry, metrics: Object.fromEntries(YOGA_METRICS.map((name) => [name, false])) }),
      ...(config.INTROSPECTION ? [] : [useDisableIntrospection()]),
      ...armorPlugins(!config.INTROSPECTION),
      useProtection({ agents: agentLimits, ips: ipLimits, onRefused: (reason) => metrics.refused(reason) }),
      metrics.plugin(logger),
      useRequestIdOnErrors(),
      useJsonRefusals(config.GRAPHQL_PATH),
      // Last: every plugin above sees a kept answer as it sees any other.
      ...(config.RESPONSE_CACHE_MB > 0
        ? [useCachedReads({ maxBytes: Math.floor(config.RESPONSE_CACHE_MB * 1024 * 1024), readVersion: () => db.readVersion(), onAnswer: (from) => metrics.answered(from) })]
        : []),
    ],
  });

  const mcp = createMcpHandler({ services, authenticate: (token) => services.agents.authenticate(token), rateLimiter: agentLimits, addressLimiter: ipLimits, logger, allowedOrigins: config.MCP_ALLOWED_ORIGINS });

  const serveConsole = consoleHandler(config.GRAPHQL_PATH);

  // Requests in flight, so a shutdown can wait for them.
  const inFlight = new Set<ServerResponse>();
  // Set when a shutdown begins: from then on every request is answered 503.
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
      if (isMcpPath(req.url)) return void mcp(req, res);
      if (serveConsole(req, res)) return;
      void yoga.requestListener(req, res);
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

  const watchedSockets = new WeakSet<object>();
  // No compression: live.ts writes frames straight to the socket beside ws (see SocketBatch).
  wss = new WebSocketServer({
    server,
    path: config.GRAPHQL_PATH,
    maxPayload: LIMITS.bodyBytes,
    perMessageDeflate: false,
    // A WebSocket opened during a shutdown would be closed at once.
    verifyClient: (_info, done) => (draining ? done(false, shuttingDown.status, shuttingDown.message) : done(true)),
  });
  const ws = useServer<Record<string, unknown> | undefined>(
    {
      // Refused at connection time (4403) unless a valid token comes in connectionParams.
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const token = bearerToken(params.authorization ?? params.Authorization ?? params.token);
        let ok: boolean;
        try {
          ok = token !== null && (await services.agents.authenticate(token)) !== null;
        } catch (error) {
          const unavailable = unavailableFrom(error);
          if (!unavailable) throw error;
          // 1013 Try Again Later: graphql-ws clients reconnect by themselves (they give up on 4500).
          ctx.extra.socket.close(1013, unavailable.message);
          return false;
        }
        if (!ok) metrics.refused("bad_token");
        return ok;
      },
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args),
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args),
      onSubscribe: async (ctx, id, payload) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          connectionParams: ctx.connectionParams,
          requestId: randomUUID(),
        });
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [error instanceof GraphQLError ? error : new GraphQLError(String(error))];
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        // The token is checked again for every subscription: it may have been revoked.
        let contextValue: Context;
        try {
          contextValue = (await contextFactory()) as Context;
        } catch (error) {
          const unavailable = unavailableFrom(error);
          return [error instanceof GraphQLError ? error : unavailable ? toGraphQLError(unavailable) : unauthenticated()];
        }
        // Its subscriptions end when the token is revoked (graphql/live.ts); then the socket goes too.
        if (contextValue.viewer && !watchedSockets.has(ctx)) {
          watchedSockets.add(ctx);
          const stop = services.agents.whenRevoked(contextValue.viewer.tokenId, () => closeWhenIdle(ctx, 4403, "token revoked"));
          ctx.extra.socket.once("close", stop);
        }
        // Journal subscriptions write their events straight to this socket (graphql/live.ts).
        offerSocket(contextValue, { id, socket: ctx.extra.socket, tcp: ctx.extra.request.socket, schema, document, query: payload.query, operationName: payload.operationName, variables: payload.variables });
        return {
          schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue,
          rootValue: { execute, subscribe } as EnvelopedRoot,
        };
      },
    },
    wss,
  );

  let closing: Promise<void> | null = null;
  return {
    server,
    services,
    sockets: () => wss.clients.size,
    close: () =>
      (closing ??= (async () => {
        // Connections stay open, and the server listening, until the requests in flight are
        // answered: closing a kept-alive connection (server.close() closes the idle ones)
        // resets any request a client is sending on it at that moment. Meanwhile every new
        // request is answered 503 UNAVAILABLE, and every answer not yet begun closes its
        // connection after it.
        draining = true;
        for (const res of inFlight) res.shouldKeepAlive = false;
        stopSweeping();
        stopPurging();
        // Completing the streams ends SSE responses, graphql-ws subscriptions and waiting asks.
        services.tailer.close();
        const deadline = Date.now() + config.SHUTDOWN_TIMEOUT_MS;
        for (;;) {
          while (inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
          // One more turn of the event loop reads requests that have already arrived.
          await new Promise((r) => setImmediate(r));
          if (inFlight.size === 0 || Date.now() >= deadline) break;
        }
        server.close();
        for (const res of inFlight) res.destroy();
        for (const socket of wss.clients) socket.close(1001, "server shutting down");
        await ws.dispose();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        server.closeAllConnections();
        await services.presence.stop().catch((err: unknown) => logger.error({ err }, "presence flush failed"));
        await yoga.dispose();
        await bus.close();
        await db.close();
      })()),
  };
}

/**
 * Closes a graphql-ws socket once its subscriptions have sent their end (an error each,
 * when a token is revoked), so the client reads why before the close; at most 2 s later.
 */
function closeWhenIdle(ctx: { subscriptions: Record<string, unknown>; extra: { socket: { readyState: number; close(code: number, reason: string): void } } }, code: number, reason: string): void {
  const socket = ctx.extra.socket;
  const deadline = Date.now() + 2000;
  const check = () => {
    if (socket.readyState !== 1) return;
    if (Object.keys(ctx.subscriptions).length === 0 || Date.now() > deadline) socket.close(code, reason);
    else setTimeout(check, 10);
  };
  setImmediate(check);
}

/** Yoga's enveloped execute/subscribe, handed to graphql-ws through rootValue. */
interface EnvelopedRoot {
  execute(args: ExecutionArgs): OperationResult;
  subscribe(args: ExecutionArgs): OperationResult;
}
