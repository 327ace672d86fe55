//! The columns the processor needs, checked once at connect: a backend whose schema lacks
//! one learns it then, by name, instead of from a failing event.

use crate::error::{ProcessingError, Result};
use crate::store::connections::Connections;
use std::collections::HashSet;

/// Tables and the columns the addon reads or writes in them.
pub const REQUIRED_COLUMNS: &[(&str, &[&str])] = &[
    ("users", &["id", "email", "githubId", "githubLogin"]),
    ("team_members", &["teamId", "userId"]),
    ("user_github_emails", &["id", "userId", "email"]),
    (
        "repositories",
        &[
            "id",
            "githubId",
            "fullName",
            "teamId",
            // Following GitHub (migration 20261207120000_repositories_follow_github).
            "installationId",
            "owner",
            "private",
            "archivedAt",
            "deletedAt",
            "trackingStoppedAt",
            "suspendedAt",
            "githubUpdatedAt",
        ],
    ),
    (
        "github_installations",
        &[
            "id",
            "githubId",
            "accountLogin",
            "accountId",
            "accountType",
            "repositorySelection",
            "suspendedAt",
            "stateAsOf",
            "deletedAt",
        ],
    ),
    (
        "repository_changes",
        &[
            "id",
            "repoGithubId",
            "deliveryId",
            "event",
            "action",
            "installationId",
            "fullName",
            "owner",
            "private",
            "archived",
            "deleted",
            "tracked",
            "githubUpdatedAt",
            "receivedAt",
        ],
    ),
    (
        "events",
        &[
            "id",
            "repoId",
            "deliveryId",
            "type",
            "action",
            "senderGithubId",
            "payload",
            "processed",
            "processedAt",
            "attempts",
            "lastError",
            "createdAt",
            "receivedAt",
            "ignoredReason",
        ],
    ),
    (
        "commits",
        &[
            "id",
            "repoId",
            "sha",
            "message",
            "authorId",
            "authorLogin",
            "authorName",
            "authorEmail",
            "authorIsBot",
            "additions",
            "deletions",
            "filesChanged",
            "committedAt",
            "createdAt",
            "statsFetchedAt",
            "statsMissing",
        ],
    ),
    (
        "pull_requests",
        &[
            "id",
            "repoId",
            "githubId",
            "number",
            "title",
            "state",
            "draft",
            "draftUpdatedAt",
            "authorId",
            "authorGithubId",
            "authorLogin",
            "authorIsBot",
            "headRef",
            "baseRef",
            "additions",
            "deletions",
            "filesChanged",
            "countsUpdatedAt",
            "mergedAt",
            "closedAt",
            "createdAt",
            "updatedAt",
            "firstReviewAt",
            "cycleTimeSeconds",
            "mergeCommitSha",
            "headSha",
        ],
    ),
    (
        "issues",
        &[
            "id",
            "repoId",
            "githubId",
            "number",
            "title",
            "state",
            "stateReason",
            "authorId",
            "authorGithubId",
            "authorLogin",
            "authorIsBot",
            "closedAt",
            "createdAt",
            "updatedAt",
            "resolutionTimeSeconds",
            "deletedAt",
            "labels",
            "labelsUpdatedAt",
        ],
    ),
    (
        "pull_request_reviews",
        &[
            "id",
            "githubId",
            "repoId",
            "pullRequestId",
            "reviewerId",
            "reviewerGithubId",
            "reviewerLogin",
            "reviewerIsBot",
            "state",
            "commitId",
            "submittedAt",
            "dismissedAt",
            "turnaroundSeconds",
            "createdAt",
        ],
    ),
    // Deployment data (migrations 20261207110000_deployments and
    // 20261207113000_deployment_fields, docs/dora.md).
    (
        "deployments",
        &[
            "id",
            "repoId",
            "githubId",
            "sha",
            "ref",
            "task",
            "environment",
            "originalEnvironment",
            "deploymentEnvironment",
            "productionEnvironment",
            "isProduction",
            "productionReason",
            "transientEnvironment",
            "description",
            "creatorId",
            "creatorGithubId",
            "creatorLogin",
            "creatorIsBot",
            "workflowRunId",
            "createdAt",
            "updatedAt",
            "state",
            "firstSuccessAt",
            "failedAt",
            "finishedAt",
        ],
    ),
    (
        "deployment_statuses",
        &[
            "id",
            "githubId",
            "repoId",
            "deploymentId",
            "state",
            "environment",
            "environmentUrl",
            "logUrl",
            "description",
            "creatorLogin",
            "createdAt",
        ],
    ),
    (
        "workflow_runs",
        &[
            "id",
            "repoId",
            "githubId",
            "runAttempt",
            "workflowId",
            "name",
            "path",
            "event",
            "headSha",
            "headBranch",
            "status",
            "conclusion",
            "runNumber",
            "actorId",
            "actorGithubId",
            "actorLogin",
            "actorIsBot",
            "createdAt",
            "runStartedAt",
            "updatedAt",
            "completedAt",
            "pullRequestNumbers",
        ],
    ),
    (
        "workflow_jobs",
        &[
            "id",
            "repoId",
            "githubId",
            "runGithubId",
            "runAttempt",
            "name",
            "workflowName",
            "headSha",
            "status",
            "conclusion",
            "startedAt",
            "completedAt",
            "environment",
        ],
    ),
    (
        "releases",
        &[
            "id",
            "repoId",
            "githubId",
            "tagName",
            "name",
            "targetCommitish",
            "draft",
            "prerelease",
            "authorId",
            "authorGithubId",
            "authorLogin",
            "authorIsBot",
            "createdAt",
            "publishedAt",
            "deletedAt",
            "fieldsReceivedAt",
        ],
    ),
    // reprocessEvents' runs (migration 20261130114000_reprocess_runs).
    (
        "reprocess_runs",
        &[
            "id",
            "key",
            "since",
            "until",
            "types",
            "repositoryGithubIds",
            "batchSize",
            "totalEvents",
            "totalBatches",
            "createdAt",
            "finishedAt",
        ],
    ),
    (
        "reprocess_batches",
        &[
            "runId",
            "seq",
            "repoId",
            "eventIds",
            "events",
            "applied",
            "skipped",
            "finishedAt",
        ],
    ),
    // doraMetrics and the deploymentChanges job: the columns of migrations
    // 20261207114000_dora_metrics and 20261207115000_deployment_changes_progress.
    (
        "deployments",
        &["isRollback", "changesBaseSha", "changesCompletedAt"],
    ),
    (
        "deployment_changes",
        &[
            "deploymentId",
            "commitSha",
            "repoId",
            "committedAt",
            "pullRequestId",
        ],
    ),
    ("issues", &["labels"]),
];

/// Enum types the addon binds by name.
pub const REQUIRED_TYPES: &[&str] = &["PRState", "IssueState", "ReviewState"];

/// Fails with `SCHEMA_MISMATCH` listing every missing table, column and type.
pub async fn verify(db: &Connections) -> Result<()> {
    let tables: Vec<&str> = REQUIRED_COLUMNS.iter().map(|(t, _)| *t).collect();
    let mut conn = db.lease().await?;
    let found = async {
        let present: HashSet<(String, String)> = sqlx::query_as(
            r#"SELECT table_name::text, column_name::text FROM information_schema.columns
               WHERE table_schema = current_schema() AND table_name = ANY($1)"#,
        )
        .bind(&tables)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
        let types: HashSet<String> =
            sqlx::query_scalar(r#"SELECT typname::text FROM pg_type WHERE typname = ANY($1)"#)
                .bind(REQUIRED_TYPES)
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .collect();
        Ok::<_, sqlx::Error>((present, types))
    }
    .await;
    let (present, types) = conn.finish(found)?;
    let missing = missing_items(&present, &types);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ProcessingError::SchemaMismatch { missing })
    }
}

fn missing_items(present: &HashSet<(String, String)>, types: &HashSet<String>) -> Vec<String> {
    let mut missing = Vec::new();
    for (table, columns) in REQUIRED_COLUMNS {
        if !present.iter().any(|(t, _)| t == table) {
            missing.push(format!("table {table}"));
            continue;
        }
        for column in *columns {
            if !present.contains(&(table.to_string(), column.to_string())) {
                missing.push(format!("{table}.{column}"));
            }
        }
    }
    for ty in REQUIRED_TYPES {
        if !types.contains(*ty) {
            missing.push(format!("type \"{ty}\""));
        }
    }
    missing
}
