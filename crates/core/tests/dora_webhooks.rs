//! `doraMetrics` on the scenario with hand-computed answers (tests/common/dora.rs), delivered as
//! GitHub would: `deployment` and `deployment_status` webhooks (each status embedding its whole
//! deployment) and `issues` webhooks, in several orders, then again (re-deliveries) and
//! reprocessed. Every order gives every figure; re-deliveries and reprocessing change nothing.
//! What each deployment shipped and the rollback mark come from the deploymentChanges job (the
//! compare API), stored here directly as that job leaves them.

mod common;

use common::dora::*;
use common::{job, push::sha, TestDb};
use devmetrics_webhook_core::dora::{DoraMetrics, DoraOptions};
use devmetrics_webhook_core::reprocess::ReprocessOptions;
use devmetrics_webhook_core::WebhookProcessor;
use serde_json::{json, Value};

/// One delivery: (delivery id, event, payload).
type Delivery = (String, &'static str, Value);

fn repository(github_id: i64) -> Value {
    json!({
        "id": github_id,
        "node_id": format!("R_{github_id}"),
        "name": format!("repo-{github_id}"),
        "full_name": format!("octo/repo-{github_id}"),
        "private": false,
        "owner": { "id": 1, "login": "octo", "type": "Organization" }
    })
}

fn actor() -> Value {
    json!({ "id": 583231, "login": "octocat", "type": "User" })
}

/// The deployment object as GitHub embeds it; `updated_at` moves with its statuses.
fn deployment(d: &Dep, updated_at: &str) -> Value {
    json!({
        "url": format!("https://api.github.com/repos/octo/repo-{}/deployments/{}", d.repo, d.github_id),
        "id": d.github_id,
        "node_id": format!("DE_{}", d.github_id),
        "sha": sha(d.sha),
        "ref": "main",
        "task": "deploy",
        "payload": {},
        "original_environment": d.environment,
        "environment": d.environment,
        "description": null,
        "creator": actor(),
        "created_at": d.created,
        "updated_at": updated_at,
        "statuses_url": format!("https://api.github.com/repos/octo/repo-{}/deployments/{}/statuses", d.repo, d.github_id),
        "repository_url": format!("https://api.github.com/repos/octo/repo-{}", d.repo),
        "production_environment": d.production,
        "transient_environment": false
    })
}

/// Every delivery of the scenario, in story order.
fn deliveries() -> Vec<Delivery> {
    let mut out = Vec::new();
    for d in DEPLOYMENTS {
        out.push((
            format!("deployment-{}", d.github_id),
            "deployment",
            json!({
                "action": "created",
                "deployment": deployment(d, d.created),
                "repository": repository(d.repo),
                "sender": actor()
            }),
        ));
        for (n, (state, created)) in d.statuses.iter().enumerate() {
            let status_id = d.github_id * 10 + n as i64;
            out.push((
                format!("status-{status_id}"),
                "deployment_status",
                json!({
                    "action": "created",
                    "deployment_status": {
                        "url": format!("https://api.github.com/repos/octo/repo-{}/deployments/{}/statuses/{status_id}", d.repo, d.github_id),
                        "id": status_id,
                        "node_id": format!("DES_{status_id}"),
                        "state": state,
                        "creator": actor(),
                        "description": "",
                        "environment": d.environment,
                        "target_url": "",
                        "log_url": "",
                        "environment_url": "",
                        "created_at": created,
                        "updated_at": created
                    },
                    "deployment": deployment(d, created),
                    "repository": repository(d.repo),
                    "sender": actor()
                }),
            ));
        }
    }
    for i in ISSUES {
        let issue = |state: &str, updated: &str, closed: Option<&str>| {
            json!({
                "id": i.github_id,
                "node_id": format!("I_{}", i.github_id),
                "number": i.github_id,
                "title": "Checkout is down",
                "user": actor(),
                "labels": i.labels.iter().map(|l| json!({ "id": 1, "name": l, "color": "d73a4a", "default": false })).collect::<Vec<_>>(),
                "state": state,
                "state_reason": closed.map(|_| "completed"),
                "locked": false,
                "comments": 0,
                "created_at": i.created,
                "updated_at": updated,
                "closed_at": closed,
                "body": "Customers cannot pay."
            })
        };
        out.push((
            format!("issue-opened-{}", i.github_id),
            "issues",
            json!({
                "action": "opened",
                "issue": issue("open", i.created, None),
                "repository": repository(i.repo),
                "sender": actor()
            }),
        ));
        if let Some(closed) = i.closed {
            out.push((
                format!("issue-closed-{}", i.github_id),
                "issues",
                json!({
                    "action": "closed",
                    "issue": issue("closed", closed, Some(closed)),
                    "repository": repository(i.repo),
                    "sender": actor()
                }),
            ));
        }
    }
    out
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

async fn deliver(p: &WebhookProcessor, order: &[&Delivery]) {
    for (id, event, payload) in order {
        let bytes = serde_json::to_vec(payload).expect("payload serialises");
        p.process(job(id, event, bytes))
            .await
            .unwrap_or_else(|e| panic!("delivery {id} ({event}): {e}"));
    }
}

async fn measure(p: &WebhookProcessor, team: &str) -> DoraMetrics {
    let mut o = DoraOptions::new(at("2026-11-02T00:00:00Z"), at("2026-11-09T00:00:00Z"));
    o.team_id = Some(team.to_owned());
    rounded(p.dora_metrics(&o).await.expect("doraMetrics"))
}

#[tokio::test]
async fn any_delivery_order_gives_the_hand_computed_figures_and_redelivery_or_reprocessing_changes_nothing(
) {
    let all = deliveries();
    let story: Vec<&Delivery> = all.iter().collect();
    let reversed: Vec<&Delivery> = all.iter().rev().collect();
    let orders = [story, reversed, shuffled(&all, 7), shuffled(&all, 2026)];
    for (n, order) in orders.iter().enumerate() {
        let db = TestDb::migrated().await;
        let teams = teams(&db).await;
        let p = db.processor().await;
        deliver(&p, order).await;
        store_changes(&db, &teams).await;
        assert_eq!(
            measure(&p, &teams.payments).await,
            expected_week(),
            "delivery order {n}"
        );
        if n == 0 {
            // Every delivery again, in another order: all duplicates, same figures.
            deliver(&p, &shuffled(&all, 99)).await;
            assert_eq!(measure(&p, &teams.payments).await, expected_week());
            let report = p
                .reprocess_events(ReprocessOptions::default(), None)
                .await
                .expect("reprocess");
            assert_eq!(report.events as usize, all.len());
            assert_eq!(measure(&p, &teams.payments).await, expected_week());
        }
        p.close().await;
    }
}
