-- CreateTable
CREATE TABLE "ContextEntry" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "scopeType" TEXT NOT NULL,
    "scopeId" TEXT NOT NULL,
    "teamId" TEXT,
    "key" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "value" JSONB,
    "deleted" BOOLEAN NOT NULL DEFAULT false,
    "authorId" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "ContextVersion" (
    "entryId" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "value" JSONB,
    "deleted" BOOLEAN NOT NULL DEFAULT false,
    "authorId" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,

    PRIMARY KEY ("entryId", "version"),
    CONSTRAINT "ContextVersion_entryId_fkey" FOREIGN KEY ("entryId") REFERENCES "ContextEntry" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "WriteRule" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "teamId" TEXT NOT NULL,
    "role" TEXT,
    "agentId" TEXT,
    "pattern" TEXT NOT NULL,
    "createdById" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "WriteRule_teamId_fkey" FOREIGN KEY ("teamId") REFERENCES "Team" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "KnowledgeEntry" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "teamId" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "authorId" TEXT NOT NULL,
    "taskId" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "KnowledgeEntry_teamId_fkey" FOREIGN KEY ("teamId") REFERENCES "Team" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "KnowledgeEntry_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "Agent" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "KnowledgeEntry_taskId_fkey" FOREIGN KEY ("taskId") REFERENCES "Task" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "KnowledgeTag" (
    "entryId" TEXT NOT NULL,
    "tag" TEXT NOT NULL,

    PRIMARY KEY ("entryId", "tag"),
    CONSTRAINT "KnowledgeTag_entryId_fkey" FOREIGN KEY ("entryId") REFERENCES "KnowledgeEntry" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "ContextEntry_teamId_idx" ON "ContextEntry"("teamId");

-- CreateIndex
CREATE UNIQUE INDEX "ContextEntry_scopeType_scopeId_key_key" ON "ContextEntry"("scopeType", "scopeId", "key");

-- CreateIndex
CREATE INDEX "WriteRule_teamId_idx" ON "WriteRule"("teamId");

-- CreateIndex
CREATE INDEX "KnowledgeEntry_teamId_createdAt_idx" ON "KnowledgeEntry"("teamId", "createdAt");

-- CreateIndex
CREATE INDEX "KnowledgeEntry_taskId_idx" ON "KnowledgeEntry"("taskId");

-- CreateIndex
CREATE INDEX "KnowledgeTag_tag_idx" ON "KnowledgeTag"("tag");

-- Full-text index of knowledge entries (written by hand: Prisma does not model it).
-- An external-content FTS5 table stores only the index and reads title and body from
-- KnowledgeEntry by rowid. The triggers keep it in step with every write, including
-- deletes cascaded from a team. Porter stemming lets "claims" find "claiming".
-- KnowledgeEntry's key is TEXT, so its rowid is implicit: VACUUM may renumber it, and
-- a future migration that redefines the table drops these triggers. After either,
-- recreate the triggers and rebuild the index with the FTS5 'rebuild' command.
CREATE VIRTUAL TABLE "KnowledgeEntryFts" USING fts5(
    "title",
    "body",
    content='KnowledgeEntry',
    content_rowid='rowid',
    tokenize='porter unicode61'
);

CREATE TRIGGER "KnowledgeEntryFts_insert" AFTER INSERT ON "KnowledgeEntry" BEGIN
    INSERT INTO "KnowledgeEntryFts"(rowid, "title", "body") VALUES (new.rowid, new."title", new."body");
END;

CREATE TRIGGER "KnowledgeEntryFts_delete" AFTER DELETE ON "KnowledgeEntry" BEGIN
    INSERT INTO "KnowledgeEntryFts"("KnowledgeEntryFts", rowid, "title", "body") VALUES ('delete', old.rowid, old."title", old."body");
END;

-- Only a change of the indexed text needs re-indexing (not updatedAt, tags or the task link).
CREATE TRIGGER "KnowledgeEntryFts_update" AFTER UPDATE OF "title", "body" ON "KnowledgeEntry" BEGIN
    INSERT INTO "KnowledgeEntryFts"("KnowledgeEntryFts", rowid, "title", "body") VALUES ('delete', old.rowid, old."title", old."body");
    INSERT INTO "KnowledgeEntryFts"(rowid, "title", "body") VALUES (new.rowid, new."title", new."body");
END;
