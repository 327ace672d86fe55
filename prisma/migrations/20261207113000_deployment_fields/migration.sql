-- Columns the convergent upserts of the deployment tables need (docs/dora.md):
-- deployments."deploymentEnvironment" holds the environment the newest deployment payload
-- names (the fallback of the derived "environment" when no stored status names one);
-- releases."fieldsReceivedAt" is the received time of the delivery whose fields the row
-- holds (releases carry no updated_at, so later deliveries win by it).

-- AlterTable
ALTER TABLE "deployments" ADD COLUMN "deploymentEnvironment" TEXT;

-- AlterTable
ALTER TABLE "releases" ADD COLUMN "fieldsReceivedAt" TIMESTAMP(3);

-- issues.labels comes only from payloads that carry labels (`pinned` does not): its own
-- as-of time, the payload's updated_at, as pull_requests' countsUpdatedAt.
-- AlterTable
ALTER TABLE "issues" ADD COLUMN "labelsUpdatedAt" TIMESTAMP(3);
