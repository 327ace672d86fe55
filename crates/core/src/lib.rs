//! The Node-free core of the DevMetrics webhook processor: GitHub webhook deliveries in,
//! analytics rows in PostgreSQL out. The napi crate at the repository root is a thin
//! surface over [`WebhookProcessor`] and [`migrate()`].
//!
//! One module per concern: payload types ([`payload`]), one processor per event type
//! ([`processors`]), the store ([`store`]), user mapping ([`users`]), errors ([`error`]).

pub mod dora;
pub mod enrich;
pub mod error;
pub mod follow;
pub mod gate;
pub mod inspect;
pub mod job;
pub mod metrics;
pub mod migrate;
pub mod payload;
pub mod processor;
pub mod processors;
pub mod repos;
pub mod reprocess;
pub mod rest;
pub mod result;
pub mod schema;
pub mod stats;
pub mod store;
pub mod text;
pub mod time;
pub mod users;
pub mod utf16;

pub use dora::{DoraMetrics, DoraOptions};
pub use enrich::{CommitStatsOutcome, CompletePushOutcome, FollowUp, FollowUpKind};
pub use error::{ErrorCode, ProcessingError};
pub use follow::FollowOptions;
pub use inspect::{inspect, Inspection};
pub use job::{WebhookJob, MAX_PAYLOAD_BYTES};
pub use metrics::{MetricJob, MetricKind};
pub use migrate::{migrate, MigrationReport};
pub use processor::{ProcessorOptions, WebhookProcessor};
pub use result::{ProcessingResult, RecordCounts, Status, Timings};
pub use stats::StatsSnapshot;
