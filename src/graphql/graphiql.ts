// GraphiQL served from this server, so it works with no internet (Yoga's own page loads
// its script, styles and editor workers from unpkg.com).
//
// The assets come from @graphql-yoga/render-graphiql, which holds them as strings in one
// 9 MB module. Imported, they would be in every page (its renderer inlines them), in the
// start bundle (5 → 14 MB) and in every server's memory (+38 MB) even if nobody opened
// GraphiQL. So the page here is small and links them as separate files, and the module is
// never imported: it is found by path and read at the first request for an asset, then
// kept only compressed (gzip and brotli, ~4.5 MB together). Its version is in each asset's
// URL, so a browser keeps them for good and asks again only after an upgrade.
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { promisify } from "node:util";
import { Worker } from "node:worker_threads";
import { gunzip } from "node:zlib";
import type { GraphiQLOptions, Plugin } from "graphql-yoga";

// Not `require`: esbuild would try to bundle what it names.
const resolveFromHere = createRequire(import.meta.url);
const PACKAGE = "@graphql-yoga/render-graphiql";

/** The asset files: their name in the URL, the module's export holding them, their type. */
const ASSETS = {
  "yoga-graphiql.js": { from: "js", type: "text/javascript; charset=utf-8" },
  "graphiql.css": { from: "css", type: "text/css; charset=utf-8" },
  "editor.worker.js": { from: "editorWorkerService", type: "text/javascript; charset=utf-8" },
  "json.worker.js": { from: "jsonWorker", type: "text/javascript; charset=utf-8" },
  "graphql.worker.js": { from: "graphqlWorker", type: "text/javascript; charset=utf-8" },
  "favicon.ico": { from: "favicon", type: "image/x-icon" },
} as const;
type AssetName = keyof typeof ASSETS;

interface Compressed {
  gzip: Uint8Array;
  br: Uint8Array;
}

let version: string | undefined;
/** The package's version (from its package.json, 1 KB), which names the assets' URLs. */
function assetsVersion(): string {
  version ??= (JSON.parse(readFileSync(resolveFromHere.resolve(`${PACKAGE}/package.json`), "utf8")) as { version: string }).version;
  return version;
}

let loading: Promise<Map<AssetName, Compressed>> | undefined;
/** The assets, read and compressed once (about a second, in a thread of its own). */
function assets(): Promise<Map<AssetName, Compressed>> {
  loading ??= load().catch((error: unknown) => {
    loading = undefined;
    throw error;
  });
  return loading;
}

/**
 * Reads the package's CommonJS build (plain `exports.x = "…"` assignments) and compresses
 * each asset. In the server's own heap this left it 40–50 MB larger for good (the module's
 * 9 MB source and strings, brotli's buffers; measured); a thread's memory goes with it, so
 * the server keeps ~15 MB, the compressed files among them. Code as text: the start bundle
 * has no file to start a thread from.
 */
const LOADER = `
const { parentPort, workerData } = require("node:worker_threads");
const { readFileSync } = require("node:fs");
const { runInNewContext } = require("node:vm");
const { brotliCompressSync, constants, gzipSync } = require("node:zlib");
const strings = {};
runInNewContext(readFileSync(workerData.file, "utf8"), { exports: strings });
const assets = {};
for (const [name, from] of Object.entries(workerData.exports)) {
  const text = strings[from];
  if (typeof text !== "string") throw new Error(workerData.file + " has no export " + from);
  // The favicon is a data: URL.
  const bytes = text.startsWith("data:") ? Buffer.from(text.slice(text.indexOf(",") + 1), "base64") : Buffer.from(text);
  assets[name] = {
    gzip: gzipSync(bytes, { level: 9 }),
    // Quality 9: 10% larger than 11, and 0.7 s instead of 14 s for the script (measured).
    br: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 9, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } }),
  };
}
parentPort.postMessage(assets);
`;

async function load(): Promise<Map<AssetName, Compressed>> {
  const file = resolveFromHere.resolve(`${PACKAGE}/graphiql`);
  const exports = Object.fromEntries(Object.entries(ASSETS).map(([name, asset]) => [name, asset.from]));
  const worker = new Worker(LOADER, { eval: true, workerData: { file, exports } });
  const [assets] = (await once(worker, "message")) as [Record<AssetName, Compressed>];
  return new Map(Object.entries(assets) as [AssetName, Compressed][]);
}

/** Where the assets are served: under the GraphQL path, named by the package's version. */
const assetsBase = (graphqlPath: string) => `${graphqlPath.replace(/\/$/, "")}/graphiql/${assetsVersion()}`;

/** Yoga's `renderGraphiQL`: the page, which links the assets instead of holding them. */
export function graphiqlPage(graphqlPath: string): (options: GraphiQLOptions) => string {
  return (options) => {
    const base = assetsBase(graphqlPath);
    // In a <script>, "</script>" in a string would end it.
    const json = (value: unknown) => JSON.stringify(value).replace(/</g, "\\u003c");
    const title = (options.title ?? "GraphiQL").replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
    const workers = { editorWorkerService: `${base}/editor.worker.js`, json: `${base}/json.worker.js`, graphql: `${base}/graphql.worker.js` };
    return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<link rel="icon" href="${base}/favicon.ico">
<link rel="stylesheet" href="${base}/graphiql.css">
</head>
<body id="body" class="no-focus-outline">
<noscript>GraphiQL needs JavaScript.</noscript>
<div id="root">Loading ${title}…</div>
<script>
const workers = ${json(workers)};
self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (moduleId, label) => workers[label] };
</script>
<script src="${base}/yoga-graphiql.js"></script>
<script>YogaGraphiQL.renderYogaGraphiQL(document.querySelector("#root"), ${json(options)});</script>
</body>
</html>
`;
  };
}

/**
 * Serves the assets: compressed as the browser accepts (brotli, else gzip, else
 * decompressed for that answer), with an ETag and a year's Cache-Control (the URL changes
 * with the version). A revalidation is answered 304 without reading anything.
 */
export function useGraphiQLAssets(graphqlPath: string): Plugin {
  let prefix: string | undefined;
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (!url.pathname.startsWith(`${graphqlPath.replace(/\/$/, "")}/graphiql/`)) return;
      prefix ??= `${assetsBase(graphqlPath)}/`;
      const name = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : "";
      if (!Object.hasOwn(ASSETS, name) || (request.method !== "GET" && request.method !== "HEAD")) return;
      const asset = ASSETS[name as AssetName];
      // Weak: one validator for every encoding of the same content.
      const etag = `W/"${PACKAGE}@${assetsVersion()}/${name}"`;
      const headers: Record<string, string> = { "cache-control": "public, max-age=31536000, immutable", etag, vary: "Accept-Encoding" };
      if (request.headers.get("if-none-match")?.split(/\s*,\s*/).includes(etag)) {
        return endResponse(new fetchAPI.Response(null, { status: 304, headers }));
      }
      const accepted = acceptedEncodings(request.headers.get("accept-encoding"));
      return assets().then(async (all) => {
        const { gzip: gzipped, br } = all.get(name as AssetName)!;
        const [encoding, body] = accepted.has("br") ? ["br", br] : accepted.has("gzip") ? ["gzip", gzipped] : [null, await promisify(gunzip)(gzipped)];
        if (encoding) headers["content-encoding"] = encoding;
        headers["content-type"] = asset.type;
        headers["content-length"] = String(body.length);
        endResponse(new fetchAPI.Response(request.method === "HEAD" ? null : (body as Uint8Array<ArrayBuffer>), { status: 200, headers }));
      });
    },
  };
}

/** The codings an Accept-Encoding header allows (those it names without q=0). */
function acceptedEncodings(header: string | null): Set<string> {
  const accepted = new Set<string>();
  for (const part of (header ?? "").split(",")) {
    const [coding, ...params] = part.trim().toLowerCase().split(/\s*;\s*/);
    if (coding && !params.some((p) => /^q=0(\.0*)?$/.test(p))) accepted.add(coding);
  }
  return accepted;
}
