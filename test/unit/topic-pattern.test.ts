import { expect, it } from "vitest";
import { TOPIC, TOPIC_PATTERN, topicMatches } from "../../src/modules/messages/topic-pattern.js";

it.each([
  ["reports.*", "reports.daily", true],
  ["reports.*", "reports", false],
  ["reports.*", "reports.daily.pdf", false],
  ["research.#", "research", true],
  ["research.#", "research.complete", true],
  ["research.#", "research.a.b.c", true],
  ["#", "anything.at.all", true],
  ["*.complete", "research.complete", true],
  ["*.complete", "research.partial", false],
  ["a.#.z", "a.z", true],
  ["a.#.z", "a.b.c.z", true],
  ["a.#.z", "a.b.c", false],
  ["exact.topic", "exact.topic", true],
  ["exact.topic", "exact.topics", false],
])("pattern %s on %s is %s", (pattern, topic, expected) => {
  expect(TOPIC_PATTERN.test(pattern)).toBe(true);
  expect(TOPIC.test(topic)).toBe(true);
  expect(topicMatches(pattern, topic)).toBe(expected);
});

it("refuses malformed topics and patterns", () => {
  for (const bad of ["", ".", "a..b", "a.", "with space", "a.*"]) expect(TOPIC.test(bad), bad).toBe(false);
  for (const bad of ["", "a..b", "re*ports", "a.##x", "a b"]) expect(TOPIC_PATTERN.test(bad), bad).toBe(false);
});
