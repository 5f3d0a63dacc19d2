//! Where a harvest reads from: the SIMS ID client in production, anything else in unit tests.

use std::future::Future;
use std::time::Duration;

use crate::domain::{Credential, OrgId, Site};

/// How the harvest should treat a failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// Worth retrying (timeouts, 5xx, network), optionally after the server's delay.
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    /// `429`: the application's quota is spent for now; worth retrying after `retry_after`
    /// (every request of the harvest waits it out).
    RateLimited {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The site has no credentials for us (403 or 404): not a failure.
    NoCredentials,
    /// Will not get better by retrying.
    Permanent { message: String },
    /// About the whole run, not one site (our token lacks a scope, a `403` challenges our
    /// bearer token): reading it as "no credentials" would empty the cache, so the run fails
    /// and the store stays unchanged.
    Fatal { message: String },
}

impl FetchError {
    /// A human-readable reason, never a secret.
    pub fn message(&self) -> String {
        match self {
            FetchError::Transient { message, .. }
            | FetchError::RateLimited { message, .. }
            | FetchError::Permanent { message }
            | FetchError::Fatal { message } => message.clone(),
            FetchError::NoCredentials => "no credentials (403/404)".to_string(),
        }
    }
}

/// A source of the site list and each site's clients.
pub trait Source: Clone + Send + Sync + 'static {
    /// The complete list of sites using the application (token first if needed).
    fn sites(&self) -> impl Future<Output = Result<Vec<Site>, FetchError>> + Send;
    /// One site's clients.
    fn clients(
        &self,
        org: &OrgId,
    ) -> impl Future<Output = Result<Vec<Credential>, FetchError>> + Send;
}
