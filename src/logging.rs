//! JSON-lines log to a file (the console owns the terminal). Nothing here ever receives a
//! secret: callers log identifiers, counts and error kinds only.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// Starts logging to `path` (created 0600, appended), at `info`, or `debug` with `-v`,
/// `trace` with `-vv`. An existing log file open to other users is tightened to 0600 and the
/// returned note says so. Fails only when the file cannot be opened or tightened.
pub fn init(path: &Path, verbosity: u8) -> io::Result<Option<String>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    let mode = file.metadata()?.permissions().mode() & 0o7777;
    let note = if mode & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Some(format!(
            "log file {} was mode {mode:04o}, open to other users; tightened to 0600",
            path.display()
        ))
    } else {
        None
    };
    let level = match verbosity {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    // Only our own crate logs; dependencies (hyper, reqwest, rustls) stay silent so that no
    // request detail they might print ever reaches the file.
    let filter = EnvFilter::new(format!("simsid={level}"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(Mutex::new(file))
        .try_init()
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(note)
}
