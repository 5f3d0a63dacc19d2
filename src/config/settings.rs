//! What resolution produces: the settings every command reads, the flags it starts from, the
//! platform directories, the built-in defaults, and the error that lists every problem.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::harvest::RetryPolicy;
use crate::sims::SimsSettings;
use crate::vault::{SecretRef, VaultSettings};

/// Production token endpoint.
pub const DEFAULT_STS_URL: &str = "https://sts.sims.co.uk/connect/token";
/// Production partner API base.
pub const DEFAULT_API_BASE: &str = "https://rap.sims.co.uk/api/v1/partner";
/// Scopes the partner API needs.
pub const DEFAULT_SCOPES: &str = "rapapi partner partner-read partner-write";
/// `acr_values` template; `{organisation_id}` is replaced.
pub const DEFAULT_ACR_VALUES: &str = "orgselect:{organisation_id}";
/// Concurrent Clients requests in a harvest (the engine's default).
pub(crate) use crate::harvest::DEFAULT_CONCURRENCY;
/// Whole-request timeout.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// `status`: a last complete harvest older than this is unhealthy (a nightly timer's
/// period plus margin).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(26 * 3600);
/// Highest accepted concurrency.
pub const MAX_CONCURRENCY: usize = 256;

/// Values given on the command line (the highest precedence).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub config: Option<PathBuf>,
    pub profile: Option<String>,
    pub store: Option<PathBuf>,
    pub log_file: Option<PathBuf>,
    pub readonly: bool,
    pub concurrency: Option<usize>,
}

/// Settings every command needs (no network).
#[derive(Debug, Clone)]
pub struct LocalSettings {
    pub profile: String,
    /// The config file that was read, if any.
    pub config_path: Option<PathBuf>,
    pub store_path: PathBuf,
    /// `SIMSID_STORE_KEY` (base64), when set; otherwise the key is where the store records
    /// it (the OS keychain or a key file beside it).
    pub store_key: Option<SecretString>,
    /// The setting `store_key`: where a new store's key goes (`Env` when `SIMSID_STORE_KEY`
    /// is set); `None` when not set: the OS keychain where one answers, else a key file.
    pub store_key_in: Option<crate::store::KeyLocation>,
    pub log_path: PathBuf,
    pub readonly: bool,
    pub profiles: Vec<String>,
    /// Where `harvest` writes its Prometheus metrics after every run (`metrics_file`,
    /// `$SIMSID_METRICS`; `harvest --metrics FILE` wins); `None`: no metrics file.
    pub metrics_file: Option<PathBuf>,
    /// `status`: the profile's `max_age` (`None`: not set, the built-in
    /// [`DEFAULT_MAX_AGE`]; zero turns the age check off).
    pub max_age: Option<Duration>,
}

/// Settings for talking to SIMS ID, all validated.
#[derive(Debug, Clone)]
pub struct RemoteSettings {
    /// What the SIMS ID client needs (endpoints, the integrator's credential, timeouts).
    pub sims: SimsSettings,
    /// Sites fetched at once (the limiter's ceiling).
    pub concurrency: usize,
    /// How a harvest's requests are retried: always the default when resolved (no setting
    /// chooses it); the library's tests shorten it.
    pub retry: RetryPolicy,
    /// The integrator's secret is in the vault at this reference (`client_secret_vault`);
    /// `sims.client_secret` is then empty until [`crate::ops::Keeper::remote`]
    /// reads it.
    pub client_secret_vault: Option<SecretRef>,
}

/// The connect timeout for a whole-request `timeout`: the same, at most 10 s.
pub fn connect_timeout_for(timeout: Duration) -> Duration {
    timeout.min(Duration::from_secs(10))
}

/// Every resolved setting: local ones, and the remote ones when complete and valid.
#[derive(Debug, Clone)]
pub struct Settings {
    pub local: LocalSettings,
    /// `Err` lists what is missing or wrong for network commands.
    pub remote: Result<RemoteSettings, ConfigError>,
    /// What `verify` needs of SIMS ID: the STS (its URL, timeouts, client authentication,
    /// `verify_scopes`), with no integrator identity (docs/reference/cli.md: never the integrator's
    /// secret, which a support laptop does not have).
    pub verify: SimsSettings,
    /// The application id as configured (for display), even when other settings are missing.
    pub application_id: Option<String>,
    /// Non-fatal problems (e.g. a secret file readable by others).
    pub warnings: Vec<String>,
    /// Where the schools' secrets live and where the sites come from, decided once here.
    /// Only the keeper ([`crate::ops::Keeper`]) reads it.
    pub role: Role,
}

/// A profile's role (docs/reference/vault.md "Team mode"): where the schools' secrets live and where the
/// sites come from. Decided once when the settings are resolved; only the keeper reads it.
#[derive(Debug, Clone)]
pub enum Role {
    /// `secrets = "local"`: harvests SIMS ID and seals the secrets in the store. The vault,
    /// when an address is configured, serves the integrator's secret
    /// (`client_secret_vault`) and the `vault` commands.
    Local(Option<VaultSettings>),
    /// `secrets = "vault"`: harvests SIMS ID; the vault is the system of record (the store
    /// keeps metadata) and each committed run publishes the team's view.
    VaultHost(VaultSettings),
    /// `source = "vault"`: a viewer of the team's view. The store is a cache of the view the
    /// harvest host published (`pull`); secrets are read from the vault with the person's
    /// identity; no harvest.
    Viewer(VaultSettings),
}

impl Default for Role {
    fn default() -> Self {
        Role::Local(None)
    }
}

/// One or more configuration problems, reported together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_problems(.problems))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

fn render_problems(problems: &[String]) -> String {
    match problems {
        [one] => format!("configuration error: {one}"),
        many => {
            let mut s = format!("{} configuration errors:", many.len());
            for p in many {
                s.push_str("\n  - ");
                s.push_str(p);
            }
            s
        }
    }
}

/// Platform directories (`directories::ProjectDirs` for `simsid`), overridable for tests.
#[derive(Debug, Clone)]
pub struct Dirs {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    pub state_dir: PathBuf,
}

impl Dirs {
    /// The platform's directories for `simsid`, or `./.simsid` when there is no home.
    pub fn platform() -> Self {
        match crate::platform::app_dirs() {
            Some(d) => Dirs {
                config_dir: d.config,
                data_dir: d.data,
                state_dir: d.state,
            },
            None => {
                let base = PathBuf::from(".simsid");
                Dirs {
                    config_dir: base.clone(),
                    data_dir: base.clone(),
                    state_dir: base,
                }
            }
        }
    }
}
