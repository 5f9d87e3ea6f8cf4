// A tiny client for agent-hq, as agent code would write it: plain `fetch` for queries and
// mutations, graphql-ws for subscriptions. Nothing here is specific to the examples.
import { randomBytes } from "node:crypto";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

export const HQ_URL = process.env.HQ_URL ?? "http://localhost:4000/graphql";
const WS_URL = HQ_URL.replace(/^http/, "ws");

/** A refusal from the server: `code` is its stable extensions.code (CONFLICT, FORBIDDEN, …). */
export class HqError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(`${code}: ${message}`);
  }
}

/** One GraphQL request over HTTP; returns `data`, or throws the first error. */
export async function request<T = any>(query: string, variables: Record<string, unknown> = {}, token?: string): Promise<T> {
  const response = await fetch(HQ_URL, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json().catch(() => null)) as { data?: T; errors?: { message: string; extensions?: Record<string, unknown> }[] } | null;
  if (!body) throw new Error(`HTTP ${response.status} from ${HQ_URL}`);
  const error = body.errors?.[0];
  if (error) throw new HqError(String(error.extensions?.code ?? "ERROR"), error.message, error.extensions);
  return body.data as T;
}

/** A journal row, as every subscription delivers it. */
export interface HqEvent {
  cursor: number;
  kind: string;
  subjectId: string;
  payload: Record<string, any>;
  actor: { name: string } | null;
}

/** A live subscription: its events arrive in order and wait in a buffer until read. */
export class Live<T = HqEvent> implements AsyncIterable<T> {
  private buffer: T[] = [];
  private waiting: (() => void)[] = [];
  private ended = false;
  private failure: Error | null = null;

  constructor(private readonly stop: () => void) {}

  push(value: T) {
    this.buffer.push(value);
    this.wake();
  }
  end(failure?: Error) {
    this.ended = true;
    this.failure ??= failure ?? null;
    this.wake();
  }
  close() {
    this.stop();
    this.end();
  }
  private wake() {
    for (const w of this.waiting.splice(0)) w();
  }

  /** The next event; rejects after `timeoutMs`, or when the subscription ends. */
  async next(timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (this.buffer.length === 0) {
      if (this.failure) throw this.failure;
      if (this.ended) throw new Error("the subscription ended");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiting.push(() => (clearTimeout(timer), resolve()));
      });
    }
    return this.buffer.shift()!;
  }

  async *[Symbol.asyncIterator]() {
    for (;;) {
      if (this.buffer.length === 0 && this.ended && !this.failure) return;
      try {
        yield await this.next(2 ** 31 - 1);
      } catch (error) {
        if (this.ended && !this.failure) return;
        throw error;
      }
    }
  }
}

/** Waits on a subscription for the first event matching `predicate` (skipping the others). */
export async function waitFor<T>(live: Live<T>, predicate: (event: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const event = await live.next(Math.max(1, deadline - Date.now())).catch((error: Error) => {
      throw new Error(`waited ${timeoutMs} ms for an event: ${error.message}`);
    });
    if (predicate(event)) return event;
  }
}

const everyone = new Set<Agent>();

/** A registered agent: its name, its token, and one WebSocket for its subscriptions. */
export class Agent {
  private ws: Client | undefined;
  private lives = new Set<Live<any>>();

  private constructor(
    /** What the narrative calls it (planner, worker, …). */
    readonly role: string,
    /** Its unique name on the server, such as planner-3fa2c1. */
    readonly name: string,
    readonly id: string,
    readonly token: string,
  ) {
    everyone.add(this);
  }

  /** Registers `<role>-<random suffix>`, so that an example can run again on the same server. */
  static async register(role: string, description?: string): Promise<Agent> {
    const name = `${role}-${randomBytes(3).toString("hex")}`;
    const registrationKey = process.env.HQ_REGISTRATION_KEY;
    const { registerAgent } = await request(
      `mutation($input: RegisterAgentInput!) { registerAgent(input: $input) { token agent { id name } } }`,
      { input: { name, description, ...(registrationKey ? { registrationKey } : {}) } },
    );
    return new Agent(role, registerAgent.agent.name, registerAgent.agent.id, registerAgent.token);
  }

  request<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    return request<T>(query, variables, this.token);
  }

  /** Runs an operation that the server must refuse; returns the refusal. */
  async refused(query: string, variables: Record<string, unknown> = {}): Promise<HqError> {
    try {
      await this.request(query, variables);
    } catch (error) {
      if (error instanceof HqError) return error;
      throw error;
    }
    throw new Error("expected the server to refuse this operation, but it succeeded");
  }

  /** Subscribes over graphql-ws; yields the value of the subscription's one root field. */
  subscribe<T = HqEvent>(query: string, variables: Record<string, unknown> = {}): Live<T> {
    this.ws ??= createClient({
      url: WS_URL,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${this.token}` },
      retryAttempts: 0,
    });
    let live!: Live<T>;
    const unsubscribe = this.ws.subscribe<Record<string, T>>(
      { query, variables },
      {
        next: (result) => {
          if (result.errors?.length) live.end(new Error(result.errors.map((e) => e.message).join("; ")));
          else live.push(Object.values(result.data ?? {})[0] as T);
        },
        error: (error) => live.end(new Error(`subscription failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`)),
        complete: () => live.end(),
      },
    );
    live = new Live<T>(unsubscribe);
    this.lives.add(live);
    return live;
  }

  /** Prints one line of the story. */
  say(text: string) {
    console.log(`${`[${this.role}]`.padEnd(14)} ${text}`);
  }

  async close() {
    everyone.delete(this);
    for (const live of this.lives) live.end();
    await this.ws?.dispose();
  }
}

/** Stops the example (exit code 1) unless `condition` holds. */
export function check(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`check failed: ${what}`);
}

/** Runs an example: closes every agent's WebSocket at the end, and exits 1 on any failure. */
export function main(story: () => Promise<void>): void {
  story().then(
    async () => {
      await Promise.all([...everyone].map((a) => a.close()));
      console.log("done.");
    },
    async (error: unknown) => {
      console.error(`FAILED: ${error instanceof Error ? error.message : String(error)}`);
      await Promise.all([...everyone].map((a) => a.close())).catch(() => {});
      process.exit(1);
    },
  );
}
