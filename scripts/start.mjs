// `npm start`: bundles the TypeScript sources with esbuild into .build/ (git-ignored), then
// runs the bundle in this same process, so SIGTERM and SIGINT reach the server itself.
//
// Why: run-time transpiling (tsx) sent each of ~1,280 modules through its loader, about
// 2 s of CPU and 50 MB at every start (measured). Bundling src takes ~0.1–0.2 s, so it
// happens at every start whose sources changed: there is no build step to forget and no
// stale code to run. When nothing that went into the last bundle changed (every input
// esbuild reported, this script, package.json, tsconfig.json, esbuild itself: same size
// and mtime), that bundle is run as it is and esbuild is not even loaded (about 0.1 s of
// a 1.2 s start, measured).
// The packages are bundled too: Node's loader resolving, reading and linking ~1,300
// package files was a third of a start (1.0 → 0.65 s to the first answer, measured).
// esbuild resolves each import as Node would (the "import" or "require" form of a package
// alike), so no package is loaded twice. A package's `import()` stays lazy: its code is in
// the bundle but runs only when called. EXTERNAL lists what stays with Node.
//
// `node scripts/start.mjs <entry.ts>` runs another entry point the same way (the bench
// starts its bare-Yoga baseline so); the default is src/main.ts.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// `--prepare` builds the server's bundle and stops (npm install runs it, so the first
// `npm start` does not pay the ~1 s build).
const prepareOnly = process.argv[2] === "--prepare";
const entry = join(root, prepareOnly ? "src/main.ts" : (process.argv[2] ?? "src/main.ts"));
const name = `${basename(entry).replace(/\.[cm]?ts$/, "")}.mjs`;
const outdir = join(root, ".build", "current");
const bundle = join(outdir, name);
// What the bundle in `outdir` was built from: the files and their size and mtime.
const inputsFile = join(outdir, `${name}.inputs.json`);
// esbuild writes into a folder of this process's own, at the same depth as `outdir` (so
// the source map's relative paths hold), and the files are renamed into place, map
// first: a server starting at the same moment never imports a half-written bundle.
const staging = join(root, ".build", `tmp-${process.pid}`);
// Left to Node: better-sqlite3 finds its native addon from its own folder; pg-native,
// bufferutil and utf-8-validate are optional native addons (required in a try, not
// installed); Prisma's schema engine is only loaded by path for migration:new.
const EXTERNAL = ["better-sqlite3", "pg-native", "bufferutil", "utf-8-validate", "@prisma/schema-engine-wasm"];

/** Files whose change means a rebuild, besides the inputs esbuild reports. */
const alwaysChecked = [fileURLToPath(import.meta.url), join(root, "package.json"), join(root, "tsconfig.json"), join(root, "node_modules", "esbuild", "package.json")];

function stamp(files) {
  return files.map((file) => {
    try {
      const { size, mtimeMs } = statSync(file);
      return `${size}:${mtimeMs}`;
    } catch {
      return "missing";
    }
  });
}

/** Whether the bundle in `outdir` is the one this build would write. */
function upToDate() {
  try {
    const { files, stamps } = JSON.parse(readFileSync(inputsFile, "utf8"));
    // Paths are kept relative to the project: a copied or moved folder checks its own files.
    return Array.isArray(files) && files.length > 0 && JSON.stringify(stamp(files.map((f) => resolve(root, f)))) === JSON.stringify(stamps);
  } catch {
    return false;
  }
}

/** Files besides esbuild's inputs that the bundle depends on (the plugin's). */
const extraInputs = [];
/** Inputs this build wrote itself (the decoded wasm): new, but not changed under it. */
const writtenByThisBuild = new Set();

/**
 * Prisma's generated clients load the query compiler's wasm from a module holding it as a
 * base64 string (4.4 MB). Imported, that module kept two copies of the string alive for the
 * process's life (its source and the literal: 8.4 MB of heap, measured) and cost a parse
 * and a decode at every start. This plugin decodes the wasm once into .build/wasm/ and
 * makes the bundled client compile it from that file instead; the same bytes, the same
 * WebAssembly.Module. If the generated code ever looks different, it is left as it is.
 */
const prismaWasmFromFile = {
  name: "prisma-wasm-from-file",
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]generated[\\/][^\\/]+[\\/]internal[\\/]class\.ts$/ }, (args) => {
      const source = readFileSync(args.path, "utf8");
      const load = /const \{ wasm \} = await import\("([^"]+\.wasm-base64\.mjs)"\)\s*return await decodeBase64AsWasm\(wasm\)/;
      const match = load.exec(source);
      const wasmFile = match && decodedWasm(match[1]);
      if (!wasmFile) return { contents: source, loader: "ts" };
      // Found from the bundle's own place (.build/current → .build/wasm): a copied or moved
      // folder reads its own file.
      const fromBundle = JSON.stringify(`../wasm/${basename(wasmFile)}`);
      const contents = source.replace(load, () => `return new WebAssembly.Module((await import("node:fs")).readFileSync(new URL(${fromBundle}, import.meta.url)))`);
      return { contents, loader: "ts" };
    });
  },
};

/** The wasm inside `specifier` (a base64 module), decoded into .build/wasm/ once; null if that fails. */
function decodedWasm(specifier) {
  try {
    const from = fileURLToPath(import.meta.resolve(specifier));
    const { size, mtimeMs } = statSync(from);
    const file = join(root, ".build", "wasm", `${basename(from, ".wasm-base64.mjs")}-${size}-${Math.round(mtimeMs)}.wasm`);
    extraInputs.push(from, file);
    if (existsSync(file)) return file;
    const text = readFileSync(from, "latin1");
    const bytes = Buffer.from(text.slice(text.indexOf('"') + 1, text.lastIndexOf('"')), "base64");
    if (bytes.readUInt32BE(0) !== 0x0061736d) return null; // "\0asm"
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(`${file}.${process.pid}`, bytes);
    renameSync(`${file}.${process.pid}`, file);
    writtenByThisBuild.add(file);
    // Copies decoded from an earlier Prisma version are not used any more.
    const stem = `${basename(from, ".wasm-base64.mjs")}-`;
    for (const old of readdirSync(dirname(file))) {
      if (old.startsWith(stem) && old.endsWith(".wasm") && join(dirname(file), old) !== file) rmSync(join(dirname(file), old), { force: true });
    }
    return file;
  } catch {
    return null;
  }
}

if (!upToDate()) {
  const esbuild = await import("esbuild");
  const startedAt = Date.now();
  let built = false;
  try {
    const result = await esbuild.build({
      entryPoints: [entry],
      outfile: join(staging, name),
      bundle: true,
      external: EXTERNAL,
      // Bundled CommonJS packages require Node's built-ins and EXTERNAL at run time.
      banner: { js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);' },
      platform: "node",
      format: "esm",
      // A package's ES module build before its CommonJS one (esbuild's default for node is
      // the reverse): graphql's CommonJS build reached through esbuild's interop getters cost
      // 2–7 % of a request's CPU (bench `work` and `throughput`, profiled).
      mainFields: ["module", "main"],
      // The same for deep imports (graphql-armor imports graphql/language/parser): its .mjs
      // file, or the bundle would hold a second copy of graphql's parser and GraphQLError.
      resolveExtensions: [".mjs", ".tsx", ".ts", ".jsx", ".js", ".css", ".json"],
      target: "node20",
      // A linked map (.build/current/main.mjs.map) for debuggers and for
      // NODE_OPTIONS=--enable-source-maps; off by default, as it costs ~6 MB of memory.
      // It names the files (all still on disk) without holding their text: with it, the
      // packages' sources made --enable-source-maps cost 39 MB (measured).
      sourcemap: true,
      sourcesContent: false,
      metafile: true,
      logLevel: "warning",
      plugins: [prismaWasmFromFile],
    });
    const [ourBundle] = stamp([join(staging, name)]);
    mkdirSync(outdir, { recursive: true });
    renameSync(join(staging, `${name}.map`), join(outdir, `${name}.map`));
    renameSync(join(staging, name), bundle);
    built = true;
    // Recorded after the bundle is in place, so the record never describes a bundle
    // that is not there yet. It names this build's bundle (a rename keeps size and
    // mtime), so another build replacing it makes the record stale; and it is not
    // written if an input changed while esbuild ran (the next start builds again).
    const inputs = [...new Set([...Object.keys(result.metafile.inputs).map((p) => resolve(p)), ...extraInputs, ...alwaysChecked])];
    const stamps = stamp(inputs);
    if (stamps.every((s, i) => s === "missing" || writtenByThisBuild.has(inputs[i]) || Number(s.split(":")[1]) < startedAt)) {
      writeFileSync(`${inputsFile}.${process.pid}`, JSON.stringify({ files: [...inputs, bundle].map((f) => relative(root, f)), stamps: [...stamps, ourBundle] }));
      renameSync(`${inputsFile}.${process.pid}`, inputsFile);
    }
  } catch (error) {
    // esbuild has printed its own errors (logLevel); anything else is printed here.
    if (!(error instanceof Error && "errors" in error)) console.error(error);
  } finally {
    rmSync(staging, { recursive: true, force: true });
    // esbuild's service process is not needed any more.
    await esbuild.stop();
  }
  if (!built) process.exit(1);
}

// graphql-js, graphql-ws and Prisma skip development-only checks in production mode
// (graphql-js' realm check on every type test: about a tenth of a board page's CPU,
// measured). `npm start` is the server: production unless NODE_ENV says otherwise.
process.env.NODE_ENV ??= "production";
if (!prepareOnly) await import(pathToFileURL(bundle).href);
