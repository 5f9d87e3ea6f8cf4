// Section "mcp" (item 8): agents driven through the real /mcp endpoint with the MCP SDK's own
// client, as an LLM agent in a tool loop drives it. What an agent costs is counted, not
// timed: tool calls, and the characters its model reads (the text of every answer, and
// tools/list's names, descriptions and input schemas once). Then the wake-up latency of the
// wait call (await_events), from a commit to the waiting agent's answer, on one instance and
// on two (the second on the same database, with and without Redis).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startRedisServer, type RedisServer } from "../test/helpers/redis-server.js";
import { createTeam, ok, registerAgent, registerAgents, type Agent } from "./lib/gql.js";
import { sleep } from "./lib/proc.js";
import type { Row } from "./lib/report.js";
import { startAgentHq, type RunningServer } from "./lib/server.js";
import { percentile } from "./lib/stats.js";

export interface McpSection {
  quick: boolean;
  row(r: Row): void;
  freshDatabaseUrl(name: string): string;
  notes: string[];
  raw: Record<string, unknown>;
}

type ToolSet = "worker" | "lead";

/** Tokens as the targets count them: about four characters each. */
const tokens = (chars: number) => chars / 4;

interface ToolAnswer {
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
  error: string | undefined;
}

/** One agent's MCP client, counting its tool calls and the characters its model reads. */
class McpAgent {
  calls = 0;
  chars = 0;
  /** Characters read by tool, from when `byTool` was last cleared. */
  byTool = new Map<string, number>();
  /** The text of the last answer of each tool. */
  lastText = new Map<string, string>();

  readonly name: string;

  private constructor(
    readonly agent: Agent,
    private readonly client: Client,
    /** tools/list as a model reads it: each tool's name, description and input schema. */
    readonly toolsChars: number,
    readonly toolCount: number,
    /** The server's instructions (initialize), which some clients also show the model. */
    readonly instructionsChars: number,
  ) {
    this.name = agent.name;
  }

  static async connect(server: RunningServer, agent: Agent, set: ToolSet): Promise<McpAgent> {
    const client = new Client({ name: `bench-${agent.name}`, version: "1.0.0" });
    const url = new URL(`${server.base}/mcp${set === "worker" ? "?tools=worker" : ""}`);
    await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${agent.token}` } } }));
    // Listing also makes the client check every answer's structuredContent against its outputSchema.
    const { tools } = await client.listTools();
    const toolsChars = tools.reduce((n, t) => n + t.name.length + (t.description?.length ?? 0) + JSON.stringify(t.inputSchema).length, 0);
    return new McpAgent(agent, client, toolsChars, tools.length, client.getInstructions()?.length ?? 0);
  }

  async call(name: string, args: Record<string, unknown> = {}): Promise<ToolAnswer> {
    const result = await this.client.callTool({ name, arguments: args }, undefined, { timeout: 120_000 });
    const text = (result.content as { type: string; text?: string }[]).map((c) => c.text ?? "").join("\n");
    this.calls++;
    this.chars += text.length;
    this.byTool.set(name, (this.byTool.get(name) ?? 0) + text.length);
    this.lastText.set(name, text);
    const data = result.structuredContent as Record<string, unknown> | undefined;
    return { text, data, error: result.isError ? String(data?.code ?? text) : undefined };
  }

  /** A call that must succeed. */
  async ok(name: string, args: Record<string, unknown> = {}): Promise<ToolAnswer> {
    const answer = await this.call(name, args);
    if (answer.error) throw new Error(`${this.name}: ${name} failed: ${answer.text}`);
    return answer;
  }

  /** A call the story expects to be refused with `code`. */
  async refused(name: string, args: Record<string, unknown>, code: string): Promise<ToolAnswer> {
    const answer = await this.call(name, args);
    if (answer.error !== code) throw new Error(`${this.name}: ${name} should have been refused with ${code}, answered: ${answer.text}`);
    return answer;
  }

  /**
   * The journal's end, as an agent learns it at start-up (examples/task_api.py does the
   * same): the wait call with timeout 0. Waits that pass this cursor miss nothing written
   * after it, whenever they are made.
   */
  async cursorNow(): Promise<number> {
    return (await this.ok("await_events", { timeout_seconds: 0 })).data.cursor as number;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

// ---------------------------------------------------------------------------------
// Story 1, seed 001's worker loop

const SEND = `mutation($to: [String!]!, $m: MessageInput!) { sendMessage(to: $to, message: $m) { id createdAt } }`;
const CREATE_TASK = `mutation($t: ID!, $i: CreateTaskInput!) { createTask(teamId: $t, input: $i) { id number title } }`;
const SET_CONTEXT = `mutation($s: ContextScope!, $k: String!, $v: JSON!) { setContext(scope: $s, key: $k, value: $v) { version } }`;
const SET_POLICY = `mutation($t: ID!, $rules: [WriteRuleInput!]!) { setWritePolicy(teamId: $t, rules: $rules) { role } }`;

const SPECS = [
  "Tables agents, teams, tasks; JSONB for agent_config; one index per foreign key.",
  "REST handlers for /tasks and /teams over the schema; errors as problem+json.",
  "Cursor pagination on every list; page size 50, at most 200.",
  "Token auth on every handler; 401 with WWW-Authenticate when missing.",
];

interface Cycle {
  calls: number;
  chars: number;
  /** Events the wait call answered with in this cycle. */
  events: number;
}

interface LoopResult {
  set: ToolSet;
  toolsChars: number;
  tools: number;
  instructionsChars: number;
  cycles: Cycle[];
  /** Characters read per task after the first, by tool (mean). */
  perTaskByTool: Record<string, number>;
  /** What the model read in the last cycle, answer by answer. */
  lastCycleTexts: Record<string, string>;
}

/**
 * A planner (GraphQL) puts `n` tasks on track main, assigned to the worker, each with its
 * spec in the task's context, and signals the worker by a direct message. The worker, an
 * agent over MCP: wait (await_events) → claim_next → recall the spec → dashboard_write →
 * dashboard_append → update_task completed, with the claim token from structuredContent.
 * Completing a task makes the next one on the track ready, and the server tells its
 * assignee (notice.task_ready): that is what the next wait answers with.
 */
async function workerLoop(server: RunningServer, set: ToolSet, n: number): Promise<LoopResult> {
  const planner = await registerAgent(server.url, `planner-${set}`);
  const workerAgent = await registerAgent(server.url, `worker-${set}`);
  const teamId = await createTeam(server.url, planner, `sprint-${set}`, [workerAgent]);
  const worker = await McpAgent.connect(server, workerAgent, set);
  try {
    const cycles: Cycle[] = [];
    let mark = { calls: 0, chars: -worker.toolsChars };
    let cursor = await worker.cursorNow();

    // The planner sets up the sprint, then signals.
    for (let i = 1; i <= n; i++) {
      const { createTask } = await ok(server.url, CREATE_TASK, { t: teamId, i: { title: `Sprint task ${i}: ${SPECS[(i - 1) % SPECS.length]!.split(";")[0]}`, track: "main", assignee: workerAgent.name } }, planner.token);
      await ok(server.url, SET_CONTEXT, { s: { taskId: createTask.id }, k: "spec", v: SPECS[(i - 1) % SPECS.length] }, planner.token);
    }
    await ok(server.url, SEND, { to: [workerAgent.name], m: { body: `Tasks ready on track main (${n}). Sprint 1 is live.`, intent: "DELEGATE" } }, planner.token);

    for (let k = 1; k <= n; k++) {
      const woke = await worker.ok("await_events", { after: cursor, timeout_seconds: 30 });
      cursor = woke.data.cursor;
      const claim = await worker.ok("claim_next", {});
      if (!claim.data.claimed) throw new Error(`cycle ${k}: nothing to claim after the wait answered: ${woke.text}`);
      const task = claim.data.task.number as number;
      const token = claim.data.claimToken as number;
      if (task !== k) throw new Error(`cycle ${k}: claimed #${task}, not #${k} (track order)`);
      await worker.ok("recall", { task, key: "spec" });
      await worker.ok("dashboard_write", { task, text: `Starting: ${claim.data.task.title} — ${new Date().toISOString()}`, claim_token: token });
      await worker.ok("dashboard_append", { task, text: "Done — all acceptance criteria met.", claim_token: token });
      await worker.ok("update_task", { task, status: "completed", claim_token: token });
      cycles.push({ calls: worker.calls - mark.calls, chars: worker.chars - mark.chars, events: woke.data.events.length });
      mark = { calls: worker.calls, chars: worker.chars };
      if (k === 1) worker.byTool.clear();
    }
    const perTaskByTool = Object.fromEntries([...worker.byTool].map(([tool, chars]) => [tool, Math.round(chars / (n - 1))]));
    return { set, toolsChars: worker.toolsChars, tools: worker.toolCount, instructionsChars: worker.instructionsChars, cycles, perTaskByTool, lastCycleTexts: Object.fromEntries(worker.lastText) };
  } finally {
    await worker.close();
  }
}

// ---------------------------------------------------------------------------------
// Stories 2–5, each once, every agent over MCP (setup over GraphQL only where MCP has no tool)

interface StoryResult {
  story: string;
  calls: number;
  chars: number;
  agents: number;
  note?: string;
}

async function connectAll(server: RunningServer, prefix: string, specs: [string, ToolSet][]): Promise<McpAgent[]> {
  const agents = await registerAgents(server.url, prefix, specs.length);
  // registerAgents names them prefix-0, prefix-1, …; the story names them by role.
  return Promise.all(agents.map((a, i) => McpAgent.connect(server, a, specs[i]![1])));
}

function total(story: string, agents: McpAgent[], note?: string): StoryResult {
  return { story, calls: agents.reduce((s, a) => s + a.calls, 0), chars: agents.reduce((s, a) => s + a.chars, 0), agents: agents.length, note };
}

/** Seed 004: a lead sets up headquarters and a board with a blocker; members are told and work it. */
async function teamHeadquarters(server: RunningServer): Promise<StoryResult> {
  const agents = await connectAll(server, "hq", [["lead", "lead"], ["worker", "worker"], ["worker", "worker"]]);
  const [lead, alice, bob] = agents as [McpAgent, McpAgent, McpAgent];
  try {
    await lead.ok("create_team", { name: "database-refactor", description: "Migrating the user database to PostgreSQL", role: "tech-lead" });
    await lead.ok("add_team_member", { agent: alice.name, role: "analyst" });
    await lead.ok("add_team_member", { agent: bob.name, role: "implementer" });
    const [aliceFrom, bobFrom] = [await alice.cursorNow(), await bob.cursorNow()];
    await lead.ok("create_task", { title: "Analyze current schema", assignee: alice.name, active_form: "Reading the schema" });
    await lead.ok("create_task", { title: "Create migration script", description: "Write the SQL to alter the users table.", active_form: "Writing SQL", metadata: { priority: "high" }, assignee: bob.name });
    await lead.ok("create_task", { title: "Update unit tests", assignee: bob.name });
    await lead.ok("add_dependency", { task: 3, blocked_by: 2 });
    // Each member is woken by its assignments and works them; #3 waits for #2.
    await alice.ok("await_events", { after: aliceFrom, timeout_seconds: 30 });
    const a = await alice.ok("claim_task", { task: 1 });
    await alice.ok("update_task", { task: 1, status: "completed", claim_token: a.data.claimToken });
    let bobAt = (await bob.ok("await_events", { after: bobFrom, timeout_seconds: 30 })).data.cursor;
    const b = await bob.ok("claim_task", { task: 2 });
    await bob.ok("update_task", { task: 2, status: "completed", claim_token: b.data.claimToken });
    bobAt = (await bob.ok("await_events", { after: bobAt, timeout_seconds: 30 })).data.cursor; // #3 is ready
    const c = await bob.ok("claim_task", { task: 3 });
    await bob.ok("update_task", { task: 3, status: "completed", claim_token: c.data.claimToken });
    await lead.ok("board");
    return total("team headquarters (seed 004)", agents);
  } finally {
    await Promise.all(agents.map((x) => x.close()));
  }
}

/** Seed 000: agent code creates tasks with metadata; the assignees update them and share findings. */
async function taskApi(server: RunningServer): Promise<StoryResult> {
  const agents = await connectAll(server, "api", [["lead", "lead"], ["worker", "worker"], ["worker", "worker"]]);
  const [coordinator, nlp, reporting] = agents as [McpAgent, McpAgent, McpAgent];
  try {
    await coordinator.ok("create_team", { name: "support-feedback" });
    await coordinator.ok("add_team_member", { agent: nlp.name, role: "nlp" });
    await coordinator.ok("add_team_member", { agent: reporting.name, role: "reporting" });
    const meta = { ticket_count: 47, deadline: "2024-01-20", category: "support" };
    await coordinator.ok("create_task", { title: "Extract key themes", description: "Identify recurring themes in feedback", priority: "high", assignee: nlp.name, metadata: meta });
    await coordinator.ok("create_task", { title: "Generate summary report", description: "Create executive summary of findings", priority: "high", assignee: reporting.name, blocked_by: [1] });
    await nlp.ok("list_tasks", { mine: true, status: ["pending"] });
    await nlp.ok("update_task", { task: 1, status: "in_progress", progress: 25, notes: "Processing first batch of 12 tickets" });
    const findings = { themes: ["pricing concerns", "feature requests", "onboarding"], sentiment: { positive: 0.35, neutral: 0.4, negative: 0.25 }, urgent_issues: 3 };
    await nlp.ok("update_task", { task: 1, status: "completed", progress: 100, metadata: { ...meta, findings } });
    await reporting.ok("list_tasks", { mine: true, status: ["pending"] });
    await reporting.ok("get_task", { task: 1 });
    return total("task API (seed 000)", agents);
  } finally {
    await Promise.all(agents.map((x) => x.close()));
  }
}

/** Seed 003: a governed team context, a wait on the context, and a question answered in its thread. */
async function researchPipeline(server: RunningServer): Promise<StoryResult> {
  // The analyst asks, a tool of the lead set.
  const agents = await connectAll(server, "pipe", [["lead", "lead"], ["worker", "worker"], ["lead", "lead"], ["worker", "worker"]]);
  const [orchestrator, researcher, analyst, writer] = agents as [McpAgent, McpAgent, McpAgent, McpAgent];
  try {
    const team = await orchestrator.ok("create_team", { name: "pricing-report", description: "Competitor pricing report", role: "orchestrator" });
    await orchestrator.ok("add_team_member", { agent: researcher.name, role: "researcher" });
    await orchestrator.ok("add_team_member", { agent: analyst.name, role: "analyst" });
    await orchestrator.ok("add_team_member", { agent: writer.name, role: "writer" });
    // No MCP tool sets the write policy (GraphQL setWritePolicy); not counted.
    const rules = [
      { role: "researcher", patterns: ["findings*", "sources*"] },
      { role: "analyst", patterns: ["analysis*"] },
      { role: "writer", patterns: ["draft*", "status"] },
    ];
    await ok(server.url, SET_POLICY, { t: team.data.team.id, rules }, orchestrator.agent.token);
    const [researcherFrom, analystFrom, writerFrom] = [await researcher.cursorNow(), await analyst.cursorNow(), await writer.cursorNow()];
    await researcher.ok("remember", { key: "findings.acme", value: { plans: { Pro: 49, Team: 99 }, currency: "USD" } });
    await researcher.ok("remember", { key: "sources.acme", value: ["https://acme.example/pricing"] });
    await analyst.ok("await_events", { after: analystFrom, team_kinds: ["context.set"], timeout_seconds: 30 });
    await analyst.ok("recall", { key: "findings.acme" });
    // The analyst asks; the researcher, waiting, hears the question and replies in its thread.
    const asked = analyst.ok("ask", { to: researcher.name, question: "Does Globex publish its prices?", timeout_seconds: 60 });
    // Awaited below; a failure meanwhile must not crash the run before its servers are stopped.
    asked.catch(() => {});
    const question = await researcher.ok("await_events", { after: researcherFrom, timeout_seconds: 30 });
    const questionId = (question.data.events as { kind: string; subjectId: string }[]).find((e) => e.kind === "message.received")?.subjectId;
    if (!questionId) throw new Error(`the researcher's wait brought no question: ${question.text}`);
    await researcher.ok("send_message", { to: analyst.name, body: "No: Globex prices are on request only.", reply_to: questionId });
    await asked;
    await analyst.ok("remember", { key: "analysis.summary", value: { cheapest: "Acme Pro", spread: 50, globex: "not public" } });
    await writer.ok("await_events", { after: writerFrom, team_kinds: ["context.set"], timeout_seconds: 30 });
    await writer.ok("recall", { key: "analysis.summary" });
    await writer.ok("remember", { key: "draft.intro", value: "Acme leads on price; Globex does not publish its prices." });
    await writer.refused("remember", { key: "findings.acme", value: "edited by the writer" }, "FORBIDDEN");
    await writer.ok("remember", { key: "status", value: "drafted" });
    return total("research pipeline (seed 003)", agents, "write policy set over GraphQL (no MCP tool); topics (publish/follow) have no MCP tool either, so not in this run");
  } finally {
    await Promise.all(agents.map((x) => x.close()));
  }
}

/** Seed 002: findings on a blackboard, a compare-and-set correction, and a searchable knowledge base. */
async function blackboardAndKnowledge(server: RunningServer): Promise<StoryResult> {
  // The knowledge tools and context_history are in the lead set only: these agents choose it.
  const agents = await connectAll(server, "kb", [["lead", "lead"], ["lead", "lead"], ["lead", "lead"]]);
  const [lead, researcher, reviewer] = agents as [McpAgent, McpAgent, McpAgent];
  try {
    await lead.ok("create_team", { name: "benchmarks-review" });
    await lead.ok("add_team_member", { agent: researcher.name, role: "researcher" });
    await lead.ok("add_team_member", { agent: reviewer.name, role: "reviewer" });
    await researcher.ok("remember", { key: "findings.latency", value: { p99_ms: 41, description: "wake-up p99 on one instance" } });
    await researcher.ok("remember", { key: "findings.throughput", value: { rps: 9200, description: "board page, cached" } });
    await researcher.ok("remember", { key: "findings.memory", value: { kb_per_subscriber: 31, description: "1,000 subscribers" } });
    await reviewer.ok("list_context", { pattern: "findings.*" });
    await reviewer.ok("recall", { key: "findings.latency" });
    await reviewer.ok("remember", { key: "findings.latency", value: { p99_ms: 44, description: "wake-up p99, rerun on an idle machine" }, expected_version: 1 });
    await researcher.refused("remember", { key: "findings.latency", value: { p99_ms: 40, description: "stale" }, expected_version: 1 }, "CONFLICT");
    await researcher.ok("context_history", { key: "findings.latency" });
    await researcher.ok("add_knowledge", { title: "Wake-up latency", body: "The wait call answers within a few milliseconds of a commit on one instance; across instances it needs Redis, or it waits for the tailer's poll.", tags: ["latency", "scale-out"] });
    await researcher.ok("add_knowledge", { title: "Board page cost", body: "A cached board page is one statement; a fresh one three.", tags: ["throughput"] });
    const found = await reviewer.ok("search_knowledge", { text: "latency" });
    await reviewer.ok("get_knowledge", { id: found.data.entries[0].id });
    return total("blackboard and knowledge (seed 002)", agents);
  } finally {
    await Promise.all(agents.map((x) => x.close()));
  }
}

// ---------------------------------------------------------------------------------
// Wake-up latency

/**
 * How long after the wait call is made the commit comes. The server must hold the wait by
 * then to measure a wake-up rather than a replay; a wait it had not yet registered answers
 * from the replay instead, as fast or faster, so a loaded machine cannot make this look
 * better than a wake-up.
 */
const WAIT_HELD_MS = 50;
/** The server's default: without Redis, another instance's commit is seen at the next poll. */
const JOURNAL_POLL_MS = 1000;

interface WakeResult {
  label: string;
  /** From the message's createdAt (written in the committing transaction) to the answer's arrival, ms. */
  commitToAnswer: number[];
  /** From sending sendMessage to the answer's arrival, ms: the above plus the request's way in. */
  sendToAnswer: number[];
  /** sendMessage's own round trip, ms, for comparison. */
  sendRoundTrip: number[];
}

/**
 * An agent waits on `waiterServer` (await_events over MCP, worker set); a lead sends it a
 * message through GraphQL on `senderServer`; the wait answers with it. One at a time.
 */
async function wakeUps(label: string, senderServer: RunningServer, waiterServer: RunningServer, count: number, warmup: number, spreadMs = 0): Promise<WakeResult> {
  const tag = label.replace(/[^a-z0-9]+/gi, "-");
  const lead = await registerAgent(senderServer.url, `wake-lead-${tag}`);
  const waiterAgent = await registerAgent(senderServer.url, `wake-waiter-${tag}`);
  await createTeam(senderServer.url, lead, `wake-${tag}`, [waiterAgent]);
  const waiter = await McpAgent.connect(waiterServer, waiterAgent, "worker");
  const result: WakeResult = { label, commitToAnswer: [], sendToAnswer: [], sendRoundTrip: [] };
  try {
    let cursor = await waiter.cursorNow();
    for (let i = 0; i < warmup + count; i++) {
      let arrived = 0;
      const pending = waiter.call("await_events", { after: cursor, timeout_seconds: 60 }).then((answer) => {
        arrived = performance.now();
        return answer;
      });
      pending.catch(() => {}); // awaited below, after the send
      await sleep(WAIT_HELD_MS + Math.random() * spreadMs);
      const sentAt = performance.now();
      const { sendMessage } = await ok(senderServer.url, SEND, { to: [waiterAgent.name], m: { body: `wake up ${i}` } }, lead.token);
      const answeredAt = performance.now();
      const answer = await pending;
      if (answer.error) throw new Error(`await_events failed: ${answer.text}`);
      if (!(answer.data.events as { subjectId: string }[]).some((e) => e.subjectId === sendMessage.id)) throw new Error(`the wait answered without the message: ${answer.text}`);
      cursor = answer.data.cursor;
      if (i < warmup) continue;
      result.commitToAnswer.push(performance.timeOrigin + arrived - Date.parse(sendMessage.createdAt));
      result.sendToAnswer.push(arrived - sentAt);
      result.sendRoundTrip.push(answeredAt - sentAt);
    }
  } finally {
    await waiter.close();
  }
  return result;
}

// ---------------------------------------------------------------------------------
// The section

export async function mcpAgents(s: McpSection): Promise<void> {
  const { row, notes, raw } = s;
  const tasks = s.quick ? 10 : 30;
  const wakes = 200;
  // Without Redis each wake-up waits for the other instance's poll (up to JOURNAL_POLL_MS).
  const polledWakes = s.quick ? 30 : 200;
  const databaseUrl = s.freshDatabaseUrl("mcp");
  const out: Record<string, unknown> = {};
  raw.mcp = out;

  const hq = await startAgentHq("mcp", databaseUrl);
  try {
    // Story 1: seed 001's worker loop, with each tool set.
    for (const set of ["worker", "lead"] as const) {
      const loop = await workerLoop(hq, set, tasks);
      out[`loop-${set}`] = loop;
      const [first, ...rest] = loop.cycles;
      const after = rest.reduce((n, c) => n + c.chars, 0) / rest.length;
      const maxCalls = Math.max(...rest.map((c) => c.calls));
      const label = `seed 001 worker loop, ${set} set (${tasks} tasks)`;
      console.log(`  ${label}: ${loop.cycles.map((c) => `${c.calls}/${c.chars}`).join(" ")} (calls/chars a cycle), tools/list ${loop.toolsChars} chars for ${loop.tools} tools`);
      console.log(`  per task after the first, characters by tool: ${Object.entries(loop.perTaskByTool).map(([t, c]) => `${t} ${c}`).join(", ")}`);
      row({ item: "8", figure: `${label}: tool calls in the first cycle (with the start-up wait for a cursor)`, value: first!.calls, unit: "calls", target: "≤ 7", pass: first!.calls <= 7 });
      row({ item: "8", figure: `${label}: tool calls per task after the first (most)`, value: maxCalls, unit: "calls", target: "≤ 7", pass: maxCalls <= 7 });
      row({ item: "8", figure: `${label}: tools/list read once (${loop.tools} tools: name, description, inputSchema)`, value: loop.toolsChars, unit: "chars" });
      row({ item: "8", figure: `${label}: read in the first cycle (tools/list + answers)`, value: first!.chars, unit: "chars", note: `${tokens(first!.chars).toFixed(0)} tokens; the wait answered ${first!.events} events (the assignments and the signal)` });
      row({ item: "8", figure: `${label}: read in the first cycle`, value: tokens(first!.chars), unit: "tokens" });
      row({ item: "8", figure: `${label}: read per task after the first (mean)`, value: after, unit: "chars", note: `most ${Math.max(...rest.map((c) => c.chars))}` });
      row({ item: "8", figure: `${label}: read per task after the first (mean)`, value: tokens(after), unit: "tokens", target: "< 1,500", pass: tokens(after) < 1500 });
      if (set === "worker") notes.push(`mcp: the server's instructions (initialize) are ${loop.instructionsChars} more characters, read once if the client shows them to the model`);
    }

    // Stories 2–5, once each.
    for (const story of [teamHeadquarters, taskApi, researchPipeline, blackboardAndKnowledge]) {
      const r = await story(hq);
      out[`story-${r.story}`] = r;
      console.log(`  ${r.story}: ${r.calls} calls, ${r.chars} characters read by ${r.agents} agents`);
      row({ item: "8", figure: `story ${r.story}, ${r.agents} agents: tool calls`, value: r.calls, unit: "calls" });
      row({ item: "8", figure: `story ${r.story}: read (tool answers, tools/list not included)`, value: r.chars, unit: "chars", note: r.note });
      if (r.note) notes.push(`mcp ${r.story}: ${r.note}`);
    }

    // Wake-up latency on one instance.
    const one = await wakeUps("one instance", hq, hq, wakes, 10);
    wakeRows(row, one, true);
    out.wakeOne = one;

    // A second instance on the same database, without Redis: its tailer sees the commit at its next poll.
    const second = await startAgentHq("mcp-second", databaseUrl);
    try {
      // The other instance's tailer polls from when its first listener came (this wait), so the
      // commit comes at a random moment of the poll period: a fixed one would always measure
      // the same point of it.
      const polled = await wakeUps("two instances, no Redis", hq, second, polledWakes, 2, JOURNAL_POLL_MS);
      wakeRows(row, polled, false, `bounded by the tailer's poll, JOURNAL_POLL_MS = ${JOURNAL_POLL_MS} (default)`);
      out.wakeTwoPolled = polled;
    } finally {
      await second.stop();
    }
  } finally {
    await hq.stop();
  }

  // Two instances announcing commits through Redis.
  let redis: RedisServer | null = null;
  try {
    redis = await startRedisServer();
  } catch (error) {
    notes.push(`mcp: no wake-up across instances with Redis: ${(error as Error).message.split("\n")[0]}`);
  }
  if (redis) {
    const env = { REDIS_URL: redis.url };
    const a = await startAgentHq("mcp-redis-a", databaseUrl, env);
    const b = await startAgentHq("mcp-redis-b", databaseUrl, env).catch(async (error: unknown) => {
      await a.stop();
      throw error;
    });
    try {
      const viaRedis = await wakeUps("two instances, Redis", a, b, wakes, 10);
      wakeRows(row, viaRedis, false);
      out.wakeTwoRedis = viaRedis;
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await redis.dispose();
    }
  }
}

function wakeRows(row: (r: Row) => void, r: WakeResult, targeted: boolean, note?: string): void {
  const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
  const commit = sorted(r.commitToAnswer);
  const send = sorted(r.sendToAnswer);
  const trip = sorted(r.sendRoundTrip);
  const p99 = percentile(commit, 99);
  console.log(
    `  wake-up, ${r.label}, ${commit.length} samples: commit → answer p50 ${percentile(commit, 50).toFixed(1)} / p99 ${p99.toFixed(1)} / max ${commit.at(-1)!.toFixed(1)} ms; ` +
      `send → answer p50 ${percentile(send, 50).toFixed(1)} ms; sendMessage round trip p50 ${percentile(trip, 50).toFixed(1)} ms`,
  );
  const figure = `wake-up, ${r.label} (${commit.length}): commit → await_events answer`;
  // The baseline taken in the same run: sendMessage's own round trip, at the same percentile.
  const ratio = (p: number) => ({ ratio: percentile(trip, p) > 0 ? percentile(commit, p) / percentile(trip, p) : null, ratioOf: `of sendMessage round trip p${p}` });
  row({ item: "8", figure: `${figure} p50`, value: percentile(commit, 50), unit: "ms", ...ratio(50), note });
  row({ item: "8", figure: `${figure} p99`, value: p99, unit: "ms", target: targeted ? "< 50 ms" : undefined, ...ratio(99), pass: targeted ? p99 < 50 : undefined, note });
}
