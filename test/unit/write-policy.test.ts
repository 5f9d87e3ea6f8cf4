import { expect, it } from "vitest";
import { keyMatches, writeRefusal } from "../../src/modules/context/write-policy.js";

const rules = [
  { role: "researcher", agentId: null, pattern: "findings*" },
  { role: "researcher", agentId: null, pattern: "sources*" },
  { role: "analyst", agentId: null, pattern: "analysis*" },
  { role: null, agentId: "a-7", agentName: "editor", pattern: "draft.*" },
];
const researcher = { id: "a-1", name: "ada", role: "researcher" };

it("matches keys with '*' as any run of characters, literally otherwise", () => {
  expect(keyMatches("findings*", "findings")).toBe(true);
  expect(keyMatches("findings*", "findings.pricing")).toBe(true);
  expect(keyMatches("draft.*", "draft")).toBe(false);
  expect(keyMatches("draft.*", "draftXv2")).toBe(false);
  expect(keyMatches("a*b*c", "a-b-c")).toBe(true);
  expect(keyMatches("status", "status.old")).toBe(false);
});

it("lets everyone write when there are no rules", () => {
  expect(writeRefusal([], "anything", researcher)).toBeNull();
});

it("lets a role write its own keys, and an agent named by a rule its keys", () => {
  expect(writeRefusal(rules, "sources.web", researcher)).toBeNull();
  expect(writeRefusal(rules, "draft.v1", { id: "a-7", name: "editor", role: "writer" })).toBeNull();
});

it("names the key and the rule when refusing", () => {
  expect(writeRefusal(rules, "analysis.x", researcher)).toBe('ada (researcher) may not write "analysis.x": the team\'s write policy gives analysis* to role analyst');
  expect(writeRefusal(rules, "draft.v1", researcher)).toContain("draft.* to agent editor");
  expect(writeRefusal(rules, "notes", researcher)).toBe('no rule of the team\'s write policy covers "notes"; ada (researcher) may write findings*, sources*');
});
