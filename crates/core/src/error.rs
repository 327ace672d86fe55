//! The processor's error vocabulary: one enum of documented codes, each with its
//! retry semantics, and the classification of database failures into them.
//!
//! The codes are the public contract (DESIGN.md, "Errors"); the JS wrapper turns them
//! into `WebhookProcessingError` with `code` and `retryable`.

use std::fmt;

/// A documented error code. `as_str` is what JavaScript sees as `error.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorCode {
    /// The job envelope: deliveryId, event or payload missing or ill-typed.
    InvalidJob,
    /// Anything wrong inside the payload.
    InvalidPayload,
    /// The payload is over 25 MiB, more than GitHub ever sends.
    PayloadTooLarge,
    /// A tracked event for a repository DevMetrics does not know.
    UnknownRepository,
    /// The database lacks tables or columns the processor needs.
    SchemaMismatch,
    /// No database URL, or bad options.
    ConfigError,
    /// A database constraint rejected the rows (not a concurrent insert of the same entity).
    ConstraintViolation,
    /// A caught panic: a bug in the processor.
    Internal,
    /// The database cannot be reached (connect, I/O, pool timeout, server shutting down).
    DatabaseUnavailable,
    /// A transient database failure: timeout, deadlock, serialization failure.
    DatabaseError,
    /// The processor was closed.
    ProcessorClosed,
}

impl ErrorCode {
    /// Every code, in declaration order (for stats and docs).
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::InvalidJob,
        ErrorCode::InvalidPayload,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnknownRepository,
        ErrorCode::SchemaMismatch,
        ErrorCode::ConfigError,
        ErrorCode::ConstraintViolation,
        ErrorCode::Internal,
        ErrorCode::DatabaseUnavailable,
        ErrorCode::DatabaseError,
        ErrorCode::ProcessorClosed,
    ];

    /// The code as JavaScript sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJob => "INVALID_JOB",
            ErrorCode::InvalidPayload => "INVALID_PAYLOAD",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::UnknownRepository => "UNKNOWN_REPOSITORY",
            ErrorCode::SchemaMismatch => "SCHEMA_MISMATCH",
            ErrorCode::ConfigError => "CONFIG_ERROR",
            ErrorCode::ConstraintViolation => "CONSTRAINT_VIOLATION",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::DatabaseUnavailable => "DATABASE_UNAVAILABLE",
            ErrorCode::DatabaseError => "DATABASE_ERROR",
            ErrorCode::ProcessorClosed => "PROCESSOR_CLOSED",
        }
    }

    /// Whether a later attempt of the same job can succeed.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::DatabaseUnavailable | ErrorCode::DatabaseError | ErrorCode::ProcessorClosed
        )
    }
}

impl AsRef<str> for ErrorCode {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure of one call, with its code and a message fit for logs (never payload contents
/// beyond a field path, never connection strings).
#[derive(Debug, thiserror::Error)]
pub enum ProcessingError {
    #[error("invalid job: {0}")]
    InvalidJob(String),
    #[error("invalid payload: {0}")]
    InvalidPayload(String),
    #[error("payload is {size} bytes, over the {limit}-byte limit")]
    PayloadTooLarge { size: usize, limit: usize },
    #[error("unknown repository: {0}")]
    UnknownRepository(String),
    #[error("database schema mismatch: missing {}", .missing.join(", "))]
    SchemaMismatch { missing: Vec<String> },
    #[error("configuration error: {0}")]
    Config(String),
    #[error("constraint violation: {0}")]
    ConstraintViolation(String),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("processor is closed")]
    ProcessorClosed,
}

impl ProcessingError {
    /// The documented code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            ProcessingError::InvalidJob(_) => ErrorCode::InvalidJob,
            ProcessingError::InvalidPayload(_) => ErrorCode::InvalidPayload,
            ProcessingError::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            ProcessingError::UnknownRepository(_) => ErrorCode::UnknownRepository,
            ProcessingError::SchemaMismatch { .. } => ErrorCode::SchemaMismatch,
            ProcessingError::Config(_) => ErrorCode::ConfigError,
            ProcessingError::ConstraintViolation(_) => ErrorCode::ConstraintViolation,
            ProcessingError::Internal(_) => ErrorCode::Internal,
            ProcessingError::DatabaseUnavailable(_) => ErrorCode::DatabaseUnavailable,
            ProcessingError::Database(_) => ErrorCode::DatabaseError,
            ProcessingError::ProcessorClosed => ErrorCode::ProcessorClosed,
        }
    }

    /// Whether the failure was a unique violation: inside a call this means a concurrent
    /// writer inserted the same entity first, and the call retries instead of failing.
    pub fn is_concurrent_insert(&self) -> bool {
        matches!(self, ProcessingError::ConstraintViolation(m) if m.starts_with(UNIQUE_PREFIX))
    }

    /// Whether a write failed because a user id it bound no longer exists in `users`: the
    /// foreign key of a person column — author, reviewer, deployment creator, workflow run
    /// actor (named as Prisma names them,
    /// `<table>_<column>_fkey`). Only a stale cache entry binds such an id; the statements'
    /// own fallback lookups read `users` and cannot. The caller maps its people again from
    /// the database (`UserDirectory::refresh`) and writes again.
    pub fn is_stale_user(&self) -> bool {
        matches!(self, ProcessingError::ConstraintViolation(m)
            if m.starts_with("integrity on ")
                && [
                    r#"_authorId_fkey"#,
                    r#"_reviewerId_fkey"#,
                    r#"_creatorId_fkey"#,
                    r#"_actorId_fkey"#,
                ]
                .iter()
                .any(|column| m.contains(column)))
    }

    /// Whether a write failed because the repository id it bound no longer exists in
    /// `repositories`: the foreign key of a `repoId` column (`<table>_repoId_fkey`). Only a
    /// stale cache entry binds such an id (the backend deleted the repository, maybe
    /// registering it again under a new id); the caller forgets the cached repository
    /// (`RepositoryDirectory::forget`), looks it up again and writes again.
    pub fn is_stale_repository(&self) -> bool {
        matches!(self, ProcessingError::ConstraintViolation(m)
            if m.starts_with("integrity on ") && m.contains(r#"_repoId_fkey"#))
    }
}

const UNIQUE_PREFIX: &str = "unique violation";

impl From<sqlx::Error> for ProcessingError {
    fn from(err: sqlx::Error) -> Self {
        classify_sqlx(&err)
    }
}

/// Maps a database failure to its code by SQLSTATE class, so retry decisions follow what
/// the server said rather than message text.
pub(crate) fn classify_sqlx(err: &sqlx::Error) -> ProcessingError {
    use sqlx::Error as E;
    match err {
        E::Database(db) => {
            let state = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let msg = db.message().to_owned();
            classify_sqlstate(&state, msg, db.constraint())
        }
        E::Io(e) => ProcessingError::DatabaseUnavailable(format!("I/O: {e}")),
        E::Tls(e) => ProcessingError::DatabaseUnavailable(format!("TLS: {e}")),
        E::PoolTimedOut => {
            ProcessingError::DatabaseUnavailable("timed out waiting for a pooled connection".into())
        }
        E::PoolClosed => ProcessingError::ProcessorClosed,
        E::WorkerCrashed => {
            ProcessingError::DatabaseUnavailable("connection worker crashed".into())
        }
        E::Protocol(m) => ProcessingError::DatabaseUnavailable(format!("protocol: {m}")),
        E::Configuration(e) => ProcessingError::Config(format!("database URL: {e}")),
        E::ColumnNotFound(c) => ProcessingError::SchemaMismatch {
            missing: vec![format!("column {c}")],
        },
        E::ColumnDecode { index, source } => ProcessingError::SchemaMismatch {
            missing: vec![format!("decodable column {index} ({source})")],
        },
        E::TypeNotFound { type_name } => ProcessingError::SchemaMismatch {
            missing: vec![format!("type {type_name}")],
        },
        other => ProcessingError::Database(other.to_string()),
    }
}

/// Classifies a SQLSTATE (PostgreSQL appendix A).
pub(crate) fn classify_sqlstate(
    state: &str,
    msg: String,
    constraint: Option<&str>,
) -> ProcessingError {
    let with_constraint = |kind: &str| match constraint {
        Some(c) => format!("{kind} on {c}: {msg}"),
        None => format!("{kind}: {msg}"),
    };
    match state {
        "23505" => ProcessingError::ConstraintViolation(with_constraint(UNIQUE_PREFIX)),
        s if s.starts_with("23") => {
            ProcessingError::ConstraintViolation(with_constraint("integrity"))
        }
        // Data exceptions: a value the payload carried that the column cannot hold.
        s if s.starts_with("22") => {
            ProcessingError::InvalidPayload(format!("value rejected by the database: {msg}"))
        }
        s if s.starts_with("08") || s.starts_with("53") || s.starts_with("57P") => {
            ProcessingError::DatabaseUnavailable(format!("{state}: {msg}"))
        }
        "42P01" | "42703" | "42704" | "42883" => {
            ProcessingError::SchemaMismatch { missing: vec![msg] }
        }
        _ => ProcessingError::Database(format!("{state}: {msg}")),
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = ProcessingError> = std::result::Result<T, E>;

/// Runs a future and turns a panic inside it into [`ProcessingError::Internal`], so that a
/// bug in one event's processing rejects that call instead of unwinding into Node.
pub async fn catch_panics<T, F>(fut: F) -> Result<T, ProcessingError>
where
    F: std::future::Future<Output = Result<T, ProcessingError>>,
{
    use futures_util::FutureExt;
    match std::panic::AssertUnwindSafe(fut).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(ProcessingError::Internal(format!("panic: {detail}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_retry_semantics_match_the_contract() {
        let retryable: Vec<_> = ErrorCode::ALL
            .iter()
            .filter(|c| c.retryable())
            .map(|c| c.as_str())
            .collect();
        assert_eq!(
            retryable,
            ["DATABASE_UNAVAILABLE", "DATABASE_ERROR", "PROCESSOR_CLOSED"]
        );
    }

    #[test]
    fn sqlstates_map_to_codes() {
        let c = |s: &str| classify_sqlstate(s, "m".into(), Some("k")).code();
        assert_eq!(c("23505"), ErrorCode::ConstraintViolation);
        assert!(classify_sqlstate("23505", "m".into(), None).is_concurrent_insert());
        assert!(!classify_sqlstate("23503", "m".into(), None).is_concurrent_insert());
        assert_eq!(c("23503"), ErrorCode::ConstraintViolation);
        assert_eq!(c("22P05"), ErrorCode::InvalidPayload);
        assert_eq!(c("57P01"), ErrorCode::DatabaseUnavailable);
        assert_eq!(c("08006"), ErrorCode::DatabaseUnavailable);
        assert_eq!(c("40P01"), ErrorCode::DatabaseError);
        assert_eq!(c("40001"), ErrorCode::DatabaseError);
        assert_eq!(c("57014"), ErrorCode::DatabaseError); // statement timeout
        assert_eq!(c("42703"), ErrorCode::SchemaMismatch);
    }

    #[tokio::test]
    async fn a_panic_becomes_internal() {
        let panicked = catch_panics::<(), _>(async { panic!("boom") })
            .await
            .unwrap_err();
        assert_eq!(panicked.code(), ErrorCode::Internal);
        assert_eq!(panicked.to_string(), "internal error: panic: boom");
        let coded = catch_panics::<(), _>(async { Err(ProcessingError::ProcessorClosed) })
            .await
            .unwrap_err();
        assert_eq!(coded.code(), ErrorCode::ProcessorClosed);
        assert_eq!(catch_panics(async { Ok(7) }).await.unwrap(), 7);
    }
}
