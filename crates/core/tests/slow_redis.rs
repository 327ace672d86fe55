//! A link reaches every processor's cache within its bound, or rejects (DESIGN.md,
//! "Lifecycle"): with the shared Redis stopped (SIGSTOP: connections stay open, nothing
//! answers), `link_github_user` rejects instead of skipping the invalidation, and another
//! processor that cached the person as unknown still sees the link within the in-process
//! tier's bound. A private redis-server on its own port; nothing here sleeps to synchronise.

mod common;

use common::TestDb;
use devmetrics_webhook_core::users::link::GithubAccount;
use devmetrics_webhook_core::{ErrorCode, WebhookProcessor};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const OCTOCAT: i64 = 583231;

/// A redis-server of the test's own, killed on drop.
struct PrivateRedis {
    child: Child,
    url: String,
}

impl PrivateRedis {
    async fn start() -> PrivateRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server");
        let redis = PrivateRedis {
            child,
            url: format!("redis://127.0.0.1:{port}"),
        };
        let client = redis::Client::open(redis.url.as_str()).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                if redis::cmd("PING")
                    .query_async::<String>(&mut c)
                    .await
                    .is_ok()
                {
                    return redis;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            // Polling pace, not synchronisation.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.signal("-CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn processor(db: &TestDb, redis: &PrivateRedis) -> WebhookProcessor {
    let mut options = db.options();
    options.redis_url = Some(redis.url.clone());
    WebhookProcessor::connect(options).await.unwrap()
}

/// Asks `p` until it maps octocat to `user` (at most 30 s).
async fn until_mapped(p: &WebhookProcessor, user: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if p.user_id_by_github_id(OCTOCAT).await.unwrap().as_deref() == Some(user) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the link never reached the other processor"
        );
        // Polling pace, not synchronisation.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn octocat() -> GithubAccount {
    GithubAccount {
        id: Some(OCTOCAT),
        login: None,
        email: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_through_a_stopped_redis_rejects_and_still_reaches_the_others_within_the_bound() {
    let db = TestDb::migrated().await;
    let user = db.insert_user("mona@corp.example", None, None, &[]).await;
    let redis = PrivateRedis::start().await;
    let linker = processor(&db, &redis).await;
    let other = processor(&db, &redis).await;
    // The other processor knows octocat as nobody, in memory and in Redis.
    assert_eq!(other.user_id_by_github_id(OCTOCAT).await.unwrap(), None);

    redis.signal("-STOP");
    let err = linker
        .link_github_user(&user, &octocat())
        .await
        .expect_err("a link whose invalidation Redis never took must reject");
    assert_eq!(err.code(), ErrorCode::DatabaseUnavailable);
    assert!(err.code().retryable());
    // The mapping itself is stored; the other processor's stale entry ages out.
    until_mapped(&other, &user).await;

    // Redis back: linking again (idempotent) resolves.
    redis.signal("-CONT");
    let link = linker.link_github_user(&user, &octocat()).await.unwrap();
    assert_eq!(link.user_id, user);
    linker.close().await;
    other.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_through_a_healthy_redis_reaches_the_others() {
    let db = TestDb::migrated().await;
    let user = db.insert_user("mona@corp.example", None, None, &[]).await;
    let redis = PrivateRedis::start().await;
    let linker = processor(&db, &redis).await;
    let other = processor(&db, &redis).await;
    assert_eq!(other.user_id_by_github_id(OCTOCAT).await.unwrap(), None);
    linker.link_github_user(&user, &octocat()).await.unwrap();
    until_mapped(&other, &user).await;
    linker.close().await;
    other.close().await;
}
