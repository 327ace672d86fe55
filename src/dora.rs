//! napi objects of `NativeProcessor.doraMetrics` and their conversions. The wrapper
//! (`lib/dora.js`) validates the options and turns absent numbers into null.

use napi_derive::napi;
use webhook_core as core;

/// Options of `NativeProcessor.doraMetrics`, already validated and converted by the wrapper.
#[napi(object)]
pub struct NativeDoraOptions {
    /// Window start (epoch ms), inclusive, on firstSuccessAt.
    pub since_ms: f64,
    /// Window end (epoch ms), exclusive.
    pub until_ms: f64,
    /// GitHub ids of the repositories; every repository when absent.
    pub repository_github_ids: Option<Vec<i64>>,
    /// A team's repositories.
    pub team_id: Option<String>,
    /// Measure this environment instead of production.
    pub environment: Option<String>,
    /// Labels that make an issue an incident. Default `['incident']`.
    pub incident_labels: Option<Vec<String>>,
    /// Hours after a first success within which an incident is blamed on it. Default 168.
    pub failure_window_hours: Option<f64>,
}

/// `deploymentFrequency`.
#[napi(object)]
pub struct NativeDeploymentFrequency {
    pub deployments: f64,
    pub days: f64,
    pub per_week: f64,
    pub failed_to_deploy: f64,
    pub deployment_ids: Vec<String>,
    pub failed_to_deploy_ids: Vec<String>,
}

/// `leadTime`.
#[napi(object)]
pub struct NativeLeadTime {
    pub commits: f64,
    pub median_seconds: Option<f64>,
    pub p75_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
    pub deployment_ids: Vec<String>,
}

/// `changeFailRate`.
#[napi(object)]
pub struct NativeChangeFailRate {
    pub failed: f64,
    pub total: f64,
    pub rate: Option<f64>,
    pub deployment_ids: Vec<String>,
}

/// `recoveryTime`.
#[napi(object)]
pub struct NativeRecoveryTime {
    pub count: f64,
    pub median_seconds: Option<f64>,
    pub p75_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
    pub deployment_ids: Vec<String>,
}

/// `reworkRate`.
#[napi(object)]
pub struct NativeReworkRate {
    pub rework: f64,
    pub total: f64,
    pub rate: Option<f64>,
    pub deployment_ids: Vec<String>,
}

/// The five metrics.
#[napi(object)]
pub struct NativeDoraMetrics {
    pub deployment_frequency: NativeDeploymentFrequency,
    pub lead_time: NativeLeadTime,
    pub change_fail_rate: NativeChangeFailRate,
    pub recovery_time: NativeRecoveryTime,
    pub rework_rate: NativeReworkRate,
}

pub fn options(o: NativeDoraOptions) -> napi::Result<core::DoraOptions> {
    // A fraction rounds up to the next whole millisecond (the stored precision), as
    // reprocessEvents' bounds do: `firstSuccessAt >= ceil(since)` and `< ceil(until)` are
    // exactly `>= since` and `< until`, where truncating would count the millisecond before a
    // fractional `since` and leave out the one before a fractional `until`.
    let at = |ms: f64, name: &str| {
        core::time::from_epoch_millis_up(ms).ok_or_else(|| {
            crate::error::to_napi(core::ProcessingError::Config(format!(
                "doraMetrics: {name} is out of range"
            )))
        })
    };
    let mut options = core::DoraOptions::new(at(o.since_ms, "since")?, at(o.until_ms, "until")?);
    options.repository_github_ids = o.repository_github_ids;
    options.team_id = o.team_id;
    options.environment = o.environment;
    if let Some(labels) = o.incident_labels {
        options.incident_labels = labels;
    }
    if let Some(hours) = o.failure_window_hours {
        options.failure_window_hours = hours;
    }
    Ok(options)
}

pub fn metrics(m: core::DoraMetrics) -> NativeDoraMetrics {
    let f = m.deployment_frequency;
    let l = m.lead_time;
    let c = m.change_fail_rate;
    let r = m.recovery_time;
    let w = m.rework_rate;
    NativeDoraMetrics {
        deployment_frequency: NativeDeploymentFrequency {
            deployments: f.deployments as f64,
            days: f.days as f64,
            per_week: f.per_week,
            failed_to_deploy: f.failed_to_deploy as f64,
            deployment_ids: f.deployment_ids,
            failed_to_deploy_ids: f.failed_to_deploy_ids,
        },
        lead_time: NativeLeadTime {
            commits: l.commits as f64,
            median_seconds: l.median_seconds,
            p75_seconds: l.p75_seconds,
            p90_seconds: l.p90_seconds,
            deployment_ids: l.deployment_ids,
        },
        change_fail_rate: NativeChangeFailRate {
            failed: c.failed as f64,
            total: c.total as f64,
            rate: c.rate,
            deployment_ids: c.deployment_ids,
        },
        recovery_time: NativeRecoveryTime {
            count: r.count as f64,
            median_seconds: r.median_seconds,
            p75_seconds: r.p75_seconds,
            p90_seconds: r.p90_seconds,
            deployment_ids: r.deployment_ids,
        },
        rework_rate: NativeReworkRate {
            rework: w.rework as f64,
            total: w.total as f64,
            rate: w.rate,
            deployment_ids: w.deployment_ids,
        },
    }
}
