-- Partial indexes of unattributed rows, for linkGithubUser's back-fill (crates/core/src/store/authors.rs):
-- it finds a person's earlier rows through them, so a link costs time in proportion to that
-- person's unattributed rows, not to the size of the tables. They hold only rows whose author
-- is unknown (a row leaves its index once attributed), so they stay small and cheap to keep.
-- Prisma's schema cannot express partial or expression indexes; prisma/schema.prisma names
-- them in comments, and Prisma's migration diffing leaves partial indexes alone.

-- Commits: by login (author.username) or email, case-insensitively.
CREATE INDEX "commits_unattributed_login_idx" ON "commits"(lower("authorLogin")) WHERE "authorId" IS NULL;
CREATE INDEX "commits_unattributed_email_idx" ON "commits"(lower("authorEmail")) WHERE "authorId" IS NULL;

-- Pull requests, issues and reviews: by GitHub account id.
CREATE INDEX "pull_requests_unattributed_author_idx" ON "pull_requests"("authorGithubId") WHERE "authorId" IS NULL;
CREATE INDEX "issues_unattributed_author_idx" ON "issues"("authorGithubId") WHERE "authorId" IS NULL;
CREATE INDEX "pull_request_reviews_unattributed_reviewer_idx" ON "pull_request_reviews"("reviewerGithubId") WHERE "reviewerId" IS NULL;
