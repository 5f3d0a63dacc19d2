//! The full re-harvest: bounded concurrency under a shared rate limiter, retries with
//! backoff, cancellation,
//! progress events, and the diff against the previous state. Knows no terminal and no SQL:
//! it takes a [`Source`] of sites and clients, a sink of events and a cancel token, and
//! returns what to commit.

pub mod cancel;
pub mod diff;
pub mod engine;
pub mod events;
pub mod gate;
pub mod guard;
pub mod limiter;
pub mod progress;
pub mod refused;
pub mod retry;
pub mod source;

pub use cancel::Cancel;
pub use engine::{
    conclude, failed_summary, run, run_site, FetchOutcome, Fetched, HarvestOptions, NotPicked,
    DEFAULT_CONCURRENCY,
};
pub use events::{HarvestEnd, HarvestEvent, Limits};
pub use guard::hold_mass_removals;
pub use progress::Progress;
pub use refused::fail_sites;
pub use retry::RetryPolicy;
pub use source::{FetchError, Source};
