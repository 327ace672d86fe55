//! `linkGithubUser`: records a GitHub account on a DevMetrics user, invalidates every cache
//! tier, and back-fills the rows written before the user was known.
//!
//! Order matters for workers processing concurrently: (1) the `users` row commits, so any
//! statement from now on maps the person (directly or through the author-column fallback);
//! (2) the caches forget the identities, here and, through Redis, in every processor;
//! (3) the back-fill attributes the earlier committed rows in bounded passes, then waits on
//! the barrier for in-flight event transactions and attributes what they wrote (see
//! `store::authors`).

use super::{Identity, UserDirectory};
use crate::error::{ProcessingError, Result};
use crate::metrics::{derive_jobs, Activity, MetricJob};
use crate::result::RecordCounts;
use crate::store::authors::{self, AuthorKeys};
use crate::time;
use sqlx::Connection;

/// The GitHub side of a link. `email`, if given, is stored as one of the user's commit
/// emails (`user_github_emails`; users.email belongs to the backend): commits by that
/// address map to the user, earlier ones through the back-fill, later and rebuilt ones
/// through the lookup.
#[derive(Debug, Clone, Default)]
pub struct GithubAccount {
    pub id: Option<i64>,
    pub login: Option<String>,
    pub email: Option<String>,
}

/// What a link did.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkOutcome {
    pub user_id: String,
    /// Earlier rows now attributed to the user.
    pub backfilled: RecordCounts,
    /// Metric jobs for the activity dates of those rows, for the worker to queue.
    pub metric_jobs: Vec<MetricJob>,
}

#[derive(sqlx::FromRow)]
struct Previous {
    github_id: Option<i64>,
    login: Option<String>,
    email: String,
}

impl UserDirectory {
    /// Links `user_id` to a GitHub account. Unknown user, or an account already linked to
    /// someone else: `CONSTRAINT_VIOLATION`. No field given: `INVALID_JOB`.
    pub async fn link(&self, user_id: &str, account: &GithubAccount) -> Result<LinkOutcome> {
        let login = account
            .login
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty());
        let email = account
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty());
        if account.id.is_none() && login.is_none() && email.is_none() {
            return Err(ProcessingError::InvalidJob(
                "linkGithubUser needs an id, a login or an email".into(),
            ));
        }
        if account.id.is_some_and(|id| id < 1) {
            return Err(ProcessingError::InvalidJob(
                "a GitHub id is a positive integer".into(),
            ));
        }

        // (1) The mapping itself: the user's GitHub id and login, and the linked email (in
        // `user_github_emails`, so later and rebuilt commits by it map too), in one
        // transaction. Safe to run again: it sets the same values.
        let mut tries = self.db.tries();
        let previous: Option<Previous> = loop {
            let mut conn = tries.lease().await?;
            let previous = async {
                let mut tx = conn.begin().await?;
                let previous: Option<Previous> = sqlx::query_as(
                    r#"WITH old AS (SELECT id, "githubId", "githubLogin" FROM users WHERE id = $1 FOR UPDATE)
                       UPDATE users u SET "githubId" = COALESCE($2, u."githubId"),
                                          "githubLogin" = COALESCE($3, u."githubLogin"),
                                          "updatedAt" = $4
                       FROM old WHERE u.id = old.id
                       RETURNING old."githubId" AS github_id, old."githubLogin" AS login, u.email"#,
                )
                .bind(user_id)
                .bind(account.id)
                .bind(login)
                .bind(time::now())
                .fetch_optional(&mut *tx)
                .await?;
                if let (Some(_), Some(email)) = (&previous, email) {
                    link_email(&mut tx, user_id, email).await?;
                }
                tx.commit().await?;
                Ok::<_, ProcessingError>(previous)
            }
            .await;
            if let Some(previous) = tries.finish(conn, previous)? {
                break previous;
            }
        };
        let Some(previous) = previous else {
            return Err(ProcessingError::ConstraintViolation(format!(
                "no user with id {user_id}"
            )));
        };

        // (2) Forget every identity whose answer may have changed, everywhere.
        let mut stale: Vec<Identity> = Vec::new();
        stale.extend(account.id.map(Identity::GithubId));
        stale.extend(previous.github_id.map(Identity::GithubId));
        stale.extend(login.map(Identity::login));
        stale.extend(previous.login.as_deref().map(Identity::login));
        stale.extend(email.map(Identity::email));
        stale.push(Identity::email(&previous.email));
        stale.sort();
        stale.dedup();
        self.invalidate(&stale).await?;

        // (3) Attribute earlier rows, after in-flight event transactions.
        let keys = AuthorKeys {
            github_id: account.id,
            login,
            email,
        };
        // Earlier committed rows first, in bounded passes outside the barrier, so events go
        // on meanwhile. Safe to run again: a second run finds only rows the first did not
        // attribute.
        let mut tries = self.db.tries();
        let early = loop {
            let mut conn = tries.lease().await?;
            let early = authors::backfill_committed(&mut conn, user_id, keys).await;
            if let Some(early) = tries.finish(conn, early)? {
                break early;
            }
        };
        // Then, under the barrier, what in-flight events wrote meanwhile.
        let mut tries = self.db.tries();
        let mut backfill = loop {
            let mut conn = tries.lease().await?;
            let backfill = async {
                let mut tx = conn.begin().await?;
                let backfill = authors::backfill(&mut tx, user_id, keys).await?;
                tx.commit().await?;
                Ok::<_, ProcessingError>(backfill)
            }
            .await;
            if let Some(backfill) = tries.finish(conn, backfill)? {
                break backfill;
            }
        };

        backfill.add(early);

        // Once more, best effort: a lookup that read `users` before (1) committed may have
        // put its stale answer into Redis after (2) deleted it.
        if let Some(redis) = &self.redis {
            redis.invalidate(&stale).await;
        }

        let user = self.resolve(&[Identity::email(&previous.email)]).await?;
        let mapped = user.get(&Identity::email(&previous.email)).cloned();
        let activities: Vec<Activity> = backfill
            .activity
            .iter()
            .map(|&at| Activity {
                user: mapped.clone(),
                at,
            })
            .collect();
        Ok(LinkOutcome {
            user_id: user_id.to_owned(),
            backfilled: backfill.records,
            metric_jobs: derive_jobs(&activities, None, time::now().and_utc().timestamp() / 60),
        })
    }
}

/// Stores `email` (lowercased) as one of `user_id`'s commit emails. An address linked to
/// another user, or another user's own `users.email` (which the lookup already maps to
/// them), is `CONSTRAINT_VIOLATION`: one address maps to one user.
async fn link_email(tx: &mut sqlx::PgConnection, user_id: &str, email: &str) -> Result<()> {
    let owner: Option<String> = sqlx::query_scalar(
        r#"SELECT id FROM users WHERE lower(email) = lower($1) AND id <> $2 LIMIT 1"#,
    )
    .bind(email)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    if owner.is_some() {
        return Err(ProcessingError::ConstraintViolation(format!(
            "{email} is another user's email"
        )));
    }
    // DO UPDATE (a no-op) rather than DO NOTHING, so the row's owner is returned either way.
    let linked: String = sqlx::query_scalar(
        r#"INSERT INTO user_github_emails (id, "userId", email, "createdAt")
           VALUES ($1, $2, lower($3), $4)
           ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email
           RETURNING "userId""#,
    )
    .bind(crate::store::new_id())
    .bind(user_id)
    .bind(email)
    .bind(time::now())
    .fetch_one(&mut *tx)
    .await?;
    if linked != user_id {
        return Err(ProcessingError::ConstraintViolation(format!(
            "{email} is linked to another user"
        )));
    }
    Ok(())
}
