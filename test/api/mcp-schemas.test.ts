// What an MCP client reads in tools/list, over the real /mcp endpoint with the SDK's client:
// schemas every client can map (the MCP Inspector's schema lint, plus rules of ours), and the
// tool sets a client picks so that its model reads only the tools its job uses.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerAgent, type TestAgent } from "../helpers/client.js";
import { startServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
let agent: TestAgent;
const clients: Client[] = [];

beforeAll(async () => {
  server = await startServer();
  agent = await registerAgent(server, "schema-reader");
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server.close();
});

const mcpUrl = (query = "") => server.url.replace(/\/graphql$/, `/mcp${query}`);

async function connect(query = "", headers: Record<string, string> = {}, as: TestAgent = agent): Promise<Client> {
  const client = new Client({ name: "schema-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl(query)), { requestInit: { headers: { authorization: `Bearer ${as.token}`, ...headers } } }));
  clients.push(client);
  return client;
}

const listTools = async (query = "", headers: Record<string, string> = {}) => (await (await connect(query, headers)).listTools()).tools;

// ---- the lint ----------------------------------------------------------------------------

type Schema = Record<string, unknown>;
interface Finding {
  tool: string;
  path: string;
  rule: string;
}

/** Keywords that constrain a value (the Inspector's list, less the rare ones): a schema with none accepts anything. */
const CONSTRAINING = ["type", "enum", "const", "anyOf", "oneOf", "allOf", "not", "$ref", "properties", "required", "items", "additionalProperties", "pattern", "minimum", "maximum"];
/** Where `true`/`false` is a schema by design. */
const BOOLEAN_OK = new Set(["additionalProperties", "unevaluatedProperties", "additionalItems", "unevaluatedItems"]);
/** Properties whose shape is the caller's own: the only free-form values allowed. */
const FREE_FORM = new Set(["payload", "metadata", "value"]);

const allowsNull = (s: Schema): boolean => [s.type].flat().includes("null") || (Array.isArray(s.anyOf) && (s.anyOf as Schema[]).some(allowsNull));

/**
 * The MCP Inspector's schema lint (2.12.0: type-union, remote-ref, untyped-schema,
 * boolean-schema), and ours: no free-form object or list where a shape is known, no null
 * allowed on an optional property (absent says "none" already), every argument described.
 */
function lint(tool: string, kind: "inputSchema" | "outputSchema", root: Schema): Finding[] {
  const findings: Finding[] = [];
  const add = (path: string, rule: string) => findings.push({ tool, path: `${kind}${path}`, rule });
  const walk = (node: unknown, path: string, keyword: string | undefined, property: string | undefined): void => {
    if (typeof node === "boolean") {
      if (!keyword || !BOOLEAN_OK.has(keyword)) add(path, "boolean-schema");
      return;
    }
    if (typeof node !== "object" || node === null) return;
    const s = node as Schema;
    if (Array.isArray(s.type)) add(path, "type-union");
    if (typeof s.$ref === "string" && !s.$ref.startsWith("#")) add(path, "remote-ref");
    if (!CONSTRAINING.some((k) => k in s) && keyword !== "not") add(path, "untyped-schema");
    const shaped = ["properties", "anyOf", "oneOf", "allOf"].some((k) => k in s);
    const freeObject = s.additionalProperties === true || (s.type === "object" && !shaped && s.additionalProperties === undefined);
    const freeList = s.type === "array" && s.items === undefined;
    if ((freeObject || freeList) && !FREE_FORM.has(property ?? "")) add(path, "free-form");
    if (s.properties) {
      const required = (s.required ?? []) as string[];
      for (const [name, sub] of Object.entries(s.properties as Record<string, Schema>)) {
        if (!required.includes(name) && allowsNull(sub)) add(`${path}.properties.${name}`, "nullable-optional");
        if (kind === "inputSchema" && path === "" && !sub.description) add(`${path}.properties.${name}`, "undescribed-argument");
        walk(sub, `${path}.properties.${name}`, "properties", name);
      }
    }
    for (const key of ["anyOf", "oneOf", "allOf", "prefixItems"]) {
      (s[key] as unknown[] | undefined)?.forEach((sub, i) => walk(sub, `${path}.${key}[${i}]`, key, property));
    }
    for (const key of ["items", "additionalProperties", "not", "contains", "propertyNames"]) {
      if (key in s) walk(s[key], `${path}.${key}`, key, property);
    }
    for (const key of ["$defs", "definitions", "patternProperties"]) {
      for (const [name, sub] of Object.entries((s[key] ?? {}) as Record<string, unknown>)) walk(sub, `${path}.${key}.${name}`, key, name);
    }
  };
  walk(root, "", undefined, undefined);
  if (root.type !== "object") add("", "root-not-object");
  return findings;
}

const lintTools = (tools: Tool[]) => tools.flatMap((t) => [...lint(t.name, "inputSchema", t.inputSchema), ...(t.outputSchema ? lint(t.name, "outputSchema", t.outputSchema) : [])]);

/** What a model reads of a tool: clients send it the name, the description and the input schema. */
const modelChars = (tools: Tool[]) => tools.reduce((sum, t) => sum + JSON.stringify({ name: t.name, description: t.description, input_schema: t.inputSchema }).length, 0);

describe("MCP tool schemas", () => {
  it("find what the lint looks for (the lint itself, on schemas like those tools/list had)", () => {
    const before: Schema = {
      type: "object",
      properties: {
        task: { description: "The task.", type: ["number", "string"] },
        assignee: { description: "null unassigns.", type: ["string", "null"] },
        payload: { description: "Data.", type: "object", additionalProperties: {} },
        value: { description: "Any JSON value." },
        notes: { type: "string" },
        ids: { description: "IDs.", type: "array" },
      },
      required: [],
      additionalProperties: false,
    };
    expect(lint("t", "inputSchema", before).map((f) => `${f.path} ${f.rule}`)).toEqual([
      "inputSchema.properties.task type-union",
      "inputSchema.properties.assignee nullable-optional",
      "inputSchema.properties.assignee type-union",
      "inputSchema.properties.payload.additionalProperties untyped-schema",
      "inputSchema.properties.value untyped-schema",
      "inputSchema.properties.notes undescribed-argument",
      "inputSchema.properties.ids free-form",
    ]);
  });

  it("are portable in every tool set: the Inspector's lint and ours find nothing", async () => {
    for (const query of ["", "?tools=lead", "?tools=worker"]) {
      const tools = await listTools(query);
      expect(tools.length, query).toBeGreaterThan(10);
      expect(lintTools(tools), query).toEqual([]);
      for (const tool of tools) {
        expect(tool.inputSchema.additionalProperties, tool.name).toBe(false);
        expect(tool.outputSchema, tool.name).toBeDefined();
      }
    }
  });

  it("declare an output schema a refusal's structured content fits too (clients check errors against it)", async () => {
    const tools = await listTools();
    const claim = tools.find((t) => t.name === "claim_task")!;
    expect(claim.outputSchema).toMatchObject({
      type: "object",
      anyOf: [{ properties: { claimToken: { type: "number" } }, required: ["task", "claimToken", "expiresAt"] }, { required: ["code", "message"] }],
    });
  });
});

describe("MCP tool sets", () => {
  it("lists every tool by default and for lead; the worker set by query parameter or header", async () => {
    const all = (await listTools()).map((t) => t.name);
    expect((await listTools("?tools=lead")).map((t) => t.name)).toEqual(all);
    const worker = (await listTools("?tools=worker")).map((t) => t.name);
    expect((await listTools("", { "x-agent-hq-tools": "worker" })).map((t) => t.name)).toEqual(worker);
    // The query wins over the header.
    expect((await listTools("?tools=lead", { "x-agent-hq-tools": "worker" })).map((t) => t.name)).toEqual(all);

    // A worker takes and does tasks, talks, reads and writes context; it does not run teams.
    for (const name of ["whoami", "claim_next", "claim_task", "get_task", "list_tasks", "update_task", "dashboard_write", "dashboard_append", "renew_claim", "release_claim", "get_messages", "send_message", "mark_read", "remember", "recall", "list_context"]) {
      expect(worker, name).toContain(name);
    }
    for (const name of ["create_team", "add_team_member", "create_task", "assign_role", "add_dependency", "broadcast"]) {
      expect(worker, name).not.toContain(name);
    }
    expect(all.filter((name) => worker.includes(name))).toEqual(worker);
  });

  it("refuses a call to a tool outside the chosen set with NOT_FOUND, and an unknown set with 400", async () => {
    const worker = await connect("?tools=worker");
    const refused = await worker.callTool({ name: "create_team", arguments: { name: "nope" } });
    expect(refused.isError).toBe(true);
    expect(refused.structuredContent).toMatchObject({ code: "NOT_FOUND" });
    expect((refused.content as { text: string }[])[0]!.text).toBe('NOT_FOUND: no tool named "create_team" in the worker tool set (/mcp without ?tools= has every tool); tools/list names them');
    // Nothing was created.
    expect((await (await connect()).callTool({ name: "list_teams", arguments: {} })).structuredContent).toEqual({ teams: [] });

    for (const [query, headers] of [["?tools=planner", {}], ["", { "x-agent-hq-tools": "everything" }]] as const) {
      const response = await fetch(mcpUrl(query), {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${agent.token}`, ...headers },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ jsonrpc: "2.0", error: { message: "BAD_USER_INPUT: unknown tool set; ask for one of lead, worker (?tools= or x-agent-hq-tools), or none for every tool", data: { code: "BAD_USER_INPUT" } } });
    }
  });

  it("keep what a worker's model reads small, and repeated argument text short", async () => {
    const lead = await listTools();
    const worker = await listTools("?tools=worker");
    // Before tool sets and short descriptions, the one list was 24,499 characters a model read.
    expect(modelChars(worker)).toBeLessThan(modelChars(lead) * 0.55);
    // (with room for a tool or two more).
    expect(modelChars(worker)).toBeLessThan(13_000);
    // Said on 20-odd tools, the team argument is a few words; the instructions say the rest once.
    const teamTexts = new Set(lead.flatMap((t) => ((t.inputSchema.properties ?? {}) as Record<string, Schema>).team?.description ?? []));
    for (const text of teamTexts) expect(String(text).length).toBeLessThanOrEqual(45);
  });
});
