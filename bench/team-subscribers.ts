// The "team at work" section's subscribers: a separate process (pinned to the load core by
// bench/team-at-work.ts) holding graphql-ws connections on one team's teamEvents, as an
// agent's client or a dashboard holds them: every event of the team, in full. It notes when
// each task.completed event reached each subscriber; at the end it is told when each
// completing request was sent and answers the lag:
//   commit lag = receive time − the event's createdAt (set in the committing transaction)
//   send lag   = receive time − the worker's send time of the completing request
//
// Spoken directly over `ws` (the graphql-transport-ws protocol), reading only completions
// in full, as ws-clients.ts does and for the same reason: a full client per subscriber
// would make this process, not the server, the tail of the latencies.
//
// IPC: "ready" once every connection is subscribed (or failed); then `{ cmd: "finish",
// sent, graceMs }`, answered with a TeamLag once every expected delivery arrived or
// graceMs passed.
import WebSocket from "ws";
import { percentile } from "./lib/stats.js";

export interface TeamSubscribersConfig {
  /** Subscriber i connects to wsUrls[i % n] with tokens[i % m]. */
  wsUrls: string[];
  tokens: string[];
  teamId: string;
  count: number;
}

export interface TeamLag {
  type: "lag";
  subscribers: number;
  failed: number;
  /** Completions sent in the window × subscribers. */
  expected: number;
  delivered: number;
  commitP50: number;
  commitP99: number;
  commitMax: number;
  sendP50: number;
  sendP99: number;
  /** Every event received, all kinds. */
  messages: number;
  /** CPU time of this process while the load ran, as a fraction of one core. */
  cpuShare: number;
  errors: number;
  sampleError: string | null;
}

const config = JSON.parse(process.env.BENCH_TEAM_WS ?? "{}") as TeamSubscribersConfig;
const QUERY = `subscription($t: ID!) { teamEvents(teamId: $t) { cursor kind subjectId payload createdAt } }`;
const now = () => performance.timeOrigin + performance.now();

/** Task ID → receive times (one per subscriber that got it) and the event's createdAt. */
const received = new Map<string, { createdAt: number; at: number[] }>();
let messages = 0;
let errors = 0;
let sampleError: string | null = null;
let onDelivery: (() => void) | null = null;
const sockets: WebSocket[] = [];

function openOne(index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const socket = new WebSocket(config.wsUrls[index % config.wsUrls.length]!, "graphql-transport-ws", { perMessageDeflate: false, skipUTF8Validation: true });
    sockets.push(socket);
    const fail = (why: string) => {
      if (!settled) {
        settled = true;
        reject(new Error(why));
      }
    };
    socket.on("open", () => socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${config.tokens[index % config.tokens.length]}` } })));
    socket.on("error", (error) => fail(String(error)));
    socket.on("close", (code) => fail(`closed before connecting: ${code}`));
    socket.on("message", (data) => {
      const at = now();
      const text = String(data);
      if (text.includes('"type":"next"')) {
        messages++;
        // Only completions are read in full; every other event is counted.
        if (!text.includes('"kind":"task.completed"') && !text.includes('"errors"')) return;
      }
      const message = JSON.parse(text) as { type: string; payload?: any };
      if (message.type === "next") {
        if (message.payload?.errors) {
          errors++;
          sampleError ??= JSON.stringify(message.payload.errors).slice(0, 300);
          return;
        }
        const event = message.payload?.data?.teamEvents as { kind: string; subjectId: string; createdAt: string } | undefined;
        if (event?.kind !== "task.completed") return;
        let entry = received.get(event.subjectId);
        if (!entry) received.set(event.subjectId, (entry = { createdAt: Date.parse(event.createdAt), at: [] }));
        entry.at.push(at);
        onDelivery?.();
      } else if (message.type === "connection_ack") {
        socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: QUERY, variables: { t: config.teamId } } }));
        if (!settled) {
          settled = true;
          resolve();
        }
      } else if (message.type === "ping") socket.send(JSON.stringify({ type: "pong" }));
      else if (message.type === "error") {
        errors++;
        sampleError ??= JSON.stringify(message.payload).slice(0, 300);
      }
    });
  });
}

async function finish(sent: Record<string, number>, graceMs: number, cpuStart: NodeJS.CpuUsage, startedAt: number, failed: number): Promise<TeamLag> {
  const ids = Object.keys(sent);
  const live = config.count - failed;
  const expected = ids.length * live;
  const deliveredNow = () => ids.reduce((n, id) => n + (received.get(id)?.at.length ?? 0), 0);
  const cpu = process.cpuUsage(cpuStart);
  const cpuShare = (cpu.user + cpu.system) / 1e6 / ((now() - startedAt) / 1000);
  if (deliveredNow() < expected) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, graceMs);
      onDelivery = () => {
        if (deliveredNow() >= expected) {
          clearTimeout(timer);
          resolve();
        }
      };
    });
    onDelivery = null;
  }
  const commit: number[] = [];
  const send: number[] = [];
  for (const id of ids) {
    const entry = received.get(id);
    if (!entry) continue;
    for (const at of entry.at) {
      commit.push(at - entry.createdAt);
      send.push(at - sent[id]!);
    }
  }
  commit.sort((a, b) => a - b);
  send.sort((a, b) => a - b);
  return {
    type: "lag",
    subscribers: live,
    failed,
    expected,
    delivered: commit.length,
    commitP50: percentile(commit, 50),
    commitP99: percentile(commit, 99),
    commitMax: commit.at(-1) ?? NaN,
    sendP50: percentile(send, 50),
    sendP99: percentile(send, 99),
    messages,
    cpuShare,
    errors,
    sampleError,
  };
}

async function main(): Promise<void> {
  let failed = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(50, config.count) }, async () => {
      for (let i = next++; i < config.count; i = next++) {
        await openOne(i).catch((e: unknown) => {
          failed++;
          sampleError ??= String(e);
        });
      }
    }),
  );
  const cpuStart = process.cpuUsage();
  const startedAt = now();
  process.on("message", (command: { cmd: "finish"; sent: Record<string, number>; graceMs: number }) => {
    if (command.cmd !== "finish") return;
    void finish(command.sent, command.graceMs, cpuStart, startedAt, failed).then((lag) => {
      process.send!(lag);
      for (const s of sockets) s.terminate();
      setTimeout(() => process.exit(0), 50);
    });
  });
  process.send!({ type: "ready", failed, sampleError });
}

process.on("disconnect", () => process.exit(0));
void main();
