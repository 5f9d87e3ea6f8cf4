import { describe, expect, it } from "vitest";
import { inClaimOrder, mayTake, pickTasks, roleKey, type Candidate } from "../../src/modules/tasks/claim-picks.js";

const task = (id: string, number: number, priorityRank = 1, assigneeId: string | null = null): Candidate => ({ id, number, priorityRank, assigneeId });
const request = (agent: string) => ({ viewer: { id: agent } });

describe("claim order", () => {
  it("is the highest priority first, then the oldest", () => {
    const order = inClaimOrder([task("a", 3), task("b", 1), task("c", 2, 3), task("d", 9, 0), task("e", 5, 3)]);
    expect(order.map((t) => t.id)).toEqual(["c", "e", "b", "a", "d"]);
  });
});

describe("who may take a task", () => {
  it("without a role: unassigned tasks, one's own, and those one has a role on", () => {
    const may = mayTake(null, new Set([roleKey("reviewed", "bob")]));
    expect(may("bob", task("free", 1))).toBe(true);
    expect(may("bob", task("mine", 2, 1, "bob"))).toBe(true);
    expect(may("bob", task("alices", 3, 1, "alice"))).toBe(false);
    expect(may("bob", task("reviewed", 4, 1, "alice"))).toBe(true);
  });
  it("with a role: only tasks one has that role on, assigned or not", () => {
    const may = mayTake("reviewer", new Set([roleKey("reviewed", "bob")]));
    expect(may("bob", task("free", 1))).toBe(false);
    expect(may("bob", task("mine", 2, 1, "bob"))).toBe(false);
    expect(may("bob", task("reviewed", 4, 1, "alice"))).toBe(true);
  });
});

describe("a batch's picks", () => {
  const anyone = mayTake(null, new Set());

  it("go in arrival order, each to the first task left in claim order", () => {
    const candidates = [task("t1", 1), task("t2", 2), task("t3", 3)];
    const picks = pickTasks([request("x"), request("y")], candidates, anyone, true);
    expect(picks.chosen.map((c) => [c.request.viewer.id, c.task.id])).toEqual([["x", "t1"], ["y", "t2"]]);
    expect(picks.left.map((t) => t.id)).toEqual(["t3"]);
    expect(candidates).toHaveLength(3);
  });

  it("skip tasks a request may not take, leaving them to the requests after it", () => {
    const picks = pickTasks([request("x"), request("alice")], [task("assigned", 1, 3, "alice"), task("free", 2)], anyone, true);
    expect(picks.chosen.map((c) => [c.request.viewer.id, c.task.id])).toEqual([["x", "free"], ["alice", "assigned"]]);
  });

  it("give nothing when the candidates were every ready task, and ask to read again when they were not", () => {
    const requests = [request("x"), request("y"), request("z")];
    const complete = pickTasks(requests, [task("t1", 1)], anyone, true);
    expect(complete.none.map((r) => r.viewer.id)).toEqual(["y", "z"]);
    expect(complete.retry).toEqual([]);
    const cut = pickTasks(requests, [task("t1", 1)], anyone, false);
    expect(cut.retry.map((r) => r.viewer.id)).toEqual(["y", "z"]);
    expect(cut.none).toEqual([]);
  });

  it("pick again from what is left when a chosen task was taken meanwhile", () => {
    const first = pickTasks([request("x"), request("y")], [task("t1", 1), task("t2", 2), task("t3", 3)], anyone, true);
    // Another instance took t1: x picks again from what the first round left.
    const again = pickTasks([first.chosen[0]!.request], first.left, anyone, true);
    expect(again.chosen.map((c) => c.task.id)).toEqual(["t3"]);
  });
});
