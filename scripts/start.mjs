// `npm start`: bundles the TypeScript sources with esbuild into .build/ (git-ignored), then
// runs the bundle in this same process, so SIGTERM and SIGINT reach the server itself.
//
// Why: run-time transpiling (tsx) sent each of ~1,280 modules through its loader, about
// 2 s of CPU and 50 MB at every start (measured). Bundling src takes ~0.1–0.2 s, so it
// happens at every start: there is no build step to forget and no stale code to run.
// Packages stay external (Node loads them from node_modules as before), and the
// `import()`s of packages (ioredis, the MCP SDK, the PostgreSQL driver) stay lazy.
//
// `node scripts/start.mjs <entry.ts>` runs another entry point the same way (the bench
// starts its bare-Yoga baseline so); the default is src/main.ts.
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as esbuild from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const entry = join(root, process.argv[2] ?? "src/main.ts");
const name = `${basename(entry).replace(/\.[cm]?ts$/, "")}.mjs`;
const outdir = join(root, ".build", "current");
// esbuild writes into a folder of this process's own, at the same depth as `outdir` (so
// the source map's relative paths hold), and the files are renamed into place, map
// first: a server starting at the same moment never imports a half-written bundle.
const staging = join(root, ".build", `tmp-${process.pid}`);

let built = false;
try {
  await esbuild.build({
    entryPoints: [entry],
    outfile: join(staging, name),
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    // A linked map (.build/current/main.mjs.map) for debuggers and for
    // NODE_OPTIONS=--enable-source-maps; off by default, as it costs ~7 MB of memory.
    sourcemap: true,
    logLevel: "warning",
  });
  mkdirSync(outdir, { recursive: true });
  renameSync(join(staging, `${name}.map`), join(outdir, `${name}.map`));
  renameSync(join(staging, name), join(outdir, name));
  built = true;
} catch (error) {
  // esbuild has printed its own errors (logLevel); anything else is printed here.
  if (!(error instanceof Error && "errors" in error)) console.error(error);
} finally {
  rmSync(staging, { recursive: true, force: true });
  // esbuild's service process is not needed any more.
  await esbuild.stop();
}
if (!built) process.exit(1);

await import(pathToFileURL(join(outdir, name)).href);
