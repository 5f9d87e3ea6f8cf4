-- DropIndex
DROP INDEX "Task_teamId_status_priorityRank_idx";

-- CreateIndex
CREATE INDEX "Task_teamId_status_priorityRank_number_idx" ON "Task"("teamId", "status", "priorityRank" DESC, "number");
