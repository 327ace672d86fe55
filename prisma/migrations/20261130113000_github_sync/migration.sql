-- State of the GitHub API jobs that must survive restarts (docs/recovery.md):
-- the reconciler's cursor per hook and the backfill's cursor per repository and kind.

-- CreateTable
CREATE TABLE "github_reconcile_cursors" (
    "id" TEXT NOT NULL,
    "hook" TEXT NOT NULL,
    "deliveredThrough" TIMESTAMP(3),
    "lastRunAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "github_reconcile_cursors_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "github_backfill_cursors" (
    "id" TEXT NOT NULL,
    "repoId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "since" TIMESTAMP(3) NOT NULL,
    "pagesDone" INTEGER NOT NULL DEFAULT 0,
    "itemsDone" INTEGER NOT NULL DEFAULT 0,
    "finishedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "github_backfill_cursors_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "github_reconcile_cursors_hook_key" ON "github_reconcile_cursors"("hook");

-- CreateIndex
CREATE UNIQUE INDEX "github_backfill_cursors_repoId_kind_key" ON "github_backfill_cursors"("repoId", "kind");

-- AddForeignKey
ALTER TABLE "github_backfill_cursors" ADD CONSTRAINT "github_backfill_cursors_repoId_fkey" FOREIGN KEY ("repoId") REFERENCES "repositories"("id") ON DELETE CASCADE ON UPDATE CASCADE;
