// Builds the server: Yoga (HTTP and SSE) and graphql-ws on one port and path. It
// never listens; src/main.ts and the tests do.
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { GraphQLError, type ExecutionArgs } from "graphql";
import type { OperationResult } from "graphql-ws";
import { createYoga, useReadinessCheck } from "graphql-yoga";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
import type { Logger } from "pino";
import type { Config } from "./config.js";
import type { Context } from "./graphql/context.js";
import { maskError } from "./graphql/errors.js";
import { exampleOperations } from "./graphql/graphiql-tab.js";
import { schema } from "./graphql/schema.js";
import type { Database } from "./infra/db.js";
import type { AnnouncementBus } from "./infra/pubsub.js";
import type { Viewer } from "./modules/agents/agents.service.js";
import { createServices, type Services } from "./services.js";

export interface AppDeps {
  config: Config;
  db: Database;
  bus: AnnouncementBus;
  logger: Logger;
}

export interface App {
  server: Server;
  services: Services;
  /** Open WebSocket connections (for tests and metrics). */
  sockets(): number;
  /** Closes sockets (1001), stops background work and the database. */
  close(): Promise<void>;
}

/** Carries the request id through everything a request causes, for logs and errors. */
const requestScope = new AsyncLocalStorage<{ requestId: string }>();

function requestIdFrom(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
}

function bearer(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const match = /^Bearer\s+(\S+)$/i.exec(value.trim());
  return match ? match[1]! : value.trim() || null;
}

const unauthenticated = () =>
  new GraphQLError("the bearer token is unknown or revoked; register again or use a valid token", {
    extensions: { code: "UNAUTHENTICATED", http: { status: 401 } },
  });

export function createApp({ config, db, bus, logger }: AppDeps): App {
  const services = createServices({ config, db, bus, logger });
  services.presence.start();
  const stopSweeping = services.claims.sweepEvery(config.LEASE_SWEEP_MS, (err) => logger.error({ err }, "lease sweep failed"));

  /** The agent a token belongs to: null without a token, an error for a bad one. */
  async function viewerFor(token: string | null): Promise<Viewer | null> {
    if (token === null) return null;
    const viewer = await services.agents.authenticate(token);
    if (!viewer) throw unauthenticated();
    services.presence.markSeen(viewer.id);
    return viewer;
  }

  const yoga = createYoga<{ connectionParams?: Record<string, unknown> }, Context>({
    schema,
    graphqlEndpoint: config.GRAPHQL_PATH,
    healthCheckEndpoint: "/healthz",
    landingPage: false,
    graphiql: config.GRAPHIQL ? { title: "agent-hq", defaultQuery: exampleOperations } : false,
    logging: logger,
    maskedErrors: {
      maskError: (error, message) =>
        maskError(error, message, (unexpected) => {
          const requestId = requestScope.getStore()?.requestId ?? "unknown";
          logger.error({ err: unexpected, requestId }, "unexpected error");
          return requestId;
        }),
    },
    context: async ({ request, connectionParams }) => {
      const token = request
        ? bearer(request.headers.get("authorization"))
        : bearer(connectionParams?.authorization ?? connectionParams?.Authorization ?? connectionParams?.token);
      return {
        services,
        viewer: await viewerFor(token),
        requestId: requestScope.getStore()?.requestId ?? randomUUID(),
        reader: db.reader,
      };
    },
    plugins: [useReadinessCheck({ endpoint: "/readyz", check: () => db.isReady() })],
  });

  const server = createServer((req, res) => {
    const requestId = requestIdFrom(req);
    res.setHeader("x-request-id", requestId);
    requestScope.run({ requestId }, () => void yoga.requestListener(req, res));
  });

  const wss = new WebSocketServer({ server, path: config.GRAPHQL_PATH });
  const ws = useServer<Record<string, unknown> | undefined, { requestId: string }>(
    {
      // Refused at connection time (4403) unless a valid token comes in connectionParams.
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const token = bearer(params.authorization ?? params.Authorization ?? params.token);
        return token !== null && (await services.agents.authenticate(token)) !== null;
      },
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args),
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args),
      onSubscribe: async (ctx, _id, payload) => {
        const requestId = randomUUID();
        return requestScope.run({ requestId }, async () => {
          const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
            ...ctx,
            req: ctx.extra.request,
            socket: ctx.extra.socket,
            params: payload,
            connectionParams: ctx.connectionParams,
          });
          const document = parse(payload.query);
          const errors = validate(schema, document);
          if (errors.length > 0) return errors;
          // The token is checked again for every subscription: it may have been revoked.
          let contextValue: Context;
          try {
            contextValue = (await contextFactory()) as Context;
          } catch (error) {
            return [error instanceof GraphQLError ? error : unauthenticated()];
          }
          return {
            schema,
            operationName: payload.operationName,
            document,
            variableValues: payload.variables,
            contextValue,
            rootValue: { execute, subscribe } as EnvelopedRoot,
          };
        });
      },
    },
    wss,
  );

  return {
    server,
    services,
    sockets: () => wss.clients.size,
    close: async () => {
      stopSweeping();
      for (const socket of wss.clients) socket.close(1001, "server shutting down");
      await ws.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await services.presence.stop().catch((err: unknown) => logger.error({ err }, "presence flush failed"));
      await yoga.dispose();
      await db.close();
    },
  };
}

/** Yoga's enveloped execute/subscribe, handed to graphql-ws through rootValue. */
interface EnvelopedRoot {
  execute(args: ExecutionArgs): OperationResult;
  subscribe(args: ExecutionArgs): OperationResult;
}
