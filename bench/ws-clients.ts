// Fan-out subscribers: a separate process (pinned to the load core by bench/run.ts)
// holding many graphql-ws connections, each subscribed to one team's events. It
// timestamps every event the writer caused (events carrying `metadata.seq` in their
// payload) and reports delivery latency:
//   commit latency = receive time − the event's createdAt (set in the committing transaction)
//   send latency   = receive time − the writer's send time (carried in the payload)
//
// Commands arrive over IPC: open (more connections), collect (measure until every
// subscriber has every expected event, or a timeout), close.
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { percentile } from "./lib/stats.js";

export interface WsClientsConfig {
  wsUrl: string;
  tokens: string[];
  teamId: string;
}

/**
 * open: more connections. collect: measure events with seq < expected until every
 * subscriber has `expected` of them (timeoutMs caps it). settle: the writer is done and
 * `committed` of its writes succeeded: wait for those only, at most graceMs more.
 * close: disconnect all.
 */
export type WsCommand =
  | { cmd: "open"; count: number; concurrency: number }
  | { cmd: "collect"; expected: number; timeoutMs: number }
  | { cmd: "settle"; committed: number; graceMs: number }
  | { cmd: "close" };

export interface OpenResult {
  type: "opened";
  open: number;
  failed: number;
  seconds: number;
  sampleError: string | null;
}

export interface CollectResult {
  type: "collected";
  subscribers: number;
  expected: number;
  delivered: number;
  complete: boolean;
  seconds: number;
  /** From the first delivery to the last. */
  deliverySeconds: number;
  commitP50: number;
  commitP99: number;
  commitMax: number;
  sendP50: number;
  sendP99: number;
  /** CPU time of this process over the window, as a fraction of one core. */
  cpuShare: number;
  errors: number;
  sampleError: string | null;
}

const config = JSON.parse(process.env.BENCH_WS ?? "{}") as WsClientsConfig;
const QUERY = `subscription($t: ID!) { teamEvents(teamId: $t) { cursor kind payload createdAt } }`;
const now = () => performance.timeOrigin + performance.now();

interface Subscriber {
  client: Client;
  received: number;
}

const subscribers: Subscriber[] = [];
let collecting: {
  expected: number;
  target: number;
  first: number;
  last: number;
  commit: Float64Array;
  send: Float64Array;
  count: number;
  onProgress: () => void;
  settle: (graceMs: number) => void;
} | null = null;
let errors = 0;
let sampleError: string | null = null;

type EventData = { teamEvents?: { payload?: { metadata?: { seq?: number; sent?: number } }; createdAt?: string } };

function openOne(index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const token = config.tokens[index % config.tokens.length]!;
    const subscriber: Subscriber = { client: null as unknown as Client, received: 0 };
    const client = createClient({
      url: config.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: true,
      connectionParams: { authorization: `Bearer ${token}` },
      on: {
        connected: () => {
          if (!settled) {
            settled = true;
            resolve();
          }
        },
        closed: (event) => {
          if (!settled) {
            settled = true;
            reject(new Error(`closed before connecting: ${(event as { code?: number }).code ?? "?"}`));
          }
        },
      },
    });
    subscriber.client = client;
    subscribers.push(subscriber);
    client.subscribe<EventData>(
      { query: QUERY, variables: { t: config.teamId } },
      {
        next: (result) => {
          const received = now();
          if (result.errors) {
            errors++;
            sampleError ??= JSON.stringify(result.errors).slice(0, 300);
            return;
          }
          const event = result.data?.teamEvents;
          const meta = event?.payload?.metadata;
          if (!collecting || meta?.seq === undefined || meta.seq >= collecting.expected) return;
          const c = collecting;
          if (c.count === 0) c.first = received;
          c.last = received;
          if (c.count < c.commit.length) {
            c.commit[c.count] = received - Date.parse(event!.createdAt!);
            c.send[c.count] = received - (meta.sent ?? received);
            c.count++;
          }
          subscriber.received++;
          c.onProgress();
        },
        error: (error) => {
          errors++;
          sampleError ??= (Array.isArray(error) ? JSON.stringify(error) : String(error)).slice(0, 300);
        },
        complete: () => {},
      },
    );
  });
}

async function open(count: number, concurrency: number): Promise<OpenResult> {
  const started = now();
  let next = 0;
  let failed = 0;
  let firstError: string | null = null;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      for (let i = next++; i < count; i = next++) {
        await openOne(subscribers.length).catch((e: unknown) => {
          failed++;
          firstError ??= String(e);
        });
      }
    }),
  );
  return { type: "opened", open: subscribers.length - failed, failed, seconds: (now() - started) / 1000, sampleError: firstError };
}

async function collect(expected: number, timeoutMs: number): Promise<CollectResult> {
  for (const s of subscribers) s.received = 0;
  const total = expected * subscribers.length;
  const cpuStart = process.cpuUsage();
  const started = now();
  const result = await new Promise<{ count: number; commit: Float64Array; send: Float64Array; complete: boolean; first: number; last: number; target: number }>((resolve) => {
    const c = {
      expected,
      target: total,
      first: 0,
      last: 0,
      commit: new Float64Array(total),
      send: new Float64Array(total),
      count: 0,
      onProgress: () => {
        if (c.count >= c.target) finish(true);
      },
      settle: (graceMs: number) => {
        clearTimeout(grace);
        grace = setTimeout(() => finish(false), graceMs);
        c.onProgress();
      },
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    let grace: NodeJS.Timeout | undefined;
    const finish = (complete: boolean) => {
      clearTimeout(timer);
      clearTimeout(grace);
      collecting = null;
      resolve({ count: c.count, commit: c.commit, send: c.send, complete, first: c.first, last: c.last, target: c.target });
    };
    collecting = c;
  });
  const seconds = (now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const commit = Array.from(result.commit.subarray(0, result.count)).sort((a, b) => a - b);
  const send = Array.from(result.send.subarray(0, result.count)).sort((a, b) => a - b);
  return {
    type: "collected",
    subscribers: subscribers.length,
    expected: result.target,
    delivered: result.count,
    complete: result.complete,
    seconds,
    deliverySeconds: result.count > 1 ? (result.last - result.first) / 1000 : NaN,
    commitP50: percentile(commit, 50),
    commitP99: percentile(commit, 99),
    commitMax: commit[commit.length - 1] ?? NaN,
    sendP50: percentile(send, 50),
    sendP99: percentile(send, 99),
    cpuShare: (cpu.user + cpu.system) / 1e6 / seconds,
    errors,
    sampleError,
  };
}

process.on("message", (command: WsCommand) => {
  const reply = (message: unknown) => process.send!(message);
  if (command.cmd === "open") void open(command.count, command.concurrency).then(reply);
  else if (command.cmd === "collect") void collect(command.expected, command.timeoutMs).then(reply);
  else if (command.cmd === "settle") {
    if (collecting) {
      collecting.target = command.committed * subscribers.length;
      collecting.settle(command.graceMs);
    }
  }
  else if (command.cmd === "close")
    void Promise.all(subscribers.map((s) => s.client.dispose())).then(() => {
      reply({ type: "closed" });
      setTimeout(() => process.exit(0), 50);
    });
});
process.on("disconnect", () => process.exit(0));
process.send?.({ type: "ready" });
