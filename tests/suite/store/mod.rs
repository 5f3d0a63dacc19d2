mod audit_chain;
mod commit;
mod files;
mod keychain;
mod lock;
mod read_commands;
// Not on Windows: refusals by Unix mode and owner (chmod, chown); the Windows rules (owner
// SID, DACL entries) are tested in src/platform/windows.rs.
#[cfg(not(windows))]
mod refused_files;
// Not on Windows: symbolic links, Unix modes and a full tmpfs in a mount namespace.
#[cfg(not(windows))]
mod written_files;
