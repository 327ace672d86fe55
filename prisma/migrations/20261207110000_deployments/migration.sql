-- Deployments, their statuses, workflow runs and jobs, releases and what each production
-- deployment shipped (third part of the design: docs/dora.md). GitHub's times are
-- TIMESTAMP(3) in UTC like every other table; user columns follow the pull request author's
-- (id, githubId, login, isBot). Derived deployment fields (state, firstSuccessAt, failedAt,
-- finishedAt, environment) are aggregates over the stored statuses, so any delivery order
-- gives the same row.

-- CreateTable
CREATE TABLE "deployments" (
    "id" TEXT NOT NULL,
    "repoId" TEXT NOT NULL,
    "githubId" BIGINT NOT NULL,
    "sha" TEXT NOT NULL,
    "ref" TEXT NOT NULL,
    "task" TEXT NOT NULL,
    "environment" TEXT NOT NULL,
    "originalEnvironment" TEXT NOT NULL,
    "productionEnvironment" BOOLEAN,
    "isProduction" BOOLEAN NOT NULL DEFAULT false,
    "productionReason" TEXT,
    "transientEnvironment" BOOLEAN,
    "description" TEXT,
    "creatorId" TEXT,
    "creatorGithubId" BIGINT,
    "creatorLogin" TEXT,
    "creatorIsBot" BOOLEAN NOT NULL DEFAULT false,
    "workflowRunId" BIGINT,
    "createdAt" TIMESTAMP(3) NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "state" TEXT,
    "firstSuccessAt" TIMESTAMP(3),
    "failedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "deployments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "deployment_statuses" (
    "id" TEXT NOT NULL,
    "githubId" BIGINT NOT NULL,
    "repoId" TEXT NOT NULL,
    "deploymentId" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "environment" TEXT,
    "environmentUrl" TEXT,
    "logUrl" TEXT,
    "description" TEXT,
    "creatorLogin" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "deployment_statuses_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "workflow_runs" (
    "id" TEXT NOT NULL,
    "repoId" TEXT NOT NULL,
    "githubId" BIGINT NOT NULL,
    "runAttempt" INTEGER NOT NULL,
    "workflowId" BIGINT NOT NULL,
    "name" TEXT NOT NULL,
    "path" TEXT,
    "event" TEXT NOT NULL,
    "headSha" TEXT NOT NULL,
    "headBranch" TEXT,
    "status" TEXT NOT NULL,
    "conclusion" TEXT,
    "runNumber" INTEGER NOT NULL,
    "actorId" TEXT,
    "actorGithubId" BIGINT,
    "actorLogin" TEXT,
    "actorIsBot" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL,
    "runStartedAt" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "completedAt" TIMESTAMP(3),
    "pullRequestNumbers" INTEGER[] DEFAULT ARRAY[]::INTEGER[],

    CONSTRAINT "workflow_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "workflow_jobs" (
    "id" TEXT NOT NULL,
    "repoId" TEXT NOT NULL,
    "githubId" BIGINT NOT NULL,
    "runGithubId" BIGINT NOT NULL,
    "runAttempt" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "workflowName" TEXT,
    "headSha" TEXT,
    "status" TEXT NOT NULL,
    "conclusion" TEXT,
    "startedAt" TIMESTAMP(3),
    "completedAt" TIMESTAMP(3),
    "environment" TEXT,

    CONSTRAINT "workflow_jobs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "releases" (
    "id" TEXT NOT NULL,
    "repoId" TEXT NOT NULL,
    "githubId" BIGINT NOT NULL,
    "tagName" TEXT NOT NULL,
    "name" TEXT,
    "targetCommitish" TEXT NOT NULL,
    "draft" BOOLEAN NOT NULL DEFAULT false,
    "prerelease" BOOLEAN NOT NULL DEFAULT false,
    "authorId" TEXT,
    "authorGithubId" BIGINT,
    "authorLogin" TEXT,
    "authorIsBot" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL,
    "publishedAt" TIMESTAMP(3),
    "deletedAt" TIMESTAMP(3),

    CONSTRAINT "releases_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "deployment_changes" (
    "deploymentId" TEXT NOT NULL,
    "commitSha" TEXT NOT NULL,
    "repoId" TEXT NOT NULL,
    "committedAt" TIMESTAMP(3),
    "pullRequestId" TEXT,

    CONSTRAINT "deployment_changes_pkey" PRIMARY KEY ("deploymentId","commitSha")
);

-- AlterTable
ALTER TABLE "pull_requests" ADD COLUMN "mergeCommitSha" TEXT,
                            ADD COLUMN "headSha" TEXT;

-- AlterTable
ALTER TABLE "issues" ADD COLUMN "labels" TEXT[] DEFAULT ARRAY[]::TEXT[];

-- CreateIndex
CREATE UNIQUE INDEX "deployments_githubId_key" ON "deployments"("githubId");
CREATE INDEX "deployments_repoId_environment_firstSuccessAt_idx" ON "deployments"("repoId", "environment", "firstSuccessAt");
CREATE INDEX "deployments_repoId_createdAt_idx" ON "deployments"("repoId", "createdAt");
CREATE INDEX "deployments_creatorId_idx" ON "deployments"("creatorId");
CREATE UNIQUE INDEX "deployment_statuses_githubId_key" ON "deployment_statuses"("githubId");
CREATE INDEX "deployment_statuses_deploymentId_createdAt_idx" ON "deployment_statuses"("deploymentId", "createdAt");
CREATE UNIQUE INDEX "workflow_runs_githubId_runAttempt_key" ON "workflow_runs"("githubId", "runAttempt");
CREATE INDEX "workflow_runs_repoId_createdAt_idx" ON "workflow_runs"("repoId", "createdAt");
CREATE INDEX "workflow_runs_repoId_headSha_idx" ON "workflow_runs"("repoId", "headSha");
CREATE INDEX "workflow_runs_actorId_idx" ON "workflow_runs"("actorId");
CREATE UNIQUE INDEX "workflow_jobs_githubId_key" ON "workflow_jobs"("githubId");
CREATE INDEX "workflow_jobs_runGithubId_runAttempt_idx" ON "workflow_jobs"("runGithubId", "runAttempt");
CREATE UNIQUE INDEX "releases_githubId_key" ON "releases"("githubId");
CREATE INDEX "releases_repoId_createdAt_idx" ON "releases"("repoId", "createdAt");
CREATE INDEX "releases_authorId_idx" ON "releases"("authorId");
CREATE INDEX "deployment_changes_repoId_commitSha_idx" ON "deployment_changes"("repoId", "commitSha");
CREATE INDEX "deployment_changes_pullRequestId_idx" ON "deployment_changes"("pullRequestId");
CREATE INDEX "pull_requests_repoId_mergeCommitSha_idx" ON "pull_requests"("repoId", "mergeCommitSha");

-- AddForeignKey
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_repoId_fkey" FOREIGN KEY ("repoId") REFERENCES "repositories"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_creatorId_fkey" FOREIGN KEY ("creatorId") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "deployment_statuses" ADD CONSTRAINT "deployment_statuses_repoId_fkey" FOREIGN KEY ("repoId") REFERENCES "repositories"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "deployment_statuses" ADD CONSTRAINT "deployment_statuses_deploymentId_fkey" FOREIGN KEY ("deploymentId") REFERENCES "deployments"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "workflow_runs" ADD CONSTRAINT "workflow_runs_repoId_fkey" FOREIGN KEY ("repoId") REFERENCES "repositories"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "workflow_runs" ADD CONSTRAINT "workflow_runs_actorId_fkey" FOREIGN KEY ("actorId") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "workflow_jobs" ADD CONSTRAINT "workflow_jobs_repoId_fkey" FOREIGN KEY ("repoId") REFERENCES "repositories"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "releases" ADD CONSTRAINT "releases_repoId_fkey" FOREIGN KEY ("repoId") REFERENCES "repositories"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "releases" ADD CONSTRAINT "releases_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "deployment_changes" ADD CONSTRAINT "deployment_changes_repoId_fkey" FOREIGN KEY ("repoId") REFERENCES "repositories"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "deployment_changes" ADD CONSTRAINT "deployment_changes_deploymentId_fkey" FOREIGN KEY ("deploymentId") REFERENCES "deployments"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "deployment_changes" ADD CONSTRAINT "deployment_changes_pullRequestId_fkey" FOREIGN KEY ("pullRequestId") REFERENCES "pull_requests"("id") ON DELETE SET NULL ON UPDATE CASCADE;
