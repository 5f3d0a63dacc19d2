//! The team's view (docs/reference/vault.md "Team mode"): what a harvest host publishes under
//! `{prefix}/_simsid/` and a viewer pulls into its store. Pure: the view's types, its
//! encoding as a stream of JSON lines, content-addressed chunks and the manifest naming
//! them ([`chunk`]). No secret is ever part of a view.

pub mod chunk;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{
    checked_time, CancelSignal, ChangeBadge, Diff, Fingerprint, OrgId, RunScope, RunStatus,
    SiteFailure,
};

pub use chunk::{assemble, build, Manifest, ViewError};
#[cfg(test)]
pub use chunk::{CHUNK_MAX, FORMAT};

/// One site as the host's store holds it, with its credentials (no secret). Read from a
/// pulled view, every field is checked to the shape a harvest host writes (docs/reference/vault.md
/// "Trust"): the organisation id upper-case, every time RFC 3339 and not in the future,
/// every fingerprint 16 lower-case hex digits; text is sanitised where it is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewSite {
    #[serde(deserialize_with = "OrgId::deserialize_canonical")]
    pub org_id: OrgId,
    pub name: String,
    pub dfe_code: Option<String>,
    pub deni_number: Option<String>,
    pub authorised: Option<bool>,
    #[serde(deserialize_with = "checked_time::deserialize")]
    pub first_seen: DateTime<Utc>,
    pub badge: Option<ChangeBadge>,
    pub stale: bool,
    pub last_error: Option<String>,
    #[serde(deserialize_with = "checked_time::option::deserialize")]
    pub waiting_since: Option<DateTime<Utc>>,
    /// By client id.
    pub credentials: Vec<ViewCredential>,
}

/// One credential: its fingerprint (the host's, the same as the vault's custom metadata)
/// and the vault version that holds its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewCredential {
    pub client_id: String,
    pub description: Option<String>,
    pub fingerprint: Fingerprint,
    #[serde(deserialize_with = "checked_time::deserialize")]
    pub first_seen: DateTime<Utc>,
    #[serde(deserialize_with = "checked_time::deserialize")]
    pub last_changed: DateTime<Utc>,
    pub stale: bool,
    pub last_error: Option<String>,
    /// The fingerprint last written to the vault (normally `fingerprint`).
    pub vault_fingerprint: Option<Fingerprint>,
    /// The KV version last written to the vault.
    pub vault_version: Option<u64>,
}

/// One run of the host's history, with its diff and status and the vault identity that
/// harvested (when known).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewRun {
    pub run_id: uuid::Uuid,
    pub status: RunStatus,
    #[serde(deserialize_with = "checked_time::deserialize")]
    pub started_at: DateTime<Utc>,
    #[serde(deserialize_with = "checked_time::deserialize")]
    pub finished_at: DateTime<Utc>,
    pub sites_total: usize,
    pub sites_harvested: usize,
    pub sites_failed: usize,
    pub credentials_total: usize,
    pub diff: Diff,
    pub failures: Vec<SiteFailure>,
    pub error: Option<String>,
    pub scope: RunScope,
    pub signal: Option<CancelSignal>,
    /// The vault identity of the harvest host for this run.
    pub identity: Option<String>,
}

/// The whole view: every site (by organisation id) and every run (oldest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    pub sites: Vec<ViewSite>,
    pub runs: Vec<ViewRun>,
}

impl View {
    /// How many credentials the view holds.
    pub fn credential_count(&self) -> usize {
        self.sites.iter().map(|s| s.credentials.len()).sum()
    }

    /// The distinct vault identities that harvested (their reads are the harvest's own
    /// read-back in `exposure --vault-audit`).
    pub fn harvesters(&self) -> std::collections::BTreeSet<String> {
        self.runs
            .iter()
            .filter_map(|r| r.identity.clone())
            .collect()
    }
}

/// One line of the view's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Line {
    Site(ViewSite),
    Run(ViewRun),
}
