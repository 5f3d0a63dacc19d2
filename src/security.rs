//! Process hardening at start (see [`crate::platform::harden_process`]).

/// Hardens the process so no secret reaches disk by accident: a private umask and no core
/// dumps on Unix, no crash dialog on Windows. Returns the problems it met, for the log;
/// none of them is fatal.
pub fn harden_process() -> Vec<String> {
    crate::platform::harden_process()
}
