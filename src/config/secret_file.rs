//! Secret files: one set of rules for every setting that names a file holding a secret
//! (`client_secret_file`, `vault_secret_id_file`, the vault token file). A file's path is
//! never quoted in an error (a value that names no readable file may be the secret itself,
//! pasted in the wrong place), and a file that group or others may read is a warning.

use std::path::Path;

use secrecy::SecretString;

/// What is cut from the file's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    /// Trailing line ends only (`\r`, `\n`): other spaces may belong to the secret.
    LineEnd,
    /// Surrounding whitespace.
    Whitespace,
}

/// Reads the secret in the file that the setting `key` names: UTF-8, trimmed, not empty.
pub fn read_secret_file(path: &Path, key: &str, trim: Trim) -> Result<SecretString, String> {
    let raw = std::fs::read(path)
        .map_err(|e| format!("the file named by `{key}` cannot be read: {}", e.kind()))?;
    let text =
        String::from_utf8(raw).map_err(|_| format!("the file named by `{key}` is not UTF-8"))?;
    let trimmed = match trim {
        Trim::LineEnd => text.trim_end_matches(['\r', '\n']),
        Trim::Whitespace => text.trim(),
    }
    .to_string();
    drop(text);
    if trimmed.is_empty() {
        return Err(format!("the file named by `{key}` is empty"));
    }
    Ok(SecretString::from(trimmed))
}

/// The warning for a secret file that group or others may read, `None` when it is private
/// or cannot be read. `shown` names the file, `fix` is the command to run (see
/// [`crate::platform::make_private_command`]).
pub fn loose_file_warning(path: &Path, shown: &str, fix: &str) -> Option<String> {
    let how = crate::platform::openness(path)?;
    Some(format!(
        "{shown} is readable by group or others ({how}); run {fix}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::io::Write;

    /// A private file holding `text` (the loose-mode warning is tested in
    /// `platform/unix.rs`).
    fn file_with(dir: &Path, text: &str) -> std::path::PathBuf {
        let path = dir.join("secret");
        let _ = std::fs::remove_file(&path);
        let mut file = crate::platform::create_private_file(&path).unwrap();
        file.write_all(text.as_bytes()).unwrap();
        path
    }

    #[test]
    fn line_ends_or_whitespace_are_trimmed_as_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(dir.path(), " s e c \r\n");
        let s = read_secret_file(&path, "k", Trim::LineEnd).unwrap();
        assert_eq!(s.expose_secret(), " s e c ");
        let s = read_secret_file(&path, "k", Trim::Whitespace).unwrap();
        assert_eq!(s.expose_secret(), "s e c");
    }

    #[test]
    fn problems_name_the_setting_never_the_path_or_the_text() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("PASTED-SECRET");
        let e = read_secret_file(&missing, "client_secret_file", Trim::LineEnd).unwrap_err();
        assert!(e.contains("`client_secret_file` cannot be read"), "{e}");
        assert!(!e.contains("PASTED"), "{e}");
        let empty = file_with(dir.path(), "\n");
        let e = read_secret_file(&empty, "vault_secret_id_file", Trim::Whitespace).unwrap_err();
        assert!(e.contains("`vault_secret_id_file` is empty"), "{e}");
        std::fs::write(&empty, [0xff, 0xfe]).unwrap();
        let e = read_secret_file(&empty, "k", Trim::LineEnd).unwrap_err();
        assert!(e.contains("not UTF-8"), "{e}");
    }

    #[test]
    fn a_private_file_is_no_warning() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(dir.path(), "x");
        assert_eq!(loose_file_warning(&path, "the file", "x"), None);
        assert_eq!(loose_file_warning(&dir.path().join("none"), "f", "x"), None);
    }
}
