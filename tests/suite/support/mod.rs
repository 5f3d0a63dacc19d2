//! Helpers shared by the suite's tests (no test lives here).

pub mod child;
pub mod common;
pub mod disk;
pub mod hostile;
pub mod store_support;
pub mod terminal;
pub mod tools;
pub mod tui_support;
pub mod vault_support;
