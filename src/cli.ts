// `agent-hq <command>`: what a person needs besides GraphQL, as self-hosted servers offer it
// (Gitea's `admin user create`): register an agent and get the configuration its MCP client
// needs, rotate or revoke a token, migrate, start. register and token talk to a running
// server over GraphQL, as any client; migrate and start run this project's own code.
// The environment is passed in (bin/agent-hq.mjs passes process.env): only config.ts reads
// process.env.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { projectRoot } from "./infra/project-root.js";

const DEFAULT_URL = "http://localhost:4000/graphql";

export const USAGE = `Usage: agent-hq <command> [options]

Commands:
  register <name> [--description <text>]
                   register an agent; print its token and its MCP client configuration
  token rotate     issue a new token for the agent of --token and revoke that one
  token revoke     revoke the token given with --token
  migrate          apply pending migrations to DATABASE_URL (as the server does at start)
  start            start the server (as npm start; settings from the environment)

Options:
  --url <url>          the server's GraphQL endpoint (HQ_URL; default ${DEFAULT_URL})
  --token <token>      the agent's bearer token (AGENT_HQ_TOKEN)
  --registration-key <key>
                       the server's registration key, when it sets one (AGENT_HQ_REGISTRATION_KEY)
  --json               print the result as JSON (register, token rotate, token revoke)
  -h, --help           show this help

Exit status: 0 on success, 1 when the server refuses or cannot be reached, 2 on a usage error.`;

type Env = Record<string, string | undefined>;

class UsageError extends Error {}

/** A refusal from the server (its extensions.code), or a server that cannot be reached. */
class ServerError extends Error {}

const options = {
  url: { type: "string" },
  token: { type: "string" },
  "registration-key": { type: "string" },
  description: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Runs one command; resolves with the exit status. */
export async function runCli(args: string[], env: Env): Promise<number> {
  try {
    return await dispatch(parse(args), env);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`agent-hq: ${error.message}\nRun agent-hq --help for the commands and options.`);
      return 2;
    }
    if (error instanceof ServerError) {
      console.error(`agent-hq: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

function parse(args: string[]) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

type Values = ReturnType<typeof parse>["values"];

function noMore(extra: string[]): void {
  if (extra.length > 0) throw new UsageError(`unexpected argument: ${extra[0]}`);
}

async function dispatch({ values, positionals }: ReturnType<typeof parse>, env: Env): Promise<number> {
  const [command, ...rest] = positionals;
  if (values.help || command === "help") {
    console.log(USAGE);
    return 0;
  }
  const server = () => new Server(values.url ?? env.HQ_URL ?? DEFAULT_URL);
  switch (command) {
    case "register":
      return register(server, values, rest, env);
    case "token":
      return tokenCommand(server, values, rest, env);
    case "migrate":
      noMore(rest);
      return migrate(env);
    case "start":
      noMore(rest);
      return start(env);
    case undefined:
      console.log(USAGE);
      return 2;
    default:
      throw new UsageError(`unknown command: ${command}`);
  }
}

async function register(server: () => Server, values: Values, rest: string[], env: Env): Promise<number> {
  const [name, ...extra] = rest;
  if (!name) throw new UsageError("register needs the agent's name: agent-hq register <name>");
  noMore(extra);
  const hq = server();
  const registrationKey = values["registration-key"] ?? env.AGENT_HQ_REGISTRATION_KEY;
  const { registerAgent } = await hq.request<{ registerAgent: { token: string; agent: { id: string; name: string } } }>(
    `mutation Register($input: RegisterAgentInput!) { registerAgent(input: $input) { token agent { id name } } }`,
    { input: { name, description: values.description, registrationKey } },
  );
  const { agent, token: issued } = registerAgent;
  if (values.json) console.log(JSON.stringify({ agent, token: issued, ...hq.mcpFor(issued) }, null, 2));
  else console.log(`Registered agent "${agent.name}" (${agent.id}).\n\n${hq.describe(issued)}`);
  return 0;
}

async function tokenCommand(server: () => Server, values: Values, rest: string[], env: Env): Promise<number> {
  const [action, ...extra] = rest;
  noMore(extra);
  const token = () => {
    const t = values.token ?? env.AGENT_HQ_TOKEN;
    if (!t) throw new UsageError(`token ${action} needs the agent's token: --token <token>, or AGENT_HQ_TOKEN in the environment`);
    return t;
  };
  if (action === "rotate") {
    const hq = server();
    const { rotateToken } = await hq.request<{ rotateToken: { token: string } }>(`mutation Rotate { rotateToken { token } }`, {}, token());
    if (values.json) console.log(JSON.stringify({ token: rotateToken.token, ...hq.mcpFor(rotateToken.token) }, null, 2));
    else console.log(`The old token is revoked.\n\n${hq.describe(rotateToken.token)}`);
    return 0;
  }
  if (action === "revoke") {
    const { revokeToken } = await server().request<{ revokeToken: { id: string; revokedAt: string } }>(`mutation Revoke { revokeToken { id revokedAt } }`, {}, token());
    console.log(values.json ? JSON.stringify(revokeToken, null, 2) : `Revoked token ${revokeToken.id} at ${revokeToken.revokedAt}.`);
    return 0;
  }
  throw new UsageError(action ? `unknown token command: ${action} (rotate or revoke)` : "token needs a command: rotate or revoke");
}

/** A running server, reached at its GraphQL endpoint. */
class Server {
  readonly url: string;
  readonly mcpUrl: string;

  constructor(url: string) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(`not a URL: ${url} (--url or HQ_URL, such as ${DEFAULT_URL})`);
    }
    this.url = parsed.href;
    // The MCP endpoint is /mcp on the same origin as GraphQL.
    this.mcpUrl = new URL("/mcp", parsed).href;
  }

  async request<T>(query: string, variables: Record<string, unknown>, token?: string): Promise<T> {
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new ServerError(
        `cannot reach ${this.url} (${cause?.code ?? cause?.message ?? (error as Error).message}): is the server running? Start it with \`agent-hq start\` (or npm start), or give its address with --url or HQ_URL.`,
      );
    }
    const body = (await response.json().catch(() => null)) as { data?: T | null; errors?: { message: string; extensions?: { code?: string } }[] } | null;
    const error = body?.errors?.[0];
    if (error) throw new ServerError(`${error.extensions?.code ?? `HTTP ${response.status}`}: ${error.message}`);
    if (!body?.data) throw new ServerError(`HTTP ${response.status} from ${this.url} without a GraphQL answer: is this agent-hq's GraphQL endpoint?`);
    return body.data;
  }

  /** What an MCP client needs to act as the agent of `token`. */
  mcpFor(token: string) {
    const header = `Authorization: Bearer ${token}`;
    return {
      mcpUrl: this.mcpUrl,
      claudeMcpAdd: `claude mcp add --transport http agent-hq ${this.mcpUrl} --header "${header}"`,
      mcpConfig: { mcpServers: { "agent-hq": { type: "http", url: this.mcpUrl, headers: { Authorization: `Bearer ${token}` } } } },
    };
  }

  /** The token and its MCP configuration, for a person to copy. */
  describe(token: string): string {
    const mcp = this.mcpFor(token);
    return [
      "Its token, shown only now (only its hash is stored):",
      `  ${token}`,
      "",
      "For Claude Code:",
      `  ${mcp.claudeMcpAdd}`,
      "",
      "For an MCP client's configuration (.mcp.json and the like):",
      JSON.stringify(mcp.mcpConfig, null, 2),
      "",
      "For GraphQL and scripts:",
      `  export AGENT_HQ_TOKEN=${token}`,
    ].join("\n");
  }
}

async function migrate(env: Env): Promise<number> {
  const [{ ConfigError, loadConfig }, { applyMigrations }] = await Promise.all([import("./config.js"), import("./infra/migrate.js")]);
  try {
    const config = loadConfig(env);
    const applied = await applyMigrations(config.database, config.DATABASE_URL);
    console.log(applied.length ? `applied ${applied.length} migration(s): ${applied.join(", ")}` : "database is up to date");
    return 0;
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : error);
    return 1;
  }
}

/**
 * Runs `npm start`'s command (scripts/start.mjs, with the same Node flags, read from
 * package.json so there is one place for them) as a child, passing it the signals that
 * stop it; resolves with its exit status.
 */
function start(env: Env): Promise<number> {
  const script = (JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8")) as { scripts: { start: string } }).scripts.start;
  const flags = script.split(/\s+/).filter((word) => word.startsWith("--"));
  const child = spawn(process.execPath, [...flags, join(projectRoot, "scripts", "start.mjs")], { env, stdio: "inherit" });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  const signals = ["SIGINT", "SIGTERM"] as const;
  for (const s of signals) process.on(s, forward);
  return new Promise((resolve) =>
    child.once("close", (code, signal) => {
      for (const s of signals) process.off(s, forward);
      resolve(code ?? (signal === "SIGINT" || signal === "SIGTERM" ? 0 : 1));
    }),
  );
}
