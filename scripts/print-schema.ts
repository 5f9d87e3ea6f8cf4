// Writes schema.graphql, the printed and sorted schema that is committed.
//   npm run schema:print
import { writeFileSync } from "node:fs";
import { printedSchema, schemaFile } from "../src/graphql/print-schema.js";

writeFileSync(schemaFile, printedSchema());
console.log(`wrote ${schemaFile}`);
