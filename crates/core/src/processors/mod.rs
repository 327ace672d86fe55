//! One processor per tracked event type. Each turns a parsed payload into a plan (pure,
//! validated, no I/O), names the people it needs mapped, lists the statements that write its rows, and reports the activities that trigger metric jobs.
//!
//! Shared parts: [`people`] (author and reviewer mapping, bots, unmapped logins) and
//! [`fields`] (payload value validation); the convergent upserts live in the store.

pub mod fields;
pub mod issues;
pub mod people;
pub mod pull_request;
pub mod push;
pub mod review;

use crate::error::Result;
use crate::metrics::Activity;
use crate::payload::TrackedPayload;
use crate::repos::RepoInfo;
use crate::store::statement::EntityWrite;
use crate::time::Timestamp;
use crate::users::{Identity, UserMap};

pub use issues::IssueProcessor;
pub use pull_request::PullRequestProcessor;
pub use push::PushProcessor;
pub use review::PullRequestReviewProcessor;

/// What a processor extracted from one payload, ready to map and write.
#[derive(Debug)]
pub enum Plan<'a> {
    Push(push::PushPlan<'a>),
    PullRequest(pull_request::PullRequestPlan<'a>),
    Issue(issues::IssuePlan<'a>),
    Review(review::ReviewPlan<'a>),
}

/// What a plan's write needs besides the plan: the delivery's repository, the mapped
/// users, and the delivery's received time (dismissals and deletions carry no time of
/// their own).
#[derive(Debug, Clone, Copy)]
pub struct WriteContext<'c> {
    pub repo: &'c RepoInfo,
    pub users: &'c UserMap,
    pub received_at: Timestamp,
}

/// Activities of an event after user mapping, and the people that did not map.
#[derive(Debug, Default)]
pub struct MappedActivity {
    pub activities: Vec<Activity>,
    /// Logins (or emails without a login) that map to no user, sorted and unique.
    pub unmapped: Vec<String>,
}

/// Builds the plan for a parsed payload; `INVALID_PAYLOAD` when a value is unusable.
pub fn plan<'a>(payload: &TrackedPayload<'a>) -> Result<Plan<'a>> {
    match payload {
        TrackedPayload::Push(p) => PushProcessor::plan(p).map(Plan::Push),
        TrackedPayload::PullRequest(p) => PullRequestProcessor::plan(p).map(Plan::PullRequest),
        TrackedPayload::Issues(p) => IssueProcessor::plan(p).map(Plan::Issue),
        TrackedPayload::PullRequestReview(p) => {
            PullRequestReviewProcessor::plan(p).map(Plan::Review)
        }
    }
}

impl Plan<'_> {
    /// Everyone the plan needs mapped, for one batched lookup.
    pub fn identities(&self) -> Vec<Identity> {
        match self {
            Plan::Push(p) => p.identities(),
            Plan::PullRequest(p) => p.identities(),
            Plan::Issue(p) => p.identities(),
            Plan::Review(p) => p.identities(),
        }
    }

    /// The statements that write the plan's rows, in order (see `store::writes`).
    pub fn writes<'s>(&'s self, ctx: &'s WriteContext<'_>) -> Vec<EntityWrite<'s>> {
        match self {
            Plan::Push(p) => p.writes(ctx.repo, ctx.users),
            Plan::PullRequest(p) => p.writes(ctx),
            Plan::Issue(p) => p.writes(ctx),
            Plan::Review(p) => p.writes(ctx),
        }
    }

    /// The activities that trigger metric jobs.
    pub fn activities(&self, users: &UserMap) -> MappedActivity {
        match self {
            Plan::Push(p) => p.activities(users),
            Plan::PullRequest(p) => p.activities(users),
            Plan::Issue(p) => p.activities(users),
            Plan::Review(p) => p.activities(users),
        }
    }
}
