//! The processor's database connections: sqlx's pool opens them (and retries connecting up
//! to its acquire timeout), and a list of idle connections in front of it takes them back
//! after use.
//!
//! Why not sqlx's pool alone: sqlx 0.8 pings every connection that goes back to its pool
//! (`PoolConnection::return_to_pool`, not configurable), one round trip per use; once an
//! event is a single statement that is half of its round trips. Connections in the idle
//! list are checked out of sqlx's pool, so every query of the processor goes through
//! [`Connections::lease`]: a caller waits for one of `max_connections` permits first, and a
//! caller holding a permit always finds an idle connection here or room in sqlx's pool
//! (the connections checked out of it are the idle ones plus those of the other permit
//! holders). A connection that failed a statement goes back to sqlx's pool instead, which
//! pings it and closes it if it is broken; one that broke (I/O, the server gone) is closed
//! at once.
//!
//! Idle connections age out as in sqlx's pool: one idle longer than the idle timeout, or
//! held longer than the maximum lifetime (counted from when the processor took it from
//! sqlx's pool, which applies the same bounds to what it holds), is closed instead of
//! used. Every query path goes through [`Tries`]: a statement that fails because its
//! connection broke (the server restarted, a pooler or `pg_terminate_backend` ended the
//! session) is run again on another connection.

use crate::error::{ErrorCode, ProcessingError, Result};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Connections shared by everything a processor does.
pub struct Connections {
    pool: PgPool,
    idle: Mutex<Vec<Idle>>,
    permits: Semaphore,
    acquire_timeout: Duration,
    ages: Ages,
}

/// When idle connections age out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ages {
    /// An idle connection unused this long is closed.
    pub idle_timeout: Duration,
    /// A connection held this long is closed instead of reused.
    pub max_lifetime: Duration,
}

impl Default for Ages {
    /// sqlx's pool defaults: 10 minutes idle, 30 minutes of life.
    fn default() -> Self {
        Ages {
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(1800),
        }
    }
}

/// A connection in the idle list, with its ages.
struct Idle {
    conn: PoolConnection<Postgres>,
    taken_at: Instant,
    idle_since: Instant,
}

/// A connection held by one caller. [`Lease::finish`] puts it back in the idle list after a
/// use that succeeded; dropped otherwise (an error, a `?` before `finish`), it goes back to
/// sqlx's pool, which pings it and closes it if it is broken.
pub struct Lease<'a> {
    owner: &'a Connections,
    conn: Option<PoolConnection<Postgres>>,
    taken_at: Instant,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl Lease<'_> {
    /// Ends the use with its result: the connection is kept for the next caller if the
    /// result is `Ok`, handed back to sqlx's pool to be checked if not.
    /// The error becomes a `ProcessingError` (a driver error is classified by its code).
    pub fn finish<T, E: Into<ProcessingError>>(
        mut self,
        result: std::result::Result<T, E>,
    ) -> Result<T> {
        let result = result.map_err(Into::into);
        match &result {
            Ok(_) => {
                if let Some(conn) = self.conn.take() {
                    // Into the idle list before the permit is released (fields drop after
                    // this function), so the next permit holder finds it.
                    self.owner.idle.lock().expect("idle list").push(Idle {
                        conn,
                        taken_at: self.taken_at,
                        idle_since: Instant::now(),
                    });
                }
            }
            // Broken: closed without the ping sqlx's pool would spend on it.
            Err(e) if worth_another_connection(e) => {
                if let Some(conn) = self.conn.as_mut() {
                    conn.close_on_drop();
                }
            }
            Err(_) => {}
        }
        result
    }
}

impl std::ops::Deref for Lease<'_> {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        self.conn.as_ref().expect("leased connection")
    }
}

impl std::ops::DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn.as_mut().expect("leased connection")
    }
}

impl Connections {
    pub fn new(pool: PgPool, ages: Ages) -> Self {
        let options = pool.options();
        Connections {
            permits: Semaphore::new(options.get_max_connections() as usize),
            acquire_timeout: options.get_acquire_timeout(),
            idle: Mutex::new(Vec::new()),
            pool,
            ages,
        }
    }

    /// A query path's tries: see [`Tries`].
    pub fn tries(&self) -> Tries<'_> {
        Tries { db: self, made: 0 }
    }

    /// The most recently used idle connection still young enough; older ones are closed
    /// in the background.
    fn take_idle(&self) -> Option<Idle> {
        let now = Instant::now();
        let mut idle = self.idle.lock().expect("idle list");
        while let Some(entry) = idle.pop() {
            let expired = now.duration_since(entry.idle_since) >= self.ages.idle_timeout
                || now.duration_since(entry.taken_at) >= self.ages.max_lifetime;
            if !expired {
                return Some(entry);
            }
            tokio::spawn(async move {
                let _ = entry.conn.close().await;
            });
        }
        None
    }

    /// Closes aged-out idle connections in the background, every half of the shorter
    /// bound, until the connections are dropped or closed; so a processor left idle does
    /// not hold its sessions past the idle timeout (by at most half of it).
    pub fn start_reaper(self: &std::sync::Arc<Self>) {
        let connections = std::sync::Arc::downgrade(self);
        let period =
            (self.ages.idle_timeout.min(self.ages.max_lifetime) / 2).max(Duration::from_millis(10));
        tokio::spawn(async move {
            loop {
                // Housekeeping pace, not synchronisation.
                tokio::time::sleep(period).await;
                match connections.upgrade() {
                    Some(db) if !db.permits.is_closed() => db.reap(),
                    _ => return,
                }
            }
        });
    }

    /// Closes the idle connections that aged out, without waiting for a caller to find
    /// them.
    fn reap(&self) {
        let now = Instant::now();
        let mut idle = self.idle.lock().expect("idle list");
        let (keep, expired): (Vec<Idle>, Vec<Idle>) =
            std::mem::take(&mut *idle).into_iter().partition(|e| {
                now.duration_since(e.idle_since) < self.ages.idle_timeout
                    && now.duration_since(e.taken_at) < self.ages.max_lifetime
            });
        *idle = keep;
        for entry in expired {
            tokio::spawn(async move {
                let _ = entry.conn.close().await;
            });
        }
    }

    /// A connection, once one of `max_connections` is free (`DATABASE_UNAVAILABLE` after
    /// the acquire timeout, `PROCESSOR_CLOSED` once closing). It may be one the server has
    /// closed since its last use (a restart, `pg_terminate_backend`, an idle timeout): its
    /// first statement then fails `DATABASE_UNAVAILABLE` (see [`worth_another_connection`]).
    pub async fn lease(&self) -> Result<Lease<'_>> {
        let permit = tokio::time::timeout(self.acquire_timeout, self.permits.acquire())
            .await
            .map_err(|_| ProcessingError::from(sqlx::Error::PoolTimedOut))?
            .map_err(|_| ProcessingError::ProcessorClosed)?;
        let (conn, taken_at) = match self.take_idle() {
            Some(idle) => (idle.conn, idle.taken_at),
            None => (self.pool.acquire().await?, Instant::now()),
        };
        Ok(Lease {
            owner: self,
            conn: Some(conn),
            taken_at,
            _permit: permit,
        })
    }

    /// How many connections the processor may hold: the bound on tries of a caller that
    /// takes another connection after a broken one.
    pub fn max_connections(&self) -> u32 {
        self.pool.options().get_max_connections()
    }

    /// Stops handing out connections and closes them all. Callers have finished (the
    /// processor's gate waited for them).
    pub async fn close(&self) {
        self.permits.close();
        let idle = std::mem::take(&mut *self.idle.lock().expect("idle list"));
        for entry in idle {
            let _ = entry.conn.close().await;
        }
        self.pool.close().await;
    }
}

impl Drop for Connections {
    /// Idle connections left (no `close`, or a runtime that is gone) are detached from
    /// sqlx's pool and dropped, which closes their sockets: handing them back to the pool
    /// would spawn a task, which panics outside a tokio runtime (a JS finalizer's thread).
    fn drop(&mut self) {
        let idle = std::mem::take(self.idle.get_mut().unwrap_or_else(|e| e.into_inner()));
        for entry in idle {
            drop(entry.conn.detach());
        }
    }
}

/// One query path's use of connections: a statement that fails because its connection
/// broke runs again on another, at most once per connection the processor may hold, so a
/// restart that killed every idle session costs no call. For statements that are safe to
/// run again: reads, and writes whose second run changes nothing the first did not.
///
/// ```ignore
/// let mut tries = db.tries();
/// let rows = loop {
///     let mut conn = tries.lease().await?;
///     let rows = sqlx::query("…").fetch_all(&mut *conn).await;
///     if let Some(rows) = tries.finish(conn, rows)? { break rows; }
/// };
/// ```
pub struct Tries<'a> {
    db: &'a Connections,
    made: u32,
}

impl<'a> Tries<'a> {
    /// A connection for the next try.
    pub async fn lease(&mut self) -> Result<Lease<'a>> {
        self.made += 1;
        self.db.lease().await
    }

    /// Ends a try: `Some(value)`, `None` to try again on another connection (the one
    /// leased broke), or the error.
    pub fn finish<T, E: Into<ProcessingError>>(
        &self,
        lease: Lease<'_>,
        result: std::result::Result<T, E>,
    ) -> Result<Option<T>> {
        match lease.finish(result) {
            Ok(value) => Ok(Some(value)),
            Err(e) if worth_another_connection(&e) && self.made <= self.db.max_connections() => {
                tracing::debug!(error = %crate::text::redact_credentials(&e.to_string()), "took another connection");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// Whether a statement that failed on a leased connection is worth another connection: the
/// connection broke. After the lease a `DATABASE_UNAVAILABLE` is always that (I/O,
/// protocol, the server's shutdown codes); waiting for a connection, which fails with the
/// same code, happens in [`Connections::lease`].
pub fn worth_another_connection(error: &ProcessingError) -> bool {
    error.code() == ErrorCode::DatabaseUnavailable
}

#[cfg(test)]
mod tests {
    use super::worth_another_connection;
    use crate::error::ProcessingError;
    use std::io;

    #[test]
    fn only_a_broken_connection_is_worth_another() {
        let io = |kind| ProcessingError::from(sqlx::Error::Io(io::Error::new(kind, "x")));
        assert!(worth_another_connection(&io(io::ErrorKind::BrokenPipe)));
        assert!(worth_another_connection(&io(
            io::ErrorKind::ConnectionReset
        )));
        assert!(!worth_another_connection(&ProcessingError::from(
            sqlx::Error::RowNotFound
        )));
        assert!(!worth_another_connection(&ProcessingError::InvalidPayload(
            "x".into()
        )));
    }
}
