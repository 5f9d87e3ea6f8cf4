// The typed client (codegen.ts, examples/gql/, examples/typed-client.ts) cannot rot: GraphQL
// Code Generator runs on a copy of the project in a temp folder and must write exactly what
// is committed; TypeScript checks the example against that output, and checks that the types
// refuse what they must (so they are not `any`); the example runs against a real server.
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killGroup, newcomerEnv } from "../helpers/child-process.js";
import { startServer, type TestServer } from "../helpers/server.js";

const root = join(import.meta.dirname, "../..");
const generated = join(root, "examples/gql");

const children = new Set<ChildProcess>();
process.once("exit", () => children.forEach(killGroup));

/** Runs a program to its end (killed after 50 s); its exit code and output. */
function run(command: string, args: string[], cwd: string, settings: Record<string, string> = {}) {
  const child = spawn(command, args, { cwd, env: newcomerEnv(settings), detached: true, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let out = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  const timer = setTimeout(() => killGroup(child), 50_000);
  return new Promise<{ code: number | null; out: string }>((resolve) =>
    child.once("close", (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, out });
    }),
  );
}

// Misuses the types must refuse: each @ts-expect-error is itself an error if its line compiles.
const misuses = `
import type { TypedDocumentString } from "./gql/graphql.js";
import { BoardDocument, ClaimNextDocument, CreateTaskDocument, FinishDocument, RememberDocument } from "./gql/graphql.js";
declare function execute<R, V>(document: TypedDocumentString<R, V>, variables: V): Promise<R>;

// @ts-expect-error: DONE is not a TaskStatus
void execute(FinishDocument, { id: "t", input: { status: "DONE" } });
// @ts-expect-error: teamId is required
void execute(BoardDocument, {});
const board = await execute(BoardDocument, { teamId: "t" });
const node = board.team!.tasks.edges[0]!.node;
// @ts-expect-error: the query does not select description
void node.description;
const createdAt: string = node.createdAt;
// @ts-expect-error: a DateTime arrives as a string
const asDate: Date = node.createdAt;
const claim = await execute(ClaimNextDocument, { teamId: "t" });
// @ts-expect-error: claimNextTask is null when nothing is ready
void claim.claimNextTask.token;
// @ts-expect-error: a JSONObject's values are unknown until checked
const area: string = claim.claimNextTask!.task.metadata.area;
// @ts-expect-error: a JSONObject is an object
void execute(CreateTaskDocument, { teamId: "t", input: { title: "x", metadata: "not an object" } });
const remembered = await execute(RememberDocument, { taskId: "t", value: [1, "two"] });
// @ts-expect-error: a JSON value is unknown until checked
const value: object = remembered.setContext.value;
export { createdAt, asDate, area, value };
`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "agent-hq-codegen-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the typed client", () => {
  it("codegen.ts writes what is committed in examples/gql/, and the example typechecks against it", async () => {
    for (const file of ["package.json", "codegen.ts", "schema.graphql", "tsconfig.json", "examples/typed-client.ts", "examples/hq-client.ts"]) {
      mkdirSync(join(dir, file, ".."), { recursive: true });
      cpSync(join(root, file), join(dir, file));
    }
    symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));

    const codegen = await run(process.execPath, [join(root, "node_modules/@graphql-codegen/cli/cjs/bin.js"), "--config", "codegen.ts"], dir);
    expect(codegen.code, codegen.out).toBe(0);
    const fresh = join(dir, "examples/gql");
    expect(readdirSync(fresh).sort(), "run npm run codegen").toEqual(readdirSync(generated).sort());
    for (const file of readdirSync(fresh)) {
      expect(readFileSync(join(fresh, file), "utf8"), `examples/gql/${file} differs from what codegen.ts writes: run npm run codegen`).toBe(readFileSync(join(generated, file), "utf8"));
    }

    writeFileSync(join(dir, "examples/misuses.ts"), misuses);
    writeFileSync(join(dir, "tsconfig.check.json"), JSON.stringify({ extends: "./tsconfig.json", include: [], files: ["examples/typed-client.ts", "examples/misuses.ts"] }));
    const tsc = await run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.check.json"], dir);
    expect(tsc.out).toBe("");
    expect(tsc.code).toBe(0);
  });
});

describe("the typed example", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server?.close());

  it("runs against a server: registers, claims the urgent task first, remembers JSON, completes it", async () => {
    const { code, out } = await run(process.execPath, ["--import", "tsx", "examples/typed-client.ts"], root, { HQ_URL: server.url });
    expect(code, out).toBe(0);
    const lines = out.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^registered typed-[0-9a-f]{6}$/);
    expect(lines.slice(1)).toEqual([
      "created #1 Write the parser (high)",
      "created #2 Document the format (low)",
      expect.stringMatching(/^claimed #1 Write the parser \(area parser\) until \d{4}-\d\d-\d\dT[\d:.]+Z$/),
      "remembered result (version 1)",
      expect.stringMatching(/^ {2}#1 \[completed\] Write the parser \(typed-[0-9a-f]{6}\)$/),
      "  #2 [pending] Document the format",
      "done.",
    ]);
  });
});
