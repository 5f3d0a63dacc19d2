//! Headless commands: turn results into text, JSON or CSV, with the exit codes of cli.md.

pub mod output;
