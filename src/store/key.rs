//! The store key: 32 random bytes, given as base64 (`SIMSID_STORE_KEY`) or kept in a key file
//! beside the store, created with mode 0600 on first use.

use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::path::Path;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::{DecodeSliceError, Engine};
use rand::TryRng;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use zeroize::Zeroizing;

use super::error::StoreError;
use super::files;

/// Length of a store key in bytes.
pub const KEY_LEN: usize = 32;

/// The store's master key. `Debug` never shows it; it is zeroised when dropped.
pub struct StoreKey(SecretBox<[u8; KEY_LEN]>);

impl StoreKey {
    /// Decodes base64 (standard or URL-safe, padding optional, surrounding whitespace
    /// ignored) that must hold exactly 32 bytes. The error never quotes the value.
    #[allow(clippy::disallowed_methods)] // the store key is decoded, encoded and copied here
    pub fn from_base64(s: &SecretString) -> Result<Self, StoreError> {
        let text = s.expose_secret().trim();
        // Decode into one zeroised buffer, so no copy of the key is left in freed memory.
        let mut buf = Zeroizing::new([0u8; 2 * KEY_LEN]);
        let mut decoded_len = None;
        let mut too_long = false;
        for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
            match engine.decode_slice(text, buf.as_mut()) {
                Ok(n) => {
                    decoded_len = Some(n);
                    break;
                }
                Err(DecodeSliceError::OutputSliceTooSmall) => too_long = true,
                Err(DecodeSliceError::DecodeError(_)) => {}
            }
        }
        let len = match decoded_len {
            Some(n) => n,
            None if too_long => 2 * KEY_LEN + 1,
            None => {
                return Err(StoreError::BadKey(
                    "the store key is not valid base64 (expected 32 bytes)".into(),
                ))
            }
        };
        if len != KEY_LEN {
            let got = if len > 2 * KEY_LEN {
                format!("more than {}", 2 * KEY_LEN)
            } else {
                len.to_string()
            };
            return Err(StoreError::BadKey(format!(
                "the store key must decode to exactly {KEY_LEN} bytes, not {got}"
            )));
        }
        let mut bytes = Box::new([0u8; KEY_LEN]);
        bytes.copy_from_slice(&buf[..KEY_LEN]);
        Ok(StoreKey(SecretBox::new(bytes)))
    }

    /// Reads the base64 key file at `key_path`, or, when there is none, creates it
    /// (mode 0600, never overwriting) with a fresh random key. A missing parent directory
    /// is created with mode 0700.
    #[allow(clippy::disallowed_methods)] // the store key is decoded, encoded and copied here
    pub fn load_or_create(key_path: &Path) -> Result<Self, StoreError> {
        match read_key_file(key_path) {
            Ok(key) => return Ok(key),
            Err(StoreError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if let Some(dir) = key_path.parent() {
            files::ensure_private_dir(dir)?;
        }
        let key = StoreKey::generate();
        match files::create_private_file(key_path) {
            Ok(mut file) => {
                let encoded = key.to_base64();
                file.write_all(encoded.expose_secret().as_bytes())
                    .and_then(|()| file.write_all(b"\n"))
                    .and_then(|()| file.sync_all())
                    .map_err(|e| StoreError::io("writing key file", key_path, e))?;
                Ok(key)
            }
            // Another process created it first: use theirs.
            Err(StoreError::Io { source, .. }) if source.kind() == ErrorKind::AlreadyExists => {
                read_key_file(key_path)
            }
            Err(e) => Err(e),
        }
    }

    /// Reads the key file at `key_path`; never creates one (a missing file is an `Io` error
    /// of kind `NotFound`).
    pub fn load(key_path: &Path) -> Result<Self, StoreError> {
        read_key_file(key_path)
    }

    /// A fresh random key from the operating system's generator. Panics only when the
    /// operating system cannot give random bytes (no store key can be made then).
    pub fn generate() -> Self {
        let mut bytes = Box::new([0u8; KEY_LEN]);
        rand::rngs::SysRng
            .try_fill_bytes(bytes.as_mut())
            .unwrap_or_else(|e| panic!("the operating system's random generator failed: {e}"));
        StoreKey(SecretBox::new(bytes))
    }

    /// The key as standard padded base64 (the form `from_base64` and the key file use).
    #[allow(clippy::disallowed_methods)] // the store key is decoded, encoded and copied here
    pub fn to_base64(&self) -> SecretString {
        SecretString::from(STANDARD.encode(self.0.expose_secret()))
    }

    /// The raw key bytes, for key derivation only.
    #[allow(clippy::disallowed_methods)] // the store key is decoded, encoded and copied here
    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        self.0.expose_secret()
    }
}

impl Clone for StoreKey {
    #[allow(clippy::disallowed_methods)] // the store key is decoded, encoded and copied here
    fn clone(&self) -> Self {
        StoreKey(SecretBox::new(Box::new(*self.0.expose_secret())))
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey([REDACTED])")
    }
}

fn read_key_file(key_path: &Path) -> Result<StoreKey, StoreError> {
    let mut file = std::fs::File::open(key_path)
        .map_err(|e| StoreError::io("opening key file", key_path, e))?;
    let mut text = Zeroizing::new(String::new());
    file.read_to_string(&mut text)
        .map_err(|e| StoreError::io("reading key file", key_path, e))?;
    let secret = SecretString::from(text.trim().to_owned());
    StoreKey::from_base64(&secret).map_err(|e| match e {
        StoreError::BadKey(why) => {
            StoreError::BadKey(format!("key file {}: {why}", key_path.display()))
        }
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::super::key_path::{default_key_path, existing_key_path, legacy_key_path};
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn base64_of_32_bytes_round_trips() {
        let key = StoreKey::generate();
        let again = StoreKey::from_base64(&key.to_base64()).unwrap();
        assert_eq!(key.bytes(), again.bytes());
    }

    #[test]
    fn simsid_style_keys_are_accepted() {
        // `openssl rand -base64 32` style, with a trailing newline, and URL-safe unpadded.
        let std = SecretString::from("q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=\n".to_owned());
        let key = StoreKey::from_base64(&std).unwrap();
        assert_eq!(key.bytes()[0], 0xab);
        assert_eq!(key.bytes()[31], 0x90);
        let url = SecretString::from("q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA".to_owned());
        assert_eq!(StoreKey::from_base64(&url).unwrap().bytes(), key.bytes());
    }

    #[test]
    fn wrong_length_and_junk_are_refused_without_quoting() {
        for bad in [
            "c2hvcnQ=",
            "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJCrzQ==",
            "not base64!!",
            "",
        ] {
            let err = StoreKey::from_base64(&SecretString::from(bad.to_owned())).unwrap_err();
            assert!(matches!(err, StoreError::BadKey(_)), "{bad}");
            if !bad.is_empty() {
                assert!(!err.to_string().contains(bad), "{err}");
                assert!(!format!("{err:?}").contains(bad));
            }
        }
    }

    #[test]
    fn debug_redacts() {
        let key = StoreKey::generate();
        let shown = format!("{key:?}");
        assert_eq!(shown, "StoreKey([REDACTED])");
        assert!(!shown.contains(key.to_base64().expose_secret()));
    }

    #[test]
    fn key_path_sits_beside_the_store_and_is_named_for_all_of_it() {
        assert_eq!(
            default_key_path(Path::new("/data/simsid/store.sqlite3")),
            PathBuf::from("/data/simsid/store.sqlite3.key")
        );
        assert_eq!(
            default_key_path(Path::new("a/cache.a")),
            PathBuf::from("a/cache.a.key")
        );
        assert_ne!(
            default_key_path(Path::new("a/cache.a")),
            default_key_path(Path::new("a/cache.b"))
        );
        assert_eq!(
            default_key_path(Path::new("cache")),
            PathBuf::from("cache.key")
        );
    }

    #[test]
    fn the_legacy_key_name_is_the_extension_replaced() {
        assert_eq!(
            legacy_key_path(Path::new("/data/simsid/store.sqlite3")),
            Some(PathBuf::from("/data/simsid/store.key"))
        );
        assert_eq!(legacy_key_path(Path::new("cache")), None);
        assert_eq!(legacy_key_path(Path::new("x/odd.key")), None);
    }

    #[test]
    fn an_existing_store_finds_its_new_or_legacy_key_file() {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("store.sqlite3");
        assert_eq!(existing_key_path(&store), None);
        std::fs::write(tmp.path().join("store.key"), "k").unwrap();
        assert_eq!(
            existing_key_path(&store),
            Some(tmp.path().join("store.key"))
        );
        std::fs::write(default_key_path(&store), "k").unwrap();
        assert_eq!(existing_key_path(&store), Some(default_key_path(&store)));
    }
}
