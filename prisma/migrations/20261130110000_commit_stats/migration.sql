-- Line counts from GitHub's API (docs/github-api.md). Push payloads carry none, so until
-- the `github` worker has fetched a commit's counts its additions/deletions are unknown,
-- not zero: "statsFetchedAt" is NULL for such a commit, and set once GitHub answered.
-- "statsMissing" marks a commit GitHub could not resolve (force-pushed away and collected,
-- or never in this repository): its "statsFetchedAt" is set too, its counts stay as the
-- push left them, and it is never asked for again.
ALTER TABLE "commits" ADD COLUMN "statsFetchedAt" TIMESTAMP(3),
                      ADD COLUMN "statsMissing" BOOLEAN NOT NULL DEFAULT false;

-- "Which commits of this repository still lack counts": the worker's skip check and any
-- sweep of unknown counts read it.
CREATE INDEX "commits_repoId_statsFetchedAt_idx" ON "commits"("repoId", "statsFetchedAt");
