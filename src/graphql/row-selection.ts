// What a GraphQL selection reads of a Prisma row, from the schema's own field definitions: a
// field made with `t.expose*` reads its column, a `t.relation` field its related rows, a field
// with a `select` of columns those columns. Any other field may read anything, so its row is
// read whole, and so is everything below it. Reading more than the selection needs is only
// slower; reading less would be a wrong answer, so every doubt reads more (@skip and @include
// are not looked at).
import {
  getNamedType,
  isAbstractType,
  isObjectType,
  Kind,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  type SelectionSetNode,
} from "graphql";
import { WHOLE_ROW, type RowSelection } from "../modules/tasks/task-relations.js";

type Fragments = Record<string, FragmentDefinitionNode>;

// A document's nodes are the same objects for every request with that text (Yoga keeps parsed
// documents), and the answer depends on nothing else: variables are not looked at.
const byNode = new WeakMap<FieldNode, RowSelection>();

/** What the rows of a connection field (`edges { node }`) are read for. */
export function connectionRowSelection(info: Pick<GraphQLResolveInfo, "fieldNodes" | "fragments" | "schema" | "returnType">): RowSelection {
  // A field asked twice under one name has two nodes: rare, and not kept.
  const node = info.fieldNodes.length === 1 ? info.fieldNodes[0] : undefined;
  const kept = node && byNode.get(node);
  if (kept) return kept;
  const selection = nodesOf(info.schema, info.returnType, info.fieldNodes, info.fragments);
  if (node) byNode.set(node, selection);
  return selection;
}

function nodesOf(schema: GraphQLSchema, returnType: GraphQLResolveInfo["returnType"], fieldNodes: readonly FieldNode[], fragments: Fragments): RowSelection {
  const connection = getNamedType(returnType);
  if (!isObjectType(connection)) return WHOLE_ROW;
  const edges = connection.getFields().edges;
  const edge = edges && getNamedType(edges.type);
  if (!edge || !isObjectType(edge)) return WHOLE_ROW;
  const nodeField = edge.getFields().node;
  const node = nodeField && getNamedType(nodeField.type);
  if (!node || !isObjectType(node)) return WHOLE_ROW;
  const edgeSets = setsOf(collect(schema, connection, setsOf(fieldNodes), fragments).get("edges"));
  const nodeSets = setsOf(collect(schema, edge, edgeSets, fragments).get("node"));
  return rowSelectionOf(schema, node, nodeSets, fragments);
}

function rowSelectionOf(schema: GraphQLSchema, type: GraphQLObjectType, sets: readonly SelectionSetNode[], fragments: Fragments): RowSelection {
  const columns = new Set<string>();
  const relations = new Map<string, { type: GraphQLObjectType; nodes: FieldNode[] }>();
  const fields = type.getFields();
  for (const [name, nodes] of collect(schema, type, sets, fragments)) {
    if (name === "__typename") continue;
    const extensions = (fields[name]?.extensions ?? {}) as Record<string, unknown>;
    const exposed = extensions.pothosExposedField;
    // The relation's field in Prisma's datamodel.
    const relation = (extensions.pothosPrismaRelationField as { name?: unknown } | undefined)?.name;
    const select = extensions.pothosPrismaSelect;
    if (typeof exposed === "string") columns.add(exposed);
    else if (typeof relation === "string") {
      const target = getNamedType(fields[name]!.type);
      if (!isObjectType(target)) return WHOLE_ROW;
      const seen = relations.get(relation);
      if (seen) seen.nodes.push(...nodes);
      else relations.set(relation, { type: target, nodes: [...nodes] });
    } else if (isColumnList(select)) for (const column of Object.keys(select)) columns.add(column);
    else return WHOLE_ROW;
  }
  const below = new Map<string, RowSelection>();
  for (const [relation, { type: target, nodes }] of relations) below.set(relation, rowSelectionOf(schema, target, setsOf(nodes), fragments));
  return { columns, relations: below };
}

// Per node, as byNode.
const columnsOnly = new WeakMap<FieldNode, boolean>();

/**
 * Whether a field's selection of its object asks the Pothos Prisma plugin for nothing: only
 * exposed columns and fields that read what they need themselves. Then the row read whole
 * answers it, and the plugin's plan (about 2 % of a board's CPU) is not needed.
 */
export function readsOnlyColumns(info: Pick<GraphQLResolveInfo, "fieldNodes" | "fragments" | "schema" | "returnType">): boolean {
  const node = info.fieldNodes.length === 1 ? info.fieldNodes[0] : undefined;
  const kept = node && columnsOnly.get(node);
  if (kept !== undefined) return kept;
  const type = getNamedType(info.returnType);
  let only = false;
  if (isObjectType(type)) {
    const fields = type.getFields();
    only = [...collect(info.schema, type, setsOf(info.fieldNodes), info.fragments).keys()].every((name) => {
      const extensions = (fields[name]?.extensions ?? {}) as Record<string, unknown>;
      return typeof extensions.pothosExposedField === "string" || !("pothosPrismaSelect" in extensions || "pothosPrismaRelationField" in extensions);
    });
  }
  if (node) columnsOnly.set(node, only);
  return only;
}

/** A field's `select` that names columns only (`{ kind: true }`), not relations or a function. */
function isColumnList(select: unknown): select is Record<string, true> {
  return typeof select === "object" && select !== null && Object.values(select).every((value) => value === true);
}

/** The selection sets of these field nodes (none when the field was not selected). */
export const setsOf = (nodes: readonly FieldNode[] = []) => nodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : []));

/** The field nodes of these selection sets by field name (aliases merged), fragments spread. */
export function collect(schema: GraphQLSchema, type: GraphQLObjectType, sets: readonly SelectionSetNode[], fragments: Fragments, into = new Map<string, FieldNode[]>(), spread = new Set<string>()) {
  for (const set of sets) {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        const nodes = into.get(name);
        if (nodes) nodes.push(selection);
        else into.set(name, [selection]);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (applies(schema, type, selection.typeCondition?.name.value)) collect(schema, type, [selection.selectionSet], fragments, into, spread);
      } else {
        const name = selection.name.value;
        const fragment = fragments[name];
        if (spread.has(name) || !fragment) continue;
        spread.add(name);
        if (applies(schema, type, fragment.typeCondition.name.value)) collect(schema, type, [fragment.selectionSet], fragments, into, spread);
      }
    }
  }
  return into;
}

function applies(schema: GraphQLSchema, type: GraphQLObjectType, condition: string | undefined): boolean {
  if (condition === undefined || condition === type.name) return true;
  const conditionType = schema.getType(condition);
  return conditionType !== undefined && isAbstractType(conditionType) && schema.isSubType(conditionType, type);
}
