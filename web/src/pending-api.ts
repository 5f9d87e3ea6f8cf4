// What the console is ready for and the API does not offer yet (issue 19). Each is off
// until the schema has it; then its operation goes here and the UI shows it.
import type { Api } from "./client";

/**
 * A team lead takes back a claim held by an agent that went silent. When the schema has
 * `takeBackClaim(taskId: ID!)`, write the mutation with `graphql()` and return
 * `(api, taskId) => run(api, TakeBackClaim, { taskId }, true)`; the task page then shows
 * a "Take back" button to the team's lead while someone holds the task.
 */
export const takeBackClaim: ((api: Api, taskId: string) => Promise<unknown>) | null = null;

/**
 * An agent's kind (human or agent). When `Agent.kind` exists, add `kind` to the AgentBits
 * fragment (operations.ts): every name shown with KindBadge then says who is a human.
 */
export function kindOf(agent: object | null | undefined): string | null {
  const kind = (agent as { kind?: unknown } | null | undefined)?.kind;
  return typeof kind === "string" ? kind.toLowerCase() : null;
}
