//! Payload parts shared by every event type.

use serde::Deserialize;

/// The `repository` object: its GitHub id is how a delivery finds its DevMetrics repository.
#[derive(Debug, Deserialize)]
pub struct RepositoryRef<'a> {
    pub id: i64,
    #[serde(borrow, default)]
    pub full_name: Option<&'a str>,
}

/// A GitHub account as webhooks embed it (`sender`, `user`, `review.user`).
#[derive(Debug, Deserialize)]
pub struct Actor<'a> {
    pub id: i64,
    pub login: &'a str,
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<&'a str>,
}

impl Actor<'_> {
    /// GitHub Apps act as `type: "Bot"` accounts whose login ends in `[bot]`.
    pub fn is_bot(&self) -> bool {
        self.kind == Some("Bot") || is_bot_login(self.login)
    }
}

/// Whether a login names a bot account (`dependabot[bot]`).
pub fn is_bot_login(login: &str) -> bool {
    login.ends_with("[bot]")
}

/// What every delivery may carry, read for event types that no processor tracks.
#[derive(Debug, Default, Deserialize)]
pub struct Envelope<'a> {
    #[serde(borrow, default)]
    pub action: Option<&'a str>,
    #[serde(borrow, default)]
    pub repository: Option<RepositoryRef<'a>>,
    #[serde(borrow, default)]
    pub sender: Option<Actor<'a>>,
}
