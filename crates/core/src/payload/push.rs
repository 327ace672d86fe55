//! The `push` payload. It carries at most 2048 commits, no line counts and no numeric
//! author ids: commit authors have a name, an email and sometimes a `username`.

use super::common::{Actor, RepositoryRef};
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

#[derive(Debug, Deserialize)]
pub struct PushEvent<'a> {
    #[serde(rename = "ref")]
    pub git_ref: &'a str,
    #[serde(default)]
    pub deleted: bool,
    /// The branch's head before and after the push (forty zeros for a new or deleted
    /// branch); a truncated push is completed from `before...after` (see `enrich`).
    #[serde(borrow, default)]
    pub before: Option<&'a str>,
    #[serde(borrow, default)]
    pub after: Option<&'a str>,
    /// True when the push was not a fast-forward (history rewritten): `before` is then not
    /// an ancestor of `after`. None when the payload lacks it.
    #[serde(default)]
    pub forced: Option<bool>,
    #[serde(borrow, default)]
    pub commits: Vec<PushCommit<'a>>,
    #[serde(borrow)]
    pub repository: RepositoryRef<'a>,
    #[serde(borrow, default)]
    pub sender: Option<Actor<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct PushCommit<'a> {
    /// The commit SHA.
    pub id: &'a str,
    pub message: &'a str,
    /// Author date with the author's offset (`2019-05-15T15:20:30-05:00`).
    pub timestamp: &'a str,
    #[serde(borrow)]
    pub author: CommitAuthor<'a>,
    #[serde(default)]
    pub added: FileCount,
    #[serde(default)]
    pub removed: FileCount,
    #[serde(default)]
    pub modified: FileCount,
}

#[derive(Debug, Deserialize)]
pub struct CommitAuthor<'a> {
    pub name: &'a str,
    #[serde(borrow, default)]
    pub email: Option<&'a str>,
    #[serde(borrow, default)]
    pub username: Option<&'a str>,
}

/// The length of a file list. Only the count is stored, so the names are skipped rather
/// than allocated (a 2048-commit push can list tens of thousands of paths).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FileCount(pub usize);

impl<'de> Deserialize<'de> for FileCount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl<'de> Visitor<'de> for CountVisitor {
            type Value = FileCount;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of file paths")
            }
            fn visit_unit<E>(self) -> Result<FileCount, E> {
                Ok(FileCount(0))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FileCount, A::Error> {
                let mut n = 0;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(FileCount(n))
            }
        }
        d.deserialize_any(CountVisitor)
    }
}
