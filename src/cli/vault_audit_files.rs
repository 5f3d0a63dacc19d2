//! Opens the vault audit device's files for `--vault-audit` (plain, rotated `.gz` copies, or
//! `-` for standard input) and streams them through the pure reader in
//! `exposure::vault_audit`.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::exit::CliError;
use crate::exposure::vault_audit::{AuditScope, VaultReads};

const BUFFER: usize = 256 * 1024;

/// Reads every file in order (gzip recognised by its magic bytes, whatever the name).
pub fn read_all(
    files: &[PathBuf],
    scope: &AuditScope,
    since: Option<DateTime<Utc>>,
) -> Result<VaultReads, CliError> {
    let mut reads = VaultReads::new(since, Utc::now());
    for path in files {
        let fail = |e: io::Error| {
            CliError::runtime(format!(
                "cannot read the vault audit file {}: {e}",
                crate::sanitize::for_terminal(&path.display().to_string())
            ))
        };
        if path == Path::new("-") {
            let stdin = io::stdin();
            read_one(stdin.lock(), &mut reads, scope).map_err(fail)?;
        } else {
            let file = File::open(path).map_err(fail)?;
            read_one(BufReader::with_capacity(BUFFER, file), &mut reads, scope).map_err(fail)?;
        }
    }
    Ok(reads)
}

fn read_one(mut input: impl BufRead, reads: &mut VaultReads, scope: &AuditScope) -> io::Result<()> {
    let gzip = input.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    if gzip {
        let decoder = flate2::bufread::MultiGzDecoder::new(input);
        reads.read_from(BufReader::with_capacity(BUFFER, decoder), scope)
    } else {
        reads.read_from(input, scope)
    }
}

/// The summary line on stderr: what was taken and what was skipped (wrapped reads, their
/// unwraps, records from the future and reads past the reader's limits named when any).
pub fn summary(reads: &VaultReads) -> String {
    let t = reads.tally;
    let mut out = format!(
        "vault audit: {} line(s), {} read(s) of {} credential(s) by {} identit{} taken; {} line(s) skipped",
        t.lines,
        t.reads,
        reads.credential_count(),
        reads.identity_count(),
        if reads.identity_count() == 1 { "y" } else { "ies" },
        t.skipped
    );
    if t.future > 0 {
        out.push_str(&format!(" ({} timed in the future)", t.future));
    }
    if t.wrapped > 0 || t.unwraps_tied > 0 || t.unwraps_untied > 0 {
        out.push_str(&format!(
            "; {} wrapped read(s), {} unwrap(s) tied to one, {} not",
            t.wrapped, t.unwraps_tied, t.unwraps_untied
        ));
    }
    if t.dropped > 0 {
        out.push_str(&format!(
            "; WARNING: {} read(s) not kept (more identities or pairs than the reader keeps)",
            t.dropped
        ));
    }
    out
}
