mod app;
mod end_to_end;
mod exposure_view;
mod headless;
mod hostile_names;
mod onboarding_queue;
mod pty;
mod snapshots;
