//! The `issues` payload. Every action (opened, edited, closed, reopened, deleted,
//! transferred, labeled, pinned, …) carries the issue as of that moment.

use super::common::{Actor, RepositoryRef};
use serde::Deserialize;

/// An `issues` delivery.
#[derive(Debug, Deserialize)]
pub struct IssuesEvent<'a> {
    #[serde(borrow)]
    pub action: &'a str,
    #[serde(borrow)]
    pub issue: Issue<'a>,
    #[serde(borrow)]
    pub repository: RepositoryRef<'a>,
    #[serde(borrow, default)]
    pub sender: Option<Actor<'a>>,
}

/// An issue as a webhook embeds it.
#[derive(Debug, Deserialize)]
pub struct Issue<'a> {
    pub id: i64,
    pub number: i64,
    #[serde(borrow)]
    pub title: &'a str,
    /// `open` or `closed`. Some published payloads (`pinned`) omit it; the state then
    /// follows `closed_at`, which GitHub sets exactly while an issue is closed.
    #[serde(borrow, default)]
    pub state: Option<&'a str>,
    /// A free string or null (`completed`, `not_planned`, `reopened`, `duplicate`, …).
    #[serde(borrow, default)]
    pub state_reason: Option<&'a str>,
    #[serde(borrow, default)]
    pub user: Option<Actor<'a>>,
    #[serde(borrow)]
    pub created_at: &'a str,
    #[serde(borrow)]
    pub updated_at: &'a str,
    #[serde(borrow, default)]
    pub closed_at: Option<&'a str>,
    /// Absent from some payloads (`pinned`): then the payload says nothing about labels.
    #[serde(borrow, default)]
    pub labels: Option<Vec<Label<'a>>>,
}

/// A label on an issue: only its name is stored.
#[derive(Debug, Deserialize)]
pub struct Label<'a> {
    #[serde(borrow)]
    pub name: &'a str,
}
