//! DevMetrics repositories by GitHub id or by our own id, cached in process. Only found
//! repositories are cached: an unknown one must be found as soon as the backend adds it.

use crate::error::{ProcessingError, Result};
use crate::store::connections::Connections;
use crate::time::Timestamp;
use std::sync::Arc;
use std::time::Duration;

/// The repository a delivery belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoInfo {
    pub id: String,
    pub github_id: i64,
    pub team_id: Option<String>,
    /// When GitHub stopped giving us this repository (removed from the installation, or
    /// uninstalled): deliveries received since are stored as `ignored`.
    pub tracking_stopped_at: Option<Timestamp>,
    /// When the repository was deleted on GitHub (terminal).
    pub deleted_at: Option<Timestamp>,
    pub full_name: String,
    /// The ordinary delivery whose auto-registration registered this repository, if one did
    /// (its `repository_changes` fact): every attempt of that delivery carries the backfill
    /// follow-up, so a retry after a failure, or a duplicate after the queueing failed, does
    /// not lose it (the follow-up's job id makes the second add a no-op).
    pub registered_by: Option<String>,
}

impl RepoInfo {
    /// Why a delivery received at `received_at` is not processed, if it is not: the
    /// repository was removed from tracking, or deleted, before it was received. A delivery
    /// received earlier is processed whenever it comes (it happened while tracked).
    pub fn untracked_reason(&self, received_at: Timestamp) -> Option<String> {
        if let Some(at) = self.deleted_at.filter(|at| received_at >= *at) {
            return Some(format!("repository deleted on GitHub ({at} UTC)"));
        }
        self.tracking_stopped_at
            .filter(|at| received_at >= *at)
            .map(|at| format!("repository removed from tracking ({at} UTC)"))
    }
}

/// A repository's row, and the ordinary delivery that registered it (`RepoInfo::registered_by`:
/// its fact, the latest such; `crate::follow` writes one only when it inserts the row).
const SELECT_REPOSITORY: &str = r#"SELECT r.id, r."githubId", r."teamId", r."trackingStoppedAt", r."deletedAt", r."fullName",
       (SELECT c."deliveryId" FROM repository_changes c
         WHERE c."repoGithubId" = r."githubId" AND c.tracked
           AND c.event NOT IN ('installation', 'installation_repositories', 'register')
         ORDER BY c."createdAt" DESC, c.id DESC LIMIT 1)
  FROM repositories r"#;

#[derive(Clone, PartialEq, Eq, Hash)]
enum RepoKey {
    GithubId(i64),
    Id(String),
}

pub struct RepositoryDirectory {
    db: Arc<Connections>,
    cache: moka::sync::Cache<RepoKey, Arc<RepoInfo>>,
}

impl RepositoryDirectory {
    pub fn new(db: Arc<Connections>, ttl: Duration) -> Self {
        let cache = moka::sync::Cache::builder()
            .max_capacity(50_000)
            .time_to_live(ttl)
            .build();
        RepositoryDirectory { db, cache }
    }

    /// The repository of a delivery: the job's `repoId` wins over the payload's
    /// `repository.id`. `Ok(None)` when neither names a known repository.
    pub async fn find(
        &self,
        repo_id: Option<&str>,
        github_id: Option<i64>,
    ) -> Result<Option<Arc<RepoInfo>>> {
        let key = match (repo_id, github_id) {
            (Some(id), _) => RepoKey::Id(id.to_owned()),
            (None, Some(g)) => RepoKey::GithubId(g),
            (None, None) => return Ok(None),
        };
        if let Some(hit) = self.cache.get(&key) {
            return Ok(Some(hit));
        }
        let mut tries = self.db.tries();
        type Row = (
            String,
            i64,
            Option<String>,
            Option<Timestamp>,
            Option<Timestamp>,
            String,
            Option<String>,
        );
        let row: Option<Row> = loop {
            let mut conn = tries.lease().await?;
            let row = match &key {
                RepoKey::Id(id) => {
                    sqlx::query_as(&format!("{SELECT_REPOSITORY} WHERE r.id = $1"))
                        .bind(id)
                        .fetch_optional(&mut *conn)
                        .await
                }
                RepoKey::GithubId(g) => {
                    sqlx::query_as(&format!(r#"{SELECT_REPOSITORY} WHERE r."githubId" = $1"#))
                        .bind(g)
                        .fetch_optional(&mut *conn)
                        .await
                }
            };
            if let Some(row) = tries.finish(conn, row)? {
                break row;
            }
        };
        Ok(row.map(
            |(
                id,
                github_id,
                team_id,
                tracking_stopped_at,
                deleted_at,
                full_name,
                registered_by,
            )| {
                let info = Arc::new(RepoInfo {
                    id,
                    github_id,
                    team_id,
                    tracking_stopped_at,
                    deleted_at,
                    full_name,
                    registered_by,
                });
                self.cache.insert(key, info.clone());
                info
            },
        ))
    }

    /// Forgets every cached repository: a delivery changed which are tracked (rare; the
    /// cache refills from the database). Other processes see the change within the TTL.
    pub fn forget_all(&self) {
        self.cache.invalidate_all();
    }

    /// Forgets a cached repository under both its keys: a write found its id gone from
    /// `repositories` (the backend deleted it, and may have registered the GitHub
    /// repository again under a new id), so the next lookup reads the database.
    pub fn forget(&self, repo: &RepoInfo) {
        self.cache.invalidate(&RepoKey::Id(repo.id.clone()));
        self.cache.invalidate(&RepoKey::GithubId(repo.github_id));
    }

    /// Like [`find`](Self::find) but a missing repository is `UNKNOWN_REPOSITORY`.
    pub async fn require(
        &self,
        repo_id: Option<&str>,
        github_id: Option<i64>,
    ) -> Result<Arc<RepoInfo>> {
        self.find(repo_id, github_id).await?.ok_or_else(|| {
            ProcessingError::UnknownRepository(match (repo_id, github_id) {
                (Some(id), _) => format!("no repository with id {id}"),
                (None, Some(g)) => format!("no repository with GitHub id {g}"),
                (None, None) => "the payload names no repository".into(),
            })
        })
    }
}
