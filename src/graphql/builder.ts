// The schema builder and its plugins; nothing else.
import SchemaBuilder from "@pothos/core";
import ComplexityPlugin from "@pothos/plugin-complexity";
import PrismaPlugin from "@pothos/plugin-prisma";
import RelayPlugin from "@pothos/plugin-relay";
import { DateTimeResolver, JSONObjectResolver, JSONResolver } from "graphql-scalars";
import type PrismaTypes from "../generated/pothos-types.js";
import { getDatamodel } from "../generated/pothos-types.js";
import type { Context } from "./context.js";
import { complexityError, costLimits, DEFAULT_PAGE, fieldComplexity, MAX_PAGE } from "./limits.js";

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  DefaultFieldNullability: false;
  Scalars: {
    // IDs are the records' UUID strings; a client may send a number, which GraphQL's ID
    // parses to a string anyway.
    ID: { Input: string; Output: string };
    DateTime: { Input: Date; Output: Date };
    JSONObject: { Input: Record<string, unknown>; Output: unknown };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  plugins: [ComplexityPlugin, PrismaPlugin, RelayPlugin],
  defaultFieldNullability: false,
  complexity: {
    limit: costLimits,
    fieldComplexity,
    complexityError,
  },
  prisma: {
    client: (ctx) => ctx.reader,
    dmmf: getDatamodel(),
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
    defaultConnectionSize: DEFAULT_PAGE,
    maxConnectionSize: MAX_PAGE,
  },
  relay: {
    clientMutationId: "omit",
    cursorType: "String",
    // IDs are the records' own UUIDs (short, and the same ones journal payloads carry);
    // there is no global `node` lookup to keep every read behind a team's visibility.
    nodeQueryOptions: false,
    nodesQueryOptions: false,
  },
});

builder.addScalarType("DateTime", DateTimeResolver);
builder.addScalarType("JSONObject", JSONObjectResolver);
builder.addScalarType("JSON", JSONResolver);
builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
