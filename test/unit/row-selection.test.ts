// Which columns a task list reads for a GraphQL selection (src/graphql/row-selection.ts), on
// the real schema. test/api/task-relations.test.ts holds the answers to Prisma's path.
import { Kind, parse, type FieldNode, type GraphQLObjectType, type FragmentDefinitionNode, type OperationDefinitionNode } from "graphql";
import { describe, expect, it } from "vitest";
import { connectionRowSelection, readsOnlyColumns } from "../../src/graphql/row-selection.js";
import { schema } from "../../src/graphql/schema.js";
import type { RowSelection } from "../../src/modules/tasks/task-relations.js";

/** The selection of `team { tasks }` in a document, as its resolver sees it. */
function tasksOf(document: string): RowSelection {
  const ast = parse(document);
  const fragments = Object.fromEntries(
    ast.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
  );
  const operation = ast.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  const team = operation.selectionSet.selections[0] as FieldNode;
  const fieldNodes = team.selectionSet!.selections.filter((s): s is FieldNode => s.kind === Kind.FIELD && s.name.value === "tasks");
  const returnType = (schema.getType("Team") as GraphQLObjectType).getFields().tasks!.type;
  return connectionRowSelection({ schema, fragments, fieldNodes, returnType });
}

/** A selection as plain data: sorted columns (or "whole") and relations. */
function plain(selection: RowSelection): unknown {
  if (selection.columns === null) return "whole";
  return { columns: [...selection.columns].sort(), ...Object.fromEntries([...selection.relations].map(([name, below]) => [name, plain(below)])) };
}

describe("the columns a task list reads", () => {
  it("the board reads its fields' columns, its relations' rows and nothing more", () => {
    const board = tasksOf(`query($t: ID!) { team(id: $t) { tasks(first: 50) { edges { node {
      id number title status priority assignee { name }
      blockedBy { kind blocker { number title status assignee { name } } }
    } } } } }`);
    expect(plain(board)).toEqual({
      columns: ["id", "number", "priority", "status", "title"],
      assignee: { columns: ["name"] },
      blockedBy: { columns: ["kind"], blocker: { columns: ["number", "status", "title"], assignee: { columns: ["name"] } } },
    });
  });

  it("merges aliases, fragments, inline fragments and repeated fields", () => {
    const selection = tasksOf(`query { team(id: "x") {
      tasks(first: 5) { edges { ...Edge node { a: title } } pageInfo { hasNextPage } }
      tasks(first: 5) { edges { node { ... on Task { notes } ... { progress } } } }
    } }
    fragment Edge on TeamTasksConnectionEdge { cursor node { ...Bits b: assignee { id } } }
    fragment Bits on Task { description assignee { name } claimToken __typename }`);
    expect(plain(selection)).toEqual({
      columns: ["claimEpoch", "description", "notes", "progress", "title"],
      assignee: { columns: ["id", "name"] },
    });
  });

  it("a field with a column selection reads those columns (an agent's kind)", () => {
    expect(plain(tasksOf(`{ team(id: "x") { tasks { edges { node { assignee { kind } } } } } }`))).toEqual({ columns: [], assignee: { columns: ["kind"] } });
  });

  it("a field that computes from the row reads it whole, and everything below it", () => {
    const selection = tasksOf(`{ team(id: "x") { tasks { edges { node { title readiness { ready } blockedBy { kind } } } } } }`);
    expect(plain(selection)).toBe("whole");
    // Below an exact level, the computing field's own level alone is whole.
    const below = tasksOf(`{ team(id: "x") { tasks { edges { node { title blockedBy { blocker { readiness { state } } } } } } } }`);
    expect(plain(below)).toEqual({ columns: ["title"], blockedBy: { columns: [], blocker: "whole" } });
  });

  it("a fragment spread twice is read once", () => {
    const selection = tasksOf(`query { team(id: "x") { tasks { edges { node { ...T ...T } } } } }
    fragment T on Task { title }`);
    expect(plain(selection)).toEqual({ columns: ["title"] });
  });
});

/** Whether `team(id)`'s selection in a document needs no plan of the Pothos plugin. */
function teamReadsOnlyColumns(document: string): boolean {
  const ast = parse(document);
  const fragments = Object.fromEntries(
    ast.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
  );
  const operation = ast.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  const returnType = (schema.getType("Query") as GraphQLObjectType).getFields().team!.type;
  return readsOnlyColumns({ schema, fragments, fieldNodes: [operation.selectionSet.selections[0] as FieldNode], returnType });
}

describe("a team read without the plugin's plan", () => {
  it("columns and fields that read for themselves (the board's tasks, the journal) need none", () => {
    expect(teamReadsOnlyColumns(`{ team(id: "x") { id name __typename tasks(first: 50) { edges { node { title assignee { name } } } } journal { edges { node { kind } } } } }`)).toBe(true);
  });

  it("a relation or a field with a selection of its own needs the plan, in a fragment too", () => {
    expect(teamReadsOnlyColumns(`{ team(id: "x") { name members { role } } }`)).toBe(false);
    expect(teamReadsOnlyColumns(`{ team(id: "x") { myRole } }`)).toBe(false);
    expect(teamReadsOnlyColumns(`{ team(id: "x") { name ...T } } fragment T on Team { lead { name } }`)).toBe(false);
    expect(teamReadsOnlyColumns(`{ team(id: "x") { name ... on Team { members { role } } } }`)).toBe(false);
  });
});
