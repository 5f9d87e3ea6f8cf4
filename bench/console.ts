// The console at scale: `npx tsx bench/console.ts`. A team of 50 agents, 1,000 tasks and
// over 10,000 journal rows, made through the API on a fresh SQLite file; then Debian's
// Chromium opens the console (web/dist, as `npm install` built it) and this prints how
// long the first view takes, how long the whole board and each journal page take, and the
// longest the page's main thread was blocked (long tasks) while loading and while 300 live
// changes arrived. Prints figures; nothing asserts on them.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { createTasks, createTeam, ok, registerAgent, registerAgents, type TaskSpec } from "./lib/gql.js";
import { root } from "./lib/proc.js";
import { startAgentHq } from "./lib/server.js";

const TASKS = 1000;
const AGENTS = 50;
const JOURNAL = 10_000;
const CHROMIUM = "/usr/bin/chromium";
if (!existsSync(CHROMIUM)) throw new Error("no Chromium at /usr/bin/chromium (apt-get install -y chromium)");
if (!existsSync(join(root, "web", "dist", "index.html"))) throw new Error("web/dist is missing: run npm install");

const dir = mkdtempSync(join(tmpdir(), "agent-hq-console-bench-"));
const server = await startAgentHq("agent-hq", `file:${join(dir, "hq.db")}`);
const figures = {
  push(...rows: [string, number | string, string][]) {
    for (const [name, value, unit] of rows) console.log(`${name.padEnd(52)} ${String(value).padStart(8)} ${unit}`);
  },
};
const t0 = Date.now();
try {
  const lead = await registerAgent(server.url, "lead");
  const agents = await registerAgents(server.url, "agent", AGENTS - 1);
  const teamId = await createTeam(server.url, lead, "big", agents);
  const specs: TaskSpec[] = Array.from({ length: TASKS }, (_, i) => ({
    title: `Task ${i + 1}: ${["design", "build", "test", "review"][i % 4]} part ${i}`,
    priority: ["LOW", "MEDIUM", "HIGH", "URGENT"][i % 4],
    assignee: i % 3 === 0 ? agents[i % agents.length]!.name : undefined,
  }));
  const ids = await createTasks(server.url, lead.token, teamId, specs);
  // Dependencies: every fifth task waits on the one before it.
  for (let i = 5; i < TASKS; i += 5) await ok(server.url, `mutation($id: ID!, $b: ID!) { addTaskDependency(id: $id, blockedById: $b) { id } }`, { id: ids[i], b: ids[i - 1] }, lead.token);
  // Claims: 49 tasks held, by their assignee or else by one agent each.
  for (const [i, agent] of agents.entries()) {
    const k = i * 5 + 1;
    const claimer = agents.find((a) => a.name === specs[k]!.assignee) ?? agent;
    await ok(server.url, `mutation($id: ID!) { claimTask(id: $id, leaseSeconds: 3600) { token } }`, { id: ids[k] }, claimer.token);
  }
  // The rest of the journal: progress notes on unclaimed tasks, 15 a request.
  const rows = async () => Number((await (await fetch(`${server.base}/metrics`)).text()).match(/^agent_hq_journal_head (\d+)/m)?.[1] ?? 0);
  let made = TASKS + TASKS / 5 + AGENTS * 2;
  for (let round = 0; made < JOURNAL; round++) {
    // Tasks from #401 on are not claimed: the lead may write them.
    const fields = Array.from({ length: 15 }, (_, j) => `u${j}: updateTask(id: "${ids[400 + ((round * 15 + j) % 600)]}", input: { notes: "note ${round}" }) { task { id } }`).join("\n");
    await ok(server.url, `mutation {\n${fields}\n}`, {}, lead.token);
    made += 15;
  }
  figures.push(["seeding (through the API)", Math.round((Date.now() - t0) / 1000), "s"], ["journal cursor", (await rows()) || made, "rows (about)"]);

  const profile = mkdtempSync(join(tmpdir(), "agent-hq-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.addInitScript(() => {
      const w = window as unknown as { __longest: number };
      w.__longest = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.__longest = Math.max(w.__longest, e.duration);
      }).observe({ type: "longtask", buffered: true });
    });
    await page.goto(`${server.base}/`);
    await page.evaluate((token) => sessionStorage.setItem("agent-hq.token", token), lead.token);
    const longest = () => page.evaluate(() => Math.round((window as unknown as { __longest: number }).__longest));
    const resetLongest = () => page.evaluate(() => ((window as unknown as { __longest: number }).__longest = 0));

    // Where the first view's time goes: each GraphQL request, by operation, from the navigation.
    const requests: string[] = [];
    let start = Date.now();
    const onFinished = (r: import("playwright-core").Request) => {
      const name = /"operationName":"(\w+)"/.exec(r.postData() ?? "")?.[1] ?? new URL(r.url()).pathname;
      requests.push(`${name} ${Math.round(r.timing().responseEnd)} ms, done at ${Date.now() - start} ms`);
    };
    page.on("requestfinished", onFinished);
    await page.goto(`${server.base}/teams/${teamId}/board`);
    await page.locator(".card").first().waitFor({ timeout: 60_000 });
    figures.push(["board: first cards shown", Date.now() - start, "ms"]);
    page.off("requestfinished", onFinished);
    console.log(`  requests until then:\n    ${requests.join("\n    ")}`);
    await page.locator(`text=${TASKS} tasks`).first().waitFor({ timeout: 120_000 });
    await page.locator("text=(loading…)").waitFor({ state: "detached", timeout: 120_000 });
    figures.push(["board: all tasks loaded", Date.now() - start, "ms"], ["board load: longest main-thread block", await longest(), "ms"]);

    // Live changes while the board is open.
    await resetLongest();
    start = Date.now();
    // #4 (urgent, ready) is the first card of the Ready column.
    const last = ids[3]!;
    for (let i = 0; i < 20; i++) {
      const fields = Array.from({ length: 15 }, (_, j) => `u${j}: updateTask(id: "${ids[400 + ((i * 15 + j) % 600)]}", input: { progress: ${(i % 9) * 10 + 10} }) { task { id } }`).join("\n");
      await ok(server.url, `mutation {\n${fields}\n}`, {}, lead.token);
    }
    await ok(server.url, `mutation($id: ID!) { updateTask(id: $id, input: { title: "the last change" }) { task { id } } }`, { id: last }, lead.token);
    await page.locator(".card-title:has-text('the last change')").waitFor({ timeout: 60_000 });
    figures.push(["board: 301 live changes applied", Date.now() - start, "ms"], ["live changes: longest main-thread block", await longest(), "ms"]);

    await resetLongest();
    start = Date.now();
    await page.click("a:has-text('Journal')");
    await page.locator(".journal-row").first().waitFor();
    figures.push(["journal: first rows shown (from the board)", Date.now() - start, "ms"]);
    const pages: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = Date.now();
      await page.click("button:has-text('Load older events')");
      await page.locator("button:has-text('Load older events'):not([disabled]), span:has-text('This is the start')").first().waitFor({ timeout: 60_000 });
      pages.push(Date.now() - t);
    }
    pages.sort((a, b) => a - b);
    figures.push(["journal: one older page (100 rows), median of 20", pages[10]!, "ms"], ["journal paging: longest main-thread block", await longest(), "ms"]);
    figures.push(["journal rows held after paging", Number((await page.locator("[data-testid=journal-status]").textContent())?.match(/of (\d+)/)?.[1]), "rows"]);

    await resetLongest();
    start = Date.now();
    await page.reload();
    await page.locator(".journal-row").first().waitFor({ timeout: 60_000 });
    figures.push(["journal after a reload: first rows shown", Date.now() - start, "ms"]);
    start = Date.now();
    await page.click("a:has-text('Agents')");
    await page.locator("table.agents tbody tr").nth(AGENTS - 1).waitFor();
    figures.push(["agents: 50 members shown", Date.now() - start, "ms"]);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
