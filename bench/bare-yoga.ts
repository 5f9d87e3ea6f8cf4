// The baseline: a bare Yoga server with a one-field schema on node:http, no
// authentication, limits, metrics or logging. Started the same way as agent-hq
// (node scripts/start.mjs bench/bare-yoga.ts, pinned to the same core) so the ratio between them is the cost
// of everything agent-hq adds to a request.
import { createServer } from "node:http";
import { createSchema, createYoga } from "graphql-yoga";

const yoga = createYoga({
  schema: createSchema({ typeDefs: /* GraphQL */ `type Query { hello: String }`, resolvers: { Query: { hello: () => "world" } } }),
  graphqlEndpoint: "/graphql",
  landingPage: false,
  graphiql: false,
  logging: false,
});

const server = createServer(yoga);
const port = Number(process.env.PORT ?? 4100);
server.listen(port, process.env.HOST ?? "127.0.0.1", () => console.log(`bare yoga ready on ${port}`));
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => server.close(() => process.exit(0)));
