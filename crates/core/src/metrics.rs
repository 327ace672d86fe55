//! Metric triggers: which developer and team metric jobs an event asks for.
//!
//! One `developer` job per mapped user per UTC activity date, one `team` job per team of
//! those users and of the repository per date, deduplicated within the result. Job ids
//! coalesce only within a one-minute window: Bull drops an add whose jobId exists, so a
//! fixed id would lose triggers that arrive while an earlier job for the same key runs.

use crate::time::Timestamp;
use crate::users::MappedUser;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Something a person did at a time, as far as metrics care.
#[derive(Debug, Clone)]
pub struct Activity {
    pub user: Option<Arc<MappedUser>>,
    pub at: Timestamp,
}

/// Which metric a job recomputes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MetricKind {
    Developer,
    Team,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Developer => "developer",
            MetricKind::Team => "team",
        }
    }
}

/// A metric job for the worker to queue.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetricJob {
    pub kind: MetricKind,
    /// The user id (developer) or team id (team).
    pub id: String,
    /// UTC date, `YYYY-MM-DD`.
    pub date: String,
    /// Bull jobId: `<kind>:<id>:<date>:<epoch minute>`.
    pub job_id: String,
}

/// Derives the deduplicated metric jobs of an event's activities. `epoch_minute` is the
/// coalescing window the job ids carry.
pub fn derive_jobs(
    activities: &[Activity],
    repo_team: Option<&str>,
    epoch_minute: i64,
) -> Vec<MetricJob> {
    let mut keys: BTreeSet<(MetricKind, &str, chrono::NaiveDate)> = BTreeSet::new();
    for activity in activities {
        let date = activity.at.date();
        if let Some(team) = repo_team {
            keys.insert((MetricKind::Team, team, date));
        }
        if let Some(user) = &activity.user {
            keys.insert((MetricKind::Developer, &user.id, date));
            for team in &user.team_ids {
                keys.insert((MetricKind::Team, team, date));
            }
        }
    }
    keys.into_iter()
        .map(|(kind, id, date)| {
            let date = date.format("%Y-%m-%d").to_string();
            MetricJob {
                kind,
                id: id.to_owned(),
                job_id: format!("{}:{id}:{date}:{epoch_minute}", kind.as_str()),
                date,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_github_time;

    fn user(id: &str, teams: &[&str]) -> Option<Arc<MappedUser>> {
        Some(Arc::new(MappedUser {
            id: id.into(),
            team_ids: teams.iter().map(|t| t.to_string()).collect(),
        }))
    }

    #[test]
    fn one_job_per_user_team_and_utc_date() {
        let at = |s| parse_github_time(s).unwrap();
        let activities = vec![
            Activity {
                user: user("u1", &["t1"]),
                at: at("2024-03-01T23:30:00-02:00"),
            }, // 2024-03-02 UTC
            Activity {
                user: user("u1", &["t1"]),
                at: at("2024-03-02T08:00:00Z"),
            },
            Activity {
                user: user("u2", &["t1", "t2"]),
                at: at("2024-03-02T09:00:00Z"),
            },
            Activity {
                user: None,
                at: at("2024-03-03T09:00:00Z"),
            },
        ];
        let jobs = derive_jobs(&activities, Some("t9"), 42);
        let ids: Vec<_> = jobs.iter().map(|j| j.job_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "developer:u1:2024-03-02:42",
                "developer:u2:2024-03-02:42",
                "team:t1:2024-03-02:42",
                "team:t2:2024-03-02:42",
                "team:t9:2024-03-02:42",
                "team:t9:2024-03-03:42",
            ]
        );
    }

    #[test]
    fn no_activity_no_jobs() {
        assert!(derive_jobs(&[], Some("t"), 1).is_empty());
    }
}
