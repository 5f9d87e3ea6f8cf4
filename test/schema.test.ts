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
