import { describe, expect, it } from "vitest";
import { boardText } from "../../src/modules/tasks/board-text.js";
import { findPath } from "../../src/modules/tasks/dependency-graph.js";
import { liveHolder } from "../../src/modules/tasks/lease.js";
import { readinessOf } from "../../src/modules/tasks/readiness.js";
import { isVerificationTask, verificationNudge } from "../../src/modules/tasks/task-rules.js";

describe("findPath", () => {
  it("finds the shortest chain of links, or none", () => {
    const edges = [["a", "b"], ["b", "c"], ["c", "d"], ["a", "d"], ["x", "y"]] as const;
    expect(findPath(edges, "a", "d")).toEqual(["a", "d"]);
    expect(findPath(edges, "b", "d")).toEqual(["b", "c", "d"]);
    expect(findPath(edges, "d", "a")).toBeNull();
    expect(findPath(edges, "a", "y")).toBeNull();
    expect(findPath(edges, "a", "a")).toEqual(["a"]);
  });

  it("walks a long chain without recursion", () => {
    const edges = Array.from({ length: 100_000 }, (_, i) => [`n${i}`, `n${i + 1}`] as const);
    expect(findPath(edges, "n0", "n100000")).toHaveLength(100_001);
  });
});

describe("readiness", () => {
  const now = new Date("2026-01-01T00:00:00Z");
  const later = new Date("2026-01-01T00:05:00Z");
  const earlier = new Date("2025-12-31T23:55:00Z");
  const unclaimed = { holderId: null, leaseExpiresAt: null };
  const blocker = (number: number, status: string, kind = "explicit") => ({ id: `t${number}`, number, title: `task ${number}`, status, kind });

  it("is ready when pending with every blocker completed or cancelled", () => {
    const r = readinessOf({ ...unclaimed, status: "pending" }, [blocker(1, "completed"), blocker(2, "cancelled")], null, now);
    expect(r).toMatchObject({ ready: true, state: "READY", reason: "ready", openBlockers: [] });
  });

  it("names open blockers, the track predecessor marked", () => {
    const r = readinessOf({ ...unclaimed, status: "pending", track: "main" }, [blocker(5, "failed"), blocker(2, "in_progress", "track")], null, now);
    expect(r).toMatchObject({ ready: false, state: "BLOCKED", reason: "blocked by #2 (track main), #5" });
  });

  it("is claimed while a lease runs, and ready again once it ran out", () => {
    const held = readinessOf({ holderId: "w", leaseExpiresAt: later, status: "in_progress" }, [], "worker", now);
    expect(held).toMatchObject({ ready: false, state: "CLAIMED", reason: `claimed by worker until ${later.toISOString()}` });
    const lapsed = readinessOf({ holderId: "w", leaseExpiresAt: earlier, status: "in_progress" }, [], "worker", now);
    expect(lapsed).toMatchObject({ ready: true, state: "READY" });
    expect(liveHolder({ holderId: "w", leaseExpiresAt: earlier }, now)).toBeNull();
  });

  it("is not pending when finished or in progress without a claim", () => {
    for (const status of ["completed", "cancelled", "failed", "in_progress"]) {
      expect(readinessOf({ ...unclaimed, status }, [], null, now)).toMatchObject({ ready: false, state: "NOT_PENDING", reason: `status is ${status}` });
    }
  });
});

describe("verification nudge", () => {
  const task = (title: string, verification = false) => ({ title, verification });
  it("nudges after three completions without a verification task", () => {
    expect(verificationNudge([task("a"), task("b")])).toBeNull();
    expect(verificationNudge([task("a"), task("b"), task("c")])).toMatch(/verification/);
    expect(verificationNudge([task("a"), task("b"), task("c", true)])).toBeNull();
    expect(verificationNudge([task("a"), task("Verify the migration"), task("c")])).toBeNull();
  });
  it("recognises verification tasks by flag or title", () => {
    expect(isVerificationTask(task("Verification of results"))).toBe(true);
    expect(isVerificationTask(task("verifying output"))).toBe(true);
    expect(isVerificationTask(task("Reverify"))).toBe(false);
    expect(isVerificationTask(task("anything", true))).toBe(true);
  });
});

describe("board text", () => {
  it("is one line a task with owner and open blockers", () => {
    expect(
      boardText([
        { number: 1, status: "completed", title: "Analyze current schema", owner: "alice", openBlockers: [] },
        { number: 2, status: "in_progress", title: "Create migration script", owner: "bob", openBlockers: [] },
        { number: 3, status: "pending", title: "Update unit tests", owner: null, openBlockers: [2] },
      ]),
    ).toBe("#1 [completed] Analyze current schema (alice)\n#2 [in_progress] Create migration script (bob)\n#3 [pending] Update unit tests [blocked by #2]");
  });
});
