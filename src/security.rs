//! Process hardening at start: a private umask and no core dumps.

use rustix::fs::Mode;
use rustix::process::{DumpableBehavior, Resource, Rlimit};

/// Sets `umask(0o077)` so every file the process creates (SQLite's `-wal` and `-shm` included)
/// is private, and disables core dumps (`PR_SET_DUMPABLE` 0, `RLIMIT_CORE` 0) so a crash never
/// writes secrets to disk. Returns the problems it met, for the log; none of them is fatal.
pub fn harden_process() -> Vec<String> {
    let mut problems = Vec::new();
    rustix::process::umask(Mode::from_raw_mode(0o077));
    if let Err(e) = rustix::process::setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    ) {
        problems.push(format!("could not disable core dumps (RLIMIT_CORE): {e}"));
    }
    if let Err(e) = rustix::process::set_dumpable_behavior(DumpableBehavior::NotDumpable) {
        problems.push(format!(
            "could not disable core dumps (PR_SET_DUMPABLE): {e}"
        ));
    }
    problems
}
