//! Headless commands: turn results into text, JSON or CSV, with the exit codes of docs/reference/cli.md.

pub mod args;
pub mod commands;
pub mod console;
pub mod demo;
pub mod exit;
pub mod harvest_one;
pub mod incident;
pub mod incident_output;
pub mod metrics;
pub mod names;
pub mod outfile;
pub mod output;
pub mod progress;
pub mod run;
pub mod shell;
pub mod status;
pub mod store_key;
pub mod team;
pub mod vault_audit_files;
pub mod vault_cmd;

pub use args::{Cli, Command, GlobalArgs};
pub use exit::CliError;
pub use run::run;
