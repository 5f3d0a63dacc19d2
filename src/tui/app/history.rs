//! The history screen's state and the view of one past run's diff.

use crate::domain::RunSummary;
use crate::tui::app::cursor::Cursor;
use crate::tui::app::diff::DiffList;
use crate::tui::app::site::Load;
use crate::tui::app::Screen;

/// Past runs, newest first, and the selected one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryView {
    pub runs: Load<Vec<RunSummary>>,
    pub cursor: Cursor,
}

impl HistoryView {
    /// A view waiting for the runs.
    pub fn new() -> Self {
        HistoryView {
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

impl Default for HistoryView {
    fn default() -> Self {
        HistoryView::new()
    }
}

/// One run opened from the history: its summary and a selectable list of its changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunView {
    pub run: Box<RunSummary>,
    pub changes: DiffList,
}

/// What comes back for this screen from the background (the app's result handlers).
impl super::App {
    pub(super) fn runs_loaded(&mut self, result: Result<Vec<RunSummary>, String>) {
        let page = self.page();
        for screen in self.stack.iter_mut().rev() {
            if let Screen::History(view) = screen {
                view.runs = match result {
                    Ok(runs) => Load::Ready(runs),
                    Err(e) => Load::Failed(e),
                };
                let len = view.runs().len();
                view.cursor.clamp(len, page);
                return;
            }
        }
    }
}
