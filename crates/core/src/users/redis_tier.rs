//! The shared user-mapping tier in Redis, between the in-process cache and PostgreSQL.
//!
//! Several worker processes share it, so one process's database lookup serves the others,
//! and a link (`linkGithubUser`) invalidates every process: keys are deleted and the
//! identities published on a channel each processor subscribes to.
//!
//! Redis is a cache here, never a dependency: every operation has a short timeout, a
//! failure marks the tier unavailable (logged once, visible in stats) and lookups go to the
//! database until a retry, a few seconds later, finds Redis back.
//!
//! On a Redis Cluster (a comma-separated list of startup nodes, or `?cluster=true` on one
//! URL) the tier uses the cluster client, which follows MOVED redirections and failovers.
//! Every key then carries one hash tag (the prefix, in braces, unless it has a tag already),
//! so MGET and the pipelines stay in one slot. Classic pub/sub is broadcast cluster-wide, so
//! the invalidation subscriber listens on any one node, trying the startup nodes in turn.

use super::{Identity, MappedUser};
use crate::error::{ProcessingError, Result};
use crate::text::redact_credentials;
use futures_util::StreamExt;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};
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

/// Where the tier connects: one server, or a cluster from its startup nodes.
enum Target {
    Single(redis::Client),
    Cluster(Box<ClusterClient>),
}

/// A connection of either kind; cheap to clone (both multiplex one socket per node).
#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(c) => c.req_packed_command(cmd),
            Connection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(c) => c.get_db(),
            Connection::Cluster(c) => c.get_db(),
        }
    }
}

/// A parsed `redisUrl`: the connection target and the servers the subscriber may listen on.
struct Endpoints {
    target: Target,
    subscribe_to: Vec<redis::Client>,
}

/// `?cluster=true` (or `&cluster=true`) removed from a URL, and whether it was there.
fn strip_cluster_flag(url: &str) -> (String, bool) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), false);
    };
    let mut cluster = false;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|p| {
            let flag = p.eq_ignore_ascii_case("cluster=true");
            cluster |= flag;
            !flag && !p.is_empty()
        })
        .collect();
    if rest.is_empty() {
        (base.to_owned(), cluster)
    } else {
        (format!("{base}?{}", rest.join("&")), cluster)
    }
}

/// The prefix with a hash tag, so all of the tier's keys hash to one cluster slot.
fn hash_tagged(prefix: &str) -> String {
    let tagged = prefix
        .find('{')
        .is_some_and(|open| prefix[open + 1..].find('}').is_some_and(|len| len > 0));
    if tagged {
        prefix.to_owned()
    } else {
        format!("{{{prefix}}}")
    }
}

pub struct RedisTier {
    target: Target,
    subscribe_to: Vec<redis::Client>,
    connection: Mutex<Option<Connection>>,
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
        Self::endpoints(url).map(|_| ())
    }

    fn endpoints(url: &str) -> Result<Endpoints> {
        let invalid = |e: redis::RedisError| {
            ProcessingError::Config(format!(
                "invalid redisUrl: {}",
                redact_credentials(&e.to_string())
            ))
        };
        let mut cluster = false;
        let mut nodes = Vec::new();
        for part in url.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (node, flagged) = strip_cluster_flag(part);
            cluster |= flagged;
            nodes.push(node);
        }
        if nodes.is_empty() {
            return Err(ProcessingError::Config("invalid redisUrl: empty".into()));
        }
        let subscribe_to = nodes
            .iter()
            .map(|n| redis::Client::open(n.as_str()).map_err(invalid))
            .collect::<Result<Vec<_>>>()?;
        let target = if cluster || nodes.len() > 1 {
            Target::Cluster(Box::new(
                ClusterClient::builder(nodes)
                    .connection_timeout(OP_TIMEOUT)
                    .response_timeout(OP_TIMEOUT)
                    .retries(1)
                    .build()
                    .map_err(invalid)?,
            ))
        } else {
            Target::Single(subscribe_to[0].clone())
        };
        Ok(Endpoints {
            target,
            subscribe_to,
        })
    }

    pub fn new(url: &str, prefix: &str) -> Result<Self> {
        let Endpoints {
            target,
            subscribe_to,
        } = Self::endpoints(url)?;
        let prefix = match target {
            Target::Cluster(_) => hash_tagged(prefix),
            Target::Single(_) => prefix.to_owned(),
        };
        Ok(RedisTier {
            target,
            subscribe_to,
            connection: Mutex::new(None),
            prefix,
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
                let mut connection = self.open().await?;
                let mut pipe = redis::pipe();
                pipe.del(&keys)
                    .ignore()
                    .publish(self.channel(), &message)
                    .ignore();
                pipe.query_async::<()>(&mut connection)
                    .await
                    .map_err(|e| e.to_string())
            };
            match tokio::time::timeout_at(deadline, attempt).await {
                Ok(Ok(())) => {
                    self.succeeded();
                    return Ok(());
                }
                Ok(Err(e)) => last = redact_credentials(&e),
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
        let servers = self.subscribe_to.clone();
        let channel = self.channel();
        let task = tokio::spawn(async move {
            let mut interrupted = false;
            // On a cluster, a node that is gone hands over to the next startup node.
            for client in servers.iter().cycle() {
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
    async fn run<T, Fut>(&self, op: impl FnOnce(Connection) -> Fut) -> Option<T>
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
    async fn connection(&self) -> Option<Connection> {
        if self
            .retry_at
            .lock()
            .ok()
            .and_then(|at| *at)
            .is_some_and(|at| Instant::now() < at)
        {
            return None;
        }
        match self.open().await {
            Ok(connection) => Some(connection),
            Err(why) => {
                self.failed(&why);
                None
            }
        }
    }

    /// The multiplexed connection, opened now if there is none, whether or not the tier
    /// is marked unavailable (a link's announcement must try).
    async fn open(&self) -> std::result::Result<Connection, String> {
        if let Some(existing) = self.connection.lock().ok().and_then(|c| c.clone()) {
            return Ok(existing);
        }
        let connect = async {
            match &self.target {
                Target::Single(client) => {
                    let config = ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(OP_TIMEOUT))
                        .set_response_timeout(Some(OP_TIMEOUT))
                        .set_number_of_retries(1);
                    client
                        .get_connection_manager_with_config(config)
                        .await
                        .map(Connection::Single)
                }
                Target::Cluster(client) => {
                    client.get_async_connection().await.map(Connection::Cluster)
                }
            }
        };
        // A cluster connect asks a node for the slot map and then connects to every master.
        let connect_timeout = match self.target {
            Target::Single(_) => OP_TIMEOUT * 2,
            Target::Cluster(_) => OP_TIMEOUT * 8,
        };
        match tokio::time::timeout(connect_timeout, connect).await {
            Ok(Ok(connection)) => {
                if let Ok(mut slot) = self.connection.lock() {
                    *slot = Some(connection.clone());
                }
                Ok(connection)
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("connect timed out".to_owned()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_flag_is_read_and_removed_from_the_url() {
        assert_eq!(
            strip_cluster_flag("redis://h:7000?cluster=true"),
            ("redis://h:7000".to_owned(), true)
        );
        assert_eq!(
            strip_cluster_flag("redis://h:7000/0?protocol=resp3&cluster=true"),
            ("redis://h:7000/0?protocol=resp3".to_owned(), true)
        );
        assert_eq!(
            strip_cluster_flag("redis://h:6379/1"),
            ("redis://h:6379/1".to_owned(), false)
        );
    }

    #[test]
    fn cluster_keys_share_one_hash_tag() {
        assert_eq!(hash_tagged("devmetrics:"), "{devmetrics:}");
        assert_eq!(hash_tagged("{devmetrics}:cache:"), "{devmetrics}:cache:");
        // `{}` is no tag for Redis: the whole key would be hashed.
        assert_eq!(hash_tagged("a{}b:"), "{a{}b:}");
    }

    #[test]
    fn a_list_of_nodes_or_the_flag_means_cluster() {
        let kind = |url: &str| match RedisTier::endpoints(url).map(|e| e.target) {
            Ok(Target::Single(_)) => "single",
            Ok(Target::Cluster(_)) => "cluster",
            Err(_) => "error",
        };
        assert_eq!(kind("redis://127.0.0.1:6379"), "single");
        assert_eq!(kind("redis://127.0.0.1:7000?cluster=true"), "cluster");
        assert_eq!(
            kind("redis://127.0.0.1:7000, redis://127.0.0.1:7001"),
            "cluster"
        );
        assert_eq!(kind(" , "), "error");
        assert_eq!(kind("http://nope"), "error");
    }
}
