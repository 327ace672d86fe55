//! `PushProcessor`: commits from a push, in bulk.
//!
//! What a push payload cannot tell us is left at its honest default: no line counts
//! (`additions`/`deletions` stay 0), `filesChanged` = |added| + |removed| + |modified|, and
//! authors map by `author.username` → `users.githubLogin`, then by email, since commit
//! authors carry no numeric GitHub id. Tag pushes and branch deletes have no commits.

use super::MappedActivity;
use crate::error::{ProcessingError, Result};
use crate::metrics::Activity;
use crate::payload::common::is_bot_login;
use crate::payload::PushEvent;
use crate::repos::RepoInfo;
use crate::store::commits::{self, NewCommit};
use crate::store::statement::EntityWrite;
use crate::text::strip_nul;
use crate::time::{parse_github_time, Timestamp};
use crate::users::{Identity, UserMap};
use std::borrow::Cow;
use std::collections::BTreeSet;

pub struct PushProcessor;

/// A validated commit of a push.
#[derive(Debug)]
pub struct PlannedCommit<'a> {
    pub sha: &'a str,
    pub message: Cow<'a, str>,
    pub login: Option<Cow<'a, str>>,
    pub name: Cow<'a, str>,
    pub email: Cow<'a, str>,
    pub is_bot: bool,
    pub files_changed: i32,
    pub committed_at: Timestamp,
}

impl PlannedCommit<'_> {
    /// Login first, then email: the order in which authors map.
    fn identities(&self) -> Vec<Identity> {
        let mut ids = Vec::with_capacity(2);
        if let Some(login) = &self.login {
            ids.push(Identity::login(login));
        }
        if !self.email.is_empty() {
            ids.push(Identity::email(&self.email));
        }
        ids
    }

    /// How an unmapped author is reported: the login, or the email without one.
    fn label(&self) -> &str {
        self.login.as_deref().unwrap_or(&self.email)
    }
}

/// The commits of one push, deduplicated and sorted by sha.
#[derive(Debug)]
pub struct PushPlan<'a> {
    pub commits: Vec<PlannedCommit<'a>>,
}

impl PushProcessor {
    /// Validates and normalises the commits. A branch delete or tag push yields none.
    pub fn plan<'a>(event: &PushEvent<'a>) -> Result<PushPlan<'a>> {
        let mut commits = Vec::with_capacity(event.commits.len());
        for (i, c) in event.commits.iter().enumerate() {
            if !is_commit_sha(c.id) {
                return Err(ProcessingError::InvalidPayload(format!(
                    "commits[{i}].id is not a commit SHA"
                )));
            }
            let committed_at = parse_github_time(c.timestamp).ok_or_else(|| {
                ProcessingError::InvalidPayload(format!(
                    "commits[{i}].timestamp is not an RFC 3339 time"
                ))
            })?;
            let files = c.added.0 + c.removed.0 + c.modified.0;
            let login = c.author.username.filter(|u| !u.is_empty()).map(strip_nul);
            let email = strip_nul(c.author.email.unwrap_or(""));
            commits.push(PlannedCommit {
                sha: c.id,
                message: strip_nul(c.message),
                is_bot: login.as_deref().is_some_and(is_bot_login) || email.contains("[bot]@"),
                login,
                name: strip_nul(c.author.name),
                email,
                files_changed: i32::try_from(files).unwrap_or(i32::MAX),
                committed_at,
            });
        }
        Ok(PushPlan {
            commits: sorted_by_sha(commits),
        })
    }
}

impl<'a> PushPlan<'a> {
    /// A plan of commits found elsewhere than in a push (the REST commits list), validated
    /// by the caller: deduplicated and sorted by sha like a push's.
    pub fn from_commits(commits: Vec<PlannedCommit<'a>>) -> Self {
        PushPlan {
            commits: sorted_by_sha(commits),
        }
    }
}

/// The commits in sha order, the first occurrence of a repeated sha kept. Sorts small
/// (prefix, sha, position) keys and moves each commit once: sorting the commits themselves
/// moved ~140-byte values through every pass and was a third of planning a 2048-commit push.
fn sorted_by_sha(commits: Vec<PlannedCommit<'_>>) -> Vec<PlannedCommit<'_>> {
    // The first 8 bytes, big-endian, order like the string (shas are at least 40 bytes),
    // so most comparisons are one integer compare.
    let prefix = |sha: &str| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&sha.as_bytes()[..8]);
        u64::from_be_bytes(b)
    };
    let mut order: Vec<(u64, &str, usize)> = commits
        .iter()
        .enumerate()
        .map(|(i, c)| (prefix(c.sha), c.sha, i))
        .collect();
    // The position breaks ties, so the first occurrence comes first, as a stable sort would.
    order.sort_unstable();
    order.dedup_by(|later, first| later.1 == first.1);
    let mut slots: Vec<Option<PlannedCommit>> = commits.into_iter().map(Some).collect();
    order
        .iter()
        .filter_map(|&(_, _, i)| slots[i].take())
        .collect()
}

/// A 40-hex (SHA-1) or 64-hex (SHA-256) object name.
pub(crate) fn is_commit_sha(s: &str) -> bool {
    // Without short-circuits: hex digits and letters are equally likely in a sha, so a
    // branch per byte is mispredicted half the time (it was most of `plan`'s own time).
    let hex = |b: u8| (b.wrapping_sub(b'0') < 10) | ((b | 0x20).wrapping_sub(b'a') < 6);
    matches!(s.len(), 40 | 64) && s.bytes().fold(true, |ok, b| ok & hex(b))
}

impl PushPlan<'_> {
    pub fn identities(&self) -> Vec<Identity> {
        let set: BTreeSet<Identity> = self.commits.iter().flat_map(|c| c.identities()).collect();
        set.into_iter().collect()
    }

    /// The statements that insert the commits (none for a push without any).
    pub fn writes<'s>(&'s self, repo: &'s RepoInfo, users: &'s UserMap) -> Vec<EntityWrite<'s>> {
        commits::insert(&repo.id, &self.commit_rows(users))
    }

    /// The commits' rows, sorted by sha and unique (see [`commits::insert`]).
    pub fn commit_rows<'s>(&'s self, users: &'s UserMap) -> Vec<NewCommit<'s>> {
        self.commits
            .iter()
            .map(|c| NewCommit {
                sha: c.sha,
                message: &c.message,
                author_id: users.first(&c.identities()).map(|u| u.id.as_str()),
                author_login: c.login.as_deref(),
                author_name: &c.name,
                author_email: &c.email,
                author_is_bot: c.is_bot,
                files_changed: c.files_changed,
                committed_at: c.committed_at,
            })
            .collect()
    }

    pub fn activities(&self, users: &UserMap) -> MappedActivity {
        let mut unmapped = BTreeSet::new();
        let activities = self
            .commits
            .iter()
            .map(|c| {
                let user = users.first(&c.identities()).cloned();
                if user.is_none() && !c.is_bot && !c.label().is_empty() {
                    unmapped.insert(c.label().to_owned());
                }
                Activity {
                    user,
                    at: c.committed_at,
                }
            })
            .collect();
        MappedActivity {
            activities,
            unmapped: unmapped.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{parse_tracked, EventKind, TrackedPayload};

    /// (sha, filesChanged, is bot, login) of each planned commit.
    type Row = (String, i32, bool, Option<String>);

    fn plan_of(json: &str) -> Result<Vec<Row>> {
        let original = json.as_bytes().to_vec();
        let mut scratch = original.clone();
        let TrackedPayload::Push(event) = parse_tracked(EventKind::Push, &mut scratch, &original)?
        else {
            unreachable!("a push payload")
        };
        let plan = PushProcessor::plan(&event)?;
        Ok(plan
            .commits
            .iter()
            .map(|c| {
                (
                    c.sha.to_string(),
                    c.files_changed,
                    c.is_bot,
                    c.login.as_deref().map(str::to_owned),
                )
            })
            .collect())
    }

    fn push(commits: &str) -> String {
        format!(r#"{{"ref":"refs/heads/main","repository":{{"id":1}},"commits":[{commits}]}}"#)
    }

    fn commit(sha: char, username: &str) -> String {
        format!(
            r#"{{"id":"{}","message":"m\u0000x","timestamp":"2024-01-01T00:00:00+01:00",
               "author":{{"name":"N","email":"n@example.com","username":"{username}"}},
               "added":["a","b"],"removed":[],"modified":["c"]}}"#,
            sha.to_string().repeat(40)
        )
    }

    #[test]
    fn dedupes_sorts_counts_files_and_flags_bots() {
        let json = push(
            &[
                commit('b', "alice"),
                commit('a', "dependabot[bot]"),
                commit('b', "again"),
            ]
            .join(","),
        );
        let rows = plan_of(&json).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            ("a".repeat(40), 3, true, Some("dependabot[bot]".into()))
        );
        assert_eq!(rows[1], ("b".repeat(40), 3, false, Some("alice".into())));
    }

    #[test]
    fn a_sha_is_40_or_64_hex_digits_of_either_case() {
        for b in 0..=255u8 {
            let sha = String::from_utf8_lossy(&[b; 40]).into_owned();
            let expected = sha.len() == 40 && b.is_ascii_hexdigit();
            assert_eq!(is_commit_sha(&sha), expected, "byte {b:#04x}");
        }
        assert!(is_commit_sha(&"aF09".repeat(16)));
        assert!(!is_commit_sha(&"a".repeat(41)));
        assert!(!is_commit_sha(&format!("{}g", "a".repeat(39))));
    }

    #[test]
    fn branch_delete_has_no_commits() {
        let json = r#"{"ref":"refs/heads/x","deleted":true,"commits":[],"head_commit":null,"repository":{"id":1}}"#;
        assert!(plan_of(json).unwrap().is_empty());
    }

    #[test]
    fn bad_values_are_invalid_payload_with_a_path() {
        let bad_sha = push(&commit('z', "a"));
        let err = plan_of(&bad_sha).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid payload: commits[0].id is not a commit SHA"
        );
        let wrong_type = push(r#"{"id":5}"#);
        let err = plan_of(&wrong_type).unwrap_err().to_string();
        assert!(err.starts_with("invalid payload: commits[0].id: "), "{err}");
        let err = plan_of("{\"ref\": ").unwrap_err().to_string();
        assert!(err.starts_with("invalid payload: not valid JSON"), "{err}");
    }
}
