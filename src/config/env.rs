//! Environment access: where variables are read from, which ones `resolve` knows, and how a
//! variable's name may appear in a message.

use std::collections::BTreeMap;

/// Where the process reads environment variables from (injectable for tests).
pub trait Env {
    /// The variable's value as set (possibly empty), `None` when unset.
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// The environment variables `resolve` reads by name; an empty one is an error, never a
/// silent fall back to the default (an empty `SIMSID_STS_URL` must not mean production).
const KNOWN_VARS: [&str; 18] = [
    "SIMSID_CONFIG",
    "SIMSID_PROFILE",
    "SIMSID_APPLICATION_ID",
    "SIMSID_CLIENT_ID",
    "SIMSID_ORGANISATION_ID",
    "SIMSID_CLIENT_SECRET",
    "SIMSID_STS_URL",
    "SIMSID_API_BASE",
    "SIMSID_SCOPES",
    "SIMSID_CONCURRENCY",
    "SIMSID_STORE",
    "SIMSID_STORE_KEY",
    "SIMSID_LOG",
    "SIMSID_READONLY",
    "SIMSID_APIM_KEY",
    "SIMSID_STS_CLIENT_AUTH",
    "SIMSID_METRICS",
    "SIMSID_SOURCE",
];

/// An [`Env`] that reads empty values as unset: used once empty ones have been reported.
pub(super) struct NonEmpty<'a>(pub(super) &'a dyn Env);

impl Env for NonEmpty<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.0.var(name).filter(|v| !v.is_empty())
    }
}

/// Whether `name` is a valid environment variable name (`[A-Za-z_][A-Za-z0-9_]*`, at most
/// 128). A value that is not may be a secret pasted in the wrong place: it is never echoed.
pub fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 128
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// How a `*_env` key's value may be quoted in a message: its name when it is a valid
/// variable name, otherwise a note that it is not (it may be a secret).
pub(super) fn var_label(key: &str, value: &str) -> String {
    if is_var_name(value) {
        format!("`{key}` names ${value}")
    } else {
        format!(
            "the value of `{key}` is not an environment variable name (not shown: it may be \
             a secret pasted in the wrong place; put the variable's name there)"
        )
    }
}

/// Every known variable that is set but empty: a problem, never a silent default.
pub(super) fn empty_vars(env: &dyn Env) -> Vec<String> {
    KNOWN_VARS
        .iter()
        .filter(|name| env.var(name).is_some_and(|v| v.is_empty()))
        .map(|name| {
            format!(
                "{name} is set but empty: give it a value or unset it (an empty value never \
                 falls back to the default)"
            )
        })
        .collect()
}
