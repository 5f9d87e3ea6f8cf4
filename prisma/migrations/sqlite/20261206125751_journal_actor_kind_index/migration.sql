-- CreateIndex
CREATE INDEX "JournalEvent_teamId_actorId_kind_id_idx" ON "JournalEvent"("teamId", "actorId", "kind", "id");
