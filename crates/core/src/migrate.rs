//! Applies the embedded Prisma migrations and records them in Prisma's own
//! `_prisma_migrations` table (same DDL, same sha256 checksums), so a backend that later
//! runs `prisma migrate deploy` sees them as applied. Idempotent and safe to run from
//! several processes at once: it holds Prisma's advisory lock while it works.

use crate::error::{ProcessingError, Result};
use crate::text::redact_credentials;
use sha2::{Digest, Sha256};
use sqlx::{Connection, Executor, PgConnection};

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The advisory lock key `prisma migrate` takes.
const PRISMA_ADVISORY_LOCK: i64 = 72707369;

const CREATE_MIGRATIONS_TABLE: &str = r#"CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)"#;

/// What `migrate` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MigrationReport {
    pub applied: Vec<String>,
    pub already_applied: Vec<String>,
}

/// Applies every migration not yet recorded as finished.
pub async fn migrate(database_url: &str) -> Result<MigrationReport> {
    let mut conn =
        PgConnection::connect(database_url)
            .await
            .map_err(|e| match ProcessingError::from(e) {
                ProcessingError::Config(m) => ProcessingError::Config(m),
                other => {
                    ProcessingError::DatabaseUnavailable(redact_credentials(&other.to_string()))
                }
            })?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(PRISMA_ADVISORY_LOCK)
        .execute(&mut conn)
        .await?;
    let outcome = apply_all(&mut conn).await;
    let unlock = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(PRISMA_ADVISORY_LOCK)
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    let report = outcome?;
    unlock?;
    Ok(report)
}

async fn apply_all(conn: &mut PgConnection) -> Result<MigrationReport> {
    conn.execute(CREATE_MIGRATIONS_TABLE).await?;
    let mut report = MigrationReport::default();
    for (name, sql) in MIGRATIONS {
        let checksum = hex(&Sha256::digest(sql.as_bytes()));
        let recorded: Option<String> = sqlx::query_scalar(
            r#"SELECT checksum FROM "_prisma_migrations"
               WHERE migration_name = $1 AND finished_at IS NOT NULL AND rolled_back_at IS NULL"#,
        )
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(recorded) = recorded {
            if recorded != checksum {
                tracing::warn!(
                    migration = name,
                    "applied migration was edited afterwards; not reapplied"
                );
            }
            report.already_applied.push(name.to_string());
            continue;
        }
        let mut tx = conn.begin().await?;
        // A plain &str runs through the simple query protocol, which allows the several
        // statements of a migration file (and keeps the future provably Send, unlike raw_sql).
        tx.execute(*sql).await?;
        sqlx::query(
            r#"INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count)
               VALUES ($1, $2, now(), $3, 1)"#,
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&checksum)
        .bind(name)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        report.applied.push(name.to_string());
    }
    Ok(report)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
