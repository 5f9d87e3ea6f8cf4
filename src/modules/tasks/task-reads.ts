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
// (the board) is one statement: the caller gives its rows' condition in SQL. What is read,
// the models and the shapes, is task-relations.ts.
import { Prisma, type Task } from "../../generated/prisma/client.js";
import type { Database } from "../../infra/db.js";
import type { Dialect } from "../../infra/dialect.js";
import { shapeForSelection, splitTaskQuery, TASK_NUMBER, WHOLE_ROW, type Plan, type RowSelection, type Shape } from "./task-relations.js";

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

/** A shape's SQL: the JSON of its task rows (the task aliased t0), and the columns a first page reads. */
interface ShapeSql {
  json: Prisma.Sql;
  pageColumns: Prisma.Sql;
}

// Shapes come from the schema's selections, not from clients' values: few distinct ones.
const statements = new Map<string, ShapeSql>();

function sqlOf(dialect: Dialect, shape: Shape): ShapeSql {
  const key = `${dialect.name}:${shape.key}`;
  let sql = statements.get(key);
  if (!sql) {
    sql = { json: rowJson(dialect, shape, "t0", 0), pageColumns: pageColumns(shape) };
    if (statements.size >= 200) statements.clear();
    statements.set(key, sql);
  }
  return sql;
}

// ---- rows ------------------------------------------------------------------------

/** A row in Prisma's shape: its columns, then its relations. */
function row(shape: Shape, json: unknown[]): Record<string, unknown> {
  const out = shape.decode(json);
  const { relations } = shape;
  const n = shape.columns.length;
  for (let j = 0; j < relations.length; j++) out[relations[j]!.name] = related(relations[j]!, json[n + j]);
  if (shape.asAsked) (out as Marked)[READ_AS_ASKED] = true;
  return out;
}

/**
 * Marks rows read here as their fields ask for them, and every row below them (Shape.asAsked).
 * A property, not a WeakSet: adding a board's ~200 rows to a WeakSet cost about 5 % of its CPU
 * (measured; weak tables are extra work for every young-generation collection). A symbol, so
 * the row's keys and JSON are unchanged.
 */
const READ_AS_ASKED = Symbol("read as its fields ask");
type Marked = { [READ_AS_ASKED]?: boolean };

/** Whether `row` was read here as its fields ask for it, and every row below it (Shape.asAsked). */
export const readAsItsFieldsAsk = (row: object): boolean => (row as Marked)[READ_AS_ASKED] === true;

function related(plan: Plan, json: unknown): unknown {
  if (plan.relation.list) return ((json ?? []) as unknown[][]).map((r) => row(plan.shape, r));
  return json == null ? null : row(plan.shape, json as unknown[]);
}

/** Reads the tasks of `from` (a FROM clause naming them t0), in this shape, in one statement, in `orderBy`'s order. */
async function readTasks(db: Database, from: Prisma.Sql, orderBy: Prisma.Sql | null, shape: Shape): Promise<Record<string, unknown>[]> {
  const { dialect } = db;
  // Straight through the driver: Prisma's client would cost more than the statement itself.
  const [result] = await db.readRows<{ rows: unknown }>(Prisma.sql`SELECT ${dialect.json.aggregate(sqlOf(dialect, shape).json, from, orderBy)} AS "rows"`);
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
    const from = Prisma.sql`FROM (SELECT ${sqlOf(db.dialect, split.shape).pageColumns} FROM "Task" WHERE ${firstPageWhere} ORDER BY "Task"."number" ASC LIMIT ${take}) t0`;
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
    // Relations Prisma read are not this module's to vouch for. The mark is the row's last
    // property, and V8 keeps an object fast when its last property is deleted.
    if (Object.keys(keep).length > 1) delete (task as Marked)[READ_AS_ASKED];
    for (const key of Object.keys(keep)) task[key] = keep[key];
    tasks.push(task);
  }
  return tasks as unknown as Task[];
}

/**
 * The columns a first page's rows are read with: the shape's own, those its relations join
 * on, and the number it is ordered by. Not `*`: a task's text columns (a dashboard holds up
 * to 100,000 characters) would be copied for every row of the page.
 */
function pageColumns(shape: Shape): Prisma.Sql {
  const names = new Set([...shape.columns.map((i) => shape.model.names[i]!), ...shape.relations.map((plan) => plan.relation.parentColumn), "number"]);
  return Prisma.raw([...names].map((name) => `"Task"."${name}"`).join(", "));
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
