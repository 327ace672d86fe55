//! The shared user-mapping tier in Redis, between the in-process cache and PostgreSQL.
//!
//! Several worker processes share it, so one process's database lookup serves the others,
//! and a link (`linkGithubUser`) invalidates every process: keys are deleted and the
//! identities published on a channel each processor subscribes to.
//!
//! Redis is a cache here, never a dependency: every operation has a short timeout, a
//! failure marks the tier unavailable (logged once, visible in stats) and lookups go to the
//! database until a retry, a few seconds later, finds Redis back.

use super::{Identity, MappedUser};
use crate::error::{ProcessingError, Result};
use crate::text::redact_credentials;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest a cache operation may take before the tier counts as unavailable.
const OP_TIMEOUT: Duration = Duration::from_millis(250);
/// How long an unavailable tier is skipped before the next try.
const RETRY_AFTER: Duration = Duration::from_secs(2);
/// How long a link may spend making Redis take its invalidation before it rejects; with
/// the in-process tier's bound (`users::MEMORY_BOUND`) it keeps a link's reach under 5 s.
pub const LINK_BUDGET: Duration = Duration::from_secs(2);

/// What a cached identity maps to: a user, or known to be nobody.
pub type Entry = Option<Arc<MappedUser>>;

/// An invalidation received from another processor (or our own, echoed).
#[derive(Debug, PartialEq, Eq)]
pub enum Invalidation {
    Identities(Vec<Identity>),
    /// The subscription was interrupted: messages may have been missed.
    Everything,
}

/// Availability of the tier, for stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisHealth {
    pub available: bool,
    pub errors: u64,
}

pub struct RedisTier {
    client: redis::Client,
    connection: Mutex<Option<ConnectionManager>>,
    prefix: String,
    down: AtomicBool,
    retry_at: Mutex<Option<Instant>>,
    errors: AtomicU64,
    subscriber: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl RedisTier {
    /// A tier on `url` whose keys start with `prefix`. Does not connect yet: a Redis that
    /// is down at start must not stop processing.
    /// `CONFIG_ERROR` for a URL Redis' client cannot use; checked before connecting
    /// anything else, so a typo fails fast.
    pub fn check_url(url: &str) -> Result<()> {
        Self::client(url).map(|_| ())
    }

    fn client(url: &str) -> Result<redis::Client> {
        redis::Client::open(url).map_err(|e| {
            ProcessingError::Config(format!(
                "invalid redisUrl: {}",
                redact_credentials(&e.to_string())
            ))
        })
    }

    pub fn new(url: &str, prefix: &str) -> Result<Self> {
        let client = Self::client(url)?;
        Ok(RedisTier {
            client,
            connection: Mutex::new(None),
            prefix: prefix.to_owned(),
            down: AtomicBool::new(false),
            retry_at: Mutex::new(None),
            errors: AtomicU64::new(0),
            subscriber: Mutex::new(None),
        })
    }

    pub fn health(&self) -> RedisHealth {
        RedisHealth {
            available: !self.down.load(Relaxed),
            errors: self.errors.load(Relaxed),
        }
    }

    fn key(&self, identity: &Identity) -> String {
        format!("{}user:{}", self.prefix, identity.cache_key())
    }

    fn channel(&self) -> String {
        format!("{}user-invalidations", self.prefix)
    }

    /// Looks identities up; `None` when the tier is unavailable. Inner `None` is a miss.
    pub async fn get_many(&self, identities: &[&Identity]) -> Option<Vec<Option<Entry>>> {
        let keys: Vec<String> = identities.iter().map(|i| self.key(i)).collect();
        let values: Vec<Option<String>> = self
            .run(|mut c| async move { redis::cmd("MGET").arg(&keys).query_async(&mut c).await })
            .await?;
        Some(values.into_iter().map(|v| v.map(|s| decode(&s))).collect())
    }

    /// Stores looked-up entries: users for `ttl`, unknown users for at most `negative_ttl`.
    pub async fn put_many(
        &self,
        entries: &[(Identity, Entry)],
        ttl: Duration,
        negative_ttl: Duration,
    ) {
        let mut pipe = redis::pipe();
        for (identity, entry) in entries {
            let secs = if entry.is_some() {
                ttl
            } else {
                negative_ttl.min(ttl)
            }
            .as_secs()
            .max(1);
            pipe.set_ex(self.key(identity), encode(entry), secs)
                .ignore();
        }
        let _: Option<()> = self
            .run(|mut c| async move { pipe.query_async(&mut c).await })
            .await;
    }

    /// Deletes the identities' keys and tells every subscribed processor to drop them.
    pub async fn invalidate(&self, identities: &[Identity]) {
        if identities.is_empty() {
            return;
        }
        let keys: Vec<String> = identities.iter().map(|i| self.key(i)).collect();
        let message = identities
            .iter()
            .map(Identity::cache_key)
            .collect::<Vec<_>>()
            .join("\n");
        let mut pipe = redis::pipe();
        pipe.del(&keys)
            .ignore()
            .publish(self.channel(), message)
            .ignore();
        let _: Option<()> = self
            .run(|mut c| async move { pipe.query_async(&mut c).await })
            .await;
    }

    /// A link's invalidation: deletes the identities' keys and publishes them to every
    /// subscribed processor, trying again (even while the tier is marked unavailable) until
    /// it succeeds or [`LINK_BUDGET`] has passed. `Err` says why it could not: the caller
    /// must not report the link as having reached the other processors.
    pub async fn announce(&self, identities: &[Identity]) -> std::result::Result<(), String> {
        if identities.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = identities.iter().map(|i| self.key(i)).collect();
        let message = identities
            .iter()
            .map(Identity::cache_key)
            .collect::<Vec<_>>()
            .join("\n");
        let deadline = tokio::time::Instant::now() + LINK_BUDGET;
        let mut last = String::from("no attempt");
        while tokio::time::Instant::now() < deadline {
            let attempt = async {
                let mut connection = match self.connection.lock().ok().and_then(|c| c.clone()) {
                    Some(c) => c,
                    None => {
                        let c = self.client.get_connection_manager().await?;
                        if let Ok(mut slot) = self.connection.lock() {
                            *slot = Some(c.clone());
                        }
                        c
                    }
                };
                let mut pipe = redis::pipe();
                pipe.del(&keys)
                    .ignore()
                    .publish(self.channel(), &message)
                    .ignore();
                pipe.query_async::<()>(&mut connection).await
            };
            match tokio::time::timeout_at(deadline, attempt).await {
                Ok(Ok(())) => {
                    self.succeeded();
                    return Ok(());
                }
                Ok(Err(e)) => last = redact_credentials(&e.to_string()),
                Err(_) => last = "timed out".to_owned(),
            }
            self.failed(&last);
            // Pacing between attempts, not synchronisation.
            tokio::time::sleep(OP_TIMEOUT / 5).await;
        }
        Err(format!(
            "Redis did not take the invalidation within {} ms: {last}",
            LINK_BUDGET.as_millis()
        ))
    }

    /// Subscribes to invalidations in the background until [`stop`](Self::stop); after an
    /// interruption it resubscribes and reports `Everything` (messages may have been lost).
    pub fn start_subscriber(&self, on_invalidation: impl Fn(Invalidation) + Send + Sync + 'static) {
        let client = self.client.clone();
        let channel = self.channel();
        let task = tokio::spawn(async move {
            let mut interrupted = false;
            loop {
                if let Ok(Ok(mut pubsub)) =
                    tokio::time::timeout(OP_TIMEOUT * 4, client.get_async_pubsub()).await
                {
                    if pubsub.subscribe(&channel).await.is_ok() {
                        if interrupted {
                            on_invalidation(Invalidation::Everything);
                        }
                        let mut messages = pubsub.on_message();
                        while let Some(msg) = messages.next().await {
                            if let Ok(payload) = msg.get_payload::<String>() {
                                let ids = payload
                                    .lines()
                                    .filter_map(Identity::from_cache_key)
                                    .collect();
                                on_invalidation(Invalidation::Identities(ids));
                            }
                        }
                    }
                }
                interrupted = true;
                // Reconnect pacing for a background task, not synchronisation.
                tokio::time::sleep(RETRY_AFTER).await;
            }
        });
        if let Ok(mut slot) = self.subscriber.lock() {
            if let Some(old) = slot.replace(task) {
                old.abort();
            }
        }
    }

    /// Stops the subscriber task.
    pub fn stop(&self) {
        if let Some(task) = self.subscriber.lock().ok().and_then(|mut s| s.take()) {
            task.abort();
        }
    }

    /// Runs one operation on the shared connection with a timeout; `None`, and the tier
    /// marked unavailable, on any failure.
    async fn run<T, Fut>(&self, op: impl FnOnce(ConnectionManager) -> Fut) -> Option<T>
    where
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let connection = self.connection().await?;
        match tokio::time::timeout(OP_TIMEOUT, op(connection)).await {
            Ok(Ok(value)) => {
                self.succeeded();
                Some(value)
            }
            Ok(Err(e)) => {
                self.failed(&e.to_string());
                None
            }
            Err(_) => {
                self.failed("operation timed out");
                None
            }
        }
    }

    /// The multiplexed connection, opened on first use; `None` while the tier is skipped.
    async fn connection(&self) -> Option<ConnectionManager> {
        if self
            .retry_at
            .lock()
            .ok()
            .and_then(|at| *at)
            .is_some_and(|at| Instant::now() < at)
        {
            return None;
        }
        if let Some(existing) = self.connection.lock().ok().and_then(|c| c.clone()) {
            return Some(existing);
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(OP_TIMEOUT))
            .set_response_timeout(Some(OP_TIMEOUT))
            .set_number_of_retries(1);
        match tokio::time::timeout(
            OP_TIMEOUT * 2,
            self.client.get_connection_manager_with_config(config),
        )
        .await
        {
            Ok(Ok(connection)) => {
                if let Ok(mut slot) = self.connection.lock() {
                    *slot = Some(connection.clone());
                }
                Some(connection)
            }
            Ok(Err(e)) => {
                self.failed(&e.to_string());
                None
            }
            Err(_) => {
                self.failed("connect timed out");
                None
            }
        }
    }

    fn failed(&self, why: &str) {
        self.errors.fetch_add(1, Relaxed);
        if let Ok(mut at) = self.retry_at.lock() {
            *at = Some(Instant::now() + RETRY_AFTER);
        }
        if !self.down.swap(true, Relaxed) {
            tracing::warn!(
                error = %redact_credentials(why),
                "Redis user cache unavailable; using database lookups until it is back"
            );
        }
    }

    fn succeeded(&self) {
        if self.down.swap(false, Relaxed) {
            tracing::warn!("Redis user cache available again");
        }
    }
}

fn encode(entry: &Entry) -> String {
    match entry {
        None => "-".to_owned(),
        Some(user) => serde_json::to_string(user.as_ref()).unwrap_or_else(|_| "-".to_owned()),
    }
}

fn decode(value: &str) -> Entry {
    if value == "-" {
        return None;
    }
    serde_json::from_str::<MappedUser>(value).ok().map(Arc::new)
}
