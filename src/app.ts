// Builds the server: Yoga (HTTP and SSE), MCP and graphql-ws on one port. It never
// listens; src/main.ts and the tests do.
import type { Server } from "node:http";
import type { Logger } from "pino";
import { Registry } from "prom-client";
import type { Config } from "./config.js";
import { createMetrics } from "./graphql/observability.js";
import { RateLimiter } from "./graphql/rate-limit.js";
import { createGraphQLServer } from "./graphql/yoga.js";
import type { Database } from "./infra/db.js";
import type { AnnouncementBus, SharedCounter } from "./infra/pubsub.js";
import { consoleHandler } from "./http/console.js";
import { createMcpHandler } from "./mcp/mcp-endpoint.js";
import { attachGraphqlWs, type GraphqlWs } from "./server/graphql-ws.js";
import { createHttpFront, requestIdOf } from "./server/http-front.js";
import { shutDown } from "./server/shutdown.js";
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

export function createApp({ config, db, bus, logger, sharedCounter }: AppDeps): App {
  const services = createServices({ config, db, bus, logger });
  services.presence.start();
  const stopSweeping = services.claims.sweepEvery(config.LEASE_SWEEP_MS, (err) => logger.error({ err }, "lease sweep failed"));
  const stopPurging = services.idempotency.purgeEvery(config.LEASE_SWEEP_MS, (err) => logger.error({ err }, "idempotency key purge failed"));
  const limits = { agents: new RateLimiter(config.RATE_LIMIT_PER_MINUTE, sharedCounter), ips: new RateLimiter(config.RATE_LIMIT_ANONYMOUS_PER_MINUTE, sharedCounter) };
  const registry = new Registry();
  let ws: GraphqlWs | undefined;
  const metrics = createMetrics(registry, services, () => ws?.wss.clients.size ?? 0);

  const yoga = createGraphQLServer({ config, db, services, logger, registry, metrics, limits, requestIdOf });
  const mcp = createMcpHandler({ services, authenticate: (token) => services.agents.authenticate(token), rateLimiter: limits.agents, addressLimiter: limits.ips, logger, allowedOrigins: config.MCP_ALLOWED_ORIGINS });
  const front = createHttpFront(config, { graphql: yoga.requestListener, mcp, console: consoleHandler(config.GRAPHQL_PATH) });
  ws = attachGraphqlWs({ server: front.server, path: config.GRAPHQL_PATH, yoga, services, draining: front.draining, onBadToken: () => metrics.refused("bad_token") });

  const running = {
    front,
    ws,
    services,
    stopBackground: () => {
      stopSweeping();
      stopPurging();
    },
    disposeYoga: async () => {
      await yoga.dispose();
    },
    bus,
    db,
    logger,
  };
  let closing: Promise<void> | null = null;
  return {
    server: front.server,
    services,
    sockets: () => ws.wss.clients.size,
    close: () => (closing ??= shutDown(running, config.SHUTDOWN_TIMEOUT_MS)),
  };
}
