-- AlterTable
ALTER TABLE "Agent" ADD COLUMN     "kind" TEXT NOT NULL DEFAULT 'agent';
