// What a task write accepts: the input schemas, built once (a schema built per request was
// a measurable share of a write's CPU, bench `work`); and what a task list's filter asks.
import { z } from "zod";
import { boundedText, jsonObject, shortName } from "../../validation.js";
import { PRIORITIES, TASK_STATUSES, type TaskStatus } from "./task-rules.js";

export const DASHBOARD_MAX = 100_000;

const title = boundedText(500).pipe(z.string().trim().min(1, "must not be empty"));
const fields = {
  title,
  description: boundedText(20_000).nullish(),
  priority: z.enum(PRIORITIES).nullish(),
  assignee: z.string().max(64).nullish(),
  activeForm: boundedText(200).nullish(),
  progress: z.number().int("must be a whole number").min(0, "must be between 0 and 100").max(100, "must be between 0 and 100").nullish(),
  notes: boundedText(20_000).nullish(),
  metadata: jsonObject(16_384).nullish(),
  verification: z.boolean().nullish(),
};
export const createInput = z.object({
  ...fields,
  status: z
    .enum(TASK_STATUSES)
    .refine((s) => s === "pending" || s === "in_progress", "a new task starts PENDING or IN_PROGRESS")
    .nullish(),
  milestoneId: z.string().max(64).nullish(),
  track: shortName.nullish(),
  trackOrder: z.number().int().min(0).max(1_000_000).nullish(),
  blockedBy: z.array(z.string().max(64)).max(100).nullish(),
});
export const dashboardInput = z.object({ dashboard: boundedText(DASHBOARD_MAX) });
export const dashboardLineInput = z.object({ line: boundedText(DASHBOARD_MAX).pipe(z.string().min(1, "must not be empty")) });
export const updateInput = z.object({ ...fields, title: title.nullish(), status: z.enum(TASK_STATUSES).nullish(), claimToken: z.number().int().nullish() });

export type CreateTaskInput = z.input<typeof createInput>;
export type UpdateTaskInput = z.input<typeof updateInput>;

export interface TaskFilter {
  status?: readonly TaskStatus[] | null;
  assignee?: string | null;
  ready?: boolean | null;
  milestoneId?: string | null;
  track?: string | null;
  role?: string | null;
}

/** Whether a filter asks nothing: then a list holds every task of its scope, by number. */
export const unfiltered = (filter: TaskFilter | null | undefined): boolean => Object.values(filter ?? {}).every((value) => value == null);
