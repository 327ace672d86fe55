//! `NativeProcessor.applyRestPage`: one page of a GitHub REST list through the webhooks'
//! write paths (see `webhook_core::rest`). Text in, like a delivery's raw body: the addon
//! parses it. The wrapper (`lib/rest.js`) validates the arguments first.

use crate::{convert, error, MetricJob, NativeProcessor, RecordCounts};
use napi_derive::napi;
use webhook_core as core;
use webhook_core::rest::{RestKind, RestPage};

/// What applying one REST page did.
#[napi(object)]
pub struct RestPageResult {
    /// Items the page listed.
    pub items: u32,
    /// Items left out: pull requests in the issues list, pending reviews.
    pub skipped: u32,
    /// Rows inserted or changed.
    pub records: RecordCounts,
    pub metric_jobs: Vec<MetricJob>,
    /// GitHub logins (or commit emails without a login) not linked to a user.
    pub unmapped_users: Vec<String>,
}

#[napi]
impl NativeProcessor {
    /// Applies one REST list page (`kind`: `pulls`, `reviews`, `issues`, `commits`,
    /// `deployments`, `deployment_statuses` or `workflow_runs`) for a registered repository;
    /// `pullRequest` is the parent object of a page of children: the pull request of a
    /// reviews page, the deployment of a deployment_statuses page.
    /// Writes no `events` row.
    #[napi]
    pub async fn apply_rest_page(
        &self,
        repo_id: String,
        kind: String,
        page: String,
        pull_request: Option<String>,
    ) -> napi::Result<RestPageResult> {
        let kind = RestKind::from_name(&kind)
            .ok_or_else(|| error::invalid_job(
                "kind must be pulls, reviews, issues, commits, deployments, deployment_statuses or workflow_runs",
            ))?;
        let page = RestPage {
            repo_id,
            kind,
            body: page.into_bytes(),
            pull_request: pull_request.map(String::into_bytes),
        };
        let inner = self.inner.clone();
        error::guarded(async move { inner.apply_rest_page(page).await })
            .await
            .map(result)
    }
}

fn result(r: core::rest::RestPageResult) -> RestPageResult {
    RestPageResult {
        items: r.items,
        skipped: r.skipped,
        records: convert::records(r.records),
        metric_jobs: convert::metric_jobs(r.metric_jobs),
        unmapped_users: r.unmapped_users,
    }
}
