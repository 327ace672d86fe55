//! Repositories follow GitHub: a GitHub App's `installation` and `installation_repositories`
//! events register and untrack repositories, `repository` events keep a repository's name,
//! owner, privacy, archive and deletion state current, and (with auto-registration) a
//! delivery of an unknown repository under an installation registers it.
//!
//! Why facts: these deliveries arrive in any order (a rename processed before the
//! installation event that announces the repository is normal under queue concurrency), and
//! some concern repositories not tracked yet. So each delivery is first stored as one fact
//! per repository it names (`repository_changes`, whether or not the repository is known),
//! and a repository's followed columns are recomputed as an aggregate over all of its facts
//! by one SQL function, `devmetrics_refresh_repository` (migration
//! 20261207120000_repositories_follow_github, which states each column's rule). The set of
//! facts does not depend on the order of arrival, so neither do the rows; a repository
//! registered later (by a delivery, or `npm run register`) gets its earlier facts applied by
//! the same function.
//!
//! Concurrency: every transaction here takes transaction-scoped advisory locks on the
//! installation, then on each repository (ascending GitHub id), before it writes a fact, so
//! the refresh statement (a new snapshot in READ COMMITTED) sees every committed fact.

pub mod payload;

use crate::error::{ProcessingError, Result};
use crate::payload::{parse_as, path_error, Original};
use crate::store::connections::Connections;
use crate::store::events::{self, EventRecord};
use crate::store::statement::Args;
use crate::text::clean;
use crate::time::{parse_github_time, Timestamp};
use payload::{
    DeliveryRefs, InstallationEvent, InstallationRepositoriesEvent, ListedRepository,
    RepositoryEvent,
};
use sqlx::{Connection, PgConnection};
use std::collections::HashMap;

/// The event types that change which repositories are tracked, or what they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowKind {
    Installation,
    InstallationRepositories,
    Repository,
}

impl FollowKind {
    pub fn from_name(event: &str) -> Option<Self> {
        match event {
            "installation" => Some(FollowKind::Installation),
            "installation_repositories" => Some(FollowKind::InstallationRepositories),
            "repository" => Some(FollowKind::Repository),
            _ => None,
        }
    }
}

/// How repositories get registered (the processor options `autoRegisterRepositories` and
/// `ownerTeams`).
#[derive(Debug, Clone, Default)]
pub struct FollowOptions {
    /// Register the repositories an installation adds, and an unknown repository of a
    /// delivery that names an installation. Off by default: removals, renames and the rest
    /// are followed either way.
    pub auto_register: bool,
    /// Owner login (lower case) → team name: a repository registered automatically joins the
    /// team of that name if it exists, else no team.
    pub owner_teams: HashMap<String, String>,
}

/// First key of the advisory locks on installations and on repositories (the second is the
/// GitHub id folded into an `int4`): two-key locks never collide with the one-key locks of
/// Prisma and of the link barrier.
const INSTALLATION_LOCK: i32 = 0x464f_4c49; // "FOLI"
const REPOSITORY_LOCK: i32 = 0x464f_4c52; // "FOLR"

/// What GitHub said about one repository in one delivery.
#[derive(Debug, Clone, Default)]
struct Fact {
    repo_github_id: i64,
    installation_id: Option<i64>,
    full_name: Option<String>,
    owner: Option<String>,
    private: Option<bool>,
    archived: Option<bool>,
    deleted: bool,
    /// Membership: added or registered (`true`), removed (`false`).
    tracked: Option<bool>,
    github_updated_at: Option<Timestamp>,
}

impl Fact {
    fn listed(repo: &ListedRepository<'_>, installation_id: i64, tracked: bool) -> Fact {
        Fact {
            repo_github_id: repo.id,
            installation_id: Some(installation_id),
            full_name: repo.full_name.map(clean),
            owner: repo.full_name.and_then(owner_of),
            private: repo.private,
            tracked: Some(tracked),
            ..Fact::default()
        }
    }
}

fn owner_of(full_name: &str) -> Option<String> {
    full_name.split_once('/').map(|(o, _)| clean(o))
}

/// What an installation delivery changes on the installation's row. `state`: the
/// suspension it sets (`Some(None)` resumed, `Some(Some(t))` suspended at t) as of the
/// delivery's received time.
#[derive(Debug, Default)]
struct InstallationChange {
    github_id: i64,
    account_login: Option<String>,
    account_id: Option<i64>,
    account_type: Option<String>,
    repository_selection: Option<String>,
    state: Option<Option<Timestamp>>,
    deleted: bool,
}

/// One delivery's effect: the installation row, the facts, and the repositories to refresh
/// besides those the facts name (all of an installation's, on suspend, unsuspend, uninstall).
#[derive(Debug, Default)]
struct Change {
    installation: Option<InstallationChange>,
    facts: Vec<Fact>,
    /// Refresh every repository of this installation too (and, on uninstall, write a
    /// removal fact for each).
    whole_installation: Option<i64>,
    uninstall: bool,
    /// The repository the `events` row belongs to, if the delivery names one.
    repo_github_id: Option<i64>,
    action: Option<String>,
    sender_github_id: Option<i64>,
}

/// The outcome of a follow delivery.
#[derive(Debug)]
pub struct Followed {
    /// `None`: the delivery was processed before (a duplicate), nothing written.
    pub event_id: Option<String>,
    pub repo_id: Option<String>,
    pub action: Option<String>,
    /// GitHub ids of the repositories whose rows may have changed (for cache invalidation).
    pub touched: Vec<i64>,
    /// Repositories registered by this delivery, as `(id, fullName)`.
    pub registered: Vec<(String, String)>,
}

/// Parses a follow delivery into its change; `INVALID_PAYLOAD` names the offending field.
fn parse(
    kind: FollowKind,
    scratch: &mut [u8],
    original: impl Original,
    received_at: Timestamp,
) -> Result<Change> {
    match kind {
        FollowKind::Installation => {
            let p: InstallationEvent =
                parse_as(scratch, original, |b| path_error::<InstallationEvent>(b))?;
            let id = p.installation.id;
            let mut change = Change {
                action: Some(clean(p.action)),
                sender_github_id: p.sender.as_ref().map(|s| s.id),
                installation: Some(installation_change(&p.installation)),
                ..Change::default()
            };
            let inst = change.installation.as_mut().expect("set above");
            match p.action {
                "created" => {
                    inst.state = Some(None);
                    change.facts = p
                        .repositories
                        .iter()
                        .flatten()
                        .map(|r| Fact::listed(r, id, true))
                        .collect();
                }
                "deleted" => {
                    inst.deleted = true;
                    change.uninstall = true;
                    change.whole_installation = Some(id);
                    change.facts = p
                        .repositories
                        .iter()
                        .flatten()
                        .map(|r| Fact::listed(r, id, false))
                        .collect();
                }
                "suspend" => {
                    let at = p
                        .installation
                        .suspended_at
                        .and_then(parse_github_time)
                        .unwrap_or(received_at);
                    inst.state = Some(Some(at));
                    change.whole_installation = Some(id);
                }
                "unsuspend" => {
                    inst.state = Some(None);
                    change.whole_installation = Some(id);
                }
                // new_permissions_accepted and anything newer: the installation's row only.
                _ => {}
            }
            Ok(change)
        }
        FollowKind::InstallationRepositories => {
            let p: InstallationRepositoriesEvent = parse_as(scratch, original, |b| {
                path_error::<InstallationRepositoriesEvent>(b)
            })?;
            let id = p.installation.id;
            let mut inst = installation_change(&p.installation);
            if inst.repository_selection.is_none() {
                inst.repository_selection = p.repository_selection.map(clean);
            }
            let mut facts: Vec<Fact> = p
                .repositories_added
                .iter()
                .map(|r| Fact::listed(r, id, true))
                .collect();
            facts.extend(
                p.repositories_removed
                    .iter()
                    .map(|r| Fact::listed(r, id, false)),
            );
            Ok(Change {
                action: Some(clean(p.action)),
                sender_github_id: p.sender.as_ref().map(|s| s.id),
                installation: Some(inst),
                facts,
                ..Change::default()
            })
        }
        FollowKind::Repository => {
            let p: RepositoryEvent =
                parse_as(scratch, original, |b| path_error::<RepositoryEvent>(b))?;
            let r = &p.repository;
            let github_updated_at = match r.updated_at {
                Some(s) => Some(parse_github_time(s).ok_or_else(|| {
                    ProcessingError::InvalidPayload(format!(
                        "repository.updated_at: not an RFC 3339 time: {s}"
                    ))
                })?),
                None => None,
            };
            let installation_id = p.installation.as_ref().map(|i| i.id);
            let fact = Fact {
                repo_github_id: r.id,
                installation_id,
                full_name: Some(clean(r.full_name)),
                owner: r
                    .owner
                    .as_ref()
                    .map(|o| clean(o.login))
                    .or_else(|| owner_of(r.full_name)),
                private: r.private,
                archived: r.archived,
                deleted: p.action == "deleted",
                // Registering it, when allowed, is decided under the lock (only if unknown).
                tracked: None,
                github_updated_at,
            };
            Ok(Change {
                action: Some(clean(p.action)),
                sender_github_id: p.sender.as_ref().map(|s| s.id),
                installation: installation_id.map(|id| InstallationChange {
                    github_id: id,
                    ..InstallationChange::default()
                }),
                facts: vec![fact],
                repo_github_id: Some(r.id),
                whole_installation: None,
                uninstall: false,
            })
        }
    }
}

/// GitHub's installation and repository ids start at 1: a delivery naming 0 or a negative id
/// is a broken payload (`INVALID_PAYLOAD`, nothing written), as for every other event's ids.
fn check_ids(change: &Change) -> Result<()> {
    let bad = |what: &str, id: i64| {
        ProcessingError::InvalidPayload(format!("{what} is not a valid id: {id}"))
    };
    let installation = change.installation.as_ref().map(|i| i.github_id);
    if let Some(id) = installation.filter(|&id| id <= 0) {
        return Err(bad("installation.id", id));
    }
    for fact in &change.facts {
        if fact.repo_github_id <= 0 {
            return Err(bad("repository id", fact.repo_github_id));
        }
        if let Some(id) = fact.installation_id.filter(|&id| id <= 0) {
            return Err(bad("installation.id", id));
        }
    }
    Ok(())
}

fn installation_change(i: &payload::Installation<'_>) -> InstallationChange {
    InstallationChange {
        github_id: i.id,
        account_login: i.account.as_ref().and_then(|a| a.login.map(clean)),
        account_id: i.account.as_ref().map(|a| a.id),
        account_type: i.account.as_ref().and_then(|a| a.kind.map(clean)),
        repository_selection: i.repository_selection.map(clean),
        state: None,
        deleted: false,
    }
}

/// Processes an `installation`, `installation_repositories` or `repository` delivery: its
/// facts, the installation's row, registrations and refreshes, and its `events` row, in one
/// transaction. A delivery processed before changes nothing (`event_id: None`).
pub async fn process(
    db: &Connections,
    options: &FollowOptions,
    kind: FollowKind,
    ev: &EventRecord<'_>,
    original: &[u8],
    now: Timestamp,
) -> Result<Followed> {
    let mut scratch = original.to_vec();
    let change = parse(kind, &mut scratch, original, ev.received_at)?;
    check_ids(&change)?;
    let mut tries = db.tries();
    loop {
        let mut conn = tries.lease().await?;
        let done = apply(&mut conn, options, &change, ev, now).await;
        if let Some(done) = tries.finish(conn, done)? {
            return Ok(done);
        }
    }
}

async fn apply(
    conn: &mut PgConnection,
    options: &FollowOptions,
    change: &Change,
    ev: &EventRecord<'_>,
    now: Timestamp,
) -> std::result::Result<Followed, ProcessingError> {
    let mut tx = conn.begin().await?;
    let installation_id = change.installation.as_ref().map(|i| i.github_id);
    if let Some(id) = installation_id {
        lock(&mut tx, INSTALLATION_LOCK, &[id]).await?;
    }
    // The repositories: those named, and all of the installation's when it is suspended,
    // resumed or uninstalled.
    let mut repos: Vec<i64> = change.facts.iter().map(|f| f.repo_github_id).collect();
    if let Some(id) = change.whole_installation {
        let of_installation: Vec<i64> = sqlx::query_scalar(
            r#"SELECT "githubId" FROM repositories WHERE "installationId" = $1"#,
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        repos.extend(of_installation);
    }
    repos.sort_unstable();
    repos.dedup();
    lock(&mut tx, REPOSITORY_LOCK, &repos).await?;

    if let Some(inst) = &change.installation {
        upsert_installation(&mut tx, inst, ev.received_at, now).await?;
    }
    let mut facts = change.facts.clone();
    if change.uninstall {
        // A removal fact for every repository of the installation (those the payload lists
        // are already there).
        for &github_id in &repos {
            if !facts.iter().any(|f| f.repo_github_id == github_id) {
                facts.push(Fact {
                    repo_github_id: github_id,
                    installation_id,
                    tracked: Some(false),
                    ..Fact::default()
                });
            }
        }
    }
    // A repository event of an unknown repository under an installation registers it.
    if options.auto_register {
        if let (Some(github_id), Some(_)) = (change.repo_github_id, installation_id) {
            if !exists(&mut tx, github_id).await? {
                for fact in facts.iter_mut().filter(|f| f.repo_github_id == github_id) {
                    fact.tracked = Some(true);
                }
            }
        }
    }
    insert_facts(&mut tx, &facts, ev).await?;
    let mut registered = Vec::new();
    if options.auto_register {
        for fact in facts.iter().filter(|f| f.tracked == Some(true)) {
            if let Some(row) = register(&mut tx, options, fact, now).await? {
                registered.push(row);
            }
        }
    }
    refresh(&mut tx, &repos).await?;

    let repo_id: Option<String> = match change.repo_github_id {
        Some(github_id) => {
            sqlx::query_scalar(r#"SELECT id FROM repositories WHERE "githubId" = $1"#)
                .bind(github_id)
                .fetch_optional(&mut *tx)
                .await?
        }
        None => None,
    };
    let record = EventRecord {
        repo_id: repo_id.as_deref(),
        action: change.action.as_deref(),
        sender_github_id: change.sender_github_id.or(ev.sender_github_id),
        ..*ev
    };
    let mut args = Args::default();
    events::claim_args(&mut args, &record, now);
    let claimed: Option<String> =
        sqlx::query_scalar_with(&format!("{} RETURNING id", events::CLAIM), args.finish()?)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(event_id) = claimed else {
        tx.rollback().await?;
        return Ok(Followed {
            event_id: None,
            repo_id,
            action: change.action.clone(),
            touched: Vec::new(),
            registered: Vec::new(),
        });
    };
    tx.commit().await?;
    Ok(Followed {
        event_id: Some(event_id),
        repo_id,
        action: change.action.clone(),
        touched: repos,
        registered,
    })
}

/// Registers the unknown repository of an ordinary delivery that names an installation
/// (auto-registration): a membership fact for the delivery, the installation's row if new,
/// the repository's row, and its refresh (which applies whatever was stored for it before).
/// Returns `None` when the payload names no repository or installation (nothing
/// registered), else the rows this call registered as `(id, fullName)` (empty when the
/// repository was registered meanwhile).
pub async fn register_from_delivery(
    db: &Connections,
    options: &FollowOptions,
    ev: &EventRecord<'_>,
    original: &[u8],
    now: Timestamp,
) -> Result<Option<Vec<(String, String)>>> {
    let mut scratch = original.to_vec();
    let Ok(refs) = parse_as::<DeliveryRefs>(&mut scratch, original, |_| String::new()) else {
        return Ok(None);
    };
    let (Some(repo), Some(installation)) = (refs.repository, refs.installation) else {
        return Ok(None);
    };
    if repo.id <= 0 || installation.id <= 0 {
        // Not GitHub ids (they start at 1): nothing to register under.
        return Ok(None);
    }
    let fact = Fact {
        repo_github_id: repo.id,
        installation_id: Some(installation.id),
        full_name: Some(clean(repo.full_name)),
        owner: repo
            .owner
            .as_ref()
            .map(|o| clean(o.login))
            .or_else(|| owner_of(repo.full_name)),
        private: repo.private,
        tracked: Some(true),
        ..Fact::default()
    };
    let inst = InstallationChange {
        github_id: installation.id,
        ..InstallationChange::default()
    };
    let mut tries = db.tries();
    loop {
        let mut conn = tries.lease().await?;
        let done = async {
            let mut tx = conn.begin().await?;
            lock(&mut tx, INSTALLATION_LOCK, &[installation.id]).await?;
            lock(&mut tx, REPOSITORY_LOCK, &[repo.id]).await?;
            upsert_installation(&mut tx, &inst, ev.received_at, now).await?;
            let mut registered = Vec::new();
            if !exists(&mut tx, repo.id).await? {
                insert_facts(&mut tx, std::slice::from_ref(&fact), ev).await?;
                registered.extend(register(&mut tx, options, &fact, now).await?);
                refresh(&mut tx, &[repo.id]).await?;
            }
            tx.commit().await?;
            Ok::<_, ProcessingError>(Some(registered))
        }
        .await;
        if let Some(done) = tries.finish(conn, done)? {
            return Ok(done);
        }
    }
}

async fn lock(
    tx: &mut PgConnection,
    space: i32,
    github_ids: &[i64],
) -> std::result::Result<(), sqlx::Error> {
    if github_ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "SELECT pg_advisory_xact_lock($1, (id % 2147483647)::int4) \
           FROM (SELECT DISTINCT unnest($2::int8[]) AS id ORDER BY 1) ids",
    )
    .bind(space)
    .bind(github_ids)
    .execute(tx)
    .await
    .map(drop)
}

async fn exists(tx: &mut PgConnection, github_id: i64) -> std::result::Result<bool, sqlx::Error> {
    sqlx::query_scalar(r#"SELECT EXISTS (SELECT 1 FROM repositories WHERE "githubId" = $1)"#)
        .bind(github_id)
        .fetch_one(tx)
        .await
}

/// The installation's row: created on first sight; account and selection filled in;
/// suspension ordered by received time (a suspension wins a tie); deletion terminal (the
/// earliest received).
async fn upsert_installation(
    tx: &mut PgConnection,
    inst: &InstallationChange,
    received_at: Timestamp,
    now: Timestamp,
) -> std::result::Result<(), sqlx::Error> {
    let (suspended_at, state_as_of) = match inst.state {
        Some(state) => (state, Some(received_at)),
        None => (None, None),
    };
    sqlx::query(
        r#"INSERT INTO github_installations AS gi (id, "githubId", "accountLogin", "accountId", "accountType",
               "repositorySelection", "suspendedAt", "stateAsOf", "deletedAt", "createdAt", "updatedAt")
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
           ON CONFLICT ("githubId") DO UPDATE SET
             "accountLogin" = COALESCE(EXCLUDED."accountLogin", gi."accountLogin"),
             "accountId" = COALESCE(EXCLUDED."accountId", gi."accountId"),
             "accountType" = COALESCE(EXCLUDED."accountType", gi."accountType"),
             "repositorySelection" = COALESCE(EXCLUDED."repositorySelection", gi."repositorySelection"),
             "suspendedAt" = CASE
                 WHEN EXCLUDED."stateAsOf" IS NOT NULL AND (gi."stateAsOf" IS NULL
                      OR (EXCLUDED."stateAsOf", EXCLUDED."suspendedAt" IS NOT NULL, EXCLUDED."suspendedAt")
                         > (gi."stateAsOf", gi."suspendedAt" IS NOT NULL, gi."suspendedAt"))
                 THEN EXCLUDED."suspendedAt" ELSE gi."suspendedAt" END,
             "stateAsOf" = GREATEST(gi."stateAsOf", EXCLUDED."stateAsOf"),
             "deletedAt" = LEAST(gi."deletedAt", EXCLUDED."deletedAt"),
             "updatedAt" = EXCLUDED."updatedAt""#,
    )
    .bind(crate::store::new_id())
    .bind(inst.github_id)
    .bind(inst.account_login.as_deref())
    .bind(inst.account_id)
    .bind(inst.account_type.as_deref())
    .bind(inst.repository_selection.as_deref())
    .bind(suspended_at)
    .bind(state_as_of)
    .bind(inst.deleted.then_some(received_at))
    .bind(now)
    .execute(tx)
    .await
    .map(drop)
}

/// Stores facts; a delivery's fact about a repository is stored once (a redelivery or a
/// retried attempt adds nothing).
async fn insert_facts(
    tx: &mut PgConnection,
    facts: &[Fact],
    ev: &EventRecord<'_>,
) -> std::result::Result<(), sqlx::Error> {
    if facts.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = facts.iter().map(|_| crate::store::new_id()).collect();
    let col = |f: fn(&Fact) -> Option<String>| facts.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        r#"INSERT INTO repository_changes (id, "repoGithubId", "deliveryId", event, action, "installationId",
               "fullName", owner, private, archived, deleted, tracked, "githubUpdatedAt", "receivedAt", "createdAt")
           SELECT f.id, f.repo, $3, $4, $5, f.installation, f.full_name, f.owner, f.private, f.archived,
                  f.deleted, f.tracked, f.updated_at, $6, $7
             FROM unnest($1::text[], $2::int8[], $8::int8[], $9::text[], $10::text[], $11::bool[], $12::bool[],
                         $13::bool[], $14::bool[], $15::timestamp[])
                  AS f(id, repo, installation, full_name, owner, private, archived, deleted, tracked, updated_at)
           ON CONFLICT ("deliveryId", "repoGithubId") DO NOTHING"#,
    )
    .bind(&ids)
    .bind(facts.iter().map(|f| f.repo_github_id).collect::<Vec<_>>())
    .bind(ev.delivery_id)
    .bind(ev.event_type)
    .bind(ev.action)
    .bind(ev.received_at)
    .bind(crate::time::now())
    .bind(facts.iter().map(|f| f.installation_id).collect::<Vec<_>>())
    .bind(col(|f| f.full_name.clone()))
    .bind(col(|f| f.owner.clone()))
    .bind(facts.iter().map(|f| f.private).collect::<Vec<_>>())
    .bind(facts.iter().map(|f| f.archived).collect::<Vec<_>>())
    .bind(facts.iter().map(|f| f.deleted).collect::<Vec<_>>())
    .bind(facts.iter().map(|f| f.tracked).collect::<Vec<_>>())
    .bind(facts.iter().map(|f| f.github_updated_at).collect::<Vec<_>>())
    .execute(tx)
    .await
    .map(drop)
}

/// Inserts the repository's row if it has none (its team by the owner → team rule); the
/// refresh then fills in what its facts say. `Some((id, fullName))` when inserted.
async fn register(
    tx: &mut PgConnection,
    options: &FollowOptions,
    fact: &Fact,
    now: Timestamp,
) -> std::result::Result<Option<(String, String)>, sqlx::Error> {
    let Some(full_name) = fact.full_name.as_deref() else {
        // A listing without a name (never seen from GitHub): wait for a delivery that has it.
        return Ok(None);
    };
    let team = fact
        .owner
        .as_deref()
        .and_then(|o| options.owner_teams.get(&o.to_lowercase()));
    sqlx::query_as(
        r#"INSERT INTO repositories (id, "githubId", "fullName", "teamId", "installationId", owner, private,
                                    "createdAt", "updatedAt")
           VALUES ($1, $2, $3, (SELECT id FROM teams WHERE name = $4 ORDER BY "createdAt", id LIMIT 1),
                   $5, $6, $7, $8, $8)
           ON CONFLICT ("githubId") DO NOTHING
           RETURNING id, "fullName""#,
    )
    .bind(crate::store::new_id())
    .bind(fact.repo_github_id)
    .bind(full_name)
    .bind(team)
    .bind(fact.installation_id)
    .bind(fact.owner.as_deref())
    .bind(fact.private)
    .bind(now)
    .fetch_optional(tx)
    .await
}

async fn refresh(
    tx: &mut PgConnection,
    github_ids: &[i64],
) -> std::result::Result<(), sqlx::Error> {
    if github_ids.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT devmetrics_refresh_repository(id) FROM unnest($1::int8[]) AS id")
        .bind(github_ids)
        .execute(tx)
        .await
        .map(drop)
}

/// Stores a delivery of a tracked type whose repository was removed from tracking (or
/// deleted) before it was received: `processed`, with the reason, no entity rows. A
/// redelivery of a processed delivery only counts the attempt; one whose earlier attempt
/// failed (`processed = false`) settles the row as ignored.
pub async fn record_ignored(
    db: &Connections,
    ev: &EventRecord<'_>,
    reason: &str,
    now: Timestamp,
) -> Result<String> {
    let mut tries = db.tries();
    loop {
        let mut conn = tries.lease().await?;
        let id = sqlx::query_scalar(
            r#"INSERT INTO events (id, "repoId", "deliveryId", type, action, "senderGithubId", payload,
                                   processed, "processedAt", attempts, "receivedAt", "createdAt", "ignoredReason")
               VALUES ($1, $2, $3, $4, $5, $6, $7, true, $8, 1, $9, $8, $10)
               ON CONFLICT ("deliveryId") DO UPDATE SET attempts = events.attempts + 1,
                 -- A failed attempt's row becomes this outcome (else the monitoring and
                 -- reconcile would count a delivery that is settled as failed).
                 processed = true,
                 "processedAt" = CASE WHEN events.processed THEN events."processedAt" ELSE EXCLUDED."processedAt" END,
                 "ignoredReason" = CASE WHEN events.processed THEN events."ignoredReason" ELSE EXCLUDED."ignoredReason" END,
                 "lastError" = CASE WHEN events.processed THEN events."lastError" END,
                 "receivedAt" = CASE WHEN events.processed THEN events."receivedAt" ELSE EXCLUDED."receivedAt" END,
                 payload = CASE WHEN events.processed THEN events.payload ELSE EXCLUDED.payload END,
                 "repoId" = CASE WHEN events.processed THEN events."repoId" ELSE EXCLUDED."repoId" END
               RETURNING id"#,
        )
        .bind(crate::store::new_id())
        .bind(ev.repo_id)
        .bind(ev.delivery_id)
        .bind(ev.event_type)
        .bind(ev.action)
        .bind(ev.sender_github_id)
        .bind(crate::store::JsonbText(ev.payload))
        .bind(now)
        .bind(ev.received_at)
        .bind(reason)
        .fetch_one(&mut *conn)
        .await;
        if let Some(id) = tries.finish(conn, id)? {
            return Ok(id);
        }
    }
}
