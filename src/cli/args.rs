//! The command line (clap): global flags and the commands of docs/reference/cli.md.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::filter::StatusFilter;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Flags;

/// simsid — harvest, cache, browse and audit SIMS ID partner credentials.
#[derive(Debug, Parser)]
#[command(name = "simsid", version, about, long_about = None, after_help = VAULT_SETTINGS_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags accepted before or after any command.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    #[arg(long, global = true, value_name = "PATH", help = crate::platform::help::CONFIG)]
    pub config: Option<PathBuf>,
    #[arg(long, global = true, value_name = "NAME", help = crate::platform::help::PROFILE)]
    pub profile: Option<String>,
    #[arg(long, global = true, value_name = "PATH", help = crate::platform::help::STORE)]
    pub store: Option<PathBuf>,
    #[arg(
        long = "log-file",
        global = true,
        value_name = "PATH",
        help = crate::platform::help::LOG_FILE
    )]
    pub log_file: Option<PathBuf>,
    /// More log detail (repeat for more); never secrets.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Browse only: reveal, copy, verify and harvest are turned off.
    #[arg(long, global = true)]
    pub readonly: bool,
}

impl GlobalArgs {
    /// The flags layer of the settings.
    pub fn flags(&self, concurrency: Option<usize>) -> Flags {
        Flags {
            config: self.config.clone(),
            profile: self.profile.clone(),
            store: self.store.clone(),
            log_file: self.log_file.clone(),
            readonly: self.readonly,
            concurrency,
        }
    }
}

/// `sites --status` takes the console's views by their labels; `all` is the default,
/// so it is not offered.
impl ValueEnum for StatusFilter {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            StatusFilter::Authorised,
            StatusFilter::Unauthorised,
            StatusFilter::Changed,
            StatusFilter::Stale,
        ]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.label()))
    }
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Json,
    Csv,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the console on the cached store (no network until asked).
    Tui,
    /// Start the built-in simulator with a throw-away store and open the console against it.
    Demo {
        /// Number of simulated schools.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        sites: u32,
        /// Dataset seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Full re-harvest into the store.
    Harvest {
        /// Print the run as one JSON document.
        #[arg(long)]
        json: bool,
        /// Clients requests in flight at most.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
        concurrency: Option<u32>,
        /// Take removals the guard holds (more than 10 % of the cached credentials at once).
        #[arg(long = "accept-removals")]
        accept_removals: bool,
        /// Refresh one school now (onboarding): ORG (organisation id, DfE code or DENI
        /// number) looked up in the fresh site list; only that site is committed.
        #[arg(long, value_name = "ORG", conflicts_with_all = ["accept_removals", "reconcile"])]
        site: Option<String>,
        /// Vault mode: also list the vault prefix and repair drift (missing or edited keys
        /// rewritten, keys matching no credential removed).
        #[arg(long)]
        reconcile: bool,
        /// After the run (failed and cancelled ones too), write Prometheus metrics to FILE
        /// for node_exporter's textfile collector (default: $SIMSID_METRICS, else the
        /// profile's `metrics_file`).
        #[arg(long, value_name = "FILE")]
        metrics: Option<PathBuf>,
    },
    /// Team mode viewer (`source = "vault"`): bring the view the harvest host published in
    /// the vault into the local store (no secret is written).
    Pull {
        /// Print `{"run_id", "published_at", "sites", "credentials", "changed"}`.
        #[arg(long)]
        json: bool,
        /// Take a view whose sequence is below the one already pulled (refused otherwise:
        /// an older view written again); recorded in the audit trail.
        #[arg(long)]
        accept_older: bool,
        /// Take a view that removes more than 10 % of the pulled credentials, and more
        /// than 5 (held otherwise, exit 3).
        #[arg(long)]
        accept_removals: bool,
        /// After the pull (a failed one too), write Prometheus metrics of the run the view
        /// shows to FILE (default: $SIMSID_METRICS, else the profile's `metrics_file`).
        #[arg(long, value_name = "FILE")]
        metrics: Option<PathBuf>,
    },
    /// List cached sites (no secrets).
    Sites {
        /// Print a JSON array, one object per site.
        #[arg(long)]
        json: bool,
        /// Plain text (name, DfE, DENI, organisation id), `!` inverts, `re:` regular expression.
        #[arg(long, value_name = "TEXT")]
        filter: Option<String>,
        /// Only sites in this state: authorised, unauthorised (installed, awaiting
        /// approval), changed (by the last harvest) or stale (their last fetch failed).
        #[arg(long, value_enum, value_name = "S")]
        status: Option<StatusFilter>,
    },
    /// One site and its credentials, masked unless --reveal (audited).
    Show {
        /// Organisation id (any case, braces optional), DfE code or DENI number.
        org: String,
        /// Print the site and its credentials as one JSON document.
        #[arg(long)]
        json: bool,
        /// Show the secrets (writes an audit record per credential).
        #[arg(long)]
        reveal: bool,
        /// Check each fingerprint against its key's custom metadata in the vault (one
        /// metadata read per credential, no secret); exit 1 when one differs or is missing.
        #[arg(long, conflicts_with = "reveal")]
        check_vault: bool,
    },
    /// Request a token from the STS with each of ORG's credentials (or, with --exposed or
    /// --all, every exposed or every cached credential).
    Verify {
        /// Organisation id (any case, braces optional), DfE code or DENI number.
        #[arg(required_unless_present_any = ["exposed", "all"], conflicts_with_all = ["exposed", "all"])]
        org: Option<String>,
        /// Print the results as one JSON document.
        #[arg(long)]
        json: bool,
        /// Every credential of the exposure report whose exposed secret is still cached.
        #[arg(long, conflicts_with = "all")]
        exposed: bool,
        /// With --exposed: only what was shown or copied to this user (OS user or vault identity).
        #[arg(long, value_name = "U", requires = "exposed")]
        user: Option<String>,
        /// Every cached credential.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        vault_audit: VaultAuditArgs,
    },
    /// Past harvest runs and what each changed.
    History {
        /// Print every run as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Health for on-call and monitoring: last harvest (on a viewer: the pulled view) and
    /// its age, stale sites, held removals, metrics, store integrity, audit chain; exit 0
    /// healthy, 1 not.
    Status {
        /// Print the health as one JSON document (`healthy`, `problems`, counts…).
        #[arg(long)]
        json: bool,
        /// A last complete harvest (on a viewer: the pulled view) older than this is
        /// unhealthy (26h, 90m, 2d, 3600s); default: the profile's `max_age`, else 26h; 0
        /// turns the age check off.
        #[arg(long = "max-age", value_name = "DURATION", value_parser = parse_max_age)]
        max_age: Option<std::time::Duration>,
    },
    /// The audit trail.
    Audit {
        /// Print the trail (or, with --verify, the check) as one JSON document.
        #[arg(long)]
        json: bool,
        /// Check the tamper-evident chain: names the first edited, removed, inserted or
        /// reordered record (exit 1), exit 0 when whole.
        #[arg(long)]
        verify: bool,
    },
    /// Which credentials were shown or copied to whom, and whether each is still live.
    Exposure(ExposureArgs),
    /// Inventory without secrets (fingerprints only).
    Export {
        /// Output format: json or csv.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Write to FILE (created 0600) instead of stdout.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Vault mode: check the vault, or print the least-privilege policies of the four
    /// roles: harvester, viewer, operator, service.
    #[command(after_help = VAULT_HELP)]
    Vault {
        #[command(subcommand)]
        command: VaultCommand,
    },
    /// The store's key: where it lives, or move it between the OS keychain and a file.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Run the simulator alone; prints the settings a client needs, serves until interrupted.
    Simulate {
        /// Address to serve on (loopback keeps it private).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8700")]
        listen: SocketAddr,
        /// Number of simulated schools.
        #[arg(long, default_value_t = 200)]
        sites: u32,
        /// Dataset seed (the same seed gives the same schools).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Latency added to every API call, in milliseconds.
        #[arg(long = "latency-ms", default_value_t = 0)]
        latency_ms: u64,
        /// Admit R API requests per second (token bucket, burst R/10); answer the rest 429.
        #[arg(long = "rate-limit", value_name = "R", value_parser = clap::value_parser!(u32).range(1..))]
        rate_limit: Option<u32>,
    },
    /// Print a shell completion script on stdout (PowerShell: add
    /// `simsid completions powershell | Out-String | Invoke-Expression` to your $PROFILE).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout: `simsid man | man -l -`. Without `man` (on
    /// Windows), `simsid help [COMMAND]` is the same reference.
    Man,
}

fn parse_max_age(text: &str) -> Result<std::time::Duration, String> {
    crate::words::parse_duration(text)
}

/// `simsid store` commands.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Say where this store's key lives (the OS keychain, a key file, SIMSID_STORE_KEY), or
    /// move it: the new copy is written, read back and proven to open the store before the
    /// old one is removed.
    Key {
        /// Put the key in the OS keychain (service simsid, account = the store's id) and
        /// remove the key file.
        #[arg(long, conflicts_with = "to_file")]
        move_to_keychain: bool,
        /// Put the key in a key file beside the store (a headless host) and remove the
        /// keychain entry.
        #[arg(long)]
        to_file: bool,
    },
}

/// `simsid vault` commands.
#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Check addresses, seal, authentication, the KV v2 mount and permissions on the prefix.
    Check {
        /// Print `{"ok", "checks"}` as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Print the least-privilege policies (HCL) for this profile's mount and prefix: all
    /// four roles, or the one named by --role. Prints text only: no vault login needed.
    Policy {
        /// Only this role's policy: harvester (the harvest host), viewer (browses the
        /// team's view, no secret), operator (viewer plus reading credentials) or service
        /// (the integrator's product: reads credentials only).
        #[arg(long, value_enum, value_name = "ROLE")]
        role: Option<PolicyRole>,
    },
}

/// The roles of `simsid vault policy --role` (docs/reference/vault.md "Policies for a team").
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyRole {
    /// The harvest host: writes, reads back and removes credentials, publishes the view.
    Harvester,
    /// Staff who browse the team's view, never a secret.
    Viewer,
    /// Partner support and on-call: the viewer's view, and reading credentials.
    Operator,
    /// The integrator's product: reads the credentials only.
    Service,
}

impl PolicyRole {
    /// The policy module's role.
    pub fn role(self) -> crate::vault::policy::Role {
        use crate::vault::policy::Role;
        match self {
            PolicyRole::Harvester => Role::Harvester,
            PolicyRole::Viewer => Role::Viewer,
            PolicyRole::Operator => Role::Operator,
            PolicyRole::Service => Role::Service,
        }
    }
}

/// The vault-mode settings' text (one literal, so both help texts can include it).
macro_rules! vault_settings_help {
    () => {
        "\
Vault mode (profile key / environment; environment wins):
  secrets              SIMSID_SECRETS            \"local\" (default) or \"vault\"
  vault_addr           SIMSID_VAULT_ADDR (comma-separated), else VAULT_ADDR
  vault_mount          SIMSID_VAULT_MOUNT        KV v2 mount (default \"secret\")
  vault_prefix         SIMSID_VAULT_PREFIX       default \"simsid/{application_id}\"
  vault_namespace      SIMSID_VAULT_NAMESPACE, else VAULT_NAMESPACE
  vault_ca_file        SIMSID_VAULT_CA_FILE, else VAULT_CACERT
  vault_auth           SIMSID_VAULT_AUTH         \"token\" (default) or \"approle\"
  vault_token_file     VAULT_TOKEN wins, else this file (default ~/.vault-token)
  vault_role_id        SIMSID_VAULT_ROLE_ID      AppRole role id
  vault_secret_id_env / vault_secret_id_file     where the AppRole secret id is
  vault_approle_mount  default \"approle\"
  vault_on_remove      \"delete\" (default: key and all versions) or \"soft\"
  client_secret_vault  SIMSID_CLIENT_SECRET_VAULT  integrator secret as MOUNT/PATH#FIELD"
    };
}

/// `simsid vault --help`: the four roles, then the vault-mode settings.
pub const VAULT_HELP: &str = concat!(
    "\
Roles of a team (`simsid vault policy --role ROLE` prints one policy):
  harvester   the harvest host: writes, reads back and removes the credentials, publishes the view
  viewer      staff who browse the team's view; never a secret
  operator    a viewer who may also read credentials (reveal, copy, verify)
  service     the integrator's product: reads the credentials only

",
    vault_settings_help!()
);

/// The vault-mode settings, shown by `simsid --help`.
pub const VAULT_SETTINGS_HELP: &str = vault_settings_help!();

/// The options of `simsid exposure`.
#[derive(Debug, Clone, Default, Args)]
pub struct ExposureArgs {
    /// Only what was shown or copied to this user (OS user or vault identity).
    #[arg(long, value_name = "U")]
    pub user: Option<String>,
    /// Only exposures at or after TIME (RFC 3339, or a date such as 2026-11-30).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only credentials not rotated or removed since.
    #[arg(long)]
    pub live: bool,
    /// Print a JSON array, one entry per exposed credential.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Output format: json or csv (never a secret).
    #[arg(long, value_enum)]
    pub format: Option<ExportFormat>,
    /// Write to FILE (mode 0600, never through a symbolic link) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub vault_audit: VaultAuditArgs,
}

/// The vault's audit device as a source of exposures (`exposure`, `verify --exposed`).
#[derive(Debug, Clone, Default, Args)]
pub struct VaultAuditArgs {
    /// Add every read of a credential recorded by the vault's audit device: its JSON-lines
    /// files (rotated `.gz` copies too; `-` for standard input).
    #[arg(long = "vault-audit", value_name = "FILE", num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Leave out this person (repeatable): a production service that reads every secret.
    #[arg(long = "exclude-user", value_name = "ID")]
    pub exclude_user: Vec<String>,
    /// Count the harvest identity's own reads as exposures too.
    #[arg(long = "include-harvester", requires = "files")]
    pub include_harvester: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every argument of `cmd` and its subcommands without a description, by path.
    fn undescribed(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let builtin = matches!(arg.get_id().as_str(), "help" | "version");
            if !builtin && arg.get_help().is_none() && arg.get_long_help().is_none() {
                out.push(format!("{path} {}", arg.get_id()));
            }
        }
        for sub in cmd.get_subcommands() {
            if sub.get_about().is_none() && sub.get_name() != "help" {
                out.push(format!("{path} {} (the command)", sub.get_name()));
            }
            undescribed(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_flag_and_command_of_help_has_a_description() {
        let mut missing = Vec::new();
        undescribed(&Cli::command(), "simsid", &mut missing);
        assert!(missing.is_empty(), "undescribed: {missing:?}");
        // The walk sees what it must: a flag without a description is found.
        let bare = clap::Command::new("x").arg(clap::Arg::new("json").long("json"));
        let mut found = Vec::new();
        undescribed(&bare, "x", &mut found);
        assert_eq!(found, ["x json"]);
    }

    #[test]
    fn vault_help_names_the_four_roles() {
        let mut cmd = Cli::command();
        let vault = cmd.find_subcommand_mut("vault").unwrap();
        let help = vault.render_long_help().to_string();
        for role in ["harvester", "viewer", "operator", "service"] {
            assert!(help.contains(role), "{role} in {help}");
        }
    }
}
