-- Partial indexes of unattributed deployments, workflow runs and releases, for
-- linkGithubUser's back-fill (crates/core/src/store/authors.rs), like those of migration
-- 20261130120000_link_backfill_indexes: a link finds a person's earlier rows through them, so
-- it costs time in proportion to that person's unattributed rows, not to the size of the
-- tables. Prisma's schema cannot express partial indexes; prisma/schema.prisma names them in
-- comments.

-- By GitHub account id, as the rows map when they are written.
CREATE INDEX "deployments_unattributed_creator_idx" ON "deployments"("creatorGithubId") WHERE "creatorId" IS NULL;
CREATE INDEX "workflow_runs_unattributed_actor_idx" ON "workflow_runs"("actorGithubId") WHERE "actorId" IS NULL;
CREATE INDEX "releases_unattributed_author_idx" ON "releases"("authorGithubId") WHERE "authorId" IS NULL;
