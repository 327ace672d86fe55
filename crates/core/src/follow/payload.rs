//! The payloads that tell which repositories to track and what they are now: a GitHub App's
//! `installation` and `installation_repositories` events, and `repository` events. Only the
//! fields the facts need are declared (see `follow::facts`).
//!
//! GitHub facts this rests on: an installation's `updated_at` is epoch seconds in some
//! payloads and an ISO string in others, and does not move on suspend/unsuspend, so it is not
//! read (the received time orders installation events); `repositories_removed` entries may
//! lack `full_name`; a repository's `updated_at` moves on every rename, transfer, archive and
//! visibility change.

use crate::payload::Actor;
use serde::Deserialize;

/// The account an installation belongs to (a user or an organisation).
#[derive(Debug, Deserialize)]
pub struct Account<'a> {
    pub id: i64,
    #[serde(borrow, default)]
    pub login: Option<&'a str>,
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<&'a str>,
}

/// The `installation` object: full in installation events, `{ id, node_id }` elsewhere.
#[derive(Debug, Deserialize)]
pub struct Installation<'a> {
    pub id: i64,
    #[serde(borrow, default)]
    pub account: Option<Account<'a>>,
    #[serde(borrow, default)]
    pub repository_selection: Option<&'a str>,
    #[serde(borrow, default)]
    pub suspended_at: Option<&'a str>,
}

/// A repository as installation events list it.
#[derive(Debug, Deserialize)]
pub struct ListedRepository<'a> {
    pub id: i64,
    #[serde(borrow, default)]
    pub full_name: Option<&'a str>,
    #[serde(default)]
    pub private: Option<bool>,
}

/// `installation`: created, deleted, suspend, unsuspend, new_permissions_accepted.
#[derive(Debug, Deserialize)]
pub struct InstallationEvent<'a> {
    #[serde(borrow)]
    pub action: &'a str,
    #[serde(borrow)]
    pub installation: Installation<'a>,
    #[serde(borrow, default)]
    pub repositories: Option<Vec<ListedRepository<'a>>>,
    #[serde(borrow, default)]
    pub sender: Option<Actor<'a>>,
}

/// `installation_repositories`: added, removed.
#[derive(Debug, Deserialize)]
pub struct InstallationRepositoriesEvent<'a> {
    #[serde(borrow)]
    pub action: &'a str,
    #[serde(borrow)]
    pub installation: Installation<'a>,
    #[serde(borrow, default)]
    pub repository_selection: Option<&'a str>,
    #[serde(borrow, default)]
    pub repositories_added: Vec<ListedRepository<'a>>,
    #[serde(borrow, default)]
    pub repositories_removed: Vec<ListedRepository<'a>>,
    #[serde(borrow, default)]
    pub sender: Option<Actor<'a>>,
}

/// A repository's owner.
#[derive(Debug, Deserialize)]
pub struct Owner<'a> {
    #[serde(borrow)]
    pub login: &'a str,
}

/// The `repository` object of a `repository` event.
#[derive(Debug, Deserialize)]
pub struct Repository<'a> {
    pub id: i64,
    #[serde(borrow)]
    pub full_name: &'a str,
    #[serde(borrow, default)]
    pub owner: Option<Owner<'a>>,
    #[serde(default)]
    pub private: Option<bool>,
    #[serde(default)]
    pub archived: Option<bool>,
    #[serde(borrow, default)]
    pub updated_at: Option<&'a str>,
}

/// An installation reference (`{ id }`) as any App delivery carries it.
#[derive(Debug, Deserialize)]
pub struct InstallationRef {
    pub id: i64,
}

/// `repository`: renamed, transferred, archived, unarchived, privatized, publicized, deleted,
/// edited, created.
#[derive(Debug, Deserialize)]
pub struct RepositoryEvent<'a> {
    #[serde(borrow)]
    pub action: &'a str,
    #[serde(borrow)]
    pub repository: Repository<'a>,
    #[serde(default)]
    pub installation: Option<InstallationRef>,
    #[serde(borrow, default)]
    pub sender: Option<Actor<'a>>,
}

/// The repository of any delivery, as much as registering it needs (`full_name`, owner,
/// privacy; an ordinary payload's times are not all strings, so they are not read).
#[derive(Debug, Deserialize)]
pub struct DeliveredRepository<'a> {
    pub id: i64,
    #[serde(borrow)]
    pub full_name: &'a str,
    #[serde(borrow, default)]
    pub owner: Option<Owner<'a>>,
    #[serde(default)]
    pub private: Option<bool>,
}

/// What an ordinary delivery of an unknown repository says about registering it.
#[derive(Debug, Deserialize)]
pub struct DeliveryRefs<'a> {
    #[serde(borrow, default)]
    pub repository: Option<DeliveredRepository<'a>>,
    #[serde(default)]
    pub installation: Option<InstallationRef>,
}
