//! GitHub accounts to DevMetrics users: an in-process cache, then (when configured) the
//! shared Redis tier, then one batched query per event for what neither knows. Positive
//! entries live for the configured TTL (15 minutes by default); unknown users are cached
//! for at most 60 seconds so a newly added user is found soon.

pub mod link;
pub mod redis_tier;

use crate::error::{ProcessingError, Result};
use crate::stats::CacheCounters;
use crate::store::connections::Connections;
use redis_tier::{Invalidation, RedisHealth, RedisTier};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a payload names a person. Logins and emails are compared case-insensitively, so
/// they are stored lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Identity {
    GithubId(i64),
    Login(String),
    Email(String),
}

impl Identity {
    pub fn login(login: &str) -> Self {
        Identity::Login(login.to_lowercase())
    }
    pub fn email(email: &str) -> Self {
        Identity::Email(email.to_lowercase())
    }

    /// A stable text form for cache keys and invalidation messages: `g:<id>`, `l:<login>`,
    /// `e:<email>`.
    pub fn cache_key(&self) -> String {
        match self {
            Identity::GithubId(id) => format!("g:{id}"),
            Identity::Login(login) => format!("l:{login}"),
            Identity::Email(email) => format!("e:{email}"),
        }
    }

    /// The inverse of [`cache_key`](Self::cache_key).
    pub fn from_cache_key(key: &str) -> Option<Self> {
        let (kind, value) = key.split_once(':')?;
        match kind {
            "g" => value.parse().ok().map(Identity::GithubId),
            "l" => Some(Identity::Login(value.to_owned())),
            "e" => Some(Identity::Email(value.to_owned())),
            _ => None,
        }
    }
}

/// A mapped DevMetrics user and the teams it belongs to (for team metric jobs).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MappedUser {
    pub id: String,
    pub team_ids: Vec<String>,
}

/// The mapping for one event's identities.
#[derive(Debug, Default)]
pub struct UserMap {
    found: HashMap<Identity, Arc<MappedUser>>,
}

impl UserMap {
    pub fn get(&self, identity: &Identity) -> Option<&Arc<MappedUser>> {
        self.found.get(identity)
    }

    /// The first identity that maps, in the order given (commit authors: login, then email).
    pub fn first<'m>(&'m self, identities: &[Identity]) -> Option<&'m Arc<MappedUser>> {
        identities.iter().find_map(|i| self.found.get(i))
    }
}

/// How long unknown users stay cached at most.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(60);
/// With a Redis tier, how long the in-process tier keeps any entry at most: the bound on
/// how late a link reaches a processor that missed its invalidation (Redis slow or
/// stopped, a subscription interrupted). Redis keeps entries for the full TTL; a link
/// deletes them there or rejects (see `link`).
pub const MEMORY_BOUND: Duration = Duration::from_secs(3);
/// Bound on cached identities, so memory stays flat however many people a stream names.
const MAX_ENTRIES: u64 = 100_000;

type Entry = Option<Arc<MappedUser>>;

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    github_id: Option<i64>,
    login: Option<String>,
    email: String,
    team_ids: Vec<String>,
    /// Of the emails asked for, those linked to the user (`user_github_emails`).
    linked_emails: Vec<String>,
}

/// Users matching any of the identities, with their teams. An email matches a user's own
/// `users.email` or an email linked to the user by `linkGithubUser` (`user_github_emails`,
/// stored lowercased).
const SELECT_USERS: &str = r#"SELECT u.id, u."githubId" AS github_id, lower(u."githubLogin") AS login, lower(u.email) AS email,
              COALESCE(array_agg(tm."teamId" ORDER BY tm."teamId")
                       FILTER (WHERE tm."teamId" IS NOT NULL), '{}') AS team_ids,
              ARRAY(SELECT ge.email FROM user_github_emails ge
                    WHERE ge."userId" = u.id AND ge.email = ANY($3)) AS linked_emails
       FROM users u LEFT JOIN team_members tm ON tm."userId" = u.id
       WHERE u."githubId" = ANY($1) OR lower(u."githubLogin") = ANY($2) OR lower(u.email) = ANY($3)
          OR u.id IN (SELECT ge."userId" FROM user_github_emails ge WHERE ge.email = ANY($3))
       GROUP BY u.id"#;

/// Whether any of the identities maps to a user now, by the lookup's rule
/// ([`SELECT_USERS`]), read on the caller's connection (inside its transaction, after the
/// link barrier: reprocessing's check that no link committed meanwhile).
pub(crate) async fn any_mapped(
    conn: &mut sqlx::PgConnection,
    identities: &[&Identity],
) -> sqlx::Result<bool> {
    let (ids, logins, emails) = split(identities);
    sqlx::query_scalar(
        r#"SELECT EXISTS (SELECT 1 FROM users u
                          WHERE u."githubId" = ANY($1) OR lower(u."githubLogin") = ANY($2)
                             OR lower(u.email) = ANY($3))
               OR EXISTS (SELECT 1 FROM user_github_emails ge WHERE ge.email = ANY($3))"#,
    )
    .bind(&ids)
    .bind(&logins)
    .bind(&emails)
    .fetch_one(conn)
    .await
}

/// Identities by kind: GitHub ids, logins, emails.
fn split<'i>(identities: &[&'i Identity]) -> (Vec<i64>, Vec<&'i str>, Vec<&'i str>) {
    let mut ids = Vec::new();
    let mut logins = Vec::new();
    let mut emails = Vec::new();
    for identity in identities {
        match identity {
            Identity::GithubId(id) => ids.push(*id),
            Identity::Login(l) => logins.push(l.as_str()),
            Identity::Email(e) => emails.push(e.as_str()),
        }
    }
    (ids, logins, emails)
}

/// Resolves identities to users, caching both hits and misses.
pub struct UserDirectory {
    db: Arc<Connections>,
    cache: moka::sync::Cache<Identity, Entry>,
    redis: Option<Arc<RedisTier>>,
    ttl: Duration,
    counters: Arc<CacheCounters>,
}

struct TtlPolicy {
    positive: Duration,
    /// [`MEMORY_BOUND`] when a Redis tier is shared with other processes.
    bound: Option<Duration>,
}

impl moka::Expiry<Identity, Entry> for TtlPolicy {
    fn expire_after_create(&self, _: &Identity, value: &Entry, _: Instant) -> Option<Duration> {
        let ttl = match value {
            Some(_) => self.positive,
            None => self.positive.min(NEGATIVE_TTL),
        };
        Some(self.bound.map_or(ttl, |bound| ttl.min(bound)))
    }
}

impl UserDirectory {
    /// A directory over `db`; with `redis`, the shared tier is used and this process
    /// subscribes to other processes' invalidations.
    pub fn new(
        db: Arc<Connections>,
        ttl: Duration,
        redis: Option<Arc<RedisTier>>,
        counters: Arc<CacheCounters>,
    ) -> Self {
        let cache: moka::sync::Cache<Identity, Entry> = moka::sync::Cache::builder()
            .max_capacity(MAX_ENTRIES)
            .expire_after(TtlPolicy {
                positive: ttl,
                bound: redis.as_ref().map(|_| MEMORY_BOUND),
            })
            .build();
        if let Some(tier) = &redis {
            let local = cache.clone();
            tier.start_subscriber(move |invalidation| match invalidation {
                Invalidation::Identities(ids) => ids.iter().for_each(|id| local.invalidate(id)),
                Invalidation::Everything => local.invalidate_all(),
            });
        }
        UserDirectory {
            db,
            cache,
            redis,
            ttl,
            counters,
        }
    }

    /// Health of the Redis tier, `None` when none is configured.
    pub fn redis_health(&self) -> Option<RedisHealth> {
        self.redis.as_ref().map(|r| r.health())
    }

    /// Drops identities from every tier of every processor sharing the Redis tier: at
    /// once where the invalidation is delivered, within [`MEMORY_BOUND`] elsewhere. Fails
    /// (`DATABASE_UNAVAILABLE`, retryable) when Redis does not take it in time.
    pub async fn invalidate(&self, identities: &[Identity]) -> Result<()> {
        for identity in identities {
            self.cache.invalidate(identity);
        }
        if let Some(redis) = &self.redis {
            redis.announce(identities).await.map_err(|why| {
                ProcessingError::DatabaseUnavailable(format!(
                    "the link is stored, but other processors' caches could not be told \
                     (retry linkGithubUser): {why}"
                ))
            })?;
        }
        Ok(())
    }

    /// Stops background work (the invalidation subscriber).
    pub fn stop(&self) {
        if let Some(redis) = &self.redis {
            redis.stop();
        }
    }

    /// Maps every identity, querying the database once for all cache misses.
    pub async fn resolve(&self, identities: &[Identity]) -> Result<UserMap> {
        let mut map = UserMap::default();
        let mut missing: Vec<&Identity> = Vec::new();
        for identity in identities {
            if map.found.contains_key(identity) || missing.contains(&identity) {
                continue;
            }
            match self.cache.get(identity) {
                Some(entry) => {
                    self.counters.memory_hit();
                    if let Some(user) = entry {
                        map.found.insert(identity.clone(), user);
                    }
                }
                None => {
                    self.counters.memory_miss();
                    missing.push(identity);
                }
            }
        }
        if missing.is_empty() {
            return Ok(map);
        }
        let missing = self.resolve_from_redis(missing, &mut map).await;
        if missing.is_empty() {
            return Ok(map);
        }
        let loaded = self.load(&missing).await?;
        let mut fresh = Vec::with_capacity(missing.len());
        for identity in missing {
            let entry = loaded.get(identity).cloned();
            self.cache.insert(identity.clone(), entry.clone());
            if let Some(user) = &entry {
                map.found.insert(identity.clone(), user.clone());
            }
            fresh.push((identity.clone(), entry));
        }
        if let Some(redis) = &self.redis {
            // Filling the shared tier is off the event's path: nothing waits for it.
            let (redis, ttl) = (redis.clone(), self.ttl);
            tokio::spawn(async move { redis.put_many(&fresh, ttl, NEGATIVE_TTL).await });
        }
        Ok(map)
    }

    /// Maps every identity from the database, bypassing both cache tiers, and replaces
    /// what they held: after a write found a cached user id gone from `users` (deleted by
    /// the backend), the event resolves again instead of failing.
    pub async fn refresh(&self, identities: &[Identity]) -> Result<UserMap> {
        let mut unique: Vec<&Identity> = identities.iter().collect();
        unique.sort();
        unique.dedup();
        for identity in &unique {
            self.cache.invalidate(*identity);
        }
        let loaded = self.load(&unique).await?;
        let mut map = UserMap::default();
        let mut fresh = Vec::with_capacity(unique.len());
        for identity in unique {
            let entry = loaded.get(identity).cloned();
            self.cache.insert(identity.clone(), entry.clone());
            if let Some(user) = &entry {
                map.found.insert(identity.clone(), user.clone());
            }
            fresh.push((identity.clone(), entry));
        }
        if let Some(redis) = &self.redis {
            // Drops the stale shared entries, and other processors' through the
            // invalidation channel; the next miss fills them again.
            let stale: Vec<Identity> = fresh.into_iter().map(|(i, _)| i).collect();
            redis.invalidate(&stale).await;
        }
        Ok(map)
    }

    /// Looks the memory tier's misses up in Redis; returns what Redis did not know (all of
    /// them when the tier is unavailable).
    async fn resolve_from_redis<'i>(
        &self,
        missing: Vec<&'i Identity>,
        map: &mut UserMap,
    ) -> Vec<&'i Identity> {
        let Some(redis) = &self.redis else {
            return missing;
        };
        let Some(values) = redis.get_many(&missing).await else {
            return missing;
        };
        let mut still_missing = Vec::new();
        for (identity, value) in missing.into_iter().zip(values) {
            match value {
                Some(entry) => {
                    self.counters.redis_hit();
                    self.cache.insert(identity.clone(), entry.clone());
                    if let Some(user) = entry {
                        map.found.insert(identity.clone(), user);
                    }
                }
                None => {
                    self.counters.redis_miss();
                    still_missing.push(identity);
                }
            }
        }
        still_missing
    }

    /// The seed's lookup: a user id by GitHub account id, cached.
    pub async fn user_id_by_github_id(&self, github_id: i64) -> Result<Option<String>> {
        let identity = Identity::GithubId(github_id);
        let map = self.resolve(std::slice::from_ref(&identity)).await?;
        Ok(map.get(&identity).map(|u| u.id.clone()))
    }

    /// One query for all identities of an event; logins and emails match case-insensitively.
    async fn load(&self, identities: &[&Identity]) -> Result<HashMap<Identity, Arc<MappedUser>>> {
        let (ids, logins, emails) = split(identities);
        let mut tries = self.db.tries();
        let rows: Vec<UserRow> = loop {
            let mut conn = tries.lease().await?;
            let rows = sqlx::query_as(SELECT_USERS)
                .bind(&ids)
                .bind(&logins)
                .bind(&emails)
                .fetch_all(&mut *conn)
                .await;
            if let Some(rows) = tries.finish(conn, rows)? {
                break rows;
            }
        };
        let mut found = HashMap::new();
        let mut linked = Vec::new();
        for UserRow {
            id,
            github_id,
            login,
            email,
            team_ids,
            linked_emails,
        } in rows
        {
            let user = Arc::new(MappedUser { id, team_ids });
            if let Some(g) = github_id {
                found.insert(Identity::GithubId(g), user.clone());
            }
            if let Some(l) = login {
                found.insert(Identity::Login(l), user.clone());
            }
            linked.extend(linked_emails.into_iter().map(|e| (e, user.clone())));
            found.entry(Identity::Email(email)).or_insert(user);
        }
        // A user's own address first: a link never takes over another user's `users.email`
        // (`link` refuses it; this keeps the rule for addresses changed since).
        for (email, user) in linked {
            found.entry(Identity::Email(email)).or_insert(user);
        }
        Ok(found)
    }
}
