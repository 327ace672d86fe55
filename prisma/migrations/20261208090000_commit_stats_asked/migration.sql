-- When the commit-stats catch-up (lib/github/commit-stats-catch-up.js) last queued a commit
-- whose line counts are still unknown. The catch-up asks for the commits never asked first,
-- then the longest ago asked, so a set GitHub never answers cannot take every run's places
-- (it took the first N by repository and sha before, the same ones each day).
ALTER TABLE "commits" ADD COLUMN "statsAskedAt" TIMESTAMP(3);

-- The catch-up's order over the commits with unknown counts only (partial: a small set).
CREATE INDEX "commits_stats_unknown_asked_idx" ON "commits"("statsAskedAt" ASC NULLS FIRST, "createdAt") WHERE "statsFetchedAt" IS NULL;
