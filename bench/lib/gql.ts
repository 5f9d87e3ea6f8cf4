// Setting up benchmarks over GraphQL (not for measuring), with the tests' HTTP client.
import { gql } from "../../test/helpers/client.js";
/** Runs an operation that must succeed; returns its data. */
export async function ok<T = any>(url: string, query: string, variables?: Record<string, unknown>, token?: string): Promise<T> {
  const result = await gql<T>(url, query, variables, token);
  if (result.errors?.length) throw new Error(`${query.slice(0, 80)}…: ${JSON.stringify(result.errors)}`);
  return result.data as T;
}

export interface Agent {
  name: string;
  token: string;
  id: string;
}

export async function registerAgent(url: string, name: string): Promise<Agent> {
  const data = await ok(url, `mutation($input: RegisterAgentInput!) { registerAgent(input: $input) { token agent { id } } }`, { input: { name } });
  return { name, token: data.registerAgent.token, id: data.registerAgent.agent.id };
}

/** Registers `count` agents, a few at a time. */
export async function registerAgents(url: string, prefix: string, count: number, concurrency = 8): Promise<Agent[]> {
  const agents: Agent[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      for (let i = next++; i < count; i = next++) agents[i] = await registerAgent(url, `${prefix}-${i}`);
    }),
  );
  return agents;
}

/** Creates a team led by `lead` with `members` (role "worker"); returns its ID. */
export async function createTeam(url: string, lead: Agent, name: string, members: Agent[]): Promise<string> {
  const data = await ok(url, `mutation($input: CreateTeamInput!) { createTeam(input: $input) { id } }`, { input: { name, role: "lead" } }, lead.token);
  const teamId = data.createTeam.id as string;
  // Aliased additions, 15 a request (the alias limit).
  for (let i = 0; i < members.length; i += 15) {
    const batch = members.slice(i, i + 15);
    const fields = batch.map((m, j) => `m${j}: addTeamMember(teamId: $t, agentName: ${JSON.stringify(m.name)}, role: "worker") { role }`).join("\n");
    await ok(url, `mutation($t: ID!) {\n${fields}\n}`, { t: teamId }, lead.token);
  }
  return teamId;
}

export interface TaskSpec {
  title: string;
  assignee?: string;
  blockedBy?: string[];
  priority?: string;
}

/** Creates tasks through the API, 15 aliased createTask a request, in order; returns IDs. */
export async function createTasks(url: string, token: string, teamId: string, specs: TaskSpec[]): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < specs.length; i += 15) {
    const batch = specs.slice(i, i + 15);
    const fields = batch.map((_, j) => `t${j}: createTask(teamId: $team, input: $i${j}) { id }`).join("\n");
    const vars: Record<string, unknown> = { team: teamId };
    const defs = batch.map((_, j) => `$i${j}: CreateTaskInput!`).join(", ");
    batch.forEach((spec, j) => (vars[`i${j}`] = spec));
    const data = await ok(url, `mutation($team: ID!, ${defs}) {\n${fields}\n}`, vars, token);
    batch.forEach((_, j) => ids.push(data[`t${j}`].id));
  }
  return ids;
}

/** Reads a Prometheus text exposition into name → value (unlabelled series only). */
export async function metrics(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(120_000) })).text();
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    // A labelled series under its name and labels as printed: `name{label="value"}`.
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)$/.exec(line);
    if (match) out[match[1]!] = Number(match[2]);
  }
  return out;
}
