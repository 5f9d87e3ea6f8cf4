import { join } from "node:path";
import { lexicographicSortSchema, printSchema } from "graphql";
import { projectRoot } from "../infra/project-root.js";
import { schema } from "./schema.js";

export const schemaFile = join(projectRoot, "schema.graphql");

export function printedSchema(): string {
  return printSchema(lexicographicSortSchema(schema)) + "\n";
}
