// Reads a list of tasks and their relations in two statements: Prisma picks the rows (the
// list's where, order and page) and reads their ids, and one SQL statement builds JSON of the
// rows' columns and of every relation it can read below them: assignee, holder
// and creator (Agent rows), blockedBy and blocks (TaskDependency rows with their tasks, and
// those tasks' own such relations). Prisma on SQLite has no join strategy and runs one query
// per relation level, and its own work per statement and per row, not the database, is most
// of a list's cost. The rows come back exactly as Prisma returns them (the selected or all
// columns, Date, boolean, parsed Json, relations in order), so callers such as the Pothos
// plugin cannot tell the difference; with a RowSelection, only the columns the caller reads
// (the rest are absent). Anything else asked of a relation (a filter, a page, a count,
// another relation) leaves that whole relation with Prisma. An unfiltered list's first page
// (the board) is one statement: the caller gives its rows' condition in SQL.
import { bool, date } from "../../infra/sql-values.js";
import { Prisma, type Agent, type Task, type TaskDependency } from "../../generated/prisma/client.js";
import type { Database } from "../../infra/db.js";
import type { Dialect } from "../../infra/dialect.js";
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
const TASK_NUMBER = MODELS.Task.names.indexOf("number");

/** What is read of the rows of relation `name` when `wanted` is read of their parent. */
const below = (wanted: RowSelection, name: string) => (wanted.columns === null ? WHOLE_ROW : (wanted.relations.get(name) ?? WHOLE_ROW));

/** Relation levels one statement reads below a task; deeper selections stay with Prisma. */
const MAX_DEPTH = 4;

/** What to read of rows of one model: some or all of its columns, and relations below. */
interface Shape {
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
interface Plan {
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

// ---- SQL -------------------------------------------------------------------------

const ident = (alias: string, column: string) => Prisma.raw(`${alias}."${column}"`);

/** A row as a JSON array: its columns of the shape in order, then one entry a relation. */
function rowJson(dialect: Dialect, shape: Shape, alias: string, depth: number): Prisma.Sql {
  const { model } = shape;
  const values = shape.columns.map((i) => (model.kinds[i] === "json" ? dialect.json.column(ident(alias, model.names[i]!)) : ident(alias, model.names[i]!)));
  for (const plan of shape.relations) values.push(relationJson(dialect, plan, alias, depth + 1));
  // An empty array is valid JSON too (a selection of relations only).
  return dialect.json.array(values);
}

function relationJson(dialect: Dialect, plan: Plan, parent: string, depth: number): Prisma.Sql {
  const alias = `r${depth}`;
  const from = Prisma.sql`FROM ${Prisma.raw(`"${plan.shape.model.table}"`)} ${Prisma.raw(alias)} WHERE ${ident(alias, plan.relation.childColumn)} = ${ident(parent, plan.relation.parentColumn)}`;
  const row = rowJson(dialect, plan.shape, alias, depth);
  if (!plan.relation.list) return Prisma.sql`(SELECT ${row} ${from})`;
  const orderBy = plan.orderBy && Prisma.join(plan.orderBy.map((o) => Prisma.sql`${ident(alias, o.column)} ${Prisma.raw(o.desc ? "DESC" : "ASC")}`));
  return dialect.json.aggregate(row, from, orderBy);
}

// Shapes come from the schema's selections, not from clients' values: few distinct ones.
const statements = new Map<string, Prisma.Sql>();

/** The JSON of a task row of this shape, from the task aliased t0. */
function taskJson(dialect: Dialect, shape: Shape): Prisma.Sql {
  const key = `${dialect.name}:${shape.key}`;
  let json = statements.get(key);
  if (!json) {
    json = rowJson(dialect, shape, "t0", 0);
    if (statements.size >= 200) statements.clear();
    statements.set(key, json);
  }
  return json;
}

// ---- rows ------------------------------------------------------------------------

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

/** A row in Prisma's shape: its columns, then its relations. */
function row(shape: Shape, json: unknown[]): Record<string, unknown> {
  const out = shape.decode(json);
  const { relations } = shape;
  const n = shape.columns.length;
  for (let j = 0; j < relations.length; j++) out[relations[j]!.name] = related(relations[j]!, json[n + j]);
  if (shape.asAsked) readAsAsked.add(out);
  return out;
}

/** Rows read here as their fields ask for them, and every row below them (Shape.asAsked). */
const readAsAsked = new WeakSet<object>();

/** Whether `row` was read here as its fields ask for it, and every row below it (Shape.asAsked). */
export const readAsItsFieldsAsk = (row: object): boolean => readAsAsked.has(row);

function related(plan: Plan, json: unknown): unknown {
  if (plan.relation.list) return ((json ?? []) as unknown[][]).map((r) => row(plan.shape, r));
  return json == null ? null : row(plan.shape, json as unknown[]);
}

/** Reads the tasks of `from` (a FROM clause naming them t0), in this shape, in one statement, in `orderBy`'s order. */
async function readTasks(db: Database, from: Prisma.Sql, orderBy: Prisma.Sql | null, shape: Shape): Promise<Record<string, unknown>[]> {
  const { dialect } = db;
  // Straight through the driver: Prisma's client would cost more than the statement itself.
  const [result] = await db.readRows<{ rows: unknown }>(Prisma.sql`SELECT ${dialect.json.aggregate(taskJson(dialect, shape), from, orderBy)} AS "rows"`);
  const raw = result?.rows ?? [];
  return ((typeof raw === "string" ? JSON.parse(raw) : raw) as unknown[][]).map((json) => row(shape, json));
}

/**
 * Reads tasks through `read` (a Prisma findMany given Prisma arguments): Prisma picks the
 * rows and reads what only it can, and one statement reads the rest (see the top of the file).
 * With `firstPageWhere` (the rows `read` picks, as SQL over a "Task" row), a first page
 * (`take` rows from the start, by number) whose relations one statement can read all is that
 * one statement, and no Prisma at all; test/api/task-relations.test.ts holds it to Prisma's.
 * Of the rows' columns, those `wanted` reads (all by default).
 */
export async function findTasks<Q extends object>(
  db: Database,
  query: Q | undefined,
  read: (query: Q | undefined) => Promise<Task[]>,
  firstPageWhere?: Prisma.Sql,
  wanted: RowSelection = WHOLE_ROW,
): Promise<Task[]> {
  // Arguments that only pick rows: the selection says what to read of them.
  const picksOnly = query !== undefined && !("include" in query) && !("select" in query);
  const own = picksOnly ? shapeForSelection(wanted) : null;
  const split = own ? { query: { ...query, select: { id: true } } as Q, shape: own } : splitTaskQuery(query, wanted);
  if (!split) return read(query);
  const take = firstPageWhere && firstPageSize(split.query);
  if (take) {
    const from = Prisma.sql`FROM (SELECT * FROM "Task" WHERE ${firstPageWhere} ORDER BY "Task"."number" ASC LIMIT ${take}) t0`;
    // Rows that hold their number are put in order here: SQLite sorting the rows' JSON
    // costs more than a third of the statement (measured on the board page).
    const numbered = split.shape.columns.includes(TASK_NUMBER);
    const rows = await readTasks(db, from, numbered ? null : Prisma.sql`t0."number" ASC`, split.shape);
    if (numbered) rows.sort((a, b) => (a.number as number) - (b.number as number));
    return rows as unknown as Task[];
  }
  const picked = (await read(split.query)) as unknown as Record<string, unknown>[];
  if (!picked.length) return [];
  const rows = new Map<unknown, Record<string, unknown>>();
  const ids = picked.map((t) => t.id as string);
  for (const task of await readTasks(db, Prisma.sql`FROM "Task" t0 WHERE t0."id" IN (${db.dialect.strings(ids)})`, null, split.shape)) rows.set(task.id, task);
  const tasks: Record<string, unknown>[] = [];
  for (const keep of picked) {
    const task = rows.get(keep.id);
    // Deleted between the two statements: gone, as it would be a moment later.
    if (!task) continue;
    // Relations Prisma read are not this module's to vouch for.
    if (Object.keys(keep).length > 1) readAsAsked.delete(task);
    for (const key of Object.keys(keep)) task[key] = keep[key];
    tasks.push(task);
  }
  return tasks as unknown as Task[];
}

/**
 * The page size when Prisma's part of a split query is a first page and nothing else:
 * `take` rows from the start (no cursor, no skip, no order of its own), only ids to read.
 */
function firstPageSize(query: object): number | null {
  const { take, skip, select, ...rest } = query as { take?: unknown; skip?: unknown; select?: Record<string, unknown> };
  const onlyIds = select !== undefined && Object.keys(select).length === 1 && select.id === true;
  const fromStart = skip === undefined || skip === 0;
  return typeof take === "number" && Number.isInteger(take) && take > 0 && fromStart && onlyIds && Object.keys(rest).length === 0 ? take : null;
}
