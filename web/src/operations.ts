// Every operation the console sends. Only the public API, as any agent would use it.
import { graphql, type ResultOf } from "./graphql";

export const AgentBits = graphql(`
  fragment AgentBits on Agent {
    id
    name
    kind
  }
`);

export const Me = graphql(`
  query Me {
    me {
      id
      name
      description
    }
  }
`);

export const RegisterAgent = graphql(`
  mutation RegisterAgent($input: RegisterAgentInput!) {
    registerAgent(input: $input) {
      token
      agent {
        id
        name
      }
    }
  }
`);

export const Teams = graphql(`
  query Teams($after: String) {
    teams(first: 100, after: $after) {
      edges {
        node {
          id
          name
          description
          myRole
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const CreateTeam = graphql(`
  mutation CreateTeam($input: CreateTeamInput!) {
    createTeam(input: $input) {
      id
      name
    }
  }
`);

export const TeamInfo = graphql(
  `
    query TeamInfo($id: ID!) {
      team(id: $id) {
        id
        name
        description
        myRole
        lead {
          ...AgentBits
        }
        members {
          role
          joinedAt
          agent {
            ...AgentBits
            online
            lastSeenAt
            description
          }
        }
        milestones {
          id
          name
        }
      }
    }
  `,
  [AgentBits],
);
export type TeamInfoData = ResultOf<typeof TeamInfo>["team"];
export type Member = TeamInfoData["members"][number];

export const EventBits = graphql(
  `
    fragment EventBits on JournalEvent {
      cursor
      kind
      createdAt
      subjectType
      subjectId
      payload
      actor {
        ...AgentBits
      }
    }
  `,
  [AgentBits],
);
export type JournalRow = ResultOf<typeof EventBits>;

export const JournalPage = graphql(
  `
    query JournalPage($teamId: ID!, $after: Int, $first: Int!, $kinds: [String!]) {
      team(id: $teamId) {
        id
        journal(after: $after, first: $first, kinds: $kinds) {
          edges {
            node {
              ...EventBits
            }
          }
          pageInfo {
            hasNextPage
          }
        }
      }
    }
  `,
  [EventBits],
);

/** Cursors only: what the search for the journal's newest rows reads. */
export const JournalCursors = graphql(`
  query JournalCursors($teamId: ID!, $after: Int, $first: Int!) {
    team(id: $teamId) {
      id
      journal(after: $after, first: $first) {
        edges {
          node {
            cursor
          }
        }
        pageInfo {
          hasNextPage
        }
      }
    }
  }
`);

export const TeamEvents = graphql(
  `
    subscription TeamEvents($teamId: ID!, $after: Int) {
      teamEvents(teamId: $teamId, after: $after) {
        ...EventBits
      }
    }
  `,
  [EventBits],
);

export const TaskEvents = graphql(
  `
    subscription TaskEvents($teamId: ID!, $taskId: ID!, $after: Int) {
      taskEvents(teamId: $teamId, taskId: $taskId, after: $after) {
        ...EventBits
      }
    }
  `,
  [EventBits],
);

export const InboxEvents = graphql(`
  subscription InboxEvents($after: Int) {
    inboxEvents(after: $after) {
      cursor
      kind
      subjectId
    }
  }
`);

export const CardTask = graphql(
  `
    fragment CardTask on Task {
      id
      number
      title
      status
      priority
      progress
      track
      trackOrder
      leaseExpiresAt
      updatedAt
      assignee {
        ...AgentBits
      }
      holder {
        ...AgentBits
      }
      milestone {
        id
        name
      }
      readiness {
        state
        reason
      }
      blockedBy {
        kind
        blocker {
          id
        }
      }
    }
  `,
  [AgentBits],
);
export type Card = ResultOf<typeof CardTask>;

export const BoardPage = graphql(
  `
    query BoardPage($teamId: ID!, $after: String) {
      team(id: $teamId) {
        id
        tasks(first: 100, after: $after) {
          edges {
            node {
              ...CardTask
            }
          }
          pageInfo {
            hasNextPage
            endCursor
          }
        }
      }
    }
  `,
  [CardTask],
);

export const OneCard = graphql(
  `
    query OneCard($id: ID!) {
      task(id: $id) {
        ...CardTask
      }
    }
  `,
  [CardTask],
);

export const TaskDetail = graphql(
  `
    query TaskDetail($teamId: ID!, $number: Int!) {
      team(id: $teamId) {
        id
        task(number: $number) {
          ...CardTask
          description
          notes
          activeForm
          metadata
          dashboard
          verification
          claimToken
          createdAt
          closedAt
          createdBy {
            ...AgentBits
          }
          findings {
            id
            createdAt
            data
            author {
              ...AgentBits
            }
          }
          blockers: blockedBy {
            kind
            blocker {
              id
              number
              title
              status
            }
          }
          blocks {
            kind
            blocked {
              id
              number
              title
              status
            }
          }
          roles {
            id
            role
            instructions
            agent {
              ...AgentBits
            }
          }
          knowledge {
            id
            title
          }
        }
      }
    }
  `,
  [CardTask, AgentBits],
);
export type Detail = ResultOf<typeof TaskDetail>["team"]["task"];

export const TaskIdByNumber = graphql(`
  query TaskIdByNumber($teamId: ID!, $number: Int!) {
    team(id: $teamId) {
      id
      task(number: $number) {
        id
      }
    }
  }
`);

export const CreateTask = graphql(`
  mutation CreateTask($teamId: ID!, $input: CreateTaskInput!) {
    createTask(teamId: $teamId, input: $input) {
      id
      number
    }
  }
`);

export const UpdateTask = graphql(`
  mutation UpdateTask($id: ID!, $input: UpdateTaskInput!) {
    updateTask(id: $id, input: $input) {
      task {
        id
      }
    }
  }
`);

export const CancelTask = graphql(`
  mutation CancelTask($id: ID!) {
    cancelTask(id: $id) {
      id
    }
  }
`);

export const AddDependency = graphql(`
  mutation AddDependency($id: ID!, $blockedById: ID!) {
    addTaskDependency(id: $id, blockedById: $blockedById) {
      id
    }
  }
`);

export const RemoveDependency = graphql(`
  mutation RemoveDependency($id: ID!, $blockedById: ID!) {
    removeTaskDependency(id: $id, blockedById: $blockedById) {
      id
    }
  }
`);

export const MessageBits = graphql(
  `
    fragment MessageBits on Message {
      id
      body
      kind
      intent
      priority
      topic
      threadId
      createdAt
      deadline
      expired
      sender {
        ...AgentBits
      }
    }
  `,
  [AgentBits],
);
export type MessageRow = ResultOf<typeof MessageBits>;

export const Inbox = graphql(
  `
    query Inbox($teamId: ID!, $after: String) {
      inbox(filter: { teamId: $teamId }, first: 100, after: $after) {
        edges {
          node {
            read
            message {
              ...MessageBits
            }
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
      direct: inbox(filter: { kind: DIRECT }, first: 50) {
        edges {
          node {
            read
            message {
              ...MessageBits
            }
          }
        }
      }
    }
  `,
  [MessageBits],
);

export const Thread = graphql(
  `
    query Thread($messageId: ID!) {
      thread(messageId: $messageId) {
        ...MessageBits
      }
    }
  `,
  [MessageBits],
);

export const Broadcast = graphql(`
  mutation Broadcast($teamId: ID!, $message: MessageInput!) {
    broadcast(teamId: $teamId, message: $message) {
      id
    }
  }
`);

export const SendMessage = graphql(`
  mutation SendMessage($to: [String!]!, $message: MessageInput!) {
    sendMessage(to: $to, message: $message) {
      id
    }
  }
`);

export const Publish = graphql(`
  mutation Publish($teamId: ID!, $topic: String!, $message: MessageInput!) {
    publish(teamId: $teamId, topic: $topic, message: $message) {
      id
    }
  }
`);

export const Reply = graphql(`
  mutation Reply($messageId: ID!, $message: MessageInput!) {
    reply(messageId: $messageId, message: $message) {
      id
    }
  }
`);

export const ContextEntries = graphql(
  `
    query ContextEntries($scope: ContextScope!, $after: String, $prefix: String) {
      contextEntries(scope: $scope, after: $after, prefix: $prefix, first: 100) {
        id
        key
        value
        version
        updatedAt
        deleted
        author {
          ...AgentBits
        }
      }
    }
  `,
  [AgentBits],
);

export const ContextHistory = graphql(
  `
    query ContextHistory($scope: ContextScope!, $key: String!) {
      contextHistory(scope: $scope, key: $key, first: 50) {
        version
        value
        deleted
        createdAt
        author {
          ...AgentBits
        }
      }
    }
  `,
  [AgentBits],
);

export const KnowledgeBits = graphql(
  `
    fragment KnowledgeBits on KnowledgeEntry {
      id
      title
      body
      tags
      createdAt
      author {
        ...AgentBits
      }
      task {
        id
        number
      }
    }
  `,
  [AgentBits],
);
export type KnowledgeRow = ResultOf<typeof KnowledgeBits>;

export const RecentKnowledge = graphql(
  `
    query RecentKnowledge($teamId: ID!) {
      recentKnowledge(teamId: $teamId, first: 50) {
        edges {
          node {
            ...KnowledgeBits
          }
        }
      }
    }
  `,
  [KnowledgeBits],
);

export const SearchKnowledge = graphql(
  `
    query SearchKnowledge($teamId: ID!, $text: String!) {
      searchKnowledge(teamId: $teamId, text: $text, first: 50) {
        rank
        entry {
          ...KnowledgeBits
        }
      }
    }
  `,
  [KnowledgeBits],
);
