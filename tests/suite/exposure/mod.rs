mod runbook;
// Not on Windows: reads a real OpenBao's audit log (`bao`, see tests/README.md).
#[cfg(not(windows))]
mod vault_audit;
// Not on Windows: a real OpenBao with its audit device (`bao`, see tests/README.md).
#[cfg(not(windows))]
mod vault_trust;
