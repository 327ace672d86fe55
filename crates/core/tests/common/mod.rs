//! A private PostgreSQL database per test, for the integration tests of this crate.
//!
//! ```ignore
//! mod common;
//! let db = common::TestDb::migrated().await;   // wpc_<random>, migrations applied
//! let processor = db.processor().await;        // a WebhookProcessor on it
//! // ... db.url, db.pool (a sqlx pool for seeding and reading rows)
//! // the database is dropped WITH (FORCE) when `db` goes out of scope, panics included
//! ```
//!
//! The server is `TEST_DATABASE_URL` (an admin URL, any database) or
//! `postgres://postgres@127.0.0.1:5432/postgres`.

// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

pub mod delivery;
pub mod dora;
pub mod push;

use devmetrics_webhook_core::{ProcessorOptions, WebhookJob, WebhookProcessor};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};

pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The server's admin URL, from `TEST_DATABASE_URL` or the default.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

/// A database of its own, dropped on drop.
pub struct TestDb {
    pub name: String,
    pub url: String,
    /// A small pool on the test database, for seeding and reading rows.
    pub pool: PgPool,
}

impl TestDb {
    /// A fresh database with every migration applied (by `webhook_core::migrate`).
    pub async fn migrated() -> TestDb {
        let db = TestDb::empty().await;
        devmetrics_webhook_core::migrate(&db.url)
            .await
            .expect("migrate the test database");
        db
    }

    /// A fresh database without any schema.
    pub async fn empty() -> TestDb {
        let admin = admin_url();
        let name = format!("wpc_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin)
            .await
            .expect("connect to the test server (TEST_DATABASE_URL)");
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create the test database");
        let _ = conn.close().await;
        // From here on, Drop removes the database whatever happens.
        let url = with_database(&admin, &name);
        let pool = match PgPoolOptions::new().max_connections(4).connect(&url).await {
            Ok(pool) => pool,
            Err(e) => {
                drop_database(&admin, &name);
                panic!("connect to the test database: {e}");
            }
        };
        TestDb { name, url, pool }
    }

    /// Options for a processor on this database.
    pub fn options(&self) -> ProcessorOptions {
        let mut options = ProcessorOptions::new(&self.url);
        options.max_connections = 10;
        options
    }

    /// A processor on this database.
    pub async fn processor(&self) -> WebhookProcessor {
        WebhookProcessor::connect(self.options())
            .await
            .expect("connect a processor")
    }

    /// `SELECT count(*) FROM <table>`.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.pool)
            .await
            .expect("count rows")
    }

    pub async fn insert_team(&self, name: &str) -> String {
        let id = new_id();
        sqlx::query("INSERT INTO teams (id, name) VALUES ($1, $2)")
            .bind(&id)
            .bind(name)
            .execute(&self.pool)
            .await
            .expect("insert team");
        id
    }

    /// A repository known to DevMetrics by its GitHub id.
    pub async fn insert_repository(&self, github_id: i64, team_id: Option<&str>) -> String {
        let id = new_id();
        sqlx::query(
            r#"INSERT INTO repositories (id, "githubId", "fullName", "teamId") VALUES ($1, $2, $3, $4)"#,
        )
        .bind(&id)
        .bind(github_id)
        .bind(format!("octo/repo-{github_id}"))
        .bind(team_id)
        .execute(&self.pool)
        .await
        .expect("insert repository");
        id
    }

    /// A DevMetrics user, optionally linked to a GitHub login / id, in the given teams.
    pub async fn insert_user(
        &self,
        email: &str,
        github_login: Option<&str>,
        github_id: Option<i64>,
        team_ids: &[&str],
    ) -> String {
        let id = new_id();
        sqlx::query(
            r#"INSERT INTO users (id, email, "githubLogin", "githubId") VALUES ($1, $2, $3, $4)"#,
        )
        .bind(&id)
        .bind(email)
        .bind(github_login)
        .bind(github_id)
        .execute(&self.pool)
        .await
        .expect("insert user");
        for team in team_ids {
            sqlx::query(r#"INSERT INTO team_members ("teamId", "userId") VALUES ($1, $2)"#)
                .bind(team)
                .bind(&id)
                .execute(&self.pool)
                .await
                .expect("insert team member");
        }
        id
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop_database(&admin_url(), &self.name);
    }
}

/// Drops the database on a thread of its own (Drop cannot await, and may run inside a
/// runtime or during a panic). Never panics: a leftover database is only reported.
fn drop_database(admin: &str, name: &str) {
    let (admin, owned_name) = (admin.to_owned(), name.to_owned());
    let outcome = std::thread::spawn(move || {
        let name = owned_name;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let mut conn = PgConnection::connect(&admin)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            let _ = conn.close().await;
            Ok::<(), String>(())
        })
    })
    .join();
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("could not drop test database {name}: {e}"),
        Err(_) => eprintln!("could not drop test database {name}: the drop thread panicked"),
    }
}

/// `admin` with its database path replaced by `name` (query parameters kept).
pub fn with_database(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    let mut url = format!("{}/{name}", &base[..path]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A job for `event` with a JSON payload.
pub fn job(delivery_id: &str, event: &str, payload: impl Into<Vec<u8>>) -> WebhookJob {
    WebhookJob {
        delivery_id: delivery_id.to_owned(),
        event: event.to_owned(),
        payload: payload.into(),
        repo_id: None,
        received_at: None,
    }
}

/// A unique delivery id.
pub fn delivery() -> String {
    new_id()
}
