import { Prisma } from "../../generated/prisma/client.js";
import { knowledgeFilters, type SearchKnowledge } from "./knowledge-search.js";

/** Each word as an FTS5 string ("word"), so nothing in it is read as syntax; spaces AND them. */
const ftsMatch = (words: string[]) => words.map((w) => `"${w.replaceAll('"', '""')}"`).join(" ");

// bm25 is lower for better matches, hence negated; the weights count a title hit ten
// times a body hit. KnowledgeEntryFts is the external-content index from the
// context_knowledge migration, joined to its rows by rowid.
export const sqliteKnowledgeSearch: SearchKnowledge = async (client, search) => {
  if (!search.words.length) return [];
  return client.$queryRaw<{ id: string; rank: number }[]>(Prisma.sql`
    SELECT e."id" AS "id", -bm25("KnowledgeEntryFts", 10.0, 1.0) AS "rank"
    FROM "KnowledgeEntryFts" JOIN "KnowledgeEntry" e ON e.rowid = "KnowledgeEntryFts".rowid
    WHERE "KnowledgeEntryFts" MATCH ${ftsMatch(search.words)} AND ${knowledgeFilters(search)}
    ORDER BY "rank" DESC, e."createdAt" DESC, e."id" DESC
    LIMIT ${search.limit}`);
};
