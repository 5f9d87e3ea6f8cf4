import { expect, it } from "vitest";
import { MAX_WORD_LENGTH, MAX_WORDS, searchWords } from "../../src/modules/knowledge/search-text.js";

it.each([
  ["claims", ["claims"]],
  ["Claiming Tasks", ["claiming", "tasks"]],
  ["  lease   renewal\n\tpolicy ", ["lease", "renewal", "policy"]],
  ["lease LEASE Lease", ["lease"]],
  // Query syntax of either database is only punctuation here.
  ['"journal API" -auth', ["journal", "api", "auth"]],
  ["auth OR *", ["auth"]],
  ['\'; DROP TABLE "KnowledgeEntry"; --', ["drop", "table", "knowledgeentry"]],
  ["NEAR(a b)", ["near", "b"]],
  ["title:claims body:lease^2", ["title", "claims", "body", "lease", "2"]],
  ["a & b | !c <-> d:*", ["b", "c", "d"]],
  ["snake_case kebab-case dotted.name", ["snake", "case", "kebab", "dotted", "name"]],
  ["v2 2026 3.14", ["v2", "2026", "3", "14"]],
  ["don't stop", ["stop"]],
  ["café CAFÉ", ["café"]],
  ["cafe\u0301", ["café"]],
  ["日本語 のテスト", ["日本語", "のテスト"]],
  ["Ünïcödé straße", ["ünïcödé", "straße"]],
  ["🚀 deploy 🎉", ["deploy"]],
  ["🚀🎉", []],
  ["", []],
  ["   \n\t ", []],
  ["the and of to", []],
  ["\u0000\u0001 nul\u0000byte", ["nul", "byte"]],
  ["\u0301\u0301", []],
  ["lone \ud800 surrogate", ["lone", "surrogate"]],
])("%j gives %j", (text, words) => {
  expect(searchWords(text)).toEqual(words);
});

it(`keeps at most ${MAX_WORDS} words, in order of first appearance`, () => {
  const text = Array.from({ length: 50 }, (_, i) => `w${i} w${i}`).join(" ");
  expect(searchWords(text)).toEqual(Array.from({ length: MAX_WORDS }, (_, i) => `w${i}`));
});

it(`cuts a word at ${MAX_WORD_LENGTH} characters, however long the text`, () => {
  expect(searchWords("x".repeat(10_000))).toEqual(["x".repeat(MAX_WORD_LENGTH)]);
  expect(searchWords("é".repeat(10_000))[0]).toHaveLength(MAX_WORD_LENGTH);
  expect(searchWords("claims ".repeat(2_000))).toEqual(["claims"]);
});

it("never yields a character either query language reads as syntax", () => {
  const hostile = `"'*^:()[]{}<>-+&|!~\\/;,.?@#$%=\`` + "\u0000\u2028\u200b";
  for (const word of searchWords(`${hostile} word ${hostile}x${hostile}`)) {
    expect(word).toMatch(/^[\p{L}\p{N}\p{M}]+$/u);
  }
});
