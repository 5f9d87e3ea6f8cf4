// Which kept answers outlive a commit. A kept answer is given again only under the version
// it was read under (response-cache.ts), and any commit gives a new version. But a team at
// work changes its tasks all the time, mostly tasks a page of its board does not show, so a
// board was read again after every commit for nothing. An answer that reads nothing but
// task pages of one team (Query.team, the team's columns, Team.tasks unfiltered, and below
// its nodes only columns and relations one statement read) remembers the tasks it read and
// the journal head it was read after. When the version has moved, the team's journal rows
// since that head say what changed, and the answer is given again when none of them can
// have changed it:
// - every change to a task, a dependency or the team writes journal rows in that team, in
//   its transaction (the architecture's rule; subscriptions rely on it as well);
// - a row of a kind in SUBJECT_ONLY_KINDS changed only its subject task's row: when the page
//   did not read that task, nothing it shows changed, nor which tasks an unfiltered page
//   holds (the team's tasks by number: only a created task changes that);
// - any other row of the team retires the answer. Rows of other teams and agents' own rows
//   change nothing a task page shows: an agent's columns change only by presence, and a
//   page that reads those is not tracked.
// A commit that skips the journal (SQL run behind the server's back) is not seen by such an
// answer; every other kept answer is still retired by any commit. (Nothing deletes journal
// rows; if something ever does, an answer whose head is older than the oldest row left must
// be read again.)
import { getNamedType, isObjectType, Kind, type DocumentNode, type FieldNode, type FragmentDefinitionNode, type GraphQLObjectType, type GraphQLOutputType, type GraphQLSchema, type OperationDefinitionNode, type SelectionSetNode } from "graphql";
import type { JournalChange } from "../modules/journal/journal.service.js";
import { SUBJECT_ONLY_KINDS } from "../modules/tasks/task-events.js";
import { PRESENCE_COLUMNS } from "../modules/agents/presence.js";
import { MODELS, type Model, type RowSelection } from "../modules/tasks/task-relations.js";
import { unfiltered, type TaskFilter } from "../modules/tasks/task-inputs.js";
import { collect, setsOf } from "./row-selection.js";

/** What a kept answer read: task pages of one team, and these tasks on them or below them. */
export interface KeptReads {
  teamId: string;
  taskIds: ReadonlySet<string>;
}

/** Whether no change of `changes` (journal rows of the reads' team) can have changed what was read. */
export function outlives(reads: KeptReads, changes: readonly JournalChange[]): boolean {
  return changes.every((c) => c.subjectType === "Task" && SUBJECT_ONLY_KINDS.has(c.kind) && !reads.taskIds.has(c.subjectId));
}

/** Collects, while a query runs, the task pages it reads (Team.tasks tells it). */
export class ReadLedger {
  private teamId: string | null = null;
  private readonly taskIds = new Set<string>();
  private untracked = false;

  /** A page of a team's tasks: `rows` read for `wanted`, with `filter`. */
  taskPage(teamId: string, filter: TaskFilter | null | undefined, rows: readonly object[], wanted: RowSelection): void {
    // A filter's matches change with tasks the page does not show (a claim changes a status).
    const ids = unfiltered(filter) ? taskIdsRead(rows, wanted) : null;
    if (!ids || (this.teamId !== null && this.teamId !== teamId)) {
      this.untracked = true;
      return;
    }
    this.teamId = teamId;
    for (const id of ids) this.taskIds.add(id);
  }

  /** What the query read, or null when it may have read anything else. */
  reads(): KeptReads | null {
    return this.untracked || this.teamId === null ? null : { teamId: this.teamId, taskIds: this.taskIds };
  }
}

// Operations are the same objects for every request with that text (Yoga keeps parsed documents).
const byOperation = new WeakMap<OperationDefinitionNode, boolean>();

/**
 * Whether the operation can read nothing but task pages: a query of `team` alone, selecting
 * the team's columns and `tasks`, of which edges (node, cursor) and pageInfo, and no field
 * with arguments below a node. Whether a node reads only columns and relations of its rows,
 * and the page has no filter, is for ReadLedger to see while it runs.
 */
export function readsOnlyTaskPages(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): boolean {
  let known = byOperation.get(operation);
  if (known === undefined) byOperation.set(operation, (known = taskPagesOnly(schema, document, operation)));
  return known;
}

type Fragments = Record<string, FragmentDefinitionNode>;

function taskPagesOnly(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): boolean {
  const query = schema.getQueryType();
  const teamField = query?.getFields().team;
  const team = teamField && getNamedType(teamField.type);
  if (operation.operation !== "query" || !query || !team || !isObjectType(team)) return false;
  const fragments: Fragments = {};
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
  const root = collect(schema, query, [operation.selectionSet], fragments);
  if (![...root.keys()].every((name) => name === "team" || name === "__typename")) return false;
  for (const [name, nodes] of collect(schema, team, setsOf(root.get("team")), fragments)) {
    if (name === "__typename" || typeof team.getFields()[name]?.extensions.pothosExposedField === "string") continue;
    if (name !== "tasks" || !pageOnly(schema, team.getFields().tasks!.type, nodes, fragments)) return false;
  }
  return true;
}

function pageOnly(schema: GraphQLSchema, type: GraphQLOutputType, nodes: readonly FieldNode[], fragments: Fragments): boolean {
  const connection = getNamedType(type);
  if (!isObjectType(connection)) return false;
  for (const [name, edgeNodes] of collect(schema, connection, setsOf(nodes), fragments)) {
    if (name === "__typename" || name === "pageInfo") continue;
    const edge = name === "edges" ? getNamedType(connection.getFields().edges!.type) : null;
    if (!edge || !isObjectType(edge)) return false;
    for (const [edgeField, below] of collect(schema, edge as GraphQLObjectType, setsOf(edgeNodes), fragments)) {
      if (edgeField === "__typename" || edgeField === "cursor") continue;
      if (edgeField !== "node" || below.some((node) => node.selectionSet && hasArguments(node.selectionSet, fragments, new Set()))) return false;
    }
  }
  return true;
}

/** Whether a field with arguments is selected anywhere in `set` (fragments spread). */
function hasArguments(set: SelectionSetNode, fragments: Fragments, spread: Set<string>): boolean {
  return set.selections.some((s) => {
    if (s.kind === Kind.FIELD) return Boolean(s.arguments?.length) || (s.selectionSet !== undefined && hasArguments(s.selectionSet, fragments, spread));
    if (s.kind === Kind.INLINE_FRAGMENT) return hasArguments(s.selectionSet, fragments, spread);
    const fragment = fragments[s.name.value];
    if (!fragment || spread.has(s.name.value)) return false;
    spread.add(s.name.value);
    return hasArguments(fragment.selectionSet, fragments, spread);
  });
}

/**
 * The IDs of the tasks among `rows` and below them (blockers, blocked tasks), when every
 * column and relation `wanted` reads is in the rows and journaled: each change to them
 * writes a journal row (presence's Agent columns do not). Null otherwise: a row read whole,
 * a relation the rows lack (another reader would load it) or not listed in MODELS.
 */
function taskIdsRead(rows: readonly object[], wanted: RowSelection): Set<string> | null {
  const ids = new Set<string>();
  const walk = (rows: readonly object[], model: Model, wanted: RowSelection): boolean => {
    const { columns } = wanted;
    if (columns === null || (model === MODELS.Agent && PRESENCE_COLUMNS.some((c) => columns.has(c)))) return false;
    for (const row of rows) {
      if (model === MODELS.Task) ids.add((row as { id: string }).id);
      for (const [name, below] of wanted.relations) {
        const relation = model.relations[name];
        if (!relation || !(name in row)) return false;
        const value = (row as Record<string, unknown>)[name];
        const related = relation.list ? (value as object[]) : value ? [value as object] : [];
        if (!walk(related, MODELS[relation.model], below)) return false;
      }
    }
    return true;
  };
  return walk(rows, MODELS.Task, wanted) ? ids : null;
}
