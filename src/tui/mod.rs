//! The terminal console (placeholder doc, rewritten below).
pub mod action;
pub mod app;
pub mod format;
pub mod keys;
pub mod osc52;
pub mod pacer;
pub mod services;
pub mod strings;
pub mod theme;
pub mod views;

mod run;
mod terminal;

pub use action::{Action, Command, Effect};
pub use app::App;
pub use run::run;
pub use services::{ConsoleOptions, Overview, Services};
pub use terminal::PANIC_MESSAGE;
