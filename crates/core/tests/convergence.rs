//! The convergence property: realistic lifecycles of pull requests, issues and reviews,
//! delivered in many random orders (one after another) and all at once (concurrently),
//! always end in identical rows, and those rows say what the lifecycle says.
//!
//! Timelines are generated, not taken from `@octokit/webhooks-examples` (which are not a
//! coherent timeline). Steps are often zero or one second apart, so equal `updated_at`
//! values and their tie-break are exercised all the time.
//!
//! `PROPTEST_CASES` sets the number of timelines (default 96); each is delivered in
//! chronological order, in `ORDERS` shuffled orders and `CONCURRENT_RUNS` times at once:
//! over two thousand orders by default. The deliveries of the last run are then reprocessed
//! in one batch (`reprocess_events`), which must give the same rows.

mod common;
mod timeline;

use common::TestDb;
use devmetrics_webhook_core::reprocess::ReprocessOptions;
use devmetrics_webhook_core::WebhookProcessor;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;
use std::sync::Arc;
use timeline::{
    issue_payload, naive, pull_request_payload, review_payload, Account, Delivery, Issue, Pr,
    Review, BASE, REPO,
};

/// Shuffled sequential orders per timeline.
const ORDERS: usize = 20;
/// All-at-once runs per timeline.
const CONCURRENT_RUNS: usize = 2;

const MONA: Account = Account::user(201, "mona");
const HUBOT: Account = Account::user(202, "hubot");
const LISA: Account = Account::user(203, "lisa");
const RENOVATE: Account = Account::bot(204, "renovate[bot]");
const PEOPLE: [Account; 4] = [MONA, HUBOT, LISA, RENOVATE];

/// Gaps between steps: mostly none or one second (ties), sometimes longer.
fn gap() -> impl Strategy<Value = i64> {
    prop_oneof![3 => Just(0i64), 3 => Just(1i64), 2 => 2i64..120, 1 => 3_600i64..90_000]
}

fn person() -> impl Strategy<Value = Account> {
    (0..PEOPLE.len()).prop_map(|i| PEOPLE[i].clone())
}

/// Who reviews: someone (maybe the author, a bot, or a deleted account) at a gap.
#[derive(Debug, Clone)]
struct ReviewStep {
    reviewer: Option<Account>,
    state: &'static str,
    gap: i64,
    /// Whether the slim pull request carries `draft`.
    with_draft: bool,
}

fn review_step() -> impl Strategy<Value = ReviewStep> {
    (
        prop_oneof![9 => person().prop_map(Some), 1 => Just(None)],
        prop_oneof![
            Just("approved"),
            Just("changes_requested"),
            Just("commented")
        ],
        gap(),
        any::<bool>(),
    )
        .prop_map(|(reviewer, state, gap, with_draft)| ReviewStep {
            reviewer,
            state,
            gap,
            with_draft,
        })
}

/// The shape of one pull request's life.
#[derive(Debug, Clone)]
struct PrLife {
    author: Account,
    starts_draft: bool,
    gaps: [i64; 6],
    counts: [(i64, i64, i64); 2],
    reviews: Vec<ReviewStep>,
    merged: bool,
    reopen: bool,
    dismiss_first_review: bool,
    edit_after: bool,
}

fn pr_life() -> impl Strategy<Value = PrLife> {
    (
        person(),
        any::<bool>(),
        proptest::array::uniform6(gap()),
        proptest::array::uniform2((0i64..500, 0i64..500, 1i64..40)),
        proptest::collection::vec(review_step(), 0..4),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(author, starts_draft, gaps, counts, reviews, merged, reopen, dismiss, edit_after)| {
                PrLife {
                    author,
                    starts_draft,
                    gaps,
                    counts,
                    reviews,
                    merged,
                    reopen,
                    dismiss_first_review: dismiss,
                    edit_after,
                }
            },
        )
}

/// The shape of one issue's life: opened → closed → reopened → closed, maybe deleted.
#[derive(Debug, Clone)]
struct IssueLife {
    author: Account,
    gaps: [i64; 4],
    deleted: bool,
}

fn issue_life() -> impl Strategy<Value = IssueLife> {
    (person(), proptest::array::uniform4(gap()), any::<bool>()).prop_map(
        |(author, gaps, deleted)| IssueLife {
            author,
            gaps,
            deleted,
        },
    )
}

/// What the lifecycle says the final rows must be, where no tie makes it ambiguous.
#[derive(Debug, Default)]
struct Expected {
    /// (github id, merged at, created at) of merged pull requests.
    merged: Vec<(i64, i64, i64)>,
    /// (github id, line counts) where the last counted payload is strictly the newest.
    counts: Vec<(i64, (i64, i64, i64))>,
    /// (github id, earliest submitted review by someone else who is no bot).
    first_review: Vec<(i64, Option<i64>)>,
    /// (review id, dismissal received at).
    dismissed: Vec<(i64, i64)>,
    /// (issue id, deletion received at).
    deleted: Vec<(i64, i64)>,
    /// Issues whose last step is strictly the newest: (id, closed).
    issue_state: Vec<(i64, bool)>,
}

/// A generated scenario: its deliveries in chronological order, and what they imply.
#[derive(Debug)]
struct Scenario {
    deliveries: Vec<Delivery>,
    expected: Expected,
}

fn scenario(prs: &[PrLife], issues: &[IssueLife]) -> Scenario {
    let mut out = Vec::new();
    let mut expected = Expected::default();
    let mut next_review_id = 1;
    for (n, life) in prs.iter().enumerate() {
        let n = n as i64;
        pr_timeline(n, life, &mut next_review_id, &mut out, &mut expected);
    }
    for (n, life) in issues.iter().enumerate() {
        issue_timeline(n as i64, life, &mut out, &mut expected);
    }
    let deliveries = out
        .into_iter()
        .enumerate()
        .map(|(i, (event, payload, received))| {
            Delivery::new(format!("d{i}"), event, payload, received)
        })
        .collect();
    Scenario {
        deliveries,
        expected,
    }
}

type Sent = (&'static str, Vec<u8>, i64);

fn pr_timeline(
    n: i64,
    life: &PrLife,
    review_ids: &mut i64,
    out: &mut Vec<Sent>,
    expected: &mut Expected,
) {
    let created = BASE + n * 1_000_000;
    let mut pr = Pr::opened(50_000 + n, 100 + n, life.author.clone(), created);
    let [g_ready, g_sync, g_label, g_close, g_reopen, g_last] = life.gaps;
    let mut t = created;
    let send = |out: &mut Vec<Sent>, action: &str, pr: &Pr, counts: bool| {
        out.push((
            "pull_request",
            pull_request_payload(action, pr, counts),
            pr.updated_at + 2,
        ));
    };
    (pr.additions, pr.deletions, pr.changed_files) = life.counts[0];
    pr.draft = life.starts_draft;
    send(out, "opened", &pr, true);
    if life.starts_draft {
        t += g_ready;
        pr.draft = false;
        pr.updated_at = t;
        send(out, "ready_for_review", &pr, true);
    }
    t += g_sync;
    (pr.additions, pr.deletions, pr.changed_files) = life.counts[1];
    pr.updated_at = t;
    send(out, "synchronize", &pr, true);
    // Every later payload with counts repeats these, so they are final unless the
    // synchronize ties with the previous payload carrying the first counts (the opening,
    // or ready_for_review): then the tie-break's greater content wins, whichever it is.
    if g_sync > 0 {
        expected.counts.push((pr.id, life.counts[1]));
    }
    t += g_label;
    pr.updated_at = t;
    send(out, "labeled", &pr, false);

    let mut submitted = Vec::new();
    for step in &life.reviews {
        t += step.gap;
        pr.updated_at = t;
        let review = Review {
            id: *review_ids,
            user: step.reviewer.clone(),
            state: step.state,
            submitted_at: Some(t),
        };
        *review_ids += 1;
        out.push((
            "pull_request_review",
            review_payload("submitted", &review, &pr, step.with_draft),
            t + 1,
        ));
        submitted.push(review);
    }
    let counts = |r: &Review| match &r.user {
        Some(u) => !u.bot && u.id != life.author.id,
        None => true,
    };
    expected.first_review.push((
        pr.id,
        submitted
            .iter()
            .filter(|r| counts(r))
            .filter_map(|r| r.submitted_at)
            .min(),
    ));

    t += g_close;
    pr.open = false;
    pr.updated_at = t;
    pr.closed_at = Some(t);
    if life.merged {
        pr.merged_at = Some(t);
        expected.merged.push((pr.id, t, created));
    }
    send(out, "closed", &pr, true);
    if !life.merged && life.reopen {
        t += g_reopen;
        pr.open = true;
        pr.closed_at = None;
        pr.updated_at = t;
        send(out, "reopened", &pr, true);
        t += g_last;
        pr.open = false;
        pr.closed_at = Some(t);
        pr.updated_at = t;
        send(out, "closed", &pr, true);
    }
    if let (true, Some(first)) = (life.dismiss_first_review, submitted.first()) {
        t += g_last;
        pr.updated_at = t;
        let dismissed = Review {
            state: "dismissed",
            ..first.clone()
        };
        let received = t + 30;
        out.push((
            "pull_request_review",
            review_payload("dismissed", &dismissed, &pr, true),
            received,
        ));
        expected.dismissed.push((dismissed.id, received));
    }
    if life.edit_after {
        t += g_last;
        pr.title.push_str(" (final)");
        pr.updated_at = t;
        send(out, "edited", &pr, true);
    }
}

fn issue_timeline(n: i64, life: &IssueLife, out: &mut Vec<Sent>, expected: &mut Expected) {
    let created = BASE + n * 1_000_000 + 500;
    let mut issue = Issue::opened(60_000 + n, 500 + n, life.author.clone(), created);
    let mut t = created;
    let mut steps = vec![("opened", issue.clone())];
    t += life.gaps[0];
    issue.close(t, "completed");
    steps.push(("closed", issue.clone()));
    t += life.gaps[1];
    issue.reopen(t);
    steps.push(("reopened", issue.clone()));
    t += life.gaps[2];
    issue.close(t, "not_planned");
    steps.push(("closed", issue.clone()));
    // Unambiguous only when the last step is strictly the newest.
    if life.gaps[2] > 0 {
        expected.issue_state.push((issue.id, true));
    }
    for (action, snapshot) in &steps {
        out.push((
            "issues",
            issue_payload(action, snapshot),
            snapshot.updated_at + 3,
        ));
    }
    if life.deleted {
        let received = t + life.gaps[3] + 60;
        out.push(("issues", issue_payload("deleted", &issue), received));
        expected.deleted.push((issue.id, received));
    }
}

/// Every entity column except ids and write times; reviews name their pull request by
/// GitHub id.
async fn snapshot(db: &TestDb) -> Vec<Value> {
    sqlx::query_scalar(
        r#"SELECT jsonb_build_object('pr', to_jsonb(p) - 'id' - 'repoId') FROM pull_requests p
           UNION ALL
           SELECT jsonb_build_object('issue', to_jsonb(i) - 'id' - 'repoId') FROM issues i
           UNION ALL
           SELECT jsonb_build_object('review', to_jsonb(r) - 'id' - 'repoId' - 'createdAt' - 'pullRequestId'
                                               || jsonb_build_object('pr', p."githubId"))
           FROM pull_request_reviews r JOIN pull_requests p ON p.id = r."pullRequestId"
           ORDER BY 1"#,
    )
    .fetch_all(&db.pool)
    .await
    .expect("snapshot the entity rows")
}

async fn reset(db: &TestDb) {
    // DELETE, not TRUNCATE: the tables are tiny, and TRUNCATE's exclusive locks and
    // file swaps cost more than the rows.
    sqlx::raw_sql("DELETE FROM pull_request_reviews; DELETE FROM pull_requests; DELETE FROM issues; DELETE FROM events")
        .execute(&db.pool)
        .await
        .expect("empty the entity tables");
}

async fn run_sequential(
    processor: &WebhookProcessor,
    db: &TestDb,
    deliveries: &[&Delivery],
) -> Result<Vec<Value>, TestCaseError> {
    reset(db).await;
    for d in deliveries {
        processor
            .process(d.job())
            .await
            .map_err(|e| TestCaseError::fail(format!("{} {}: {e}", d.event, d.id)))?;
    }
    Ok(snapshot(db).await)
}

async fn run_concurrent(
    processor: &Arc<WebhookProcessor>,
    db: &TestDb,
    deliveries: &[Delivery],
) -> Result<Vec<Value>, TestCaseError> {
    reset(db).await;
    let mut tasks = tokio::task::JoinSet::new();
    for d in deliveries.iter().cloned() {
        let processor = processor.clone();
        tasks.spawn(async move {
            processor
                .process(d.job())
                .await
                .map_err(|e| format!("{} {}: {e}", d.event, d.id))
        });
    }
    while let Some(outcome) = tasks.join_next().await {
        outcome
            .map_err(|e| TestCaseError::fail(e.to_string()))?
            .map_err(TestCaseError::fail)?;
    }
    Ok(snapshot(db).await)
}

/// The stored deliveries of the last run applied again by `reprocess_events`, over the entity
/// rows deleted and then over the rows it left. The timeline fits one batch, so several
/// deliveries of one pull request, its reviews and one issue share the batch's multi-row
/// statements (`store::batch`, one round per repeated entity); the rows must be those the
/// deliveries one by one gave.
async fn run_reprocess(
    processor: &WebhookProcessor,
    db: &TestDb,
    deliveries: usize,
) -> Result<[Vec<Value>; 2], TestCaseError> {
    sqlx::raw_sql(
        "DELETE FROM pull_request_reviews; DELETE FROM pull_requests; DELETE FROM issues",
    )
    .execute(&db.pool)
    .await
    .expect("empty the entity tables");
    let mut rows = Vec::new();
    for _ in 0..2 {
        let report = processor
            .reprocess_events(ReprocessOptions::default(), None)
            .await
            .map_err(|e| TestCaseError::fail(format!("reprocess: {e}")))?;
        prop_assert_eq!(
            (report.events, report.skipped, report.complete),
            (deliveries as u64, 0, true)
        );
        rows.push(snapshot(db).await);
    }
    Ok(rows.try_into().expect("two snapshots"))
}

/// A seeded Fisher–Yates shuffle (xorshift64*), so an order is reproducible from its seed.
fn shuffled(deliveries: &[Delivery], seed: u64) -> Vec<&Delivery> {
    let mut order: Vec<&Delivery> = deliveries.iter().collect();
    let mut state = seed | 1;
    for i in (1..order.len()).rev() {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let j = (state.wrapping_mul(0x2545_F491_4F6C_DD1D) % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

fn field<'v>(rows: &'v [Value], kind: &str, key: &str, id: i64) -> Option<&'v Value> {
    rows.iter()
        .filter_map(|r| r.get(kind))
        .find(|r| r[key].as_i64() == Some(id))
}

fn ts(secs: i64) -> Value {
    Value::String(naive(secs).format("%Y-%m-%dT%H:%M:%S").to_string())
}

/// The rows say what the lifecycle says.
fn check_expected(rows: &[Value], expected: &Expected) -> Result<(), TestCaseError> {
    for &(id, merged_at, created) in &expected.merged {
        let pr = field(rows, "pr", "githubId", id)
            .ok_or_else(|| TestCaseError::fail("merged pr row"))?;
        prop_assert_eq!(&pr["state"], "MERGED");
        prop_assert_eq!(&pr["mergedAt"], &ts(merged_at));
        prop_assert_eq!(pr["cycleTimeSeconds"].as_i64(), Some(merged_at - created));
    }
    for &(id, (additions, deletions, files)) in &expected.counts {
        let pr = field(rows, "pr", "githubId", id).ok_or_else(|| TestCaseError::fail("pr row"))?;
        prop_assert_eq!(pr["additions"].as_i64(), Some(additions));
        prop_assert_eq!(pr["deletions"].as_i64(), Some(deletions));
        prop_assert_eq!(pr["filesChanged"].as_i64(), Some(files));
    }
    for &(id, first) in &expected.first_review {
        let pr = field(rows, "pr", "githubId", id).ok_or_else(|| TestCaseError::fail("pr row"))?;
        prop_assert_eq!(&pr["firstReviewAt"], &first.map_or(Value::Null, ts));
    }
    for &(id, received) in &expected.dismissed {
        let review = field(rows, "review", "githubId", id)
            .ok_or_else(|| TestCaseError::fail("review row"))?;
        prop_assert_eq!(&review["state"], "DISMISSED");
        prop_assert_eq!(&review["dismissedAt"], &ts(received));
    }
    for &(id, received) in &expected.deleted {
        let issue =
            field(rows, "issue", "githubId", id).ok_or_else(|| TestCaseError::fail("issue row"))?;
        prop_assert_eq!(&issue["deletedAt"], &ts(received));
    }
    for &(id, closed) in &expected.issue_state {
        let issue =
            field(rows, "issue", "githubId", id).ok_or_else(|| TestCaseError::fail("issue row"))?;
        prop_assert_eq!(&issue["state"], if closed { "CLOSED" } else { "OPEN" });
        prop_assert_eq!(issue["resolutionTimeSeconds"].is_null(), !closed);
    }
    Ok(())
}

#[test]
fn any_delivery_order_ends_in_the_same_rows() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let db = runtime.block_on(async {
        let db = TestDb::migrated().await;
        let team = db.insert_team("Widgets").await;
        db.insert_repository(REPO, Some(&team)).await;
        db.insert_user("mona@example.com", Some("mona"), Some(MONA.id), &[&team])
            .await;
        db.insert_user("hubot@example.com", None, Some(HUBOT.id), &[])
            .await;
        db
    });
    let processor = Arc::new(runtime.block_on(db.processor()));

    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(96);
    let mut runner = TestRunner::new(Config {
        cases,
        // Each case drives a real database; shrinking still finds a small timeline.
        max_shrink_iters: 200,
        ..Config::default()
    });
    let strategy = (
        proptest::collection::vec(pr_life(), 1..3),
        proptest::collection::vec(issue_life(), 0..3),
        proptest::collection::vec(any::<u64>(), ORDERS),
    );
    let outcome = runner.run(&strategy, |(prs, issues, seeds)| {
        let scenario = scenario(&prs, &issues);
        runtime.block_on(async {
            let chronological: Vec<&Delivery> = scenario.deliveries.iter().collect();
            let reference = run_sequential(&processor, &db, &chronological).await?;
            check_expected(&reference, &scenario.expected)?;
            for seed in &seeds {
                let rows =
                    run_sequential(&processor, &db, &shuffled(&scenario.deliveries, *seed)).await?;
                prop_assert_eq!(&rows, &reference, "sequential order with seed {}", seed);
            }
            for run in 0..CONCURRENT_RUNS {
                let rows = run_concurrent(&processor, &db, &scenario.deliveries).await?;
                prop_assert_eq!(&rows, &reference, "concurrent run {}", run);
            }
            // The deliveries the last concurrent run stored, reprocessed in one batch.
            let [rebuilt, again] =
                run_reprocess(&processor, &db, scenario.deliveries.len()).await?;
            prop_assert_eq!(&rebuilt, &reference, "reprocessed over deleted rows");
            prop_assert_eq!(&again, &reference, "reprocessed over its own rows");
            Ok(())
        })
    });
    runtime.block_on(processor.close());
    drop(runtime);
    if let Err(e) = outcome {
        panic!("{e}");
    }
    drop(db);
}
