// GraphQL Code Generator (client preset): typed operations for agent code written in
// TypeScript, from the committed schema.graphql. `npm run codegen` writes examples/gql/
// from the operations written with `graphql(...)` in examples/typed-*.ts; docs/typed-client.md
// says how to use it in another project. test/api/typed-client.test.ts checks that the
// committed output is what this config generates, and that the example typechecks and runs.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "schema.graphql",
  documents: ["examples/typed-*.ts"],
  // Imports end in .js, as NodeNext resolution wants them.
  emitLegacyCommonJSImports: false,
  generates: {
    "examples/gql/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        // Operations as strings (TypedDocumentString): `fetch` sends them as they are,
        // with no GraphQL library at run time.
        documentMode: "string",
        // Only the types the operations use (with the inputs and enums they take), not one
        // type per schema type: the generated folder stays small enough to commit.
        onlyOperationTypes: true,
        enumsAsTypes: true,
        useTypeImports: true,
        // As they travel in JSON.
        scalars: {
          DateTime: "string",
          JSON: "unknown",
          JSONObject: "Record<string, unknown>",
        },
      },
    },
  },
};

export default config;
