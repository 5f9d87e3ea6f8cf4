// The task board's vocabulary and the small rules that depend only on a task's own
// fields: statuses, priorities, the verification nudge. Readiness is in readiness.ts,
// leases in lease.ts.

export const TASK_STATUSES = ["pending", "in_progress", "completed", "cancelled", "failed"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** A blocker in one of these no longer blocks. */
export const CLOSED_STATUSES: readonly TaskStatus[] = ["completed", "cancelled"];
/** Statuses that end work on a task (and any claim on it). */
export const FINAL_STATUSES: readonly TaskStatus[] = ["completed", "cancelled", "failed"];

export const PRIORITIES = ["low", "medium", "high", "urgent"] as const;
export type Priority = (typeof PRIORITIES)[number];
/** claim-next takes the highest rank first, then the lowest task number (the oldest). */
export const priorityRank = (p: Priority): number => PRIORITIES.indexOf(p);

const VERIFICATION_TITLE = /\b(verify|verifies|verifying|verification)\b/i;

/** A verification task is marked so, or says so in its title. */
export function isVerificationTask(task: { verification: boolean; title: string }): boolean {
  return task.verification || VERIFICATION_TITLE.test(task.title);
}

export const NUDGE_AFTER = 3;

/**
 * The nudge after a completion: the agent's last NUDGE_AFTER completions in the team
 * (this one included) and none of them a verification task.
 */
export function verificationNudge(recentCompletions: { verification: boolean; title: string }[]): string | null {
  if (recentCompletions.length < NUDGE_AFTER) return null;
  if (recentCompletions.slice(0, NUDGE_AFTER).some(isVerificationTask)) return null;
  return `You have completed ${NUDGE_AFTER} tasks in a row in this team and none was a verification task. Verify the work before going on: create or claim a task marked verification.`;
}
