//! Resolution: built-in defaults → config file profile → environment → flags, validated in
//! one pass before any network call. Every problem is reported at once (exit code 2).

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use super::env::{empty_vars, is_var_name, var_label, Env, NonEmpty};
use super::file::{choose_profile, is_profile_name, read_config_file, ConfigFile, ProfileFile};
use super::secret_file::{loose_file_warning, read_secret_file, Trim};
use super::settings::{
    connect_timeout_for, ConfigError, Dirs, Flags, LocalSettings, RemoteSettings, Role, Settings,
    DEFAULT_ACR_VALUES, DEFAULT_API_BASE, DEFAULT_CONCURRENCY, DEFAULT_SCOPES, DEFAULT_STS_URL,
    DEFAULT_TIMEOUT_SECS, MAX_CONCURRENCY,
};
use super::vault as vault_settings;
use crate::domain::{AppId, GuidError, OrgId};
use crate::sims::SimsSettings;
use crate::store::KeyLocation;
use crate::vault::VaultSettings;

/// The message for a malformed GUID setting: an integer id gets the App Management
/// explanation.
fn guid_problem(what: &str, key: &str, env: &str, err: &GuidError) -> String {
    match (what, err) {
        ("application id", GuidError::Integer(v)) => format!(
            "application id `{v}` is an integer; SIMS ID shows integer application ids in other \
             places, but this API needs the application GUID from SIMS ID's App Management page \
             (set {env} or `{key}`)"
        ),
        ("application id", GuidError::NotGuid(v)) => format!(
            "application id `{v}` is not a GUID; use the application GUID from SIMS ID's App \
             Management page, not an integer id (set {env} or `{key}`)"
        ),
        (_, GuidError::Integer(v)) | (_, GuidError::NotGuid(v)) => format!(
            "{what} `{v}` is not a GUID; SIMS ID shows integer ids in other places, but this \
             needs the organisation GUID (e.g. 207A1392-E1F6-47BA-81DA-6C374971D788) from SIMS ID's \
             App Management page (set {env} or `{key}`)"
        ),
    }
}

/// Resolves every setting. `Err` only for problems that stop every command (an unreadable or
/// invalid config file, an unknown profile, a plaintext secret, a malformed value).
pub fn resolve(flags: &Flags, env: &dyn Env, dirs: &Dirs) -> Result<Settings, ConfigError> {
    let mut problems = empty_vars(env);
    let non_empty = NonEmpty(env);
    let (config_path, file, profile) = file_and_profile(flags, &non_empty, dirs, &mut problems);
    let profile = profile.map_err(|bad| ConfigError {
        problems: vec![bad],
    })?;
    let profiles: Vec<String> = file.profile.keys().cloned().collect();
    let mut layers = Layers {
        flags,
        env: non_empty,
        raw_env: env,
        file: choose_profile(&file, &profile, &mut problems),
        table: format!("[profile.{profile}]"),
        problems,
        missing: Vec::new(),
        warnings: Vec::new(),
    };
    layers.refuse_plaintext_secret();
    let mut local = layers.local(profile, config_path, profiles, dirs);
    local.store_key_in = layers.store_key_in(local.store_key.is_some());
    local.max_age = layers.max_age();

    // Remote settings: every value is validated when present.
    let application_raw = layers.application_raw();
    let application_id = layers.guid(
        application_raw.clone(),
        AppId::parse,
        ("application id", "application_id", "SIMSID_APPLICATION_ID"),
    );
    let organisation_id = layers.guid(
        pick(
            None,
            layers.var("SIMSID_ORGANISATION_ID"),
            layers.file.organisation_id.clone(),
        ),
        OrgId::parse,
        (
            "organisation id",
            "organisation_id",
            "SIMSID_ORGANISATION_ID",
        ),
    );
    let client_id = pick(
        None,
        layers.var("SIMSID_CLIENT_ID"),
        layers.file.client_id.clone(),
    );
    if client_id.is_none() {
        let table = &layers.table;
        layers.missing.push(format!(
            "client id: set SIMSID_CLIENT_ID or `client_id` in {table}"
        ));
    }
    let vault = vault_settings::resolve(
        &layers.file.vault(),
        &layers.env,
        application_id.as_ref().map(AppId::as_str),
        &layers.table,
        &mut layers.problems,
    );
    layers.warnings.extend(vault.warnings.iter().cloned());
    let client_secret = layers.client_secret(vault.client_secret_vault.is_some());
    let apim_key = layers.apim_key();
    let sts_url = layers.endpoint(Endpoint::Sts);
    let api_base = layers.endpoint(Endpoint::Api);
    let client_auth = layers.client_auth();
    let verify_scopes = layers.file.verify_scopes.clone().unwrap_or_default();
    let viewer = layers.viewer(vault.settings.is_some());
    let scopes = layers.string("SIMSID_SCOPES", &layers.file.scopes, DEFAULT_SCOPES);
    let acr_values = pick(None, None, layers.file.acr_values.clone())
        .unwrap_or_else(|| DEFAULT_ACR_VALUES.to_string());
    let concurrency = layers.concurrency();
    let timeout = layers.timeout();

    let Layers {
        problems,
        missing,
        warnings,
        ..
    } = layers;
    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }
    // The SIMS ID settings but for the integrator's identity (a viewer has none).
    let sims = |application_id, organisation_id, client_id, client_secret| SimsSettings {
        application_id,
        client_id,
        organisation_id,
        client_secret,
        sts_url: sts_url.clone(),
        api_base: api_base.clone(),
        scopes: scopes.clone(),
        acr_values: acr_values.clone(),
        apim_key: apim_key.clone(),
        timeout,
        connect_timeout: connect_timeout_for(timeout),
        client_auth,
        verify_scopes: verify_scopes.clone(),
    };
    // `verify` needs the STS alone: each school's own credential, never the integrator's
    // (a support laptop has none). The integrator's fields are empty and never sent.
    let verify = match (
        OrgId::parse(NO_INTEGRATOR_ORG),
        application_id
            .clone()
            .map_or_else(|| AppId::parse(NO_INTEGRATOR_ORG), Ok),
    ) {
        (Ok(org), Ok(app)) => sims(app, org, String::new(), SecretString::from(String::new())),
        (Err(e), _) | (_, Err(e)) => {
            return Err(ConfigError {
                problems: vec![e.to_string()],
            })
        }
    };
    let remote = match (application_id, organisation_id, client_id, client_secret) {
        // A viewer has no integrator (docs/reference/vault.md "Viewing"): of SIMS ID it needs the STS
        // alone, for `verify` with each school's own credential. The integrator's fields
        // are empty and never used: the keeper refuses a viewer's harvest.
        (Some(application_id), _, _, _) if viewer => match OrgId::parse(NO_INTEGRATOR_ORG) {
            Ok(organisation_id) => Ok(RemoteSettings {
                sims: sims(
                    application_id,
                    organisation_id,
                    String::new(),
                    SecretString::from(String::new()),
                ),
                concurrency,
                client_secret_vault: None,
            }),
            Err(e) => Err(ConfigError {
                problems: vec![e.to_string()],
            }),
        },
        (Some(application_id), Some(organisation_id), Some(client_id), Some(client_secret))
            if missing.is_empty() =>
        {
            Ok(RemoteSettings {
                sims: sims(application_id, organisation_id, client_id, client_secret),
                concurrency,
                client_secret_vault: vault.client_secret_vault.clone(),
            })
        }
        _ => Err(ConfigError {
            problems: missing
                .into_iter()
                .map(|m| format!("missing {m}"))
                .collect(),
        }),
    };
    Ok(Settings {
        local,
        remote,
        verify,
        application_id: application_raw,
        warnings,
        role: role_of(viewer, vault.secrets_in_vault, vault.settings),
    })
}

/// The profile's one role. A viewer reads every secret from the vault (docs/reference/vault.md "Viewing");
/// a viewer or vault mode without a vault was refused above, as a problem.
fn role_of(viewer: bool, secrets_in_vault: bool, vault: Option<VaultSettings>) -> Role {
    match (viewer, secrets_in_vault, vault) {
        (true, _, Some(v)) => Role::Viewer(v),
        (false, true, Some(v)) => Role::VaultHost(v),
        (_, _, v) => Role::Local(v),
    }
}

/// What `simsid vault policy` needs of the settings, and nothing more: the mount, the
/// prefix and the integrator's secret in the vault. It only prints text, so neither a
/// vault login nor a secret id nor the SIMS ID settings are needed (docs/reference/vault.md).
#[derive(Debug, Clone)]
pub struct PolicyScope {
    pub mount: String,
    pub prefix: String,
    /// `client_secret_vault`, when the profile sets it.
    pub integrator: Option<crate::vault::SecretRef>,
    /// What could not be known (a malformed `client_secret_vault`), for stderr.
    pub notes: Vec<String>,
}

/// Resolves only what [`PolicyScope`] holds; a malformed mount or prefix, or a prefix that
/// needs an application id that is missing or malformed, is an error (exit 2).
pub fn resolve_policy_scope(
    flags: &Flags,
    env: &dyn Env,
    dirs: &Dirs,
) -> Result<PolicyScope, ConfigError> {
    let mut problems = Vec::new();
    let non_empty = NonEmpty(env);
    let (_, file, profile) = file_and_profile(flags, &non_empty, dirs, &mut problems);
    let profile = match profile {
        Ok(p) => p,
        Err(bad) => {
            problems.push(bad);
            return Err(ConfigError { problems });
        }
    };
    let table = format!("[profile.{profile}]");
    let chosen_profile = choose_profile(&file, &profile, &mut problems);
    let raw_app = match &chosen_profile.application_id {
        None => None,
        Some(toml::Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    let app = pick(None, non_empty.var("SIMSID_APPLICATION_ID"), raw_app);
    let application_id = app.as_deref().and_then(|raw| match AppId::parse(raw) {
        Ok(a) => Some(a),
        Err(e) => {
            problems.push(guid_problem(
                "application id",
                "application_id",
                "SIMSID_APPLICATION_ID",
                &e,
            ));
            None
        }
    });
    let vault = chosen_profile.vault();
    let mut notes = Vec::new();
    let integrator = vault_settings::integrator_secret_ref(&vault, &non_empty, &mut notes);
    let notes = notes
        .into_iter()
        .map(|e| {
            format!(
                "{e}: the harvester's policy below grants no read on the integrator's secret \
                 (fix `client_secret_vault` in {table} and print it again)"
            )
        })
        .collect();
    let (mount, prefix) = vault_settings::mount_and_prefix(
        &vault,
        &non_empty,
        application_id.as_ref().map(AppId::as_str),
        &mut problems,
    );
    if prefix.contains("{application_id}") && problems.is_empty() {
        problems.push(format!(
            "vault_prefix `{prefix}` names the application: set SIMSID_APPLICATION_ID or \
             `application_id` in {table}"
        ));
    }
    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }
    Ok(PolicyScope {
        mount,
        prefix,
        integrator,
        notes,
    })
}

/// The config file (`--config`, else `$SIMSID_CONFIG`, else the default path) and the
/// profile named (`--profile`, else `$SIMSID_PROFILE`, else `default`), or why that name is
/// not valid.
fn file_and_profile(
    flags: &Flags,
    env: &NonEmpty<'_>,
    dirs: &Dirs,
    problems: &mut Vec<String>,
) -> (Option<PathBuf>, ConfigFile, Result<String, String>) {
    let chosen = pick(
        flags.config.clone(),
        env.var("SIMSID_CONFIG").map(PathBuf::from),
        None,
    );
    let (path, file) = read_config_file(chosen, dirs, problems);
    let profile = flags
        .profile
        .clone()
        .or_else(|| env.var("SIMSID_PROFILE"))
        .unwrap_or_else(|| "default".to_string());
    let profile = if is_profile_name(&profile) {
        Ok(profile)
    } else {
        Err("the profile name is not valid: use letters, digits, `-` and `_` (at most 64)".into())
    };
    (path, file, profile)
}

/// The integrator's organisation of a viewer's SIMS settings: none (the nil GUID, never
/// sent: a viewer only verifies schools' own credentials).
const NO_INTEGRATOR_ORG: &str = "00000000-0000-0000-0000-000000000000";

/// The one precedence rule: the flag, else the environment variable, else the profile's
/// key (the built-in default, when there is one, comes after all three).
fn pick<T>(flag: Option<T>, env: Option<T>, file: Option<T>) -> Option<T> {
    flag.or(env).or(file)
}

/// The two endpoints, each with its variable, key and default.
enum Endpoint {
    Sts,
    Api,
}

/// The layers a setting comes from (see [`pick`]), and what resolving them found.
struct Layers<'a> {
    flags: &'a Flags,
    /// Empty values read as unset: they were reported once, up front.
    env: NonEmpty<'a>,
    /// The environment as set, for the variables a profile names (`client_secret_env`).
    raw_env: &'a dyn Env,
    /// The profile's table.
    file: ProfileFile,
    /// `[profile.NAME]`, for messages.
    table: String,
    /// Wrong values: every command stops (exit 2).
    problems: Vec<String>,
    /// Absent values: only the network commands stop.
    missing: Vec<String>,
    warnings: Vec<String>,
}

impl Layers<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.env.var(name)
    }

    /// A string setting with no flag: the variable, else the key, else `default`.
    fn string(&self, var: &str, key: &Option<String>, default: &str) -> String {
        pick(None, self.var(var), key.clone()).unwrap_or_else(|| default.to_string())
    }

    fn refuse_plaintext_secret(&mut self) {
        if self.file.client_secret.is_some() {
            let table = &self.table;
            self.problems.push(format!(
                "`client_secret` in {table} of the config file is refused: a plaintext secret in a file \
                 leaks; use `client_secret_env = \"SIMSID_CLIENT_SECRET\"` (the name of an environment \
                 variable) or `client_secret_file = \"/run/secrets/simsid\"` (a file with mode 0600)"
            ));
        }
    }

    fn local(
        &self,
        profile: String,
        config_path: Option<PathBuf>,
        profiles: Vec<String>,
        dirs: &Dirs,
    ) -> LocalSettings {
        let store_path = pick(
            self.flags.store.clone(),
            self.var("SIMSID_STORE").map(PathBuf::from),
            self.file.store.clone(),
        )
        .unwrap_or_else(|| {
            if profile == "default" {
                dirs.data_dir.join("store.sqlite3")
            } else {
                dirs.data_dir.join(format!("store-{profile}.sqlite3"))
            }
        });
        let log_path = pick(
            self.flags.log_file.clone(),
            self.var("SIMSID_LOG").map(PathBuf::from),
            self.file.log_file.clone(),
        )
        .unwrap_or_else(|| dirs.state_dir.join("simsid.log"));
        // Read-only is sticky: any layer that turns it on wins.
        let readonly = self.flags.readonly
            || self
                .var("SIMSID_READONLY")
                .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"))
            || self.file.readonly.unwrap_or(false);
        LocalSettings {
            profile,
            config_path,
            store_path,
            store_key: self.var("SIMSID_STORE_KEY").map(SecretString::from),
            store_key_in: None,
            log_path,
            readonly,
            profiles,
            metrics_file: pick(
                None,
                self.var("SIMSID_METRICS").map(PathBuf::from),
                self.file.metrics_file.clone(),
            ),
            max_age: None,
        }
    }

    /// `max_age` (`status`): a duration such as `26h`; `0` turns the age check off.
    fn max_age(&mut self) -> Option<Duration> {
        let raw = self.file.max_age.clone()?;
        match crate::words::parse_duration(&raw) {
            Ok(d) => Some(d),
            Err(e) => {
                let table = &self.table;
                self.problems.push(format!(
                    "max_age in {table}: {}",
                    crate::sanitize::for_terminal(&e)
                ));
                None
            }
        }
    }

    /// The application id as given; an integer (or anything else) in the file is explained
    /// like one in the environment.
    fn application_raw(&self) -> Option<String> {
        let file = match &self.file.application_id {
            None => None,
            Some(toml::Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        pick(None, self.var("SIMSID_APPLICATION_ID"), file)
    }

    /// A GUID setting: a problem when malformed, missing when absent.
    fn guid<T>(
        &mut self,
        raw: Option<String>,
        parse: fn(&str) -> Result<T, GuidError>,
        (what, key, var): (&str, &str, &str),
    ) -> Option<T> {
        let Some(v) = raw else {
            let table = &self.table;
            self.missing
                .push(format!("{what}: set {var} or `{key}` in {table}"));
            return None;
        };
        match parse(&v) {
            Ok(id) => Some(id),
            Err(e) => {
                self.problems.push(guid_problem(what, key, var, &e));
                None
            }
        }
    }

    /// The integrator's secret: empty until read when the vault holds it, else
    /// `$SIMSID_CLIENT_SECRET`, else the variable `client_secret_env` names, else the file
    /// `client_secret_file` names.
    fn client_secret(&mut self, in_vault: bool) -> Option<SecretString> {
        let table = self.table.clone();
        if in_vault {
            return Some(SecretString::from(String::new()));
        }
        if let Some(s) = self.var("SIMSID_CLIENT_SECRET") {
            return Some(SecretString::from(s));
        }
        if let Some(var) = self.file.client_secret_env.clone() {
            let label = var_label("client_secret_env", &var);
            if !is_var_name(&var) {
                self.problems.push(format!("{label} in {table}"));
                return None;
            }
            return match self.raw_env.var(&var) {
                Some(s) if !s.is_empty() => Some(SecretString::from(s)),
                Some(_) => {
                    self.problems
                        .push(format!("client secret: {label} in {table}, which is empty"));
                    None
                }
                None => {
                    self.missing.push(format!(
                        "client secret: {label} in {table}, which is not set"
                    ));
                    None
                }
            };
        }
        if let Some(path) = self.file.client_secret_file.clone() {
            return match read_secret_file(&path, "client_secret_file", Trim::LineEnd) {
                Ok(s) => {
                    let shown = format!("client_secret_file {}", path.display());
                    let fix = crate::platform::make_private_command(Some(&path));
                    self.warnings
                        .extend(loose_file_warning(&path, &shown, &fix));
                    Some(s)
                }
                Err(e) => {
                    self.problems.push(e);
                    None
                }
            };
        }
        self.missing.push(format!(
            "client secret: set SIMSID_CLIENT_SECRET, or `client_secret_env` or `client_secret_file` in {table}"
        ));
        None
    }

    /// The APIM key: the variable `apim_key_env` names, else `$SIMSID_APIM_KEY`.
    fn apim_key(&mut self) -> Option<SecretString> {
        match self.file.apim_key_env.clone() {
            Some(var) if !is_var_name(&var) => {
                let table = &self.table;
                self.problems
                    .push(format!("{} in {table}", var_label("apim_key_env", &var)));
                None
            }
            Some(var) => self.var(&var).map(SecretString::from),
            None => self.var("SIMSID_APIM_KEY").map(SecretString::from),
        }
    }

    /// An endpoint URL, checked (https, or http on loopback; no user info).
    fn endpoint(&mut self, which: Endpoint) -> String {
        let (var, key, default, name, keys) = match which {
            Endpoint::Sts => (
                "SIMSID_STS_URL",
                &self.file.sts_url,
                DEFAULT_STS_URL,
                "STS URL",
                "SIMSID_STS_URL / sts_url",
            ),
            Endpoint::Api => (
                "SIMSID_API_BASE",
                &self.file.api_base,
                DEFAULT_API_BASE,
                "API base",
                "SIMSID_API_BASE / api_base",
            ),
        };
        let url = self.string(var, key, default);
        if let Err(why) = crate::sims::check_endpoint(&url, name) {
            self.problems.push(format!("{why} ({keys})"));
        }
        url
    }

    /// How the secret is sent to the STS (`post` or `basic`).
    fn client_auth(&mut self) -> crate::sims::ClientAuth {
        let given = pick(
            None,
            self.var("SIMSID_STS_CLIENT_AUTH"),
            self.file.sts_client_auth.clone(),
        );
        let Some(v) = given else {
            return crate::sims::ClientAuth::default();
        };
        crate::sims::ClientAuth::parse(&v).unwrap_or_else(|| {
            let table = &self.table;
            self.problems.push(format!(
                "sts_client_auth `{}` in {table} is not `post` or `basic`",
                crate::sanitize::bounded(&v, 32)
            ));
            crate::sims::ClientAuth::default()
        })
    }

    /// `store_key`: where a new store's key goes. `SIMSID_STORE_KEY` set implies `env`;
    /// `"env"` without it is a problem; `None` (not set): the keychain where one answers,
    /// else a file.
    fn store_key_in(&mut self, key_given: bool) -> Option<KeyLocation> {
        let table = self.table.clone();
        let chosen = match self.file.store_key.as_deref() {
            None => None,
            Some(word) => match KeyLocation::parse(word) {
                Some(location) => Some(location),
                None => {
                    self.problems.push(format!(
                        "store_key `{}` in {table} is not \"keychain\", \"file\" or \"env\"",
                        crate::sanitize::bounded(word, 32)
                    ));
                    None
                }
            },
        };
        if key_given {
            return Some(KeyLocation::Env);
        }
        if chosen == Some(KeyLocation::Env) {
            self.problems.push(format!(
                "store_key = \"env\" in {table} needs the store key in SIMSID_STORE_KEY (32 \
                 bytes, base64), which is not set"
            ));
        }
        chosen
    }

    /// `source` (`$SIMSID_SOURCE`): `sims` (default) or `vault` (a viewer: `true`); a
    /// viewer needs a vault.
    fn viewer(&mut self, has_vault: bool) -> bool {
        let table = self.table.clone();
        match pick(None, self.var("SIMSID_SOURCE"), self.file.source.clone()).as_deref() {
            None | Some("sims") => false,
            Some("vault") => {
                if !has_vault {
                    self.problems.push(format!(
                        "source \"vault\" (a viewer of the team's view) needs the vault: set \
                         VAULT_ADDR (or SIMSID_VAULT_ADDR) or `vault_addr` in {table}"
                    ));
                }
                true
            }
            Some(other) => {
                self.problems.push(format!(
                    "source `{}` is neither \"sims\" nor \"vault\" (SIMSID_SOURCE / `source` in {table})",
                    crate::sanitize::bounded(other, 32)
                ));
                false
            }
        }
    }

    /// Requests in flight at most, 1 to [`MAX_CONCURRENCY`]. A malformed variable is
    /// reported; the file's value does not stand in for it.
    fn concurrency(&mut self) -> usize {
        let given = match (self.flags.concurrency, self.var("SIMSID_CONCURRENCY")) {
            (Some(n), _) => Some(n as i64),
            (None, Some(v)) => v.trim().parse::<i64>().map_or_else(
                |_| {
                    self.problems.push(format!(
                        "SIMSID_CONCURRENCY `{v}` is not a whole number (1 to {MAX_CONCURRENCY})"
                    ));
                    None
                },
                Some,
            ),
            (None, None) => self.file.concurrency,
        };
        let n = given.unwrap_or(DEFAULT_CONCURRENCY as i64);
        if !(1..=MAX_CONCURRENCY as i64).contains(&n) {
            self.problems.push(format!(
                "concurrency {n} is out of range: use 1 to {MAX_CONCURRENCY}"
            ));
            return DEFAULT_CONCURRENCY;
        }
        n as usize
    }

    /// The whole-request timeout, 1 to 600 s.
    fn timeout(&mut self) -> Duration {
        let secs = self
            .file
            .timeout_secs
            .unwrap_or(DEFAULT_TIMEOUT_SECS as i64);
        if !(1..=600).contains(&secs) {
            let table = &self.table;
            self.problems.push(format!(
                "timeout_secs {secs} in {table} is out of range: use 1 to 600"
            ));
            return Duration::from_secs(DEFAULT_TIMEOUT_SECS);
        }
        Duration::from_secs(secs as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::BTreeMap;
    use std::path::Path;

    const APP: &str = "11111111-2222-3333-4444-555555555555";
    const ORG: &str = "207A1392-E1F6-47BA-81DA-6C374971D788";

    fn dirs(tmp: &Path) -> Dirs {
        Dirs {
            config_dir: tmp.join("cfg"),
            data_dir: tmp.join("data"),
            state_dir: tmp.join("state"),
        }
    }

    fn full_env() -> BTreeMap<String, String> {
        [
            ("SIMSID_APPLICATION_ID", APP),
            ("SIMSID_CLIENT_ID", "sas-test"),
            ("SIMSID_ORGANISATION_ID", ORG),
            ("SIMSID_CLIENT_SECRET", "integrator-secret-xyz"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn environment_alone_is_enough() {
        let tmp = tempfile::tempdir().unwrap();
        let s = resolve(&Flags::default(), &full_env(), &dirs(tmp.path())).unwrap();
        let r = s.remote.unwrap();
        assert_eq!(r.sims.application_id.as_str(), APP);
        assert_eq!(
            r.sims.client_secret.expose_secret(),
            "integrator-secret-xyz"
        );
        assert_eq!(r.sims.sts_url, DEFAULT_STS_URL);
        assert_eq!(r.concurrency, DEFAULT_CONCURRENCY);
        assert_eq!(
            s.local.store_path,
            tmp.path().join("data").join("store.sqlite3")
        );
        assert_eq!(
            s.local.log_path,
            tmp.path().join("state").join("simsid.log")
        );
    }

    #[test]
    fn precedence_defaults_file_env_flags() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = tmp.path().join("c.toml");
        std::fs::write(
            &cfg,
            format!(
                "[profile.default]\napplication_id = \"{APP}\"\nclient_id = \"from-file\"\n\
                 organisation_id = \"{ORG}\"\nclient_secret_env = \"MY_SECRET\"\n\
                 concurrency = 4\nsts_url = \"http://127.0.0.1:1/token\"\nstore = \"/tmp/file-store\"\n"
            ),
        )
        .unwrap();
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        env.insert("MY_SECRET".into(), "s3cr3t-from-env-var".into());
        env.insert("SIMSID_CONCURRENCY".into(), "8".into());
        env.insert("SIMSID_STORE".into(), "/tmp/env-store".into());
        let flags = Flags {
            config: Some(cfg.clone()),
            ..Flags::default()
        };
        let s = resolve(&flags, &env, &dirs(tmp.path())).unwrap();
        let r = s.remote.as_ref().unwrap();
        assert_eq!(r.sims.client_id, "from-file");
        assert_eq!(r.sims.client_secret.expose_secret(), "s3cr3t-from-env-var");
        assert_eq!(r.concurrency, 8, "env beats file");
        assert_eq!(
            r.sims.sts_url, "http://127.0.0.1:1/token",
            "file beats default"
        );
        assert_eq!(r.sims.scopes, DEFAULT_SCOPES);
        assert_eq!(s.local.store_path, PathBuf::from("/tmp/env-store"));

        env.insert("SIMSID_CLIENT_ID".into(), "from-env".into());
        let flags = Flags {
            config: Some(cfg),
            concurrency: Some(2),
            store: Some("/tmp/flag-store".into()),
            ..Flags::default()
        };
        let s = resolve(&flags, &env, &dirs(tmp.path())).unwrap();
        let r = s.remote.as_ref().unwrap();
        assert_eq!(r.sims.client_id, "from-env", "env beats file");
        assert_eq!(r.concurrency, 2, "flag beats env");
        assert_eq!(s.local.store_path, PathBuf::from("/tmp/flag-store"));
    }

    #[test]
    fn the_metrics_file_comes_from_the_profile_or_the_environment() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = tmp.path().join("c.toml");
        std::fs::write(
            &cfg,
            format!(
                "[profile.default]\napplication_id = \"{APP}\"\nclient_id = \"c\"\n\
                 organisation_id = \"{ORG}\"\nclient_secret_env = \"MY_SECRET\"\n\
                 metrics_file = \"/srv/prom/simsid.prom\"\n"
            ),
        )
        .unwrap();
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        env.insert("MY_SECRET".into(), "x".into());
        let flags = Flags {
            config: Some(cfg),
            ..Flags::default()
        };
        let s = resolve(&flags, &env, &dirs(tmp.path())).unwrap();
        assert_eq!(
            s.local.metrics_file,
            Some(PathBuf::from("/srv/prom/simsid.prom"))
        );
        env.insert("SIMSID_METRICS".into(), "/tmp/env.prom".into());
        let s = resolve(&flags, &env, &dirs(tmp.path())).unwrap();
        assert_eq!(s.local.metrics_file, Some(PathBuf::from("/tmp/env.prom")));
    }

    #[test]
    fn vault_keys_of_a_profile_are_read_and_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = tmp.path().join("c.toml");
        std::fs::write(
            &cfg,
            "[profile.default]\nsecrets = \"vault\"\n\
             vault_addr = [\"http://127.0.0.1:8200\", \"http://127.0.0.1:8202\"]\n\
             vault_mount = \"kv\"\nvault_on_remove = \"soft\"\n",
        )
        .unwrap();
        let flags = Flags {
            config: Some(cfg.clone()),
            ..Flags::default()
        };
        let s = resolve(&flags, &full_env(), &dirs(tmp.path())).unwrap();
        let Role::VaultHost(v) = s.role else {
            panic!("vault mode resolves to a vault host: {:?}", s.role);
        };
        assert_eq!(v.addrs.len(), 2);
        assert_eq!(v.mount, "kv");
        assert_eq!(v.prefix, format!("simsid/{APP}"));
        assert_eq!(v.on_remove, crate::vault::OnRemove::Soft);

        std::fs::write(&cfg, "[profile.default]\nvault_on_remove = \"shred\"\n").unwrap();
        let err = resolve(&flags, &full_env(), &dirs(tmp.path())).unwrap_err();
        assert!(err.to_string().contains("vault_on_remove"), "{err}");
    }

    #[test]
    fn integer_application_id_is_explained() {
        let tmp = tempfile::tempdir().unwrap();
        let mut env = full_env();
        env.insert("SIMSID_APPLICATION_ID".into(), "12345".into());
        env.insert("SIMSID_ORGANISATION_ID".into(), "678".into());
        let err = resolve(&Flags::default(), &env, &dirs(tmp.path())).unwrap_err();
        let text = err.to_string();
        assert_eq!(err.problems.len(), 2, "{text}");
        assert!(text.contains("`12345` is an integer"), "{text}");
        assert!(text.contains("App Management"), "{text}");
        assert!(text.contains("integer application ids in other"), "{text}");
        assert!(
            text.contains("organisation id `678` is not a GUID"),
            "{text}"
        );
    }

    #[test]
    fn plaintext_secret_in_file_is_refused_naming_alternatives() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = tmp.path().join("c.toml");
        std::fs::write(
            &cfg,
            "[profile.default]\nclient_secret = \"plain-text-secret-123\"\n",
        )
        .unwrap();
        let flags = Flags {
            config: Some(cfg),
            ..Flags::default()
        };
        let err = resolve(&flags, &BTreeMap::new(), &dirs(tmp.path())).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("client_secret_env"), "{text}");
        assert!(text.contains("client_secret_file"), "{text}");
        assert!(!text.contains("plain-text-secret-123"), "{text}");
    }

    #[test]
    fn missing_settings_are_each_named_with_env_and_key() {
        let tmp = tempfile::tempdir().unwrap();
        let s = resolve(&Flags::default(), &BTreeMap::new(), &dirs(tmp.path())).unwrap();
        let err = s.remote.unwrap_err();
        let text = err.to_string();
        assert_eq!(err.problems.len(), 4, "{text}");
        for needle in [
            "SIMSID_APPLICATION_ID",
            "`application_id`",
            "SIMSID_CLIENT_ID",
            "`client_id`",
            "SIMSID_ORGANISATION_ID",
            "`organisation_id`",
            "SIMSID_CLIENT_SECRET",
            "`client_secret_file`",
        ] {
            assert!(text.contains(needle), "{needle} missing in {text}");
        }
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "Wine keeps no DACL set on a file; on Windows run \
                  `cargo test --target x86_64-pc-windows-gnu --lib -- --ignored`"
    )]
    fn secret_file_readable_by_others_warns() {
        let tmp = tempfile::tempdir().unwrap();
        let secret = tmp.path().join("secret");
        std::fs::write(&secret, "file-secret-value\n").unwrap();
        crate::platform::open_to_others(&secret);
        let cfg = tmp.path().join("c.toml");
        std::fs::write(
            &cfg,
            format!(
                "[profile.default]\napplication_id = \"{APP}\"\nclient_id = \"c\"\n\
                 organisation_id = \"{ORG}\"\nclient_secret_file = '{}'\n",
                secret.display()
            ),
        )
        .unwrap();
        let flags = Flags {
            config: Some(cfg),
            ..Flags::default()
        };
        let s = resolve(&flags, &BTreeMap::new(), &dirs(tmp.path())).unwrap();
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert!(s.warnings[0].contains("readable by group or others"));
        let r = s.remote.unwrap();
        assert_eq!(r.sims.client_secret.expose_secret(), "file-secret-value");

        crate::platform::set_sharing(&secret, crate::platform::Sharing::Private).unwrap();
        let flags = Flags {
            config: Some(tmp.path().join("c.toml")),
            ..Flags::default()
        };
        let s = resolve(&flags, &BTreeMap::new(), &dirs(tmp.path())).unwrap();
        assert!(s.warnings.is_empty());
    }

    #[test]
    fn unknown_profile_and_bad_toml_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = tmp.path().join("c.toml");
        std::fs::write(&cfg, "[profile.a]\nclient_id = \"x\"\n").unwrap();
        let flags = Flags {
            config: Some(cfg.clone()),
            profile: Some("b".into()),
            ..Flags::default()
        };
        let err = resolve(&flags, &BTreeMap::new(), &dirs(tmp.path())).unwrap_err();
        assert!(err.to_string().contains("profile `b`"), "{err}");
        assert!(err.to_string().contains("profiles: a"), "{err}");

        std::fs::write(&cfg, "[profile.default]\nclient_idd = \"x\"\n").unwrap();
        let flags = Flags {
            config: Some(cfg),
            ..Flags::default()
        };
        let err = resolve(&flags, &BTreeMap::new(), &dirs(tmp.path())).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");

        let flags = Flags {
            config: Some(tmp.path().join("nope.toml")),
            ..Flags::default()
        };
        let err = resolve(&flags, &BTreeMap::new(), &dirs(tmp.path())).unwrap_err();
        assert!(err.to_string().contains("cannot read config file"), "{err}");
    }

    #[test]
    fn profiles_get_their_own_store_and_bad_concurrency_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = tmp.path().join("c.toml");
        std::fs::write(&cfg, "[profile.other]\nconcurrency = 0\n").unwrap();
        let flags = Flags {
            config: Some(cfg),
            profile: Some("other".into()),
            ..Flags::default()
        };
        let err = resolve(&flags, &full_env(), &dirs(tmp.path())).unwrap_err();
        assert!(err.to_string().contains("concurrency 0"), "{err}");

        let mut env = full_env();
        env.insert("SIMSID_PROFILE".into(), "other".into());
        env.insert("SIMSID_CONCURRENCY".into(), "3".into());
        let cfg = tmp.path().join("c2.toml");
        std::fs::write(&cfg, "[profile.other]\n").unwrap();
        let flags = Flags {
            config: Some(cfg),
            ..Flags::default()
        };
        let s = resolve(&flags, &env, &dirs(tmp.path())).unwrap();
        assert_eq!(s.local.profile, "other");
        assert!(s.local.store_path.ends_with("store-other.sqlite3"));
    }

    #[test]
    fn empty_and_malformed_variables_are_problems_never_defaults() {
        let tmp = tempfile::tempdir().unwrap();
        let mut env = full_env();
        env.insert("SIMSID_STS_URL".into(), String::new());
        env.insert("SIMSID_CONCURRENCY".into(), "lots".into());
        let err = resolve(&Flags::default(), &env, &dirs(tmp.path())).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("SIMSID_STS_URL is set but empty"), "{text}");
        assert!(text.contains("SIMSID_CONCURRENCY `lots`"), "{text}");
        // A flag wins without the variable being read.
        env.remove("SIMSID_STS_URL");
        let flags = Flags {
            concurrency: Some(5),
            ..Flags::default()
        };
        let s = resolve(&flags, &env, &dirs(tmp.path())).unwrap();
        assert_eq!(s.remote.unwrap().concurrency, 5);
    }
}
