//! The host process is sacred (DESIGN.md, "Lifecycle"): a processor dropped without
//! `close`, outside any tokio runtime (as a JS finalizer drops it) or while a panic unwinds,
//! releases its connections and never panics; a panicking test reports its failure.

mod common;

use common::TestDb;
use std::time::Duration;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

async fn processor_sessions(db: &TestDb) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'devmetrics-webhook-processor'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("count sessions")
}

/// Polls until the processor's sessions are gone (the server ends a backend just after its
/// client leaves), at most 20 s.
async fn until_no_sessions(db: &TestDb) -> i64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let n = processor_sessions(db).await;
        if n == 0 || tokio::time::Instant::now() > deadline {
            return n;
        }
        // Polling pace, not synchronisation.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn a_processor_dropped_unclosed_outside_the_runtime_releases_its_connections() {
    let rt = runtime();
    let (db, processor) = rt.block_on(async {
        let db = TestDb::migrated().await;
        let processor = db.processor().await;
        // Two lookups at once: two connections in the processor's idle list.
        let (a, b) = tokio::join!(
            processor.user_id_by_github_id(1),
            processor.user_id_by_github_id(2)
        );
        assert_eq!((a.unwrap(), b.unwrap()), (None, None));
        assert!(processor_sessions(&db).await > 0);
        (db, processor)
    });
    // This thread is outside the runtime, like Node's JS thread running a finalizer.
    drop(processor);
    assert_eq!(rt.block_on(until_no_sessions(&db)), 0);
}

#[test]
fn a_test_that_panics_holding_a_processor_reports_instead_of_aborting() {
    let rt = runtime();
    let db = rt.block_on(TestDb::migrated());
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let processor = rt.block_on(db.processor());
        rt.block_on(processor.user_id_by_github_id(1)).unwrap();
        panic!("a failing assertion while the processor is open");
    }));
    // Reaching this line is the point: the unwinding dropped the processor outside the
    // runtime without a second panic (which would abort the test binary).
    let message = outcome.expect_err("the closure panics");
    assert_eq!(
        message.downcast_ref::<&str>(),
        Some(&"a failing assertion while the processor is open")
    );
    assert_eq!(rt.block_on(until_no_sessions(&db)), 0);
}

#[test]
fn a_processor_whose_runtime_is_gone_drops_without_panicking() {
    let db_rt = runtime();
    let db = db_rt.block_on(TestDb::migrated());
    let rt = runtime();
    let processor = rt.block_on(async {
        let processor = db.processor().await;
        processor.user_id_by_github_id(1).await.unwrap();
        processor
    });
    // The process is exiting: napi's runtime is shut down before the last finalizers.
    rt.shutdown_timeout(Duration::from_secs(5));
    drop(processor);
    assert_eq!(db_rt.block_on(until_no_sessions(&db)), 0);
}
