// Search text is whatever a user or an agent typed. It never reaches a query language:
// it is cut into plain words here, and each database gets only those words, as data.
// Operators, quotes and punctuation simply separate words, so no input can raise an
// FTS5 or tsquery syntax error, and every word must match (AND) on both databases.

/** More words than this make a query no better, only slower. */
export const MAX_WORDS = 20;
/** Longer runs match nothing real; PostgreSQL does not even index words over 2047 bytes. */
export const MAX_WORD_LENGTH = 100;

// Letters, digits and combining marks, as FTS5's unicode61 tokenizer and PostgreSQL's
// parser see a word; everything else (spaces, punctuation, symbols, emoji) separates.
const WORD = /[\p{L}\p{N}\p{M}]+/gu;
const HAS_LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;

// PostgreSQL's english configuration ignores these words (tsearch_data/english.stop).
// FTS5 indexes them, so an AND of them would require them on SQLite alone; dropping them
// here gives both databases the same query.
const STOP_WORDS = new Set(
  (
    "i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers herself " +
    "it its itself they them their theirs themselves what which who whom this that these those am is are was were be " +
    "been being have has had having do does did doing a an the and but if or because as until while of at by for with " +
    "about against between into through during before after above below to from up down in out on off over under again " +
    "further then once here there when where why how all any both each few more most other some such no nor not only " +
    "own same so than too very s t can will just don should now"
  ).split(" "),
);

/**
 * The words to search for in `text`: lowercased, in order of first appearance, without
 * duplicates or stop words, at most MAX_WORDS. No words means no results.
 */
export function searchWords(text: string): string[] {
  const words = new Set<string>();
  for (const match of text.normalize("NFC").matchAll(WORD)) {
    const word = [...match[0].toLowerCase()].slice(0, MAX_WORD_LENGTH).join("");
    // A run of marks alone is no word to either database.
    if (STOP_WORDS.has(word) || !HAS_LETTER_OR_DIGIT.test(word)) continue;
    words.add(word);
    if (words.size === MAX_WORDS) break;
  }
  return [...words];
}
