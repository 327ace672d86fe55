-- Commit emails linked to a user by linkGithubUser(userId, { email }) (docs/user-mapping.md):
-- stored, so a later push by that address maps like the commits the link back-filled, and a
-- rebuild (reprocessEvents) maps them too. `email` is lowercased by the writer; one user per
-- address. Deleting the user deletes its links.

-- CreateTable
CREATE TABLE "user_github_emails" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "user_github_emails_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "user_github_emails_email_key" ON "user_github_emails"("email");

-- CreateIndex
CREATE INDEX "user_github_emails_userId_idx" ON "user_github_emails"("userId");

-- AddForeignKey
ALTER TABLE "user_github_emails" ADD CONSTRAINT "user_github_emails_userId_fkey" FOREIGN KEY ("userId") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
