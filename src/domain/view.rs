//! A team's view, as a viewer pulled it from the vault (vault.md "Team mode").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a pull brought into the local store (`pull --json`, the console's flash line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pulled {
    /// The harvest run the view shows (the harvest host's), if it has run.
    pub run_id: Option<String>,
    /// When the harvest host published it.
    #[serde(with = "super::rfc3339::option")]
    pub published_at: Option<DateTime<Utc>>,
    /// Sites in the view.
    pub sites: usize,
    /// Credentials in the view (never a secret).
    pub credentials: usize,
    /// Whether the view differed from what the store held (false: one request was made).
    pub changed: bool,
}
