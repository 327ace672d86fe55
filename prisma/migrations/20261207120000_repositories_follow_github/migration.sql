-- Repositories follow GitHub (third part of the design: docs/repositories.md). A GitHub App's
-- installation events register and untrack repositories, repository events keep their name,
-- owner, privacy, archive and deletion state current. Every such change is first stored as a
-- fact in "repository_changes" (whether or not the repository is tracked yet), and a
-- repository's followed columns are an aggregate over its facts (devmetrics_refresh_repository),
-- so any order of deliveries, and a repository registered after its changes arrived, ends in
-- the same row. Rows are matched on the GitHub id, never on the name.

-- AlterTable
ALTER TABLE "repositories" ADD COLUMN "installationId" BIGINT,
                           ADD COLUMN "owner" TEXT,
                           ADD COLUMN "private" BOOLEAN,
                           ADD COLUMN "archivedAt" TIMESTAMP(3),
                           ADD COLUMN "deletedAt" TIMESTAMP(3),
                           ADD COLUMN "trackingStoppedAt" TIMESTAMP(3),
                           ADD COLUMN "suspendedAt" TIMESTAMP(3),
                           ADD COLUMN "githubUpdatedAt" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "events" ADD COLUMN "ignoredReason" TEXT;

-- CreateTable
CREATE TABLE "github_installations" (
    "id" TEXT NOT NULL,
    "githubId" BIGINT NOT NULL,
    "accountLogin" TEXT,
    "accountId" BIGINT,
    "accountType" TEXT,
    "repositorySelection" TEXT,
    "suspendedAt" TIMESTAMP(3),
    "stateAsOf" TIMESTAMP(3),
    "deletedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "github_installations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "repository_changes" (
    "id" TEXT NOT NULL,
    "repoGithubId" BIGINT NOT NULL,
    "deliveryId" TEXT NOT NULL,
    "event" TEXT NOT NULL,
    "action" TEXT,
    "installationId" BIGINT,
    "fullName" TEXT,
    "owner" TEXT,
    "private" BOOLEAN,
    "archived" BOOLEAN,
    "deleted" BOOLEAN NOT NULL DEFAULT false,
    "tracked" BOOLEAN,
    "githubUpdatedAt" TIMESTAMP(3),
    "receivedAt" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "repository_changes_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "github_installations_githubId_key" ON "github_installations"("githubId");
CREATE UNIQUE INDEX "repository_changes_deliveryId_repoGithubId_key" ON "repository_changes"("deliveryId", "repoGithubId");
CREATE INDEX "repository_changes_repoGithubId_idx" ON "repository_changes"("repoGithubId");
CREATE INDEX "repositories_installationId_idx" ON "repositories"("installationId");

-- The fold of a repository's facts into its row (a no-op when no row has that GitHub id).
-- Each followed column takes the newest fact that has it:
--   fullName, owner, private, archived: `repository` events first (they carry GitHub's
--     updated_at; a listing in an installation event, or a registration, names a repository
--     only until one comes: comparing GitHub's clock with our received time would let a
--     listing processed late undo a rename), by updated_at, then received time, then delivery
--     id: a fixed total order, so ties converge too;
--     archivedAt is that fact's time when it says archived, else NULL;
--   deletedAt: the earliest received `deleted` (terminal: never cleared);
--   installationId, trackingStoppedAt: the newest membership fact by received time (a removal
--     wins a tie): removed stops tracking at its received time; added (or registered) tracks,
--     unless its installation was deleted later, which stops it then. Installation events and
--     `npm run register` are the word on membership; a registration by some other delivery
--     (auto-registration of an unknown repository) counts only while there is no such word,
--     because GitHub may deliver a repository's last events after its removal;
--   suspendedAt: its installation's.
-- Columns without any fact keep their value (a repository registered by hand).
CREATE FUNCTION "devmetrics_refresh_repository"("repo_github_id" BIGINT) RETURNS VOID
LANGUAGE sql AS $fn$
  WITH facts AS (
    SELECT c.*, COALESCE(c."githubUpdatedAt", c."receivedAt") AS "asOf"
      FROM "repository_changes" c
     WHERE c."repoGithubId" = "repo_github_id"
  ),
  named AS (
    SELECT "fullName", "owner", "githubUpdatedAt" FROM facts WHERE "fullName" IS NOT NULL
     ORDER BY ("githubUpdatedAt" IS NOT NULL) DESC, "asOf" DESC, "receivedAt" DESC, "deliveryId" DESC LIMIT 1
  ),
  privacy AS (
    SELECT "private" FROM facts WHERE "private" IS NOT NULL
     ORDER BY ("githubUpdatedAt" IS NOT NULL) DESC, "asOf" DESC, "receivedAt" DESC, "deliveryId" DESC LIMIT 1
  ),
  archive AS (
    SELECT CASE WHEN "archived" THEN "asOf" END AS "archivedAt" FROM facts WHERE "archived" IS NOT NULL
     ORDER BY "asOf" DESC, "receivedAt" DESC, "deliveryId" DESC LIMIT 1
  ),
  deletion AS (
    SELECT min("receivedAt") AS "deletedAt" FROM facts WHERE "deleted"
  ),
  membership AS (
    SELECT f."installationId", f."tracked", f."receivedAt", i."deletedAt" AS "installationDeletedAt"
      FROM facts f LEFT JOIN "github_installations" i ON i."githubId" = f."installationId"
     WHERE f."tracked" IS NOT NULL
     ORDER BY (f."event" IN ('installation', 'installation_repositories', 'register')) DESC,
              f."receivedAt" DESC, f."tracked" ASC, f."deliveryId" DESC LIMIT 1
  )
  UPDATE "repositories" r SET
    "fullName" = COALESCE((SELECT "fullName" FROM named), r."fullName"),
    "owner" = COALESCE((SELECT "owner" FROM named), r."owner"),
    "githubUpdatedAt" = COALESCE((SELECT "githubUpdatedAt" FROM named), r."githubUpdatedAt"),
    "private" = COALESCE((SELECT "private" FROM privacy), r."private"),
    "archivedAt" = CASE WHEN EXISTS (SELECT 1 FROM archive) THEN (SELECT "archivedAt" FROM archive)
                        ELSE r."archivedAt" END,
    "deletedAt" = COALESCE((SELECT "deletedAt" FROM deletion), r."deletedAt"),
    "installationId" = COALESCE((SELECT "installationId" FROM membership), r."installationId"),
    "trackingStoppedAt" = CASE
        WHEN NOT EXISTS (SELECT 1 FROM membership) THEN r."trackingStoppedAt"
        WHEN (SELECT NOT "tracked" FROM membership) THEN (SELECT "receivedAt" FROM membership)
        WHEN (SELECT "installationDeletedAt" >= "receivedAt" FROM membership) THEN (SELECT "installationDeletedAt" FROM membership)
        ELSE NULL END,
    "suspendedAt" = (SELECT i."suspendedAt" FROM "github_installations" i
                      WHERE i."githubId" = COALESCE((SELECT "installationId" FROM membership), r."installationId")),
    "updatedAt" = timezone('UTC', now())
   WHERE r."githubId" = "repo_github_id";
$fn$;
