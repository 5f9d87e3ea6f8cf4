// The task board's vocabulary and the small rules that depend only on a task's own
// fields: statuses, priorities, leases, readiness, the verification nudge.

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

export const LEASE_SECONDS = { min: 5, max: 24 * 3600, default: 300 } as const;

export interface ClaimState {
  holderId: string | null;
  leaseExpiresAt: Date | null;
}

/** A claim is live while it has a holder and its lease has not run out. */
export function liveHolder(task: ClaimState, now = new Date()): string | null {
  return task.holderId && task.leaseExpiresAt && task.leaseExpiresAt > now ? task.holderId : null;
}

export interface BlockerView {
  id: string;
  number: number;
  title: string;
  status: string;
  kind: string;
}

export type ReadinessState = "READY" | "NOT_PENDING" | "BLOCKED" | "CLAIMED";

export interface Readiness {
  ready: boolean;
  state: ReadinessState;
  openBlockers: BlockerView[];
  holderId: string | null;
  leaseExpiresAt: Date | null;
  /** One line an agent can read: "ready", "blocked by #2 (track main), #5", ... */
  reason: string;
}

/**
 * Ready: pending (or in progress under a lease that ran out), every blocker completed or
 * cancelled (the track predecessor is one of them), and no live claim.
 */
export function readinessOf(
  task: ClaimState & { status: string; track?: string | null },
  blockers: BlockerView[],
  holderName: string | null,
  now = new Date(),
): Readiness {
  const openBlockers = blockers.filter((b) => !CLOSED_STATUSES.includes(b.status as TaskStatus)).sort((a, b) => a.number - b.number);
  const holder = liveHolder(task, now);
  const base = { openBlockers, holderId: holder, leaseExpiresAt: holder ? task.leaseExpiresAt : null };
  if (holder) return { ...base, ready: false, state: "CLAIMED", reason: `claimed by ${holderName ?? "another agent"} until ${task.leaseExpiresAt!.toISOString()}` };
  const reclaimable = task.status === "in_progress" && task.holderId !== null;
  if (task.status !== "pending" && !reclaimable) return { ...base, ready: false, state: "NOT_PENDING", reason: `status is ${task.status}` };
  if (openBlockers.length > 0) {
    const list = openBlockers.map((b) => `#${b.number}${b.kind === "track" && task.track ? ` (track ${task.track})` : ""}`).join(", ");
    return { ...base, ready: false, state: "BLOCKED", reason: `blocked by ${list}` };
  }
  return { ...base, ready: true, state: "READY", reason: reclaimable ? "ready (the last claim's lease ran out)" : "ready" };
}

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
