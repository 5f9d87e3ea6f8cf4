// Pages of a team's tasks with the Pothos plugin's connection helpers (its page arguments and
// cursors), not t.prismaConnection, which has the plugin plan the selection on every request
// (about 6 % of a computed board's CPU): rows that answer every field themselves
// (shapeForSelection) need no plan.
import { prismaConnectionHelpers, queryFromInfo } from "@pothos/plugin-prisma";
import type { GraphQLResolveInfo } from "graphql";
import { shapeForSelection, type RowSelection } from "../modules/tasks/task-relations.js";
import { builder } from "./builder.js";
import type { Context } from "./context.js";

export const taskPages = prismaConnectionHelpers(builder, "Task", { cursor: "id" });

type PageArgs = Parameters<typeof taskPages.resolve>[1];

/** Prisma's arguments for a page: its place in the list, and, unless the rows answer every field, the plugin's plan. */
export async function taskPageQuery(args: PageArgs, ctx: Context, info: GraphQLResolveInfo, wanted: RowSelection) {
  const { select: _select, ...page } = taskPages.getQuery(args, ctx, () => true) as { select?: unknown; take?: number; skip?: number; cursor?: { id: string } };
  if (shapeForSelection(wanted)) return page;
  return { ...page, ...(await queryFromInfo({ context: ctx, info, select: { id: true }, paths: [["nodes"], ["edges", "node"]], typeName: "Task" })) };
}
