// `npm start` runs a bundle of src/ that it rebuilds whenever an input changed. A copied
// folder must run its own code: the record of inputs names files relative to the project,
// and the bundle finds its decoded wasm from its own place, not from the original's.
import { execFileSync } from "node:child_process";
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const copy = mkdtempSync(join(tmpdir(), "agent-hq-copy-"));
afterAll(() => rmSync(copy, { recursive: true, force: true }));

const prepare = (dir: string) => execFileSync(process.execPath, ["scripts/start.mjs", "--prepare"], { cwd: dir, stdio: "pipe", timeout: 120_000 });

describe("the start bundle", () => {
  it("is rebuilt from a copied folder's own sources, and names no file of the original", () => {
    prepare(root);
    // A copy as `cp -a` makes it (times kept), sharing node_modules to stay small.
    for (const entry of ["src", "scripts", "prisma", ".build", "package.json", "tsconfig.json"]) {
      cpSync(join(root, entry), join(copy, entry), { recursive: true, preserveTimestamps: true });
    }
    symlinkSync(join(root, "node_modules"), join(copy, "node_modules"));
    const marker = `copy-only-${Date.now()}`;
    appendFileSync(join(copy, "src/config.ts"), `\n(globalThis as Record<string, unknown>).copyMarker = "${marker}";\n`);
    prepare(copy);
    const copied = readFileSync(join(copy, ".build/current/main.mjs"), "utf8");
    expect(copied).toContain(marker);
    expect(readFileSync(join(root, ".build/current/main.mjs"), "utf8")).not.toContain(marker);
    // Nothing in the bundle points back into the original folder, nor does its record of
    // inputs point at the original's sources (node_modules is the original's here, by the link).
    for (const own of ["src", ".build"]) expect(copied).not.toContain(join(root, own).slice(1));
    const { files } = JSON.parse(readFileSync(join(copy, ".build/current/main.mjs.inputs.json"), "utf8")) as { files: string[] };
    expect(files).toContain("src/config.ts");
    expect(files.filter((f) => resolve(copy, f).startsWith(join(root, "src")))).toEqual([]);
  }, 180_000);
});
