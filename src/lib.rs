//! simsid-console: harvest, cache, browse and audit SIMS ID partner credentials.
//!
//! Layers (see `docs/ARCHITECTURE.md`): `domain` is the vocabulary; `config` resolves
//! settings (it reads the config file and secret files); `sims` is the only HTTP client of
//! SIMS ID; `harvest` runs a full re-harvest; `store` owns the SQLite cache and its key;
//! `logging` owns the log file; `ops` holds the operations both front ends share; `tui`
//! draws; `cli` prints headless command results (and writes `export --output`). The SIMS ID
//! simulator is its own crate, `simsid_simulator`, which only `simulate` and `demo` run.
// No unsafe code, but for the Windows platform module (every `windows-sys` call is unsafe).
#![deny(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]
// Tests compare secrets with what was served; `clippy.toml` confines `expose_secret` elsewhere.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

// Every module is private: the code lives in `layers` (the files under `src/`, at their
// usual places), and the crate's own paths (`crate::store::Store`) reach all of it through
// the glob imports below. What the binary, the tests, the benches and the examples may use
// is the `pub use` list of each facade module, named after its layer: the library's whole
// public API (`cargo doc` shows nothing else). A test that needs more goes through the
// keeper, the CLI or the binary, or is a unit test beside the code it tests.
#[path = "."]
mod layers {
    pub(crate) mod cli;
    pub(crate) mod config;
    pub(crate) mod domain;
    pub(crate) mod exposure;
    pub(crate) mod filter;
    pub(crate) mod harvest;
    pub(crate) mod logging;
    pub(crate) mod lookup;
    pub(crate) mod ops;
    pub(crate) mod platform;
    pub(crate) mod sanitize;
    pub(crate) mod security;
    pub(crate) mod signals;
    pub(crate) mod sims;
    pub(crate) mod store;
    pub(crate) mod team;
    pub(crate) mod tui;
    pub(crate) mod vault;
    pub(crate) mod words;
}

use layers::{logging, lookup, security, signals, words};

/// The command line: what `main` parses and runs.
pub mod cli {
    // The unit tests reach the command line's modules (the output, the private file).
    #[cfg(test)]
    pub(crate) use crate::layers::cli::*;
    pub use crate::layers::cli::{run, Cli, CliError};

    /// The console's services over the real program.
    pub mod console {
        pub use crate::layers::cli::console::ConsoleServices;
    }
}

/// Settings, resolved as the binary resolves them.
pub mod config {
    pub(crate) use crate::layers::config::*;
    pub use crate::layers::config::{resolve, Dirs, Flags, Role, Settings};
}

/// The vocabulary.
pub mod domain {
    pub(crate) use crate::layers::domain::*;
    pub use crate::layers::domain::{
        AppId, AuditAction, AuditEntry, AuthorisationChange, Capabilities, ChangeBadge,
        CheckOutcome, Credential, CredentialCheck, CredentialRef, CredentialRow, Diff, Fingerprint,
        HarvestData, OrgId, Pulled, Refresh, RunScope, RunStatus, RunSummary, Site, SiteDetail,
        SiteFailure, SiteRow, SiteTotals, Tally, VerifyResult,
    };
}

/// Who saw which secret.
pub mod exposure {
    pub(crate) use crate::layers::exposure::*;
    pub use crate::layers::exposure::{Exposure, ExposureSource, PersonExposures};
}

/// The site filter both front ends share.
pub mod filter {
    pub(crate) use crate::layers::filter::*;
    pub use crate::layers::filter::{site_fields, Filter};
}

/// A harvest's options, progress and end.
pub mod harvest {
    pub(crate) use crate::layers::harvest::*;
    pub use crate::layers::harvest::{
        run, Cancel, FetchOutcome, HarvestEnd, HarvestEvent, HarvestOptions, RetryPolicy,
    };

    /// The gate a test holds a harvest at.
    pub mod gate {

        pub use crate::layers::harvest::gate::Gate;
    }

    /// The harvest's shared limiter (its bench).
    pub mod limiter {

        pub use crate::layers::harvest::limiter::{Decision, Limiter, LimiterConfig};
    }
}

/// The operations, through the profile's keeper.
pub mod ops {
    pub use crate::layers::ops::vault_sync::SYNC_CONCURRENCY;
    pub(crate) use crate::layers::ops::*;
    pub use crate::layers::ops::{
        Context, HarvestRequest, Harvested, Keeper, OpError, OpResult, PullRequest, ReadRequest,
        SiteEnd, VaultCounts,
    };

    /// What a verify found of one credential.
    pub mod secrets {

        pub use crate::layers::ops::secrets::CheckOutcome;
    }

    /// What a verify found (the domain's, as the keeper's verify answers).
    pub mod verify {
        pub(crate) use crate::layers::ops::verify::*;
        pub use crate::layers::ops::verify::{CredentialCheck, Tally};
    }
}

/// What differs by operating system.
pub mod platform {
    pub(crate) use crate::layers::platform::*;
    pub use crate::layers::platform::{create_private_dir, openness};
}

/// The one sanitiser of remote text.
pub mod sanitize {
    pub use crate::layers::sanitize::is_unsafe_char;
    pub(crate) use crate::layers::sanitize::*;
}

/// The SIMS ID client.
pub mod sims {
    pub(crate) use crate::layers::sims::*;
    pub use crate::layers::sims::{
        SimsClient, SimsError, SimsSettings, MAX_CLIENTS_BODY, MAX_SITE_LIST_BODY,
    };
}

/// The store on disk.
pub mod store {
    pub(crate) use crate::layers::store::*;
    pub use crate::layers::store::{
        check_permissions, default_key_path, open_for_harvest, AuditCheck, BadRecord, HarvestLock,
        KeySource, SiteTotals, Store, StoreError, StoreKey, SCHEMA_VERSION,
    };
}

/// Team mode: the team's view published and pulled (the team bench times each alone).
pub mod team {
    pub(crate) use crate::layers::team::*;

    /// A harvest host's publish of the team's view.
    pub mod publish {

        pub use crate::layers::team::publish::publish;
    }

    /// A viewer's pull of the team's view.
    pub mod pull {

        pub use crate::layers::team::pull::pull;
    }
}

/// The console.
pub mod tui {
    pub(crate) use crate::layers::tui::*;
    pub use crate::layers::tui::{
        run, run_headless, Action, App, Capabilities, ConsoleOptions, Effect, Overview, Refresh,
        Services, UserCommand, PANIC_MESSAGE,
    };

    /// The console's state.
    pub mod app {
        pub(crate) use crate::layers::tui::app::*;
        pub use crate::layers::tui::app::{Confirm, Screen};

        /// The flash line.
        pub mod flash {

            pub use crate::layers::tui::app::flash::Level;
        }

        /// A site's screen.
        pub mod site {
            pub use crate::layers::tui::app::site::VerifyState;
            pub(crate) use crate::layers::tui::app::site::*;
        }

        /// The sites list.
        pub mod sites {

            pub use crate::layers::tui::app::sites::SortColumn;
        }
    }

    /// Drawing.
    pub mod draw {
        pub use crate::layers::tui::draw::draw;
        pub(crate) use crate::layers::tui::draw::*;
    }

    /// The key table.
    pub mod keys {
        pub(crate) use crate::layers::tui::keys::*;
        pub use crate::layers::tui::keys::{footer, groups, resolve, KeyScope, BINDINGS};
    }

    /// The clipboard's escape sequences.
    pub mod osc52 {
        pub(crate) use crate::layers::tui::osc52::*;
        pub use crate::layers::tui::osc52::{write_clear, write_osc52, Route};
    }

    /// The console's words.
    pub mod strings {
        pub(crate) use crate::layers::tui::strings::*;
        pub use crate::layers::tui::strings::{CRUMB_HELP, ORGANISATION};
    }

    /// Colours.
    pub mod theme {

        pub use crate::layers::tui::theme::Theme;
    }
}

/// The vault client.
pub mod vault {
    pub(crate) use crate::layers::vault::*;
    pub use crate::layers::vault::{Route, VaultAuth, VaultClient, VaultSettings};

    /// Where a credential lives in the vault.
    pub mod path {
        pub use crate::layers::vault::path::credential_key;
        pub(crate) use crate::layers::vault::path::*;
    }

    /// The roles' policies.
    pub mod policy {
        pub(crate) use crate::layers::vault::policy::*;
        pub use crate::layers::vault::policy::{harvester, operator, service, viewer};
    }
}
