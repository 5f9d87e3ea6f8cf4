// Story 3, the task API for agent code. An orchestrator creates tasks with a title,
// description, priority, assignee, status and free JSON metadata. The researcher updates
// status, progress (0–100) and notes, and attaches findings (JSON); the analyst, waiting on
// the team's task events, reads them from the task. Tasks are listed by assignee and status.
//
//   HQ_URL=http://localhost:4000/graphql node --import tsx examples/task-api.ts
import { Agent, check, main, waitFor } from "./hq-client.js";

const CREATE_TASK = `mutation($t: ID!, $input: CreateTaskInput!) { createTask(teamId: $t, input: $input) { id number title status priority assignee { name } metadata } }`;
const UPDATE_TASK = `mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { task { number status progress notes } } }`;
const TEAM_TASKS = `query($t: ID!, $filter: TaskFilter) { team(id: $t) { tasks(first: 50, filter: $filter) { edges { node { number title status progress } } } } }`;

main(async () => {
  const orchestrator = await Agent.register("orchestrator", "splits the work");
  const researcher = await Agent.register("researcher", "collects prices");
  const analyst = await Agent.register("analyst", "reads the findings");

  const { createTeam: team } = await orchestrator.request(`mutation { createTeam(input: { name: "market-research", role: "orchestrator" }) { id } }`);
  for (const [agent, role] of [[researcher, "researcher"], [analyst, "analyst"]] as const) {
    await orchestrator.request(`mutation($t: ID!, $n: String!, $r: String!) { addTeamMember(teamId: $t, agentName: $n, role: $r) { role } }`, { t: team.id, n: agent.name, r: role });
  }
  orchestrator.say(`created team "market-research" with the researcher and the analyst`);

  const create = async (input: Record<string, unknown>) => {
    const { createTask: task } = await orchestrator.request(CREATE_TASK, { t: team.id, input });
    orchestrator.say(`created #${task.number} "${task.title}": ${task.status}, ${task.priority}, for ${task.assignee?.name ?? "nobody"}, metadata ${JSON.stringify(task.metadata)}`);
    return task as { id: string; number: number };
  };
  const collect = await create({
    title: "Collect competitor prices",
    description: "Five competitors, all public plans",
    priority: "HIGH",
    assignee: researcher.name,
    status: "IN_PROGRESS",
    metadata: { source: "web", competitors: ["Acme", "Globex"], budget: { maxPages: 50 } },
  });
  await create({ title: "Summarize pricing tiers", assignee: researcher.name, metadata: { format: "table" } });
  await create({ title: "Draft the report", assignee: analyst.name, status: "IN_PROGRESS", priority: "LOW" });

  // The analyst follows findings as they land, from the start of the team's journal.
  const findingsLive = analyst.subscribe(`subscription($t: ID!) { taskEvents(teamId: $t, after: 0, kinds: ["task.finding_added"]) { cursor kind subjectId payload actor { name } } }`, {
    t: team.id,
  });

  const { updateTask } = await researcher.request(UPDATE_TASK, { id: collect.id, input: { progress: 60, notes: "3 of 5 sites done" } });
  researcher.say(`#${updateTask.task.number}: progress ${updateTask.task.progress}, notes "${updateTask.task.notes}"`);
  const refused = await researcher.refused(UPDATE_TASK, { id: collect.id, input: { progress: 120 } });
  check(refused.code === "BAD_USER_INPUT" && refused.extensions.field === "progress", "progress 120 is refused, naming the field");
  researcher.say(`progress 120 is refused: ${refused.message}`);

  const findings = [
    { competitor: "Acme", plans: [{ name: "Pro", monthly: 49 }, { name: "Team", monthly: 99 }], currency: "USD" },
    { competitor: "Globex", plans: [], note: "pricing on request" },
  ];
  for (const data of findings) {
    await researcher.request(`mutation($id: ID!, $data: JSONObject!) { addTaskFinding(id: $id, data: $data) { id } }`, { id: collect.id, data });
  }
  researcher.say(`attached ${findings.length} findings to #${collect.number}`);

  let seen = 0;
  await waitFor(findingsLive, (e) => e.subjectId === collect.id && ++seen === findings.length);
  findingsLive.close();
  const { task } = await analyst.request(`query($id: ID!) { task(id: $id) { findings { data author { name } createdAt } } }`, { id: collect.id });
  for (const f of task.findings) analyst.say(`finding by ${f.author.name}: ${JSON.stringify(f.data)}`);
  check(task.findings.length === 2 && task.findings[0].data.competitor === "Acme", "the analyst reads both findings");

  await researcher.request(UPDATE_TASK, { id: collect.id, input: { status: "COMPLETED", progress: 100, notes: "all five done" } });
  researcher.say(`completed #${collect.number}`);

  const list = async (filter: Record<string, unknown>) => {
    const { team: t } = await analyst.request(TEAM_TASKS, { t: team.id, filter });
    return t.tasks.edges.map((e: { node: { number: number; title: string; status: string; progress: number } }) => e.node);
  };
  const open = await list({ assignee: researcher.name, status: ["PENDING", "IN_PROGRESS"] });
  analyst.say(`the researcher's open tasks: ${open.map((t: any) => `#${t.number} ${t.title} [${t.status}]`).join(", ")}`);
  const done = await list({ assignee: researcher.name, status: ["COMPLETED"] });
  analyst.say(`the researcher's completed tasks: ${done.map((t: any) => `#${t.number} ${t.title} (${t.progress}%)`).join(", ")}`);
  check(open.length === 1 && open[0].title === "Summarize pricing tiers", "one open task for the researcher");
  check(done.length === 1 && done[0].title === "Collect competitor prices", "one completed task for the researcher");

  const { myTasks } = await analyst.request(`{ myTasks(filter: { status: [IN_PROGRESS] }) { edges { node { number title } } } }`);
  analyst.say(`my tasks in progress: ${myTasks.edges.map((e: any) => `#${e.node.number} ${e.node.title}`).join(", ")}`);
  check(myTasks.edges.length === 1, "the analyst has one task in progress");
});
