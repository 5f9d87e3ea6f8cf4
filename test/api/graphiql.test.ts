// GraphiQL works with no internet: a real browser (headless Chromium) opens /graphql on the
// real server (`npm start`'s bundle), GraphiQL renders with the example operations, and
// every request it makes goes to the server itself. Its assets are separate, cached,
// compressed files, and not part of the start bundle.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killAllInstances, startInstance, type Instance } from "../helpers/instances.js";
import { freshDatabase } from "../helpers/server.js";

const CHROMIUM = "/usr/bin/chromium";
const root = join(import.meta.dirname, "../..");
const noBrowser = existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM}: the GraphiQL browser test is skipped`;
if (noBrowser) console.warn(noBrowser);

let instance: Instance;
let cleanup = () => {};
beforeAll(async () => {
  const database = await freshDatabase();
  cleanup = database.cleanup;
  instance = await startInstance("graphiql", { DATABASE_URL: database.url });
}, 180_000);
afterAll(async () => {
  await killAllInstances();
  cleanup();
});

describe("GraphiQL's assets", () => {
  it("are linked from a small page, served compressed with an ETag and a long Cache-Control, and kept out of the start bundle", async () => {
    const page = await fetch(instance.url, { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    const html = await page.text();
    // Yoga's own page pointed at unpkg.com; the renderer's inlines 9 MB.
    expect(html).not.toMatch(/unpkg|https?:\/\//);
    expect(html.length).toBeLessThan(20_000);
    const links = [...html.matchAll(/"(\/graphql\/graphiql\/[^"]+)"/g)].map((m) => m[1]!);
    expect(links.map((l) => l.replace(/.*\//, "")).sort()).toEqual(["editor.worker.js", "favicon.ico", "graphiql.css", "graphql.worker.js", "json.worker.js", "yoga-graphiql.js"]);

    const script = links.find((l) => l.endsWith("/yoga-graphiql.js"))!;
    const br = await fetch(`${instance.base}${script}`, { headers: { "accept-encoding": "br" } });
    expect(br.status).toBe(200);
    expect(br.headers.get("content-encoding")).toBe("br");
    expect(br.headers.get("cache-control")).toMatch(/max-age=31536000/);
    expect(br.headers.get("content-type")).toMatch(/^text\/javascript/);
    const etag = br.headers.get("etag")!;
    expect(etag).toBeTruthy();
    // fetch decodes: the text is GraphiQL's script.
    expect(await br.text()).toContain("renderYogaGraphiQL");
    const gzip = await fetch(`${instance.base}${script}`, { headers: { "accept-encoding": "gzip" } });
    expect(gzip.headers.get("content-encoding")).toBe("gzip");
    expect(Number(gzip.headers.get("content-length"))).toBeLessThan(2_000_000);
    await gzip.arrayBuffer();
    // A client that takes no compression gets the file as it is.
    const plain = await fetch(`${instance.base}${script}`, { headers: { "accept-encoding": "identity" } });
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect((await plain.arrayBuffer()).byteLength).toBe(Number(plain.headers.get("content-length")));
    const again = await fetch(`${instance.base}${script}`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(await fetch(`${instance.base}/graphql/graphiql/nothing.js`).then((r) => r.status)).toBe(404);

    // Loaded by path at run time: nothing of the package went into the start bundle.
    const { files } = JSON.parse(readFileSync(join(root, ".build/current/main.mjs.inputs.json"), "utf8")) as { files: string[] };
    expect(files.some((f) => f.includes("render-graphiql"))).toBe(false);
    expect(files.some((f) => f.includes("src/graphql/graphiql.ts"))).toBe(true);
  });
});

describe.skipIf(noBrowser !== null)("GraphiQL in a browser", () => {
  let context: BrowserContext;
  let profile: string;
  beforeAll(async () => {
    profile = mkdtempSync(join(tmpdir(), "agent-hq-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }, 120_000);
  afterAll(async () => {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
  });

  it("renders GraphiQL with the example operations, and no request leaves 127.0.0.1", async () => {
    const requested = new Set<string>();
    const elsewhere = new Set<string>();
    // Every request of the page and its workers: those for the server go on, any other is
    // recorded and refused (as it would fail with no internet).
    await context.route("**/*", (route) => {
      const url = route.request().url();
      requested.add(url);
      if (new URL(url).hostname === "127.0.0.1") return route.continue();
      elsewhere.add(url);
      return route.abort();
    });
    // And any the routes would not see.
    context.on("request", (request) => {
      const url = request.url();
      if (/^(blob|data):/.test(url)) return;
      requested.add(url);
      if (new URL(url).hostname !== "127.0.0.1") elsewhere.add(url);
    });
    const errors: string[] = [];
    const page = await context.newPage();
    // A script that fails to load or run ends the wait at once.
    const failed = new Promise<never>((_, reject) => page.on("pageerror", (error) => (errors.push(String(error)), reject(error))));
    await page.goto(instance.url, { waitUntil: "load", timeout: 120_000 });
    // The editor shows the example tab (Monaco renders spaces as no-break spaces).
    const rendered = page.waitForFunction(
      () => [...document.querySelectorAll(".monaco-editor .view-lines")].some((e) => (e.textContent ?? "").replace(/\s/g, " ").includes("Welcome to agent-hq")),
      undefined,
      { timeout: 120_000 },
    );
    await Promise.race([rendered, failed]);
    // GraphiQL asked the server for the schema (introspection), from the page's origin.
    await expect.poll(() => requested.has(instance.url), { timeout: 60_000 }).toBe(true);
    expect([...requested].some((u) => u.endsWith("/yoga-graphiql.js"))).toBe(true);
    expect([...requested].some((u) => u.endsWith("/graphiql.css"))).toBe(true);
    expect([...elsewhere]).toEqual([]);
    expect(errors).toEqual([]);
  }, 240_000);
});
