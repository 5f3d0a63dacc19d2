//! Sealing and fingerprinting under keys derived from the store key (pure, no I/O).
//!
//! HKDF-SHA256 derives four independent keys from the store key: one for XChaCha20-Poly1305
//! sealing, one for HMAC-SHA256 fingerprints, one for the key check record and one for the
//! audit chain (each audit record's HMAC over its content and the previous record's HMAC). A sealed
//! secret is bound to its row by associated data `organisation id + "\0" + client id`.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::error::StoreError;
use super::key::StoreKey;
use crate::domain::{Fingerprint, OrgId};

type HmacSha256 = Hmac<Sha256>;

/// Length of an XChaCha20-Poly1305 nonce.
pub(crate) const NONCE_LEN: usize = 24;

const HKDF_SALT: &[u8] = b"simsid-console store v1";
const INFO_SEAL: &[u8] = b"simsid store: secret sealing (XChaCha20-Poly1305)";
const INFO_FINGERPRINT: &[u8] = b"simsid store: secret fingerprints (HMAC-SHA256)";
const INFO_KEY_CHECK: &[u8] = b"simsid store: key check record (HMAC-SHA256)";
const INFO_AUDIT: &[u8] = b"simsid store: audit chain (HMAC-SHA256)";
const KEY_CHECK_MESSAGE: &[u8] = b"simsid-console store key check, version 1";

/// A sealed secret as stored: ciphertext with its tag, and the nonce used.
pub(crate) struct Sealed {
    pub ciphertext: Vec<u8>,
    pub nonce: [u8; NONCE_LEN],
}

/// The fingerprint key alone: cheap to clone and shareable across tasks. `Debug` shows
/// nothing of the key.
#[derive(Clone)]
pub struct Fingerprinter(HmacSha256);

impl std::fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprinter")
    }
}

impl Fingerprinter {
    /// The keyed fingerprint of a secret: the first 16 hex characters of its HMAC.
    #[allow(clippy::disallowed_methods)] // fingerprinting needs the bytes
    pub fn fingerprint(&self, secret: &SecretString) -> Fingerprint {
        let mut mac = self.0.clone();
        mac.update(secret.expose_secret().as_bytes());
        let digest = mac.finalize().into_bytes();
        Fingerprint::local(
            digest[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
        )
    }
}

/// The keys derived from a store key, ready to use.
pub(crate) struct Crypto {
    cipher: XChaCha20Poly1305,
    fingerprint: HmacSha256,
    key_check: HmacSha256,
    audit: HmacSha256,
}

impl Crypto {
    /// Derives the sealing, fingerprint and key-check keys from the store key.
    pub fn derive(key: &StoreKey) -> Result<Self, StoreError> {
        let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), key.bytes());
        let expand = |info: &[u8]| -> Result<Zeroizing<[u8; 32]>, StoreError> {
            let mut out = Zeroizing::new([0u8; 32]);
            hk.expand(info, out.as_mut())
                .map_err(|_| StoreError::BadKey("key derivation failed".into()))?;
            Ok(out)
        };
        let mac = |k: &[u8]| {
            <HmacSha256 as Mac>::new_from_slice(k)
                .map_err(|_| StoreError::BadKey("key derivation failed".into()))
        };
        let seal_key = expand(INFO_SEAL)?;
        Ok(Crypto {
            cipher: XChaCha20Poly1305::new_from_slice(seal_key.as_ref())
                .map_err(|_| StoreError::BadKey("key derivation failed".into()))?,
            fingerprint: mac(expand(INFO_FINGERPRINT)?.as_ref())?,
            key_check: mac(expand(INFO_KEY_CHECK)?.as_ref())?,
            audit: mac(expand(INFO_AUDIT)?.as_ref())?,
        })
    }

    /// The keyed fingerprint of a secret: the first 16 hex characters of its HMAC.
    pub fn fingerprint(&self, secret: &SecretString) -> Fingerprint {
        self.fingerprinter().fingerprint(secret)
    }

    /// The fingerprint key alone, to share with tasks.
    pub fn fingerprinter(&self) -> Fingerprinter {
        Fingerprinter(self.fingerprint.clone())
    }

    /// Seals a secret for the row (`org`, `client_id`) with a fresh random nonce.
    #[allow(clippy::disallowed_methods)] // sealing and fingerprinting need the bytes
    pub fn seal(
        &self,
        org: &OrgId,
        client_id: &str,
        secret: &SecretString,
    ) -> Result<Sealed, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = associated_data(org, client_id);
        let ciphertext = self
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: secret.expose_secret().as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::Seal(format!("{org} / {client_id}")))?;
        Ok(Sealed { ciphertext, nonce })
    }

    /// Opens a secret sealed for the row (`org`, `client_id`); fails with `Corrupt` when
    /// the key, the row or the bytes do not match.
    pub fn unseal(
        &self,
        org: &OrgId,
        client_id: &str,
        ciphertext: &[u8],
        nonce: &[u8],
    ) -> Result<SecretString, StoreError> {
        let corrupt = || {
            StoreError::Corrupt(format!(
                "the sealed secret of {org} / {client_id} does not open (tampered or moved)"
            ))
        };
        let nonce = XNonce::try_from(nonce).map_err(|_| corrupt())?;
        let aad = associated_data(org, client_id);
        let plain = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| corrupt())?;
        match String::from_utf8(plain) {
            Ok(text) => Ok(SecretString::from(text)),
            Err(e) => {
                drop(Zeroizing::new(e.into_bytes()));
                Err(corrupt())
            }
        }
    }

    /// The key check value stored in the `meta` table.
    pub fn key_check_value(&self) -> Vec<u8> {
        let mut mac = self.key_check.clone();
        mac.update(KEY_CHECK_MESSAGE);
        mac.finalize().into_bytes().to_vec()
    }

    /// True when `stored` is the key check value of this key (constant-time comparison).
    pub fn key_check_matches(&self, stored: &[u8]) -> bool {
        let mut mac = self.key_check.clone();
        mac.update(KEY_CHECK_MESSAGE);
        mac.verify_slice(stored).is_ok()
    }
}

impl Crypto {
    /// The audit-chain HMAC of `parts`, each length-prefixed (so no two different lists of
    /// parts hash alike).
    pub fn audit_mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = self.audit.clone();
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }

    /// True when `tag` is the audit-chain HMAC of `parts` (constant-time comparison).
    pub fn audit_mac_matches(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        let mut mac = self.audit.clone();
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.verify_slice(tag).is_ok()
    }
}

fn associated_data(org: &OrgId, client_id: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(org.as_str().len() + 1 + client_id.len());
    aad.extend_from_slice(org.as_str().as_bytes());
    aad.push(0);
    aad.extend_from_slice(client_id.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(n: u8) -> OrgId {
        OrgId::parse(&format!("{n:08x}-0000-4000-8000-000000000000")).unwrap()
    }

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn seal_and_unseal_round_trip_with_fresh_nonces() {
        let c = Crypto::derive(&StoreKey::generate()).unwrap();
        let a = c.seal(&org(1), "sas-1", &secret("hunter2-secret")).unwrap();
        let b = c.seal(&org(1), "sas-1", &secret("hunter2-secret")).unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
        assert!(!a.ciphertext.windows(7).any(|w| w == b"hunter2"));
        let opened = c.unseal(&org(1), "sas-1", &a.ciphertext, &a.nonce).unwrap();
        assert_eq!(opened.expose_secret(), "hunter2-secret");
    }

    #[test]
    fn sealed_secret_is_bound_to_its_row_and_key() {
        let c = Crypto::derive(&StoreKey::generate()).unwrap();
        let s = c.seal(&org(1), "sas-1", &secret("x")).unwrap();
        for (o, id) in [(org(2), "sas-1"), (org(1), "sas-2"), (org(1), "sas-1\0")] {
            let err = c.unseal(&o, id, &s.ciphertext, &s.nonce).unwrap_err();
            assert!(matches!(err, StoreError::Corrupt(_)));
        }
        let other = Crypto::derive(&StoreKey::generate()).unwrap();
        assert!(other
            .unseal(&org(1), "sas-1", &s.ciphertext, &s.nonce)
            .is_err());
        let mut tampered = s.ciphertext.clone();
        tampered[0] ^= 1;
        assert!(c.unseal(&org(1), "sas-1", &tampered, &s.nonce).is_err());
        assert!(c
            .unseal(&org(1), "sas-1", &s.ciphertext, &s.nonce[..12])
            .is_err());
    }

    #[test]
    fn fingerprints_are_short_hex_keyed_and_stable() {
        let key = StoreKey::generate();
        let c = Crypto::derive(&key).unwrap();
        let again = Crypto::derive(&key.clone()).unwrap();
        let f = c.fingerprint(&secret("one"));
        assert_eq!(f.as_str().len(), 16);
        assert!(f
            .as_str()
            .chars()
            .all(|ch| ch.is_ascii_hexdigit() && !ch.is_ascii_uppercase()));
        assert!(crate::domain::Fingerprint::is_valid(f.as_str()));
        assert_eq!(f, again.fingerprint(&secret("one")));
        assert_ne!(f, c.fingerprint(&secret("two")));
        let other = Crypto::derive(&StoreKey::generate()).unwrap();
        assert_ne!(f, other.fingerprint(&secret("one")));
    }

    #[test]
    fn key_check_verifies_only_its_own_key() {
        let c = Crypto::derive(&StoreKey::generate()).unwrap();
        let v = c.key_check_value();
        assert!(c.key_check_matches(&v));
        let other = Crypto::derive(&StoreKey::generate()).unwrap();
        assert!(!other.key_check_matches(&v));
        assert!(!c.key_check_matches(&v[..16]));
    }

    #[test]
    fn derived_keys_differ_from_each_other() {
        // The fingerprint of the key check message must not equal the key check value:
        // the two HMAC keys come from different HKDF info strings.
        let c = Crypto::derive(&StoreKey::generate()).unwrap();
        let mut mac = c.fingerprint.clone();
        mac.update(KEY_CHECK_MESSAGE);
        assert_ne!(mac.finalize().into_bytes().to_vec(), c.key_check_value());
    }
}
