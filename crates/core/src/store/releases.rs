//! The `releases` table (docs/dora.md). Releases carry no `updated_at`, so their fields are
//! ordered by (removed, the received time of the delivery, then content): the latest
//! delivery's fields win, and `deleted` wins over everything, so deletion is terminal.
//! `fieldsReceivedAt` stores the winning delivery's received time (migration
//! 20261207113000_deployment_fields); `deletedAt` keeps the earliest deletion.

use super::converge::{ConvergentUpsert, FieldGroup, Merge};
use super::statement::{EntityWrite, StatementText, Table};
use crate::time::Timestamp;

/// What one payload says about a release; author id already mapped.
#[derive(Debug, Clone)]
pub struct ReleaseRow<'a> {
    pub github_id: i64,
    pub tag_name: &'a str,
    pub name: Option<&'a str>,
    pub target_commitish: &'a str,
    pub draft: bool,
    pub prerelease: bool,
    pub author_id: Option<&'a str>,
    pub author_github_id: Option<i64>,
    pub author_login: Option<&'a str>,
    pub author_is_bot: bool,
    pub created_at: Timestamp,
    pub published_at: Option<Timestamp>,
    pub deleted_at: Option<Timestamp>,
    pub received_at: Timestamp,
}

const RELEASE: ConvergentUpsert = ConvergentUpsert {
    target: r#"releases AS t
               (id, "repoId", "githubId", "tagName", name, "targetCommitish", draft, prerelease,
                "authorId", "authorGithubId", "authorLogin", "authorIsBot", "createdAt",
                "publishedAt", "deletedAt", "fieldsReceivedAt")"#,
    values: r#"$1, $2, $3, $4, $5, $6, $7, $8,
               COALESCE($9, (SELECT u.id FROM users u WHERE u."githubId" = $10)),
               $10, $11, $12, $13, $14, $15, $16"#,
    conflict: r#""githubId""#,
    lock: None,
    groups: &[FieldGroup {
        as_of: None,
        key: &[
            r#"{side}."deletedAt" IS NOT NULL"#,
            r#"COALESCE({side}."fieldsReceivedAt", '-infinity')"#,
            r#"COALESCE({side}."publishedAt", '-infinity')"#,
            "{side}.draft",
            "{side}.prerelease",
            r#"{side}."tagName" COLLATE "C""#,
            r#"COALESCE({side}.name, '') COLLATE "C""#,
            r#"{side}."targetCommitish" COLLATE "C""#,
            r#"COALESCE({side}."authorLogin", '') COLLATE "C""#,
            r#"COALESCE({side}."authorGithubId", -1)"#,
            r#"{side}."authorIsBot""#,
            r#"{side}."createdAt""#,
        ],
        columns: &[
            r#""tagName""#,
            "name",
            r#""targetCommitish""#,
            "draft",
            "prerelease",
            r#""authorGithubId""#,
            r#""authorLogin""#,
            r#""authorIsBot""#,
            r#""createdAt""#,
            r#""publishedAt""#,
            r#""fieldsReceivedAt""#,
        ],
    }],
    merges: &[
        Merge::Earliest(r#""deletedAt""#),
        Merge::Fill(r#""authorId""#),
    ],
};

static UPSERT: StatementText = StatementText::new(|gate| RELEASE.sql(gate.map(|g| g.from)));

/// Inserts the release or folds the payload into it; counts 1 when inserted or changed.
pub fn upsert<'a>(repo_id: &'a str, r: ReleaseRow<'a>) -> EntityWrite<'a> {
    let looks_up_users = r.author_id.is_none() && r.author_github_id.is_some();
    EntityWrite::new(&UPSERT, Table::Releases, looks_up_users, move |args| {
        args.add(super::new_id())
            .add(repo_id)
            .add(r.github_id)
            .add(r.tag_name)
            .add(r.name)
            .add(r.target_commitish)
            .add(r.draft)
            .add(r.prerelease)
            .add(r.author_id)
            .add(r.author_github_id)
            .add(r.author_login)
            .add(r.author_is_bot)
            .add(r.created_at)
            .add(r.published_at)
            .add(r.deleted_at)
            .add(r.received_at);
    })
}
