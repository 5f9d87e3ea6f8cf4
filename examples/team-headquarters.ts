// Story 2, team headquarters. A lead creates a team with a description and its own role, and
// tasks with a subject, description, active form and metadata; links task 3 as blocked by
// task 2 (a link closing a cycle is refused, naming it); members work the board, which any
// of them reads as one line a task. A new owner is told in its mailbox, and an agent that
// closes three tasks in a row, none of them a verification, is nudged to verify.
//
//   HQ_URL=http://localhost:4000/graphql node --import tsx examples/team-headquarters.ts
import { Agent, check, main, waitFor } from "./hq-client.js";

const CREATE_TASK = `mutation($t: ID!, $input: CreateTaskInput!) { createTask(teamId: $t, input: $input) { id number title activeForm metadata } }`;
const CLAIM = `mutation($id: ID!) { claimTask(id: $id, leaseSeconds: 300) { token } }`;
const COMPLETE = `mutation($id: ID!, $c: Int) { updateTask(id: $id, input: { status: COMPLETED, claimToken: $c }) { task { status } verificationNudge } }`;
const LINK = `mutation($id: ID!, $blocker: ID!) { addTaskDependency(id: $id, blockedById: $blocker) { number } }`;
const BOARD = `query($t: ID!) { team(id: $t) { board } }`;

main(async () => {
  const lead = await Agent.register("lead", "runs the migration");
  const alice = await Agent.register("alice", "developer");
  const bob = await Agent.register("bob", "developer");
  const carol = await Agent.register("carol", "developer");

  const { createTeam: team } = await lead.request(`mutation($input: CreateTeamInput!) { createTeam(input: $input) { id name description myRole } }`, {
    input: { name: "db-migration", description: "Move the user store to the new schema", role: "tech-lead" },
  });
  for (const member of [alice, bob, carol]) {
    await lead.request(`mutation($t: ID!, $n: String!) { addTeamMember(teamId: $t, agentName: $n, role: "developer") { role } }`, { t: team.id, n: member.name });
  }
  lead.say(`created team "${team.name}" (${team.description}) as its ${team.myRole}, with alice, bob and carol`);

  const tasks: { id: string; number: number; title: string }[] = [];
  for (const [title, description, activeForm] of [
    ["Analyze current schema", "List the tables and columns the user store uses", "Analyzing the schema"],
    ["Create migration script", "SQL that moves users to the new tables", "Writing SQL"],
    ["Update unit tests", "Tests follow the new schema", "Updating tests"],
  ]) {
    const { createTask } = await lead.request(CREATE_TASK, { t: team.id, input: { title, description, activeForm, metadata: { area: "users", estimate: "2h" } } });
    tasks.push(createTask);
    lead.say(`created #${createTask.number} "${title}" (active form "${createTask.activeForm}", metadata ${JSON.stringify(createTask.metadata)})`);
  }
  const [analyze, script, tests] = tasks as [(typeof tasks)[0], (typeof tasks)[0], (typeof tasks)[0]];

  await lead.request(LINK, { id: tests.id, blocker: script.id });
  lead.say("linked #3 as blocked by #2");
  const cycle = await lead.refused(LINK, { id: script.id, blocker: tests.id });
  check(cycle.code === "CONFLICT", "a link closing a cycle is refused");
  lead.say(`tried #2 blocked by #3: ${cycle.message}`);

  // Alice finishes #1; Bob takes #2.
  const first = (await alice.request(CLAIM, { id: analyze.id })).claimTask;
  await alice.request(COMPLETE, { id: analyze.id, c: first.token });
  alice.say("claimed and completed #1");
  await bob.request(CLAIM, { id: script.id });
  bob.say("claimed #2");

  // A new owner is told: Bob waits on his inbox for the notice.
  const bobInbox = bob.subscribe(`subscription { inboxEvents(after: 0) { cursor kind subjectId payload actor { name } } }`);
  await lead.request(`mutation($id: ID!, $n: String) { updateTask(id: $id, input: { assignee: $n }) { task { number } } }`, { id: tests.id, n: bob.name });
  lead.say("assigned #3 to bob");
  const assigned = await waitFor(bobInbox, (e) => e.kind === "notice.task_assigned" && e.payload.taskId === tests.id);
  bob.say(`mailbox: "${assigned.payload.body}"`);
  bobInbox.close();

  const { team: seen } = await alice.request(BOARD, { t: team.id });
  alice.say("reads the board:");
  for (const line of seen.board.split("\n")) console.log(`    ${line}`);
  const expected = [
    `#1 [completed] Analyze current schema (${alice.name})`,
    `#2 [in_progress] Create migration script (${bob.name})`,
    `#3 [pending] Update unit tests (${bob.name}) [blocked by #2]`,
  ].join("\n");
  check(seen.board === expected, `the board reads:\n${expected}`);

  // Carol closes three tasks in a row, none of them a verification task.
  const nudges: (string | null)[] = [];
  for (const title of ["Add index on users.email", "Backfill user slugs", "Drop legacy columns"]) {
    const { createTask } = await lead.request(CREATE_TASK, { t: team.id, input: { title } });
    const { claimTask } = await carol.request(CLAIM, { id: createTask.id });
    const { updateTask } = await carol.request(COMPLETE, { id: createTask.id, c: claimTask.token });
    carol.say(`completed #${createTask.number} "${title}"${updateTask.verificationNudge ? `; the answer says: ${updateTask.verificationNudge}` : ""}`);
    nudges.push(updateTask.verificationNudge);
  }
  check(nudges[0] === null && nudges[1] === null && nudges[2], "carol is nudged to verify on her third completion, not before");
});
