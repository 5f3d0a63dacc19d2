//! JSON-lines log to a file (the console owns the terminal). Nothing here ever receives a
//! secret: callers log identifiers, counts and error kinds only.

use std::io;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// Starts logging to `path` (created private: mode 0600, an owner-only DACL on Windows;
/// appended), at `info`, or `debug` with `-v`, `trace` with `-vv`. An existing log file open
/// to other users is made private and the returned note says so. Fails only when the file cannot be opened or tightened.
pub fn init(path: &Path, verbosity: u8) -> io::Result<Option<String>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let (file, note) = crate::platform::open_private_append(path)?;
    let note = note.map(|what| format!("log file {} {what}", path.display()));
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
