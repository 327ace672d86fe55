-- The five DORA metrics (processor.doraMetrics, docs/dora.md "The five metrics").
--
-- deployments.isRollback: GitHub's compare of this deployment against the previous successful
-- deployment of its repository and environment (different sha) said `behind`: an older version
-- put back. Set by the deploymentChanges job (false until it has compared). The same column, with
-- the same definition, is in the deploymentChanges migration (20261207115000): IF NOT EXISTS, so
-- whichever runs second changes nothing. Until the compare has run, doraMetrics also takes a
-- deployment without recorded changes that redeploys a sha live before as a rollback.
ALTER TABLE "deployments" ADD COLUMN IF NOT EXISTS "isRollback" BOOLEAN NOT NULL DEFAULT false;

-- Indexes of doraMetrics' statements (one pass per metric; partial, so they stay small).
-- Successful production deployments of a repository in a time window.
CREATE INDEX "deployments_repoId_firstSuccessAt_production_idx" ON "deployments"("repoId", "firstSuccessAt") WHERE "isProduction" AND "firstSuccessAt" IS NOT NULL;
-- De-duplication by (repository, environment, sha) and the rollback fallback.
CREATE INDEX "deployments_repoId_environment_sha_firstSuccessAt_idx" ON "deployments"("repoId", "environment", "sha", "firstSuccessAt") WHERE "firstSuccessAt" IS NOT NULL;
-- Deployments that never succeeded, by the time they failed.
CREATE INDEX "deployments_repoId_failedAt_unsuccessful_idx" ON "deployments"("repoId", "failedAt") WHERE "firstSuccessAt" IS NULL AND "failedAt" IS NOT NULL;
-- Labelled issues of a repository by opening time (incident candidates).
CREATE INDEX "issues_repoId_createdAt_labelled_idx" ON "issues"("repoId", "createdAt") WHERE cardinality("labels") > 0;
