mod console_signals;
mod harvest_signals;
mod metrics;
mod status;
mod systemd;
