// Derives prisma/postgres/schema.prisma from prisma/schema.prisma (only the provider
// and the client's output differ) and generates both Prisma clients and the Pothos
// types. Runs on `npm install` (postinstall) and as `npm run prisma:derive`.
//
// Prisma's CLI wants to download its schema engine before any command, and that host
// is unreachable on our machines; `generate` never runs that engine, so pointing
// PRISMA_SCHEMA_ENGINE_BINARY at any existing file skips the download. It is set for
// generate only: with it, `migrate` silently does nothing (we migrate through
// src/infra/migrate.ts instead).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const sourcePath = join(root, "prisma/schema.prisma");
export const derivedPath = join(root, "prisma/postgres/schema.prisma");

/** The PostgreSQL schema as derived from the SQLite source. */
export function derivePostgresSchema(source: string): string {
  const header =
    "// GENERATED from prisma/schema.prisma by scripts/prisma-generate.ts. Do not edit.\n";
  let out = source
    .replace(/provider\s*=\s*"sqlite"/, 'provider = "postgresql"')
    .replace('output              = "../src/generated/prisma"', 'output              = "../../src/generated/prisma-postgres"');
  // Pothos types are generated from the source schema only.
  out = out.replace(/generator pothos \{[^}]*\}\n\n/, "");
  return header + out;
}

function main() {
  const derived = derivePostgresSchema(readFileSync(sourcePath, "utf8"));
  mkdirSync(dirname(derivedPath), { recursive: true });
  if (!existsSync(derivedPath) || readFileSync(derivedPath, "utf8") !== derived) {
    writeFileSync(derivedPath, derived);
  }
  const env: NodeJS.ProcessEnv = { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? "/bin/true" };
  const prisma = join(root, "node_modules/.bin/prisma");
  // prisma-pothos-types must be on PATH for the pothos generator.
  env.PATH = `${join(root, "node_modules/.bin")}:${env.PATH}`;
  for (const schema of [sourcePath, derivedPath]) {
    execFileSync(prisma, ["generate", "--schema", schema], { cwd: root, env, stdio: ["ignore", "ignore", "inherit"] });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
