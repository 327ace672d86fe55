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
//! pings it and closes it if it is broken.

use crate::error::{ErrorCode, ProcessingError, Result};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Connections shared by everything a processor does.
pub struct Connections {
    pool: PgPool,
    idle: Mutex<Vec<PoolConnection<Postgres>>>,
    permits: Semaphore,
    acquire_timeout: Duration,
}

/// A connection held by one caller. [`Lease::finish`] puts it back in the idle list after a
/// use that succeeded; dropped otherwise (an error, a `?` before `finish`), it goes back to
/// sqlx's pool, which pings it and closes it if it is broken.
pub struct Lease<'a> {
    owner: &'a Connections,
    conn: Option<PoolConnection<Postgres>>,
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
        if result.is_ok() {
            if let Some(conn) = self.conn.take() {
                // Into the idle list before the permit is released (fields drop after this
                // function), so the next permit holder finds it.
                self.owner.idle.lock().expect("idle list").push(conn);
            }
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
    pub fn new(pool: PgPool) -> Self {
        let options = pool.options();
        Connections {
            permits: Semaphore::new(options.get_max_connections() as usize),
            acquire_timeout: options.get_acquire_timeout(),
            idle: Mutex::new(Vec::new()),
            pool,
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
        let idle = self.idle.lock().expect("idle list").pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.pool.acquire().await?,
        };
        Ok(Lease {
            owner: self,
            conn: Some(conn),
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
        for conn in idle {
            let _ = conn.close().await;
        }
        self.pool.close().await;
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
