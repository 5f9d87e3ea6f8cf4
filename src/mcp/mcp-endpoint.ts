// The MCP endpoint (Streamable HTTP) beside GraphQL on the same port: the same bearer
// tokens, the same per-agent rate limit, and tools that each call one domain service.
// Stateless: every POST gets its own server and transport, so any instance can answer
// any request, as for GraphQL. Tool input is parsed here, so a malformed call is
// BAD_USER_INPUT like any refusal; errors carry the codes GraphQL puts in extensions.code.
// A success carries structuredContent checked against the tool's outputSchema here, as the
// SDK's McpServer would check it.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { z } from "zod";
import type { CallToolResult, ListToolsResult } from "@modelcontextprotocol/sdk/types.js";
import { AppError, BadInputError, NotFoundError, RateLimitedError, UnauthenticatedError, type ErrorCode } from "../errors.js";
import { httpOf } from "../graphql/errors.js";
import { LIMITS } from "../graphql/limits.js";
import type { RateLimiter } from "../graphql/rate-limit.js";
import { unavailableFrom } from "../infra/db.js";
import type { Viewer } from "../modules/agents/agents.service.js";
import { bearerToken } from "../modules/agents/token.js";
import { unstorableText } from "../validation.js";
import type { Services } from "../services.js";
import type { Tool, ToolContext } from "./tool.js";
import { claimTools } from "./tools/claims.js";
import { contextTools } from "./tools/context.js";
import { eventTools } from "./tools/events.js";
import { knowledgeTools } from "./tools/knowledge.js";
import { messageTools } from "./tools/messages.js";
import { taskTools } from "./tools/tasks.js";
import { teamTools } from "./tools/teams.js";

export const MCP_PATH = "/mcp";

/** A tool call costs what a mutation field costs on the GraphQL side. */
export const TOOL_CALL_COST = 5;

export const TOOLS: Tool[] = [...eventTools, ...teamTools, ...taskTools, ...claimTools, ...messageTools, ...contextTools, ...knowledgeTools];

/**
 * The tool sets a client picks with `/mcp?tools=<set>` (or the header `x-agent-hq-tools`), so
 * an agent's model reads only the tools its job uses. "lead", the default, is every tool;
 * "worker" is the tools marked `worker`: take and do tasks, messages, context, waiting.
 */
export const TOOL_SETS = ["lead", "worker"] as const;
export type ToolSet = (typeof TOOL_SETS)[number];
export const TOOL_SET_HEADER = "x-agent-hq-tools";

const INSTRUCTIONS = `agent-hq is the headquarters your team of agents shares: a task board, messages, shared context and knowledge.
Start with whoami. Tasks are named by their #number on a team's board. "team" (a name or ID) may be left out when you belong to one team.
To work on a task: claim_task or claim_next (you get a claim token), write progress with dashboard_append, finish with update_task status completed, passing claim_token each time: a write is refused (CONFLICT) once your claim was lost or taken again, so renew_claim before the lease runs out.
Errors start with a code: CONFLICT (someone else holds it, or a stale version), NOT_FOUND, FORBIDDEN, BAD_USER_INPUT, RATE_LIMITED.`;

export interface McpDeps {
  services: Services;
  /** The agent a bearer token belongs to, or null. */
  authenticate(token: string): Promise<Viewer | null>;
  /** The per-agent budget GraphQL spends too (key `agent:<id>`). */
  rateLimiter: RateLimiter;
  /** Calls without a valid token spend their address's budget here (key `ip:<address>`), as on GraphQL. */
  addressLimiter?: RateLimiter;
  logger: Logger;
  /** Origins whose web pages may call the endpoint (MCP_ALLOWED_ORIGINS). */
  allowedOrigins: readonly string[];
}

export function isMcpPath(url: string | undefined): boolean {
  return url === MCP_PATH || (url !== undefined && url.startsWith(`${MCP_PATH}?`));
}

// The SDK (with ajv and its JSON Schema tooling, over a hundred modules) loads on the first
// MCP request rather than at every start, where it was about a sixth of the server's
// start-up CPU time (measured). The low-level Server is used because McpServer validates
// tool input itself and answers failures as uncoded text, where agents here get
// BAD_USER_INPUT naming the field.
const importSdk = () =>
  Promise.all([
    import("@modelcontextprotocol/sdk/server/index.js"),
    import("@modelcontextprotocol/sdk/server/streamableHttp.js"),
    import("@modelcontextprotocol/sdk/types.js"),
  ]);
let sdk: ReturnType<typeof importSdk> | undefined;

/** The tools of each set, by name; each set's tools/list is built on first use (as the SDK loads). */
function toolSets() {
  return new Map(
    TOOL_SETS.map((set) => {
      const tools = TOOLS.filter((t) => set === "lead" || t.worker);
      return [set, { tools, byName: new Map(tools.map((t) => [t.name, t])), listed: undefined as ListToolsResult | undefined }];
    }),
  );
}

interface Endpoint {
  deps: McpDeps;
  sets: ReturnType<typeof toolSets>;
}

async function call({ deps, sets }: Endpoint, viewer: Viewer, set: ToolSet, name: string, args: unknown, requestId: string): Promise<CallToolResult> {
  try {
    const tool = sets.get(set)!.byName.get(name);
    if (!tool) throw new NotFoundError(`no tool named "${name}"${set === "lead" ? "" : ` in the ${set} tool set (/mcp without ?tools= has every tool)`}; tools/list names them.`);
    const wait = await deps.rateLimiter.take(`agent:${viewer.id}`, TOOL_CALL_COST);
    if (wait) throw new RateLimitedError(wait, `rate limit exceeded for agent ${viewer.name}`);
    // Text that cannot be stored as sent (NUL, a lone surrogate); GraphQL refuses it at its edge too.
    const badText = unstorableText(args, "", "arguments");
    if (badText) throw badText;
    const input = parseArguments(tool, args ?? {});
    const ctx: ToolContext = { services: deps.services, viewer };
    const answer = await tool.run(ctx, input);
    const data = tool.output.safeParse(answer.data);
    if (!data.success) throw new Error(`tool ${name} answered outside its output schema: ${data.error.message}`);
    return { content: [{ type: "text", text: answer.text }], structuredContent: data.data };
  } catch (error) {
    const known = error instanceof AppError ? error : unavailableFrom(error);
    if (known) return failure(known.code, known.message, known.details);
    deps.logger.error({ err: error, requestId, tool: name }, "unexpected error in an MCP tool");
    return failure("INTERNAL_SERVER_ERROR", `unexpected error (request id ${requestId})`, { requestId });
  }
}

/** The caller, or null once refused here: no token, a bad one, or past the address's budget. */
async function callerOf({ deps }: Endpoint, req: IncomingMessage, res: ServerResponse): Promise<Viewer | null> {
  const token = bearerToken(req.headers.authorization);
  const viewer = token === null ? null : await deps.authenticate(token);
  if (viewer) return viewer;
  const wait = (await deps.addressLimiter?.take(`ip:${req.socket.remoteAddress ?? "unknown"}`, 1)) ?? 0;
  if (wait) refuseWith(res, new RateLimitedError(wait, `rate limit exceeded for address ${req.socket.remoteAddress}`));
  else {
    const message = token === null ? "send your bearer token: Authorization: Bearer <token> (registerAgent gives you one)" : "the bearer token is unknown or revoked; register again or use a valid token";
    refuseWith(res, new UnauthenticatedError(message), { "www-authenticate": 'Bearer realm="agent-hq"' });
  }
  return null;
}

/** One stateless exchange: an MCP server and transport for this request alone. */
async function exchange(endpoint: Endpoint, viewer: Viewer, set: ToolSet, req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
  const [{ Server }, { StreamableHTTPServerTransport }, { CallToolRequestSchema, ListToolsRequestSchema }] = await (sdk ??= importSdk());
  const server = new Server({ name: "agent-hq", version: "0.1.0" }, { capabilities: { tools: {} }, instructions: INSTRUCTIONS });
  const chosen = endpoint.sets.get(set)!;
  server.setRequestHandler(ListToolsRequestSchema, () => (chosen.listed ??= { tools: chosen.tools.map(describe) }));
  server.setRequestHandler(CallToolRequestSchema, (request) => call(endpoint, viewer, set, request.params.name, request.params.arguments, requestId));
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true, maxRequestBodySize: LIMITS.bodyBytes });
  res.once("close", () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res);
}

export function createMcpHandler(deps: McpDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const endpoint: Endpoint = { deps, sets: toolSets() };
  return async (req, res) => {
    const requestId = String(res.getHeader("x-request-id") ?? "");
    if (!allowOrigin(req, res, deps.allowedOrigins)) return;
    try {
      const set = toolSetOf(req);
      if (!set) return refuse(res, 400, "BAD_USER_INPUT", `unknown tool set; ask for one of ${TOOL_SETS.join(", ")} (?tools= or ${TOOL_SET_HEADER}), or none for every tool`);
      const viewer = await callerOf(endpoint, req, res);
      if (!viewer) return;
      // Stateless: nothing to stream on GET and no session to DELETE.
      if (req.method !== "POST") return refuse(res, 405, "METHOD_NOT_ALLOWED", "this MCP endpoint is stateless: POST JSON-RPC messages", { allow: "POST" });
      deps.services.presence.markSeen(viewer.id);
      await exchange(endpoint, viewer, set, req, res, requestId);
    } catch (error) {
      const unavailable = unavailableFrom(error);
      if (unavailable && !res.headersSent) return refuseWith(res, unavailable);
      deps.logger.error({ err: error, requestId }, "MCP request failed");
      if (!res.headersSent) refuse(res, 500, "INTERNAL_SERVER_ERROR", `unexpected error (request id ${requestId})`);
      else res.end();
    }
  };
}

/**
 * Browsers send Origin; agents' MCP clients do not. A web page may call the endpoint only
 * from a listed origin: the MCP transport requires this check against DNS rebinding (a page
 * whose name was rebound to a local server's address, calling it from the user's browser).
 * A listed origin gets CORS headers and its preflight answered. False when answered here.
 */
function allowOrigin(req: IncomingMessage, res: ServerResponse, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  res.setHeader("vary", "Origin");
  if (!allowed.includes(origin)) {
    refuse(res, 403, "FORBIDDEN", `web pages from ${origin} may not call this endpoint; list their origin in MCP_ALLOWED_ORIGINS to allow them`);
    return false;
  }
  res.setHeader("access-control-allow-origin", origin);
  res.setHeader("access-control-expose-headers", "www-authenticate, retry-after, x-request-id");
  if (req.method !== "OPTIONS") return true;
  res.writeHead(204, {
    // GET and DELETE too, so a browser client sees this stateless endpoint's 405, not a CORS failure.
    "access-control-allow-methods": "GET, POST, DELETE",
    "access-control-allow-headers": "authorization, content-type, accept, mcp-protocol-version",
    "access-control-max-age": "600",
  });
  res.end();
  return false;
}

/** The tool set a request asks for: the query's `tools`, else the header; "lead" when neither; null when unknown. */
function toolSetOf(req: IncomingMessage): ToolSet | null {
  const query = req.url?.includes("?") ? new URLSearchParams(req.url.slice(req.url.indexOf("?") + 1)).get("tools") : null;
  const header = req.headers[TOOL_SET_HEADER];
  const asked = query ?? (typeof header === "string" ? header : undefined) ?? "lead";
  return TOOL_SETS.find((s) => s === asked.trim().toLowerCase()) ?? null;
}

/** A tool's arguments, parsed; the first problem is BAD_USER_INPUT naming the argument. */
function parseArguments(tool: Tool, args: unknown): z.output<Tool["input"]> {
  const result = tool.input.safeParse(args, { error: (issue) => (issue.input === undefined ? "is required" : undefined) });
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new BadInputError(issue.path.join(".") || "arguments", issue.message);
}

/** A tool's entry in tools/list: its input and output schemas as portable JSON Schema. */
function describe(tool: Tool): ListToolsResult["tools"][number] {
  return {
    name: tool.name,
    description: tool.description,
    inputSchema: jsonSchema(tool.input, "input") as ListToolsResult["tools"][number]["inputSchema"],
    outputSchema: outputSchema(tool) as ListToolsResult["tools"][number]["outputSchema"],
    annotations: tool.readOnly ? { readOnlyHint: true } : { readOnlyHint: false, destructiveHint: false },
  };
}

/**
 * A schema as JSON Schema every client can map, whatever dialect it translates tool schemas
 * into (Gemini's OpenAPI subset has no type arrays; some clients reject an empty schema):
 * the rules test/api/mcp-schemas.test.ts checks, as the MCP Inspector's schema lint does.
 */
function jsonSchema(schema: z.ZodObject, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _, ...json } = z.toJSONSchema(schema, { io });
  return portable(json);
}

/**
 * The outputSchema in tools/list: the tool's answer, or the structured content of an error
 * (`{ code, message, …details }`). The SDK's own client (1.x) checks an error's structured
 * content against the outputSchema too (typescript-sdk issue #1943), and would throw on
 * every refusal of a tool whose schema admits only the answer; a server cannot change the
 * client, so the schema admits both. The root stays one object type, as clients require.
 */
function outputSchema(tool: Tool): Record<string, unknown> {
  const { type, ...answer } = jsonSchema(tool.output, "output");
  return { type, anyOf: [answer, ERROR_CONTENT] };
}

/** An error's structured content: the code GraphQL puts in extensions.code, the message, and its details. */
const ERROR_CONTENT = { properties: { code: { type: "string" }, message: { type: "string" } }, required: ["code", "message"] };

/** Rewrites, in place and through every subschema, what zod writes in a less portable way. */
function portable(node: Record<string, unknown>): Record<string, unknown> {
  // Records carry `propertyNames: { type: "string" }`, which every JSON object satisfies.
  if ((node.propertyNames as { type?: string } | undefined)?.type === "string") delete node.propertyNames;
  // A free-form object or list (payload, metadata, a context value): `true` and no `items`
  // say "any value" in the spelling linters accept, where zod writes an empty schema.
  if (isEmpty(node.additionalProperties)) node.additionalProperties = true;
  if (isEmpty(node.items)) delete node.items;
  // A union of plain types (a task's number or ID), which zod compacts into a `type` array
  // after every override, as `anyOf` branches of one type each.
  if (Array.isArray(node.type)) {
    node.anyOf = node.type.map((type) => ({ type }));
    delete node.type;
  }
  // z.number().int() bounds itself to safe integers: noise a model would read.
  if (node.minimum === Number.MIN_SAFE_INTEGER) delete node.minimum;
  if (node.maximum === Number.MAX_SAFE_INTEGER) delete node.maximum;
  const children = [
    ...Object.values((node.properties ?? {}) as Record<string, unknown>),
    ...((node.anyOf ?? []) as unknown[]),
    node.items,
    node.additionalProperties,
  ];
  for (const child of children) if (typeof child === "object" && child !== null) portable(child as Record<string, unknown>);
  return node;
}

const isEmpty = (value: unknown) => typeof value === "object" && value !== null && Object.keys(value).length === 0;

/** A tool error: `CODE: message` for the model, and the code with its details for programs. */
function failure(code: ErrorCode | "INTERNAL_SERVER_ERROR", message: string, details: Record<string, unknown> = {}): CallToolResult {
  return { isError: true, content: [{ type: "text", text: `${code}: ${message}` }], structuredContent: { code, message, ...details } };
}

/** A domain error as an HTTP refusal, with the status and headers GraphQL would answer it with. */
function refuseWith(res: ServerResponse, error: AppError, headers: Record<string, string> = {}): void {
  const http = httpOf(error);
  refuse(res, http?.status ?? 400, error.code, error.message, { ...http?.headers, ...headers });
}

/** An HTTP refusal with a JSON-RPC error body; `data.code` is the code GraphQL would use. */
function refuse(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message: `${code}: ${message}`, data: { code } }, id: null }));
}
