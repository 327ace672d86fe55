//! Push payloads shaped like GitHub's (the fields the processor reads, and the usual
//! surrounding ones so sizes are realistic).

use serde_json::{json, Value};

/// A 40-hex commit SHA derived from `n`.
pub fn sha(n: u64) -> String {
    format!("{n:040x}")
}

/// A commit of a push payload.
pub fn commit(n: u64, timestamp: &str, name: &str, email: &str, username: Option<&str>) -> Value {
    let mut author = json!({ "name": name, "email": email });
    if let Some(username) = username {
        author["username"] = json!(username);
    }
    json!({
        "id": sha(n),
        "tree_id": format!("{:040x}", n + 1_000_000),
        "distinct": true,
        "message": format!("Commit {n}: change the widget\n\nLonger description of change {n}, and why it was needed."),
        "timestamp": timestamp,
        "url": format!("https://github.com/octo/repo/commit/{}", sha(n)),
        "author": author.clone(),
        "committer": author,
        "added": [format!("src/new_{n}.rs")],
        "removed": [],
        "modified": ["src/lib.rs", "src/widget/mod.rs", "README.md"]
    })
}

/// A commit by an unmapped author at a fixed time.
pub fn simple_commit(n: u64) -> Value {
    commit(
        n,
        "2024-03-04T15:15:02+01:00",
        "Some One",
        "1234567+someone@users.noreply.github.com",
        Some("someone"),
    )
}

/// A branch push of `commits` to the repository with GitHub id `repo`.
pub fn payload(repo: i64, commits: Vec<Value>) -> Vec<u8> {
    let head = commits.last().cloned().unwrap_or(Value::Null);
    let after = head["id"].as_str().map_or_else(|| sha(0), str::to_owned);
    serde_json::to_vec(&json!({
        "ref": "refs/heads/main",
        "before": sha(999_999_999),
        "after": after,
        "created": false,
        "deleted": false,
        "forced": false,
        "base_ref": null,
        "compare": "https://github.com/octo/repo/compare/a...b",
        "commits": commits,
        "head_commit": head,
        "repository": { "id": repo, "name": "repo", "full_name": "octo/repo", "private": false },
        "pusher": { "name": "octocat", "email": "octocat@github.com" },
        "sender": { "login": "octocat", "id": 583231, "type": "User" }
    }))
    .unwrap()
}
