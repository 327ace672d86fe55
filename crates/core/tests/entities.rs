//! The pull request, issue and review processors through `WebhookProcessor::process` into
//! a real PostgreSQL: lifecycles, stale and out-of-order payloads, the tie-break on equal
//! `updated_at`, terminal states, absent fields, first reviews, author mapping, metric
//! jobs, concurrent first inserts and rejected payloads.

mod common;
mod timeline;

use chrono::NaiveDateTime;
use common::TestDb;
use devmetrics_webhook_core::{ErrorCode, MetricKind, ProcessingResult, Status, WebhookProcessor};
use timeline::{
    issue_payload, naive, pull_request_payload, review_payload, Account, Delivery, Issue, Pr,
    Review, BASE, REPO,
};

const MONA: Account = Account::user(101, "mona");
const HUBOT: Account = Account::user(102, "hubot");
const LISA: Account = Account::user(103, "lisa");
const RENOVATE: Account = Account::bot(104, "renovate[bot]");

/// A database with the repository (in a team) and two linked users, mona and hubot.
struct Fixture {
    db: TestDb,
    processor: WebhookProcessor,
    team: String,
    mona: String,
    hubot: String,
}

async fn fixture() -> Fixture {
    let db = TestDb::migrated().await;
    let team = db.insert_team("Widgets").await;
    db.insert_repository(REPO, Some(&team)).await;
    let mona = db
        .insert_user("mona@example.com", Some("mona"), Some(MONA.id), &[&team])
        .await;
    let hubot = db
        .insert_user("hubot@example.com", None, Some(HUBOT.id), &[])
        .await;
    let processor = db.processor().await;
    Fixture {
        db,
        processor,
        team,
        mona,
        hubot,
    }
}

impl Fixture {
    async fn send(
        &self,
        event: &'static str,
        payload: Vec<u8>,
        received_at: i64,
    ) -> ProcessingResult {
        self.processor
            .process(Delivery::new(common::delivery(), event, payload, received_at).job())
            .await
            .unwrap_or_else(|e| panic!("{event} delivery failed: {e}"))
    }

    async fn pr(&self, action: &str, pr: &Pr, counts: bool) -> ProcessingResult {
        self.send(
            "pull_request",
            pull_request_payload(action, pr, counts),
            pr.updated_at,
        )
        .await
    }

    async fn issue(&self, action: &str, issue: &Issue, received_at: i64) -> ProcessingResult {
        self.send("issues", issue_payload(action, issue), received_at)
            .await
    }

    async fn review(
        &self,
        action: &str,
        review: &Review,
        pr: &Pr,
        received_at: i64,
    ) -> ProcessingResult {
        self.send(
            "pull_request_review",
            review_payload(action, review, pr, false),
            received_at,
        )
        .await
    }

    async fn pr_row(&self, github_id: i64) -> PrRow {
        sqlx::query_as(
            r#"SELECT title, state::text AS state, draft, "draftUpdatedAt" AS draft_updated_at,
                      "authorId" AS author_id, "authorLogin" AS author_login,
                      "authorIsBot" AS author_is_bot, additions, deletions,
                      "filesChanged" AS files_changed, "countsUpdatedAt" AS counts_updated_at,
                      "mergedAt" AS merged_at, "closedAt" AS closed_at, "createdAt" AS created_at,
                      "updatedAt" AS updated_at, "firstReviewAt" AS first_review_at,
                      "cycleTimeSeconds" AS cycle_time_seconds
               FROM pull_requests WHERE "githubId" = $1"#,
        )
        .bind(github_id)
        .fetch_one(&self.db.pool)
        .await
        .expect("the pull request row")
    }

    async fn issue_row(&self, github_id: i64) -> IssueRow {
        sqlx::query_as(
            r#"SELECT title, state::text AS state, "stateReason" AS state_reason,
                      "authorId" AS author_id, "closedAt" AS closed_at, "updatedAt" AS updated_at,
                      "resolutionTimeSeconds" AS resolution_time_seconds, "deletedAt" AS deleted_at
               FROM issues WHERE "githubId" = $1"#,
        )
        .bind(github_id)
        .fetch_one(&self.db.pool)
        .await
        .expect("the issue row")
    }

    async fn review_row(&self, github_id: i64) -> ReviewRow {
        sqlx::query_as(
            r#"SELECT r.state::text AS state, r."reviewerId" AS reviewer_id,
                      r."reviewerLogin" AS reviewer_login, r."reviewerIsBot" AS reviewer_is_bot,
                      r."submittedAt" AS submitted_at, r."dismissedAt" AS dismissed_at,
                      r."turnaroundSeconds" AS turnaround_seconds, p."githubId" AS pull_request
               FROM pull_request_reviews r JOIN pull_requests p ON p.id = r."pullRequestId"
               WHERE r."githubId" = $1"#,
        )
        .bind(github_id)
        .fetch_one(&self.db.pool)
        .await
        .expect("the review row")
    }

    async fn truncate(&self) {
        sqlx::raw_sql(
            "TRUNCATE events, pull_request_reviews, deployment_changes, pull_requests, issues",
        )
        .execute(&self.db.pool)
        .await
        .unwrap();
    }

    async fn entity_rows(&self) -> i64 {
        self.db.count("pull_requests").await
            + self.db.count("issues").await
            + self.db.count("pull_request_reviews").await
    }
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct PrRow {
    title: String,
    state: String,
    draft: bool,
    draft_updated_at: Option<NaiveDateTime>,
    author_id: Option<String>,
    author_login: Option<String>,
    author_is_bot: bool,
    additions: i32,
    deletions: i32,
    files_changed: i32,
    counts_updated_at: Option<NaiveDateTime>,
    merged_at: Option<NaiveDateTime>,
    closed_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    first_review_at: Option<NaiveDateTime>,
    cycle_time_seconds: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct IssueRow {
    title: String,
    state: String,
    state_reason: Option<String>,
    author_id: Option<String>,
    closed_at: Option<NaiveDateTime>,
    updated_at: NaiveDateTime,
    resolution_time_seconds: Option<i32>,
    deleted_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct ReviewRow {
    state: String,
    reviewer_id: Option<String>,
    reviewer_login: Option<String>,
    reviewer_is_bot: bool,
    submitted_at: Option<NaiveDateTime>,
    dismissed_at: Option<NaiveDateTime>,
    turnaround_seconds: Option<i32>,
    pull_request: i64,
}

fn developer_jobs(result: &ProcessingResult) -> Vec<(String, String)> {
    result
        .metric_jobs
        .iter()
        .filter(|j| j.kind == MetricKind::Developer)
        .map(|j| (j.id.clone(), j.date.clone()))
        .collect()
}

#[tokio::test]
async fn a_pull_request_lifecycle_in_order() {
    let f = fixture().await;
    let t0 = BASE;
    let mut pr = Pr::opened(9001, 12, MONA, t0);
    pr.draft = true;

    let opened = f.pr("opened", &pr, true).await;
    assert_eq!(opened.status, Status::Processed);
    assert_eq!(opened.action.as_deref(), Some("opened"));
    assert_eq!(opened.records.pull_requests, 1);
    assert_eq!(
        developer_jobs(&opened),
        [(f.mona.clone(), "2024-05-01".into())]
    );
    assert!(opened
        .metric_jobs
        .iter()
        .any(|j| j.kind == MetricKind::Team && j.id == f.team));
    assert!(opened.unmapped_users.is_empty());
    let row = f.pr_row(9001).await;
    assert_eq!(
        (
            row.state.as_str(),
            row.draft,
            row.author_id.as_deref(),
            row.author_login.as_deref()
        ),
        ("OPEN", true, Some(f.mona.as_str()), Some("mona"))
    );
    assert_eq!(
        (row.additions, row.deletions, row.files_changed),
        (10, 2, 3)
    );
    assert_eq!(row.counts_updated_at, Some(naive(t0)));
    assert_eq!(row.created_at, naive(t0));

    pr.draft = false;
    pr.updated_at = t0 + 60;
    f.pr("ready_for_review", &pr, true).await;
    assert!(!f.pr_row(9001).await.draft);

    pr.additions = 25;
    pr.deletions = 5;
    pr.changed_files = 4;
    pr.updated_at = t0 + 120;
    assert_eq!(
        f.pr("synchronize", &pr, true).await.records.pull_requests,
        1
    );

    // `labeled` without line counts: newer, so it takes the fields it has, and the
    // counts stay those of the synchronize.
    pr.updated_at = t0 + 180;
    assert_eq!(f.pr("labeled", &pr, false).await.records.pull_requests, 1);
    let row = f.pr_row(9001).await;
    assert_eq!(
        (row.additions, row.deletions, row.files_changed),
        (25, 5, 4)
    );
    assert_eq!(row.counts_updated_at, Some(naive(t0 + 120)));
    assert_eq!(row.updated_at, naive(t0 + 180));

    pr.open = false;
    pr.updated_at = t0 + 3600;
    pr.closed_at = Some(t0 + 3600);
    pr.merged_at = Some(t0 + 3600);
    let merged = f.pr("closed", &pr, true).await;
    assert_eq!(merged.records.pull_requests, 1);
    let row = f.pr_row(9001).await;
    assert_eq!(row.state, "MERGED");
    assert_eq!(row.merged_at, Some(naive(t0 + 3600)));
    assert_eq!(row.closed_at, Some(naive(t0 + 3600)));
    assert_eq!(row.cycle_time_seconds, Some(3600));

    // A late redelivery of an old payload (a new delivery id) changes nothing.
    let stale = Pr::opened(9001, 12, MONA, t0);
    let late = f.pr("opened", &stale, true).await;
    assert_eq!(late.status, Status::Processed);
    assert_eq!(late.records.pull_requests, 0);
    assert_eq!(f.pr_row(9001).await, row);

    // Editing a merged pull request keeps it merged.
    pr.title = "Improve widget 12 (final)".into();
    pr.updated_at = t0 + 7200;
    f.pr("edited", &pr, true).await;
    let row = f.pr_row(9001).await;
    assert_eq!(
        (row.title.as_str(), row.state.as_str()),
        ("Improve widget 12 (final)", "MERGED")
    );
    assert_eq!(f.db.count("pull_requests").await, 1);
}

#[tokio::test]
async fn closed_without_merge_then_reopened() {
    let f = fixture().await;
    let mut pr = Pr::opened(9002, 13, LISA, BASE);
    let opened = f.pr("opened", &pr, true).await;
    assert_eq!(opened.unmapped_users, ["lisa"]);
    assert!(developer_jobs(&opened).is_empty());
    assert_eq!(f.pr_row(9002).await.author_id, None);

    pr.open = false;
    pr.updated_at = BASE + 100;
    pr.closed_at = Some(BASE + 100);
    f.pr("closed", &pr, true).await;
    let row = f.pr_row(9002).await;
    assert_eq!(
        (row.state.as_str(), row.merged_at, row.cycle_time_seconds),
        ("CLOSED", None, None)
    );
    assert_eq!(row.closed_at, Some(naive(BASE + 100)));

    pr.open = true;
    pr.updated_at = BASE + 200;
    pr.closed_at = None;
    f.pr("reopened", &pr, true).await;
    let row = f.pr_row(9002).await;
    assert_eq!((row.state.as_str(), row.closed_at), ("OPEN", None));
}

#[tokio::test]
async fn an_older_payload_fills_in_counts_and_draft_a_newer_one_lacked() {
    let f = fixture().await;
    let mut opened = Pr::opened(9003, 14, MONA, BASE);
    opened.draft = true;
    let mut labeled = opened.clone();
    labeled.updated_at = BASE + 50;
    labeled.title = "Renamed".into();

    // The newest payload first, without counts: the row exists with zero counts.
    f.pr("labeled", &labeled, false).await;
    let row = f.pr_row(9003).await;
    assert_eq!((row.additions, row.counts_updated_at), (0, None));

    let result = f.pr("opened", &opened, true).await;
    assert_eq!(result.records.pull_requests, 1, "the counts were filled in");
    let row = f.pr_row(9003).await;
    assert_eq!(
        (row.additions, row.deletions, row.files_changed),
        (10, 2, 3)
    );
    assert_eq!(row.counts_updated_at, Some(naive(BASE)));
    // The rest stays with the newer payload.
    assert_eq!(
        (row.title.as_str(), row.updated_at),
        ("Renamed", naive(BASE + 50))
    );

    // A review's slim pull request without `draft` leaves the flag alone.
    let mut slim = labeled.clone();
    slim.updated_at = BASE + 90;
    slim.draft = false;
    let review = Review {
        id: 1,
        user: Some(HUBOT),
        state: "commented",
        submitted_at: Some(BASE + 90),
    };
    f.review("submitted", &review, &slim, BASE + 91).await;
    let row = f.pr_row(9003).await;
    assert!(row.draft, "absent draft never overwrites");
    assert_eq!(row.draft_updated_at, Some(naive(BASE + 50)));
    assert_eq!(row.updated_at, naive(BASE + 90));
}

#[tokio::test]
async fn equal_updated_at_is_decided_by_state_then_content_in_either_order() {
    let f = fixture().await;
    let mut closed = Pr::opened(9004, 15, MONA, BASE);
    closed.open = false;
    closed.updated_at = BASE + 10;
    closed.closed_at = Some(BASE + 10);
    let mut reopened = closed.clone();
    reopened.open = true;
    reopened.closed_at = None;
    let mut retitled = closed.clone();
    retitled.title = "Zebra".into();

    let mut finals = Vec::new();
    for order in [
        [&closed, &reopened, &retitled],
        [&retitled, &reopened, &closed],
    ] {
        f.truncate().await;
        for pr in order {
            f.pr("edited", pr, true).await;
        }
        finals.push(f.pr_row(9004).await);
    }
    assert_eq!(finals[0], finals[1]);
    // CLOSED beats OPEN on the same second; then the greater title ("Zebra") wins.
    assert_eq!(
        (finals[0].state.as_str(), finals[0].title.as_str()),
        ("CLOSED", "Zebra")
    );
}

#[tokio::test]
async fn merged_is_terminal_even_against_a_later_open_payload() {
    let f = fixture().await;
    let mut merged = Pr::opened(9005, 16, MONA, BASE);
    merged.open = false;
    merged.updated_at = BASE + 10;
    merged.closed_at = Some(BASE + 10);
    merged.merged_at = Some(BASE + 10);
    let mut open = Pr::opened(9005, 16, MONA, BASE);
    open.updated_at = BASE + 20;

    f.pr("closed", &merged, true).await;
    f.pr("reopened", &open, true).await;
    let row = f.pr_row(9005).await;
    assert_eq!(
        (row.state.as_str(), row.updated_at),
        ("MERGED", naive(BASE + 10))
    );
    assert_eq!(
        (row.merged_at, row.closed_at),
        (Some(naive(BASE + 10)), Some(naive(BASE + 10)))
    );
    assert_eq!(row.cycle_time_seconds, Some(10));
}

#[tokio::test]
async fn issue_close_reopen_close_in_any_order() {
    let f = fixture().await;
    let mut issue = Issue::opened(7001, 20, MONA, BASE);
    let mut payloads = vec![("opened", issue.clone())];
    issue.close(BASE + 3600, "completed");
    payloads.push(("closed", issue.clone()));
    issue.reopen(BASE + 7200);
    payloads.push(("reopened", issue.clone()));

    for (action, issue) in &payloads {
        f.issue(action, issue, issue.updated_at).await;
    }
    let reopened = f.issue_row(7001).await;
    assert_eq!(
        (
            reopened.state.as_str(),
            reopened.state_reason.as_deref(),
            reopened.closed_at
        ),
        ("OPEN", Some("reopened"), None)
    );
    assert_eq!(reopened.resolution_time_seconds, None, "cleared on reopen");
    assert_eq!(reopened.author_id.as_deref(), Some(f.mona.as_str()));

    issue.close(BASE + 86_400, "not_planned");
    payloads.push(("closed", issue.clone()));
    f.issue("closed", &issue, issue.updated_at).await;
    let closed = f.issue_row(7001).await;
    assert_eq!(
        (closed.state.as_str(), closed.state_reason.as_deref()),
        ("CLOSED", Some("not_planned"))
    );
    assert_eq!(closed.resolution_time_seconds, Some(86_400));

    // Reversed, the stale payloads change nothing.
    f.truncate().await;
    for (action, issue) in payloads.iter().rev() {
        f.issue(action, issue, issue.updated_at).await;
    }
    assert_eq!(f.issue_row(7001).await, closed);
}

#[tokio::test]
async fn a_deleted_issue_is_terminal_and_stamped_with_the_received_time() {
    let f = fixture().await;
    let mut issue = Issue::opened(7002, 21, LISA, BASE);
    let opened = issue.clone();
    issue.close(BASE + 10, "completed");
    let deleted_at = BASE + 500;
    let result = f.issue("deleted", &issue, deleted_at).await;
    assert_eq!(
        (result.records.issues, result.unmapped_users.clone()),
        (1, vec!["lisa".into()])
    );

    // An edit dated after the deletion (clock skew, or a lost race) does not revive it.
    let mut later = opened.clone();
    later.updated_at = BASE + 900;
    later.title = "Edited".into();
    assert_eq!(
        f.issue("edited", &later, BASE + 901).await.records.issues,
        0
    );
    f.issue("opened", &opened, BASE + 902).await;
    let row = f.issue_row(7002).await;
    assert_eq!(row.deleted_at, Some(naive(deleted_at)));
    assert_eq!(
        (row.state.as_str(), row.title.as_str()),
        ("CLOSED", "Widget 21 crashes")
    );

    // Transferred away: removed from this repository the same way.
    let moved = Issue::opened(7003, 22, MONA, BASE);
    f.issue("transferred", &moved, BASE + 40).await;
    assert_eq!(f.issue_row(7003).await.deleted_at, Some(naive(BASE + 40)));
}

#[tokio::test]
async fn reviews_link_their_pull_request_and_set_the_first_review() {
    let f = fixture().await;
    let created = BASE;
    let mut pr = Pr::opened(9006, 30, MONA, created);
    let review = |id, user: Option<Account>, at: i64| Review {
        id,
        user,
        state: "commented",
        submitted_at: Some(at),
    };
    let self_review = review(1, Some(MONA), created + 100);
    let bot_review = review(2, Some(RENOVATE), created + 200);
    let lisa_review = review(3, Some(LISA), created + 400);
    let hubot_review = Review {
        state: "approved",
        ..review(4, Some(HUBOT), created + 300)
    };

    // The review arrives before any pull_request delivery: the slim form creates the row.
    pr.updated_at = created + 400;
    let first = f
        .review("submitted", &lisa_review, &pr, created + 401)
        .await;
    assert_eq!((first.records.pull_requests, first.records.reviews), (1, 1));
    assert_eq!(first.unmapped_users, ["lisa"]);
    let row = f.pr_row(9006).await;
    assert_eq!(row.first_review_at, Some(naive(created + 400)));
    assert_eq!(
        (row.additions, row.counts_updated_at, row.draft_updated_at),
        (0, None, None)
    );
    let lisa_row = f.review_row(3).await;
    assert_eq!(lisa_row.pull_request, 9006);
    assert_eq!(lisa_row.turnaround_seconds, Some(400));
    assert_eq!(lisa_row.state, "COMMENTED");

    // Self-reviews and bot reviews never count, however early.
    for r in [&self_review, &bot_review] {
        let mut at = pr.clone();
        at.updated_at = r.submitted_at.unwrap();
        f.review("submitted", r, &at, at.updated_at).await;
    }
    assert_eq!(
        f.pr_row(9006).await.first_review_at,
        Some(naive(created + 400))
    );
    let bot = f.review_row(2).await;
    assert!(bot.reviewer_is_bot);

    let mut at = pr.clone();
    at.updated_at = created + 300;
    let hubot = f
        .review("submitted", &hubot_review, &at, created + 301)
        .await;
    assert_eq!(
        developer_jobs(&hubot),
        [(f.hubot.clone(), "2024-05-01".into())]
    );
    assert_eq!(hubot.unmapped_users, Vec::<String>::new());
    let row = f.pr_row(9006).await;
    assert_eq!(
        row.first_review_at,
        Some(naive(created + 300)),
        "the earliest wins"
    );
    assert_eq!(
        row.updated_at,
        naive(created + 400),
        "an older slim form is stale"
    );
    let hubot_row = f.review_row(4).await;
    assert_eq!(
        (hubot_row.state.as_str(), hubot_row.reviewer_id.as_deref()),
        ("APPROVED", Some(f.hubot.as_str()))
    );

    // The full pull request fills in counts later, keeping the first review.
    pr.updated_at = created + 500;
    f.pr("synchronize", &pr, true).await;
    let row = f.pr_row(9006).await;
    assert_eq!(
        (row.additions, row.first_review_at),
        (10, Some(naive(created + 300)))
    );

    // Dismissal is terminal and stamped with its received time.
    let dismissed = Review {
        state: "dismissed",
        ..hubot_review.clone()
    };
    let dismissed_at = created + 9_000;
    f.review("dismissed", &dismissed, &pr, dismissed_at).await;
    let again = f
        .review("submitted", &hubot_review, &at, created + 9_500)
        .await;
    assert_eq!(again.records.reviews, 0);
    let row = f.review_row(4).await;
    assert_eq!(row.state, "DISMISSED");
    assert_eq!(row.dismissed_at, Some(naive(dismissed_at)));
    assert_eq!(row.submitted_at, Some(naive(created + 300)));
    assert_eq!(f.db.count("pull_requests").await, 1);
    assert_eq!(f.db.count("pull_request_reviews").await, 4);
}

/// A review whose people all map is one statement with its pull request's upsert. When
/// another transaction commits the pull request after that statement's snapshot, and the
/// review's slim pull request does not change it, neither the upsert nor the snapshot gives
/// the row's id: the statement must fail whole (`pullRequestId` is `NOT NULL`) and the
/// event run again as a transaction, which sees the row. Made deterministic by holding the
/// pull request's entity lock, which the statement takes after its snapshot.
#[tokio::test]
async fn a_review_whose_pull_request_commits_under_its_statement_is_still_written() {
    let f = fixture().await;
    let pr = Pr::opened(9100, 41, MONA, BASE);
    let repo_id: String =
        sqlx::query_scalar(r#"SELECT id FROM repositories WHERE "githubId" = $1"#)
            .bind(REPO)
            .fetch_one(&f.db.pool)
            .await
            .unwrap();
    // Another writer: the pull request merged (terminal, so the review's payload cannot
    // change it), its first review and author already known, not yet committed.
    let mut other = f.db.pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashint8($2))")
        .bind(0x6470_7201_i32)
        .bind(pr.id)
        .execute(&mut *other)
        .await
        .unwrap();
    sqlx::query(
        r#"INSERT INTO pull_requests (id, "repoId", "githubId", number, title, state, "authorId",
                                     "mergedAt", "createdAt", "updatedAt", "firstReviewAt")
           VALUES ('pr-other', $1, $2, $3, 'Merged elsewhere', 'MERGED', $4, $5, $6, $5, $6)"#,
    )
    .bind(&repo_id)
    .bind(pr.id)
    .bind(pr.number)
    .bind(&f.mona)
    .bind(naive(BASE + 600))
    .bind(naive(BASE))
    .execute(&mut *other)
    .await
    .unwrap();

    let review = Review {
        id: 9101,
        user: Some(HUBOT),
        state: "approved",
        submitted_at: Some(BASE + 100),
    };
    let processor = std::sync::Arc::new(f.db.processor().await);
    let job = Delivery::new(
        "rv-under".to_owned(),
        "pull_request_review",
        review_payload("submitted", &review, &pr, false),
        BASE + 100,
    )
    .job();
    let call = tokio::spawn({
        let processor = processor.clone();
        async move { processor.process(job).await }
    });
    // The delivery's statement has started (its snapshot is taken) once it waits for the
    // entity lock.
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        )
        .fetch_one(&f.db.pool)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    other.commit().await.unwrap();

    let result = call.await.unwrap().expect("the review is written");
    assert_eq!(result.status, Status::Processed);
    assert_eq!(
        (result.records.reviews, result.records.pull_requests),
        (1, 0)
    );
    let (pull_request_id, reviewer_id): (String, Option<String>) = sqlx::query_as(
        r#"SELECT "pullRequestId", "reviewerId" FROM pull_request_reviews WHERE "githubId" = 9101"#,
    )
    .fetch_one(&f.db.pool)
    .await
    .unwrap();
    assert_eq!(pull_request_id, "pr-other");
    assert_eq!(reviewer_id.as_deref(), Some(f.hubot.as_str()));
    assert_eq!(f.pr_row(pr.id).await.state, "MERGED");
    assert_eq!(f.db.count("events").await, 1);
}

#[tokio::test]
async fn concurrent_first_deliveries_of_one_pull_request_all_succeed() {
    let f = fixture().await;
    let mut deliveries = Vec::new();
    let mut pr = Pr::opened(9007, 40, MONA, BASE);
    for i in 0..12 {
        pr.updated_at = BASE + i * 10;
        pr.additions = 10 + i;
        let payload = pull_request_payload("synchronize", &pr, i % 3 != 0);
        deliveries.push(Delivery::new(
            format!("pr-{i}"),
            "pull_request",
            payload,
            BASE,
        ));
        let review = Review {
            id: 100 + i,
            user: Some(if i % 2 == 0 { HUBOT } else { LISA }),
            state: "commented",
            submitted_at: Some(BASE + i * 10),
        };
        let payload = review_payload("submitted", &review, &pr, i % 2 == 0);
        deliveries.push(Delivery::new(
            format!("rv-{i}"),
            "pull_request_review",
            payload,
            BASE,
        ));
    }
    let processor = std::sync::Arc::new(f.db.processor().await);
    let mut tasks = tokio::task::JoinSet::new();
    for d in deliveries.clone() {
        let processor = processor.clone();
        tasks.spawn(async move { processor.process(d.job()).await });
    }
    while let Some(outcome) = tasks.join_next().await {
        let result = outcome
            .unwrap()
            .expect("every concurrent delivery succeeds");
        assert_eq!(result.status, Status::Processed);
    }
    let concurrent = f.pr_row(9007).await;
    assert_eq!(f.db.count("pull_request_reviews").await, 12);

    f.truncate().await;
    for d in &deliveries {
        f.processor.process(d.job()).await.unwrap();
    }
    assert_eq!(f.pr_row(9007).await, concurrent);
    assert_eq!(
        (concurrent.additions, concurrent.first_review_at),
        (21, Some(naive(BASE)))
    );
}

#[tokio::test]
async fn bad_payloads_are_invalid_and_write_no_entity_rows() {
    let f = fixture().await;
    let pr = Pr::opened(9008, 50, MONA, BASE);
    let issue = Issue::opened(7008, 51, MONA, BASE);
    let review = Review {
        id: 5,
        user: Some(HUBOT),
        state: "approved",
        submitted_at: Some(BASE),
    };
    let edit = |payload: Vec<u8>, f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        f(&mut v);
        serde_json::to_vec(&v).unwrap()
    };
    let pr_body = pull_request_payload("opened", &pr, true);
    let issue_body = issue_payload("opened", &issue);
    let review_body = review_payload("submitted", &review, &pr, true);
    let cases: Vec<(&'static str, Vec<u8>, &str)> = vec![
        (
            "pull_request",
            b"{\"action\":\"opened\",".to_vec(),
            "not valid JSON",
        ),
        (
            "pull_request",
            edit(pr_body.clone(), &|v| {
                v["pull_request"]["state"] = "merged".into()
            }),
            "pull_request.state",
        ),
        (
            "pull_request",
            edit(pr_body.clone(), &|v| v["pull_request"]["id"] = "x".into()),
            "pull_request.id",
        ),
        (
            "pull_request",
            edit(pr_body.clone(), &|v| {
                v["pull_request"]["updated_at"] = "later".into()
            }),
            "pull_request.updated_at",
        ),
        (
            "pull_request",
            edit(pr_body.clone(), &|v| {
                v["pull_request"]["number"] = (-1).into()
            }),
            "pull_request.number",
        ),
        (
            "pull_request",
            edit(pr_body, &|v| {
                v.as_object_mut()
                    .unwrap()
                    .remove("pull_request")
                    .map(drop)
                    .unwrap()
            }),
            "pull_request",
        ),
        (
            "issues",
            edit(issue_body.clone(), &|v| v["issue"]["state"] = "gone".into()),
            "issue.state",
        ),
        (
            "issues",
            edit(issue_body.clone(), &|v| {
                v["issue"]["created_at"] = serde_json::Value::Null
            }),
            "issue.created_at",
        ),
        (
            "issues",
            edit(issue_body, &|v| v["issue"]["title"] = 5.into()),
            "issue.title",
        ),
        (
            "pull_request_review",
            edit(review_body.clone(), &|v| {
                v["review"]["state"] = "pending".into()
            }),
            "review.state",
        ),
        (
            "pull_request_review",
            edit(review_body.clone(), &|v| {
                v["review"]["submitted_at"] = "x".into()
            }),
            "review.submitted_at",
        ),
        (
            "pull_request_review",
            edit(review_body, &|v| {
                v["pull_request"]["head"] = serde_json::Value::Null
            }),
            "pull_request.head",
        ),
    ];
    for (i, (event, payload, path)) in cases.into_iter().enumerate() {
        let err = f
            .processor
            .process(Delivery::new(format!("bad-{i}"), event, payload, BASE).job())
            .await
            .expect_err("a bad payload is rejected");
        assert_eq!(err.code(), ErrorCode::InvalidPayload, "case {i}: {err}");
        assert!(
            err.to_string().contains(path),
            "case {i}: {err} names {path}"
        );
        assert!(!err.code().retryable());
    }
    assert_eq!(f.entity_rows().await, 0);
    // Failures are visible: unprocessed event rows with the error (the unparsable one
    // names no repository and leaves none).
    let failed: Vec<(bool, String)> =
        sqlx::query_as(r#"SELECT processed, "lastError" FROM events ORDER BY "deliveryId""#)
            .fetch_all(&f.db.pool)
            .await
            .unwrap();
    assert_eq!(failed.len(), 11);
    assert!(failed
        .iter()
        .all(|(processed, e)| !processed && e.starts_with("INVALID_PAYLOAD")));
}

#[tokio::test]
async fn a_number_taken_by_another_pull_request_is_a_constraint_violation() {
    let f = fixture().await;
    f.pr("opened", &Pr::opened(9009, 60, MONA, BASE), true)
        .await;
    let err = f
        .processor
        .process(
            Delivery::new(
                "clash",
                "pull_request",
                pull_request_payload("opened", &Pr::opened(9010, 60, MONA, BASE), true),
                BASE,
            )
            .job(),
        )
        .await
        .expect_err("two pull requests cannot share a number in one repository");
    assert_eq!(err.code(), ErrorCode::ConstraintViolation);
}

#[tokio::test]
async fn connect_names_missing_entity_columns_and_types() {
    let db = TestDb::migrated().await;
    sqlx::raw_sql(
        r#"ALTER TABLE pull_requests DROP COLUMN "draftUpdatedAt";
           ALTER TABLE pull_request_reviews DROP COLUMN state;
           DROP TYPE "ReviewState";"#,
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let err = match devmetrics_webhook_core::WebhookProcessor::connect(db.options()).await {
        Ok(_) => panic!("connect must fail on a schema without the entity columns"),
        Err(e) => e,
    };
    assert_eq!(err.code(), ErrorCode::SchemaMismatch);
    let message = err.to_string();
    for missing in [
        "pull_requests.draftUpdatedAt",
        "pull_request_reviews.state",
        "type \"ReviewState\"",
    ] {
        assert!(message.contains(missing), "{message} names {missing}");
    }
}
