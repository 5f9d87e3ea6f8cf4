// The console in a real browser: Debian's Chromium driven by playwright-core, against the
// real server on a fresh database. Where no Chromium is installed it says so and skips.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page, type WebSocketRoute } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../../src/infra/project-root.js";
import { createTeam, registerAgent, type TestAgent } from "../helpers/client.js";
import { startServer, type TestServer } from "../helpers/server.js";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
if (!CHROMIUM) console.log("[console] SKIPPED: no Chromium at /usr/bin/chromium (apt-get install -y chromium)");

const web = join(projectRoot, "web");
const XSS = "<img src=x onerror=window.__pwned=1>";
const KEY = "console-test-registration-key";
// Events are expected within a second on an idle machine; this is only the safety net.
const LIVE_MS = 15_000;

/** Builds web/dist when it is missing or older than the console's sources. */
function ensureBuilt(): void {
  const built = join(web, "dist", "index.html");
  const newest = (dir: string): number =>
    Math.max(...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
  const stale = !existsSync(built) || Math.max(newest(join(web, "src")), statSync(join(web, "index.html")).mtimeMs) > statSync(built).mtimeMs;
  if (!stale) return;
  if (!existsSync(join(web, "node_modules"))) throw new Error("web/dist is missing and web/ has no node_modules: run `npm install` at the root (it installs and builds the console)");
  // Vitest sets NODE_ENV=test, which would make Vite bundle React's development build.
  execFileSync("npm", ["--prefix", web, "run", "build"], { stdio: "pipe", env: { ...process.env, NODE_ENV: "production" } });
}

describe("the console's operations", () => {
  it.skipIf(!existsSync(join(web, "node_modules")))("match schema.graphql: the typed schema is up to date, every operation is valid and the console type-checks", () => {
    const dir = mkdtempSync(join(tmpdir(), "agent-hq-web-"));
    try {
      const typed = join(dir, "graphql-env.d.ts");
      execFileSync("npx", ["gql.tada", "generate", "output", "-o", typed], { cwd: web, stdio: "pipe" });
      expect(readFileSync(typed, "utf8"), "web/src/graphql-env.d.ts is stale: run `npm --prefix web run schema`").toBe(readFileSync(join(web, "src", "graphql-env.d.ts"), "utf8"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    execFileSync("npm", ["--prefix", web, "run", "check"], { stdio: "pipe" });
  });
});

describe.skipIf(!CHROMIUM)("the console in a real browser", () => {
  let server: TestServer;
  let origin: string;
  let lead: TestAgent;
  let worker: TestAgent;
  let teamId: string;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  // While set, the console's WebSocket connections are refused: its connection is "down".
  let refuseSockets = false;
  const openSockets = new Set<WebSocketRoute>();
  const ids: Record<number, string> = {};
  const consoleErrors: string[] = [];
  const offMachine: string[] = [];
  const requested: string[] = [];

  async function createTask(input: Record<string, unknown>): Promise<{ id: string; number: number }> {
    const data = await lead.ok(`mutation($t: ID!, $i: CreateTaskInput!) { createTask(teamId: $t, input: $i) { id number } }`, { t: teamId, i: input });
    ids[data.createTask.number] = data.createTask.id;
    return data.createTask;
  }
  const card = (n: number) => page.locator(`.card[data-task="${n}"]`);
  const column = (id: string) => page.locator(`[data-column="${id}"]`);
  const shownCursors = () => page.locator(".journal-row .event").evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.cursor)));

  beforeAll(async () => {
    ensureBuilt();
    // The lead is a person: registered as HUMAN, which needs the server's registration key.
    server = await startServer({ AGENT_HQ_REGISTRATION_KEY: KEY });
    origin = new URL(server.url).origin;
    lead = await registerAgent(server, "lead", { kind: "HUMAN", registrationKey: KEY });
    worker = await registerAgent(server, "worker-1", { registrationKey: KEY });
    const reviewer = await registerAgent(server, "reviewer", { registrationKey: KEY });
    teamId = await createTeam(lead, "Apollo", [
      [worker, "implementer"],
      [reviewer, "reviewer"],
    ]);
    await createTask({ title: "Design the schema", priority: "HIGH" });
    await createTask({ title: "Write the migrations", blockedBy: [ids[1]] });
    await createTask({ title: "Load test the board", priority: "LOW", blockedBy: [ids[2]], track: "perf" });
    await createTask({ title: "Review the API docs", assignee: "reviewer" });

    profile = mkdtempSync(join(tmpdir(), "agent-hq-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1440, height: 820 },
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    // Nothing may leave this machine: every request is checked, and refused unless it is to the server.
    await context.route("**/*", (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === "127.0.0.1") return route.continue();
      offMachine.push(url.href);
      return route.abort();
    });
    // The console's WebSockets go through the test, which can drop them.
    await context.routeWebSocket(/\/graphql$/, (ws) => {
      if (refuseSockets) return void ws.close({ code: 1013, reason: "down for the test" });
      openSockets.add(ws);
      ws.connectToServer();
      ws.onClose(() => openSockets.delete(ws));
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    page.on("request", (r) => requested.push(r.url()));
    page.on("websocket", (ws) => requested.push(ws.url()));
  });

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await server?.close();
  });

  it("serves the console at / with a Content-Security-Policy that forbids inline script and other origins", async () => {
    const response = await fetch(`${origin}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain("unsafe-inline");
    const html = await response.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${origin}${script}`);
    expect(asset.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(asset.headers.get("cache-control")).toContain("immutable");
    const again = await fetch(`${origin}${script}`, { headers: { "if-none-match": asset.headers.get("etag")! } });
    expect(again.status).toBe(304);
    // A page path the console routes gets index.html; an API path is left to the API.
    expect((await fetch(`${origin}/teams/x/board`, { headers: { accept: "text/html" } })).status).toBe(200);
    expect((await fetch(`${origin}/nothing-here`)).status).toBe(404);
  });

  it("signs in with a pasted token, kept out of the URL, and shows the board of tasks made through the API", async () => {
    await page.goto(`${origin}/`);
    await page.fill("input[name=token]", lead.token);
    await page.click("button[type=submit]:has-text('Sign in')");
    await page.click("a:has-text('Apollo')");
    await card(1).waitFor();
    expect(page.url()).not.toContain(lead.token);
    expect(await page.evaluate(() => sessionStorage.getItem("agent-hq.token"))).toBe(lead.token);
    expect(await column("ready").locator(".card").evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.task))).toEqual(["1", "4"]);
    await expect.poll(() => column("blocked").locator(".card").count()).toBe(2);
    expect(await card(2).locator(".card-why").textContent()).toContain("blocked by #1");
    expect(await card(4).textContent()).toContain("reviewer");
  });

  it("shows another agent's claim and completion without a reload", async () => {
    const claim = await worker.ok(`mutation($id: ID!) { claimTask(id: $id, leaseSeconds: 600) { token } }`, { id: ids[1] });
    await column("progress").locator('.card[data-task="1"]').waitFor({ timeout: LIVE_MS });
    expect(await card(1).textContent()).toMatch(/held by worker-1.*left/);
    await worker.ok(`mutation($id: ID!, $i: UpdateTaskInput!) { updateTask(id: $id, input: $i) { task { id } } }`, { id: ids[1], i: { progress: 60, claimToken: claim.claimTask.token } });
    await page.locator('.card[data-task="1"] .progress-num:has-text("60%")').waitFor({ timeout: LIVE_MS });
    await worker.ok(`mutation($id: ID!, $i: UpdateTaskInput!) { updateTask(id: $id, input: $i) { task { id } } }`, { id: ids[1], i: { status: "COMPLETED", claimToken: claim.claimTask.token } });
    await column("completed").locator('.card[data-task="1"]').waitFor({ timeout: LIVE_MS });
    // #2 was blocked by #1 only: it is ready now.
    await column("ready").locator('.card[data-task="2"]').waitFor({ timeout: LIVE_MS });
  });

  it("shows an agent's title holding HTML as text, and never runs it", async () => {
    await createTask({ title: XSS, description: `<script>window.__pwned=2</script>` });
    const title = page.locator('.card[data-task="5"] .card-title');
    await title.waitFor({ timeout: LIVE_MS });
    expect(await title.textContent()).toBe(XSS);
    await page.click('.card[data-task="5"]');
    await page.locator(".task-title").waitFor();
    expect(await page.locator(".task-title").textContent()).toBe(XSS);
    expect(await page.locator("img").count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(requested.some((u) => new URL(u).pathname === "/x")).toBe(false);
  });

  it("creates a task, adds a dependency, and shows the server's refusal of a cycle", async () => {
    await page.click("a:has-text('Board')");
    await page.click("button:has-text('New task')");
    await page.fill("form[aria-label='New task'] input[name=title]", "Ship the console");
    await page.fill("form[aria-label='New task'] input[placeholder='#2, #5']", "#2");
    await page.click("button:has-text('Create task')");
    await column("blocked").locator('.card[data-task="6"]').waitFor({ timeout: LIVE_MS });
    const made = await lead.ok(`query($t: ID!) { team(id: $t) { task(number: 6) { title blockedBy { blocker { number } } } } }`, { t: teamId });
    expect(made.team.task).toEqual({ title: "Ship the console", blockedBy: [{ blocker: { number: 2 } }] });
    // #2 blocked by #6 would close the cycle #6 → #2 → #6.
    await card(2).click();
    await page.fill("input[aria-label='Blocker task number']", "#6");
    await page.click("button:has-text('Add')");
    await expect.poll(() => page.locator("[role=alert]").textContent(), { timeout: LIVE_MS }).toContain("would close a cycle");
  });

  it("posts a broadcast that reaches the agents' inboxes, marked as from a human", async () => {
    const { awaitEvents } = await worker.ok(`{ awaitEvents(timeoutSeconds: 0) { cursor } }`);
    const live = worker.subscribe("sse", `subscription($a: Int) { inboxEvents(after: $a) { kind actor { name kind } payload } }`, { a: awaitEvents.cursor });
    await page.click("a:has-text('Messages')");
    await page.fill("form[aria-label='Post a message'] textarea[name=body]", "Standup in five minutes");
    await page.click("form[aria-label='Post a message'] button:has-text('Send')");
    await expect
      .poll(async () => (await worker.ok(`{ inbox(first: 5) { edges { node { message { body kind sender { name } } } } } }`)).inbox.edges.map((e: any) => e.node.message), { timeout: LIVE_MS })
      .toContainEqual({ body: "Standup in five minutes", kind: "BROADCAST", sender: { name: "lead" } });
    const event = (await live.next(LIVE_MS)).data.inboxEvents;
    await live.close();
    expect(event).toMatchObject({ kind: "message.received", actor: { name: "lead", kind: "HUMAN" }, payload: { body: "Standup in five minutes" } });
  });

  it("resumes the journal after a reload from the last cursor shown: no gap, no duplicate", async () => {
    await page.click("a:has-text('Journal')");
    await page.locator(".journal-row").first().waitFor();
    const before = await shownCursors();
    const last = Math.max(...before);
    await expect.poll(() => page.evaluate((t) => sessionStorage.getItem(`agent-hq.cursor.${t}`), teamId)).toBe(String(last));
    // The page goes away; meanwhile the team goes on.
    const journalUrl = page.url();
    await page.goto("about:blank");
    await createTask({ title: "Made while the console was away" });
    await worker.ok(`mutation($t: ID!, $m: MessageInput!) { broadcast(teamId: $t, message: $m) { id } }`, { t: teamId, m: { body: "done with #2 soon" } });
    await page.goto(journalUrl);
    const expected = (await lead.ok(`query($t: ID!) { team(id: $t) { journal(first: 100) { edges { node { cursor } } } } }`, { t: teamId })).team.journal.edges.map((e: any) => e.node.cursor as number);
    const newest = Math.max(...expected);
    await page.locator(`.journal-row .event[data-cursor="${newest}"]`).waitFor({ timeout: LIVE_MS });
    const after = await shownCursors();
    expect(new Set(after).size).toBe(after.length);
    const shownFrom = Math.min(...after);
    expect([...after].sort((a, b) => a - b)).toEqual(expected.filter((c: number) => c >= shownFrom));
    expect(shownFrom).toBeLessThanOrEqual(last);
    // A plain reload shows the same rows again, nothing twice.
    await page.reload();
    await page.locator(`.journal-row .event[data-cursor="${newest}"]`).waitFor({ timeout: LIVE_MS });
    const reloaded = await shownCursors();
    expect(new Set(reloaded).size).toBe(reloaded.length);
    expect(Math.max(...reloaded)).toBe(newest);
  });

  it("shows when the connection dropped, then resumes from the last cursor shown: no gap, no duplicate", async () => {
    const journalCursors = async () => (await lead.ok(`query($t: ID!) { team(id: $t) { journal(first: 100) { edges { node { cursor } } } } }`, { t: teamId })).team.journal.edges.map((e: any) => e.node.cursor as number);
    const shownFrom = Math.min(...(await shownCursors()));
    refuseSockets = true;
    for (const ws of openSockets) await ws.close({ code: 1001, reason: "dropped by the test" });
    await page.locator(".link-reconnecting").waitFor({ timeout: LIVE_MS });
    // What happens while the console is cut off.
    await createTask({ title: "Made while the connection was down" });
    await worker.ok(`mutation($t: ID!, $m: MessageInput!) { broadcast(teamId: $t, message: $m) { id } }`, { t: teamId, m: { body: "anyone there?" } });
    expect(await page.locator(".link-reconnecting").count()).toBe(1);
    refuseSockets = false;
    const expected = await journalCursors();
    await page.locator(`.journal-row .event[data-cursor="${Math.max(...expected)}"]`).waitFor({ timeout: LIVE_MS });
    await page.locator(".link-live").waitFor();
    const shown = await shownCursors();
    expect(new Set(shown).size).toBe(shown.length);
    expect([...shown].sort((a, b) => a - b)).toEqual(expected.filter((c: number) => c >= shownFrom));
  });

  it("shows a claimed task in progress on the board: the README's screenshot", async () => {
    await worker.ok(`mutation($id: ID!) { claimTask(id: $id, leaseSeconds: 900) { token } }`, { id: ids[2] });
    await page.click("a:has-text('Board')");
    await column("progress").locator('.card[data-task="2"]').waitFor({ timeout: LIVE_MS });
    const png = await page.screenshot();
    // A PNG of the whole viewport.
    expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([page.viewportSize()!.width, page.viewportSize()!.height]);
    // Every run's ids and times differ: the README's copy is written only when asked.
    if (process.env.UPDATE_SCREENSHOT) writeFileSync(join(projectRoot, "docs", "console-board.png"), png);
  });

  it("sent no request off this machine and logged no error in the browser console", () => {
    expect(offMachine).toEqual([]);
    expect(requested.every((u) => new URL(u).hostname === "127.0.0.1")).toBe(true);
    expect(consoleErrors).toEqual([]);
  });
});
