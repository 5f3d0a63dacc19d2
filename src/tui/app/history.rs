//! The history screen's state and the screen of one past run's diff.

use crate::domain::RunSummary;
use crate::tui::app::cursor::Cursor;
use crate::tui::app::diff::DiffList;
use crate::tui::app::site::Load;
use crate::tui::app::Screen;

/// Past runs, newest first, and the selected one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryScreen {
    pub runs: Load<Vec<RunSummary>>,
    pub cursor: Cursor,
}

impl HistoryScreen {
    /// A screen waiting for the runs.
    pub fn new() -> Self {
        HistoryScreen {
            runs: Load::Loading,
            cursor: Cursor::default(),
        }
    }

    /// The loaded runs.
    pub fn runs(&self) -> &[RunSummary] {
        match &self.runs {
            Load::Ready(r) => r,
            _ => &[],
        }
    }

    /// The selected run.
    pub fn selected(&self) -> Option<&RunSummary> {
        self.runs().get(self.cursor.selected())
    }
}

impl Default for HistoryScreen {
    fn default() -> Self {
        HistoryScreen::new()
    }
}

/// One run opened from the history: its summary and a selectable list of its changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunScreen {
    pub run: Box<RunSummary>,
    pub changes: DiffList,
}

/// What comes back for this screen from the background (the app's result handlers).
impl super::App {
    pub(super) fn runs_loaded(&mut self, result: Result<Vec<RunSummary>, String>) {
        let page = self.page();
        for screen in self.stack.iter_mut().rev() {
            if let Screen::History(screen) = screen {
                screen.runs = match result {
                    Ok(runs) => Load::Ready(runs),
                    Err(e) => Load::Failed(e),
                };
                let len = screen.runs().len();
                screen.cursor.clamp(len, page);
                return;
            }
        }
    }
}
