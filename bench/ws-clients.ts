// Fan-out subscribers: a separate process (pinned to the load core by bench/run.ts)
// holding many graphql-ws connections, each subscribed to one team's events. It
// timestamps every event the writer caused (events carrying `metadata.seq` in their
// payload) and reports delivery latency:
//   commit latency = receive time − the event's createdAt (set in the committing transaction)
//   send latency   = receive time − the writer's send time (carried in the payload)
//
// Commands arrive over IPC: open (more connections), collect (measure until every
// subscriber has every expected event, or a timeout), close.
//
// Each connection speaks the graphql-transport-ws protocol itself (connection_init,
// subscribe, next, ping/pong) over a bare `ws` socket rather than through graphql-ws's
// client: at 100 events/s to 1,000 subscribers this process takes 100,000 messages a
// second on one core, and graphql-ws's client (parse, validate, dispatch per message) kept
// it near saturation, so its queue, not the server, set the tail of the latencies.
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
  socket: WebSocket;
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
type Message = { type: string; id?: string; payload?: { data?: EventData; errors?: unknown } | unknown[] };

/** seq, sent and createdAt of a writer's event (a next message without errors), else null. */
function timing(text: string): { seq: number; sent: number | undefined; createdAt: number } | null {
  if (!text.includes('"type":"next"') || text.includes('"errors"')) return null;
  const seqAt = text.indexOf('"metadata":{"seq":');
  const createdAt = text.indexOf('"createdAt":"');
  if (seqAt < 0 || createdAt < 0) return null;
  const seq = parseFloat(text.slice(seqAt + 18, seqAt + 40));
  const sentAt = text.indexOf('"sent":', seqAt);
  const sent = sentAt < 0 ? undefined : parseFloat(text.slice(sentAt + 7, sentAt + 40));
  const time = Date.parse(text.slice(createdAt + 13, createdAt + 37));
  return Number.isFinite(seq) && Number.isFinite(time) ? { seq, sent, createdAt: time } : null;
}

function record(subscriber: Subscriber, received: number, seq: number, sent: number | undefined, createdAt: number): void {
  if (!collecting || seq >= collecting.expected) return;
  const c = collecting;
  if (c.count === 0) c.first = received;
  c.last = received;
  if (c.count < c.commit.length) {
    c.commit[c.count] = received - createdAt;
    c.send[c.count] = received - (sent ?? received);
    c.count++;
  }
  subscriber.received++;
  c.onProgress();
}

function openOne(index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const token = config.tokens[index % config.tokens.length]!;
    const socket = new WebSocket(config.wsUrl, "graphql-transport-ws", { perMessageDeflate: false, skipUTF8Validation: true });
    const subscriber: Subscriber = { socket, received: 0 };
    subscribers.push(subscriber);
    const fail = (why: string) => {
      if (!settled) {
        settled = true;
        reject(new Error(why));
      }
    };
    socket.on("open", () => socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } })));
    socket.on("error", (error) => fail(String(error)));
    socket.on("close", (code) => fail(`closed before connecting: ${code}`));
    socket.on("message", (data) => {
      const received = now();
      const text = String(data);
      // Most messages are the writer's events: read the three numbers without parsing
      // the whole message (JSON.parse alone would cost a third of this core at full rate).
      const fast = timing(text);
      if (fast) return record(subscriber, received, fast.seq, fast.sent, fast.createdAt);
      const message = JSON.parse(text) as Message;
      switch (message.type) {
        case "next": {
          const result = message.payload as { data?: EventData; errors?: unknown };
          if (result.errors) {
            errors++;
            sampleError ??= JSON.stringify(result.errors).slice(0, 300);
            return;
          }
          const event = result.data?.teamEvents;
          const meta = event?.payload?.metadata;
          if (meta?.seq !== undefined) record(subscriber, received, meta.seq, meta.sent, Date.parse(event!.createdAt!));
          return;
        }
        case "connection_ack":
          socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: QUERY, variables: { t: config.teamId } } }));
          if (!settled) {
            settled = true;
            resolve();
          }
          return;
        case "ping":
          socket.send(JSON.stringify({ type: "pong" }));
          return;
        case "error":
          errors++;
          sampleError ??= JSON.stringify(message.payload).slice(0, 300);
          return;
      }
    });
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
    void Promise.all(
      subscribers.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.socket.readyState === WebSocket.CLOSED) return resolve();
            s.socket.once("close", () => resolve());
            s.socket.close(1000, "Normal Closure");
            setTimeout(() => {
              s.socket.terminate();
              resolve();
            }, 5_000).unref();
          }),
      ),
    ).then(() => {
      reply({ type: "closed" });
      setTimeout(() => process.exit(0), 50);
    });
});
process.on("disconnect", () => process.exit(0));
process.send?.({ type: "ready" });
