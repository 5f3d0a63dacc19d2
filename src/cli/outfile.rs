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
    //! That a symbolic link is replaced, not followed, and the file ends mode 0600 is tested
    //! in `platform/unix.rs`.
    use super::*;

    #[test]
    fn writes_the_bytes_privately_and_replaces_an_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("report.csv");
        std::fs::write(&out, "old").unwrap();
        crate::platform::open_to_others(&out);
        write_private(&out, b"a,b\n").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"a,b\n");
        assert_eq!(crate::platform::openness(&out), None);
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[test]
    fn a_directory_name_is_a_usage_error() {
        let err = write_private(Path::new("/"), b"x").unwrap_err();
        assert!(err.to_string().contains("not a file name"), "{err}");
    }
}
