// Claims on the task board: claim a task or the next ready one, renew, release. The claim
// token in each answer is what the holder passes with its writes.
import { z } from "zod";
import type { Claim } from "../../modules/tasks/claims.service.js";
import { TASK_STATUSES } from "../../modules/tasks/task-rules.js";
import { claimTokenArg, leaseArg, taskArg, taskData, taskIdOf, taskOut, teamArg, teamOf, time, tool } from "../tool.js";

const claimOut = z.object({
  task: taskOut,
  claimToken: z.number().describe("Pass it as claim_token with your writes on the task."),
  expiresAt: z.string().describe("When the lease runs out unless renewed (ISO time)."),
});

function claimAnswer(verb: string, claim: Claim) {
  const { id, number, title } = claim.task;
  return {
    text: `${verb} #${number} "${title}" until ${time(claim.expiresAt)}. Claim token: ${claim.token} (pass claim_token: ${claim.token} with your writes; renew_claim before the lease runs out).`,
    data: { task: { id, number, title }, claimToken: claim.token, expiresAt: time(claim.expiresAt) },
  };
}

export const claimTools = [
  tool({
    name: "claim_task",
    description:
      "Claims a ready task (pending, unblocked, not held): it becomes in_progress and yours for the lease, with a claim token for your writes. CONFLICT when held or blocked.",
    input: z.strictObject({ team: teamArg, task: taskArg, lease_seconds: leaseArg }),
    output: claimOut,
    worker: true,
    run: async (ctx, a) => {
      const id = await taskIdOf(ctx, a.task, a.team);
      return claimAnswer("Claimed", await ctx.services.claims.claim(ctx.viewer, id, { leaseSeconds: a.lease_seconds }));
    },
  }),

  tool({
    name: "claim_next",
    description:
      "Claims the best ready task for you, atomically: highest priority, then oldest, among those unassigned, assigned to you, or with a role for you. Says so when nothing is ready.",
    input: z.strictObject({
      team: teamArg,
      role: z.string().optional().describe("Only tasks where you have this role."),
      track: z.string().optional().describe("Only tasks on this track."),
      lease_seconds: leaseArg,
    }),
    output: claimOut.partial().extend({ claimed: z.boolean().describe("false: nothing is ready for you now, and the other fields are absent.") }),
    worker: true,
    run: async (ctx, a) => {
      const team = await teamOf(ctx, a.team);
      const claim = await ctx.services.claims.claimNext(ctx.viewer, team.id, { role: a.role, track: a.track, leaseSeconds: a.lease_seconds });
      if (!claim) return { text: `Nothing in ${team.name} is ready for you to claim now (list_tasks says why).`, data: { claimed: false } };
      const answer = claimAnswer("Claimed", claim);
      return { text: answer.text, data: { claimed: true, ...answer.data } };
    },
  }),

  tool({
    name: "renew_claim",
    description: "Extends your live claim on a task. A claim whose lease ran out is gone: claim the task again.",
    input: z.strictObject({ team: teamArg, task: taskArg, lease_seconds: leaseArg, claim_token: claimTokenArg }),
    output: claimOut,
    worker: true,
    run: async (ctx, a) => {
      const id = await taskIdOf(ctx, a.task, a.team);
      return claimAnswer("Renewed", await ctx.services.claims.renew(ctx.viewer, id, { leaseSeconds: a.lease_seconds, claimToken: a.claim_token }));
    },
  }),

  tool({
    name: "release_claim",
    description: "Gives your claim on a task back without finishing it: it is pending and claimable by others again.",
    input: z.strictObject({ team: teamArg, task: taskArg, claim_token: claimTokenArg }),
    output: z.object({ task: taskOut.extend({ status: z.enum(TASK_STATUSES) }) }),
    worker: true,
    run: async (ctx, a) => {
      const id = await taskIdOf(ctx, a.task, a.team);
      const task = await ctx.services.claims.release(ctx.viewer, id, { claimToken: a.claim_token });
      return { text: `Released #${task.number} "${task.title}": it is ${task.status} and claimable again.`, data: { task: { ...taskData(task), status: task.status as never } } };
    },
  }),

];
