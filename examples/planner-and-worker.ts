// Story 1, planner and worker. A planner sets up a sprint: a milestone, two tasks in order on
// track "main" and one on track "review", a role with instructions on each, context for the
// first task, and a direct message "tasks ready". A worker, running at the same time, waits
// for that message on its inbox subscription, then works through its tasks in track order.
// The planner waits on the team's task events until the sprint's main track is done.
//
//   HQ_URL=http://localhost:4000/graphql node --import tsx examples/planner-and-worker.ts
import { Agent, check, main, waitFor } from "./hq-client.js";

const READINESS = `readiness { ready reason }`;

main(async () => {
  const planner = await Agent.register("planner", "plans the sprint");
  const worker = await Agent.register("worker", "implements tasks");
  planner.say(`registered as ${planner.name}; the worker is ${worker.name}`);
  await Promise.all([runPlanner(planner, worker), runWorker(worker, planner)]);
});

async function runPlanner(planner: Agent, worker: Agent) {
  const { createTeam: team } = await planner.request(`mutation { createTeam(input: { name: "API v2", role: "planner" }) { id } }`);
  await planner.request(`mutation($t: ID!, $n: String!) { addTeamMember(teamId: $t, agentName: $n, role: "worker") { role } }`, { t: team.id, n: worker.name });
  const { createMilestone: sprint } = await planner.request(`mutation($t: ID!) { createMilestone(teamId: $t, name: "Sprint 1") { id name } }`, { t: team.id });
  planner.say(`created team "API v2" with the worker, and milestone "${sprint.name}"`);

  // Follow the team's completions from the start of its journal: nothing can slip by.
  const completions = planner.subscribe(`subscription($t: ID!) { taskEvents(teamId: $t, after: 0, kinds: ["task.completed"]) { cursor kind subjectId payload actor { name } } }`, {
    t: team.id,
  });

  const createTask = async (title: string, track: string, role: string, instructions: string) => {
    const { createTask: task } = await planner.request(
      `mutation($t: ID!, $input: CreateTaskInput!) { createTask(teamId: $t, input: $input) { id number title track } }`,
      { t: team.id, input: { title, milestoneId: sprint.id, track } },
    );
    await planner.request(`mutation($id: ID!, $n: String!, $r: String!, $i: String) { assignTaskRole(id: $id, agentName: $n, role: $r, instructions: $i) { id } }`, {
      id: task.id,
      n: worker.name,
      r: role,
      i: instructions,
    });
    planner.say(`created #${task.number} "${title}" on track ${track}; the worker is its ${role}`);
    return task as { id: string; number: number; title: string };
  };
  const design = await createTask("Design the data schema", "main", "implementer", "Implement: design the data schema. Follow existing patterns.");
  const build = await createTask("Implement the API endpoints", "main", "implementer", "Implement: the endpoints of the new schema.");
  const review = await createTask("Review the API design", "review", "reviewer", "Review the API design; comment on the dashboard.");

  await planner.request(`mutation($s: ContextScope!, $v: JSON!) { setContext(scope: $s, key: "acceptance", value: $v) { version } }`, {
    s: { taskId: design.id },
    v: { tables: ["users", "sessions"], mustHave: "a migration that runs twice safely" },
  });
  planner.say(`left context "acceptance" on #${design.number}`);

  await planner.request(`mutation($to: [String!]!, $p: JSONObject) { sendMessage(to: $to, message: { body: "Tasks ready. Sprint 1 is live.", intent: DELEGATE, payload: $p }) { id } }`, {
    to: [worker.name],
    p: { teamId: team.id, milestoneId: sprint.id },
  });
  planner.say(`sent the worker "Tasks ready. Sprint 1 is live."`);

  // No polling: wait on the subscription until all three tasks are done.
  const open = new Set([design.id, build.id, review.id]);
  await waitFor(
    completions,
    (event) => {
      planner.say(`saw #${event.payload.number} completed by ${event.actor?.name}`);
      open.delete(event.subjectId);
      return open.size === 0;
    },
    20_000,
  );
  completions.close();

  const { team: read } = await planner.request(`query($t: ID!) { team(id: $t) { board } }`, { t: team.id });
  planner.say("the board:");
  for (const line of read.board.split("\n")) console.log(`    ${line}`);
  check(read.board.includes(`#${design.number} [completed] Design the data schema (${worker.name})`), "the board shows #1 completed by the worker");
  check(read.board.includes(`#${build.number} [completed] Implement the API endpoints (${worker.name})`), "the board shows #2 completed by the worker");
  check(read.board.includes(`#${review.number} [completed] Review the API design (${worker.name})`), "the board shows #3 completed by the worker");
}

async function runWorker(worker: Agent, planner: Agent) {
  // Everything delivered to the worker: messages, and the server's notices.
  const inbox = worker.subscribe(`subscription { inboxEvents(after: 0) { cursor kind subjectId payload actor { name } } }`);
  await waitFor(inbox, (e) => e.kind === "message.received" && e.actor?.name === planner.name);

  const { inbox: unread } = await worker.request(`query($from: String!) { inbox(filter: { unread: true, from: $from }) { edges { node { message { body payload } } } } }`, {
    from: planner.name,
  });
  const message = unread.edges[0]?.node.message;
  check(message, "the planner's message is in the unread inbox");
  worker.say(`read "${message.body}" from the planner`);
  const { teamId, milestoneId } = message.payload as { teamId: string; milestoneId: string };
  const { acknowledge } = await worker.request(`mutation($from: String!) { acknowledge(from: $from) }`, { from: planner.name });
  worker.say(`acknowledged the planner (${acknowledge} message marked read)`);

  const { myTasks } = await worker.request(`query($m: ID!) { myTasks(filter: { milestoneId: $m }) { edges { node { id number title track ${READINESS} roles { role instructions } } } } }`, {
    m: milestoneId,
  });
  type Mine = { id: string; number: number; title: string; track: string; readiness: { ready: boolean; reason: string } };
  const tasks: Mine[] = myTasks.edges.map((e: { node: Mine }) => e.node);
  for (const t of tasks) worker.say(`my task #${t.number} "${t.title}" (track ${t.track}): ${t.readiness.reason}`);
  const [design, build, review] = [1, 2, 3].map((n) => tasks.find((t) => t.number === n)!);
  check(design && build && review, "the worker has three tasks");
  check(design.readiness.ready && review.readiness.ready, "#1 and the review track are claimable now");
  check(!build.readiness.ready, "#2 waits for #1");

  const { context } = await worker.request(`query($s: ContextScope!) { context(scope: $s, key: "acceptance") { value author { name } } }`, { s: { taskId: design.id } });
  worker.say(`read #1's context "acceptance": ${JSON.stringify(context.value)}`);

  const CLAIM = `mutation($id: ID!) { claimTask(id: $id, leaseSeconds: 600) { token expiresAt task { number } } }`;
  const { claimTask: claim } = await worker.request(CLAIM, { id: design.id });
  worker.say(`claimed #1 for 10 minutes (fencing token ${claim.token})`);

  const refusal = await worker.refused(CLAIM, { id: build.id });
  check(refusal.code === "CONFLICT", "#2 cannot be claimed while #1 is open");
  worker.say(`tried to claim #2 too: ${refusal.message}`);

  // Track review runs in parallel: its task is claimable while #1 is held.
  const { claimTask: reviewClaim } = await worker.request(CLAIM, { id: review.id });
  worker.say(`claimed #3 on track review at the same time (fencing token ${reviewClaim.token})`);
  await work(worker, review, reviewClaim.token, ["Looks consistent with the schema."]);

  await work(worker, design, claim.token, ["Starting: tables users and sessions", "Migration runs twice safely. Done."]);

  // The server tells the worker when #2 is unblocked: wait for that notice.
  const ready = await waitFor(inbox, (e) => e.kind === "notice.task_ready" && e.payload.taskId === build.id);
  worker.say(`notice: #${ready.payload.number} is ready`);
  const { claimNextTask: next } = await worker.request(`mutation($t: ID!) { claimNextTask(teamId: $t, track: "main", leaseSeconds: 600) { token task { id number title } } }`, {
    t: teamId,
  });
  check(next?.task.id === build.id, "claim-next on track main gives #2");
  worker.say(`claimed the next task on track main: #${next.task.number}`);
  await work(worker, next.task, next.token, ["Endpoints implemented", "Tests pass."]);
  inbox.close();
}

/** Writes and appends progress to the task's dashboard, then marks it done. */
async function work(worker: Agent, task: { id: string; number: number }, claimToken: number, lines: string[]) {
  const [first, ...rest] = lines;
  await worker.request(`mutation($id: ID!, $text: String!, $c: Int) { writeTaskDashboard(id: $id, text: $text, claimToken: $c) { id } }`, { id: task.id, text: first, c: claimToken });
  for (const line of rest) {
    await worker.request(`mutation($id: ID!, $text: String!, $c: Int) { appendTaskDashboard(id: $id, text: $text, claimToken: $c) { id } }`, { id: task.id, text: line, c: claimToken });
  }
  const { updateTask } = await worker.request(
    `mutation($id: ID!, $c: Int) { updateTask(id: $id, input: { status: COMPLETED, progress: 100, claimToken: $c }) { task { status dashboard } } }`,
    { id: task.id, c: claimToken },
  );
  check(updateTask.task.status === "COMPLETED", `#${task.number} is completed`);
  worker.say(`#${task.number} done; its dashboard reads: ${updateTask.task.dashboard.split("\n").join(" / ")}`);
}
