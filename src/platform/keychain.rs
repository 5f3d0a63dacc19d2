//! The OS keychain: Windows Credential Manager, macOS Keychain, the Secret Service on Linux
//! (GNOME Keyring, KWallet), through the `keyring` crate. One entry per account under the
//! service [`SERVICE`]; what an entry holds is the caller's (the store key, in base64).
//!
//! Every call runs on a thread of its own: the Secret Service backend drives its D-Bus
//! connection with a private runtime that must not be started inside another (the console
//! and the commands run on tokio). Errors never carry the entry's value.

use secrecy::{ExposeSecret, SecretString};

/// The service name every simsid entry is filed under.
pub const SERVICE: &str = "simsid";

/// Why the keychain could not do what was asked. Messages come from the platform (sanitised
/// and bounded); none carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeychainError {
    /// No keychain answers here (no Secret Service on the session bus, no session bus, no
    /// credential store).
    #[error("no OS keychain answers ({0})")]
    Absent(String),
    /// The keychain answered but would not give access (locked, or access refused).
    #[error("the OS keychain is locked or refused access ({0})")]
    Locked(String),
    /// The keychain holds no entry for this account.
    #[error("the OS keychain holds no entry for it")]
    NoEntry,
    /// Anything else the keychain said (an entry it cannot read, several entries, a limit).
    #[error("the OS keychain refused: {0}")]
    Refused(String),
}

/// The value of the entry `(SERVICE, account)`.
pub fn read(account: &str) -> Result<SecretString, KeychainError> {
    let account = account.to_owned();
    on_own_thread(move || {
        let entry = entry(&account)?;
        entry
            .get_password()
            .map(SecretString::from)
            .map_err(classify)
    })
}

/// Sets the entry `(SERVICE, account)` to `value` (creating it, or replacing its value: the
/// caller decides whether a replace is allowed).
#[allow(clippy::disallowed_methods)] // the keychain is handed the value it is to keep
pub fn write(account: &str, value: &SecretString) -> Result<(), KeychainError> {
    let account = account.to_owned();
    let value = value.clone();
    on_own_thread(move || {
        let entry = entry(&account)?;
        entry.set_password(value.expose_secret()).map_err(classify)
    })
}

/// Deletes the entry `(SERVICE, account)`; [`KeychainError::NoEntry`] when there is none.
pub fn delete(account: &str) -> Result<(), KeychainError> {
    let account = account.to_owned();
    on_own_thread(move || {
        let entry = entry(&account)?;
        entry.delete_credential().map_err(classify)
    })
}

/// Whether a keychain answers here: a read of an entry no one writes (the answer "no such
/// entry" means it does). `Err` says why not.
pub fn answers() -> Result<(), KeychainError> {
    match read("simsid-keychain-probe") {
        Ok(_) | Err(KeychainError::NoEntry) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The entry `(SERVICE, account)`. On the Secret Service, `keyring` files the account under
/// the attribute `username`; the attribute `account` is added too, so the platform's own tools
/// find the entry by the name people use (`secret-tool search service simsid account ID`).
#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
fn entry(account: &str) -> Result<keyring::Entry, KeychainError> {
    let mut credential =
        keyring::secret_service::SsCredential::new_with_target(None, SERVICE, account)
            .map_err(classify)?;
    credential
        .attributes
        .insert("account".to_string(), account.to_string());
    credential.label = format!("simsid store key ({account})");
    Ok(keyring::Entry::new_with_credential(Box::new(credential)))
}

/// The entry `(SERVICE, account)`: Windows Credential Manager (target `account.simsid`), the
/// macOS Keychain (service `simsid`, account `account`).
#[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd")))]
fn entry(account: &str) -> Result<keyring::Entry, KeychainError> {
    keyring::Entry::new(SERVICE, account).map_err(classify)
}

/// Runs `f` on a fresh thread (no async runtime there) and waits for it.
fn on_own_thread<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KeychainError> + Send + 'static,
) -> Result<T, KeychainError> {
    std::thread::Builder::new()
        .name("simsid-keychain".into())
        .spawn(f)
        .map_err(|e| KeychainError::Absent(format!("cannot start a thread for it: {e}")))?
        .join()
        .unwrap_or_else(|_| {
            Err(KeychainError::Refused(
                "the keychain library failed unexpectedly".into(),
            ))
        })
}

/// The platform's answer as one of ours, its text sanitised and bounded.
fn classify(e: keyring::Error) -> KeychainError {
    let said = |err: &dyn std::error::Error| crate::sanitize::bounded(&err.to_string(), 200);
    match e {
        keyring::Error::NoEntry => KeychainError::NoEntry,
        keyring::Error::NoStorageAccess(err) => KeychainError::Locked(said(err.as_ref())),
        keyring::Error::PlatformFailure(err) => {
            let text = said(err.as_ref());
            if looks_absent(&text) {
                KeychainError::Absent(text)
            } else {
                KeychainError::Refused(text)
            }
        }
        // The bytes it holds are not shown: they may be a secret.
        keyring::Error::BadEncoding(_) => {
            KeychainError::Refused("the entry does not hold text".into())
        }
        keyring::Error::Ambiguous(found) => KeychainError::Refused(format!(
            "{} entries match it; remove all but one",
            found.len()
        )),
        keyring::Error::TooLong(name, limit) => KeychainError::Refused(format!(
            "its {} is longer than the platform's limit of {limit}",
            crate::sanitize::bounded(&name, 40)
        )),
        keyring::Error::Invalid(name, why) => KeychainError::Refused(format!(
            "its {} is not valid: {}",
            crate::sanitize::bounded(&name, 40),
            crate::sanitize::bounded(&why, 100)
        )),
        other => KeychainError::Refused(crate::sanitize::bounded(&other.to_string(), 200)),
    }
}

/// Whether a platform failure means there is no keychain to talk to (no D-Bus session, no
/// Secret Service provider on it), as opposed to one that answered with an error.
fn looks_absent(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    [
        "no secret service",
        "dbus session",
        "d-bus session",
        "no such file or directory",
        "connection refused",
        "serviceunknown",
        "service unknown",
        "was not provided by any .service files",
        "address",
    ]
    .iter()
    .any(|needle| t.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_session_bus_reads_as_absent() {
        let e = classify(keyring::Error::PlatformFailure(
            "no secret service provider or dbus session found".into(),
        ));
        assert!(matches!(e, KeychainError::Absent(_)), "{e:?}");
        assert!(e.to_string().starts_with("no OS keychain answers"));
    }

    #[test]
    fn a_locked_keychain_and_other_refusals_say_so() {
        let e = classify(keyring::Error::NoStorageAccess(
            "collection is locked".into(),
        ));
        assert_eq!(
            e.to_string(),
            "the OS keychain is locked or refused access (collection is locked)"
        );
        let e = classify(keyring::Error::PlatformFailure("access denied".into()));
        assert!(matches!(e, KeychainError::Refused(_)), "{e:?}");
        assert_eq!(classify(keyring::Error::NoEntry), KeychainError::NoEntry);
    }

    #[test]
    fn an_entry_that_is_not_text_is_never_shown() {
        let e = classify(keyring::Error::BadEncoding(b"SECRETBYTES".to_vec()));
        assert!(!e.to_string().contains("SECRETBYTES"));
        assert!(!format!("{e:?}").contains("SECRETBYTES"));
    }

    #[test]
    fn platform_text_is_sanitised_and_bounded() {
        let long = format!("\u{1b}[2Jbad{}", "x".repeat(1000));
        let e = classify(keyring::Error::PlatformFailure(long.into()));
        let shown = e.to_string();
        assert!(!shown.contains('\u{1b}'), "{shown:?}");
        assert!(shown.len() < 400, "{}", shown.len());
    }
}
