//! `migrate()` and the schema check at `connect()`, against a real PostgreSQL.

mod common;

use common::TestDb;
use devmetrics_webhook_core::{migrate, ErrorCode, ProcessingError, WebhookProcessor};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// The migration directories shipped in prisma/migrations, sorted, with Prisma's checksum
/// (sha256 of the file, hex).
fn shipped_migrations() -> Vec<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../prisma/migrations");
    let mut found: Vec<(String, String)> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("migration.sql").is_file())
        .map(|e| {
            let sql = std::fs::read(e.path().join("migration.sql")).unwrap();
            let checksum: String = Sha256::digest(&sql)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            (e.file_name().to_string_lossy().into_owned(), checksum)
        })
        .collect();
    found.sort();
    assert!(!found.is_empty(), "no migrations in {}", root.display());
    found
}

/// (migration_name, checksum, finished, rolled back, applied_steps_count) as recorded.
async fn recorded(db: &TestDb) -> Vec<(String, String, bool, bool, i32)> {
    sqlx::query_as(
        r#"SELECT migration_name, checksum, finished_at IS NOT NULL, rolled_back_at IS NOT NULL,
                  applied_steps_count
           FROM "_prisma_migrations" ORDER BY migration_name"#,
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

fn schema_mismatch(result: Result<WebhookProcessor, ProcessingError>) -> Vec<String> {
    match result {
        Err(ProcessingError::SchemaMismatch { missing }) => missing,
        Err(other) => panic!("expected SCHEMA_MISMATCH, got {:?}: {other}", other.code()),
        Ok(_) => panic!("expected SCHEMA_MISMATCH, connect succeeded"),
    }
}

#[tokio::test]
async fn migrate_applies_every_migration_once_and_records_it_like_prisma() {
    let db = TestDb::empty().await;
    let shipped = shipped_migrations();
    let names: Vec<String> = shipped.iter().map(|(n, _)| n.clone()).collect();

    let first = migrate(&db.url).await.unwrap();
    assert_eq!(first.applied, names);
    assert!(first.already_applied.is_empty());
    let expected: Vec<_> = shipped
        .iter()
        .map(|(name, checksum)| (name.clone(), checksum.clone(), true, false, 1))
        .collect();
    assert_eq!(recorded(&db).await, expected);

    let second = migrate(&db.url).await.unwrap();
    assert!(second.applied.is_empty());
    assert_eq!(second.already_applied, names);
    assert_eq!(
        recorded(&db).await,
        expected,
        "a second run records nothing"
    );

    // The tables exist, under Prisma's names.
    for table in [
        "users",
        "teams",
        "team_members",
        "repositories",
        "events",
        "commits",
    ] {
        assert_eq!(db.count(table).await, 0, "{table}");
    }
}

#[tokio::test]
async fn concurrent_migrations_serialise_on_prismas_lock() {
    let db = TestDb::empty().await;
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { migrate(&url).await })
        })
        .collect();
    let mut applied = 0;
    for run in runs {
        let report = run.await.unwrap().unwrap();
        applied += report.applied.len();
    }
    let shipped = shipped_migrations();
    assert_eq!(
        applied,
        shipped.len(),
        "each migration applied by exactly one run"
    );
    assert_eq!(recorded(&db).await.len(), shipped.len());
}

#[tokio::test]
async fn connect_to_an_unmigrated_database_names_the_missing_tables() {
    let db = TestDb::empty().await;
    let missing = schema_mismatch(WebhookProcessor::connect(db.options()).await);
    for table in ["users", "team_members", "repositories", "events", "commits"] {
        assert!(
            missing.contains(&format!("table {table}")),
            "{table} not in {missing:?}"
        );
    }
    let err = WebhookProcessor::connect(db.options()).await.err().unwrap();
    assert_eq!(err.code(), ErrorCode::SchemaMismatch);
    assert!(!err.code().retryable());
    assert!(
        err.to_string().contains("table events"),
        "the message names what is missing: {err}"
    );
}

#[tokio::test]
async fn connect_to_a_partially_migrated_database_names_exactly_what_is_missing() {
    let db = TestDb::migrated().await;
    sqlx::raw_sql(
        r#"ALTER TABLE commits DROP COLUMN "authorIsBot";
           ALTER TABLE events DROP COLUMN "lastError";
           DROP TABLE team_members;"#,
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let missing = schema_mismatch(WebhookProcessor::connect(db.options()).await);
    assert_eq!(
        missing,
        [
            "table team_members",
            "events.lastError",
            "commits.authorIsBot"
        ]
    );
}

#[tokio::test]
async fn connect_to_a_migrated_database_succeeds_and_close_is_final() {
    let db = TestDb::migrated().await;
    let processor = db.processor().await;
    processor.close().await;
    let err = processor
        .process(common::job(
            "d",
            "push",
            common::push::payload(1, Vec::new()),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ProcessorClosed);
    assert!(err.code().retryable());
}

#[tokio::test]
async fn migrate_on_an_unreachable_server_is_database_unavailable() {
    // Port 1 on localhost refuses connections at once.
    let err = migrate("postgres://postgres@127.0.0.1:1/postgres")
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::DatabaseUnavailable);
    assert!(err.code().retryable());
}
