//! [`SimEnv`]: the settings a client needs to reach a running simulator, and their shell
//! form for `simsid simulate`.

use secrecy::{ExposeSecret, SecretString};

/// The integrator settings for a running simulator. `Debug` hides the secret.
#[derive(Clone, Debug)]
pub struct SimEnv {
    pub application_id: String,
    pub client_id: String,
    pub organisation_id: String,
    pub client_secret: SecretString,
    pub sts_url: String,
    pub api_base: String,
}

impl SimEnv {
    /// `export SIMSID_APPLICATION_ID=…` etc, one per line: APPLICATION_ID, CLIENT_ID,
    /// ORGANISATION_ID, CLIENT_SECRET, STS_URL, API_BASE. Values are quoted for the shell
    /// when they contain anything but plain URL and identifier characters.
    pub fn shell_lines(&self) -> String {
        [
            ("APPLICATION_ID", self.application_id.as_str()),
            ("CLIENT_ID", self.client_id.as_str()),
            ("ORGANISATION_ID", self.organisation_id.as_str()),
            ("CLIENT_SECRET", self.client_secret.expose_secret()),
            ("STS_URL", self.sts_url.as_str()),
            ("API_BASE", self.api_base.as_str()),
        ]
        .iter()
        .map(|(name, value)| format!("export SIMSID_{name}={}\n", shell_quote(value)))
        .collect()
    }
}

/// `value` as one shell word: unchanged when it is made of safe characters only,
/// otherwise single-quoted (`'` becomes `'\''`).
pub(crate) fn shell_quote(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c);
    if !value.is_empty() && value.chars().all(safe) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_leaves_plain_values_and_quotes_the_rest() {
        assert_eq!(
            shell_quote("http://127.0.0.1:80/x"),
            "http://127.0.0.1:80/x"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("http://[::1]:80/"), "'http://[::1]:80/'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn debug_hides_the_secret() {
        let env = SimEnv {
            application_id: "a".into(),
            client_id: "c".into(),
            organisation_id: "o".into(),
            client_secret: SecretString::from("hunter2-secret".to_string()),
            sts_url: "s".into(),
            api_base: "b".into(),
        };
        assert!(!format!("{env:?}").contains("hunter2-secret"));
        assert!(env
            .shell_lines()
            .contains("export SIMSID_CLIENT_SECRET=hunter2-secret\n"));
    }
}
