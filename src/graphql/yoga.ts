// The GraphQL server (Yoga, HTTP and SSE): the schema, each request's context (who is
// asking) and the plugins in their order. graphql-ws runs through the same plugins
// (src/server/graphql-ws.ts).
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { createYoga, useReadinessCheck } from "graphql-yoga";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { usePrometheus } from "@graphql-yoga/plugin-prometheus";
import { useDisableIntrospection } from "@graphql-yoga/plugin-disable-introspection";
import type { Config } from "../config.js";
import { RateLimitedError, UnauthenticatedError } from "../errors.js";
import type { Database } from "../infra/db.js";
import type { Viewer } from "../modules/agents/agents.service.js";
import { bearerToken } from "../modules/agents/token.js";
import type { Services } from "../services.js";
import type { Context } from "./context.js";
import { maskError, toGraphQLError, useRequestIdOnErrors, yogaLogger } from "./errors.js";
import { graphiqlPage, useGraphiQLAssets } from "./graphiql.js";
import { useGraphQLSSEProtocol } from "./graphql-sse.js";
import { exampleOperations } from "./graphiql-tab.js";
import { useJsonRefusals } from "./http-refusals.js";
import { armorPlugins, useKnownCosts } from "./limits.js";
import type { createMetrics } from "./observability.js";
import { useProtection } from "./protection.js";
import type { RateLimiter } from "./rate-limit.js";
import { useCachedReads } from "./response-cache.js";
import { schema } from "./schema.js";
import { JOURNAL_HEAD_SQL } from "../modules/journal/journal.service.js";
import { EARLIEST_LEASE_END_SQL } from "../modules/tasks/lease.js";

export interface YogaDeps {
  config: Config;
  db: Database;
  services: Services;
  logger: Logger;
  registry: Registry;
  metrics: ReturnType<typeof createMetrics>;
  limits: { agents: RateLimiter; ips: RateLimiter };
  /** The request id the HTTP front gave a request. */
  requestIdOf(req: IncomingMessage): string | undefined;
}

/** What Yoga is handed besides the request: Node's request (HTTP) or the connectionParams (graphql-ws). */
export interface ServerContext {
  req?: IncomingMessage;
  connectionParams?: Record<string, unknown>;
  requestId?: string;
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

export type GraphQLServer = ReturnType<typeof createGraphQLServer>;

export function createGraphQLServer(deps: YogaDeps) {
  const { config, db, services, logger } = deps;
  const viewerFor = viewerLookup(deps);
  const mask = (error: unknown, message: string) =>
    maskError(error, message, (unexpected, requestId) => logger.error({ err: unexpected, requestId }, "unexpected error"));
  return createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: config.GRAPHQL_PATH,
    healthCheckEndpoint: "/healthz",
    landingPage: false,
    batching: false,
    // The HTTP front has already bounded the body by its Content-Length; Yoga's own limit
    // would re-stream every body through a counting TransformStream (measured: about a
    // tenth of a cheap request's CPU).
    maxRequestBodySize: false,
    graphiql: config.INTROSPECTION ? { title: "agent-hq", defaultQuery: exampleOperations } : false,
    renderGraphiQL: graphiqlPage(config.GRAPHQL_PATH),
    logging: yogaLogger(logger),
    maskedErrors: { maskError: mask },
    context: async ({ request, req, connectionParams, requestId }) => {
      const ip = req?.socket.remoteAddress ?? "unknown";
      const token = request
        ? bearerToken(request.headers.get("authorization"))
        : bearerToken(connectionParams?.authorization ?? connectionParams?.Authorization ?? connectionParams?.token);
      return {
        services,
        viewer: await viewerFor(token, ip),
        requestId: requestId ?? (req && deps.requestIdOf(req)) ?? randomUUID(),
        ip,
        reader: db.reader,
      };
    },
    plugins: pluginsOf(deps, mask),
  });
}

/** The agent a token belongs to: null without a token, an error for a bad one. */
function viewerLookup({ services, limits, metrics }: YogaDeps) {
  return async (token: string | null, ip: string): Promise<Viewer | null> => {
    if (token === null) return null;
    const viewer = await services.agents.authenticate(token);
    if (!viewer) {
      // Guessing tokens spends the address's anonymous budget.
      const wait = await limits.ips.take(`ip:${ip}`, 1);
      metrics.refused(wait ? "rate_limited" : "bad_token");
      throw toGraphQLError(
        wait
          ? new RateLimitedError(wait, `rate limit exceeded for address ${ip}`)
          : new UnauthenticatedError("the bearer token is unknown or revoked; register again or use a valid token"),
      );
    }
    services.presence.markSeen(viewer.id);
    return viewer;
  };
}

function pluginsOf({ config, db, services, logger, metrics, limits, registry }: YogaDeps, mask: (error: unknown, message: string) => Error) {
  return [
    useReadinessCheck({ endpoint: "/readyz", check: () => db.isReady() }),
    ...(config.INTROSPECTION ? [useGraphiQLAssets(config.GRAPHQL_PATH)] : []),
    useGraphQLSSEProtocol(config.GRAPHQL_PATH, (error) => mask(error, "Unexpected error.")),
    // Serves our registry. Yoga's own per-request series are all off: together they cost
    // about a fifth of a cheap request's CPU (measured), and our operation counter and
    // duration histogram (observability.ts) answer the same questions.
    usePrometheus({ endpoint: "/metrics", registry, metrics: Object.fromEntries(YOGA_METRICS.map((name) => [name, false])) }),
    ...(config.INTROSPECTION ? [] : [useDisableIntrospection()]),
    ...armorPlugins(!config.INTROSPECTION),
    useKnownCosts(),
    useProtection({ agents: limits.agents, ips: limits.ips, onRefused: (reason) => metrics.refused(reason) }),
    metrics.plugin(logger),
    useRequestIdOnErrors(),
    useJsonRefusals(config.GRAPHQL_PATH),
    // Last: every plugin above sees a kept answer as it sees any other.
    ...(config.RESPONSE_CACHE_MB > 0
      ? [useCachedReads({ maxBytes: Math.floor(config.RESPONSE_CACHE_MB * 1024 * 1024), readVersion: db.versionReader(EARLIEST_LEASE_END_SQL, JOURNAL_HEAD_SQL), teamChangesBetween: (...args) => services.journal.teamChangesBetween(...args), onAnswer: (from) => metrics.answered(from) })]
      : []),
  ];
}
