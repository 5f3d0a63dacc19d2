//! The vocabulary shared by every layer: identifiers, sites, credentials, fingerprints,
//! harvest runs and their diffs, audit entries. Secrets are `SecretString` throughout.

use std::fmt;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

mod pulled;
pub mod vault_identity;
mod verify;
pub use pulled::{checked_time, Pulled};
pub use verify::{CheckOutcome, CredentialCheck, Tally};

/// How a profile's store is brought up to date: what the console's `R` does, and what
/// `status` judges the age of. The keeper says which; no front end asks for the role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Refresh {
    /// A harvest of SIMS ID (a local store or a vault-mode harvest host).
    #[default]
    Harvest,
    /// A pull of the team's view from the vault (a viewer).
    Pull,
}

/// What a front end may offer for a profile, as the keeper says it: the console is told
/// what `R` does, whether `u` refreshes one school, whether a secret may be read, and what
/// its header says of where the secrets are — never which role the profile has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// What `R` does: harvest SIMS ID, or pull the team's view.
    pub refresh: Refresh,
    /// Whether `u` refreshes one school (a harvest of that school alone).
    pub refresh_one: bool,
    /// Whether reveal, copy and verify may read a secret: `Some(true)` always, `None` until
    /// the vault says whether this identity may (a viewer's identity may not).
    pub reveal: Option<bool>,
    /// Where the secrets are, as the header says it (`local store`, `vault ADDR`, `view
    /// from vault ADDR`); the console sanitises it for the terminal.
    pub header: String,
    /// Whether a secret is read over the network from a vault (else from the store).
    pub reads_vault: bool,
}

impl Default for Capabilities {
    /// A local store's: `R` harvests, `u` refreshes a school, secrets are unsealed locally.
    fn default() -> Self {
        Capabilities {
            refresh: Refresh::Harvest,
            refresh_one: true,
            reveal: Some(true),
            header: "local store".to_string(),
            reads_vault: false,
        }
    }
}

impl Refresh {
    /// Where the sites come from, as `status --json`'s `source` says it: `sims` or `vault`.
    pub fn source(self) -> &'static str {
        match self {
            Refresh::Harvest => "sims",
            Refresh::Pull => "vault",
        }
    }
}

/// Why a string is not a GUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuidError {
    /// An integer: SIMS ID shows integer application ids in other places.
    #[error("`{0}` is an integer, not a GUID")]
    Integer(String),
    /// Anything else that is not 8-4-4-4-12 hex digits.
    #[error("`{0}` is not a GUID")]
    NotGuid(String),
}

/// Parses a GUID in any case, with or without braces or hyphens, into the canonical
/// upper-case hyphenated form `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX`.
pub fn normalise_guid(input: &str) -> Result<String, GuidError> {
    let trimmed = input.trim();
    let shown: String = trimmed.chars().take(60).collect();
    if !trimmed.is_empty() && trimmed.len() != 32 && trimmed.chars().all(|c| c.is_ascii_digit()) {
        return Err(GuidError::Integer(shown));
    }
    let inner = trimmed
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(trimmed);
    let hex: String = inner.chars().filter(|c| *c != '-').collect();
    let hyphens_ok = if inner.contains('-') {
        let parts: Vec<usize> = inner.split('-').map(str::len).collect();
        parts == [8, 4, 4, 4, 12]
    } else {
        true
    };
    if hex.len() != 32 || !hyphens_ok || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(GuidError::NotGuid(shown));
    }
    let up = hex.to_ascii_uppercase();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &up[0..8],
        &up[8..12],
        &up[12..16],
        &up[16..20],
        &up[20..32]
    ))
}

/// An organisation (site) id: a GUID, stored upper-case and hyphenated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgId(String);

impl OrgId {
    /// Parses any case, with or without braces.
    pub fn parse(input: &str) -> Result<Self, GuidError> {
        normalise_guid(input).map(OrgId)
    }
    /// The canonical upper-case hyphenated form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl OrgId {
    /// Parses only the canonical form the harvest host writes (upper-case, hyphenated, no
    /// braces): what a pulled view must hold.
    pub fn parse_canonical(input: &str) -> Result<Self, GuidError> {
        match normalise_guid(input) {
            Ok(g) if g == input => Ok(OrgId(g)),
            Ok(_) => Err(GuidError::NotGuid(input.chars().take(60).collect())),
            Err(e) => Err(e),
        }
    }

    /// `Deserialize` of the canonical form only ([`OrgId::parse_canonical`]), for
    /// `#[serde(deserialize_with)]` on what a harvest host wrote.
    pub fn deserialize_canonical<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<OrgId, D::Error> {
        let s = String::deserialize(d)?;
        OrgId::parse_canonical(&s)
            .map_err(|e| serde::de::Error::custom(crate::sanitize::for_terminal(&e.to_string())))
    }
}

impl OrgId {
    /// [`OrgId::deserialize_canonical`] of an optional id (`null` when absent).
    pub fn deserialize_canonical_option<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OrgId>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| {
                OrgId::parse_canonical(&s).map_err(|e| {
                    serde::de::Error::custom(crate::sanitize::for_terminal(&e.to_string()))
                })
            })
            .transpose()
    }
}

impl TryFrom<String> for OrgId {
    type Error = GuidError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        OrgId::parse(&value)
    }
}

impl From<OrgId> for String {
    fn from(value: OrgId) -> Self {
        value.0
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An application id: a GUID from SIMS ID's App Management page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppId(String);

impl AppId {
    /// Parses any case, with or without braces.
    pub fn parse(input: &str) -> Result<Self, GuidError> {
        normalise_guid(input).map(AppId)
    }
    /// The canonical upper-case hyphenated form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A school using the application, as the site list reports it. Read from a pulled view
/// (`Deserialize`), its organisation id must be canonical (docs/reference/vault.md "Trust").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    #[serde(deserialize_with = "OrgId::deserialize_canonical")]
    pub org_id: OrgId,
    pub name: String,
    pub dfe_code: Option<String>,
    pub deni_number: Option<String>,
    /// `Some(true)` when the school approved the application; `None` when unknown.
    pub authorised: Option<bool>,
}

/// One API client of a school. `Debug` never shows the secret (secrecy redacts it).
#[derive(Debug, Clone)]
pub struct Credential {
    pub client_id: String,
    pub secret: SecretString,
    pub description: Option<String>,
}

/// A keyed hash of a secret (16 lower-case hex digits): names a secret without revealing
/// it. Made from outside text only by [`Fingerprint::parse`] (and `Deserialize`, which calls
/// it), so a fingerprint from a pulled view, a vault's custom metadata or any JSON is always
/// that shape; `Fingerprint::local` is for what this machine computed or its own store
/// recorded. `Display` goes through the terminal sanitiser whatever it holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Fingerprint(String);

/// Why a text is not a fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a fingerprint (16 lower-case hex digits)")]
pub struct FingerprintError;

impl Fingerprint {
    /// The number of hex digits of a fingerprint.
    pub const LEN: usize = 16;

    /// Whether `s` is a fingerprint: exactly 16 lower-case hex digits.
    pub fn is_valid(s: &str) -> bool {
        s.len() == Self::LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }

    /// A fingerprint from outside text: exactly 16 lower-case hex digits, else refused.
    pub fn parse(s: &str) -> Result<Fingerprint, FingerprintError> {
        if Self::is_valid(s) {
            Ok(Fingerprint(s.to_string()))
        } else {
            Err(FingerprintError)
        }
    }

    /// A fingerprint this machine computed itself, or its own store recorded (a row it
    /// wrote after checking it, or an audit record of an older build): not checked again,
    /// so that an old record is still shown; `Display` sanitises it.
    pub(crate) fn local(s: String) -> Fingerprint {
        Fingerprint(s)
    }

    /// The text as stored (for the store's own columns and the vault's custom metadata;
    /// for a terminal use `Display`, which sanitises).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Fingerprint {
    type Error = FingerprintError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if Self::is_valid(&value) {
            Ok(Fingerprint(value))
        } else {
            Err(FingerprintError)
        }
    }
}

impl From<Fingerprint> for String {
    fn from(value: Fingerprint) -> Self {
        value.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::sanitize::for_terminal(&self.0))
    }
}

/// What the last harvest changed for a site: the badge in the sites table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeBadge {
    Added,
    AuthorisationChanged,
    CredentialsChanged,
}

/// A cached site as the store lists it (no secrets). As a line of the team's view
/// (`Serialize`/`Deserialize`, docs/reference/vault.md "Team mode") it carries only what the
/// site is: the counts, the latest change and the badge are not written (a reader derives
/// them: the badge from the view's runs), and every time read is checked ("Trust").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteRow {
    #[serde(flatten)]
    pub site: Site,
    #[serde(skip)]
    pub credential_count: usize,
    /// The last harvest could not fetch this site's clients; its credentials are the old ones.
    pub stale: bool,
    pub last_error: Option<String>,
    /// The latest `last_changed` of its credentials, or when the site was first seen.
    #[serde(skip)]
    pub last_changed: Option<DateTime<Utc>>,
    /// What the most recent harvest changed here, if anything.
    #[serde(skip)]
    pub badge: Option<ChangeBadge>,
    /// When a harvest first listed the site (always known for a cached site; a line of the
    /// view must have it).
    #[serde(deserialize_with = "checked_time::some")]
    pub first_seen: Option<DateTime<Utc>>,
    /// When the site's current unauthorised stretch began (installed, not yet approved:
    /// the onboarding queue); `None` while it is authorised.
    #[serde(deserialize_with = "checked_time::option::deserialize")]
    pub waiting_since: Option<DateTime<Utc>>,
}

impl SiteRow {
    /// Sets what is derived from the credentials (their count, the latest change: as the
    /// store's list computes them), for a row read from a line of the team's view.
    pub fn derive_from(&mut self, credentials: &[CredentialRow]) {
        self.credential_count = credentials.len();
        self.last_changed = credentials
            .iter()
            .map(|c| c.last_changed)
            .max()
            .or(self.first_seen);
    }
}

/// How many sites there are, by state: the console header's counts and the store's totals
/// (one pass, no join).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SiteTotals {
    pub sites: usize,
    pub authorised: usize,
    pub unauthorised: usize,
    pub unknown: usize,
    pub stale: usize,
    pub changed: usize,
}

impl SiteTotals {
    /// The totals over `rows`.
    pub fn of(rows: &[SiteRow]) -> SiteTotals {
        let mut totals = SiteTotals {
            sites: rows.len(),
            ..SiteTotals::default()
        };
        for r in rows {
            match r.site.authorised {
                Some(true) => totals.authorised += 1,
                Some(false) => totals.unauthorised += 1,
                None => totals.unknown += 1,
            }
            totals.stale += usize::from(r.stale);
            totals.changed += usize::from(r.badge.is_some());
        }
        totals
    }
}

/// A cached credential without its secret. As part of a line of the team's view every
/// time read is checked and every fingerprint is one (docs/reference/vault.md "Trust").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialRow {
    pub client_id: String,
    pub description: Option<String>,
    pub fingerprint: Fingerprint,
    #[serde(deserialize_with = "checked_time::deserialize")]
    pub first_seen: DateTime<Utc>,
    #[serde(deserialize_with = "checked_time::deserialize")]
    pub last_changed: DateTime<Utc>,
    pub stale: bool,
    pub last_error: Option<String>,
    /// Vault mode: the fingerprint last written to the vault (normally `fingerprint`).
    pub vault_fingerprint: Option<Fingerprint>,
    /// Vault mode: the KV version last written to the vault.
    pub vault_version: Option<u64>,
}

/// One site and its credentials (no secrets): also one site's line of the team's view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteDetail {
    #[serde(flatten)]
    pub row: SiteRow,
    /// By client id.
    pub credentials: Vec<CredentialRow>,
}

/// How a harvest run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Complete,
    Partial,
    Failed,
    /// Cancelled (Ctrl-C, a signal, the console's cancel): nothing was committed.
    Cancelled,
}

impl RunStatus {
    /// Every status, in the order of this enum.
    pub const ALL: [RunStatus; 4] = [
        RunStatus::Complete,
        RunStatus::Partial,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];

    /// The word used in JSON and text output.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Complete => "complete",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// True for a run that committed (complete or partial); failed and cancelled runs
    /// changed no site or credential.
    pub fn committed(self) -> bool {
        matches!(self, RunStatus::Complete | RunStatus::Partial)
    }
}

/// What a run harvested: every site (`harvest`) or one school (`harvest --site`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunScope {
    #[default]
    Full,
    Site,
}

impl RunScope {
    /// The word used in JSON output and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            RunScope::Full => "full",
            RunScope::Site => "site",
        }
    }
}

/// The signal that cancelled a run (docs/reference/cli.md "Signals, services and monitoring"): a Unix
/// signal, or one of the Windows console's control events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CancelSignal {
    #[serde(rename = "SIGINT")]
    Interrupt,
    #[serde(rename = "SIGTERM")]
    Terminate,
    #[serde(rename = "SIGHUP")]
    Hangup,
    /// Windows: Ctrl-C in the console.
    #[serde(rename = "CTRL_C")]
    CtrlC,
    /// Windows: Ctrl-Break in the console.
    #[serde(rename = "CTRL_BREAK")]
    CtrlBreak,
    /// Windows: the console window was closed.
    #[serde(rename = "CTRL_CLOSE")]
    CtrlClose,
    /// Windows: the user is logging off.
    #[serde(rename = "CTRL_LOGOFF")]
    CtrlLogoff,
    /// Windows: the system is shutting down.
    #[serde(rename = "CTRL_SHUTDOWN")]
    CtrlShutdown,
}

impl CancelSignal {
    /// Every signal, in the order of this enum.
    pub const ALL: [CancelSignal; 8] = [
        CancelSignal::Interrupt,
        CancelSignal::Terminate,
        CancelSignal::Hangup,
        CancelSignal::CtrlC,
        CancelSignal::CtrlBreak,
        CancelSignal::CtrlClose,
        CancelSignal::CtrlLogoff,
        CancelSignal::CtrlShutdown,
    ];

    /// The signal's name (`SIGTERM`, `CTRL_CLOSE`), as JSON and the store write it.
    pub fn name(self) -> &'static str {
        match self {
            CancelSignal::Interrupt => "SIGINT",
            CancelSignal::Terminate => "SIGTERM",
            CancelSignal::Hangup => "SIGHUP",
            CancelSignal::CtrlC => "CTRL_C",
            CancelSignal::CtrlBreak => "CTRL_BREAK",
            CancelSignal::CtrlClose => "CTRL_CLOSE",
            CancelSignal::CtrlLogoff => "CTRL_LOGOFF",
            CancelSignal::CtrlShutdown => "CTRL_SHUTDOWN",
        }
    }

    /// The exit status of a run it cancelled: 128 plus the Unix signal's number, as a shell
    /// reports a process that signal killed (130 INT, 143 TERM, 129 HUP); a Windows event
    /// exits as its Unix counterpart does (Ctrl-C and Ctrl-Break as INT, closing the
    /// console as HUP, log-off and shutdown as TERM).
    pub fn exit_code(self) -> u8 {
        match self {
            CancelSignal::Interrupt | CancelSignal::CtrlC | CancelSignal::CtrlBreak => 130,
            CancelSignal::Terminate | CancelSignal::CtrlLogoff | CancelSignal::CtrlShutdown => 143,
            CancelSignal::Hangup | CancelSignal::CtrlClose => 129,
        }
    }

    /// The signal named `name`, if it is one of these.
    pub fn named(name: &str) -> Option<CancelSignal> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// An authorisation change in a diff (`0`/`1`, `null` when unknown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorisationChange {
    pub organisation_id: OrgId,
    pub from: Option<u8>,
    pub to: Option<u8>,
}

/// A credential named in a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialRef {
    pub organisation_id: OrgId,
    pub client_id: String,
}

/// What a harvest changed against the previous state (the `diff` of docs/reference/cli.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diff {
    pub sites_added: Vec<OrgId>,
    pub sites_removed: Vec<OrgId>,
    pub authorisation_changed: Vec<AuthorisationChange>,
    pub credentials_added: Vec<CredentialRef>,
    pub credentials_removed: Vec<CredentialRef>,
    pub credentials_rotated: Vec<CredentialRef>,
    /// Vault mode: every key the run removed from the vault (under the mount), by
    /// `vault_on_remove` or as a stray of `--reconcile` (docs/reference/vault.md sync rule 6). Absent from
    /// JSON when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vault_removed: Vec<String>,
}

impl Diff {
    /// The badge each site gets from this diff (what the store sets when the run commits,
    /// and what a viewer derives from a pulled view's runs): `Added` >
    /// `CredentialsChanged` > `AuthorisationChanged` when several apply.
    pub fn badges(&self) -> std::collections::BTreeMap<&OrgId, ChangeBadge> {
        fn rank(b: ChangeBadge) -> u8 {
            match b {
                ChangeBadge::Added => 3,
                ChangeBadge::CredentialsChanged => 2,
                ChangeBadge::AuthorisationChanged => 1,
            }
        }
        let mut out: std::collections::BTreeMap<&OrgId, ChangeBadge> = Default::default();
        let mut set = |org, badge| {
            let slot = out.entry(org).or_insert(badge);
            if rank(badge) > rank(*slot) {
                *slot = badge;
            }
        };
        for org in &self.sites_added {
            set(org, ChangeBadge::Added);
        }
        for c in self
            .credentials_added
            .iter()
            .chain(&self.credentials_removed)
            .chain(&self.credentials_rotated)
        {
            set(&c.organisation_id, ChangeBadge::CredentialsChanged);
        }
        for a in &self.authorisation_changed {
            set(&a.organisation_id, ChangeBadge::AuthorisationChanged);
        }
        out
    }

    /// True when the harvest changed nothing.
    pub fn is_empty(&self) -> bool {
        self.sites_added.is_empty()
            && self.sites_removed.is_empty()
            && self.authorisation_changed.is_empty()
            && self.credentials_added.is_empty()
            && self.credentials_removed.is_empty()
            && self.credentials_rotated.is_empty()
            && self.vault_removed.is_empty()
    }
}

/// A site whose clients could not be fetched in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteFailure {
    pub organisation_id: OrgId,
    pub error: String,
}

/// A harvest run's summary as recorded in the history (`harvest --json` shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run_id: uuid::Uuid,
    pub status: RunStatus,
    /// Read back (a run of a pulled view), a time is checked (docs/reference/vault.md "Trust").
    #[serde(
        serialize_with = "rfc3339::serialize",
        deserialize_with = "checked_time::deserialize"
    )]
    pub started_at: DateTime<Utc>,
    #[serde(
        serialize_with = "rfc3339::serialize",
        deserialize_with = "checked_time::deserialize"
    )]
    pub finished_at: DateTime<Utc>,
    pub sites_total: usize,
    pub sites_harvested: usize,
    pub sites_failed: usize,
    pub credentials_total: usize,
    pub diff: Diff,
    pub failures: Vec<SiteFailure>,
    /// How the run used the API (zeros for runs read back from the history).
    #[serde(default)]
    pub stats: HarvestStats,
    pub error: Option<String>,
    /// Every site or one school (`harvest --site`).
    #[serde(default)]
    pub scope: RunScope,
    /// The signal that cancelled the run (`cancelled` runs only; `None` for the console's
    /// own cancel).
    #[serde(default)]
    pub signal: Option<CancelSignal>,
}

impl RunSummary {
    /// A full run with `status` from `started_at` to `finished_at` whose only content is
    /// `diff`: no counts, failures or error (a start that tests and benches fill in).
    pub fn with_diff(
        status: RunStatus,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        diff: Diff,
    ) -> RunSummary {
        RunSummary {
            run_id: uuid::Uuid::new_v4(),
            status,
            started_at,
            finished_at,
            sites_total: 0,
            sites_harvested: 0,
            sites_failed: 0,
            credentials_total: 0,
            diff,
            failures: Vec::new(),
            stats: HarvestStats::default(),
            error: None,
            scope: RunScope::Full,
            signal: None,
        }
    }

    /// This run as recorded when it did not commit: `status` (`Failed` or `Cancelled`),
    /// `reason` as its error, no diff (nothing changed), the counts of what was fetched
    /// kept, and `credentials_total` set to what the store still holds. Record it with
    /// `Store::record_run` (docs/reference/cli.md: a failed or cancelled run is in `history`, and it
    /// changed no site or credential).
    pub fn not_committed(
        mut self,
        status: RunStatus,
        reason: impl Into<String>,
        credentials_in_store: usize,
    ) -> RunSummary {
        debug_assert!(!status.committed(), "a run that did not commit");
        self.status = status;
        self.error = Some(reason.into());
        // Keys already removed from the vault stay named (docs/reference/vault.md sync rule 6).
        self.diff = Diff {
            vault_removed: std::mem::take(&mut self.diff.vault_removed),
            ..Diff::default()
        };
        self.credentials_total = credentials_in_store;
        self
    }
}

/// A run of the history with the vault identity that harvested it (team mode: the host
/// records it when it publishes; a viewer pulls it): one run's line of the team's view.
/// Written as the run's summary with its times to the nanosecond (the history's own
/// precision, not `harvest --json`'s seconds) and without `stats` (a recorded run has
/// none), plus `identity`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RunRecord {
    #[serde(flatten)]
    pub summary: RunSummary,
    /// The vault identity of the harvest host for this run.
    pub identity: Option<String>,
    /// The school a one-school run that committed harvested (`None` for a full run, and
    /// for one recorded before the store kept it). Absent from the line when `None`.
    #[serde(default, deserialize_with = "OrgId::deserialize_canonical_option")]
    pub site: Option<OrgId>,
}

impl Serialize for RunRecord {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let nanos = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let mut line = serde_json::to_value(&self.summary).map_err(S::Error::custom)?;
        let Some(fields) = line.as_object_mut() else {
            return Err(S::Error::custom("a run is not an object"));
        };
        fields.remove("stats");
        fields.insert("started_at".into(), nanos(&self.summary.started_at).into());
        fields.insert(
            "finished_at".into(),
            nanos(&self.summary.finished_at).into(),
        );
        fields.insert("identity".into(), self.identity.clone().into());
        if let Some(site) = &self.site {
            fields.insert("site".into(), site.as_str().into());
        }
        line.serialize(s)
    }
}

/// How a harvest used the API (`harvest --json` `stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HarvestStats {
    /// API requests sent (the site list and every Clients call, retries included).
    pub requests: u64,
    /// Requests sent again after a transient failure or a `429`.
    pub retries: u64,
    /// `429` answers.
    pub rate_limited: u64,
    /// The most requests in flight at once.
    pub concurrency_max: usize,
    /// Requests allowed in flight when the run ended.
    pub concurrency_final: usize,
}

/// What an audit record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Reveal,
    Copy,
    Verify,
    Export,
    Harvest,
    /// A schema migration of the store (the audit chain started, for instance).
    Migrate,
    /// A viewer's pull that took what a pull refuses by default (`pull --accept-older`).
    Pull,
}

impl AuditAction {
    /// The word used in JSON and text output.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Reveal => "reveal",
            AuditAction::Copy => "copy",
            AuditAction::Verify => "verify",
            AuditAction::Export => "export",
            AuditAction::Harvest => "harvest",
            AuditAction::Migrate => "migrate",
            AuditAction::Pull => "pull",
        }
    }
}

/// One audit-trail record: who did what to which credential. Never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    #[serde(with = "rfc3339")]
    pub at: DateTime<Utc>,
    pub user: String,
    pub action: AuditAction,
    pub organisation_id: Option<OrgId>,
    pub client_id: Option<String>,
    pub fingerprint: Option<Fingerprint>,
    /// A short free-text note (outcome, run id, export format); never a secret.
    pub detail: Option<String>,
    /// In vault mode, the vault identity that read the secret (`docs/reference/vault.md`); `None` otherwise.
    #[serde(default)]
    pub identity: Option<String>,
}

/// RFC 3339 UTC with seconds precision and a `Z` suffix, as docs/reference/cli.md requires.
pub mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Formats a time as `2026-11-27T16:55:39Z`.
    pub fn format(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }

    /// The same for an optional time (`null` when absent).
    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|s| {
                    DateTime::parse_from_rfc3339(&s)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(serde::de::Error::custom)
                })
                .transpose()
        }
    }
}

/// The cached state a harvest is compared against: every site with its credentials'
/// fingerprints, keyed by client id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub sites: std::collections::BTreeMap<OrgId, SnapshotSite>,
}

/// One site of a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotSite {
    pub site: Site,
    /// client id → fingerprint of its secret.
    pub credentials: std::collections::BTreeMap<String, Fingerprint>,
}

/// What a harvest whose site list succeeded brings to the store to commit in one transaction.
#[derive(Debug, Clone, Default)]
pub struct HarvestData {
    /// The complete site list: every site not in it is removed.
    pub sites: Vec<Site>,
    /// Sites whose clients were fetched (possibly none): their credentials are replaced.
    pub fetched: std::collections::BTreeMap<OrgId, Vec<(Credential, Fingerprint)>>,
    /// Sites whose clients call failed: previous credentials kept, marked stale with the error.
    pub failed: std::collections::BTreeMap<OrgId, String>,
}

/// The reason a held removal's site and credentials are marked stale with (docs/reference/cli.md, "A harvest
/// never empties the cache by accident").
pub const REMOVAL_HELD: &str = "removal held";

/// Removals a harvest holds back instead of committing: these sites and credentials stay in
/// the store, marked stale with [`REMOVAL_HELD`], until a harvest accepts the removals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeldRemovals {
    /// Sites absent from the site list that stay cached, with their credentials.
    pub sites: std::collections::BTreeSet<OrgId>,
    /// Credentials absent from a fetched site's answer that stay cached, by site.
    pub credentials: std::collections::BTreeMap<OrgId, std::collections::BTreeSet<String>>,
}

impl HeldRemovals {
    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty() && self.credentials.is_empty()
    }

    /// Whether the credential `client_id` of `org` is held (alone or with its site).
    pub fn holds(&self, org: &OrgId, client_id: &str) -> bool {
        self.sites.contains(org)
            || self
                .credentials
                .get(org)
                .is_some_and(|ids| ids.contains(client_id))
    }
}

/// The outcome of one verify token request with a school's credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyResult {
    pub client_id: String,
    pub ok: bool,
    /// True only when the STS rejected the credential itself (`invalid_client`,
    /// `unauthorized_client`); any other failure is an error, not a refusal.
    #[serde(default)]
    pub refused: bool,
    pub error: Option<String>,
}

/// What the store remembers writing to the vault for one credential (vault mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultMark {
    /// The fingerprint of the secret last written.
    pub fingerprint: Fingerprint,
    /// The KV version that write made.
    pub version: u64,
}

/// Vault marks by (organisation, client id).
pub type VaultMarks = std::collections::BTreeMap<(OrgId, String), VaultMark>;

/// What unit tests build the domain's rows and runs from (one copy crate-wide).
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// A complete full run at `at` that changed nothing.
    pub(crate) fn run(run_id: uuid::Uuid, at: DateTime<Utc>) -> RunSummary {
        RunSummary {
            run_id,
            ..RunSummary::with_diff(RunStatus::Complete, at, at, Diff::default())
        }
    }

    /// An authorised site first seen at `first_seen` with `credentials`, its derived
    /// fields as the store lists them (no badge).
    pub(crate) fn site(
        org_id: OrgId,
        name: String,
        first_seen: DateTime<Utc>,
        credentials: Vec<CredentialRow>,
    ) -> SiteDetail {
        let mut row = SiteRow {
            site: Site {
                org_id,
                name,
                dfe_code: None,
                deni_number: None,
                authorised: Some(true),
            },
            credential_count: 0,
            stale: false,
            last_error: None,
            last_changed: None,
            badge: None,
            first_seen: Some(first_seen),
            waiting_since: None,
        };
        row.derive_from(&credentials);
        SiteDetail { row, credentials }
    }

    /// A credential whose secret has the fingerprint `fingerprint`, seen and changed at
    /// `at`, written to the vault as version 1.
    pub(crate) fn credential(
        client_id: String,
        fingerprint: &str,
        at: DateTime<Utc>,
    ) -> CredentialRow {
        CredentialRow {
            client_id,
            description: None,
            fingerprint: Fingerprint::local(fingerprint.into()),
            first_seen: at,
            last_changed: at,
            stale: false,
            last_error: None,
            vault_fingerprint: Some(Fingerprint::local(fingerprint.into())),
            vault_version: Some(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_normalises_case_and_braces() {
        let want = "207A1392-E1F6-47BA-81DA-6C374971D788";
        for input in [
            "207a1392-e1f6-47ba-81da-6c374971d788",
            "{207A1392-E1F6-47BA-81DA-6C374971D788}",
            " 207a1392e1f647ba81da6c374971d788 ",
        ] {
            assert_eq!(OrgId::parse(input).unwrap().as_str(), want, "{input}");
        }
    }

    #[test]
    fn a_fingerprint_is_sixteen_lower_case_hex_digits_by_parse_and_by_deserialize() {
        let good = "0123456789abcdef";
        assert_eq!(Fingerprint::parse(good).unwrap().as_str(), good);
        let json = format!("\"{good}\"");
        assert_eq!(
            serde_json::from_str::<Fingerprint>(&json).unwrap(),
            Fingerprint::parse(good).unwrap()
        );
        for bad in [
            "0123456789ABCDEF",
            "0123456789abcde",
            "0123456789abcdef0",
            "",
            "\u{1b}]52;c;aGk=\u{7}\u{1b}[31m",
            "0123456789abcde\u{1b}",
        ] {
            assert_eq!(Fingerprint::parse(bad), Err(FingerprintError), "{bad:?}");
            let json = serde_json::to_string(bad).unwrap();
            assert!(
                serde_json::from_str::<Fingerprint>(&json).is_err(),
                "{bad:?}"
            );
        }
        // What this machine's own store recorded is shown, sanitised.
        let recorded = Fingerprint::local("\u{1b}[31mred".to_string());
        assert_eq!(recorded.to_string(), "\\u{1b}[31mred");
    }

    #[test]
    fn a_canonical_org_id_is_upper_case_hyphenated_without_braces() {
        let want = "207A1392-E1F6-47BA-81DA-6C374971D788";
        assert_eq!(OrgId::parse_canonical(want).unwrap().as_str(), want);
        for bad in [
            "207a1392-e1f6-47ba-81da-6c374971d788",
            "{207A1392-E1F6-47BA-81DA-6C374971D788}",
            "207A1392E1F647BA81DA6C374971D788",
            " 207A1392-E1F6-47BA-81DA-6C374971D788",
        ] {
            assert!(OrgId::parse_canonical(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_view_time_is_rfc3339_from_2000_and_not_in_the_future_beyond_the_skew() {
        let now = Utc::now();
        let ok = rfc3339::format(&(now + chrono::Duration::minutes(2)));
        assert!(checked_time::parse(&ok).is_ok());
        let later = rfc3339::format(&(now + chrono::Duration::minutes(30)));
        assert!(checked_time::parse(&later)
            .unwrap_err()
            .contains("out of range"));
        assert!(checked_time::parse("1999-12-31T23:59:59Z").is_err());
        assert!(checked_time::parse("yesterday").is_err());
        assert!(checked_time::parse("2026-01-01T00:00:00+01:00").is_ok());
    }

    #[test]
    fn integers_and_junk_are_refused() {
        assert_eq!(
            AppId::parse("12345"),
            Err(GuidError::Integer("12345".into()))
        );
        assert!(matches!(AppId::parse("abc"), Err(GuidError::NotGuid(_))));
        assert!(matches!(
            AppId::parse("207A1392-E1F647BA-81DA-6C374971D788-"),
            Err(GuidError::NotGuid(_))
        ));
        assert!(matches!(AppId::parse(""), Err(GuidError::NotGuid(_))));
    }

    fn org8(n: u8) -> OrgId {
        OrgId::parse(&format!("{n:08x}-0000-4000-8000-000000000000")).unwrap()
    }

    #[test]
    fn badge_priority_is_added_then_credentials_then_authorisation() {
        let cref = |n| CredentialRef {
            organisation_id: org8(n),
            client_id: "c".into(),
        };
        let auth = |n| AuthorisationChange {
            organisation_id: org8(n),
            from: Some(0),
            to: Some(1),
        };
        let diff = Diff {
            sites_added: vec![org8(1)],
            sites_removed: vec![org8(9)],
            authorisation_changed: vec![auth(1), auth(2), auth(3)],
            credentials_added: vec![cref(1), cref(2)],
            credentials_removed: vec![cref(4)],
            credentials_rotated: vec![cref(5)],
            vault_removed: Vec::new(),
        };
        let b = diff.badges();
        assert_eq!(b.len(), 5);
        assert_eq!(b[&org8(1)], ChangeBadge::Added);
        assert_eq!(b[&org8(2)], ChangeBadge::CredentialsChanged);
        assert_eq!(b[&org8(3)], ChangeBadge::AuthorisationChanged);
        assert_eq!(b[&org8(4)], ChangeBadge::CredentialsChanged);
        assert_eq!(b[&org8(5)], ChangeBadge::CredentialsChanged);
        assert!(!b.contains_key(&org8(9)));
    }
}
