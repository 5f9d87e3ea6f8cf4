// What a list of tasks reads of its rows, and how (task-reads.ts reads them): the models the
// one statement knows (their columns and relations, checked against Prisma's datamodel), what
// a caller reads of rows (RowSelection), and the shape of a statement's rows, planned from
// Pothos' Prisma arguments or from the selection alone, and decoded from its JSON.
import { bool, date } from "../../infra/sql-values.js";
import type { Agent, Prisma, Task, TaskDependency } from "../../generated/prisma/client.js";
import { BLOCKED_BY_ORDER } from "./readiness.js";

/** How a column's JSON form is read back. */
type Kind = "string" | "number" | "boolean" | "date" | "json";
type KindOf<T> = [NonNullable<T>] extends [Date]
  ? "date"
  : [NonNullable<T>] extends [boolean]
    ? "boolean"
    : [NonNullable<T>] extends [number]
      ? "number"
      : [NonNullable<T>] extends [string]
        ? "string"
        : [Prisma.JsonValue] extends [T]
          ? "json"
          : never;
/** Every scalar column of a model and its kind: a new column does not compile until it is listed. */
type Columns<M> = { readonly [K in keyof M]-?: KindOf<M[K]> };

type ModelName = "Agent" | "Task" | "TaskDependency";

interface Relation {
  model: ModelName;
  list: boolean;
  /** The column of the parent row that the related rows' `childColumn` equals. */
  parentColumn: string;
  childColumn: string;
  /** The order of a list's rows, as its field gives it to Prisma (tasks.schema.ts): null for none. */
  order: Readonly<Record<string, "asc" | "desc">> | null;
}

export interface Model {
  table: string;
  names: readonly string[];
  kinds: readonly Kind[];
  columns: ReadonlySet<string>;
  relations: Readonly<Record<string, Relation>>;
}

/** The related row the parent's foreign key `column` names. */
const one = (model: ModelName, column: string): Relation => ({ model, list: false, parentColumn: column, childColumn: "id", order: null });
/** The related rows whose foreign key `column` names the parent, in `order`. */
const many = (model: ModelName, column: string, order: Relation["order"]): Relation => ({ model, list: true, parentColumn: "id", childColumn: column, order });

/** The order of a task's `blocks` (BLOCKED_BY_ORDER is that of its `blockedBy`): stated, since databases differ. */
export const BLOCKS_ORDER = { blockedId: "asc" } as const;

function model<M, Include>(table: ModelName, columns: Columns<M>, relations: { [K in Exclude<keyof Include, "_count">]?: Relation }): Model {
  const names = Object.keys(columns);
  const kinds = names.map((n) => (columns as Record<string, Kind>)[n]!);
  return { table, names, kinds, columns: new Set(names), relations: relations as Record<string, Relation> };
}

// The tables, and the relations' columns, are checked against Prisma's datamodel by
// test/unit/task-relations.test.ts.
const agentColumns: Columns<Agent> = { id: "string", name: "string", kind: "string", description: "string", createdAt: "date", lastSeenAt: "date", onlineUntil: "date" };
const taskColumns: Columns<Task> = {
  id: "string",
  teamId: "string",
  number: "number",
  title: "string",
  description: "string",
  status: "string",
  priority: "string",
  priorityRank: "number",
  assigneeId: "string",
  activeForm: "string",
  progress: "number",
  notes: "string",
  metadata: "json",
  dashboard: "string",
  verification: "boolean",
  milestoneId: "string",
  track: "string",
  trackOrder: "number",
  createdById: "string",
  createdAt: "date",
  updatedAt: "date",
  closedAt: "date",
  holderId: "string",
  leaseExpiresAt: "date",
  claimEpoch: "number",
};
const dependencyColumns: Columns<TaskDependency> = { blockerId: "string", blockedId: "string", teamId: "string", kind: "string", createdAt: "date" };

export const MODELS: Readonly<Record<ModelName, Model>> = {
  Agent: model<Agent, Prisma.AgentInclude>("Agent", agentColumns, {}),
  Task: model<Task, Prisma.TaskInclude>("Task", taskColumns, {
    assignee: one("Agent", "assigneeId"),
    holder: one("Agent", "holderId"),
    createdBy: one("Agent", "createdById"),
    blockedBy: many("TaskDependency", "blockedId", BLOCKED_BY_ORDER),
    blocks: many("TaskDependency", "blockerId", BLOCKS_ORDER),
  }),
  TaskDependency: model<TaskDependency, Prisma.TaskDependencyInclude>("TaskDependency", dependencyColumns, {
    blocker: one("Task", "blockerId"),
    blocked: one("Task", "blockedId"),
  }),
};

/**
 * What a caller reads of rows (as src/graphql/row-selection.ts finds it for a GraphQL
 * selection): these columns (besides ALWAYS_READ), and by relation what it reads of the
 * related rows. `columns` null: every column, and every relation below whole.
 */
export interface RowSelection {
  columns: ReadonlySet<string> | null;
  relations: ReadonlyMap<string, RowSelection>;
}
export const WHOLE_ROW: RowSelection = { columns: null, relations: new Map() };

/** Read whatever else is wanted: a row's id (rows are matched by it) and a task's number (a page's order). */
const ALWAYS_READ = new Set(["id", "number"]);
export const TASK_NUMBER = MODELS.Task.names.indexOf("number");

/** What is read of the rows of relation `name` when `wanted` is read of their parent. */
const below = (wanted: RowSelection, name: string) => (wanted.columns === null ? WHOLE_ROW : (wanted.relations.get(name) ?? WHOLE_ROW));

/** Relation levels one statement reads below a task; deeper selections stay with Prisma. */
const MAX_DEPTH = 4;

/** What to read of rows of one model: some or all of its columns, and relations below. */
export interface Shape {
  model: Model;
  /** Indexes into `model.names`. */
  columns: readonly number[];
  relations: Plan[];
  /** An object of the row's columns from its JSON array (the columns, then one entry a relation). */
  decode: (json: unknown[]) => Record<string, unknown>;
  /** Identifies the shape's SQL. */
  key: string;
  /**
   * The caller reads only columns and relations of these rows (RowSelection), and so of every
   * row below: each relation holds what its own field asks for, and each column-selecting
   * field finds its columns. Then every field of such a row answers from the row alone
   * (graphql/loaded-relations.ts). Either a whole subtree does, or none of it: below a field
   * that answers without the Pothos plugin, the plugin finds no plan for the fields below.
   */
  asAsked: boolean;
}

/** One relation to read: its rows, in an order, in a shape. */
export interface Plan {
  name: string;
  relation: Relation;
  orderBy: { column: string; desc: boolean }[] | null;
  shape: Shape;
}

/**
 * Splits Prisma arguments for tasks (with `include` or `select`) into arguments for Prisma
 * that pick the rows (their where, order and page) and read what only Prisma can, and the
 * shape of what one statement reads of those rows: their columns and the relations it can
 * read. With `include`, the columns are those `wanted` reads. Null when no relation can be
 * taken out.
 */
export function splitTaskQuery<Q extends object>(query: Q | undefined, wanted: RowSelection = WHOLE_ROW): { query: Q; shape: Shape } | null {
  const args = query as { include?: Record<string, unknown> | null; select?: Record<string, unknown> | null } | undefined;
  const selection = args?.include ?? args?.select;
  if (!selection) return null;
  const task = MODELS.Task;
  // Prisma reads the ids and the relations the statement cannot.
  const kept: Record<string, unknown> = { id: true };
  const plans: Plan[] = [];
  for (const name of Object.keys(selection)) {
    const value = selection[name];
    if (!value || task.columns.has(name)) continue;
    const relation = task.relations[name];
    const plan = relation && planFor(name, relation, value, 1, wanted);
    if (plan) plans.push(plan);
    else kept[name] = value;
  }
  if (!plans.length) return null;
  // The rows are matched to Prisma's by id.
  const columns = args!.include ? null : { ...selection, id: true };
  const { include: _include, select: _select, ...others } = args as Record<string, unknown>;
  return { query: { ...others, select: kept } as Q, shape: shapeOf(task, columns, plans, wanted) };
}

// Shapes of selections, kept per selection (connectionRowSelection keeps those per query text).
const shapesOfSelections = new WeakMap<RowSelection, Shape | null>();

/**
 * The shape of task rows read for `wanted` alone, each relation in its field's order, when one
 * statement reads everything the selection asks (no row read whole, only MODELS' relations, at
 * most MAX_DEPTH deep): then Prisma's arguments need only pick the rows, and no plan of the
 * Pothos plugin is needed. Null otherwise.
 */
export function shapeForSelection(wanted: RowSelection): Shape | null {
  let shape = shapesOfSelections.get(wanted);
  if (shape === undefined) shapesOfSelections.set(wanted, (shape = shapeOfSelection(MODELS.Task, wanted, 0)));
  return shape;
}

function shapeOfSelection(model: Model, wanted: RowSelection, depth: number): Shape | null {
  if (wanted.columns === null) return null;
  const plans: Plan[] = [];
  for (const [name, below] of wanted.relations) {
    const relation = model.relations[name];
    const target = relation && MODELS[relation.model];
    const shape = target && depth < MAX_DEPTH ? shapeOfSelection(target, below, depth + 1) : null;
    if (!relation || !target || !shape) return null;
    plans.push({ name, relation, orderBy: relation.order && orderOf(target, relation.order), shape });
  }
  return shapeOf(model, null, plans, wanted);
}

/**
 * `select` keeps the columns it names, as Prisma does; `include` (null here) keeps those
 * `wanted` reads, and those always read.
 */
function shapeOf(model: Model, select: Record<string, unknown> | null, relations: Plan[], wanted: RowSelection): Shape {
  const read = (name: string) => (select === null ? wanted.columns === null || ALWAYS_READ.has(name) || wanted.columns.has(name) : select[name] === true);
  const columns = model.names.flatMap((name, i) => (read(name) ? [i] : []));
  const key = `${model.table}(${columns.join(",")}){${relations.map((p) => `${p.name}${orderKey(p.orderBy)}:${p.shape.key}`).join(",")}}`;
  return { model, columns, relations, decode: decoderOf(model, columns), key, asAsked: wanted.columns !== null && relations.every((p) => wanted.relations.has(p.name) && p.shape.asAsked) };
}

// One compiled decoder for a model's set of columns (compiling one costs more than a page):
// few sets, from the schema's selections, not from clients' values.
const decoders = new Map<string, Decode>();

function decoderOf(model: Model, columns: readonly number[]): Decode {
  const key = `${model.table}(${columns.join(",")})`;
  let decode = decoders.get(key);
  if (!decode) {
    decode = decoder(model, columns);
    if (decoders.size >= 200) decoders.clear();
    decoders.set(key, decode);
  }
  return decode;
}

const orderKey = (orderBy: Plan["orderBy"]) => (orderBy ? `(${orderBy.map((o) => `${o.column}${o.desc ? "-" : "+"}`).join(",")})` : "");

/** The plan of relation `name` of rows of which the caller reads `parent`. */
function planFor(name: string, relation: Relation, value: unknown, depth: number, parent: RowSelection): Plan | null {
  if (depth > MAX_DEPTH) return null;
  const wanted = below(parent, name);
  const target = MODELS[relation.model];
  let orderBy: Plan["orderBy"] = null;
  let selection: Record<string, unknown> | null = null;
  let select = false;
  if (value !== true) {
    if (typeof value !== "object" || value === null) return null;
    for (const [arg, argValue] of Object.entries(value)) {
      if (argValue === undefined) continue;
      if ((arg === "include" || arg === "select") && selection === null && typeof argValue === "object" && argValue !== null) {
        selection = argValue as Record<string, unknown>;
        select = arg === "select";
      } else if (arg === "orderBy" && relation.list) {
        orderBy = orderOf(target, argValue);
        if (!orderBy) return null;
      } else {
        // where, take, skip, cursor, distinct, omit: Prisma's.
        return null;
      }
    }
  }
  const nested: Plan[] = [];
  for (const [key, keyValue] of Object.entries(selection ?? {})) {
    if (!keyValue || target.columns.has(key)) continue;
    const child = target.relations[key];
    const plan = child && planFor(key, child, keyValue, depth + 1, wanted);
    // _count, or a relation one statement does not read.
    if (!plan) return null;
    nested.push(plan);
  }
  return { name, relation, orderBy, shape: shapeOf(target, select ? selection : null, nested, wanted) };
}

/** Prisma's `orderBy` on a relation, when it names only columns of the related rows. */
function orderOf(target: Model, value: unknown): Plan["orderBy"] {
  const order: NonNullable<Plan["orderBy"]> = [];
  for (const item of Array.isArray(value) ? value : [value]) {
    if (typeof item !== "object" || item === null) return null;
    const entries = Object.entries(item);
    if (entries.length !== 1) return null;
    const [column, direction] = entries[0]!;
    if (!target.columns.has(column) || (direction !== "asc" && direction !== "desc")) return null;
    order.push({ column, desc: direction === "desc" });
  }
  return order.length ? order : null;
}

// ---- decoding -------------------------------------------------------------------

type Decode = (json: unknown[]) => Record<string, unknown>;

/**
 * From a row's JSON array to an object of these columns. Compiled to one object literal per
 * shape: built key by key in a loop, the objects took twice as long (0.14 against 0.08 ms a
 * board page, measured), and the names are the models' own column names, never a client's.
 */
function decoder(model: Model, columns: readonly number[]): Decode {
  const fields = columns.map((i, at) => {
    const kind = model.kinds[i];
    const read = kind === "date" ? "date" : kind === "boolean" ? "bool" : null;
    return `${JSON.stringify(model.names[i])}: ${read ? `json[${at}] == null ? null : ${read}(json[${at}])` : `json[${at}] ?? null`}`;
  });
  return new Function("date", "bool", `return (json) => ({ ${fields.join(", ")} });`)(date, bool) as Decode;
}
