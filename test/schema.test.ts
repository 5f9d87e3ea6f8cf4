// Generated and committed files that must stay in step with their sources.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { printedSchema, schemaFile } from "../src/graphql/print-schema.js";
import { derivePostgresSchema, derivedPath, sourcePath } from "../scripts/prisma-generate.js";

const root = join(import.meta.dirname, "..");
const read = (path: string) => readFileSync(path, "utf8");
const folders = (dir: string) =>
  readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();

describe("committed schema files", () => {
  it("schema.graphql is the printed schema", () => {
    expect(schemaFile).toBe(join(root, "schema.graphql"));
    expect(read(schemaFile), "schema.graphql is stale: run `npm run schema:print`").toBe(printedSchema());
  });

  it("prisma/postgres/schema.prisma is derived from prisma/schema.prisma", () => {
    expect(derivedPath).toBe(join(root, "prisma/postgres/schema.prisma"));
    expect(read(derivedPath), "prisma/postgres/schema.prisma is stale: run `npm run prisma:derive`").toBe(
      derivePostgresSchema(read(sourcePath)),
    );
  });

  it("the migrations cover prisma/schema.prisma", () => {
    expect(
      read(join(root, "prisma/migrations/schema.snapshot.prisma")),
      "the schema changed without a migration: run `npm run migration:new -- <name>`",
    ).toBe(read(join(root, "prisma/schema.prisma")));
  });

  it("SQLite and PostgreSQL have the same migrations", () => {
    const sqlite = folders(join(root, "prisma/migrations/sqlite"));
    const postgres = folders(join(root, "prisma/migrations/postgres"));
    expect(sqlite.length).toBeGreaterThan(0);
    expect(postgres, "prisma/migrations/sqlite and prisma/migrations/postgres differ").toEqual(sqlite);
    for (const provider of ["sqlite", "postgres"]) {
      for (const folder of sqlite) {
        expect(read(join(root, "prisma/migrations", provider, folder, "migration.sql")).trim(), `${provider}/${folder}/migration.sql`).not.toBe("");
      }
    }
  });
});

describe("fields that change without a commit", () => {
  // The response cache never keeps a query selecting one of these (src/graphql/response-cache.ts):
  // a field whose value moves with the clock or with connections must carry the mark.
  it("are marked where they are defined: presence, an ask's deadline, and the wait for replies", async () => {
    const { schema } = await import("../src/graphql/schema.js");
    const marked = Object.values(schema.getTypeMap())
      .filter((type) => !type.name.startsWith("__") && "getFields" in type)
      .flatMap((type) => Object.values((type as import("graphql").GraphQLObjectType).getFields()).map((field) => [type.name, field] as const))
      .filter(([, field]) => (field.extensions as { changesWithoutCommit?: boolean }).changesWithoutCommit)
      .map(([type, field]) => `${type}.${field.name}`)
      .sort();
    expect(marked).toEqual(["Agent.lastSeenAt", "Agent.online", "Message.expired", "Query.awaitEvents", "Query.awaitReplies"]);
  });
});
