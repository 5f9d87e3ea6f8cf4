// Operations are typed from the committed schema.graphql by gql.tada: `npm run schema`
// (in web/) writes graphql-env.d.ts from it; TypeScript infers each operation's result
// and variables from its text, so there is no generated code to keep in step.
import { initGraphQLTada } from "gql.tada";
import type { introspection } from "./graphql-env";

export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: { DateTime: string; JSON: unknown; JSONObject: Record<string, unknown> };
  disableMasking: true;
}>();

export type { ResultOf, VariablesOf } from "gql.tada";
