//! Conversions between napi objects and core types, kept at the edge so the core never
//! sees napi.

use crate::{
    CacheTierStats, GithubAccount, LatencyStats, LinkResult, MetricJob, PayloadInspection,
    ProcessingResult, ProcessorOptions, ProcessorStats, RecordCounts, RedisTierHealth, Timings,
};
use crate::{NativeReprocessOptions, ReprocessProgress, ReprocessResult};
use napi::bindgen_prelude::{BufferSlice, Either};
use napi::JsString;
use std::collections::HashMap;
use std::time::Duration;
use webhook_core as core;

pub fn options(o: ProcessorOptions) -> core::ProcessorOptions {
    let defaults = core::ProcessorOptions::new(o.database_url);
    core::ProcessorOptions {
        redis_url: o.redis_url,
        redis_key_prefix: o
            .redis_key_prefix
            .unwrap_or(defaults.redis_key_prefix.clone()),
        max_connections: o.max_connections.unwrap_or(defaults.max_connections),
        user_cache_ttl: o
            .user_cache_ttl_seconds
            .map(|s| Duration::from_secs(s as u64))
            .unwrap_or(defaults.user_cache_ttl),
        idle_timeout: o
            .idle_timeout_ms
            .map(|ms| Duration::from_millis(ms as u64))
            .unwrap_or(defaults.idle_timeout),
        max_lifetime: o
            .max_lifetime_ms
            .map(|ms| Duration::from_millis(ms as u64))
            .unwrap_or(defaults.max_lifetime),
        production_environments: o
            .production_environments
            .unwrap_or(defaults.production_environments.clone()),
        follow: core::FollowOptions {
            auto_register: o.auto_register_repositories.unwrap_or(false),
            owner_teams: o
                .owner_teams
                .unwrap_or_default()
                .into_iter()
                .map(|(owner, team)| (owner.to_lowercase(), team))
                .collect(),
        },
        ..defaults
    }
}

/// A delivery's payload as JavaScript passed it, text or bytes, not yet copied: only valid
/// during the call that received it. (Written out in the exports' signatures, where napi
/// needs it to type `index.d.ts` as `string | Buffer`.)
pub type PayloadArg<'env> = Either<JsString<'env>, BufferSlice<'env>>;

/// The job, with its payload bytes owned.
pub fn job(
    delivery_id: String,
    event: String,
    payload: &PayloadArg,
    repo_id: Option<String>,
    received_at_ms: Option<f64>,
) -> Result<core::WebhookJob, napi::Error> {
    let received_at = match received_at_ms {
        Some(ms) => Some(
            core::time::from_epoch_millis(ms)
                .ok_or_else(|| crate::error::invalid_job("receivedAt is out of range"))?,
        ),
        None => None,
    };
    Ok(core::WebhookJob {
        delivery_id,
        event,
        payload: payload_bytes(payload)?,
        repo_id,
        received_at,
    })
}

/// A payload's bytes, owned: a string as UTF-8; a Buffer copied, because JavaScript may
/// change it while the work runs and simd-json unescapes its input in place.
pub fn payload_bytes(payload: &PayloadArg) -> napi::Result<Vec<u8>> {
    match payload {
        Either::A(text) => utf8(text),
        Either::B(bytes) => Ok(bytes.to_vec()),
    }
}

/// A JavaScript string as UTF-8: its code units copied out, then transcoded in Rust
/// (see `webhook_core::utf16` for why not napi's UTF-8 getter).
fn utf8(text: &JsString) -> napi::Result<Vec<u8>> {
    let units = text.into_utf16()?;
    // napi's copy ends with a NUL terminator, which is not part of the string.
    let units = units.as_slice().split_last().map_or(&[][..], |(_, s)| s);
    Ok(core::utf16::to_utf8(units))
}

pub fn inspection(i: core::Inspection) -> PayloadInspection {
    PayloadInspection {
        tracked: i.tracked,
        action: i.action,
        repository_github_id: i.repository_github_id,
        sender_github_id: i.sender_github_id,
    }
}

pub fn records(r: core::RecordCounts) -> RecordCounts {
    RecordCounts {
        commits: r.commits,
        pull_requests: r.pull_requests,
        issues: r.issues,
        reviews: r.reviews,
        deployments: r.deployments,
        deployment_statuses: r.deployment_statuses,
        workflow_runs: r.workflow_runs,
        workflow_jobs: r.workflow_jobs,
        releases: r.releases,
    }
}

pub fn metric_jobs(jobs: Vec<core::MetricJob>) -> Vec<MetricJob> {
    jobs.into_iter()
        .map(|j| MetricJob {
            kind: j.kind.as_str().to_owned(),
            id: j.id,
            date: j.date,
            job_id: j.job_id,
        })
        .collect()
}

pub fn account(a: GithubAccount) -> core::users::link::GithubAccount {
    core::users::link::GithubAccount {
        id: a.id,
        login: a.login,
        email: a.email,
    }
}

pub fn link(l: core::users::link::LinkOutcome) -> LinkResult {
    LinkResult {
        user_id: l.user_id,
        backfilled: records(l.backfilled),
        metric_jobs: metric_jobs(l.metric_jobs),
    }
}

pub fn result(r: core::ProcessingResult) -> ProcessingResult {
    ProcessingResult {
        status: r.status.as_str().to_owned(),
        event_id: r.event_id,
        delivery_id: r.delivery_id,
        event: r.event,
        action: r.action,
        repo_id: r.repo_id,
        records: records(r.records),
        metric_jobs: metric_jobs(r.metric_jobs),
        unmapped_users: r.unmapped_users,
        follow_ups: crate::enrich::follow_ups(r.follow_ups),
        reason: r.reason,
        timings: Timings {
            parse_micros: r.timings.parse_micros as f64,
            db_micros: r.timings.db_micros as f64,
            total_micros: r.timings.total_micros as f64,
        },
    }
}

pub fn stats(
    s: core::StatsSnapshot,
    redis: Option<core::users::redis_tier::RedisHealth>,
) -> ProcessorStats {
    let tier = |t: core::stats::TierSnapshot| CacheTierStats {
        hits: t.hits as f64,
        misses: t.misses as f64,
        hit_rate: t.hit_rate,
    };
    ProcessorStats {
        processed: s.processed as f64,
        duplicate: s.duplicate as f64,
        ignored: s.ignored as f64,
        failed: s.failed as f64,
        errors: s
            .errors
            .iter()
            .map(|(code, n)| (code.as_str().to_owned(), *n as f64))
            .collect::<HashMap<_, _>>(),
        memory_cache: tier(s.memory_cache),
        redis_cache: tier(s.redis_cache),
        redis: RedisTierHealth {
            configured: redis.is_some(),
            available: redis.is_some_and(|h| h.available),
            errors: redis.map_or(0.0, |h| h.errors as f64),
        },
        latency_micros: LatencyStats {
            count: s.latency.count as f64,
            p50: s.latency.p50 as f64,
            p90: s.latency.p90 as f64,
            p99: s.latency.p99 as f64,
            max: s.latency.max as f64,
        },
    }
}

/// Reprocessing options; the wrapper has checked them, the core checks them again.
pub fn reprocess_options(
    o: NativeReprocessOptions,
) -> Result<core::reprocess::ReprocessOptions, napi::Error> {
    let at = |ms: Option<f64>, name: &str| match ms {
        None => Ok(None),
        Some(ms) => core::time::from_epoch_millis_up(ms)
            .map(Some)
            .ok_or_else(|| {
                crate::error::to_napi(core::ProcessingError::Config(format!(
                    "{name} is out of range"
                )))
            }),
    };
    Ok(core::reprocess::ReprocessOptions {
        filters: core::reprocess::RunFilters {
            since: at(o.since_ms, "since")?,
            until: at(o.until_ms, "until")?,
            types: o.types,
            repository_github_ids: o.repository_github_ids,
        },
        batch_size: o.batch_size,
        batch_bytes: o.batch_bytes,
        concurrency: o.concurrency,
        max_batches: o.max_batches,
    })
}

pub fn reprocess_progress(p: core::reprocess::Progress) -> ReprocessProgress {
    ReprocessProgress {
        events_done: p.events_done as f64,
        total_events: p.total_events as f64,
        batches_done: p.batches_done as f64,
        total_batches: p.total_batches as f64,
    }
}

pub fn reprocess_result(r: core::reprocess::ReprocessReport) -> ReprocessResult {
    ReprocessResult {
        run_id: r.run_id,
        resumed: r.resumed,
        events: r.events as f64,
        by_type: r.by_type.into_iter().map(|(k, v)| (k, v as f64)).collect(),
        skipped: r.skipped as f64,
        complete: r.complete,
        total_events: r.total_events as f64,
        duration_ms: r.duration.as_secs_f64() * 1000.0,
    }
}
