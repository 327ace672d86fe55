-- What each production deployment shipped (docs/dora.md): the deploymentChanges job's
-- progress on the deployment it describes, and the rollback mark.
-- "changesBaseSha": the sha of the previous successful production deployment the stored
-- deployment_changes rows were compared against (null: there was none). When a delivery that
-- arrives late changes which deployment came before, the job sees a different base, deletes
-- the rows and compares again, so any order of arrival ends with the same rows.
-- "changesCompletedAt": when the last compare page was written for that base; a second run
-- with the same base asks GitHub nothing and writes nothing.
-- "isRollback": compare previous...this said `behind`: this deployment put an older version
-- back, shipped nothing, and the previous one counts as failed (change fail rate, cause c).
-- The same column, with the same definition, is in the DORA metrics migration
-- (20261207114000_dora_metrics): IF NOT EXISTS, so whichever runs second changes nothing.

-- AlterTable
ALTER TABLE "deployments" ADD COLUMN IF NOT EXISTS "isRollback" BOOLEAN NOT NULL DEFAULT false,
                          ADD COLUMN "changesBaseSha" TEXT,
                          ADD COLUMN "changesCompletedAt" TIMESTAMP(3);

-- CreateIndex
CREATE INDEX "pull_requests_repoId_headSha_idx" ON "pull_requests"("repoId", "headSha");
