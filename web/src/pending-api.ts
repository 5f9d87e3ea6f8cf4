// Operations the console's pages call that need a role or a kind: a lead taking back a
// claim, and whether a principal is a human.
import { graphql } from "./graphql";
import { run, type Api } from "./client";

const TakeBackClaim = graphql(`
  mutation TakeBackClaim($id: ID!) {
    takeBackClaim(id: $id) {
      id
    }
  }
`);

/**
 * A team lead takes back a claim held by an agent that went silent: the task page shows a
 * "Take back" button to the team's lead while someone holds the task.
 */
export const takeBackClaim: ((api: Api, taskId: string) => Promise<unknown>) | null = (api, taskId) => run(api, TakeBackClaim, { id: taskId }, true);

/** An agent's kind ("human" or "agent"), from the AgentBits fragment. */
export function kindOf(agent: object | null | undefined): string | null {
  const kind = (agent as { kind?: unknown } | null | undefined)?.kind;
  return typeof kind === "string" ? kind.toLowerCase() : null;
}
