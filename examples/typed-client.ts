// A typed agent: each operation is written with `graphql(...)` from examples/gql/, which
// GraphQL Code Generator writes from schema.graphql (`npm run codegen`, config in
// codegen.ts). Variables and answers are typed: a misspelt field, a missing variable or
// a wrong enum value is a compile error, and `task.metadata` is a Record, `createdAt` a
// string. See docs/typed-client.md.
//   HQ_URL=http://localhost:4000/graphql node --import tsx examples/typed-client.ts
import { randomBytes } from "node:crypto";
import { graphql } from "./gql/index.js";
import type { TypedDocumentString } from "./gql/graphql.js";
import { check, request } from "./hq-client.js";

/** Runs one typed operation: its variables and answer have the operation's types. */
function execute<Result, Variables>(document: TypedDocumentString<Result, Variables>, variables: Variables, token?: string): Promise<Result> {
  return request<Result>(document.toString(), variables as Record<string, unknown>, token);
}

const Register = graphql(`
  mutation Register($name: String!, $description: String, $registrationKey: String) {
    registerAgent(input: { name: $name, description: $description, registrationKey: $registrationKey }) { token agent { id name } }
  }
`);

const CreateTeam = graphql(`
  mutation CreateTeam($input: CreateTeamInput!) {
    createTeam(input: $input) { id name }
  }
`);

const CreateTask = graphql(`
  mutation CreateTask($teamId: ID!, $input: CreateTaskInput!) {
    createTask(teamId: $teamId, input: $input) { id number title priority }
  }
`);

const ClaimNext = graphql(`
  mutation ClaimNext($teamId: ID!) {
    claimNextTask(teamId: $teamId, leaseSeconds: 60) { token expiresAt task { id number title metadata } }
  }
`);

const Finish = graphql(`
  mutation Finish($id: ID!, $input: UpdateTaskInput!) {
    updateTask(id: $id, input: $input) { task { number status closedAt } }
  }
`);

const Remember = graphql(`
  mutation Remember($taskId: ID!, $value: JSON!) {
    setContext(scope: { taskId: $taskId }, key: "result", value: $value) { key version value }
  }
`);

const Board = graphql(`
  query Board($teamId: ID!) {
    team(id: $teamId) {
      tasks(first: 20) { edges { node { number title status priority createdAt assignee { name } } } }
    }
  }
`);

const suffix = randomBytes(3).toString("hex");
const registrationKey = process.env.HQ_REGISTRATION_KEY;

try {
  const { registerAgent } = await execute(Register, { name: `typed-${suffix}`, description: "a typed agent", registrationKey });
  const token = registerAgent.token;
  console.log(`registered ${registerAgent.agent.name}`);

  const { createTeam } = await execute(CreateTeam, { input: { name: `typed-${suffix}`, role: "lead" } }, token);
  for (const [title, priority] of [["Write the parser", "HIGH"], ["Document the format", "LOW"]] as const) {
    const { createTask } = await execute(CreateTask, { teamId: createTeam.id, input: { title, priority, metadata: { area: "parser" } } }, token);
    console.log(`created #${createTask.number} ${createTask.title} (${createTask.priority.toLowerCase()})`);
  }

  // The highest priority first; null when nothing is ready (the type says so).
  const { claimNextTask: claim } = await execute(ClaimNext, { teamId: createTeam.id }, token);
  check(claim, "a task was ready");
  const area: unknown = claim.task.metadata.area;
  console.log(`claimed #${claim.task.number} ${claim.task.title} (area ${String(area)}) until ${new Date(claim.expiresAt).toISOString()}`);

  // JSON goes in and comes out as `unknown`: the reader checks what it got.
  const { setContext } = await execute(Remember, { taskId: claim.task.id, value: { tests: 12, passed: true } }, token);
  const result = setContext.value;
  check(typeof result === "object" && result !== null && "passed" in result && result.passed === true, "the result reads back");
  console.log(`remembered ${setContext.key} (version ${setContext.version})`);

  const { updateTask } = await execute(Finish, { id: claim.task.id, input: { status: "COMPLETED", claimToken: claim.token } }, token);
  check(updateTask.task.status === "COMPLETED" && updateTask.task.closedAt !== null, "the task is completed");

  const { team } = await execute(Board, { teamId: createTeam.id }, token);
  check(team, "the team is visible to its lead");
  for (const { node } of team.tasks.edges) {
    console.log(`  #${node.number} [${node.status.toLowerCase()}] ${node.title}${node.assignee ? ` (${node.assignee.name})` : ""}`);
  }
  console.log("done.");
} catch (error) {
  console.error(`FAILED: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
