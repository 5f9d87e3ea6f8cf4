// Full-text search of knowledge entries is where the two databases differ most (FTS5 on
// SQLite, tsvector on PostgreSQL): one small file per database implements this interface,
// so infra/ knows no knowledge table and this module no other database detail.
import { Prisma } from "../../generated/prisma/client.js";
import type { PrismaClient } from "../../infra/db.js";

/** What to search for in a team's knowledge entries; every condition must hold. */
export interface KnowledgeSearch {
  teamId: string;
  /** Plain words (see search-text.ts); each must occur, stemmed. */
  words: string[];
  /** Entries carrying every one of these tags. */
  tags: string[];
  /** Entries by this agent. */
  authorId: string | null;
  limit: number;
}

/**
 * Knowledge entries matching a search, best first: `rank` descending (higher is better;
 * title matches weigh more than body matches), then newest, then id descending. Ranks
 * compare only within one database's answers.
 */
export type SearchKnowledge = (client: PrismaClient, search: KnowledgeSearch) => Promise<{ id: string; rank: number }[]>;

/** The search's team, tag and author conditions on `e` (a KnowledgeEntry), the same SQL on both databases. */
export function knowledgeFilters(search: KnowledgeSearch): Prisma.Sql {
  const conditions = [Prisma.sql`e."teamId" = ${search.teamId}`];
  for (const tag of search.tags) {
    conditions.push(Prisma.sql`EXISTS (SELECT 1 FROM "KnowledgeTag" t WHERE t."entryId" = e."id" AND t."tag" = ${tag})`);
  }
  if (search.authorId !== null) conditions.push(Prisma.sql`e."authorId" = ${search.authorId}`);
  return Prisma.join(conditions, " AND ");
}
