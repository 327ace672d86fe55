//! The `release` payload (`created`, `published`, `edited`, `prereleased`, `released`,
//! `unpublished`, `deleted`). Releases carry no `updated_at`.

use super::common::{Actor, RepositoryRef};
use serde::Deserialize;

/// A `release` delivery.
#[derive(Debug, Deserialize)]
pub struct ReleaseEvent<'a> {
    #[serde(borrow)]
    pub action: &'a str,
    #[serde(borrow)]
    pub release: Release<'a>,
    #[serde(borrow)]
    pub repository: RepositoryRef<'a>,
    #[serde(borrow, default)]
    pub sender: Option<Actor<'a>>,
}

/// A release as webhooks carry it.
#[derive(Debug, Deserialize)]
pub struct Release<'a> {
    pub id: i64,
    #[serde(borrow)]
    pub tag_name: &'a str,
    #[serde(borrow, default)]
    pub name: Option<&'a str>,
    #[serde(borrow)]
    pub target_commitish: &'a str,
    #[serde(default)]
    pub draft: bool,
    #[serde(default)]
    pub prerelease: bool,
    #[serde(borrow, default)]
    pub author: Option<Actor<'a>>,
    #[serde(borrow)]
    pub created_at: &'a str,
    #[serde(borrow, default)]
    pub published_at: Option<&'a str>,
}
