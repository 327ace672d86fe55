//! Hostile input for the payload parser and every processor: mutations of real GitHub
//! payloads (`@octokit/webhooks-examples` and `__test__/fixtures`) — truncation, byte flips,
//! invalid UTF-8, wrong types, nulls, removed fields, huge strings and arrays, deep
//! nesting, odd numbers and escapes. Whatever the input, parsing and planning either
//! succeed or fail with `INVALID_PAYLOAD` and a short message, and never panic; through a
//! real processor, a rejected delivery writes no entity rows and never leaves a processed
//! event row.
//!
//! Budget: `FUZZ_CASES` cases per pure property (default 256) and a quarter of it (at least
//! 16) for the database-backed one. Failures shrink to a small mutation and print the seed
//! payload's name; a case found this way becomes a named regression test at the bottom.
//!
//! The corpus needs `node_modules` (`npm ci`), as the jest suites do.

mod common;

use common::TestDb;
use devmetrics_webhook_core::payload::{self, EventKind, TrackedPayload, THREAD_STACK_BYTES};
use devmetrics_webhook_core::processors;
use devmetrics_webhook_core::text::strip_json_nul_escapes;
use devmetrics_webhook_core::users::UserMap;
use devmetrics_webhook_core::{ErrorCode, ProcessingError, Status, WebhookJob, MAX_PAYLOAD_BYTES};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;

/// Longest error message we accept: messages go to logs, `events.lastError` and Bull's
/// failed set, so they name a path, never echo a (possibly huge) payload value.
const MAX_MESSAGE_BYTES: usize = 512;

// ---------------------------------------------------------------------------------------
// The corpus

/// One real payload: where it came from, its event name and its bytes.
#[derive(Debug)]
struct Seed {
    name: String,
    event: &'static str,
    value: Value,
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Event types the corpus takes from the examples: the four tracked ones and two that
/// only go through the envelope parser.
const EVENTS: [&str; 6] = [
    "push",
    "pull_request",
    "issues",
    "pull_request_review",
    "star",
    "issue_comment",
];

fn corpus() -> &'static [Seed] {
    static CORPUS: OnceLock<Vec<Seed>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let index =
            repo_root().join("node_modules/@octokit/webhooks-examples/api.github.com/index.json");
        let text = std::fs::read(&index).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run `npm ci` first: the corpus is the npm package's examples)",
                index.display()
            )
        });
        let groups: Vec<Value> = serde_json::from_slice(&text).expect("examples index is JSON");
        let mut seeds = Vec::new();
        for group in &groups {
            let Some(event) = EVENTS.iter().find(|e| group["name"] == **e) else {
                continue;
            };
            for (i, example) in group["examples"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                seeds.push(Seed {
                    name: format!("webhooks-examples {event} #{i}"),
                    event,
                    value: example.clone(),
                });
            }
        }
        let fixtures = [
            ("push-event.json", "push"),
            ("pull-request-opened.json", "pull_request"),
            ("pull-request-merged.json", "pull_request"),
            ("issue-opened.json", "issues"),
            ("issue-closed.json", "issues"),
            ("pull-request-review.json", "pull_request_review"),
        ];
        for (file, event) in fixtures {
            let path = repo_root().join("__test__/fixtures").join(file);
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            seeds.push(Seed {
                name: format!("fixture {file}"),
                event,
                value: serde_json::from_slice(&bytes).expect("fixture is JSON"),
            });
        }
        seeds
    })
}

// ---------------------------------------------------------------------------------------
// Mutations

/// Raw JSON texts that `serde_json::Value` cannot hold (or that we want verbatim): lone
/// surrogates, out-of-range numbers, NaN, duplicate keys, control characters.
const RAW_TEXTS: &[&str] = &[
    r#""\ud800""#,
    r#""\udc00\ud800x""#,
    r#""\u0000""#,
    r#""a\u0000b\\u0000""#,
    "1e999999",
    "-1e999999",
    "123456789012345678901234567890",
    "-0",
    "0.0000000000000000000000000000001",
    "NaN",
    "Infinity",
    "'single'",
    r#"{"a":1,"a":2}"#,
    "\"raw\u{1}control\"",
    "\"tab\tinside\"",
    "tru",
    "[1,]",
    "{\"k\":}",
];

/// Values of the wrong type (or the right type with an unusable value).
fn hostile_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(1.5),
        json!(1e308),
        json!(""),
        json!(" "),
        json!("x"),
        json!("0"),
        json!("2024-13-45T99:99:99Z"),
        json!("\u{0}"),
        json!("ünïcödé 🦀 \u{202e}"),
        json!([]),
        json!([null]),
        json!({}),
        json!({ "id": null, "login": null }),
    ]
}

/// Strings and numbers that keep a field's type but not its sense: bad times, SHAs and
/// states, numbers outside the columns' range. These get past the parser to the processors.
fn same_type_value(node: &Value, pick: usize) -> Option<Value> {
    const STRINGS: &[&str] = &[
        "",
        " ",
        "soon",
        "2024-02-30T10:00:00Z",
        "2024-05-01T10:00:00",
        "9999-12-31T23:59:59-14:00",
        "0000-01-01T00:00:00+14:00",
        "1970-01-01T00:00:00.123456789123Z",
        "HEAD",
        "gone",
        "APPROVED",
        "deadbeef",
        "\u{0}",
        "null",
        "[bot]",
        "ǅ\u{301}\u{feff}",
    ];
    const NUMBERS: &[i64] = &[
        0,
        -1,
        1,
        2_147_483_647,
        2_147_483_648,
        -2_147_483_649,
        i64::MAX,
        i64::MIN,
    ];
    match node {
        Value::String(_) => Some(json!(STRINGS[pick % STRINGS.len()])),
        Value::Number(_) => Some(json!(NUMBERS[pick % NUMBERS.len()])),
        Value::Bool(b) => Some(json!(!b)),
        _ => None,
    }
}

/// Keys the processors read (at any depth). Edits aim at these nodes most of the time, so
/// cases get past the parser's type checks into the processors' value checks.
const READ_KEYS: &[&str] = &[
    "id",
    "number",
    "state",
    "state_reason",
    "action",
    "ref",
    "deleted",
    "commits",
    "timestamp",
    "message",
    "author",
    "name",
    "email",
    "username",
    "added",
    "removed",
    "modified",
    "repository",
    "sender",
    "login",
    "type",
    "user",
    "pull_request",
    "issue",
    "review",
    "title",
    "draft",
    "merged",
    "merged_at",
    "closed_at",
    "created_at",
    "updated_at",
    "submitted_at",
    "commit_id",
    "additions",
    "deletions",
    "changed_files",
    "head",
    "base",
];

/// One change at one node of the JSON tree: node `target` modulo the node count, among the
/// nodes under a `READ_KEYS` key when `focused`, else among all.
#[derive(Debug, Clone)]
struct Edit {
    target: usize,
    focused: bool,
    op: Op,
}

#[derive(Debug, Clone)]
enum Op {
    /// Replace a string, number or boolean with another value of the same type.
    SameType(usize),
    /// Replace the node with a hostile value of any type.
    Replace(usize),
    /// Remove the node from its parent (a missing field, a shorter array).
    Remove,
    /// Replace the node with a string of about `len` bytes.
    HugeString(usize),
    /// Replace the node with an array of `len` copies of its first element (or of `0`).
    HugeArray(usize),
    /// Replace the node with `depth` nested arrays or objects.
    DeepNest { depth: usize, objects: bool },
    /// Replace the node with a raw JSON text from `RAW_TEXTS`.
    Raw(usize),
}

/// A mutation: structural edits, then changes to the serialised bytes.
#[derive(Debug, Clone)]
struct Mutation {
    seed: usize,
    edits: Vec<Edit>,
    bytes: Vec<ByteEdit>,
}

#[derive(Debug, Clone)]
enum ByteEdit {
    /// Cut the text at this fraction (per mille) of its length.
    Truncate(u16),
    /// Set the byte at this fraction of the length.
    Flip { at: u16, byte: u8 },
    /// Insert an invalid UTF-8 sequence at this fraction of the length.
    InvalidUtf8 { at: u16, seq: usize },
}

const INVALID_UTF8: &[&[u8]] = &[
    &[0xff],
    &[0xc3],
    &[0xc0, 0x80],
    &[0xed, 0xa0, 0x80],
    &[0xf4, 0x90, 0x80, 0x80],
    &[0xe2, 0x82],
    &[0x80, 0x80, 0x80],
];

fn edit(max_len: usize) -> impl Strategy<Value = Edit> {
    let op = prop_oneof![
        8 => any::<usize>().prop_map(Op::SameType),
        6 => (0..hostile_values().len()).prop_map(Op::Replace),
        4 => Just(Op::Remove),
        1 => prop_oneof![Just(0usize), 1usize..300, Just(64 * 1024), Just(max_len)].prop_map(Op::HugeString),
        1 => prop_oneof![Just(2049usize), Just(10_000), Just(max_len / 4)].prop_map(Op::HugeArray),
        1 => (prop_oneof![Just(100usize), Just(1000), Just(1023), Just(1025), Just(200_000)], any::<bool>())
            .prop_map(|(depth, objects)| Op::DeepNest { depth, objects }),
        3 => (0..RAW_TEXTS.len()).prop_map(Op::Raw),
    ];
    (any::<usize>(), prop::bool::weighted(0.8), op).prop_map(|(target, focused, op)| Edit {
        target,
        focused,
        op,
    })
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    prop_oneof![
        (0u16..1000).prop_map(ByteEdit::Truncate),
        (0u16..1000, any::<u8>()).prop_map(|(at, byte)| ByteEdit::Flip { at, byte }),
        (0u16..1000, 0..INVALID_UTF8.len()).prop_map(|(at, seq)| ByteEdit::InvalidUtf8 { at, seq }),
    ]
}

/// Mutations of any seed; `max_len` bounds the huge strings and arrays. Half of them only
/// change values within their type, the kind of damage that passes the parser and has to be
/// caught by a processor.
fn mutation(max_len: usize) -> impl Strategy<Value = Mutation> {
    let any_damage = (
        0..corpus().len(),
        proptest::collection::vec(edit(max_len), 0..4),
        prop_oneof![3 => Just(vec![]), 2 => proptest::collection::vec(byte_edit(), 1..3)],
    )
        .prop_filter("at least one change", |(_, e, b)| {
            !e.is_empty() || !b.is_empty()
        })
        .prop_map(|(seed, edits, bytes)| Mutation { seed, edits, bytes });
    let same_type = (
        0..corpus().len(),
        proptest::collection::vec(
            (any::<usize>(), any::<usize>()).prop_map(|(target, pick)| Edit {
                target,
                focused: true,
                op: Op::SameType(pick),
            }),
            1..3,
        ),
    )
        .prop_map(|(seed, edits)| Mutation {
            seed,
            edits,
            bytes: vec![],
        });
    prop_oneof![any_damage, same_type]
}

/// A path step in a JSON tree.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every node's path, the root first.
fn paths(value: &Value) -> Vec<Vec<Step>> {
    fn walk(v: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        out.push(at.clone());
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    at.push(Step::Key(k.clone()));
                    walk(child, at, out);
                    at.pop();
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    at.push(Step::Index(i));
                    walk(child, at, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

fn node_mut<'v>(root: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    path.iter().try_fold(root, |v, step| match step {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Index(i) => v.get_mut(*i),
    })
}

fn marker(n: usize) -> String {
    format!("\u{1}RAW{n}\u{1}")
}

/// Applies the mutation: the payload bytes it produces.
fn apply(m: &Mutation) -> Vec<u8> {
    let mut value = corpus()[m.seed].value.clone();
    let mut raw: Vec<(String, String)> = Vec::new();
    for (n, e) in m.edits.iter().enumerate() {
        let all = paths(&value);
        let read: Vec<&Vec<Step>> = all
            .iter()
            .filter(|p| matches!(p.last(), Some(Step::Key(k)) if READ_KEYS.contains(&k.as_str())))
            .collect();
        let target = if e.focused && !read.is_empty() {
            read[e.target % read.len()].clone()
        } else {
            all[e.target % all.len()].clone()
        };
        if let Op::Remove = e.op {
            let Some((last, parent)) = target.split_last() else {
                continue; // the root has no parent
            };
            match (node_mut(&mut value, parent), last) {
                (Some(Value::Object(map)), Step::Key(k)) => {
                    map.remove(k);
                }
                (Some(Value::Array(items)), Step::Index(i)) if *i < items.len() => {
                    items.remove(*i);
                }
                _ => {}
            }
            continue;
        }
        let Some(node) = node_mut(&mut value, &target) else {
            continue;
        };
        *node = match &e.op {
            Op::SameType(pick) => match same_type_value(node, *pick) {
                Some(v) => v,
                None => continue,
            },
            Op::Replace(i) => hostile_values()[*i].clone(),
            Op::HugeString(len) => Value::String("é".repeat(len / 2)),
            Op::HugeArray(len) => {
                let item = node
                    .as_array()
                    .and_then(|a| a.first())
                    .cloned()
                    .unwrap_or(json!(0));
                Value::Array(vec![item; *len])
            }
            Op::DeepNest { depth, objects } => {
                let text = if *objects {
                    format!("{}1{}", "{\"a\":".repeat(*depth), "}".repeat(*depth))
                } else {
                    format!("{}{}", "[".repeat(*depth), "]".repeat(*depth))
                };
                raw.push((marker(n), text));
                Value::String(marker(n))
            }
            Op::Raw(i) => {
                raw.push((marker(n), RAW_TEXTS[*i].to_owned()));
                Value::String(marker(n))
            }
            Op::Remove => unreachable!("handled above"),
        };
    }
    let mut text = serde_json::to_string(&value).expect("a Value serialises");
    for (mark, replacement) in &raw {
        let quoted = serde_json::to_string(mark).unwrap();
        text = text.replacen(&quoted, replacement, 1);
    }
    let mut bytes = text.into_bytes();
    for b in &m.bytes {
        let at = |permille: u16, len: usize| len * usize::from(permille) / 1000;
        match b {
            ByteEdit::Truncate(p) => bytes.truncate(at(*p, bytes.len())),
            ByteEdit::Flip { at: p, byte } => {
                let i = at(*p, bytes.len());
                if i < bytes.len() {
                    bytes[i] = *byte;
                }
            }
            ByteEdit::InvalidUtf8 { at: p, seq } => {
                let i = at(*p, bytes.len());
                bytes.splice(i..i, INVALID_UTF8[*seq].iter().copied());
            }
        }
    }
    bytes
}

// ---------------------------------------------------------------------------------------
// Properties

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256)
}

/// Runs `f` on a thread with the stack the addon's runtime threads have: simd-json accepts
/// 1024 levels of nesting, which overflowed a test thread's default 2 MiB in debug builds.
fn on_parser_stack(f: impl FnOnce() + Send + 'static) {
    let thread = std::thread::Builder::new()
        .stack_size(THREAD_STACK_BYTES)
        .spawn(f)
        .expect("spawn a test thread");
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        max_shrink_iters: 500,
        // Persisted failures would land in the source tree; failures print their mutation.
        failure_persistence: None,
        ..Config::default()
    })
}

/// A rejection is `INVALID_PAYLOAD` with a short message.
fn check_rejection(what: &str, err: &ProcessingError) -> Result<(), TestCaseError> {
    prop_assert_eq!(err.code(), ErrorCode::InvalidPayload, "{}: {}", what, err);
    let message = err.to_string();
    prop_assert!(
        message.len() <= MAX_MESSAGE_BYTES,
        "{}: message of {} bytes: {}…",
        what,
        message.len(),
        message.chars().take(200).collect::<String>()
    );
    Ok(())
}

/// How far the cases of a property got, printed at its end (`--nocapture`), so a change
/// that makes every mutation fail at the first byte does not go unnoticed.
#[derive(Default)]
struct Reached {
    rejected_by_parser: AtomicUsize,
    rejected_by_processor: AtomicUsize,
    planned: AtomicUsize,
    untracked: AtomicUsize,
}

impl Reached {
    fn report(&self, property: &str) -> [usize; 4] {
        let n = [
            self.rejected_by_parser.load(Relaxed),
            self.rejected_by_processor.load(Relaxed),
            self.planned.load(Relaxed),
            self.untracked.load(Relaxed),
        ];
        eprintln!(
            "{property}: {} rejected by the parser, {} by a processor, {} planned, {} untracked event types",
            n[0], n[1], n[2], n[3]
        );
        n
    }
}

/// Parses and plans `bytes` as `event` the way the processor does, without a database.
fn parse_and_plan(event: &str, bytes: &[u8], reached: &Reached) -> Result<(), TestCaseError> {
    // What the processor stores; must not panic on any bytes.
    let _ = strip_json_nul_escapes(bytes);
    let mut scratch = bytes.to_vec();
    match payload::parse_envelope(&mut scratch, bytes) {
        Ok(_) => {}
        Err(e) => check_rejection("envelope", &e)?,
    }
    let Some(kind) = EventKind::from_name(event) else {
        reached.untracked.fetch_add(1, Relaxed);
        return Ok(());
    };
    let mut scratch = bytes.to_vec();
    let parsed = payload::parse_tracked(kind, &mut scratch, bytes);
    let reference = reference_parse(kind, bytes);
    let ours = parsed.as_ref().ok().map(debug_of);
    prop_assert_eq!(
        &ours,
        &reference,
        "the tape walk and simd-json's deserializer disagree"
    );
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            reached.rejected_by_parser.fetch_add(1, Relaxed);
            return check_rejection("parse", &e);
        }
    };
    let _ = (parsed.repository(), parsed.action(), parsed.sender_id());
    match processors::plan(&parsed) {
        Ok(plan) => {
            reached.planned.fetch_add(1, Relaxed);
            let _ = plan.identities();
            let _ = plan.activities(&UserMap::default());
        }
        Err(e) => {
            reached.rejected_by_processor.fetch_add(1, Relaxed);
            check_rejection("plan", &e)?
        }
    }
    Ok(())
}

/// The parsed payload's value, for comparing readers.
fn debug_of(parsed: &TrackedPayload) -> String {
    match parsed {
        TrackedPayload::Push(p) => format!("{p:?}"),
        TrackedPayload::PullRequest(p) => format!("{p:?}"),
        TrackedPayload::Issues(p) => format!("{p:?}"),
        TrackedPayload::PullRequestReview(p) => format!("{p:?}"),
        TrackedPayload::Deployment(p) => format!("{p:?}"),
        TrackedPayload::DeploymentStatus(p) => format!("{p:?}"),
        TrackedPayload::WorkflowRun(p) => format!("{p:?}"),
        TrackedPayload::WorkflowJob(p) => format!("{p:?}"),
        TrackedPayload::Release(p) => format!("{p:?}"),
    }
}

/// simd-json's own serde deserializer on the same bytes, the reference the addon's tape walk
/// (`payload::tape`) must match: the same payloads accepted, the same values read.
fn reference_parse(kind: EventKind, bytes: &[u8]) -> Option<String> {
    let mut b = bytes.to_vec();
    match kind {
        EventKind::Push => simd_json::serde::from_slice::<payload::PushEvent>(&mut b)
            .ok()
            .map(|p| format!("{p:?}")),
        EventKind::PullRequest => simd_json::serde::from_slice::<payload::PullRequestEvent>(&mut b)
            .ok()
            .map(|p| format!("{p:?}")),
        EventKind::Issues => simd_json::serde::from_slice::<payload::IssuesEvent>(&mut b)
            .ok()
            .map(|p| format!("{p:?}")),
        EventKind::PullRequestReview => {
            simd_json::serde::from_slice::<payload::PullRequestReviewEvent>(&mut b)
                .ok()
                .map(|p| format!("{p:?}"))
        }
        EventKind::Deployment => simd_json::serde::from_slice::<payload::DeploymentEvent>(&mut b)
            .ok()
            .map(|p| format!("{p:?}")),
        EventKind::DeploymentStatus => {
            simd_json::serde::from_slice::<payload::DeploymentStatusEvent>(&mut b)
                .ok()
                .map(|p| format!("{p:?}"))
        }
        EventKind::WorkflowRun => simd_json::serde::from_slice::<payload::WorkflowRunEvent>(&mut b)
            .ok()
            .map(|p| format!("{p:?}")),
        EventKind::WorkflowJob => simd_json::serde::from_slice::<payload::WorkflowJobEvent>(&mut b)
            .ok()
            .map(|p| format!("{p:?}")),
        EventKind::Release => simd_json::serde::from_slice::<payload::ReleaseEvent>(&mut b)
            .ok()
            .map(|p| format!("{p:?}")),
    }
}

#[test]
fn every_seed_parses_and_plans() {
    // The mutations start from valid payloads: if these failed, the fuzzing would only
    // exercise the first error path.
    let corpus = corpus();
    assert!(corpus.len() > 70, "corpus of {} payloads", corpus.len());
    for seed in corpus {
        let bytes = serde_json::to_vec(&seed.value).unwrap();
        let Some(kind) = EventKind::from_name(seed.event) else {
            continue;
        };
        let mut scratch = bytes.clone();
        let parsed = payload::parse_tracked(kind, &mut scratch, &bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", seed.name));
        processors::plan(&parsed).unwrap_or_else(|e| panic!("{}: {e}", seed.name));
    }
}

#[test]
fn mutated_payloads_parse_or_fail_with_invalid_payload() {
    on_parser_stack(|| {
        let reached = Reached::default();
        let outcome = runner(cases()).run(&mutation(2 * 1024 * 1024), |m| {
            let seed = &corpus()[m.seed];
            let bytes = apply(&m);
            parse_and_plan(seed.event, &bytes, &reached).map_err(|e| match e {
                TestCaseError::Fail(why) => {
                    TestCaseError::fail(format!("{} mutated: {why}", seed.name))
                }
                other => other,
            })
        });
        if let Err(e) = outcome {
            panic!("{e}");
        }
        let [parser, processor, planned, _] = reached.report("mutated payloads");
        // Mutations must reach every stage, not only the JSON parser's first error.
        assert!(
            parser > 0 && processor > 0 && planned > 0,
            "{parser} / {processor} / {planned}"
        );
    });
}

#[test]
fn arbitrary_bytes_parse_or_fail_with_invalid_payload() {
    on_parser_stack(|| {
        let strategy = (
            0..EVENTS.len(),
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..512),
                // JSON-looking noise reaches deeper into the parser than random bytes.
                "[\\[\\]{}\":,0-9a-z\\\\ \t\n-]{0,300}".prop_map(String::into_bytes),
            ],
        );
        let reached = Reached::default();
        let outcome = runner(cases()).run(&strategy, |(event, bytes)| {
            parse_and_plan(EVENTS[event], &bytes, &reached)
        });
        if let Err(e) = outcome {
            panic!("{e}");
        }
        reached.report("arbitrary bytes");
    });
}

/// (commits, pull_requests, issues, pull_request_reviews) row counts.
async fn entity_counts(db: &TestDb) -> [i64; 4] {
    [
        db.count("commits").await,
        db.count("pull_requests").await,
        db.count("issues").await,
        db.count("pull_request_reviews").await,
    ]
}

#[test]
fn a_rejected_delivery_writes_no_entity_rows() {
    on_parser_stack(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (db, processor) = runtime.block_on(async {
            let db = TestDb::migrated().await;
            for id in [186_853_002, 17_273_051] {
                db.insert_repository(id, None).await;
            }
            let processor = db.processor().await;
            (db, processor)
        });
        let cases = (cases() / 4).max(16);
        // Outcomes by status or code, printed at the end (`--nocapture`).
        let tally = std::sync::Mutex::new(std::collections::BTreeMap::<String, usize>::new());
        // Smaller huge values: each case is a database round trip.
        let outcome = runner(cases).run(&mutation(256 * 1024), |m| {
            let seed = &corpus()[m.seed];
            let bytes = apply(&m);
            // An empty payload is an envelope error (INVALID_JOB), checked before parsing.
            let empty = bytes.is_empty();
            let delivery = format!("fuzz-{}", common::new_id());
            runtime.block_on(async {
                let before = entity_counts(&db).await;
                let result = processor
                    .process(common::job(&delivery, seed.event, bytes))
                    .await;
                let rows: Vec<(bool,)> =
                    sqlx::query_as(r#"SELECT processed FROM events WHERE "deliveryId" = $1"#)
                        .bind(&delivery)
                        .fetch_all(&db.pool)
                        .await
                        .unwrap();
                let key = match &result {
                    Ok(r) => r.status.as_str().to_owned(),
                    Err(e) => e.code().as_str().to_owned(),
                };
                *tally.lock().unwrap().entry(key).or_default() += 1;
                match result {
                    Ok(r) => {
                        prop_assert!(matches!(r.status, Status::Processed | Status::Ignored));
                        prop_assert!(
                            rows.iter().all(|(processed,)| *processed),
                            "{}: {:?}",
                            seed.name,
                            rows
                        );
                    }
                    Err(e) => {
                        // Bad input is never worth a retry and is no bug of ours. A constraint
                        // violation is bad input too: earlier cases stored entities under mutated
                        // ids, so a payload can claim a number that another GitHub id holds.
                        prop_assert!(
                            matches!(
                                e.code(),
                                ErrorCode::InvalidPayload
                                    | ErrorCode::UnknownRepository
                                    | ErrorCode::ConstraintViolation
                            ) || (empty && e.code() == ErrorCode::InvalidJob),
                            "{} mutated: {} (a retryable or internal code for bad input)",
                            seed.name,
                            e
                        );
                        prop_assert!(
                            e.to_string().len() <= MAX_MESSAGE_BYTES,
                            "{}: long message",
                            seed.name
                        );
                        prop_assert_eq!(
                            entity_counts(&db).await,
                            before,
                            "{}: rows written on rejection",
                            seed.name
                        );
                        prop_assert!(
                            rows.iter().all(|(processed,)| !*processed),
                            "{}: {:?}",
                            seed.name,
                            rows
                        );
                    }
                }
                Ok(())
            })
        });
        runtime.block_on(processor.close());
        drop(runtime);
        if let Err(e) = outcome {
            panic!("{e}");
        }
        eprintln!("through PostgreSQL: {:?}", tally.lock().unwrap());
        drop(db);
    });
}

// ---------------------------------------------------------------------------------------
// Regression cases

/// The first push fixture, as a `Value` to edit.
fn push_fixture() -> Value {
    corpus()
        .iter()
        .find(|s| s.name == "fixture push-event.json")
        .unwrap()
        .value
        .clone()
}

#[test]
fn nesting_deeper_than_the_parser_allows_is_invalid_payload() {
    for depth in [1025, 200_000] {
        let mut doc = serde_json::to_string(&push_fixture()).unwrap();
        doc.insert_str(
            1,
            &format!(r#""deep":{}{},"#, "[".repeat(depth), "]".repeat(depth)),
        );
        let err = {
            let mut scratch = doc.clone().into_bytes();
            payload::parse_tracked(EventKind::Push, &mut scratch, doc.as_bytes()).unwrap_err()
        };
        assert_eq!(err.code(), ErrorCode::InvalidPayload);
        assert!(err.to_string().contains("DepthLimitExceeded"), "{err}");
    }
}

#[test]
fn nesting_at_the_parsers_limit_stays_within_the_runtime_stack() {
    // Found by the fuzzer: a 1023-level object where an untracked event's `repository` is
    // expected overflowed a 2 MiB test thread on the path that names the failing field.
    on_parser_stack(|| {
        let comment = corpus()
            .iter()
            .position(|s| s.event == "issue_comment")
            .unwrap();
        let push = corpus()
            .iter()
            .position(|s| s.name == "fixture push-event.json")
            .unwrap();
        for (seed, key) in [
            (comment, "repository"),
            (push, "repository"),
            (push, "added"),
        ] {
            let target = paths(&corpus()[seed].value)
                .iter()
                .position(|p| matches!(p.last(), Some(Step::Key(k)) if k == key))
                .unwrap();
            for objects in [false, true] {
                let m = Mutation {
                    seed,
                    edits: vec![Edit {
                        target,
                        focused: false,
                        op: Op::DeepNest {
                            depth: 1023,
                            objects,
                        },
                    }],
                    bytes: vec![],
                };
                parse_and_plan(corpus()[seed].event, &apply(&m), &Reached::default()).unwrap();
            }
        }
    });
}

#[test]
fn a_huge_unknown_state_is_not_echoed_in_the_message() {
    // Found by the fuzzer: state errors quoted the whole value, so a multi-megabyte state
    // became a multi-megabyte error in logs, lastError and Bull's failed set.
    let huge = "x".repeat(1_000_000);
    for (event, kind, field) in [
        (
            "pull_request",
            EventKind::PullRequest,
            "/pull_request/state",
        ),
        ("issues", EventKind::Issues, "/issue/state"),
        (
            "pull_request_review",
            EventKind::PullRequestReview,
            "/review/state",
        ),
    ] {
        let mut value = corpus()
            .iter()
            .find(|s| s.event == event)
            .unwrap()
            .value
            .clone();
        *value.pointer_mut(field).unwrap() = json!(huge);
        let bytes = serde_json::to_vec(&value).unwrap();
        let mut scratch = bytes.clone();
        let parsed = payload::parse_tracked(kind, &mut scratch, &bytes).unwrap();
        let err = processors::plan(&parsed).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidPayload);
        assert!(
            err.to_string().len() < 200,
            "{event}: {} bytes",
            err.to_string().len()
        );
    }
}

#[test]
fn a_payload_over_25_mib_is_too_large_before_parsing() {
    let job = WebhookJob {
        delivery_id: "big".into(),
        event: "push".into(),
        payload: vec![b'['; MAX_PAYLOAD_BYTES + 1],
        repo_id: None,
        received_at: None,
    };
    assert_eq!(
        job.validate().unwrap_err().code(),
        ErrorCode::PayloadTooLarge
    );
}
