//! Hostile data for the tests of remote text: a client id that tries escape sequences, and
//! the check that nothing a terminal would act on reaches it.

use secrecy::SecretString;
use simsid_simulator::SimClient;

/// A client id carrying OSC 52 (clipboard), BEL and a line feed that would forge a row.
pub const HOSTILE_CLIENT: &str = "sas-\u{1b}]52;c;SGVsbG8=\u{7}-x\r\nREFUSED";

/// Bytes that must never reach a terminal from remote text.
pub fn assert_terminal_safe(text: &str) {
    for c in text.chars() {
        assert!(
            c == '\n' || !simsid::sanitize::is_unsafe_char(c),
            "raw {:?} in output:\n{text}",
            c
        );
    }
}

/// A client with [`HOSTILE_CLIENT`] as its id and a formula with an escape as its
/// description.
pub fn hostile_client(secret: &str) -> SimClient {
    SimClient {
        client_id: HOSTILE_CLIENT.into(),
        secret: SecretString::from(secret.to_string()),
        description: "@SUM(1+1)*cmd|' /C calc'!A0\u{1b}[2J".into(),
        ocpaimkey: None,
    }
}
