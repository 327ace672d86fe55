-- Reprocessing runs (processor.reprocessEvents, docs/reprocess.md): a run is planned once as
-- batches of event ids, each of one repository; a batch is marked finished in the same
-- transaction as its writes, so a run stopped and started again skips the batches already done.

-- CreateTable
CREATE TABLE "reprocess_runs" (
    "id" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "since" TIMESTAMP(3),
    "until" TIMESTAMP(3),
    "types" TEXT[],
    "repositoryGithubIds" BIGINT[],
    "batchSize" INTEGER NOT NULL,
    "totalEvents" INTEGER NOT NULL,
    "totalBatches" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "reprocess_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "reprocess_batches" (
    "runId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "repoId" TEXT NOT NULL,
    "eventIds" TEXT[],
    "events" INTEGER NOT NULL,
    "applied" INTEGER,
    "skipped" INTEGER,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "reprocess_batches_pkey" PRIMARY KEY ("runId","seq")
);

-- CreateIndex
CREATE INDEX "reprocess_runs_key_finishedAt_idx" ON "reprocess_runs"("key", "finishedAt");

-- AddForeignKey
ALTER TABLE "reprocess_batches" ADD CONSTRAINT "reprocess_batches_runId_fkey" FOREIGN KEY ("runId") REFERENCES "reprocess_runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;
