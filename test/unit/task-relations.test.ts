// The column and relation tables that task lists read relations with must match the Prisma
// datamodel: a missing column would leave a field unresolved, a wrong key wrong rows.
import { describe, expect, it } from "vitest";
import { getDatamodel } from "../../src/generated/pothos-types.js";
import { date } from "../../src/infra/sql-values.js";
import { MODELS } from "../../src/modules/tasks/task-relations.js";

const { models } = getDatamodel().datamodel;
const kindOf: Record<string, string> = { String: "string", Int: "number", Float: "number", Boolean: "boolean", DateTime: "date", Json: "json" };

describe.each(Object.entries(MODELS))("%s", (name, model) => {
  const fields = models[name]!.fields;

  it("lists every scalar column with its kind", () => {
    const scalars = fields.filter((f) => f.kind === "scalar" || f.kind === "enum");
    expect(Object.fromEntries(model.names.map((n, i) => [n, model.kinds[i]]))).toEqual(
      Object.fromEntries(scalars.map((f) => [f.name, f.kind === "enum" ? "string" : (kindOf[f.type] ?? `unsupported ${f.type}`)])),
    );
  });

  it.each(Object.entries(model.relations))("relation %s joins on the relation's own columns", (relationName, relation) => {
    const field = fields.find((f) => f.name === relationName)!;
    expect(field).toMatchObject({ kind: "object", type: relation.model, isList: relation.list });
    const idOf = (modelName: string) => models[modelName]!.fields.find((f) => f.isId)!.name;
    if (relation.list) {
      const back = models[relation.model]!.fields.find((f) => f.relationName === field.relationName && f.type === name)!;
      expect(back.relationFromFields).toEqual([relation.childColumn]);
      expect(relation.parentColumn).toBe(idOf(name));
    } else {
      expect(field.relationFromFields).toEqual([relation.parentColumn]);
      expect(relation.childColumn).toBe(idOf(relation.model));
    }
  });
});

describe("dates read as Prisma reads them, in the forms the databases hold", () => {
  it.each([
    ["2026-11-22T10:19:07.683+00:00", "2026-11-22T10:19:07.683Z"], // SQLite, as Prisma writes it
    ["2026-11-22T10:19:07.68", "2026-11-22T10:19:07.680Z"], // PostgreSQL's JSON, UTC
    ["2026-11-22T10:19:07", "2026-11-22T10:19:07.000Z"],
    ["2026-11-22T10:19:07.683456", "2026-11-22T10:19:07.683Z"],
    ["2026-11-22T10:19:07Z", "2026-11-22T10:19:07.000Z"],
    ["2026-11-22 10:19:07", "2026-11-22T10:19:07.000Z"], // SQLite's CURRENT_TIMESTAMP
    ["2026-11-22T10:19:07.683+02:00", "2026-11-22T08:19:07.683Z"],
  ])("%s", (stored, iso) => {
    expect(date(stored).toISOString()).toBe(iso);
  });

  it("reads epoch milliseconds and refuses nonsense as Prisma does", () => {
    expect(date(1_795_000_000_000).getTime()).toBe(1_795_000_000_000);
    expect(Number.isNaN(date("not a date").getTime())).toBe(true);
  });
});
