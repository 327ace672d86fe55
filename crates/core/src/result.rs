//! What one call of `process` returns (DESIGN.md, `ProcessingResult`).

use crate::enrich::FollowUp;
use crate::metrics::MetricJob;
use std::time::Instant;

/// How the delivery was handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Rows written and the event marked processed in one transaction.
    Processed,
    /// The delivery was processed before; nothing written.
    Duplicate,
    /// No processor tracks this event type or action.
    Ignored,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Processed => "processed",
            Status::Duplicate => "duplicate",
            Status::Ignored => "ignored",
        }
    }
}

/// Entity rows this call inserted or changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordCounts {
    pub commits: u32,
    pub pull_requests: u32,
    pub issues: u32,
    pub reviews: u32,
    pub deployments: u32,
    pub deployment_statuses: u32,
    pub workflow_runs: u32,
    pub workflow_jobs: u32,
    pub releases: u32,
}

/// Where the time went, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    pub parse_micros: u64,
    pub db_micros: u64,
    pub total_micros: u64,
}

impl Timings {
    /// The timings of a call that started at `started`, parsed for `parse_micros` and has
    /// used the database since `db_started`, as of now.
    pub fn measured(parse_micros: u64, db_started: Instant, started: Instant) -> Self {
        Timings {
            parse_micros,
            db_micros: db_started.elapsed().as_micros() as u64,
            total_micros: started.elapsed().as_micros() as u64,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProcessingResult {
    pub status: Status,
    pub event_id: Option<String>,
    pub delivery_id: String,
    pub event: String,
    pub action: Option<String>,
    pub repo_id: Option<String>,
    pub records: RecordCounts,
    pub metric_jobs: Vec<MetricJob>,
    /// GitHub logins (or commit emails without a login) not linked to a user, sorted.
    pub unmapped_users: Vec<String>,
    /// API work the delivery leaves for the `github` queue (see `enrich::follow_ups`);
    /// re-derived for a duplicate, like `metric_jobs`.
    pub follow_ups: Vec<FollowUp>,
    /// Why an `ignored` delivery was ignored when its type is tracked (its repository was
    /// removed from tracking, or deleted), or what a repository event left pending (its
    /// repository is not tracked yet); stored in `events.ignoredReason` for the former.
    pub reason: Option<String>,
    pub timings: Timings,
}
