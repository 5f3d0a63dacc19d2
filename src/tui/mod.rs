//! The terminal console: the only code that draws.
//!
//! # Structure
//! ```text
//! tui/
//!   mod.rs        this overview; exports run, Services, Overview, ConsoleOptions
//!   services.rs   the Services trait the binary implements over store, SIMS client, harvest
//!   action.rs     Action (keys, ticks, results of background work), Effect (work to do),
//!                 UserCommand (what a key means)
//!   app/          App state and the pure App::update(Action) -> Vec<Effect> (no I/O; time
//!                 arrives as Action::Tick, so timeouts are testable)
//!     sites.rs      rows loaded once + a Vec of indices for sort / status filter / filter
//!                   (the filter itself is `crate::filter`, shared with `simsid sites`)
//!     site.rs       an open site: selection, revealed secret and its deadline, verify
//!     harvest.rs    harvest progress counters, rate, ETA, outcome
//!     diff.rs       a run's diff as a selectable list of changes
//!     history.rs    past runs; one run's changes
//!     command.rs    the `:` command line
//!     input.rs      what each key command does in each mode and screen
//!     cursor.rs     list selection and scrolling; flash.rs fading messages
//!   keys.rs       THE key table: key handling, footer hints and help all come from it
//!   views/        draw(&App, &mut Frame) reads only: sites, site, harvest, history, help,
//!                 confirm, small ("terminal too small"), chrome (title, status, footer),
//!                 diff, fit (exact layout arithmetic)
//!   theme.rs      terminal default colours + modifiers, accents only; NO_COLOR honoured
//!   strings.rs    every user-facing word
//!   format.rs     times (`2026-11-27 16:55`, UTC), durations, badges
//!   osc52.rs      clipboard writes (OSC 52, tmux passthrough) to any `impl Write`
//!   pacer.rs      frame pacing (≤ 1 frame / 50 ms; ≥ 10 / s while a harvest runs)
//!   run.rs        the runtime: input thread → key table → update → effects → draw
//!   terminal.rs   raw mode / alternate screen, restored on quit, error and panic
//! ```
//!
//! # Flow
//! The runtime reads terminal events on a thread, looks keys up in the key table for the
//! app's current [`keys::KeyScope`], and feeds [`Action`]s to [`App::update`]. Effects are
//! run by the loop: quick [`Services`] calls answer at once, slow ones (verify, harvest) run
//! in tokio tasks and answer with actions on a channel. Harvest progress events are drained
//! in batches (one action per batch) and frames are paced, so a fast harvest never floods
//! the screen. Secrets: a revealed secret lives only in the open site's state (dropped on
//! timeout or when the screen is left); a copied secret goes from [`Services::copy_secret`]
//! straight to the terminal as OSC 52 and never enters the state. Nothing here logs.
pub mod action;
pub mod app;
pub mod draw;
pub mod format;
pub mod help;
pub mod keys;
pub mod osc52;
pub mod pacer;
pub mod services;
pub mod strings;
pub mod theme;

mod run;
mod terminal;

pub use crate::domain::{Capabilities, Refresh};
pub use action::{Action, Effect, UserCommand};
pub use app::App;
pub use run::{run, run_headless};
pub use services::{ConsoleOptions, Overview, Services};
pub use terminal::PANIC_MESSAGE;
