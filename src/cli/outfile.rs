//! Writing a report to `--output FILE`: never through a symbolic link, always mode 0600,
//! never half-written ([`crate::store::write_private_file`] does the writing; this names
//! the errors for the command line).

use std::path::Path;

use super::exit::CliError;

/// Writes `bytes` to `path` as described above; the error names the path.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    if path.file_name().is_none() {
        return Err(CliError::usage(format!(
            "--output {}: not a file name",
            path.display()
        )));
    }
    crate::store::write_private_file(path, bytes)
        .map_err(|e| CliError::runtime(format!("cannot write the output: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_a_symlink_instead_of_following_it_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        let out = dir.path().join("report.csv");
        std::os::unix::fs::symlink(&victim, &out).unwrap();
        write_private(&out, b"a,b\n").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        let meta = std::fs::symlink_metadata(&out).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&out).unwrap(), b"a,b\n");
        // An existing file, group-readable, becomes 0600 with the new content.
        std::fs::remove_file(&out).unwrap();
        std::fs::write(&out, "old").unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&out, b"new").unwrap();
        let meta = std::fs::metadata(&out).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&out).unwrap(), b"new");
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 2, "no temporary file is left behind");
    }
}
