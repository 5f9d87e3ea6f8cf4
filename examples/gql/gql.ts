/* eslint-disable */
import * as types from './graphql.js';



/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  mutation Register($name: String!, $description: String, $registrationKey: String) {\n    registerAgent(input: { name: $name, description: $description, registrationKey: $registrationKey }) { token agent { id name } }\n  }\n": typeof types.RegisterDocument,
    "\n  mutation CreateTeam($input: CreateTeamInput!) {\n    createTeam(input: $input) { id name }\n  }\n": typeof types.CreateTeamDocument,
    "\n  mutation CreateTask($teamId: ID!, $input: CreateTaskInput!) {\n    createTask(teamId: $teamId, input: $input) { id number title priority }\n  }\n": typeof types.CreateTaskDocument,
    "\n  mutation ClaimNext($teamId: ID!) {\n    claimNextTask(teamId: $teamId, leaseSeconds: 60) { token expiresAt task { id number title metadata } }\n  }\n": typeof types.ClaimNextDocument,
    "\n  mutation Finish($id: ID!, $input: UpdateTaskInput!) {\n    updateTask(id: $id, input: $input) { task { number status closedAt } }\n  }\n": typeof types.FinishDocument,
    "\n  mutation Remember($taskId: ID!, $value: JSON!) {\n    setContext(scope: { taskId: $taskId }, key: \"result\", value: $value) { key version value }\n  }\n": typeof types.RememberDocument,
    "\n  query Board($teamId: ID!) {\n    team(id: $teamId) {\n      tasks(first: 20) { edges { node { number title status priority createdAt assignee { name } } } }\n    }\n  }\n": typeof types.BoardDocument,
};
const documents: Documents = {
    "\n  mutation Register($name: String!, $description: String, $registrationKey: String) {\n    registerAgent(input: { name: $name, description: $description, registrationKey: $registrationKey }) { token agent { id name } }\n  }\n": types.RegisterDocument,
    "\n  mutation CreateTeam($input: CreateTeamInput!) {\n    createTeam(input: $input) { id name }\n  }\n": types.CreateTeamDocument,
    "\n  mutation CreateTask($teamId: ID!, $input: CreateTaskInput!) {\n    createTask(teamId: $teamId, input: $input) { id number title priority }\n  }\n": types.CreateTaskDocument,
    "\n  mutation ClaimNext($teamId: ID!) {\n    claimNextTask(teamId: $teamId, leaseSeconds: 60) { token expiresAt task { id number title metadata } }\n  }\n": types.ClaimNextDocument,
    "\n  mutation Finish($id: ID!, $input: UpdateTaskInput!) {\n    updateTask(id: $id, input: $input) { task { number status closedAt } }\n  }\n": types.FinishDocument,
    "\n  mutation Remember($taskId: ID!, $value: JSON!) {\n    setContext(scope: { taskId: $taskId }, key: \"result\", value: $value) { key version value }\n  }\n": types.RememberDocument,
    "\n  query Board($teamId: ID!) {\n    team(id: $teamId) {\n      tasks(first: 20) { edges { node { number title status priority createdAt assignee { name } } } }\n    }\n  }\n": types.BoardDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Register($name: String!, $description: String, $registrationKey: String) {\n    registerAgent(input: { name: $name, description: $description, registrationKey: $registrationKey }) { token agent { id name } }\n  }\n"): typeof import('./graphql.js').RegisterDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateTeam($input: CreateTeamInput!) {\n    createTeam(input: $input) { id name }\n  }\n"): typeof import('./graphql.js').CreateTeamDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateTask($teamId: ID!, $input: CreateTaskInput!) {\n    createTask(teamId: $teamId, input: $input) { id number title priority }\n  }\n"): typeof import('./graphql.js').CreateTaskDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ClaimNext($teamId: ID!) {\n    claimNextTask(teamId: $teamId, leaseSeconds: 60) { token expiresAt task { id number title metadata } }\n  }\n"): typeof import('./graphql.js').ClaimNextDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Finish($id: ID!, $input: UpdateTaskInput!) {\n    updateTask(id: $id, input: $input) { task { number status closedAt } }\n  }\n"): typeof import('./graphql.js').FinishDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Remember($taskId: ID!, $value: JSON!) {\n    setContext(scope: { taskId: $taskId }, key: \"result\", value: $value) { key version value }\n  }\n"): typeof import('./graphql.js').RememberDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Board($teamId: ID!) {\n    team(id: $teamId) {\n      tasks(first: 20) { edges { node { number title status priority createdAt assignee { name } } } }\n    }\n  }\n"): typeof import('./graphql.js').BoardDocument;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}
