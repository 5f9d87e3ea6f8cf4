// The project's root folder (the one holding package.json), found by walking up from this
// module's own location: it works from the sources (src/infra/, as tsx and vitest run
// them) and from `npm start`'s bundle (.build/main.mjs), whose import.meta.url is the
// bundle's. Files the server reads at run time (prisma/, schema.graphql) hang off it.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json in ${from} or any folder above it`);
  }
}

export const projectRoot = findRoot(dirname(fileURLToPath(import.meta.url)));
