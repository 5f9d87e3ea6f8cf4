// Scale-out (issue #7): three real server processes on one PostgreSQL database, with
// Redis carrying journal announcements between them. Every instance serves every
// subscriber with no gap and no duplicate; claims, compare-and-set, numbering,
// ask-and-wait and the lease sweeper stay correct with one team's requests spread over
// the instances; a killed instance or a Redis outage costs latency, never data.
//
// Needs PostgreSQL (initdb, pg_ctl) and redis-server; without either the suite says
// which and skips. With TEST_DB=postgres it uses the run's cluster, otherwise it starts
// a private one for this file.
import { randomUUID } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { registerAgent, TestAgent, type GqlResult, type Subscription, type Transport } from "../helpers/client.js";
import { killAllInstances, startInstance, startInstances, type Instance } from "../helpers/instances.js";
import { postgresBinDir, startPostgresCluster, type PostgresCluster } from "../helpers/postgres-cluster.js";
import { redisServerPath, startRedisServer, type RedisServer } from "../helpers/redis-server.js";

const injectedPostgres = inject("postgresUrl");
const missing = [
  injectedPostgres || postgresBinDir() ? null : "PostgreSQL (apt-get install -y postgresql)",
  redisServerPath() ? null : "redis-server (apt-get install -y redis-server)",
].filter((m): m is string => m !== null);
if (missing.length > 0) console.log(`[scale-out] SKIPPED: ${missing.join(" and ")} not installed`);

const INSTANCES = 3;
const POLL_MS = 1000;
/** The instances' default: how long a valid token may be remembered. */
const TOKEN_CACHE_MS = 2000;
const root = join(import.meta.dirname, "../..");
const migrationCount = readdirSync(join(root, "prisma/migrations/postgres"), { withFileTypes: true }).filter((e) => e.isDirectory()).length;

const TEAM_EVENTS = `subscription($t: ID!, $after: Int) { teamEvents(teamId: $t, after: $after) { cursor kind payload } }`;
const INBOX_EVENTS = `subscription($after: Int) { inboxEvents(after: $after) { kind subjectId payload } }`;
const CREATE_TEAM = `mutation($input: CreateTeamInput!) { createTeam(input: $input) { id } }`;
const ADD_MEMBER = `mutation($t: ID!, $n: String!, $r: String!) { addTeamMember(teamId: $t, agentName: $n, role: $r) { role } }`;
const UPDATE_TEAM = `mutation($t: ID!, $d: String) { updateTeam(teamId: $t, input: { description: $d }) { id } }`;
const CREATE_TASK = `mutation($t: ID!, $input: CreateTaskInput!) { createTask(teamId: $t, input: $input) { id number } }`;
const CLAIM = `mutation($id: ID!, $lease: Int) { claimTask(id: $id, leaseSeconds: $lease) { token task { id holder { id } } } }`;
const CLAIM_NEXT = `mutation($t: ID!, $lease: Int) { claimNextTask(teamId: $t, leaseSeconds: $lease) { token task { id } } }`;
const UPDATE_TASK = `mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { task { id status } } }`;
const SET_CONTEXT = `mutation($s: ContextScope!, $k: String!, $v: JSON!, $e: Int) { setContext(scope: $s, key: $k, value: $v, expectedVersion: $e) { version } }`;
const GET_CONTEXT = `query($s: ContextScope!, $k: String!) { context(scope: $s, key: $k) { version } }`;
const CONTEXT_HISTORY = `query($s: ContextScope!, $k: String!) { contextHistory(scope: $s, key: $k, first: 100) { version value } }`;
const ASK = `mutation($to: [String!]!, $q: String!, $s: Int!) { ask(to: $to, question: $q, timeoutSeconds: $s) { timedOut unanswered reply { body sender { name } } } }`;
const REPLY = `mutation($id: ID!, $b: String!) { reply(messageId: $id, message: { body: $b }) { id } }`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const codeOf = (r: GqlResult) => r.errors?.[0]?.extensions?.code;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Polls `check` until it returns a value (not undefined) or `ms` pass. */
async function waitFor<T>(check: () => T | undefined | Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(25);
  }
}

interface StreamEvent {
  cursor: number;
  kind: string;
  payload: Record<string, unknown>;
  /** When this client received it. */
  at: number;
}

/** A subscription read continuously into `events`, until it ends. */
class Stream {
  readonly events: StreamEvent[] = [];
  ended = false;
  endReason = "";
  private readonly sub: Subscription;

  constructor(
    readonly label: string,
    agent: TestAgent,
    readonly transport: Transport,
    teamId: string,
    readonly after: number,
  ) {
    this.sub = agent.subscribe(transport, TEAM_EVENTS, { t: teamId, after });
    streams.add(this);
    void this.pump();
  }

  private async pump() {
    for (;;) {
      let result: GqlResult;
      try {
        result = await this.sub.next(600_000);
      } catch (error) {
        this.ended = true;
        this.endReason = String(error);
        return;
      }
      if (result.errors) {
        this.ended = true;
        this.endReason = JSON.stringify(result.errors);
        return;
      }
      this.events.push({ ...(result.data.teamEvents as Omit<StreamEvent, "at">), at: Date.now() });
    }
  }

  cursors(): number[] {
    return this.events.map((e) => e.cursor);
  }

  /** The cursor to resume from: the last one received, else where it started. */
  last(): number {
    return this.events.at(-1)?.cursor ?? this.after;
  }

  /** Waits until it has received `cursor`; fails if it ends first. */
  async reach(cursor: number, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.last() < cursor) {
      if (this.ended) throw new Error(`${this.label} ended at cursor ${this.last()} before ${cursor}: ${this.endReason}`);
      if (Date.now() > deadline) throw new Error(`${this.label} did not reach cursor ${cursor} within ${ms} ms (at ${this.last()})`);
      await sleep(25);
    }
  }

  async find(match: (e: StreamEvent) => boolean, ms: number, what: string): Promise<StreamEvent> {
    return waitFor(() => this.events.find(match), ms, `${this.label}: ${what}`);
  }

  async close() {
    streams.delete(this);
    await this.sub.close();
  }
}
const streams = new Set<Stream>();

describe.skipIf(missing.length > 0)(`scale-out: ${INSTANCES} server processes on one PostgreSQL database, announcements through Redis`, () => {
  let cluster: PostgresCluster | null = null;
  let adminUrl: string;
  let databaseUrl: string;
  let pool: pg.Pool;
  let redis: RedisServer;
  let instances: Instance[];
  let env: Record<string, string>;

  async function createDatabase(): Promise<string> {
    const name = `scale_${randomUUID().replace(/-/g, "")}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE "${name}"`);
    } finally {
      await admin.end();
    }
    return adminUrl.replace(/\/[^/]*$/, `/${name}`);
  }

  beforeAll(async () => {
    const started = Date.now();
    if (injectedPostgres) adminUrl = injectedPostgres;
    else {
      cluster = await startPostgresCluster();
      adminUrl = cluster.url;
    }
    databaseUrl = await createDatabase();
    pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
    redis = await startRedisServer();
    env = {
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      LOG_LEVEL: "warn",
      JOURNAL_POLL_MS: String(POLL_MS),
      // Every instance sweeps often, so that sweeps really overlap.
      LEASE_SWEEP_MS: "200",
      // The tests register many agents from one address and write fast.
      RATE_LIMIT_PER_MINUTE: "1000000",
      RATE_LIMIT_ANONYMOUS_PER_MINUTE: "1000000",
    };
    instances = await startInstances(INSTANCES, env);
    console.log(`[scale-out] PostgreSQL, redis-server and ${INSTANCES} instances ready in ${Date.now() - started} ms`);
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled([...streams].map((s) => s.close()));
    await killAllInstances();
    await pool?.end().catch(() => undefined);
    await redis?.dispose().catch(() => undefined);
    try {
      cluster?.stop();
    } catch (error) {
      console.warn(`[scale-out] stopping PostgreSQL failed: ${String(error)}`);
    }
  }, 60_000);

  // ---------------------------------------------------------------------------------
  // Agents and teams spread over the instances

  let agentCount = 0;

  /** The same agent (same token) talking to another instance. */
  const via = (agent: TestAgent, instance: Instance) => new TestAgent(instance.server, agent.name, agent.token, agent.id);

  /** `count` agents registered round-robin over the instances, each bound to the one it registered on. */
  async function agents(label: string, count: number): Promise<TestAgent[]> {
    return Promise.all(Array.from({ length: count }, (_, i) => registerAgent(instances[i % INSTANCES]!.server, `${label}-${++agentCount}`)));
  }

  /** A team led by a fresh lead (on instance 0) with `members` as role "worker". */
  async function teamOf(label: string, members: TestAgent[]): Promise<{ lead: TestAgent; teamId: string }> {
    const [lead] = await agents(`${label}-lead`, 1);
    const { createTeam } = await lead!.ok(CREATE_TEAM, { input: { name: `${label}-${agentCount}`, role: "lead" } });
    for (const m of members) await lead!.ok(ADD_MEMBER, { t: createTeam.id, n: m.name, r: "worker" });
    return { lead: lead!, teamId: createTeam.id as string };
  }

  /** A team's journal cursors after `after`, read straight from PostgreSQL. */
  async function journalCursors(teamId: string, after = 0): Promise<number[]> {
    const { rows } = await pool.query<{ id: number }>(`SELECT id FROM "JournalEvent" WHERE "teamId" = $1 AND id > $2 ORDER BY id`, [teamId, after]);
    return rows.map((r) => r.id);
  }

  /** Writes `updateTeam` in a loop through each of `writers` until stopped; counts failures. */
  function writeContinuously(writers: TestAgent[], teamId: string, pauseMs = 15) {
    let stopped = false;
    const failures: string[] = [];
    const durations: { at: number; ms: number }[] = [];
    let writes = 0;
    const loops = writers.map(async (w, i) => {
      for (let n = 0; !stopped; n++) {
        const startedAt = Date.now();
        const result = await w.run(UPDATE_TEAM, { t: teamId, d: `writer ${i} write ${n}` }).catch((e: unknown) => ({ errors: [{ message: String(e) }] }) as GqlResult);
        durations.push({ at: startedAt, ms: Date.now() - startedAt });
        if (result.errors) failures.push(`${w.server.url}: ${JSON.stringify(result.errors)}`);
        else writes++;
        await sleep(pauseMs);
      }
    });
    return {
      failures,
      durations,
      writes: () => writes,
      stop: async () => {
        stopped = true;
        await Promise.all(loops);
      },
    };
  }

  /** Writes once through `writer`'s instance; the time until `stream` received it, and its cursor. */
  async function probe(writer: TestAgent, teamId: string, stream: Stream, ms = 10_000): Promise<{ ms: number; cursor: number }> {
    const text = `probe ${randomUUID()}`;
    const sent = Date.now();
    await writer.ok(UPDATE_TEAM, { t: teamId, d: text });
    const event = await stream.find((e) => e.payload.description === text, ms, `probe from ${writer.server.url}`);
    return { ms: event.at - sent, cursor: event.cursor };
  }

  /** The cursors announced on the Redis channel from now on, as the instances hear them. */
  async function listenToAnnouncements(): Promise<{ cursors: number[]; close(): void }> {
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    const cursors: number[] = [];
    client.on("message", (_channel: string, message: string) => cursors.push(Number(JSON.parse(message))));
    await client.subscribe("journal:advanced");
    return { cursors, close: () => client.disconnect() };
  }

  async function redisSubscribers(): Promise<number> {
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await client.connect();
      const reply = (await client.pubsub("NUMSUB", "journal:advanced")) as [string, number];
      return Number(reply[1]);
    } finally {
      client.disconnect();
    }
  }

  // ---------------------------------------------------------------------------------

  it("instances started at the same moment on an empty database apply each migration once", async () => {
    const url = await createDatabase();
    const started = Date.now();
    const both = await Promise.all([0, 1].map((i) => startInstance(`migrating-${i}`, { ...env, DATABASE_URL: url })));
    const elapsed = Date.now() - started;
    try {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query<{ migration_name: string; n: number; finished: boolean }>(
          `SELECT migration_name, count(*)::int AS n, bool_and(finished_at IS NOT NULL AND rolled_back_at IS NULL) AS finished FROM _prisma_migrations GROUP BY migration_name`,
        );
        expect(rows).toHaveLength(migrationCount);
        expect(rows.every((r) => r.n === 1 && r.finished)).toBe(true);
      } finally {
        await client.end();
      }
    } finally {
      await Promise.all(both.map((i) => i.kill()));
    }
    console.log(`[scale-out] two instances migrating one empty database at once: both ready in ${elapsed} ms`);
  }, 90_000);

  it("announcements travel through Redis: a write on one instance reaches a subscriber on another well within the poll interval", async () => {
    const watchers = await agents("latency", INSTANCES);
    const { lead, teamId } = await teamOf("latency", watchers);
    // One subscriber per instance (watcher i registered on instance i).
    const subs = watchers.map((w, i) => new Stream(`watcher on ${i}`, w, i % 2 ? "sse" : "ws", teamId, 0));
    const head = (await journalCursors(teamId)).at(-1)!;
    await Promise.all(subs.map((s) => s.reach(head)));
    // Every instance's tailer listens on the Redis channel.
    expect(await waitFor(async () => ((await redisSubscribers()) >= INSTANCES ? true : undefined), 5_000, "every instance subscribed in Redis")).toBe(true);

    const announced = await listenToAnnouncements();
    const samples: number[] = [];
    const cursors: number[] = [];
    try {
      for (let round = 0; round < 5; round++) {
        for (let from = 0; from < INSTANCES; from++) {
          const to = (from + 1) % INSTANCES;
          const { ms, cursor } = await probe(via(lead, instances[from]!), teamId, subs[to]!);
          samples.push(ms);
          cursors.push(cursor);
        }
      }
      // Each commit was announced through Redis with its cursor.
      await waitFor(() => (cursors.every((c) => announced.cursors.includes(c)) ? true : undefined), 2_000, `announcements of ${cursors.join(" ")} (heard ${announced.cursors.join(" ")})`);
    } finally {
      announced.close();
    }
    console.log(`[scale-out] cross-instance latency over Redis, ms: median ${median(samples)}, max ${Math.max(...samples)} (${samples.join(" ")})`);
    // Polling alone would give a median near POLL_MS / 2.
    expect(median(samples)).toBeLessThan(300);
    for (const s of subs) await s.close();
  }, 60_000);

  it("subscribers on every instance (ws and sse) see exactly the team's journal, in order, while writers on every instance commit concurrently", async () => {
    // Member k is connected to instance k % INSTANCES: three members per instance.
    const members = await agents("stream", INSTANCES * 3);
    const { lead, teamId } = await teamOf("stream", members);
    // Two early subscribers per instance, one per transport, replaying from 0 and caught up before writes start.
    const early = instances.flatMap((_, i) => [
      new Stream(`ws on ${i}`, members[i]!, "ws", teamId, 0),
      new Stream(`sse on ${i}`, members[INSTANCES + i]!, "sse", teamId, 0),
    ]);
    const setup = (await journalCursors(teamId)).at(-1)!;
    await Promise.all(early.map((s) => s.reach(setup)));

    const WRITES = 10;
    const started = Date.now();
    const writers = instances.flatMap((instance, i) => [
      // The lead updates the team through every instance...
      ...[0, 1].map(async (w) => {
        for (let n = 0; n < WRITES; n++) await via(lead, instance).ok(UPDATE_TEAM, { t: teamId, d: `lead via ${i}, writer ${w}, write ${n}` });
      }),
      // ...and members create tasks through theirs.
      (async () => {
        const member = members[INSTANCES * 2 + i]!;
        for (let n = 0; n < WRITES; n++) await member.ok(CREATE_TASK, { t: teamId, input: { title: `${member.name} task ${n}` } });
      })(),
    ]);
    // Late subscribers join mid-stream at a random cursor, one per instance.
    const late: Stream[] = [];
    for (let i = 0; i < INSTANCES; i++) {
      await sleep(100 + Math.random() * 200);
      const now = await journalCursors(teamId);
      const after = now[Math.floor(Math.random() * now.length)]!;
      const member = members[INSTANCES * 2 + i]!;
      late.push(new Stream(`late ${i % 2 ? "ws" : "sse"} on ${i} after ${after}`, member, i % 2 ? "ws" : "sse", teamId, after));
    }
    await Promise.all(writers);
    const elapsed = Date.now() - started;

    const kinds = await pool.query<{ kind: string; n: number }>(`SELECT kind, count(*)::int AS n FROM "JournalEvent" WHERE "teamId" = $1 AND id > $2 GROUP BY kind`, [teamId, setup]);
    expect(Object.fromEntries(kinds.rows.map((r) => [r.kind, r.n]))).toMatchObject({ "team.updated": INSTANCES * 2 * WRITES, "task.created": INSTANCES * WRITES });
    const all = await journalCursors(teamId);
    const last = all.at(-1)!;
    for (const s of [...early, ...late]) {
      await s.reach(last);
      expect(s.cursors(), s.label).toEqual(await journalCursors(teamId, s.after));
      expect(s.ended, s.label).toBe(false);
    }
    console.log(`[scale-out] ${INSTANCES * WRITES * 3} writes over ${INSTANCES} instances in ${elapsed} ms, seen by ${early.length + late.length} subscribers on all instances`);
    for (const s of [...early, ...late]) await s.close();
  }, 90_000);

  it("claimTask races across instances: 30 agents, one winner a round, every loser CONFLICT, one task.claimed row", async () => {
    const racers = await agents("racer", 30);
    const { lead, teamId } = await teamOf("claims", racers);
    const ROUNDS = 5;
    for (let round = 0; round < ROUNDS; round++) {
      const { createTask } = await via(lead, instances[round % INSTANCES]!).ok(CREATE_TASK, { t: teamId, input: { title: `round ${round}` } });
      const results = await Promise.all(racers.map((r) => r.run(CLAIM, { id: createTask.id, lease: 60 })));
      const winners = results.flatMap((r, i) => (r.data?.claimTask ? [racers[i]!] : []));
      expect(winners, `round ${round}`).toHaveLength(1);
      expect(results.filter((r) => !r.data?.claimTask).map(codeOf), `round ${round}`).toEqual(Array(racers.length - 1).fill("CONFLICT"));
      const { rows } = await pool.query<{ actorId: string }>(`SELECT "actorId" FROM "JournalEvent" WHERE "subjectId" = $1 AND kind = 'task.claimed'`, [createTask.id]);
      expect(rows, `round ${round}`).toEqual([{ actorId: winners[0]!.id }]);
      const task = await pool.query<{ holderId: string }>(`SELECT "holderId" FROM "Task" WHERE id = $1`, [createTask.id]);
      expect(task.rows[0]!.holderId).toBe(winners[0]!.id);
    }
  }, 90_000);

  it("claimNextTask drains 60 tasks from all instances: every task claimed once and completed by its claimer", async () => {
    const workers = await agents("drainer", 30);
    const { lead, teamId } = await teamOf("drain", workers);
    const TASKS = 60;
    await Promise.all(Array.from({ length: TASKS }, (_, i) => via(lead, instances[i % INSTANCES]!).ok(CREATE_TASK, { t: teamId, input: { title: `drain ${i}` } })));
    const claims: { worker: number; taskId: string; token: number }[] = [];
    const earlyNulls: number[] = [];
    const started = Date.now();
    await Promise.all(
      workers.map(async (worker, w) => {
        for (;;) {
          const next = (await worker.ok(CLAIM_NEXT, { t: teamId, lease: 60 })).claimNextTask;
          if (next === null) {
            const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Task" WHERE "teamId" = $1 AND status = 'pending'`, [teamId]);
            if (rows[0]!.n > 0) earlyNulls.push(rows[0]!.n);
            return;
          }
          claims.push({ worker: w, taskId: next.task.id, token: next.token });
          await worker.ok(UPDATE_TASK, { id: next.task.id, input: { status: "COMPLETED", notes: worker.name, claimToken: next.token } });
        }
      }),
    );
    const elapsed = Date.now() - started;
    expect(claims).toHaveLength(TASKS);
    expect(new Set(claims.map((c) => c.taskId)).size).toBe(TASKS);
    expect(earlyNulls, "told nothing is ready while tasks were pending").toEqual([]);
    const { rows } = await pool.query<{ subjectId: string; actorId: string }>(`SELECT "subjectId", "actorId" FROM "JournalEvent" WHERE "teamId" = $1 AND kind = 'task.claimed'`, [teamId]);
    expect(rows).toHaveLength(TASKS);
    const byTask = new Map(claims.map((c) => [c.taskId, c]));
    for (const row of rows) expect(row.actorId).toBe(workers[byTask.get(row.subjectId)!.worker]!.id);
    const tasks = await pool.query<{ id: string; status: string; notes: string }>(`SELECT id, status, notes FROM "Task" WHERE "teamId" = $1`, [teamId]);
    for (const task of tasks.rows) expect(task).toMatchObject({ status: "completed", notes: workers[byTask.get(task.id)!.worker]!.name });
    console.log(`[scale-out] 30 agents on ${INSTANCES} instances drained ${TASKS} tasks in ${elapsed} ms`);
  }, 90_000);

  it("compare-and-set across instances: successes equal the final version, no two from the same expected version", async () => {
    const writers = await agents("cas", INSTANCES * 3);
    const { lead, teamId } = await teamOf("cas", writers);
    const scope = { teamId };
    const wins: number[] = [];
    let conflicts = 0;
    await Promise.all(
      writers.flatMap((w, i) =>
        [0, 1].map(async (j) => {
          for (let attempt = 0; attempt < 8; attempt++) {
            await sleep(Math.random() * 40);
            const version = ((await w.ok(GET_CONTEXT, { s: scope, k: "counter" })).context?.version ?? 0) as number;
            const result = await w.run(SET_CONTEXT, { s: scope, k: "counter", v: { by: `${i}/${j}`, from: version }, e: version });
            if (!result.errors) wins.push(version);
            else {
              expect(codeOf(result)).toBe("CONFLICT");
              conflicts++;
            }
          }
        }),
      ),
    );
    const final = (await lead.ok(GET_CONTEXT, { s: scope, k: "counter" })).context.version as number;
    expect(final).toBe(wins.length);
    expect(new Set(wins).size).toBe(wins.length);
    expect(conflicts).toBeGreaterThan(0);
    const history = (await lead.ok(CONTEXT_HISTORY, { s: scope, k: "counter" })).contextHistory as { version: number; value: { from: number } }[];
    expect(history.map((v) => v.version)).toEqual(Array.from({ length: wins.length }, (_, i) => wins.length - i));
    for (const v of history) expect(v.value.from).toBe(v.version - 1);
    console.log(`[scale-out] CAS over ${INSTANCES} instances: ${wins.length} successes, ${conflicts} conflicts`);
  }, 60_000);

  it("per-team numbering across instances: 45 concurrent createTask get 1..45, no gap, no repeat", async () => {
    const members = await agents("numbers", INSTANCES * 3);
    const { teamId } = await teamOf("numbers", members);
    const created = await Promise.all(Array.from({ length: 45 }, (_, i) => members[i % members.length]!.ok(CREATE_TASK, { t: teamId, input: { title: `n ${i}` } })));
    const numbers = created.map((c) => c.createTask.number as number).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: 45 }, (_, i) => i + 1));
    const { rows } = await pool.query<{ number: number }>(`SELECT number FROM "Task" WHERE "teamId" = $1 ORDER BY number`, [teamId]);
    expect(rows.map((r) => r.number)).toEqual(numbers);
  }, 60_000);

  it("a query answer kept on one instance is never given after a write acknowledged on another", async () => {
    const { lead, teamId } = await teamOf("kept", []);
    const { createTask } = await lead.ok(CREATE_TASK, { t: teamId, input: { title: "kept" } });
    // The same agent on every instance.
    const readers = instances.map((i) => via(lead, i));
    const NOTES = `query($t: ID!) { team(id: $t) { tasks(first: 5) { edges { node { id notes } } } } }`;
    const notesOn = async (reader: TestAgent) => (await reader.ok(NOTES, { t: teamId })).team.tasks.edges[0].node.notes;
    for (let n = 1; n <= 12; n++) {
      // Each instance answers twice (the second from its cache), then another instance writes.
      for (const reader of readers) expect([await notesOn(reader), await notesOn(reader)]).toEqual([n === 1 ? null : String(n - 1), n === 1 ? null : String(n - 1)]);
      await readers[n % INSTANCES]!.ok(UPDATE_TASK, { id: createTask.id, input: { notes: String(n) } });
      for (const reader of readers) expect(await notesOn(reader)).toBe(String(n));
    }
  }, 60_000);

  it("ask on one instance, reply from an agent connected to another: the ask returns the reply", async () => {
    const people = await agents("asker", INSTANCES * 2);
    await teamOf("ask", people);
    // asker i is on instance i; the agent it asks is on the next instance.
    const pairs = Array.from({ length: INSTANCES }, (_, i) => ({ asker: people[i]!, answerer: people[INSTANCES + ((i + 1) % INSTANCES)]! }));
    const answering = pairs.map(({ answerer }) =>
      (async () => {
        // Replay from 0: the ask is delivered even if it is sent before this subscription is live.
        const sub = answerer.subscribe("ws", INBOX_EVENTS, { after: 0 });
        try {
          for (;;) {
            const event = (await sub.next(30_000)).data.inboxEvents;
            if (event.payload.intent === "ask") {
              await answerer.ok(REPLY, { id: event.subjectId, b: `answer from ${answerer.name}` });
              return;
            }
          }
        } finally {
          await sub.close();
        }
      })(),
    );
    const started = Date.now();
    const asks = await Promise.all(pairs.map(({ asker, answerer }) => asker.ok(ASK, { to: [answerer.name], q: `ready, ${answerer.name}?`, s: 20 })));
    const elapsed = Date.now() - started;
    await Promise.all(answering);
    for (const [i, { ask }] of asks.entries()) {
      expect(ask).toMatchObject({ timedOut: false, unanswered: [], reply: { body: `answer from ${pairs[i]!.answerer.name}`, sender: { name: pairs[i]!.answerer.name } } });
    }
    console.log(`[scale-out] ${INSTANCES} asks answered across instances in ${elapsed} ms`);
  }, 60_000);

  it("the wait call on every instance is woken by a commit on another one", async () => {
    const waiters = await agents("waiter", INSTANCES);
    const { lead } = await teamOf("wait", waiters);
    const AWAIT = `query($after: Int) { awaitEvents(after: $after, timeoutSeconds: 120) { cursor timedOut events { cursor kind subjectId } } }`;
    const { rows } = await pool.query<{ id: number }>(`SELECT coalesce(max(id), 0)::int AS id FROM "JournalEvent"`);
    const from = rows[0]!.id;
    // Each waiter waits on its own instance; the message to it is sent through the next one.
    const pending = waiters.map((w) => w.ok(AWAIT, { after: from }));
    const sent = await Promise.all(
      waiters.map(async (w, i) => (await via(lead, instances[(i + 1) % INSTANCES]!).ok(`mutation($to: [String!]!) { sendMessage(to: $to, message: { body: "wake" }) { id } }`, { to: [w.name] })).sendMessage.id as string),
    );
    const answers = await Promise.all(pending);
    for (const [i, { awaitEvents }] of answers.entries()) {
      expect(awaitEvents.timedOut).toBe(false);
      expect(awaitEvents.events.map((e: { subjectId: string }) => e.subjectId)).toEqual([sent[i]]);
    }
  }, 60_000);

  it("a token revoked on one instance is refused there at once and on every other instance within TOKEN_CACHE_MS", async () => {
    const [agent] = await agents("revoked", 1);
    const onOthers = instances.slice(1).map((instance) => via(agent!, instance));
    // Each instance has now seen the token as valid (and may remember it).
    for (const other of onOthers) expect((await other.ok(`{ me { name } }`)).me.name).toBe(agent!.name);
    await via(agent!, instances[0]!).ok(`mutation { revokeToken { id } }`);
    const revokedAt = Date.now();
    expect((await via(agent!, instances[0]!).fails(`{ me { name } }`)).code).toBe("UNAUTHENTICATED");
    const refusedAfter = await Promise.all(
      onOthers.map(async (other) => {
        for (;;) {
          const result = await other.run(`{ me { name } }`);
          if (result.errors?.[0]?.extensions?.code === "UNAUTHENTICATED") return Date.now() - revokedAt;
          expect(Date.now() - revokedAt).toBeLessThan(TOKEN_CACHE_MS + 1_500);
          await new Promise((r) => setTimeout(r, 100));
        }
      }),
    );
    console.log(`[scale-out] revoked token refused on the other instances after ${refusedAfter.join(", ")} ms`);
  }, 30_000);

  it("an answer kept for a token that another instance just rotated away is not given for the new token", async () => {
    const [agent] = await agents("rotated", 1);
    const MY_TOKENS = `{ myTokens { id current revokedAt } }`;
    const [first, second] = [via(agent!, instances[0]!), via(agent!, instances[1]!)];
    await second.ok(`{ me { name } }`); // the second instance now remembers the old token
    const { rotateToken } = await first.ok(`mutation { rotateToken { token } }`);
    // Within TOKEN_CACHE_MS the second instance still takes the old token, and keeps its answer.
    const old = (await second.ok(MY_TOKENS)).myTokens;
    const fresh = (await new TestAgent(instances[1]!.server, agent!.name, rotateToken.token, agent!.id).ok(MY_TOKENS)).myTokens;
    const currentOf = (tokens: { id: string; current: boolean }[]) => tokens.filter((t) => t.current).map((t) => t.id);
    expect(currentOf(old)).toHaveLength(1);
    expect(currentOf(fresh)).toHaveLength(1);
    expect(currentOf(fresh)).not.toEqual(currentOf(old));
  }, 30_000);

  it("the lease sweepers of every instance return each expired claim once, with one task.lease_expired row", async () => {
    const holders = await agents("holder", INSTANCES * 2);
    const { lead, teamId } = await teamOf("sweep", holders);
    const tasks = await Promise.all(holders.map((_, i) => via(lead, instances[i % INSTANCES]!).ok(CREATE_TASK, { t: teamId, input: { title: `lease ${i}` } })));
    await Promise.all(holders.map((h, i) => h.ok(CLAIM, { id: tasks[i]!.createTask.id, lease: 5 })));
    const pending = async () => (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Task" WHERE "teamId" = $1 AND status = 'pending' AND "holderId" IS NULL`, [teamId])).rows[0]!.n;
    await waitFor(async () => ((await pending()) === tasks.length ? true : undefined), 15_000, "every expired claim swept");
    // A few more sweeps of every instance: still one row each.
    await sleep(1_000);
    const { rows } = await pool.query<{ subjectId: string; n: number }>(
      `SELECT "subjectId", count(*)::int AS n FROM "JournalEvent" WHERE "teamId" = $1 AND kind = 'task.lease_expired' GROUP BY "subjectId"`,
      [teamId],
    );
    expect(rows).toHaveLength(tasks.length);
    expect(rows.every((r) => r.n === 1)).toBe(true);
  }, 60_000);

  it("kill -9 one instance mid-stream and restart it: its subscribers resume with their last cursor and miss nothing", async () => {
    const members = await agents("crash", INSTANCES * 2);
    const { lead, teamId } = await teamOf("crash", members);
    const victim = instances[INSTANCES - 1]!;
    const onVictim = members.filter((m) => m.server === victim.server);
    expect(onVictim.length).toBeGreaterThanOrEqual(2);
    const [wsAgent, sseAgent] = onVictim as [TestAgent, TestAgent];
    const first = {
      ws: new Stream("ws on victim", wsAgent, "ws", teamId, 0),
      sse: new Stream("sse on victim", sseAgent, "sse", teamId, 0),
    };
    const control = new Stream("control on instance 0", members[0]!, "ws", teamId, 0);

    // Writes go on through the other instances the whole time.
    const writing = writeContinuously(instances.slice(0, -1).map((i) => via(lead, i)), teamId);
    await Promise.all([first.ws, first.sse].map((s) => waitFor(() => (s.events.length >= 20 ? true : undefined), 20_000, `${s.label} streaming`)));

    const killedAt = Date.now();
    await victim.kill();
    await Promise.all([first.ws, first.sse].map((s) => waitFor(() => (s.ended ? true : undefined), 10_000, `${s.label} noticing the crash`)));

    // The ws subscriber moves to another instance at once; the sse one waits for the restart.
    const moved = new Stream("ws moved to instance 0", via(wsAgent, instances[0]!), "ws", teamId, first.ws.last());
    await sleep(300);
    await victim.restart();
    const downMs = Date.now() - killedAt;
    const back = new Stream("sse back on the restarted instance", sseAgent, "sse", teamId, first.sse.last());
    await waitFor(() => (back.events.length > 0 ? true : undefined), 20_000, "sse receiving on the restarted instance");
    await sleep(500);
    await writing.stop();

    expect(writing.failures).toEqual([]);
    const all = await journalCursors(teamId);
    const last = all.at(-1)!;
    for (const s of [moved, back, control]) await s.reach(last);
    expect([...first.ws.cursors(), ...moved.cursors()], "ws subscriber, before and after the crash").toEqual(all);
    expect([...first.sse.cursors(), ...back.cursors()], "sse subscriber, before and after the crash").toEqual(all);
    expect(control.cursors(), "subscriber on a surviving instance").toEqual(all);
    console.log(
      `[scale-out] crash: ${writing.writes()} writes while instance ${victim.name} was killed and back after ${downMs} ms; ` +
        `ws resumed after ${first.ws.events.length} events, sse after ${first.sse.events.length}`,
    );
    for (const s of [moved, back, control]) await s.close();
  }, 120_000);

  it("Redis down mid-stream: mutations go on, every subscriber still gets every event within the poll bound; Redis back: announcements resume; nothing lost, nothing twice", async () => {
    const members = await agents("outage", INSTANCES * 2);
    const { lead, teamId } = await teamOf("outage", members);
    const reader = instances[1]!;
    const onReader = members.filter((m) => m.server === reader.server) as [TestAgent, TestAgent];
    const subs = [new Stream("ws on 1", onReader[0], "ws", teamId, 0), new Stream("sse on 1", onReader[1], "sse", teamId, 0)];
    const head = (await journalCursors(teamId)).at(-1)!;
    await Promise.all(subs.map((s) => s.reach(head)));

    // Writers on the other instances.
    const writing = writeContinuously([via(lead, instances[0]!), via(lead, instances[2]!)], teamId, 50);
    await sleep(500);

    await redis.stop();
    const downAt = Date.now();
    // While Redis is down, a subscription starts on an instance with no listener (its
    // tailer subscribes in Redis) and later the last one there ends (it unsubscribes).
    const joiner = new Stream("joined on 2 during the outage", members.find((m) => m.server === instances[2]!.server)!, "ws", teamId, head);
    const outageLatency: number[] = [];
    // Longer than ioredis's default per-command retry budget (20 retries, about 10 s).
    while (Date.now() - downAt < 12_000) {
      outageLatency.push((await probe(via(lead, instances[0]!), teamId, subs[0]!, POLL_MS + 3_000)).ms);
      await sleep(100 + Math.random() * POLL_MS);
    }
    for (const i of instances) expect(i.alive(), `${i.name} died during the Redis outage:\n${i.output()}`).toBe(true);
    const mark = (await journalCursors(teamId)).at(-1)!;
    await joiner.reach(mark, POLL_MS + 3_000);
    const joinerLast = joiner.last();
    await joiner.close();
    await sleep(1_000);
    expect(writing.failures, "mutations while Redis was down").toEqual([]);
    const slowest = Math.max(...writing.durations.filter((d) => d.at >= downAt).map((d) => d.ms));

    await redis.restart();
    const upAt = Date.now();
    // Instance 1, whose subscribers are live, subscribes again (ioredis reconnects with a
    // backoff of up to 2 s), and the instances publish again.
    await waitFor(async () => ((await redisSubscribers().catch(() => 0)) >= 1 ? true : undefined), 15_000, "instance 1 subscribed again in Redis");
    const announced = await listenToAnnouncements();
    const resumed: number[] = [];
    const cursors: number[] = [];
    try {
      // The writing instances' publishers reconnect on their own schedule: wait until each is heard.
      for (const writer of [instances[0]!, instances[2]!]) {
        await waitFor(
          async () => {
            const { cursor } = await probe(via(lead, writer), teamId, subs[0]!, POLL_MS + 3_000);
            await sleep(100);
            return announced.cursors.includes(cursor) ? true : undefined;
          },
          15_000,
          `${writer.name} publishing again`,
        );
      }
      for (let i = 0; i < 9; i++) {
        const { ms, cursor } = await probe(via(lead, instances[i % 2 ? 2 : 0]!), teamId, subs[i % 2]!);
        resumed.push(ms);
        cursors.push(cursor);
      }
      await waitFor(() => (cursors.every((c) => announced.cursors.includes(c)) ? true : undefined), 10_000, `announcements of ${cursors.join(" ")} after Redis returned`);
    } finally {
      announced.close();
    }
    await sleep(300);
    await writing.stop();
    for (const i of instances) expect(i.alive(), `${i.name} died after the Redis outage:\n${i.output()}`).toBe(true);

    const all = await journalCursors(teamId);
    const last = all.at(-1)!;
    for (const s of subs) {
      await s.reach(last);
      expect(s.cursors(), s.label).toEqual(all);
      expect(s.ended, s.label).toBe(false);
    }
    expect(joiner.cursors().filter((c) => c <= joinerLast)).toEqual(await journalCursors(teamId, head).then((c) => c.filter((x) => x <= joinerLast)));
    console.log(
      `[scale-out] Redis outage of ${upAt - downAt} ms: ${writing.writes()} writes, none failed, slowest ${slowest} ms; ` +
        `latency during the outage median ${median(outageLatency)} ms, max ${Math.max(...outageLatency)} ms; after Redis returned median ${median(resumed)} ms (${resumed.join(" ")})`,
    );
    // During the outage the poll bounds the delay; afterwards Redis carries announcements again.
    expect(Math.max(...outageLatency)).toBeLessThan(POLL_MS + 1_500);
    expect(slowest).toBeLessThan(3_000);
    expect(median(resumed)).toBeLessThan(300);
    for (const s of subs) await s.close();
  }, 120_000);
});
