//! The people an entity names (pull request and issue authors, reviewers): how they map to
//! DevMetrics users (by GitHub account id), how bots are flagged, and how their activity
//! and unmapped logins are reported. Shared by the processors that store people.

use super::MappedActivity;
use crate::metrics::Activity;
use crate::payload::Actor;
use crate::text::strip_nul;
use crate::time::Timestamp;
use crate::users::{Identity, MappedUser, UserMap};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

/// A GitHub account as an entity row stores it. Every field is empty for a `null` account
/// (deleted users GitHub no longer resolves).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person<'a> {
    pub github_id: Option<i64>,
    pub login: Option<Cow<'a, str>>,
    pub is_bot: bool,
}

impl<'a> Person<'a> {
    /// The person behind a payload's account object.
    pub fn from_actor(actor: Option<&Actor<'a>>) -> Self {
        match actor {
            Some(a) => Person {
                github_id: Some(a.id),
                login: Some(strip_nul(a.login)),
                is_bot: a.is_bot(),
            },
            None => Person::default(),
        }
    }

    /// How the person is looked up: webhooks name accounts by numeric id, which survives
    /// login renames.
    pub fn identity(&self) -> Option<Identity> {
        self.github_id.map(Identity::GithubId)
    }

    /// The DevMetrics user, if the account is linked.
    pub fn user<'m>(&self, users: &'m UserMap) -> Option<&'m Arc<MappedUser>> {
        self.github_id
            .and_then(|id| users.get(&Identity::GithubId(id)))
    }

    /// The DevMetrics user id, if the account is linked.
    pub fn user_id<'m>(&self, users: &'m UserMap) -> Option<&'m str> {
        self.user(users).map(|u| u.id.as_str())
    }

    /// Whether both name the same known GitHub account.
    pub fn same_account(&self, other: &Person<'_>) -> bool {
        self.github_id.is_some() && self.github_id == other.github_id
    }
}

/// Builds an event's [`MappedActivity`]: what people did when, and who did not map.
#[derive(Debug, Default)]
pub struct ActivityLog {
    activities: Vec<Activity>,
    unmapped: BTreeSet<String>,
}

impl ActivityLog {
    /// Records that `person` acted at `at` (a metric trigger) and notes them if unmapped.
    pub fn acted(&mut self, person: &Person<'_>, at: Timestamp, users: &UserMap) {
        self.activities.push(Activity {
            user: person.user(users).cloned(),
            at,
        });
        self.named(person, users);
    }

    /// Notes a person a stored row names, without an activity: reported if unmapped.
    /// Bots are not people to link, so they are never reported.
    pub fn named(&mut self, person: &Person<'_>, users: &UserMap) {
        if person.is_bot || person.user(users).is_some() {
            return;
        }
        if let Some(login) = person.login.as_deref().filter(|l| !l.is_empty()) {
            self.unmapped.insert(login.to_owned());
        }
    }

    /// The activities and the sorted, unique unmapped logins.
    pub fn finish(self) -> MappedActivity {
        MappedActivity {
            activities: self.activities,
            unmapped: self.unmapped.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(id: i64, login: &str, kind: &str) -> Actor<'static> {
        Actor {
            id,
            login: Box::leak(login.to_owned().into_boxed_str()),
            kind: Some(Box::leak(kind.to_owned().into_boxed_str())),
        }
    }

    #[test]
    fn bots_and_unknown_accounts() {
        let bot = Person::from_actor(Some(&actor(1, "renovate[bot]", "Bot")));
        assert!(bot.is_bot);
        let app = Person::from_actor(Some(&actor(2, "ci", "Bot")));
        assert!(app.is_bot);
        let ghost = Person::from_actor(None);
        assert_eq!(ghost.identity(), None);
        assert!(!ghost.same_account(&Person::default()));

        let mut log = ActivityLog::default();
        let users = UserMap::default();
        log.named(&bot, &users);
        log.named(&ghost, &users);
        log.acted(
            &Person::from_actor(Some(&actor(3, "zed", "User"))),
            Timestamp::default(),
            &users,
        );
        log.named(&Person::from_actor(Some(&actor(4, "amy", "User"))), &users);
        let done = log.finish();
        assert_eq!(done.unmapped, ["amy", "zed"]);
        assert_eq!(done.activities.len(), 1);
    }
}
