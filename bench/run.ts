// The benchmark suite: `npm run bench` (full), `npm run bench:quick` (about two minutes),
// `-- --postgres` to run on a private PostgreSQL cluster instead of SQLite.
//
// Every server under test is the real one (`node scripts/start.mjs`, what `npm start` runs) on a fresh
// database, pinned to core 0; the load generator and the WebSocket subscribers are
// separate processes pinned to core 1. Machines here are small and shared, so every
// figure is also given as a ratio against a baseline measured in the same run (a bare
// Yoga server, agent-hq's own { __typename }, one subscriber, the 1k-task team), and
// throughput runs alternate between the server and its baseline.
//
// Benchmarks print numbers; no test asserts on them. Results go to bench/results/<time>.json.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../test/helpers/free-port.js";
import { startPostgresCluster, type PostgresCluster } from "../test/helpers/postgres-cluster.js";
import type { CannonResult } from "./load-worker.js";
import { createTasks, createTeam, metrics, ok, registerAgents, type Agent, type TaskSpec } from "./lib/gql.js";
import { LoadGenerator } from "./lib/load.js";
import { mcpAgents } from "./mcp-agents.js";
import { cleanEnv, commandLine, killAllChildren, nextMessage, pinningAvailable, processTree, root, rssBytes, sleep, spawnPinned, stopGroup, track } from "./lib/proc.js";
import type { Row } from "./lib/report.js";
import { seedTasks, type SeedTask } from "./lib/seed.js";
import { BARE_YOGA, npmStart, startAgentHq, startBareYoga, LOAD_CORE, type RunningServer } from "./lib/server.js";
import { median } from "./lib/stats.js";
import { teamAtWork } from "./team-at-work.js";
import type { CollectResult, OpenResult, WsClientsConfig, WsCommand } from "./ws-clients.js";

// ---------------------------------------------------------------------------------
// Settings

const args = new Set(process.argv.slice(2));
const quick = args.has("--quick");
const usePostgres = args.has("--postgres");
const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length).split(",");

const settings = quick
  ? {
      rounds: 2,
      seconds: 3,
      warmupSeconds: 1,
      connections: 10,
      statementSamples: 30,
      writeSeconds: 2,
      claimTasks: 5_000,
      claimWorkers: 50,
      // The drain is stopped after this long; the full run drains every task.
      claimSeconds: 6,
      subscribers: 1_000,
      fanoutRate: 100,
      fanoutEvents: 200,
      fanoutGraceSeconds: 20,
      coldRuns: 2,
      growth: [1_000, 10_000],
      growthSamples: 30,
    }
  : {
      rounds: 3,
      seconds: 8,
      warmupSeconds: 2,
      connections: 10,
      statementSamples: 200,
      writeSeconds: 8,
      claimTasks: 5_000,
      claimWorkers: 50,
      claimSeconds: Infinity,
      subscribers: 1_000,
      fanoutRate: 100,
      fanoutEvents: 1_000,
      fanoutGraceSeconds: 60,
      coldRuns: 5,
      growth: [1_000, 10_000, 100_000],
      growthSamples: 60,
    };

// Overrides for trying things out: --subscribers=N, --fanout-events=N, --claim-seconds=N.
for (const arg of process.argv.slice(2)) {
  const [key, value] = arg.replace(/^--/, "").split("=");
  if (value === undefined) continue;
  if (key === "subscribers") settings.subscribers = Number(value);
  if (key === "fanout-events") settings.fanoutEvents = Number(value);
  if (key === "claim-seconds") settings.claimSeconds = Number(value);
}

const wanted = (section: string) => !only || only.includes(section);

// ---------------------------------------------------------------------------------
// Results

const rows: Row[] = [];
const raw: Record<string, unknown> = {};
const notes: string[] = [];
const sectionSeconds: Record<string, number> = {};

function row(r: Row): void {
  rows.push(r);
  const value = r.value === null ? "n/a" : formatNumber(r.value);
  console.log(`  [${r.item}] ${r.figure}: ${value} ${r.unit}${r.ratio != null ? ` (×${r.ratio.toFixed(2)} ${r.ratioOf ?? ""})` : ""}${r.pass === false ? "  FAIL" : r.pass ? "  pass" : ""}`);
}

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  const abs = Math.abs(v);
  if (abs >= 100) return Math.round(v).toLocaleString("en-US");
  if (abs >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

const log = (message: string) => console.log(`\n== ${message}`);
const ratioOf = (a: number, b: number) => (b > 0 && Number.isFinite(a) ? a / b : null);

// ---------------------------------------------------------------------------------
// Databases

let workDir = "";
let cluster: PostgresCluster | null = null;
let dbCounter = 0;

function freshDatabaseUrl(name: string): string {
  dbCounter++;
  if (cluster) return cluster.createDatabase(`bench_${name.replace(/[^a-z0-9]/gi, "_")}_${dbCounter}`);
  const dir = join(workDir, `${name}-${dbCounter}`);
  mkdirSync(dir, { recursive: true });
  return `file:${join(dir, "bench.db")}`;
}

// ---------------------------------------------------------------------------------
// Queries

const TYPENAME = "{ __typename }";
/** The server's default; the fan-out figures subtract the tailer's timed polls. */
const JOURNAL_POLL_MS = 1000;
const BOARD_PAGE = `query Board($t: ID!) { team(id: $t) { tasks(first: 50) { edges { node {
  id number title status priority assignee { name }
  blockedBy { kind blocker { number title status assignee { name } } }
} } } } }`;
const READY_PAGE = `query Ready($t: ID!) { team(id: $t) { tasks(first: 50, filter: { ready: true }) { edges { node {
  id number title status assignee { name } blockedBy { blocker { number status } }
} } } } }`;
const CLAIM_NEXT = `mutation($t: ID!) { claimNextTask(teamId: $t, leaseSeconds: 3600) { token task { id number } } }`;
const CREATE_TASK = `mutation($t: ID!) { createTask(teamId: $t, input: { title: "statement count" }) { id } }`;

/** SQL statements per request of `run`, from the server's statement gauge. */
async function statementsPerRequest(server: RunningServer, count: number, run: () => Promise<unknown>): Promise<number> {
  // A scrape runs statements of its own (the journal head gauge): measure and subtract.
  const a = (await metrics(server.base)).agent_hq_db_statements!;
  const b = (await metrics(server.base)).agent_hq_db_statements!;
  const scrape = b - a;
  const started = performance.now();
  await run();
  const elapsed = performance.now() - started;
  const c = (await metrics(server.base)).agent_hq_db_statements!;
  // Background work (the lease sweeper's read every second) over the same time.
  const idleStart = (await metrics(server.base)).agent_hq_db_statements!;
  await sleep(1_000);
  const idleEnd = (await metrics(server.base)).agent_hq_db_statements!;
  const background = Math.max(0, idleEnd - idleStart - scrape) * (elapsed / 1_000);
  return (c - b - scrape - background) / count;
}

// ---------------------------------------------------------------------------------
// 1–3: throughput against bare Yoga, the board page, writes

async function throughput(load: LoadGenerator): Promise<number | null> {
  log("1–3: throughput (bare Yoga baseline, { __typename }, board page, writes)");
  const bare = await startBareYoga();
  // The lease sweeper (a read every second) and the presence flush would add
  // statements to the per-request counts below; here they run rarely. Neither is on a
  // request's path.
  const quiet = { LEASE_SWEEP_MS: "60000", PRESENCE_FLUSH_MS: "300000" };
  const databaseUrl = freshDatabaseUrl("throughput");
  const hq = await startAgentHq("throughput", databaseUrl, quiet);
  let computing: RunningServer | null = null;
  try {
    const [lead, ...members] = await registerAgents(hq.url, "tp", 6);
    const teamId = await createTeam(hq.url, lead!, "throughput", members);
    // The board: 50 tasks, most assigned, many with one or two blockers.
    const boardIds: string[] = [];
    for (let start = 0; start < 50; start += 15) {
      const specs: TaskSpec[] = [];
      for (let i = start; i < Math.min(50, start + 15); i++) {
        const blockedBy = i >= 15 && i % 2 === 0 ? [boardIds[i - 15]!, ...(i % 6 === 0 ? [boardIds[i - 14]!] : [])] : undefined;
        specs.push({ title: `board task ${i + 1}`, assignee: i % 3 === 0 ? undefined : members[i % members.length]!.name, blockedBy });
      }
      boardIds.push(...(await createTasks(hq.url, lead!.token, teamId, specs)));
    }
    // Status updates cycle over these; more of them than requests in flight, so that no
    // two concurrent updates touch one task.
    const statusIds = await createTasks(hq.url, lead!.token, teamId, Array.from({ length: 60 }, (_, i) => ({ title: `status task ${i + 1}` })));
    const token = lead!.token;
    const typename = { kind: "fixed" as const, query: TYPENAME };
    const board = { kind: "fixed" as const, query: BOARD_PAGE, variables: { t: teamId } };
    const check = await ok(hq.url, BOARD_PAGE, { t: teamId }, token);
    const edges = check.team.tasks.edges as { node: { assignee: unknown; blockedBy: unknown[] } }[];
    raw.boardPage = { tasks: edges.length, withAssignee: edges.filter((e) => e.node.assignee).length, blockerLinks: edges.reduce((n, e) => n + e.node.blockedBy.length, 0) };

    // A second server on the same database with the response cache off answers the board
    // as every first read after a change is answered: computed.
    computing = await startAgentHq("throughput-computed", databaseUrl, { ...quiet, RESPONSE_CACHE_MB: "0" });
    const rounds: { bare: CannonResult; hq: CannonResult; board: CannonResult; boardComputed: CannonResult }[] = [];
    for (let r = 0; r < settings.rounds; r++) {
      const warmupSeconds = r === 0 ? settings.warmupSeconds : 0;
      const common = { connections: settings.connections, seconds: settings.seconds, warmupSeconds, token };
      const round = {
        bare: await load.cannon({ ...common, url: bare.url, body: typename }),
        hq: await load.cannon({ ...common, url: hq.url, body: typename }),
        board: await load.cannon({ ...common, url: hq.url, body: board }),
        boardComputed: await load.cannon({ ...common, url: computing.url, body: board }),
      };
      rounds.push(round);
      console.log(`  round ${r + 1}: bare ${round.bare.rps.toFixed(0)}/s, agent-hq ${round.hq.rps.toFixed(0)}/s, board ${round.board.rps.toFixed(0)}/s (computed ${round.boardComputed.rps.toFixed(0)}/s)`);
    }
    raw.throughputRounds = rounds;
    for (const [name, result] of Object.entries(rounds.at(-1)!)) {
      if (result.gqlErrors || result.errors) notes.push(`${name}: ${result.gqlErrors} error answers, ${result.errors} socket errors (${result.sampleError})`);
    }
    const bareRps = median(rounds.map((r) => r.bare.rps));
    const hqRps = median(rounds.map((r) => r.hq.rps));
    const boardRps = median(rounds.map((r) => r.board.rps));
    const r1 = median(rounds.map((r) => r.hq.rps / r.bare.rps));
    const r2 = median(rounds.map((r) => r.board.rps / r.hq.rps));
    const r2Computed = median(rounds.map((r) => r.boardComputed.rps / r.hq.rps));
    row({ item: "1", figure: "bare Yoga { __typename } (baseline)", value: bareRps, unit: "req/s", note: `${settings.connections} connections` });
    row({ item: "1", figure: "agent-hq { __typename } with a token", value: hqRps, unit: "req/s", target: "≥ 90 % of bare", ratio: r1, ratioOf: "of bare Yoga", pass: r1 >= 0.9 });
    row({ item: "1", figure: "agent-hq { __typename } latency p99", value: median(rounds.map((r) => r.hq.p99)), unit: "ms", ratio: ratioOf(median(rounds.map((r) => r.hq.p99)), median(rounds.map((r) => r.bare.p99))), ratioOf: "of bare Yoga" });
    row({ item: "2", figure: "board page (50 tasks, assignees, blockers), answer kept", value: boardRps, unit: "req/s", target: "≥ 40 % of (1)", ratio: r2, ratioOf: "of (1)", pass: r2 >= 0.4 });
    row({ item: "2", figure: "board page computed (response cache off)", value: median(rounds.map((r) => r.boardComputed.rps)), unit: "req/s", target: "≥ 10 % of (1)", ratio: r2Computed, ratioOf: "of (1)", pass: r2Computed >= 0.1 });

    const seqTypename = await statementsPerRequest(hq, settings.statementSamples, () => load.sequential({ url: hq.url, token, body: typename, count: settings.statementSamples, warmup: 0 }));
    const seqBoard = await statementsPerRequest(hq, settings.statementSamples, () => load.sequential({ url: hq.url, token, body: board, count: settings.statementSamples, warmup: 0 }));
    const seqComputed = await statementsPerRequest(computing, settings.statementSamples, () => load.sequential({ url: computing!.url, token, body: board, count: settings.statementSamples, warmup: 0 }));
    await computing.stop();
    computing = null;
    row({ item: "2", figure: "board page computed: SQL statements per request", value: seqComputed, unit: "stmts", target: "≤ 3", pass: seqComputed <= 3.05 });
    row({ item: "2", figure: "board page, answer kept: SQL statements (the read version)", value: seqBoard, unit: "stmts" });
    row({ item: "1", figure: "{ __typename }: SQL statements per request (authentication)", value: seqTypename, unit: "stmts" });

    // 3: writes. Each createTask and each status change commits one journal row.
    const common = { connections: settings.connections, seconds: settings.writeSeconds, warmupSeconds: settings.warmupSeconds, token };
    const created = await load.cannon({ ...common, url: hq.url, body: { kind: "createTask", teamId } });
    const updated = await load.cannon({ ...common, url: hq.url, body: { kind: "updateStatus", taskIds: statusIds } });
    raw.writes = { created, updated };
    for (const [name, result] of Object.entries({ createTask: created, updateTask: updated })) {
      if (result.gqlErrors || result.errors) notes.push(`${name}: ${result.gqlErrors} error answers, ${result.errors} socket errors (${result.sampleError})`);
    }
    row({ item: "3", figure: "createTask (one journal row each)", value: created.rps, unit: "writes/s", ratio: ratioOf(created.rps, hqRps), ratioOf: "of (1)", note: `p99 ${created.p99} ms` });
    row({ item: "3", figure: "status update (updateTask status, one journal row each)", value: updated.rps, unit: "writes/s", ratio: ratioOf(updated.rps, hqRps), ratioOf: "of (1)", note: `p99 ${updated.p99} ms` });
    const createStatements = await statementsPerRequest(hq, 30, () => load.sequential({ url: hq.url, token, body: { kind: "fixed", query: CREATE_TASK, variables: { t: teamId } }, count: 30, warmup: 0 }));
    row({ item: "3", figure: "createTask: SQL statements per request", value: createStatements, unit: "stmts" });
    return hqRps;
  } finally {
    await computing?.stop();
    await hq.stop();
    await bare.stop();
  }
}

// ---------------------------------------------------------------------------------
// 4: claim-next drain

const TASK_PAGE = `query($t: ID!, $after: String) { team(id: $t) { tasks(first: 100, after: $after) {
  pageInfo { hasNextPage endCursor } edges { node { id claimToken status holder { name } } } } } }`;

async function claims(load: LoadGenerator, typenameRps: number | null): Promise<void> {
  log(`4: claim-next, ${settings.claimWorkers} workers, ${settings.claimTasks} ready tasks`);
  const databaseUrl = freshDatabaseUrl("claims");
  let hq = await startAgentHq("claims", databaseUrl);
  let lead: Agent;
  let workers: Agent[];
  let teamId: string;
  try {
    [lead, ...workers] = (await registerAgents(hq.url, "claim", settings.claimWorkers + 1)) as [Agent, ...Agent[]];
    teamId = await createTeam(hq.url, lead, "claims", workers);
  } finally {
    await hq.stop();
  }
  // Seeded in SQL (see lib/seed.ts): through the API 5,000 tasks take about a minute here.
  await seedTasks(
    databaseUrl,
    teamId,
    lead.id,
    Array.from({ length: settings.claimTasks }, (_, i): SeedTask => ({ number: i + 1, status: "pending", assigneeId: null, holderId: null, blockedByNumber: null })),
  );
  hq = await startAgentHq("claims", databaseUrl);
  try {
    await load.cannon({ url: hq.url, token: lead.token, connections: 10, seconds: 1, warmupSeconds: 0, body: { kind: "fixed", query: TYPENAME } });
    const before = await metrics(hq.base);
    const drained = await load.drain({ url: hq.url, tokens: workers.map((w) => w.token), teamId, maxSeconds: Number.isFinite(settings.claimSeconds) ? settings.claimSeconds : null });
    const after = await metrics(hq.base);
    const rate = drained.claims.length / drained.seconds;
    // No task claimed twice: every claim the workers got names a distinct task, and on the
    // server every claimed task has claim token 1, held by the worker that got it.
    const seen = new Map<string, number>();
    for (const c of drained.claims) seen.set(c.taskId, (seen.get(c.taskId) ?? 0) + 1);
    const clientDuplicates = [...seen.values()].filter((n) => n > 1).length;
    let serverTwice = 0;
    let holderMismatch = 0;
    let claimedOnServer = 0;
    const byTask = new Map(drained.claims.map((c) => [c.taskId, c]));
    let cursor: string | null = null;
    for (;;) {
      const page: any = await ok(hq.url, TASK_PAGE, { t: teamId, after: cursor }, lead.token);
      for (const { node } of page.team.tasks.edges as { node: { id: string; claimToken: number; status: string; holder: { name: string } | null } }[]) {
        if (node.claimToken > 1) serverTwice++;
        if (node.claimToken >= 1) claimedOnServer++;
        const claim = byTask.get(node.id);
        if (claim && node.holder?.name !== workers[claim.worker]!.name) holderMismatch++;
      }
      if (!page.team.tasks.pageInfo.hasNextPage) break;
      cursor = page.team.tasks.pageInfo.endCursor;
    }
    const twice = clientDuplicates + serverTwice + holderMismatch;
    raw.claims = {
      claimed: drained.claims.length,
      seconds: drained.seconds,
      stoppedEarly: drained.stoppedEarly,
      errors: drained.errors,
      sampleError: drained.sampleError,
      latencyP50: drained.latencyP50,
      latencyP99: drained.latencyP99,
      clientDuplicates,
      serverTwice,
      holderMismatch,
      claimedOnServer,
      statementsPerClaim: (after.agent_hq_db_statements! - before.agent_hq_db_statements!) / Math.max(1, drained.claims.length),
      journalRowsPerClaim: (after.agent_hq_journal_head! - before.agent_hq_journal_head!) / Math.max(1, drained.claims.length),
    };
    if (drained.errors) notes.push(`claim drain: ${drained.errors} error answers (${drained.sampleError})`);
    const scope = drained.stoppedEarly ? `${drained.claims.length} of ${settings.claimTasks} claimed in ${drained.seconds.toFixed(1)} s (stopped after ${settings.claimSeconds} s)` : `all ${drained.claims.length} drained in ${drained.seconds.toFixed(1)} s`;
    row({ item: "4", figure: `claim-next, ${workers.length} workers, ${settings.claimTasks} ready tasks (SQL-seeded)`, value: rate, unit: "claims/s", target: "≥ 1,000/s", ratio: ratioOf(rate, typenameRps ?? NaN), ratioOf: "of (1)", pass: rate >= 1000, note: scope });
    row({ item: "4", figure: "claim-next latency p50 / p99 under the drain", value: drained.latencyP50, unit: "ms", note: `p99 ${drained.latencyP99.toFixed(0)} ms` });
    row({ item: "4", figure: "tasks claimed twice", value: twice, unit: "tasks", target: "0", pass: twice === 0 && claimedOnServer === drained.claims.length, note: `${claimedOnServer} tasks hold a claim on the server, ${drained.claims.length} claims answered` });
    row({ item: "4", figure: "claim-next: SQL statements per claim", value: raw.claims ? (raw.claims as { statementsPerClaim: number }).statementsPerClaim : null, unit: "stmts" });
  } finally {
    await hq.stop();
  }
}

// ---------------------------------------------------------------------------------
// 5: fan-out to graphql-ws subscribers

class WsClients {
  private constructor(private readonly child: ReturnType<typeof spawnPinned>) {}

  static async start(config: WsClientsConfig): Promise<WsClients> {
    const child = track(
      spawnPinned(LOAD_CORE, process.execPath, ["--import", "tsx", "bench/ws-clients.ts"], {
        cwd: root,
        env: cleanEnv({ BENCH_WS: JSON.stringify(config) }),
        detached: true,
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      }),
    );
    const clients = new WsClients(child);
    await clients.next("ready");
    return clients;
  }

  get pid(): number {
    return this.child.pid!;
  }

  private next<T>(type: string): Promise<T> {
    return nextMessage<T>(this.child, type, "ws-clients");
  }


  async command<T>(command: WsCommand, reply: string): Promise<T> {
    const answer = this.next<T>(reply);
    this.child.send(command);
    return answer;
  }

  send(command: WsCommand): void {
    this.child.send(command);
  }

  async stop(): Promise<void> {
    await this.command({ cmd: "close" }, "closed").catch(() => undefined);
    await stopGroup(this.child, "SIGTERM", 5_000);
  }
}

async function waitForSubscriptions(server: RunningServer, count: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const live = (await metrics(server.base)).agent_hq_live_subscriptions ?? 0;
    if (live >= count || Date.now() > deadline) return live;
    await sleep(250);
  }
}

async function fanout(load: LoadGenerator): Promise<void> {
  log(`5: fan-out, ${settings.subscribers} graphql-ws subscribers, writer at ${settings.fanoutRate} commits/s`);
  const hq = await startAgentHq("fanout", freshDatabaseUrl("fanout"));
  let clients: WsClients | null = null;
  try {
    const [lead, ...members] = await registerAgents(hq.url, "fan", 20);
    const teamId = await createTeam(hq.url, lead!, "fanout", members);
    const taskIds = await createTasks(hq.url, lead!.token, teamId, Array.from({ length: 20 }, (_, i) => ({ title: `fan-out task ${i + 1}` })));
    const tokens = [lead!, ...members].map((a) => a.token);
    clients = await WsClients.start({ wsUrl: hq.wsUrl, tokens, teamId });
    const writer = (count: number) => load.writer({ url: hq.url, token: lead!.token, taskIds, rate: settings.fanoutRate, count });
    // Waits for every delivery, at most fanoutGraceSeconds after the writer's last answer.
    const collectFor = (count: number) => clients!.command<CollectResult>({ cmd: "collect", expected: count, timeoutMs: 15 * 60_000 }, "collected");

    // Baseline: one subscriber, 100 events.
    await clients.command<OpenResult>({ cmd: "open", count: 1, concurrency: 1 }, "opened");
    await waitForSubscriptions(hq, 1, 10_000);
    await writer(20); // warm-up of the write path
    await sleep(500);
    const phase = async (events: number) => {
      const before = await metrics(hq.base);
      const t0 = performance.now();
      const collecting = collectFor(events);
      const written = await writer(events);
      clients!.send({ cmd: "settle", committed: written.ok, graceMs: settings.fanoutGraceSeconds * 1000 });
      const collected = await collecting;
      return { before, t0, written, collected };
    };
    const readsPerCommit = (before: Record<string, number>, after: Record<string, number>, seconds: number) => {
      const commits = after.agent_hq_journal_head! - before.agent_hq_journal_head!;
      const reads = after.agent_hq_journal_tailer_reads! - before.agent_hq_journal_tailer_reads!;
      // The tailer also polls every JOURNAL_POLL_MS (1 s) while anyone listens.
      const polls = Math.floor(seconds / (JOURNAL_POLL_MS / 1000));
      return { commits, reads, polls, perCommit: commits > 0 ? Math.max(0, reads - polls) / commits : NaN };
    };
    const first = await phase(100);
    const one = first.collected;
    const oneReads = readsPerCommit(first.before, await metrics(hq.base), (performance.now() - first.t0) / 1000);
    await sleep(1_000);
    const rssBefore = hq.rss();

    const opened = await clients.command<OpenResult>({ cmd: "open", count: settings.subscribers - 1, concurrency: 50 }, "opened");
    const live = await waitForSubscriptions(hq, settings.subscribers, 60_000);
    await sleep(2_000);
    const rssWith = hq.rss();

    const cpuBefore = hq.cpu();
    const second = await phase(settings.fanoutEvents);
    const cpuAfter = hq.cpu();
    const { written, collected: many } = second;
    // Closing the subscribers first drops whatever the server still has to send, so
    // that the scrape is not queued behind it.
    await clients.stop();
    clients = null;
    const manyReads = readsPerCommit(second.before, await metrics(hq.base), (performance.now() - second.t0) / 1000);
    const perSubscriberKb = rssBefore !== null && rssWith !== null ? (rssWith - rssBefore) / 1024 / Math.max(1, live - 1) : null;
    // The server's CPU per delivery: on a shared machine, steadier than latency for comparing two builds.
    const cpuPerThousand = cpuBefore !== null && cpuAfter !== null && many.delivered > 0 ? ((cpuAfter - cpuBefore) * 1000 * 1000) / many.delivered : null;
    raw.fanout = { one, oneReads, opened, live, many, written, manyReads, rssBefore, rssWith, cpuBefore, cpuAfter };
    if (written.errors) notes.push(`fan-out writer: ${written.errors} errors (${written.sampleError})`);
    if (many.errors || opened.failed) notes.push(`fan-out subscribers: ${opened.failed} failed to open, ${many.errors} errors (${many.sampleError ?? opened.sampleError})`);
    const delivered = `${many.delivered.toLocaleString("en-US")} of ${many.expected.toLocaleString("en-US")} deliveries${many.complete ? "" : " (timed out)"}; subscriber process at ${(many.cpuShare * 100).toFixed(0)} % of its core`;
    row({ item: "5", figure: `event latency p50, ${live} subscribers (commit → received)`, value: many.commitP50, unit: "ms", ratio: ratioOf(many.commitP50, one.commitP50), ratioOf: "of 1 subscriber", note: delivered });
    row({ item: "5", figure: `event latency p99, ${live} subscribers (commit → received)`, value: many.commitP99, unit: "ms", target: "≤ 100 ms", ratio: ratioOf(many.commitP99, one.commitP99), ratioOf: "of 1 subscriber", pass: many.complete && many.commitP99 <= 100, note: `max ${many.commitMax.toFixed(0)} ms; writer send → received p99 ${many.sendP99.toFixed(0)} ms` });
    row({ item: "5", figure: "event latency p99, 1 subscriber (baseline)", value: one.commitP99, unit: "ms", note: `p50 ${one.commitP50.toFixed(1)} ms` });
    row({ item: "5", figure: "deliveries per second (first to last delivery)", value: many.delivered / many.deliverySeconds, unit: "msgs/s", note: `the load asks for ${(live * settings.fanoutRate).toLocaleString("en-US")}/s (${live} subscribers × ${settings.fanoutRate} events/s)` });
    row({ item: "5", figure: `writer: commits per second reached (asked ${settings.fanoutRate}/s)`, value: written.ok / written.seconds, unit: "commits/s", note: `${written.ok} of ${written.sent} committed; updateTask p50 ${written.latencyP50.toFixed(0)} ms, p99 ${written.latencyP99.toFixed(0)} ms` });
    row({ item: "5", figure: "server CPU per 1,000 deliveries", value: cpuPerThousand, unit: "ms", note: `${cpuAfter !== null && cpuBefore !== null ? (cpuAfter - cpuBefore).toFixed(2) : "?"} s of CPU (user + system) while ${many.delivered.toLocaleString("en-US")} events were delivered` });
    row({ item: "5", figure: `journal reads per commit, ${live} subscribers`, value: manyReads.perCommit, unit: "reads", target: "1, whatever the subscriber count", ratio: ratioOf(manyReads.perCommit, oneReads.perCommit), ratioOf: "of 1 subscriber", pass: Number.isFinite(manyReads.perCommit) ? manyReads.perCommit <= 1.05 : null, note: `${manyReads.reads} tailer reads (less ~${manyReads.polls} timed polls) for ${manyReads.commits} commits` });
    row({ item: "5", figure: "resident memory per subscriber", value: perSubscriberKb, unit: "KB", target: "≤ 40 KB", pass: perSubscriberKb === null ? null : perSubscriberKb <= 40, note: `RSS ${mb(rssBefore)} → ${mb(rssWith)} MB for ${live - 1} more subscriptions` });
  } finally {
    await clients?.stop();
    await hq.stop();
  }
}

const mb = (bytes: number | null) => (bytes === null ? "?" : (bytes / 1024 / 1024).toFixed(0));

// ---------------------------------------------------------------------------------
// 6: cold start

interface ColdStart {
  ms: number;
  serverRss: number | null;
  treeRss: number | null;
}

/**
 * Runs `command args` on an empty data folder (or a new PostgreSQL database) and times
 * the spawn to the first answered { __typename }; then, once, waits idle and reads the
 * resident memory of the server process (the deepest process running `script`).
 */
async function coldStart(command: string, commandArgs: string[], script: string, measureIdle: boolean, databaseUrl: string | null): Promise<ColdStart> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/graphql`;
  const env: Record<string, string> = { PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn" };
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  const started = performance.now();
  const child = track(spawn(command, commandArgs, { cwd: root, env: cleanEnv(env), detached: true, stdio: ["ignore", "pipe", "pipe"] }));
  let output = "";
  child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${command} ${commandArgs.join(" ")} exited: ${output}`);
      const answered = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: '{"query":"{ __typename }"}', signal: AbortSignal.timeout(1_000) }).then(
        async (r) => r.status === 200 && (await r.text()).includes("__typename"),
        () => false,
      );
      if (answered) break;
      if (performance.now() - started > 60_000) throw new Error(`no answer within 60 s: ${output}`);
      await sleep(10);
    }
    const ms = performance.now() - started;
    if (!measureIdle) return { ms, serverRss: null, treeRss: null };
    await sleep(3_000);
    const tree = processTree(child.pid!);
    const servers = tree.filter((pid) => commandLine(pid).includes(script));
    const server = servers.at(-1) ?? child.pid!;
    return { ms, serverRss: rssBytes(server), treeRss: tree.reduce((n, pid) => n + (rssBytes(pid) ?? 0), 0) };
  } finally {
    await stopGroup(child, "SIGTERM", 10_000);
  }
}

async function coldStarts(): Promise<void> {
  log("6: cold start (npm start on an empty data folder) and idle memory");
  const fresh = (name: string, i: number) => (cluster ? freshDatabaseUrl(`${name}${i}`) : `file:${join(workDir, `${name}-${i}`, "data", "agent-hq.db")}`);
  // npm start's own command (the bundle checked, rebuilt only if a source changed, then
  // run); the baseline is bundled and run by the same script, so both pay the same
  // start-up machinery.
  const start = npmStart();
  const startCommand = `node ${start.args.join(" ")}`;
  const bare: ColdStart[] = [];
  const npm: ColdStart[] = [];
  const direct: ColdStart[] = [];
  for (let i = 0; i < settings.coldRuns; i++) {
    // Interleaved, so that the machine's noise falls on all three alike.
    bare.push(await coldStart(process.execPath, [...start.args, BARE_YOGA], BARE_YOGA, i === 0, null));
    npm.push(await coldStart("npm", ["start"], start.script, i === 0, fresh("cold-npm", i)));
    if (i < Math.max(1, Math.floor(settings.coldRuns / 2))) direct.push(await coldStart(process.execPath, start.args, start.script, false, fresh("cold-node", i)));
  }
  raw.coldStart = { startCommand, bare, npm, direct };
  const npmMs = median(npm.map((c) => c.ms));
  const bareMs = median(bare.map((c) => c.ms));
  row({ item: "6", figure: `bare Yoga (${startCommand} ${BARE_YOGA}) start → first answer (baseline)`, value: bareMs, unit: "ms" });
  row({ item: "6", figure: "npm start on an empty data folder → first answered query", value: npmMs, unit: "ms", target: "≤ 1,500 ms", ratio: ratioOf(npmMs, bareMs), ratioOf: "of bare Yoga", pass: npmMs <= 1500, note: `median of ${npm.length}: ${npm.map((c) => c.ms.toFixed(0)).join(", ")} ms` });
  row({ item: "6", figure: `${startCommand} → first answered query`, value: median(direct.map((c) => c.ms)), unit: "ms", ratio: ratioOf(median(direct.map((c) => c.ms)), bareMs), ratioOf: "of bare Yoga", note: "the same without npm in front" });
  const idle = npm[0]!.serverRss;
  row({ item: "6", figure: "idle resident memory, server process", value: idle === null ? null : idle / 1024 / 1024, unit: "MB", target: "≤ 150 MB", ratio: idle && bare[0]!.serverRss ? idle / bare[0]!.serverRss : null, ratioOf: "of bare Yoga", pass: idle === null ? null : idle / 1024 / 1024 <= 150, note: `bare Yoga ${mb(bare[0]!.serverRss)} MB; npm + server together ${mb(npm[0]!.treeRss)} MB` });
}

// ---------------------------------------------------------------------------------
// 7: growth

/** The growth team's task #n: 70 % completed, 10 % held, 10 % blocked, 10 % ready. */
function growthTask(n: number, members: Agent[]): SeedTask {
  const kind = n % 10;
  const member = members[n % members.length]!.id;
  if (kind <= 6) return { number: n, status: "completed", assigneeId: member, holderId: null, blockedByNumber: kind === 3 && n > 1 ? n - 1 : null };
  if (kind === 7) return { number: n, status: "in_progress", assigneeId: member, holderId: member, blockedByNumber: null };
  if (kind === 8) return { number: n, status: "pending", assigneeId: null, holderId: null, blockedByNumber: n - 1 };
  return { number: n, status: "pending", assigneeId: null, holderId: null, blockedByNumber: null };
}

async function growth(load: LoadGenerator): Promise<void> {
  log(`7: growth, ${settings.growth.map((n) => n.toLocaleString("en-US")).join(" / ")} tasks in the team (SQL-seeded)`);
  const databaseUrl = freshDatabaseUrl("growth");
  let hq = await startAgentHq("growth", databaseUrl);
  let lead: Agent;
  let members: Agent[];
  let claimer: Agent;
  let teamId: string;
  try {
    const agents = await registerAgents(hq.url, "grow", 6);
    [lead, claimer] = agents as [Agent, Agent];
    members = agents.slice(2);
    teamId = await createTeam(hq.url, lead, "growth", [claimer, ...members]);
  } finally {
    await hq.stop();
  }
  const results: { size: number; board: number; ready: number; claim: number; claimStatements: number; boardErrors: number; claimErrors: number; claimNulls: number }[] = [];
  let seeded = 0;
  for (const size of settings.growth) {
    const tasks: SeedTask[] = [];
    for (let n = seeded + 1; n <= size; n++) tasks.push(growthTask(n, members));
    await seedTasks(databaseUrl, teamId, lead.id, tasks);
    seeded = size;
    // The data path is what grows with the team: no answers kept.
    hq = await startAgentHq(`growth-${size}`, databaseUrl, { RESPONSE_CACHE_MB: "0" });
    try {
      const samples = settings.growthSamples;
      await load.cannon({ url: hq.url, token: lead.token, connections: 4, seconds: 1, warmupSeconds: 0, body: { kind: "fixed", query: BOARD_PAGE, variables: { t: teamId } } });
      const board = await load.sequential({ url: hq.url, token: lead.token, body: { kind: "fixed", query: BOARD_PAGE, variables: { t: teamId } }, count: samples, warmup: 3 });
      const ready = await load.sequential({ url: hq.url, token: lead.token, body: { kind: "fixed", query: READY_PAGE, variables: { t: teamId } }, count: samples, warmup: 3 });
      const before = await metrics(hq.base);
      const claim = await load.sequential({ url: hq.url, token: claimer.token, body: { kind: "fixed", query: CLAIM_NEXT, variables: { t: teamId } }, count: samples, warmup: 0 });
      const after = await metrics(hq.base);
      const entry = {
        size,
        board: median(board.latencies),
        ready: median(ready.latencies),
        claim: median(claim.latencies),
        claimStatements: (after.agent_hq_db_statements! - before.agent_hq_db_statements!) / samples,
        boardErrors: board.errors + ready.errors,
        claimErrors: claim.errors,
        claimNulls: claim.nulls,
      };
      results.push(entry);
      if (entry.boardErrors || entry.claimErrors || entry.claimNulls) notes.push(`growth ${size}: ${entry.boardErrors} board errors, ${entry.claimErrors} claim errors, ${entry.claimNulls} empty claims (${board.sampleError ?? ready.sampleError ?? claim.sampleError})`);
      console.log(`  ${size} tasks: board p50 ${entry.board.toFixed(1)} ms, ready page p50 ${entry.ready.toFixed(1)} ms, claim-next p50 ${entry.claim.toFixed(1)} ms (${entry.claimStatements.toFixed(1)} statements)`);
    } finally {
      await hq.stop();
    }
  }
  raw.growth = results;
  const first = results[0]!;
  const last = results.at(-1)!;
  const label = (n: number) => (n >= 1000 ? `${n / 1000}k` : String(n));
  for (const [key, figure] of [
    ["claim", "claim-next latency p50 (one worker)"],
    ["board", "board page latency p50 (first 50 tasks)"],
    ["ready", "ready-tasks page latency p50 (filter ready, 50)"],
  ] as const) {
    for (const r of results) {
      const isLast = r === last && results.length > 1;
      const ratio = r === first ? null : r[key] / first[key];
      row({
        item: "7",
        figure: `${figure} @ ${label(r.size)} tasks`,
        value: r[key],
        unit: "ms",
        target: isLast && key !== "ready" ? `within 2× of ${label(first.size)}` : undefined,
        ratio,
        ratioOf: ratio === null ? undefined : `of ${label(first.size)}`,
        pass: isLast && key !== "ready" ? r[key] / first[key] <= 2 : undefined,
      });
    }
  }
}

// ---------------------------------------------------------------------------------
// The table

function printTable(): string {
  const header = ["#", "figure", "value", "unit", "target", "ratio", "pass"];
  const body = rows.map((r) => [
    r.item,
    r.figure,
    r.value === null ? "n/a" : formatNumber(r.value),
    r.unit,
    r.target ?? "",
    r.ratio == null ? "" : `${r.ratio.toFixed(2)} ${r.ratioOf ?? ""}`.trim(),
    r.pass == null ? "" : r.pass ? "pass" : "FAIL",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(" | ")} |`;
  const out = [line(header), `|${widths.map((w, i) => (i === 2 ? "-".repeat(w + 1) + ":" : "-".repeat(w + 2))).join("|")}|`, ...body.map(line)];
  return out.join("\n");
}

// ---------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = new Date();
  const loadBefore = loadavg();
  workDir = mkdtempSync(join(tmpdir(), "agent-hq-bench-"));
  console.log(`agent-hq benchmarks: ${quick ? "quick" : "full"} mode on ${usePostgres ? "PostgreSQL" : "SQLite"}, ${availableParallelism()} cores, load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")}`);
  console.log(pinningAvailable() ? "server pinned to core 0, load generator and subscribers to core 1 (taskset)" : "not pinned (no taskset or a single core)");
  if (!pinningAvailable()) notes.push("taskset unavailable or a single core: server and load generator were not pinned apart");
  if (usePostgres) {
    cluster = await startPostgresCluster();
    console.log(`private PostgreSQL cluster at ${cluster.url}`);
  }
  const load = await LoadGenerator.start();
  try {
    let typenameRps: number | null = null;
    const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      try {
        return await fn();
      } finally {
        const seconds = (performance.now() - t0) / 1000;
        sectionSeconds[name] = Math.round(seconds * 10) / 10;
        console.log(`  (${name}: ${seconds.toFixed(0)} s)`);
      }
    };
    if (wanted("throughput")) typenameRps = await timed("throughput", () => throughput(load));
    if (wanted("claims")) await timed("claims", () => claims(load, typenameRps));
    if (wanted("fanout")) await timed("fanout", () => fanout(load));
    if (wanted("work")) await timed("work", () => teamAtWork({ quick, postgres: usePostgres, load, boardPage: BOARD_PAGE, row, freshDatabaseUrl, notes, raw }));
    if (wanted("cold")) await timed("cold", () => coldStarts());
    if (wanted("growth")) await timed("growth", () => growth(load));
    if (wanted("mcp")) await timed("mcp", () => mcpAgents({ quick, row, freshDatabaseUrl, notes, raw }));
  } finally {
    await load.stop();
  }
  const finished = new Date();
  const loadAfter = loadavg();
  const table = printTable();
  console.log(`\n${table}\n`);
  console.log(`Run took ${((finished.getTime() - started.getTime()) / 1000).toFixed(0)} s; load average before ${loadBefore.map((l) => l.toFixed(2)).join(" ")}, after ${loadAfter.map((l) => l.toFixed(2)).join(" ")}.`);
  console.log("Ratios compare figures taken in this run; absolute numbers move with whatever else the machine is doing.");
  for (const note of notes) console.log(`note: ${note}`);

  const resultsDir = join(root, "bench", "results");
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${started.toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        startedAt: started.toISOString(),
        finishedAt: finished.toISOString(),
        mode: quick ? "quick" : "full",
        database: usePostgres ? "postgres" : "sqlite",
        machine: { cores: availableParallelism(), pinned: pinningAvailable(), loadAverageBefore: loadBefore, loadAverageAfter: loadAfter, node: process.version },
        settings: { ...settings, claimSeconds: Number.isFinite(settings.claimSeconds) ? settings.claimSeconds : null },
        rows,
        notes,
        sectionSeconds,
        raw,
      },
      null,
      2,
    ),
  );
  console.log(`results written to ${file}`);
}

function cleanup() {
  killAllChildren();
  try {
    cluster?.stop();
  } catch {
    // best effort
  }
  cluster = null;
  if (workDir) rmSync(workDir, { recursive: true, force: true });
}

process.once("SIGINT", () => {
  cleanup();
  process.exit(130);
});
// A promise that failed unobserved would end the process without stopping its servers (they run
// detached, in their own process groups): stop them first.
process.once("unhandledRejection", (error) => {
  console.error(error);
  cleanup();
  process.exit(1);
});
process.once("SIGTERM", () => {
  cleanup();
  process.exit(143);
});

main().then(
  () => {
    cleanup();
    process.exit(0);
  },
  (error: unknown) => {
    console.error(error);
    cleanup();
    process.exit(1);
  },
);
