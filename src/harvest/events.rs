//! Progress events a harvest sends to whoever shows them (console pane, progress bar).

use std::time::Duration;

use crate::domain::{OrgId, RunSummary};

/// One step of a running harvest. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HarvestEvent {
    /// The token was obtained and the site list fetched: `total` sites to harvest.
    Listed { total: usize },
    /// A request for this site's clients started (requests in flight += 1).
    SiteStarted { org: OrgId },
    /// A request failed transiently and will be retried after `delay`
    /// (`org` is `None` for the token or the site list).
    Retrying {
        org: Option<OrgId>,
        attempt: u32,
        delay: Duration,
        reason: String,
    },
    /// A request was answered `429` (`org` is `None` for the site list): every request
    /// waits `retry_after` before going again.
    RateLimited {
        org: Option<OrgId>,
        retry_after: Duration,
    },
    /// The shared limiter changed what it allows.
    Limits(Limits),
    /// A site's clients were fetched (requests in flight -= 1).
    SiteDone { org: OrgId, credentials: usize },
    /// A site's clients could not be fetched after retries (requests in flight -= 1).
    SiteFailed { org: OrgId, error: String },
    /// After fetching, the commit sink (the vault, in vault mode) has stored `done` of the
    /// `total` changes it has to store.
    Stored { done: usize, total: usize },
}

/// What the harvest's shared limiter allows (see `harvest::limiter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests allowed in flight (1 to the ceiling).
    pub concurrency: usize,
    /// The configured `concurrency`: the most ever allowed.
    pub ceiling: usize,
    /// The learned request rate being paced, in requests per second, if any.
    pub rate: Option<u32>,
}

/// How a harvest ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HarvestEnd {
    /// Cancelled (the user, Ctrl-C or a signal): nothing was committed; the run was
    /// recorded as `cancelled`.
    Cancelled(Box<RunSummary>),
    /// Ran to an end (complete, partial or failed) and was recorded.
    Finished(Box<RunSummary>),
}
