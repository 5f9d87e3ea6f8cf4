// Which queries may outlive a commit, and which commits they outlive (src/graphql/kept-reads.ts),
// on the real schema. test/api/response-cache.test.ts holds them to computed answers through
// the server, after every kind of change.
import { Kind, parse, type OperationDefinitionNode } from "graphql";
import { describe, expect, it } from "vitest";
import { outlives, ReadLedger, readsOnlyTaskPages } from "../../src/graphql/kept-reads.js";
import { schema } from "../../src/graphql/schema.js";
import { WHOLE_ROW, type RowSelection } from "../../src/modules/tasks/task-relations.js";

function pagesOnly(text: string): boolean {
  const document = parse(text);
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  return readsOnlyTaskPages(schema, document, operation);
}

const NODE = "id number title status assignee { name } blockedBy { kind blocker { number status } }";

describe("a query that reads only task pages", () => {
  it("is a team's columns and pages of its tasks, with cursors and pageInfo, through fragments", () => {
    expect(pagesOnly(`query($t: ID!) { team(id: $t) { name tasks(first: 50) { edges { node { ${NODE} } } } } }`)).toBe(true);
    expect(pagesOnly(`query($t: ID!, $a: String) { __typename team(id: $t) { id tasks(first: 10, after: $a) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } } }`)).toBe(true);
    expect(pagesOnly(`query($t: ID!) { team(id: $t) { ...Page } } fragment Page on Team { tasks(first: 5) { edges { node { ...Card } } } } fragment Card on Task { ${NODE} }`)).toBe(true);
  });

  it("is not one with another root field, another field of the team, or a field with arguments below a node", () => {
    expect(pagesOnly(`query($t: ID!) { me { name } team(id: $t) { tasks(first: 5) { edges { node { id } } } } }`)).toBe(false);
    expect(pagesOnly(`query($t: ID!) { team(id: $t) { members { agent { name } } tasks(first: 5) { edges { node { id } } } } }`)).toBe(false);
    expect(pagesOnly(`query($t: ID!) { team(id: $t) { board } }`)).toBe(false);
    // No field below a task takes arguments today: a made-up one (the check does not validate).
    expect(pagesOnly(`query($t: ID!) { team(id: $t) { tasks(first: 5) { edges { node { id title(cut: 10) } } } } }`)).toBe(false);
    expect(pagesOnly(`query($t: ID!) { team(id: $t) { ...Page } } fragment Page on Team { milestones { name } }`)).toBe(false);
    expect(pagesOnly(`query($id: ID!) { task(id: $id) { id title } }`)).toBe(false);
    expect(pagesOnly(`mutation($t: ID!) { updateTeam(teamId: $t, input: { name: "x" }) { id } }`)).toBe(false);
  });
});

const columns = (...names: string[]): RowSelection => ({ columns: new Set(names), relations: new Map() });
const task = (id: string, blockers: string[] = []) => ({ id, number: 1, blockedBy: blockers.map((b) => ({ kind: "explicit", blocker: { id: b, number: 2 } })) });
const board: RowSelection = { columns: new Set(["id", "number"]), relations: new Map([["blockedBy", { columns: new Set(["kind"]), relations: new Map([["blocker", columns("number")]]) }]]) };

describe("what a page read", () => {
  it("is its tasks and the tasks below them", () => {
    const ledger = new ReadLedger();
    ledger.taskPage("team-1", {}, [task("a", ["c"]), task("b")], board);
    expect(ledger.reads()).toEqual({ teamId: "team-1", taskIds: new Set(["a", "c", "b"]) });
  });

  it("is anything when a row was read whole, lacks a relation it shows, or shows presence; when filtered; or of two teams", () => {
    const cases: ((ledger: ReadLedger) => void)[] = [
      (l) => l.taskPage("team-1", {}, [task("a")], WHOLE_ROW),
      (l) => l.taskPage("team-1", {}, [{ id: "a", number: 1 }], board),
      (l) => l.taskPage("team-1", {}, [{ id: "a", assignee: { lastSeenAt: null } }], { columns: new Set(["id"]), relations: new Map([["assignee", columns("lastSeenAt")]]) }),
      (l) => l.taskPage("team-1", {}, [{ id: "a", milestone: null }], { columns: new Set(["id"]), relations: new Map([["milestone", columns("name")]]) }),
      (l) => l.taskPage("team-1", { status: ["pending"] }, [task("a")], board),
      (l) => {
        l.taskPage("team-1", {}, [task("a")], board);
        l.taskPage("team-2", {}, [task("b")], board);
      },
    ];
    for (const read of cases) {
      const ledger = new ReadLedger();
      read(ledger);
      expect(ledger.reads()).toBeNull();
    }
    expect(new ReadLedger().reads()).toBeNull();
  });
});

describe("the commits a page outlives", () => {
  const reads = { teamId: "team-1", taskIds: new Set(["a", "c"]) };
  const row = (kind: string, subjectId: string, subjectType = "Task") => ({ kind, subjectType, subjectId });

  it("change only tasks it did not read", () => {
    expect(outlives(reads, [])).toBe(true);
    expect(outlives(reads, [row("task.claimed", "x"), row("task.updated", "y"), row("task.completed", "x"), row("task.dashboard_appended", "x")])).toBe(true);
  });

  it("not one that changes a task it read, links tasks, creates one, or is of another kind", () => {
    expect(outlives(reads, [row("task.updated", "x"), row("task.updated", "c")])).toBe(false);
    expect(outlives(reads, [row("task.dependency_added", "x")])).toBe(false);
    expect(outlives(reads, [row("task.created", "x")])).toBe(false);
    expect(outlives(reads, [row("team.updated", "team-1", "Team")])).toBe(false);
    expect(outlives(reads, [row("task.some_new_kind", "x")])).toBe(false);
  });
});
