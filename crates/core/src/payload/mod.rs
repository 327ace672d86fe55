//! Typed views of GitHub webhook payloads, read from simd-json's tape of the delivery's
//! bytes ([`tape`]): strings borrow from the (in-place unescaped) buffer, fields we do not
//! store are skipped in one step without being visited.
//!
//! Only the fields the processors use are declared. A field of the wrong type, a missing
//! required field or invalid JSON is `INVALID_PAYLOAD`, reported with the field's path.

pub mod common;
pub mod deployment;
pub mod issues;
pub mod pull_request;
pub mod push;
pub mod release;
pub mod rest;
pub mod review;
mod tape;
pub mod workflow;

use crate::error::{ProcessingError, Result};
use serde::Deserialize;

pub use common::{Actor, Envelope, RepositoryRef};
pub use deployment::{Deployment, DeploymentEvent, DeploymentStatus, DeploymentStatusEvent};
pub use issues::{Issue, IssuesEvent};
pub use pull_request::{PullRequest, PullRequestEvent};
pub use push::{PushCommit, PushEvent};
pub use release::{Release, ReleaseEvent};
pub use review::{PullRequestReviewEvent, Review};
pub use workflow::{WorkflowJob, WorkflowJobEvent, WorkflowRun, WorkflowRunEvent};

/// Stack a thread that parses payloads should have. simd-json accepts JSON nested up to
/// 1024 levels. Reading it with serde recursed per level, even through fields we ignore,
/// and a debug build overflowed the usual 2 MiB at that depth (found by
/// `tests/fuzz_parse.rs`). The tape walk now skips ignored nesting without recursing, but a
/// mutated payload can still nest inside a declared field until a type check stops it; the
/// addon's runtime threads and the tests keep 8 MiB, so no nesting the parser accepts can
/// crash the process.
pub const THREAD_STACK_BYTES: usize = 8 * 1024 * 1024;

/// The event types that have a processor. Everything else is stored as `ignored`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Push,
    PullRequest,
    Issues,
    PullRequestReview,
    Deployment,
    DeploymentStatus,
    WorkflowRun,
    WorkflowJob,
    Release,
}

impl EventKind {
    /// Every tracked kind, in a fixed order.
    pub const ALL: [EventKind; 9] = [
        EventKind::Push,
        EventKind::PullRequest,
        EventKind::Issues,
        EventKind::PullRequestReview,
        EventKind::Deployment,
        EventKind::DeploymentStatus,
        EventKind::WorkflowRun,
        EventKind::WorkflowJob,
        EventKind::Release,
    ];

    /// The kind for an `X-GitHub-Event` name, or `None` when no processor tracks it.
    pub fn from_name(event: &str) -> Option<Self> {
        match event {
            "push" => Some(EventKind::Push),
            "pull_request" => Some(EventKind::PullRequest),
            "issues" => Some(EventKind::Issues),
            "pull_request_review" => Some(EventKind::PullRequestReview),
            "deployment" => Some(EventKind::Deployment),
            "deployment_status" => Some(EventKind::DeploymentStatus),
            "workflow_run" => Some(EventKind::WorkflowRun),
            "workflow_job" => Some(EventKind::WorkflowJob),
            "release" => Some(EventKind::Release),
            _ => None,
        }
    }

    /// The `X-GitHub-Event` name of this kind.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Push => "push",
            EventKind::PullRequest => "pull_request",
            EventKind::Issues => "issues",
            EventKind::PullRequestReview => "pull_request_review",
            EventKind::Deployment => "deployment",
            EventKind::DeploymentStatus => "deployment_status",
            EventKind::WorkflowRun => "workflow_run",
            EventKind::WorkflowJob => "workflow_job",
            EventKind::Release => "release",
        }
    }
}

/// A parsed payload of a tracked event type.
#[derive(Debug)]
pub enum TrackedPayload<'a> {
    Push(PushEvent<'a>),
    PullRequest(PullRequestEvent<'a>),
    Issues(IssuesEvent<'a>),
    PullRequestReview(PullRequestReviewEvent<'a>),
    Deployment(DeploymentEvent<'a>),
    DeploymentStatus(DeploymentStatusEvent<'a>),
    WorkflowRun(WorkflowRunEvent<'a>),
    WorkflowJob(WorkflowJobEvent<'a>),
    Release(ReleaseEvent<'a>),
}

impl<'a> TrackedPayload<'a> {
    /// The repository the payload names.
    pub fn repository(&self) -> &RepositoryRef<'a> {
        match self {
            TrackedPayload::Push(p) => &p.repository,
            TrackedPayload::PullRequest(p) => &p.repository,
            TrackedPayload::Issues(p) => &p.repository,
            TrackedPayload::PullRequestReview(p) => &p.repository,
            TrackedPayload::Deployment(p) => &p.repository,
            TrackedPayload::DeploymentStatus(p) => &p.repository,
            TrackedPayload::WorkflowRun(p) => &p.repository,
            TrackedPayload::WorkflowJob(p) => &p.repository,
            TrackedPayload::Release(p) => &p.repository,
        }
    }

    /// The payload's `action`, for event types that have one.
    pub fn action(&self) -> Option<&'a str> {
        match self {
            TrackedPayload::Push(_) => None,
            TrackedPayload::PullRequest(p) => Some(p.action),
            TrackedPayload::Issues(p) => Some(p.action),
            TrackedPayload::PullRequestReview(p) => Some(p.action),
            TrackedPayload::Deployment(p) => Some(p.action),
            TrackedPayload::DeploymentStatus(p) => Some(p.action),
            TrackedPayload::WorkflowRun(p) => Some(p.action),
            TrackedPayload::WorkflowJob(p) => Some(p.action),
            TrackedPayload::Release(p) => Some(p.action),
        }
    }

    /// GitHub id of the account that triggered the delivery.
    pub fn sender_id(&self) -> Option<i64> {
        match self {
            TrackedPayload::Push(p) => p.sender.as_ref(),
            TrackedPayload::PullRequest(p) => p.sender.as_ref(),
            TrackedPayload::Issues(p) => p.sender.as_ref(),
            TrackedPayload::PullRequestReview(p) => p.sender.as_ref(),
            TrackedPayload::Deployment(p) => p.sender.as_ref(),
            TrackedPayload::DeploymentStatus(p) => p.sender.as_ref(),
            TrackedPayload::WorkflowRun(p) => p.sender.as_ref(),
            TrackedPayload::WorkflowJob(p) => p.sender.as_ref(),
            TrackedPayload::Release(p) => p.sender.as_ref(),
        }
        .map(|s| s.id)
    }
}

/// Parses a tracked event's payload. `scratch` is a copy of the payload that simd-json
/// unescapes in place; the returned view borrows from it. `original` gives the unparsed
/// bytes again, and is only asked for to describe a failure.
pub fn parse_tracked<'a>(
    kind: EventKind,
    scratch: &'a mut [u8],
    original: impl Original,
) -> Result<TrackedPayload<'a>> {
    match kind {
        EventKind::Push => {
            parse_as(scratch, original, |b| path_error::<PushEvent>(b)).map(TrackedPayload::Push)
        }
        EventKind::PullRequest => {
            parse_as(scratch, original, |b| path_error::<PullRequestEvent>(b))
                .map(TrackedPayload::PullRequest)
        }
        EventKind::Issues => parse_as(scratch, original, |b| path_error::<IssuesEvent>(b))
            .map(TrackedPayload::Issues),
        EventKind::PullRequestReview => parse_as(scratch, original, |b| {
            path_error::<PullRequestReviewEvent>(b)
        })
        .map(TrackedPayload::PullRequestReview),
        EventKind::Deployment => parse_as(scratch, original, |b| path_error::<DeploymentEvent>(b))
            .map(TrackedPayload::Deployment),
        EventKind::DeploymentStatus => parse_as(scratch, original, |b| {
            path_error::<DeploymentStatusEvent>(b)
        })
        .map(TrackedPayload::DeploymentStatus),
        EventKind::WorkflowRun => {
            parse_as(scratch, original, |b| path_error::<WorkflowRunEvent>(b))
                .map(TrackedPayload::WorkflowRun)
        }
        EventKind::WorkflowJob => {
            parse_as(scratch, original, |b| path_error::<WorkflowJobEvent>(b))
                .map(TrackedPayload::WorkflowJob)
        }
        EventKind::Release => parse_as(scratch, original, |b| path_error::<ReleaseEvent>(b))
            .map(TrackedPayload::Release),
    }
}

/// Parses the few fields every event shares (action, repository, sender), for event types
/// no processor tracks and for finding the repository of a payload that failed to parse.
pub fn parse_envelope<'a>(scratch: &'a mut [u8], original: impl Original) -> Result<Envelope<'a>> {
    parse_as(scratch, original, |b| path_error::<Envelope>(b))
}

/// Where a payload's unparsed bytes come from when a failed parse is described (the
/// scratch copy is unescaped in place by then). A slice the caller keeps anyway is copied;
/// [`Reread`] produces them anew, so a caller that can read its source again (a JavaScript
/// string, a Buffer) keeps no second copy for the rare failure.
pub trait Original {
    /// A fresh, mutable copy of the unparsed bytes.
    fn fresh_copy(self) -> Vec<u8>;
}

impl Original for &[u8] {
    fn fresh_copy(self) -> Vec<u8> {
        self.to_vec()
    }
}

impl Original for &Vec<u8> {
    fn fresh_copy(self) -> Vec<u8> {
        self.clone()
    }
}

/// The unparsed bytes, read again from their source on demand.
pub struct Reread<F>(pub F);

impl<F: FnOnce() -> Vec<u8>> Original for Reread<F> {
    fn fresh_copy(self) -> Vec<u8> {
        (self.0)()
    }
}

/// Deserialises `T` from `scratch` (payloads, and GitHub API responses in `enrich`): simd-json builds its tape, [`tape`] reads the declared
/// fields from it. On failure a second, slower pass over a fresh copy of the original names
/// the field path, so the fast path pays nothing for good messages.
pub(crate) fn parse_as<'a, T: Deserialize<'a>>(
    scratch: &'a mut [u8],
    original: impl Original,
    describe: impl FnOnce(&mut [u8]) -> String,
) -> Result<T> {
    let parsed = match simd_json::to_tape(scratch) {
        Ok(tape) => tape::from_tape::<T>(&tape.0).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    parsed.map_err(|fast_err| {
        let mut copy = original.fresh_copy();
        let detail = describe(&mut copy);
        ProcessingError::InvalidPayload(if detail.is_empty() { fast_err } else { detail })
    })
}

/// The failure of deserialising `T` from `buf`, with the path of the offending field
/// (`commits[3].timestamp: invalid type: null, expected a borrowed string`).
pub(crate) fn path_error<'b, T: Deserialize<'b>>(buf: &'b mut [u8]) -> String {
    let tape = match simd_json::to_tape(buf) {
        Ok(tape) => tape,
        Err(e) => return format!("not valid JSON: {e}"),
    };
    match tape::from_tape_tracking_path::<T>(&tape.0) {
        Ok(_) => String::new(),
        Err(e) if e.path().iter().next().is_some() => format!("{}: {}", e.path(), e.inner()),
        Err(e) => e.inner().to_string(),
    }
}
