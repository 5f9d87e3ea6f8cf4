// Clients for tests: GraphQL over HTTP, over SSE, and graphql-ws, as agent code would use them.
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import type { TestServer } from "./server.js";

export interface GqlError {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string } & Record<string, unknown>;
}
export interface GqlResult<T = any> {
  data?: T | null;
  errors?: GqlError[];
}

export async function gql<T = any>(url: string, query: string, variables?: Record<string, unknown>, token?: string): Promise<GqlResult<T>> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/graphql-response+json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GqlResult<T>;
}

/** An agent with its own token, talking to one server. */
export class TestAgent {
  constructor(
    readonly server: TestServer,
    readonly name: string,
    public token: string,
    readonly id: string,
  ) {}

  run<T = any>(query: string, variables?: Record<string, unknown>): Promise<GqlResult<T>> {
    return gql<T>(this.server.url, query, variables, this.token);
  }

  /** Runs an operation that must succeed; returns its data. */
  async ok<T = any>(query: string, variables?: Record<string, unknown>): Promise<T> {
    const result = await this.run<T>(query, variables);
    if (result.errors?.length) throw new Error(`expected success, got ${JSON.stringify(result.errors)}`);
    return result.data as T;
  }

  /** Runs an operation that must fail; returns its first error. */
  async fails(query: string, variables?: Record<string, unknown>): Promise<GqlError & { code: string | undefined }> {
    const result = await this.run(query, variables);
    const error = result.errors?.[0];
    if (!error) throw new Error(`expected an error, got ${JSON.stringify(result.data)}`);
    return { ...error, code: error.extensions?.code };
  }

  subscribe(transport: Transport, query: string, variables?: Record<string, unknown>): Subscription {
    return subscribe(transport, this.server, this.token, query, variables);
  }
}

export async function registerAgent(server: TestServer, name: string, extra: Record<string, unknown> = {}): Promise<TestAgent> {
  const result = await gql(server.url, `mutation($input: RegisterAgentInput!) { registerAgent(input: $input) { token agent { id } } }`, {
    input: { name, ...extra },
  });
  if (result.errors) throw new Error(JSON.stringify(result.errors));
  return new TestAgent(server, name, result.data.registerAgent.token, result.data.registerAgent.agent.id);
}

export async function createTeam(lead: TestAgent, name = "team", members: [TestAgent, string][] = []): Promise<string> {
  const data = await lead.ok(`mutation($input: CreateTeamInput!) { createTeam(input: $input) { id } }`, { input: { name, role: "lead" } });
  const teamId = data.createTeam.id as string;
  for (const [agent, role] of members) {
    await lead.ok(`mutation($t: ID!, $n: String!, $r: String!) { addTeamMember(teamId: $t, agentName: $n, role: $r) { role } }`, { t: teamId, n: agent.name, r: role });
  }
  return teamId;
}

export type Transport = "ws" | "sse";

/** A live subscription: results arrive in order; `close` ends it from the client side. */
export interface Subscription {
  next(timeoutMs?: number): Promise<GqlResult>;
  /** Resolves when the server completes the subscription. */
  readonly done: Promise<void>;
  close(): Promise<void>;
}

class Inbox {
  private items: GqlResult[] = [];
  private waiters: ((r: GqlResult | null) => void)[] = [];
  ended = false;
  private endedResolve!: () => void;
  readonly done = new Promise<void>((r) => (this.endedResolve = r));
  failure: unknown = null;

  push(r: GqlResult) {
    const waiter = this.waiters.shift();
    if (waiter) waiter(r);
    else this.items.push(r);
  }
  end(error?: unknown) {
    if (this.ended) return;
    this.ended = true;
    this.failure = error ?? null;
    for (const w of this.waiters.splice(0)) w(null);
    this.endedResolve();
  }
  next(timeoutMs = 10_000): Promise<GqlResult> {
    const item = this.items.shift();
    if (item) return Promise.resolve(item);
    if (this.ended) return Promise.reject(new Error(`subscription ended${this.failure ? `: ${String(this.failure)}` : ""}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no event within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((r) => {
        clearTimeout(timer);
        if (r) resolve(r);
        else reject(new Error(`subscription ended${this.failure ? `: ${String(this.failure)}` : ""}`));
      });
    });
  }
}

export function subscribe(transport: Transport, server: TestServer, token: string | null, query: string, variables?: Record<string, unknown>): Subscription {
  return transport === "ws" ? subscribeWs(server, token, query, variables) : subscribeSse(server, token, query, variables);
}

function subscribeWs(server: TestServer, token: string | null, query: string, variables?: Record<string, unknown>): Subscription {
  const inbox = new Inbox();
  const client: Client = createClient({
    url: server.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    on: { closed: (event) => inbox.end(`socket closed ${(event as { code?: number }).code ?? ""}`) },
  });
  client.subscribe(
    { query, variables },
    { next: (r) => inbox.push(r as GqlResult), error: (e) => inbox.end(Array.isArray(e) ? JSON.stringify(e) : e), complete: () => inbox.end() },
  );
  return {
    next: (t) => inbox.next(t),
    done: inbox.done,
    close: async () => {
      await client.dispose();
      inbox.end();
    },
  };
}

function subscribeSse(server: TestServer, token: string | null, query: string, variables?: Record<string, unknown>): Subscription {
  const inbox = new Inbox();
  const abort = new AbortController();
  void (async () => {
    const response = await fetch(server.url, {
      method: "POST",
      signal: abort.signal,
      headers: { "content-type": "application/json", accept: "text/event-stream", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const message = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = /^event: (.*)$/m.exec(message)?.[1];
        const data = message.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
        if (event === "complete") return inbox.end();
        if (data) inbox.push(JSON.parse(data) as GqlResult);
      }
    }
    inbox.end();
  })().catch((error: unknown) => inbox.end(abort.signal.aborted ? undefined : error));
  return {
    next: (t) => inbox.next(t),
    done: inbox.done,
    close: async () => {
      abort.abort();
      inbox.end();
    },
  };
}
