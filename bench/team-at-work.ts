// Section "work" (item 9): a team at work. N worker agents each loop claimNextTask → two
// progress updates (updateTask progress, with the claim token) → a dashboard append →
// complete (updateTask status COMPLETED); the lead reads the 50-task board page in two
// loops; M graphql-ws subscribers hold the team's teamEvents. The other figures take one
// operation at a time, mostly on answers kept while nothing changes; here every read follows
// a change. Workers and readers run in the load generator, the subscribers in their own
// process (team-subscribers.ts), both on the load core; the server on its own core.
//
// Rates are given as ratios of bare Yoga's `{ __typename }` req/s measured in this section
// (the median of runs before each size and after the last); latencies as multiples of a bare request's
// time (1 / its rate), so that a slower machine does not read as a slower server.
import type { ChildProcess } from "node:child_process";
import { startRedisServer, type RedisServer } from "../test/helpers/redis-server.js";
import type { CannonResult, TeamResult } from "./load-worker.js";
import { createTeam, metrics, ok, registerAgents, type Agent } from "./lib/gql.js";
import type { LoadGenerator } from "./lib/load.js";
import { cleanEnv, nextMessage, root, sleep, spawnPinned, stopGroup, track } from "./lib/proc.js";
import type { Row } from "./lib/report.js";
import { seedTasks, type SeedTask } from "./lib/seed.js";
import { LOAD_CORE, startAgentHq, startBareYoga, type RunningServer } from "./lib/server.js";
import { median } from "./lib/stats.js";
import { dashboardLine, TEAM_APPEND, TEAM_CLAIM, TEAM_COMPLETE, TEAM_PROGRESS } from "./lib/team-ops.js";
import type { TeamLag, TeamSubscribersConfig } from "./team-subscribers.js";

export interface WorkSection {
  quick: boolean;
  postgres: boolean;
  load: LoadGenerator;
  /** The suite's 50-task board page (tasks with assignee and blockers, each blocker with its assignee). */
  boardPage: string;
  row(r: Row): void;
  freshDatabaseUrl(name: string): string;
  notes: string[];
  raw: Record<string, unknown>;
}

interface Size {
  workers: number;
  subscribers: number;
  /** Servers on the same database; two announce commits through Redis. */
  instances: 1 | 2;
}

/** Board readers (the lead, in closed loops). */
const READERS = 2;
/** Ready tasks seeded per worker and second of load: well above what one worker completes (5 workers did 80 a second each). */
const SEEDED_PER_WORKER_SECOND = 160;

/**
 * The board: tasks 1–50, as a team's board looks mid-project: 60 % done (assigned to
 * workers, some after a blocker), 20 % held by the lead, 20 % blocked by a held task. Claims
 * never take them; the ready tasks come after them, so the page the lead reads is the board.
 */
function boardTask(n: number, lead: Agent, workers: Agent[]): SeedTask {
  const kind = n % 10;
  const worker = workers[n % workers.length]!.id;
  if (kind <= 5) return { number: n, status: "completed", assigneeId: worker, holderId: null, blockedByNumber: kind === 3 && n > 1 ? n - 1 : null };
  if (kind <= 7) return { number: n, status: "in_progress", assigneeId: lead.id, holderId: lead.id, blockedByNumber: null };
  return { number: n, status: "pending", assigneeId: kind === 8 ? worker : null, holderId: null, blockedByNumber: kind === 8 ? n - 2 : n - 3 };
}
const BOARD_TASKS = 50;

/** The subscribers' process: ready once connected; `finish` answers the lag. */
class Subscribers {
  private constructor(private readonly child: ChildProcess) {}

  static async start(config: TeamSubscribersConfig): Promise<{ subscribers: Subscribers; failed: number; sampleError: string | null }> {
    const child = track(
      spawnPinned(LOAD_CORE, process.execPath, ["--import", "tsx", "bench/team-subscribers.ts"], {
        cwd: root,
        env: cleanEnv({ BENCH_TEAM_WS: JSON.stringify(config) }),
        detached: true,
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      }),
    );
    const subscribers = new Subscribers(child);
    const ready = await subscribers.next<{ failed: number; sampleError: string | null }>("ready");
    return { subscribers, ...ready };
  }

  private next<T>(type: string): Promise<T> {
    return nextMessage<T>(this.child, type, "team-subscribers");
  }


  finish(sent: Record<string, number>, graceMs: number): Promise<TeamLag> {
    const answer = this.next<TeamLag>("lag");
    this.child.send({ cmd: "finish", sent, graceMs });
    return answer;
  }

  stop(): Promise<void> {
    return stopGroup(this.child, "SIGTERM", 5_000);
  }
}

async function liveSubscriptions(servers: RunningServer[], count: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const live = (await Promise.all(servers.map(async (s) => (await metrics(s.base)).agent_hq_live_subscriptions ?? 0))).reduce((a, b) => a + b, 0);
    if (live >= count || Date.now() > deadline) return live;
    await sleep(250);
  }
}

interface Counters {
  cpu: number | null;
  statements: number;
  journal: number;
  /** Queries answered from a kept answer (response-cache.ts). */
  kept: number;
}

async function counters(servers: RunningServer[]): Promise<Counters> {
  const cpus = servers.map((s) => s.cpu());
  const scraped = await Promise.all(servers.map((s) => metrics(s.base)));
  return {
    cpu: cpus.some((c) => c === null) ? null : cpus.reduce((a, b) => a! + b!, 0),
    statements: scraped.reduce((n, m) => n + (m.agent_hq_db_statements ?? 0), 0),
    journal: Math.max(...scraped.map((m) => m.agent_hq_journal_head ?? 0)),
    kept: scraped.reduce((n, m) => n + (m['agent_hq_query_answers_total{from="kept"}'] ?? 0), 0),
  };
}

/**
 * SQL statements of each kind of write, one at a time on a quiet server (no subscribers):
 * `rounds` cycles of every worker, counted from the server's statement gauge. What one
 * scrape runs itself and the background's statements over the same time are subtracted.
 */
async function statementsByKind(server: RunningServer, teamId: string, workers: Agent[], rounds: number): Promise<Record<string, number>> {
  const statements = async () => (await metrics(server.base)).agent_hq_db_statements!;
  const a = await statements();
  const scrape = (await statements()) - a;
  const idle0 = await statements();
  await sleep(1_000);
  const backgroundPerMs = Math.max(0, (await statements()) - idle0 - scrape) / 1_000;
  const counted: Record<string, number[]> = { claim: [], progress: [], append: [], complete: [] };
  const count = async (kind: string, run: () => Promise<unknown>) => {
    const before = await statements();
    const started = performance.now();
    await run();
    const elapsed = performance.now() - started;
    counted[kind]!.push((await statements()) - before - scrape - backgroundPerMs * elapsed);
  };
  for (let r = 0; r < rounds; r++) {
    const claims: { worker: Agent; id: string; number: number; token: number }[] = [];
    await count("claim", async () => {
      for (const worker of workers) {
        const { claimNextTask: c } = await ok(server.url, TEAM_CLAIM, { t: teamId }, worker.token);
        if (!c) throw new Error("no ready task left to count a claim's statements: the workers outran SEEDED_PER_WORKER_SECOND");
        claims.push({ worker, id: c.task.id, number: c.task.number, token: c.token });
      }
    });
    await count("progress", async () => {
      for (const c of claims) await ok(server.url, TEAM_PROGRESS, { id: c.id, c: c.token, p: 30 }, c.worker.token);
    });
    await count("append", async () => {
      for (const c of claims) await ok(server.url, TEAM_APPEND, { id: c.id, c: c.token, text: dashboardLine(c.number) }, c.worker.token);
    });
    await count("complete", async () => {
      for (const c of claims) await ok(server.url, TEAM_COMPLETE, { id: c.id, c: c.token }, c.worker.token);
    });
  }
  return Object.fromEntries(Object.entries(counted).map(([kind, totals]) => [kind, totals.reduce((x, y) => x + y, 0) / (rounds * workers.length)]));
}

interface SizeResult {
  size: Size;
  team: Omit<TeamResult, "completions">;
  lag: TeamLag;
  /** Server CPU (all instances) over the window, seconds. */
  cpuSeconds: number | null;
  statements: number;
  journalRows: number;
  /** Queries answered from kept answers over the window (all of them board reads). */
  keptReads: number;
  live: number;
  /** SQL statements of each kind of write, one at a time (statementsByKind). */
  byKind: Record<string, number>;
}

async function runSize(s: WorkSection, size: Size, timing: { warmupSeconds: number; seconds: number }): Promise<SizeResult> {
  const tag = `work-${size.workers}w-${size.subscribers}s-${size.instances}i`;
  const databaseUrl = s.freshDatabaseUrl(tag);
  let lead: Agent;
  let workers: Agent[];
  let teamId: string;
  const setup = await startAgentHq(`${tag}-setup`, databaseUrl);
  try {
    [lead, ...workers] = (await registerAgents(setup.url, "work", size.workers + 1)) as [Agent, ...Agent[]];
    teamId = await createTeam(setup.url, lead, "team at work", workers);
  } finally {
    await setup.stop();
  }
  // Seeded in SQL while no server runs (lib/seed.ts): the board, then the ready tasks.
  const ready = Math.ceil(size.workers * SEEDED_PER_WORKER_SECOND * (timing.warmupSeconds + timing.seconds + 2));
  const tasks: SeedTask[] = [];
  for (let n = 1; n <= BOARD_TASKS; n++) tasks.push(boardTask(n, lead, workers));
  for (let n = BOARD_TASKS + 1; n <= BOARD_TASKS + ready; n++) tasks.push({ number: n, status: "pending", assigneeId: null, holderId: null, blockedByNumber: null });
  await seedTasks(databaseUrl, teamId, lead.id, tasks);

  let redis: RedisServer | null = null;
  const servers: RunningServer[] = [];
  let subscribers: Subscribers | null = null;
  try {
    const env: Record<string, string> = {};
    if (size.instances === 2) {
      redis = await startRedisServer();
      env.REDIS_URL = redis.url;
    }
    for (let i = 0; i < size.instances; i++) servers.push(await startAgentHq(`${tag}-${"ab"[i]}`, databaseUrl, env));
    const opened = await Subscribers.start({ wsUrls: servers.map((x) => x.wsUrl), tokens: [lead, ...workers].map((a) => a.token), teamId, count: size.subscribers });
    subscribers = opened.subscribers;
    if (opened.failed) s.notes.push(`work ${tag}: ${opened.failed} subscribers failed to open (${opened.sampleError})`);
    const live = await liveSubscriptions(servers, size.subscribers - opened.failed, 30_000);

    // The window's counters are read on timers beside the load: the load generator only
    // counts what was answered inside its window, after the warm-up.
    const t0 = performance.now();
    const at = (seconds: number) => sleep(Math.max(0, t0 + seconds * 1000 - performance.now())).then(() => counters(servers));
    const windowStart = at(timing.warmupSeconds);
    const windowEnd = at(timing.warmupSeconds + timing.seconds);
    const team = await s.load.team({
      urls: servers.map((x) => x.url),
      teamId,
      workerTokens: workers.map((w) => w.token),
      leadToken: lead.token,
      readers: READERS,
      boardQuery: s.boardPage,
      warmupSeconds: timing.warmupSeconds,
      seconds: timing.seconds,
    });
    const [before, after] = await Promise.all([windowStart, windowEnd]);
    const lag = await subscribers.finish(team.completions, 15_000);
    await subscribers.stop();
    subscribers = null;
    const byKind = await statementsByKind(servers[0]!, teamId, workers, Math.max(1, Math.ceil(20 / workers.length)));
    const { completions, ...teamFigures } = team;
    return {
      size,
      team: teamFigures,
      lag,
      cpuSeconds: before.cpu === null || after.cpu === null ? null : after.cpu - before.cpu,
      statements: after.statements - before.statements,
      journalRows: after.journal - before.journal,
      keptReads: after.kept - before.kept,
      live,
      byKind,
    };
  } finally {
    await subscribers?.stop();
    for (const server of servers) await server.stop();
    await redis?.dispose();
  }
}

async function bareBaseline(load: LoadGenerator, seconds: number): Promise<CannonResult> {
  const bare = await startBareYoga();
  try {
    return await load.cannon({ url: bare.url, connections: 10, seconds, warmupSeconds: 1, body: { kind: "fixed", query: "{ __typename }" } });
  } finally {
    await bare.stop();
  }
}

export async function teamAtWork(s: WorkSection): Promise<void> {
  const timing = s.quick ? { warmupSeconds: 2, seconds: 6 } : { warmupSeconds: 3, seconds: 15 };
  const sizes: Size[] = [
    { workers: 5, subscribers: 20, instances: 1 },
    { workers: 20, subscribers: 20, instances: 1 },
    ...(s.quick ? [] : [{ workers: 20, subscribers: 200, instances: 1 } as const]),
    // Two servers on one SQLite file are not a deployment; on PostgreSQL they are. Both are
    // pinned to the server core: the figure is what scale-out costs, not what it gains.
    ...(s.postgres ? [{ workers: 20, subscribers: 20, instances: 2 } as const] : []),
    ...(s.postgres && !s.quick ? [{ workers: 20, subscribers: 200, instances: 2 } as const] : []),
  ];
  const label = (z: Size) => `${z.workers} workers, ${z.subscribers} subscribers${z.instances === 2 ? ", 2 instances + Redis" : ""}`;
  console.log(`\n== 9: a team at work (${sizes.map(label).join("; ")}; lead reading the board in ${READERS} loops; ${timing.seconds} s after ${timing.warmupSeconds} s warm-up)`);

  // The baseline is taken before each size and after the last: on a shared machine one
  // measurement can fall on someone else's burst; the median of them is the baseline.
  const bareSeconds = s.quick ? 3 : 8;
  const bares: CannonResult[] = [];
  const results: SizeResult[] = [];
  for (const size of sizes) {
    bares.push(await bareBaseline(s.load, bareSeconds));
    const r = await runSize(s, size, timing);
    results.push(r);
    const t = r.team;
    console.log(
      `  ${label(size)}: ${(t.tasks / t.seconds).toFixed(1)} tasks/s, ${(t.writes / t.seconds).toFixed(0)} writes/s (p50 ${t.writeP50.toFixed(0)} / p99 ${t.writeP99.toFixed(0)} ms), board ${(t.boardReads / t.seconds).toFixed(1)}/s (p99 ${t.boardP99.toFixed(0)} ms), event lag p50 ${r.lag.commitP50.toFixed(0)} / p99 ${r.lag.commitP99.toFixed(0)} ms`,
    );
  }
  bares.push(await bareBaseline(s.load, bareSeconds));
  const bareRps = median(bares.map((b) => b.rps));
  s.raw.work = { timing, bares, results };

  const rate = (v: number) => ({ ratio: bareRps > 0 ? v / bareRps : null, ratioOf: "of bare Yoga" });
  // A latency in bare requests' time: how many trivial requests the server could have answered meanwhile.
  const time = (ms: number) => ({ ratio: Number.isFinite(ms) && bareRps > 0 ? (ms * bareRps) / 1000 : null, ratioOf: "bare-request times" });
  const row = (r: Omit<Row, "item">) => s.row({ item: "9", ...r });
  row({ figure: "bare Yoga { __typename } (baseline of 9)", value: bareRps, unit: "req/s", note: `median of ${bares.map((b) => b.rps.toFixed(0)).join(", ")} req/s (before each size, after the last); 10 connections, ${bareSeconds} s each` });
  for (const r of results) {
    const { size, team: t, lag } = r;
    const name = label(size);
    const twenty = size.workers >= 20;
    // The issue's workload (20 workers, 20 subscribers) carries the writes target; with 200
    // subscribers the target is the event lag.
    const issueLoad = twenty && size.subscribers === 20;
    const writes = t.writes / t.seconds;
    const kinds = (key: "p50" | "p99") => Object.entries(t.byKind).map(([k, v]) => `${k} ${v[key].toFixed(0)}`).join(", ");
    if (t.errors) s.notes.push(`work ${name}: ${t.errors} error answers (${t.sampleError})`);
    if (t.dry) s.notes.push(`work ${name}: ${t.dry} claims found no ready task (seed more)`);
    if (lag.errors) s.notes.push(`work ${name}: subscribers saw ${lag.errors} errors (${lag.sampleError})`);
    row({ figure: `team at work, ${name}: tasks done`, value: t.tasks / t.seconds, unit: "tasks/s", ...rate(t.tasks / t.seconds), note: `${t.tasks} tasks in ${t.seconds} s; ${bareRps > 0 ? (t.tasks / t.seconds / bareRps).toPrecision(2) : "?"} of bare Yoga` });
    row({
      figure: `team at work, ${name}: writes`,
      value: writes,
      unit: "writes/s",
      ...rate(writes),
      target: issueLoad ? "≥ 0.4 of bare Yoga" : undefined,
      pass: issueLoad && bareRps > 0 ? writes / bareRps >= 0.4 : undefined,
      note: `claims, progress ×2, dashboard append, completion${r.cpuSeconds !== null && t.writes ? `; server CPU ${((r.cpuSeconds * 1000) / t.writes).toFixed(2)} ms a write (board reads and fan-out included)` : ""}; ${(r.journalRows / Math.max(1, t.tasks)).toFixed(1)} journal rows a task`,
    });
    const perCycle = Object.entries(r.byKind).reduce((n, [kind, v]) => n + v * (kind === "progress" ? 2 : 1), 0);
    row({
      figure: `team at work, ${name}: SQL statements a write, one at a time`,
      value: perCycle / 5,
      unit: "stmts",
      note: `claim ${r.byKind.claim!.toFixed(1)}, progress ${r.byKind.progress!.toFixed(1)}, append ${r.byKind.append!.toFixed(1)}, complete ${r.byKind.complete!.toFixed(1)}; under the load ${(r.statements / Math.max(1, t.writes)).toFixed(1)} a write, board reads (${(t.boardReads / Math.max(1, t.writes)).toFixed(2)} a write) and the tailer's reads included`,
    });
    row({ figure: `team at work, ${name}: write latency p50`, value: t.writeP50, unit: "ms", ...time(t.writeP50), note: `by kind: ${kinds("p50")} ms` });
    row({ figure: `team at work, ${name}: write latency p99`, value: t.writeP99, unit: "ms", ...time(t.writeP99), target: twenty ? "≤ 100 ms" : undefined, pass: twenty ? t.writeP99 <= 100 : undefined, note: `by kind: ${kinds("p99")} ms` });
    row({ figure: `team at work, ${name}: board page reads while writing`, value: t.boardReads / t.seconds, unit: "req/s", ...rate(t.boardReads / t.seconds), note: `${READERS} loops, p50 ${t.boardP50.toFixed(0)} ms; ${((100 * r.keptReads) / Math.max(1, t.boardReads)).toFixed(0)} % kept` });
    row({ figure: `team at work, ${name}: board page p99 while writing`, value: t.boardP99, unit: "ms", ...time(t.boardP99), target: twenty ? "≤ 50 ms" : undefined, pass: twenty ? t.boardP99 <= 50 : undefined });
    const delivered = `${lag.delivered} of ${lag.expected} deliveries; ${lag.messages.toLocaleString("en-US")} events received in all; subscriber process at ${(lag.cpuShare * 100).toFixed(0)} % of its core`;
    row({ figure: `team at work, ${name}: event lag p50 (commit → received)`, value: lag.commitP50, unit: "ms", ...time(lag.commitP50), note: `completions; send → received p50 ${lag.sendP50.toFixed(0)} ms; ${delivered}` });
    row({
      figure: `team at work, ${name}: event lag p99 (commit → received)`,
      value: lag.commitP99,
      unit: "ms",
      ...time(lag.commitP99),
      target: size.subscribers >= 200 && twenty ? "≤ 50 ms" : undefined,
      pass: size.subscribers >= 200 && twenty ? lag.delivered === lag.expected && lag.commitP99 <= 50 : undefined,
      note: `max ${lag.commitMax.toFixed(0)} ms; send → received p99 ${lag.sendP99.toFixed(0)} ms`,
    });
  }
}
