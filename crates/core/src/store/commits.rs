//! The `commits` table: bulk inserts deduplicated on `[repoId, sha]`.

use super::statement::{EntityWrite, StatementText, Table};
use crate::time::Timestamp;

/// Rows per statement. Each statement binds 11 arrays whatever the batch size (far from
/// the 65,535-parameter limit); the cap bounds statement memory, and one batch holds a
/// whole 2048-commit push.
pub const BATCH: usize = 2048;

/// A commit ready to store; author id already mapped.
#[derive(Debug, Clone)]
pub struct NewCommit<'a> {
    pub sha: &'a str,
    pub message: &'a str,
    pub author_id: Option<&'a str>,
    pub author_login: Option<&'a str>,
    pub author_name: &'a str,
    pub author_email: &'a str,
    pub author_is_bot: bool,
    pub files_changed: i32,
    pub committed_at: Timestamp,
}

static INSERT: StatementText = StatementText::new(|gate| {
    let join_gate = gate
        .map(|g| format!(" CROSS JOIN {}", g.from))
        .unwrap_or_default();
    format!(
        r#"INSERT INTO commits (id, "repoId", sha, message, "authorId", "authorLogin", "authorName",
                                "authorEmail", "authorIsBot", "filesChanged", "committedAt")
           SELECT u.id, $1, u.sha, u.message,
                  -- Exact-match fallback: a link committed after this event's lookup
                  -- must still attribute the row (see store::authors).
                  COALESCE(u.author_id,
                           (SELECT us.id FROM users us WHERE us."githubLogin" = u.login),
                           (SELECT us.id FROM users us WHERE us.email = u.email),
                           (SELECT ge."userId" FROM user_github_emails ge
                            WHERE ge.email = lower(u.email))),
                  u.login, u.name, u.email, u.bot, u.files, u.at
           FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::bool[], $10::int4[], $11::timestamp[])
                AS u(id, sha, message, author_id, login, name, email, bot, files, at){join_gate}
           ON CONFLICT ("repoId", sha) DO NOTHING"#
    )
});

/// The writes that insert commits, one `INSERT … SELECT FROM UNNEST` per batch; existing
/// `[repoId, sha]` pairs are skipped, and each write counts the rows it inserted. `rows`
/// must be deduplicated and sorted by sha (a repeated key would fail the statement; a
/// fixed order avoids deadlocks between concurrent pushes sharing commits).
pub fn insert<'a>(repo_id: &'a str, rows: &[NewCommit<'a>]) -> Vec<EntityWrite<'a>> {
    debug_assert!(
        rows.windows(2).all(|w| w[0].sha < w[1].sha),
        "commits must be sorted and unique"
    );
    rows.chunks(BATCH)
        .map(|chunk| {
            let ids: Vec<String> = chunk
                .iter()
                .map(|_| uuid::Uuid::now_v7().to_string())
                .collect();
            let shas: Vec<&str> = chunk.iter().map(|c| c.sha).collect();
            let messages: Vec<&str> = chunk.iter().map(|c| c.message).collect();
            let author_ids: Vec<Option<&str>> = chunk.iter().map(|c| c.author_id).collect();
            let logins: Vec<Option<&str>> = chunk.iter().map(|c| c.author_login).collect();
            let names: Vec<&str> = chunk.iter().map(|c| c.author_name).collect();
            let emails: Vec<&str> = chunk.iter().map(|c| c.author_email).collect();
            let bots: Vec<bool> = chunk.iter().map(|c| c.author_is_bot).collect();
            let files: Vec<i32> = chunk.iter().map(|c| c.files_changed).collect();
            let times: Vec<Timestamp> = chunk.iter().map(|c| c.committed_at).collect();
            let unmapped = author_ids.iter().any(Option::is_none);
            EntityWrite::new(&INSERT, Table::Commits, unmapped, move |args| {
                args.add(repo_id)
                    .add(&ids)
                    .add(&shas)
                    .add(&messages)
                    .add(&author_ids)
                    .add(&logins)
                    .add(&names)
                    .add(&emails)
                    .add(&bots)
                    .add(&files)
                    .add(&times);
            })
        })
        .collect()
}
