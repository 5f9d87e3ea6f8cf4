// The only reader of process.env. Every setting is validated at once; an invalid one
// stops start-up with a single message listing every problem.
import { isIP } from "node:net";
import { z } from "zod";

const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const bool = z
  .enum(["true", "false", "1", "0"])
  .transform((v) => v === "true" || v === "1");

/** `scheme://host[:port]`, as a browser sends it in Origin. */
const isOrigin = (value: string) => {
  try {
    return new URL(value).origin === value;
  } catch {
    return false;
  }
};
const origins = z
  .string()
  .transform((v) => v.split(",").map((o) => o.trim()).filter(Boolean))
  .pipe(z.array(z.string().refine(isOrigin, "each must be an origin such as https://app.example.com (scheme, host and port; no path or trailing slash)")));

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  // Loopback: a plain start on a laptop is reachable from that laptop only. 0.0.0.0 (or an
  // address of the machine) serves the network; see ALLOW_OPEN_REGISTRATION.
  HOST: z.string().min(1).default("127.0.0.1"),
  DATABASE_URL: z
    .string()
    .regex(/^(file:.+|postgres(ql)?:\/\/.+)$/, "must start with file: (SQLite) or postgres:// (PostgreSQL)")
    .default("file:./data/agent-hq.db"),
  LOG_LEVEL: z.enum(logLevels).default("info"),
  AGENT_HQ_REGISTRATION_KEY: z.string().min(8, "must be at least 8 characters when set").optional(),
  // Whether to listen beyond loopback with registration open to anyone who can reach the
  // port (no AGENT_HQ_REGISTRATION_KEY): refused unless said explicitly, as anyone on the
  // same network (a café's) could register agents and use the server.
  ALLOW_OPEN_REGISTRATION: bool.default(false),
  // Set for several instances: journal announcements travel through Redis.
  REDIS_URL: z.string().regex(/^rediss?:\/\/.+/, "must start with redis:// or rediss://").optional(),
  GRAPHQL_PATH: z.string().regex(/^\/[A-Za-z0-9/_-]*$/, "must be a path such as /graphql").default("/graphql"),
  // GraphiQL, introspection and field suggestions: on for exploring, off in production.
  INTROSPECTION: bool.default(true),
  // Rate-limit points per minute: per agent, and per address for calls without a valid
  // token. A query field costs 1, a mutation or subscription field 5.
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(1200),
  RATE_LIMIT_ANONYMOUS_PER_MINUTE: z.coerce.number().int().min(1).default(120),
  // How long a shutdown waits for in-flight requests before closing anyway.
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  // How long a client may take to send a request's headers, and the whole request (headers
  // and body), before it is answered 408: a client sending slowly cannot hold a socket.
  // Answers are not bounded: SSE streams and waiting calls (ask) run as long as they need.
  HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  // How long a valid token is remembered without asking the database; a token revoked on
  // another instance still works there for at most this long (0: ask every time).
  TOKEN_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(2000),
  // How often the journal tailer looks for new rows even without an announcement.
  JOURNAL_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
  // How often expired claims are returned to the ready queue (with a journal row each).
  LEASE_SWEEP_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
  // How often presence (lastSeenAt, online) is written in one batch.
  PRESENCE_FLUSH_MS: z.coerce.number().int().min(100).max(300_000).default(15_000),
  // Megabytes of query answers (as JSON) kept per instance for repeated reads (0: keep
  // none); see graphql/response-cache.ts.
  RESPONSE_CACHE_MB: z.coerce.number().min(0).max(4096).default(8),
  // Web pages allowed to call /mcp, comma-separated. Agents' MCP clients send no Origin
  // and need nothing here; a browser's request from any other origin is refused.
  MCP_ALLOWED_ORIGINS: origins.default([]),
});

/** Every variable this server reads. */
export const CONFIG_KEYS = Object.keys(schema.shape);

export type Config = z.infer<typeof schema> & { database: "sqlite" | "postgres" };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

/** Whether `host` is reachable from this machine only: 127.0.0.0/8, ::1 or localhost. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (h === "localhost" || h === "::1") return true;
  const v4 = h.startsWith("::ffff:") ? h.slice("::ffff:".length) : h;
  return isIP(v4) === 4 && v4.startsWith("127.");
}

/** Reads the configuration from an environment (process.env by default). */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  }
  const c = result.data;
  // Node refuses to start a server otherwise.
  if (c.HEADERS_TIMEOUT_MS > c.REQUEST_TIMEOUT_MS) {
    throw new ConfigError([`HEADERS_TIMEOUT_MS: must not exceed REQUEST_TIMEOUT_MS (${c.REQUEST_TIMEOUT_MS}): the headers are part of the request`]);
  }
  if (!isLoopback(c.HOST) && c.AGENT_HQ_REGISTRATION_KEY === undefined && !c.ALLOW_OPEN_REGISTRATION) {
    throw new ConfigError([
      `HOST: ${c.HOST} is reachable from other machines, and without AGENT_HQ_REGISTRATION_KEY anyone reaching it can register: set AGENT_HQ_REGISTRATION_KEY (8+ characters), or ALLOW_OPEN_REGISTRATION=true to accept open registration, or leave HOST unset to listen on 127.0.0.1 only`,
    ]);
  }
  return { ...c, database: c.DATABASE_URL.startsWith("file:") ? "sqlite" : "postgres" };
}
