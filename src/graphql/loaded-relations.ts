// Fields of rows a task list read as they ask answer from the row, without the Pothos Prisma
// plugin's lookup. The plugin wraps each field that selects from the database (a relation, a
// `select`) to find, by the field's response path, whether the plan that loaded its parent
// row included what it needs, and else loads it itself; on the board that lookup, once per
// such field per row, was about a fifth of a computed page's CPU (measured: 820 → 640 µs a
// page). task-reads.ts marks the rows it read with everything their fields ask
// (readAsItsFieldsAsk), so for those the plugin's answer is known: the field's own resolver
// on the row, which is what the plugin calls once it has found the plan. Every other row
// goes to the plugin.
import { isObjectType, type GraphQLFieldResolver, type GraphQLSchema } from "graphql";
import { readAsItsFieldsAsk } from "../modules/tasks/task-reads.js";
import { MODELS } from "../modules/tasks/task-relations.js";

/** Wraps the plugin's resolvers of the fields of the models task-relations.ts reads (the schema's own objects). */
export function answerFromReadRows(schema: GraphQLSchema): GraphQLSchema {
  for (const typeName of Object.keys(MODELS)) {
    const type = schema.getType(typeName);
    if (!isObjectType(type)) continue;
    for (const field of Object.values(type.getFields())) {
      const { pothosPrismaSelect, pothosConfig } = field.extensions as { pothosPrismaSelect?: unknown; pothosConfig?: { resolve?: GraphQLFieldResolver<unknown, unknown> } };
      const own = pothosConfig?.resolve;
      const viaPlugin = field.resolve;
      if (!pothosPrismaSelect || !own || !viaPlugin) continue;
      field.resolve = (parent, args, context, info) => (readAsItsFieldsAsk(parent as object) ? own(parent, args, context, info) : viaPlugin(parent, args, context, info));
    }
  }
  return schema;
}
