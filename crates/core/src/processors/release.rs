//! `ReleaseProcessor`: every `release` action upserts the release as the payload shows it;
//! the store keeps the latest delivery's fields, and `deleted` is terminal
//! (`store::releases`).

use super::people::{ActivityLog, Person};
use super::{fields, MappedActivity, WriteContext};
use crate::error::Result;
use crate::payload::ReleaseEvent;
use crate::store::releases::{self, ReleaseRow};
use crate::store::statement::EntityWrite;
use crate::text::strip_nul;
use crate::time::Timestamp;
use crate::users::{Identity, UserMap};
use std::borrow::Cow;

/// Plans `release` deliveries.
pub struct ReleaseProcessor;

/// A validated release as one payload describes it.
#[derive(Debug, Clone)]
pub struct ReleasePlan<'a> {
    pub github_id: i64,
    pub tag_name: Cow<'a, str>,
    pub name: Option<Cow<'a, str>>,
    pub target_commitish: Cow<'a, str>,
    pub draft: bool,
    pub prerelease: bool,
    pub author: Person<'a>,
    pub created_at: Timestamp,
    pub published_at: Option<Timestamp>,
    /// The delivery deletes the release.
    pub deleted: bool,
}

impl ReleaseProcessor {
    /// Validates the payload's release. Every action is accepted.
    pub fn plan<'a>(event: &ReleaseEvent<'a>) -> Result<ReleasePlan<'a>> {
        let r = &event.release;
        Ok(ReleasePlan {
            github_id: fields::github_id("release.id", r.id)?,
            tag_name: strip_nul(r.tag_name),
            name: r.name.map(strip_nul),
            target_commitish: strip_nul(r.target_commitish),
            draft: r.draft,
            prerelease: r.prerelease,
            author: Person::from_actor(r.author.as_ref()),
            created_at: fields::time("release.created_at", r.created_at)?,
            published_at: fields::optional_time("release.published_at", r.published_at)?,
            deleted: event.action == "deleted",
        })
    }
}

impl ReleasePlan<'_> {
    /// The author, to map by GitHub id.
    pub fn identities(&self) -> Vec<Identity> {
        self.author.identity().into_iter().collect()
    }

    /// The release's upsert; a deletion's time is the delivery's received time.
    pub fn writes<'s>(&'s self, ctx: &'s WriteContext<'_>) -> Vec<EntityWrite<'s>> {
        let row = ReleaseRow {
            github_id: self.github_id,
            tag_name: &self.tag_name,
            name: self.name.as_deref(),
            target_commitish: &self.target_commitish,
            draft: self.draft,
            prerelease: self.prerelease,
            author_id: self.author.user_id(ctx.users),
            author_github_id: self.author.github_id,
            author_login: self.author.login.as_deref(),
            author_is_bot: self.author.is_bot,
            created_at: self.created_at,
            published_at: self.published_at,
            deleted_at: self.deleted.then_some(ctx.received_at),
            received_at: ctx.received_at,
        };
        vec![releases::upsert(&ctx.repo.id, row)]
    }

    /// The author's activity at publication (else creation).
    pub fn activities(&self, users: &UserMap) -> MappedActivity {
        let mut log = ActivityLog::default();
        log.acted(
            &self.author,
            self.published_at.unwrap_or(self.created_at),
            users,
        );
        log.finish()
    }
}
