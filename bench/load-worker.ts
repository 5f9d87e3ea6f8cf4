// The load generator: a separate process (pinned to its own core by bench/run.ts) that
// takes jobs over IPC and answers with measurements, so generating load never shares
// the server's event loop or the orchestrator's.
//
// Jobs: `cannon` (autocannon for a duration, after a warm-up), `sequential` (one request
// at a time, each timed), `drain` (N workers calling claimNextTask until nothing is left)
// `writer` (mutations at a fixed rate, open loop, for the fan-out benchmark) and `team`
// (a team at work: worker agents' claim → progress → dashboard → complete loops beside a
// lead reading the board).
import { Agent, request } from "node:http";
import autocannon from "autocannon";
import { percentile } from "./lib/stats.js";
import { dashboardLine, TEAM_APPEND, TEAM_CLAIM, TEAM_COMPLETE, TEAM_PROGRESS } from "./lib/team-ops.js";

export type BodySpec =
  | { kind: "fixed"; query: string; variables?: Record<string, unknown> }
  | { kind: "createTask"; teamId: string }
  | { kind: "updateStatus"; taskIds: string[] };

export interface CannonJob {
  kind: "cannon";
  url: string;
  token?: string;
  connections: number;
  seconds: number;
  warmupSeconds: number;
  body: BodySpec;
}
export interface CannonResult {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  gqlErrors: number;
  sampleError: string | null;
}

export interface SequentialJob {
  kind: "sequential";
  url: string;
  token: string;
  body: BodySpec;
  count: number;
  warmup: number;
}
export interface SequentialResult {
  latencies: number[];
  errors: number;
  nulls: number;
  sampleError: string | null;
}

export interface DrainJob {
  kind: "drain";
  url: string;
  tokens: string[];
  teamId: string;
  /** Stop claiming after this long (null: until nothing is left). */
  maxSeconds: number | null;
}
export interface DrainResult {
  claims: { taskId: string; token: number; worker: number }[];
  seconds: number;
  /** The time limit ended it before every task was claimed. */
  stoppedEarly: boolean;
  errors: number;
  sampleError: string | null;
  latencyP50: number;
  latencyP99: number;
}

export interface WriterJob {
  kind: "writer";
  url: string;
  token: string;
  taskIds: string[];
  rate: number;
  count: number;
}
export interface WriterResult {
  sent: number;
  ok: number;
  errors: number;
  sampleError: string | null;
  seconds: number;
  latencyP50: number;
  latencyP99: number;
}

export interface TeamJob {
  kind: "team";
  /** Instance URLs: worker i and reader j use urls[i % n] and urls[j % n]. */
  urls: string[];
  teamId: string;
  workerTokens: string[];
  leadToken: string;
  /** Closed loops reading `boardQuery` with the lead's token. */
  readers: number;
  boardQuery: string;
  warmupSeconds: number;
  seconds: number;
}
export interface TeamResult {
  /** The measured window (after the warm-up), in seconds. */
  seconds: number;
  /** Tasks whose completing request was answered in the window. */
  tasks: number;
  /** Writes answered without error in the window: claims, progress updates, appends, completions. */
  writes: number;
  writeP50: number;
  writeP99: number;
  /** p99 of each kind of write. */
  byKind: Record<string, { count: number; p50: number; p99: number }>;
  boardReads: number;
  boardP50: number;
  boardP99: number;
  /** Claims answered with no task (the seeded tasks ran out). */
  dry: number;
  errors: number;
  sampleError: string | null;
  /** Task ID → wall-clock time (ms) its completing request was sent, for those sent in the window and answered. */
  completions: Record<string, number>;
}

export type Job = CannonJob | SequentialJob | DrainJob | WriterJob | TeamJob;

// ---------------------------------------------------------------------------------

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/**
 * POSTs a body. A keep-alive socket the server closed just as it was reused fails with
 * ECONNRESET before the request was read: that one case is retried once.
 */
async function post(url: string, token: string | undefined, body: string): Promise<{ status: number; text: string }> {
  try {
    return await postOnce(url, token, body);
  } catch (error) {
    if ((error as { reusedSocket?: boolean }).reusedSocket) return postOnce(url, token, body);
    throw error;
  }
}

function postOnce(url: string, token: string | undefined, body: string): Promise<{ status: number; text: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/graphql-response+json",
          "content-length": Buffer.byteLength(body),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        res.on("error", reject);
      },
    );
    req.on("error", (error: Error & { code?: string }) => {
      if (req.reusedSocket && error.code === "ECONNRESET") Object.assign(error, { reusedSocket: true });
      reject(error);
    });
    req.setTimeout(60_000, () => req.destroy(new Error("timeout")));
    req.end(body);
  });
}

const CREATE_TASK = `mutation($t: ID!, $i: CreateTaskInput!) { createTask(teamId: $t, input: $i) { id number } }`;
const UPDATE_STATUS = `mutation($id: ID!, $s: TaskStatus!) { updateTask(id: $id, input: { status: $s }) { task { id status } } }`;

/** Makes the request body for the k-th request of a run. */
function bodyMaker(spec: BodySpec): () => string {
  if (spec.kind === "fixed") {
    const fixed = JSON.stringify({ query: spec.query, variables: spec.variables });
    return () => fixed;
  }
  let k = 0;
  if (spec.kind === "createTask") {
    const run = Math.random().toString(36).slice(2, 8);
    return () => JSON.stringify({ query: CREATE_TASK, variables: { t: spec.teamId, i: { title: `bench ${run} ${k++}` } } });
  }
  const ids = spec.taskIds;
  return () => {
    const n = k++;
    // Each task alternates IN_PROGRESS / PENDING; two requests on one task are
    // ids.length requests apart, so they never overlap.
    const status = Math.floor(n / ids.length) % 2 === 0 ? "IN_PROGRESS" : "PENDING";
    return JSON.stringify({ query: UPDATE_STATUS, variables: { id: ids[n % ids.length], s: status } });
  };
}

async function cannonOnce(job: CannonJob, seconds: number, nextBody: () => string): Promise<CannonResult> {
  let gqlErrors = 0;
  let sampleError: string | null = null;
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/graphql-response+json" };
  if (job.token) headers.authorization = `Bearer ${job.token}`;
  const instance = autocannon({
    url: job.url,
    connections: job.connections,
    duration: seconds,
    timeout: 30,
    method: "POST",
    headers,
    requests: [
      {
        method: "POST",
        setupRequest: (req) => ({ ...req, body: nextBody() }),
        onResponse: (status, body) => {
          if (status !== 200 || body.includes('"errors"')) {
            gqlErrors++;
            sampleError ??= `${status} ${body.slice(0, 300)}`;
          }
        },
      },
    ],
  });
  const result = await instance;
  const requests = result.requests.total;
  return {
    requests,
    seconds: result.duration,
    rps: requests / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    gqlErrors,
    sampleError,
  };
}

async function cannon(job: CannonJob): Promise<CannonResult> {
  const nextBody = bodyMaker(job.body);
  if (job.warmupSeconds > 0) await cannonOnce(job, job.warmupSeconds, nextBody);
  return cannonOnce(job, job.seconds, nextBody);
}

async function sequential(job: SequentialJob): Promise<SequentialResult> {
  const nextBody = bodyMaker(job.body);
  const latencies: number[] = [];
  let errors = 0;
  let nulls = 0;
  let sampleError: string | null = null;
  for (let i = 0; i < job.warmup + job.count; i++) {
    const started = performance.now();
    const { status, text } = await post(job.url, job.token, nextBody());
    const elapsed = performance.now() - started;
    if (status !== 200 || text.includes('"errors"')) {
      errors++;
      sampleError ??= `${status} ${text.slice(0, 300)}`;
    } else if (/^\{"data":\{"[A-Za-z]+":null\}\}$/.test(text)) nulls++;
    if (i >= job.warmup) latencies.push(elapsed);
  }
  return { latencies, errors, nulls, sampleError };
}

const CLAIM_NEXT = `mutation($t: ID!) { claimNextTask(teamId: $t, leaseSeconds: 3600) { token task { id } } }`;

async function drain(job: DrainJob): Promise<DrainResult> {
  const claims: DrainResult["claims"] = [];
  const latencies: number[] = [];
  let errors = 0;
  let sampleError: string | null = null;
  const body = JSON.stringify({ query: CLAIM_NEXT, variables: { t: job.teamId } });
  const started = performance.now();
  const deadline = job.maxSeconds === null ? Infinity : started + job.maxSeconds * 1000;
  let stoppedEarly = false;
  await Promise.all(
    job.tokens.map(async (token, worker) => {
      let consecutiveErrors = 0;
      for (;;) {
        if (performance.now() > deadline) {
          stoppedEarly = true;
          return;
        }
        const t0 = performance.now();
        const { status, text } = await post(job.url, token, body).catch((e: unknown) => ({ status: 0, text: String(e) }));
        latencies.push(performance.now() - t0);
        let parsed: { data?: { claimNextTask: { token: number; task: { id: string } } | null }; errors?: unknown } | null = null;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = null;
        }
        if (status !== 200 || !parsed || parsed.errors || !parsed.data) {
          errors++;
          sampleError ??= `${status} ${text.slice(0, 300)}`;
          if (++consecutiveErrors >= 20) return;
          continue;
        }
        consecutiveErrors = 0;
        const claim = parsed.data.claimNextTask;
        if (!claim) return;
        claims.push({ taskId: claim.task.id, token: claim.token, worker });
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { claims, seconds, stoppedEarly, errors, sampleError, latencyP50: percentile(latencies, 50), latencyP99: percentile(latencies, 99) };
}

const UPDATE_METADATA = `mutation($id: ID!, $m: JSONObject!) { updateTask(id: $id, input: { metadata: $m }) { task { id } } }`;

async function writer(job: WriterJob): Promise<WriterResult> {
  const started = performance.now();
  const latencies: number[] = [];
  let ok = 0;
  let errors = 0;
  let sampleError: string | null = null;
  const inFlight: Promise<void>[] = [];
  for (let seq = 0; seq < job.count; seq++) {
    // Open loop: request `seq` goes out at its scheduled time whatever the server does.
    const due = started + (seq * 1000) / job.rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    const body = JSON.stringify({ query: UPDATE_METADATA, variables: { id: job.taskIds[seq % job.taskIds.length], m: { seq, sent: performance.timeOrigin + performance.now() } } });
    inFlight.push(
      post(job.url, job.token, body).then(
        ({ status, text }) => {
          latencies.push(performance.now() - t0);
          if (status === 200 && !text.includes('"errors"')) ok++;
          else {
            errors++;
            sampleError ??= `${status} ${text.slice(0, 300)}`;
          }
        },
        (e: unknown) => {
          errors++;
          sampleError ??= String(e);
        },
      ),
    );
  }
  await Promise.all(inFlight);
  latencies.sort((a, b) => a - b);
  return { sent: job.count, ok, errors, sampleError, seconds: (performance.now() - started) / 1000, latencyP50: percentile(latencies, 50), latencyP99: percentile(latencies, 99) };
}

async function team(job: TeamJob): Promise<TeamResult> {
  const wall = () => performance.timeOrigin + performance.now();
  const started = performance.now();
  const from = started + job.warmupSeconds * 1000;
  const until = from + job.seconds * 1000;
  const writes: Record<string, number[]> = { claim: [], progress: [], append: [], complete: [] };
  const board: number[] = [];
  const completions: Record<string, number> = {};
  let tasks = 0;
  let dry = 0;
  let errors = 0;
  let sampleError: string | null = null;
  /** One request; its latency is kept when it was answered in the window. Null on an error. */
  const call = async (url: string, token: string, query: string, variables: Record<string, unknown>, into: number[]): Promise<any> => {
    const t0 = performance.now();
    const { status, text } = await post(url, token, JSON.stringify({ query, variables })).catch((e: unknown) => ({ status: 0, text: String(e) }));
    const t1 = performance.now();
    const parsed = status === 200 ? (JSON.parse(text) as { data?: any; errors?: unknown }) : null;
    if (!parsed?.data || parsed.errors) {
      errors++;
      sampleError ??= `${status} ${text.slice(0, 300)}`;
      return null;
    }
    if (t1 >= from && t1 <= until) into.push(t1 - t0);
    return parsed.data;
  };
  const worker = async (index: number) => {
    const url = job.urls[index % job.urls.length]!;
    const token = job.workerTokens[index]!;
    while (performance.now() < until) {
      const claimed = await call(url, token, TEAM_CLAIM, { t: job.teamId }, writes.claim!);
      if (!claimed) continue;
      if (!claimed.claimNextTask) {
        dry++;
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const { token: c, task } = claimed.claimNextTask as { token: number; task: { id: string; number: number } };
      if (!(await call(url, token, TEAM_PROGRESS, { id: task.id, c, p: 30 }, writes.progress!))) continue;
      if (!(await call(url, token, TEAM_PROGRESS, { id: task.id, c, p: 70 }, writes.progress!))) continue;
      if (!(await call(url, token, TEAM_APPEND, { id: task.id, c, text: dashboardLine(task.number) }, writes.append!))) continue;
      const sent = performance.now();
      const sentWall = wall();
      if (!(await call(url, token, TEAM_COMPLETE, { id: task.id, c }, writes.complete!))) continue;
      const answered = performance.now();
      if (sent >= from && sent <= until) completions[task.id] = sentWall;
      if (answered >= from && answered <= until) tasks++;
    }
  };
  const reader = async (index: number) => {
    const url = job.urls[index % job.urls.length]!;
    while (performance.now() < until) await call(url, job.leadToken, job.boardQuery, { t: job.teamId }, board);
  };
  await Promise.all([...job.workerTokens.map((_, i) => worker(i)), ...Array.from({ length: job.readers }, (_, j) => reader(j))]);
  const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
  const all = sorted(Object.values(writes).flat());
  board.sort((a, b) => a - b);
  const byKind = Object.fromEntries(Object.entries(writes).map(([kind, values]) => {
    const s = sorted(values);
    return [kind, { count: s.length, p50: percentile(s, 50), p99: percentile(s, 99) }];
  }));
  return {
    seconds: job.seconds,
    tasks,
    writes: all.length,
    writeP50: percentile(all, 50),
    writeP99: percentile(all, 99),
    byKind,
    boardReads: board.length,
    boardP50: percentile(board, 50),
    boardP99: percentile(board, 99),
    dry,
    errors,
    sampleError,
    completions,
  };
}

async function runJob(job: Job): Promise<unknown> {
  switch (job.kind) {
    case "cannon":
      return cannon(job);
    case "sequential":
      return sequential(job);
    case "drain":
      return drain(job);
    case "writer":
      return writer(job);
    case "team":
      return team(job);
  }
}

if (process.send) {
  process.on("message", (message: { id: number; job: Job }) => {
    runJob(message.job).then(
      (result) => process.send!({ id: message.id, ok: true, result }),
      (error: unknown) => process.send!({ id: message.id, ok: false, error: error instanceof Error ? error.stack ?? error.message : String(error) }),
    );
  });
  process.on("disconnect", () => process.exit(0));
  process.send({ ready: true });
}
