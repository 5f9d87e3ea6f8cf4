import { Prisma } from "../../generated/prisma/client.js";
import { knowledgeFilters, type SearchKnowledge } from "./knowledge-search.js";

// plainto_tsquery ANDs the stemmed words and reads no operators, so any text is safe
// in it. "searchVector" is the generated column from the context_knowledge migration,
// title weighted A and body B; ts_rank scores them 1.0 and 0.4.
export const postgresKnowledgeSearch: SearchKnowledge = async (client, search) => {
  if (!search.words.length) return [];
  const rows = await client.$queryRaw<{ id: string; rank: number }[]>(Prisma.sql`
    SELECT e."id" AS "id", ts_rank(e."searchVector", q) AS "rank"
    FROM "KnowledgeEntry" e, plainto_tsquery('english', ${search.words.join(" ")}) q
    WHERE e."searchVector" @@ q AND ${knowledgeFilters(search)}
    ORDER BY "rank" DESC, e."createdAt" DESC, e."id" DESC
    LIMIT ${search.limit}`);
  // ts_rank is a real; keep the answer's shape the same as SQLite's whatever the driver returns.
  return rows.map((r) => ({ id: r.id, rank: Number(r.rank) }));
};
