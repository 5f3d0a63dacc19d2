//! The full re-harvest: bounded concurrency, retries with backoff, cancellation,
//! progress events, and the diff against the previous state.

pub mod events;

pub use events::{HarvestEnd, HarvestEvent};
