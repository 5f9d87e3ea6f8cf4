/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type CreateTaskInput = {
  activeForm?: string | null | undefined;
  /** A member's agent name. */
  assignee?: string | null | undefined;
  /** Tasks of the same team that block this one. */
  blockedBy?: Array<string | number> | null | undefined;
  description?: string | null | undefined;
  metadata?: Record<string, unknown> | null | undefined;
  milestoneId?: string | number | null | undefined;
  notes?: string | null | undefined;
  /** Default MEDIUM. */
  priority?: TaskPriority | null | undefined;
  progress?: number | null | undefined;
  /** PENDING (default) or IN_PROGRESS. */
  status?: TaskStatus | null | undefined;
  /** The subject (at most 500 characters). */
  title: string;
  /** Tasks on one track (of a milestone) run in track order. */
  track?: string | null | undefined;
  /** Position on the track; default: after the last. */
  trackOrder?: number | null | undefined;
  /** Mark it as a verification task. */
  verification?: boolean | null | undefined;
};

export type CreateTeamInput = {
  description?: string | null | undefined;
  /** Unique among the teams you belong to (1–100 characters). */
  name: string;
  /** Your own role in the team, such as lead or planner. */
  role: string;
};

export type TaskPriority =
  | 'HIGH'
  | 'LOW'
  | 'MEDIUM'
  | 'URGENT';

export type TaskStatus =
  | 'CANCELLED'
  | 'COMPLETED'
  | 'FAILED'
  | 'IN_PROGRESS'
  | 'PENDING';

export type UpdateTaskInput = {
  activeForm?: string | null | undefined;
  /** A member's agent name; null unassigns. */
  assignee?: string | null | undefined;
  /** The fencing token of your claim; refused if it is no longer current. */
  claimToken?: number | null | undefined;
  description?: string | null | undefined;
  metadata?: Record<string, unknown> | null | undefined;
  notes?: string | null | undefined;
  priority?: TaskPriority | null | undefined;
  /** 0–100. */
  progress?: number | null | undefined;
  status?: TaskStatus | null | undefined;
  title?: string | null | undefined;
  verification?: boolean | null | undefined;
};

export type RegisterMutationVariables = Exact<{
  name: string;
  description?: string | null | undefined;
  registrationKey?: string | null | undefined;
}>;


export type RegisterMutation = { registerAgent: { token: string, agent: { id: string, name: string } } };

export type CreateTeamMutationVariables = Exact<{
  input: CreateTeamInput;
}>;


export type CreateTeamMutation = { createTeam: { id: string, name: string } };

export type CreateTaskMutationVariables = Exact<{
  teamId: string | number;
  input: CreateTaskInput;
}>;


export type CreateTaskMutation = { createTask: { id: string, number: number, title: string, priority: TaskPriority } };

export type ClaimNextMutationVariables = Exact<{
  teamId: string | number;
}>;


export type ClaimNextMutation = { claimNextTask: { token: number, expiresAt: string, task: { id: string, number: number, title: string, metadata: Record<string, unknown> } } | null };

export type FinishMutationVariables = Exact<{
  id: string | number;
  input: UpdateTaskInput;
}>;


export type FinishMutation = { updateTask: { task: { number: number, status: TaskStatus, closedAt: string | null } } };

export type RememberMutationVariables = Exact<{
  taskId: string | number;
  value: unknown;
}>;


export type RememberMutation = { setContext: { key: string, version: number, value: unknown } };

export type BoardQueryVariables = Exact<{
  teamId: string | number;
}>;


export type BoardQuery = { team: { tasks: { edges: Array<{ node: { number: number, title: string, status: TaskStatus, priority: TaskPriority, createdAt: string, assignee: { name: string } | null } }> } } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}

export const RegisterDocument = new TypedDocumentString(`
    mutation Register($name: String!, $description: String, $registrationKey: String) {
  registerAgent(
    input: {name: $name, description: $description, registrationKey: $registrationKey}
  ) {
    token
    agent {
      id
      name
    }
  }
}
    `) as unknown as TypedDocumentString<RegisterMutation, RegisterMutationVariables>;
export const CreateTeamDocument = new TypedDocumentString(`
    mutation CreateTeam($input: CreateTeamInput!) {
  createTeam(input: $input) {
    id
    name
  }
}
    `) as unknown as TypedDocumentString<CreateTeamMutation, CreateTeamMutationVariables>;
export const CreateTaskDocument = new TypedDocumentString(`
    mutation CreateTask($teamId: ID!, $input: CreateTaskInput!) {
  createTask(teamId: $teamId, input: $input) {
    id
    number
    title
    priority
  }
}
    `) as unknown as TypedDocumentString<CreateTaskMutation, CreateTaskMutationVariables>;
export const ClaimNextDocument = new TypedDocumentString(`
    mutation ClaimNext($teamId: ID!) {
  claimNextTask(teamId: $teamId, leaseSeconds: 60) {
    token
    expiresAt
    task {
      id
      number
      title
      metadata
    }
  }
}
    `) as unknown as TypedDocumentString<ClaimNextMutation, ClaimNextMutationVariables>;
export const FinishDocument = new TypedDocumentString(`
    mutation Finish($id: ID!, $input: UpdateTaskInput!) {
  updateTask(id: $id, input: $input) {
    task {
      number
      status
      closedAt
    }
  }
}
    `) as unknown as TypedDocumentString<FinishMutation, FinishMutationVariables>;
export const RememberDocument = new TypedDocumentString(`
    mutation Remember($taskId: ID!, $value: JSON!) {
  setContext(scope: {taskId: $taskId}, key: "result", value: $value) {
    key
    version
    value
  }
}
    `) as unknown as TypedDocumentString<RememberMutation, RememberMutationVariables>;
export const BoardDocument = new TypedDocumentString(`
    query Board($teamId: ID!) {
  team(id: $teamId) {
    tasks(first: 20) {
      edges {
        node {
          number
          title
          status
          priority
          createdAt
          assignee {
            name
          }
        }
      }
    }
  }
}
    `) as unknown as TypedDocumentString<BoardQuery, BoardQueryVariables>;