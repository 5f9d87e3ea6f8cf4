// What every MCP tool is made of: a name, a description and an input schema a model reads
// at a glance, an output schema for programs, and a function that calls one domain service
// and answers twice: short text for the model, and the same answer as structured content.
// Also the few helpers tools share: naming a team or a task the way an agent sees them,
// and display names for the agents a result mentions.
import { z } from "zod";
import { BadInputError, NotFoundError } from "../errors.js";
import type { Team } from "../generated/prisma/client.js";
import type { Viewer } from "../modules/agents/agents.service.js";
import type { ScopeInput } from "../modules/context/context.service.js";
import type { Services } from "../services.js";

export interface ToolContext {
  services: Services;
  viewer: Viewer;
}

export interface Tool<S extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  name: string;
  description: string;
  input: S;
  /** What `structuredContent` holds on success (the tool's outputSchema), so code never parses the text. */
  output: O;
  /** Reads only: clients may call it without asking the user. */
  readOnly?: boolean;
  /** In the worker tool set too (every tool is in the lead set): what an agent working tasks needs. */
  worker?: true;
  run(ctx: ToolContext, args: z.output<S>): Promise<Answer<z.input<O>>>;
}

export interface Answer<T> {
  /** What the model reads: short, names and board numbers rather than IDs. */
  text: string;
  /** The same answer for programs: IDs, numbers and times in full. */
  data: T;
}

/** Keeps each tool's argument and answer types tied to its own schemas. */
export const tool = <S extends z.ZodObject, O extends z.ZodObject>(t: Tool<S, O>): Tool => t as unknown as Tool;

// ---- argument vocabulary ------------------------------------------------------------

// Descriptions repeated on many tools are short: the server's instructions say the rest once.
export const teamArg = z.string().optional().describe("Default: your only team.");
export const taskRef = z.union([z.number(), z.string()], { error: "a task number (3 or \"#3\") or a task ID" });
export const taskArg = taskRef.describe('Board number (3 or "#3") or task ID.');
export const claimTokenArg = z.number().optional().describe("The claim token from claim_task/claim_next.");
export const idempotencyKeyArg = z.string().optional().describe("Retry-safe key: a repeat within 24 h writes nothing and answers the first result.");
export const leaseArg = z.number().optional().describe("Lease in seconds (5–86400, default 300).");
export const limitArg = (fallback: number, max: number) => z.number().optional().describe(`How many (default ${fallback}, at most ${max}).`);
/** A JSON object whose shape is the caller's own (a message's payload, a task's metadata). */
export const jsonObject = z.record(z.string(), z.unknown());
/** Any JSON value but null: a context value. */
export const jsonValue = z.union([z.string(), z.number(), z.boolean(), jsonObject, z.array(z.unknown())], { error: "a JSON value: string, number, boolean, object or array" });

// ---- answer vocabulary --------------------------------------------------------------

/** A task as answers name it. */
export const taskOut = z.object({ id: z.string(), number: z.number(), title: z.string() });
export const teamOut = z.object({ id: z.string(), name: z.string() });

/** A `limit` argument as a row count. */
export function limitOf(value: number | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) throw new BadInputError("limit", `must be a whole number between 1 and ${max}`);
  return value;
}

// ---- teams and tasks as an agent names them -------------------------------------------

/**
 * One of the viewer's teams, by name or ID; with none named, their only team. Any other
 * team is NOT_FOUND, exactly as in the services: it does not exist for this agent.
 */
export async function teamOf(ctx: ToolContext, team: string | undefined): Promise<Team> {
  const mine = await ctx.services.teams.list(ctx.viewer);
  if (team === undefined) {
    if (mine.length === 1) return mine[0]!;
    throw new BadInputError(
      "team",
      mine.length === 0 ? "you belong to no team yet; create_team makes one" : `you belong to ${mine.length} teams (${mine.map((t) => t.name).join(", ")}); name one`,
    );
  }
  const found = mine.find((t) => t.id === team) ?? mine.find((t) => t.name === team);
  if (!found) throw new NotFoundError("team");
  return found;
}

const NUMBER_REF = /^#?(\d+)$/;

/** A task's ID from its board number in a team ("#3", 3) or its ID (checked by the service it is passed to). */
export async function taskIdOf(ctx: ToolContext, ref: z.output<typeof taskRef>, team: string | undefined): Promise<string> {
  const number = typeof ref === "number" ? ref : NUMBER_REF.exec(ref.trim())?.[1];
  if (number === undefined) return ref as string;
  const n = Number(number);
  if (!Number.isInteger(n) || n < 1) throw new BadInputError("task", "a task number is a whole number from 1");
  const teamId = (await teamOf(ctx, team)).id;
  return (await ctx.services.tasks.byNumber(ctx.viewer, teamId, n, { select: { id: true } })).id;
}

/** The context scope named by a tool's team / task / private arguments: the team's by default. */
export async function scopeOf(ctx: ToolContext, args: { team?: string; task?: z.output<typeof taskRef>; private?: boolean }): Promise<ScopeInput> {
  const taskId = args.task === undefined ? null : await taskIdOf(ctx, args.task, args.team);
  if (args.private) return { private: true, taskId }; // with a task too, the service refuses it
  if (taskId !== null) return { taskId };
  return { teamId: (await teamOf(ctx, args.team)).id };
}

export const scopeArgs = {
  team: teamArg,
  task: taskRef.optional().describe("A task's context (its number or ID) instead of the team's."),
  private: z.boolean().optional().describe("Your private context instead of the team's."),
};

// ---- display --------------------------------------------------------------------------

/** Names of agents by ID, for results that mention authors and senders. */
export function agentNames(ctx: ToolContext, ids: Iterable<string | null>): Promise<Map<string, string>> {
  return ctx.services.agents.namesByIds([...ids]);
}

/** JSON for a result line, cut to `max` characters. */
export function json(value: unknown, max = Infinity): string {
  const text = JSON.stringify(value) ?? "null";
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}

/** Free text cut to `max` characters, on one line. */
export function excerpt(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

export const time = (d: Date) => d.toISOString();

/** A task as answers name it: its ID, board number and title. */
export const taskData = ({ id, number, title }: { id: string; number: number; title: string }) => ({ id, number, title });
