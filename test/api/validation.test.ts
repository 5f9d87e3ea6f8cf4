// The rule of src/validation.ts that text must be storable as sent: a lone UTF-16
// surrogate (JSON's \ud800 escape alone), which no database stores as sent, is refused
// naming where it is, over HTTP, graphql-ws and MCP, while what can be stored is stored
// exactly. (input-fuzz.test.ts sends one to every argument of the schema; this is the
// rule in detail.)
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTeam, registerAgent, type GqlResult, type TestAgent } from "../helpers/client.js";
import { drain } from "../helpers/drain.js";
import { startServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
let me: TestAgent;
let own: { team: string; task: string };
beforeAll(async () => {
  server = await startServer();
  me = await registerAgent(server, "unicode-me");
  const team = await createTeam(me, "unicode");
  const task = (await me.ok(`mutation($t: ID!) { createTask(teamId: $t, input: { title: "first" }) { id } }`, { t: team })).createTask.id as string;
  own = { team, task };
});
afterAll(() => server?.close());

const post = async (query: string, variables: Record<string, unknown>): Promise<{ body: GqlResult }> => ({ body: await me.run(query, variables) });

describe("a lone UTF-16 surrogate (JSON's \\ud800 escape alone)", () => {
  const CREATE = `mutation($t: ID!, $input: CreateTaskInput!) { createTask(teamId: $t, input: $input) { id title } }`;
  const taskCount = () => server.app.services.db.reader.task.count();
  /** The MCP endpoint, as agent MCP clients call it; closed after each test. */
  async function mcpCall(name: string, args: Record<string, unknown>) {
    const client = new Client({ name: "bad-input", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url.replace(/\/graphql$/, "/mcp")), { requestInit: { headers: { authorization: `Bearer ${me.token}` } } }));
    try {
      return (await client.callTool({ name, arguments: args })) as { isError?: boolean; content: { text: string }[]; structuredContent?: Record<string, unknown> };
    } finally {
      await client.close();
    }
  }

  it("in a variable is refused with BAD_USER_INPUT naming the variable, and nothing is stored", async () => {
    const before = await taskCount();
    for (const [title, at] of [["a\ud800b", "character 2 is a lone surrogate (U+D800)"], ["\udc00end", "character 1 is a lone surrogate (U+DC00)"], ["pair reversed \udc00\ud800", "character 15 is a lone surrogate (U+DC00)"]]) {
      const answer = await post(CREATE, { t: own.team, input: { title } });
      expect(answer.body?.errors, JSON.stringify(title)).toHaveLength(1);
      const error = answer.body!.errors![0]!;
      expect(error.extensions?.code).toBe("BAD_USER_INPUT");
      expect(error.message).toBe(`$input.title: text must be valid Unicode: ${at}, half of a pair, which cannot be stored`);
      expect(error.extensions?.field).toBe("$input.title");
      expect(answer.body?.data ?? null).toBeNull();
    }
    // In a list, in JSON, and in a JSON key.
    const inList = await post(CREATE, { t: own.team, input: { title: "ok", blockedBy: [own.task, "x\ud800"] } });
    expect(inList.body?.errors?.[0]?.message).toMatch(/^\$input\.blockedBy\[1\]: text must be valid Unicode/);
    const inJson = await post(CREATE, { t: own.team, input: { title: "ok", metadata: { notes: ["fine", { deep: "\ud83d" }] } } });
    expect(inJson.body?.errors?.[0]?.message).toMatch(/^\$input\.metadata\.notes\[1\]\.deep: text must be valid Unicode/);
    const inKey = await post(CREATE, { t: own.team, input: { title: "ok", metadata: { "k\udfff": 1 } } });
    expect(inKey.body?.errors?.[0]?.message).toMatch(/^\$input\.metadata: a key must be valid Unicode: character 2 is a lone surrogate \(U\+DFFF\)/);
    expect(await taskCount()).toBe(before);
  });

  it("is refused in the query text too (by GraphQL's parser), while a surrogate pair and U+FFFD itself are stored exactly", async () => {
    const before = await taskCount();
    const literal = await post(`mutation($t: ID!) { createTask(teamId: $t, input: { title: "a\\ud800b" }) { id } }`, { t: own.team });
    expect(literal.body?.errors?.[0]?.extensions?.code).toBe("GRAPHQL_PARSE_FAILED");
    expect(literal.body?.errors?.[0]?.message).toMatch(/Invalid Unicode escape sequence/);
    expect(await taskCount()).toBe(before);
    const exact = "a\u{1F600}b \uFFFD \ud83d\ude00";
    const created = await post(CREATE, { t: own.team, input: { title: exact, metadata: { [exact]: exact } } });
    expect(created.body?.errors).toBeUndefined();
    const id = (created.body!.data!.createTask as { id: string }).id;
    const read = await post(`query($id: ID!) { task(id: $id) { title metadata } }`, { id });
    expect(read.body?.data?.task).toEqual({ title: exact, metadata: { [exact]: exact } });
  });

  it("over graphql-ws is refused the same way", async () => {
    const before = await taskCount();
    const sub = me.subscribe("ws", CREATE, { t: own.team, input: { title: "a\ud800b" } });
    try {
      const drained = await drain(sub, 10_000);
      const errors = [...drained.results.flatMap((r) => r.errors ?? []), ...drained.failure];
      expect(errors.map((e) => [e.extensions?.code, e.message.slice(0, 45)])).toEqual([["BAD_USER_INPUT", "$input.title: text must be valid Unicode: cha"]]);
    } finally {
      await sub.close();
    }
    expect(await taskCount()).toBe(before);
  });

  it("in an MCP tool's arguments is refused with BAD_USER_INPUT naming the argument, and nothing is stored", async () => {
    const before = await taskCount();
    const answer = await mcpCall("create_task", { team: own.team, title: "a\ud800b" });
    expect(answer.isError).toBe(true);
    expect(answer.content[0]!.text).toBe("BAD_USER_INPUT: title: text must be valid Unicode: character 2 is a lone surrogate (U+D800), half of a pair, which cannot be stored");
    expect(answer.structuredContent).toMatchObject({ code: "BAD_USER_INPUT", field: "title" });
    const nested = await mcpCall("create_task", { team: own.team, title: "ok", blocked_by: [1, "\udc00"] });
    expect(nested.content[0]!.text).toMatch(/^BAD_USER_INPUT: blocked_by\[1\]: text must be valid Unicode/);
    expect(await taskCount()).toBe(before);
    // A surrogate pair is stored as sent.
    expect((await mcpCall("create_task", { team: own.team, title: "ok \u{1F600}" })).isError).toBeFalsy();
    expect(await server.app.services.db.reader.task.count({ where: { title: "ok \u{1F600}" } })).toBe(1);
  });
});
