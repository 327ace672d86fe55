//! GitHub-shaped `pull_request`, `issues` and `pull_request_review` deliveries for the
//! entity tests: snapshots of a pull request, an issue or a review at one moment, turned
//! into the payload GitHub would send for an action. Times are epoch seconds.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use devmetrics_webhook_core::WebhookJob;
use serde_json::{json, Value};

/// GitHub id of the repository every delivery names.
pub const REPO: i64 = 5150;

/// 2024-05-01T00:00:00Z.
pub const BASE: i64 = 1_714_521_600;

/// RFC 3339 in UTC, as GitHub writes it.
pub fn iso(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .expect("a time in range")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The naive UTC value the database stores for `secs`.
pub fn naive(secs: i64) -> chrono::NaiveDateTime {
    chrono::DateTime::from_timestamp(secs, 0)
        .expect("a time in range")
        .naive_utc()
}

/// A GitHub account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub login: &'static str,
    pub bot: bool,
}

impl Account {
    pub const fn user(id: i64, login: &'static str) -> Self {
        Account {
            id,
            login,
            bot: false,
        }
    }

    pub const fn bot(id: i64, login: &'static str) -> Self {
        Account {
            id,
            login,
            bot: true,
        }
    }

    pub fn json(&self) -> Value {
        json!({
            "login": self.login,
            "id": self.id,
            "node_id": format!("U_{}", self.id),
            "avatar_url": format!("https://avatars.githubusercontent.com/u/{}?v=4", self.id),
            "url": format!("https://api.github.com/users/{}", self.login),
            "type": if self.bot { "Bot" } else { "User" },
            "site_admin": false
        })
    }
}

fn repository() -> Value {
    json!({ "id": REPO, "node_id": "R_1", "name": "widgets", "full_name": "octo/widgets", "private": false })
}

fn sender() -> Value {
    Account::user(583_231, "octocat").json()
}

/// A pull request at one moment.
#[derive(Debug, Clone)]
pub struct Pr {
    pub id: i64,
    pub number: i64,
    pub title: String,
    pub open: bool,
    pub draft: bool,
    pub author: Account,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    pub merged_at: Option<i64>,
    pub additions: i64,
    pub deletions: i64,
    pub changed_files: i64,
    pub head: &'static str,
    pub base: &'static str,
}

impl Pr {
    /// A pull request just opened at `at`.
    pub fn opened(id: i64, number: i64, author: Account, at: i64) -> Self {
        Pr {
            id,
            number,
            title: format!("Improve widget {number}"),
            open: true,
            draft: false,
            author,
            created_at: at,
            updated_at: at,
            closed_at: None,
            merged_at: None,
            additions: 10,
            deletions: 2,
            changed_files: 3,
            head: "feature/widgets",
            base: "main",
        }
    }

    /// The form every pull request object shares (the slim one inside a review).
    fn slim(&self, with_draft: bool) -> Value {
        let mut pr = json!({
            "url": format!("https://api.github.com/repos/octo/widgets/pulls/{}", self.number),
            "id": self.id,
            "node_id": format!("PR_{}", self.id),
            "number": self.number,
            "state": if self.open { "open" } else { "closed" },
            "locked": false,
            "title": self.title,
            "user": self.author.json(),
            "body": "Makes the widgets better.",
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "closed_at": self.closed_at.map(iso),
            "merged_at": self.merged_at.map(iso),
            "merge_commit_sha": null,
            "labels": [],
            "head": { "label": format!("octo:{}", self.head), "ref": self.head, "sha": "a".repeat(40) },
            "base": { "label": format!("octo:{}", self.base), "ref": self.base, "sha": "b".repeat(40) },
            "author_association": "MEMBER"
        });
        if with_draft {
            pr["draft"] = json!(self.draft);
        }
        pr
    }

    /// The pull request as a `pull_request` delivery embeds it; `counts: false` is the
    /// form some actions send without line counts.
    pub fn full(&self, counts: bool) -> Value {
        let mut pr = self.slim(true);
        pr["merged"] = json!(self.merged_at.is_some());
        pr["mergeable"] = Value::Null;
        pr["comments"] = json!(0);
        pr["commits"] = json!(1);
        if counts {
            pr["additions"] = json!(self.additions);
            pr["deletions"] = json!(self.deletions);
            pr["changed_files"] = json!(self.changed_files);
        }
        pr
    }
}

/// A `pull_request` delivery body.
pub fn pull_request_payload(action: &str, pr: &Pr, counts: bool) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "action": action,
        "number": pr.number,
        "pull_request": pr.full(counts),
        "repository": repository(),
        "sender": sender()
    }))
    .unwrap()
}

/// A review at one moment.
#[derive(Debug, Clone)]
pub struct Review {
    pub id: i64,
    pub user: Option<Account>,
    /// Lowercase, as webhooks send it.
    pub state: &'static str,
    pub submitted_at: Option<i64>,
}

/// A `pull_request_review` delivery body; the pull request is the slim form, with or
/// without `draft`.
pub fn review_payload(action: &str, review: &Review, pr: &Pr, with_draft: bool) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "action": action,
        "review": {
            "id": review.id,
            "node_id": format!("PRR_{}", review.id),
            "user": review.user.as_ref().map(Account::json),
            "body": null,
            "commit_id": "c".repeat(40),
            "submitted_at": review.submitted_at.map(iso),
            "state": review.state,
            "author_association": "MEMBER"
        },
        "pull_request": pr.slim(with_draft),
        "repository": repository(),
        "sender": sender()
    }))
    .unwrap()
}

/// An issue at one moment.
#[derive(Debug, Clone)]
pub struct Issue {
    pub id: i64,
    pub number: i64,
    pub title: String,
    pub open: bool,
    pub state_reason: Option<&'static str>,
    pub author: Account,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
}

impl Issue {
    /// An issue just opened at `at`.
    pub fn opened(id: i64, number: i64, author: Account, at: i64) -> Self {
        Issue {
            id,
            number,
            title: format!("Widget {number} crashes"),
            open: true,
            state_reason: None,
            author,
            created_at: at,
            updated_at: at,
            closed_at: None,
        }
    }

    /// Closed at `at` for `reason`.
    pub fn close(&mut self, at: i64, reason: &'static str) {
        self.open = false;
        self.state_reason = Some(reason);
        self.updated_at = at;
        self.closed_at = Some(at);
    }

    /// Reopened at `at`.
    pub fn reopen(&mut self, at: i64) {
        self.open = true;
        self.state_reason = Some("reopened");
        self.updated_at = at;
        self.closed_at = None;
    }
}

/// An `issues` delivery body.
pub fn issue_payload(action: &str, issue: &Issue) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "action": action,
        "issue": {
            "url": format!("https://api.github.com/repos/octo/widgets/issues/{}", issue.number),
            "id": issue.id,
            "node_id": format!("I_{}", issue.id),
            "number": issue.number,
            "title": issue.title,
            "user": issue.author.json(),
            "labels": [],
            "state": if issue.open { "open" } else { "closed" },
            "locked": false,
            "comments": 0,
            "created_at": iso(issue.created_at),
            "updated_at": iso(issue.updated_at),
            "closed_at": issue.closed_at.map(iso),
            "state_reason": issue.state_reason,
            "body": "It crashes."
        },
        "repository": repository(),
        "sender": sender()
    }))
    .unwrap()
}

/// One delivery of a timeline: what GitHub sent, and when the endpoint received it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub event: &'static str,
    pub payload: Vec<u8>,
    pub received_at: i64,
}

impl Delivery {
    pub fn new(
        id: impl Into<String>,
        event: &'static str,
        payload: Vec<u8>,
        received_at: i64,
    ) -> Self {
        Delivery {
            id: id.into(),
            event,
            payload,
            received_at,
        }
    }

    /// The job the worker would hand to the processor.
    pub fn job(&self) -> WebhookJob {
        WebhookJob {
            delivery_id: self.id.clone(),
            event: self.event.to_owned(),
            payload: self.payload.clone(),
            repo_id: None,
            received_at: Some(naive(self.received_at)),
        }
    }
}
