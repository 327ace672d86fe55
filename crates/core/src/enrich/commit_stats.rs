//! Line counts from GitHub's GraphQL API onto existing `commits` rows.
//!
//! The `github` worker asks for up to 100 commits a request, each as an alias named after
//! its sha (`c<sha>: object(oid: "<sha>") { ... on Commit { oid additions deletions
//! changedFilesIfAvailable } }`), so the answer says which commit each entry is even when
//! GitHub answers `null` (a commit it cannot resolve: force-pushed away and collected). The
//! whole answer is validated before anything is written, then written with one `UPDATE …
//! FROM UNNEST` statement: counts and `statsFetchedAt` for the commits GitHub knows,
//! `statsMissing` (and `statsFetchedAt`) for those it does not, so none is asked for again.

use super::epoch_minute;
use crate::error::{ProcessingError, Result};
use crate::metrics::{derive_jobs, Activity, MetricJob};
use crate::payload::{self};
use crate::processors::push::is_commit_sha;
use crate::repos::RepoInfo;
use crate::store::connections::Connections;
use crate::time::Timestamp;
use crate::users::MappedUser;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What one answer changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitStatsOutcome {
    /// Commits whose counts were written.
    pub updated: u32,
    /// Commits GitHub could not resolve, now marked `statsMissing`.
    pub missing: u32,
    /// Entries of the answer with no row in the repository, or answered `null` for a commit
    /// whose counts were fetched before (kept): nothing written for them.
    pub unknown: u32,
    /// Developer and team metric jobs of the updated commits' authors and dates.
    pub metric_jobs: Vec<MetricJob>,
}

#[derive(Deserialize)]
struct Response<'a> {
    #[serde(borrow, default)]
    data: Option<Data<'a>>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow, default)]
    repository: Option<BTreeMap<&'a str, Option<CommitNode<'a>>>>,
}

/// `... on Commit { oid additions deletions changedFilesIfAvailable }`; an object that is
/// not a commit answers `{}`.
#[derive(Deserialize)]
struct CommitNode<'a> {
    #[serde(borrow, default)]
    oid: Option<&'a str>,
    #[serde(default)]
    additions: Option<i64>,
    #[serde(default)]
    deletions: Option<i64>,
    #[serde(rename = "changedFilesIfAvailable", default)]
    changed_files: Option<i64>,
}

/// The GraphQL alias of a commit: `c` and its sha (aliases cannot start with a digit).
pub fn alias(sha: &str) -> String {
    format!("c{sha}")
}

/// One commit's answer, validated.
#[derive(Debug, PartialEq, Eq)]
struct Stats {
    sha: String,
    /// `None`: GitHub could not resolve it.
    counts: Option<(i32, i32, Option<i32>)>,
}

/// Parses and validates an answer: every alias a commit's, every count a non-negative
/// 32-bit integer, every `oid` the alias's sha. `INVALID_PAYLOAD` otherwise.
fn parse(response: &[u8]) -> Result<Vec<Stats>> {
    let mut scratch = response.to_vec();
    let parsed: Response = payload::parse_as(&mut scratch, response, |b| {
        payload::path_error::<Response>(b)
    })?;
    let invalid = |m: String| ProcessingError::InvalidPayload(m);
    let repository = parsed.data.and_then(|d| d.repository).ok_or_else(|| {
        invalid(
            "data.repository is missing or null (repository not found or not accessible)".into(),
        )
    })?;
    let mut out = Vec::with_capacity(repository.len());
    for (key, node) in repository {
        let sha = key
            .strip_prefix('c')
            .filter(|s| is_commit_sha(s))
            .ok_or_else(|| {
                invalid(format!(
                    "data.repository.{}: not a commit alias (c<sha>)",
                    clip(key)
                ))
            })?
            .to_ascii_lowercase();
        let counts = match node {
            None => None,
            Some(CommitNode { oid: None, .. }) => None,
            Some(node) => {
                if !node.oid.is_some_and(|o| o.eq_ignore_ascii_case(&sha)) {
                    return Err(invalid(format!("data.repository.{key}.oid is not {sha}")));
                }
                let count = |v: Option<i64>, field: &str| {
                    v.and_then(|n| i32::try_from(n).ok())
                        .filter(|n| *n >= 0)
                        .ok_or_else(|| {
                            invalid(format!("data.repository.{key}.{field} is not a count"))
                        })
                };
                let files = match node.changed_files {
                    None => None,
                    Some(_) => Some(count(node.changed_files, "changedFilesIfAvailable")?),
                };
                Some((
                    count(node.additions, "additions")?,
                    count(node.deletions, "deletions")?,
                    files,
                ))
            }
        };
        out.push(Stats { sha, counts });
    }
    Ok(out)
}

/// At most 32 characters of a value in a message.
fn clip(s: &str) -> &str {
    s.char_indices().nth(32).map_or(s, |(i, _)| &s[..i])
}

const APPLY: &str = r#"
UPDATE commits AS c
SET additions = CASE WHEN u.missing THEN c.additions ELSE u.additions END,
    deletions = CASE WHEN u.missing THEN c.deletions ELSE u.deletions END,
    "filesChanged" = COALESCE(u.files, c."filesChanged"),
    "statsFetchedAt" = $2,
    "statsMissing" = u.missing
FROM UNNEST($3::text[], $4::int4[], $5::int4[], $6::int4[], $7::bool[])
     AS u(sha, additions, deletions, files, missing)
WHERE c."repoId" = $1 AND c.sha = u.sha
  -- A commit GitHub no longer resolves keeps the counts it gave before.
  AND NOT (u.missing AND c."statsFetchedAt" IS NOT NULL AND NOT c."statsMissing")
RETURNING u.missing, c."authorId", c."committedAt",
          ARRAY(SELECT tm."teamId" FROM team_members tm WHERE tm."userId" = c."authorId")"#;

/// Validates a GraphQL answer and writes it in one statement (see the module doc).
pub async fn apply(
    db: &Connections,
    repo: &RepoInfo,
    response: &[u8],
    now: Timestamp,
) -> Result<CommitStatsOutcome> {
    let stats = parse(response)?;
    let mut shas = Vec::with_capacity(stats.len());
    let (mut adds, mut dels, mut files, mut missing) = (vec![], vec![], vec![], vec![]);
    for s in &stats {
        let (a, d, f) = s.counts.unwrap_or((0, 0, None));
        shas.push(s.sha.as_str());
        adds.push(a);
        dels.push(d);
        files.push(f);
        missing.push(s.counts.is_none());
    }
    let mut conn = db.lease().await?;
    let rows = sqlx::query_as(APPLY)
        .bind(&repo.id)
        .bind(now)
        .bind(&shas)
        .bind(&adds)
        .bind(&dels)
        .bind(&files)
        .bind(&missing)
        .fetch_all(&mut *conn)
        .await;
    let rows: Vec<(bool, Option<String>, Timestamp, Vec<String>)> = conn.finish(rows)?;
    let mut outcome = CommitStatsOutcome {
        unknown: u32::try_from(stats.len() - rows.len()).unwrap_or(u32::MAX),
        ..Default::default()
    };
    let mut activities = Vec::new();
    for (was_missing, author_id, at, team_ids) in rows {
        if was_missing {
            outcome.missing += 1;
            continue;
        }
        outcome.updated += 1;
        let user = author_id.map(|id| Arc::new(MappedUser { id, team_ids }));
        activities.push(Activity { user, at });
    }
    outcome.metric_jobs = derive_jobs(&activities, repo.team_id.as_deref(), epoch_minute(now));
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(c: char) -> String {
        c.to_string().repeat(40)
    }

    #[test]
    fn reads_counts_nulls_and_non_commits() {
        let body = format!(
            r#"{{"data":{{"repository":{{
                "c{a}":{{"oid":"{a}","additions":3,"deletions":1,"changedFilesIfAvailable":2}},
                "c{b}":null,
                "c{c}":{{}},
                "c{d}":{{"oid":"{d}","additions":0,"deletions":5,"changedFilesIfAvailable":null}}}}}}}}"#,
            a = sha('a'),
            b = sha('b'),
            c = sha('c'),
            d = sha('d')
        );
        let stats = parse(body.as_bytes()).unwrap();
        assert_eq!(
            stats,
            vec![
                Stats {
                    sha: sha('a'),
                    counts: Some((3, 1, Some(2)))
                },
                Stats {
                    sha: sha('b'),
                    counts: None
                },
                Stats {
                    sha: sha('c'),
                    counts: None
                },
                Stats {
                    sha: sha('d'),
                    counts: Some((0, 5, None))
                },
            ]
        );
    }

    #[test]
    fn ignores_other_root_fields_of_the_answer() {
        // completePush's first request also asks `range: repository { before/after history
        // counts }` beside the commits; only `data.repository` is read.
        let body = format!(
            r#"{{"data":{{"repository":{{"c{a}":{{"oid":"{a}","additions":3,"deletions":1,"changedFilesIfAvailable":2}}}},
                "range":{{"before":{{"history":{{"totalCount":1}}}},"after":null}}}}}}"#,
            a = sha('a')
        );
        let stats = parse(body.as_bytes()).unwrap();
        assert_eq!(
            stats,
            vec![Stats {
                sha: sha('a'),
                counts: Some((3, 1, Some(2)))
            }]
        );
    }

    #[test]
    fn refuses_what_it_cannot_trust() {
        let a = sha('a');
        let cases = [
            ("not json".to_owned(), "not valid JSON"),
            (
                r#"{"data":{"repository":null}}"#.to_owned(),
                "data.repository is missing",
            ),
            (
                r#"{"errors":[{"type":"NOT_FOUND"}]}"#.to_owned(),
                "data.repository is missing",
            ),
            (
                r#"{"data":{"repository":{"x":null}}}"#.to_owned(),
                "not a commit alias",
            ),
            (
                format!(
                    r#"{{"data":{{"repository":{{"c{a}":{{"oid":"{b}","additions":1,"deletions":1}}}}}}}}"#,
                    b = sha('b')
                ),
                "oid is not",
            ),
            (
                format!(
                    r#"{{"data":{{"repository":{{"c{a}":{{"oid":"{a}","additions":-1,"deletions":1}}}}}}}}"#
                ),
                "additions is not a count",
            ),
            (
                format!(r#"{{"data":{{"repository":{{"c{a}":{{"oid":"{a}","deletions":1}}}}}}}}"#),
                "additions is not a count",
            ),
            (
                format!(
                    r#"{{"data":{{"repository":{{"c{a}":{{"oid":"{a}","additions":"1","deletions":1}}}}}}}}"#
                ),
                "additions",
            ),
        ];
        for (body, expected) in cases {
            let err = parse(body.as_bytes()).unwrap_err();
            assert_eq!(err.code(), crate::ErrorCode::InvalidPayload, "{body}");
            assert!(err.to_string().contains(expected), "{body}: {err}");
        }
    }
}
