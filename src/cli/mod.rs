//! Headless commands: turn results into text, JSON or CSV, with the exit codes of cli.md.

pub mod args;
pub mod exit;
pub mod output;

pub use args::{Cli, Command, GlobalArgs};
pub use exit::CliError;
