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

pub use services::{ConsoleOptions, Overview, Services};
pub mod views;
