mod app;
// Not on Windows: drives the console through a Unix pseudo-terminal; .ci/run's Windows
// leg runs the demo under Wine instead.
#[cfg(not(windows))]
mod end_to_end;
mod exposure_view;
mod headless;
// Not on Windows: drives the console through a Unix pseudo-terminal; .ci/run's Windows
// leg runs the demo under Wine instead.
#[cfg(not(windows))]
mod hostile_names;
mod onboarding_queue;
// Not on Windows: drives the console through a Unix pseudo-terminal; .ci/run's Windows
// leg runs the demo under Wine instead.
#[cfg(not(windows))]
mod pty;
mod snapshots;
