//! A selection in a list and the first row shown, kept inside the list's bounds.

use crate::tui::action::UserCommand;

/// The selected row and the scroll offset of a list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    selected: usize,
    offset: usize,
}

impl Cursor {
    /// The selected row (0 when the list is empty).
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// The first row shown.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Applies a movement command; returns whether it was one.
    pub fn apply(&mut self, command: UserCommand, len: usize, page: usize) -> bool {
        let page = page.max(1);
        let last = len.saturating_sub(1);
        self.selected = match command {
            UserCommand::Up => self.selected.saturating_sub(1),
            UserCommand::Down => (self.selected + 1).min(last),
            UserCommand::PageUp => self.selected.saturating_sub(page),
            UserCommand::PageDown => (self.selected + page).min(last),
            UserCommand::Top => 0,
            UserCommand::Bottom => last,
            _ => return false,
        };
        self.scroll(len, page);
        true
    }

    /// Selects row `index` (clamped).
    pub fn select(&mut self, index: usize, len: usize, page: usize) {
        self.selected = index.min(len.saturating_sub(1));
        self.scroll(len, page.max(1));
    }

    /// Keeps the cursor inside a list that may have shrunk.
    pub fn clamp(&mut self, len: usize, page: usize) {
        self.select(self.selected, len, page);
    }

    fn scroll(&mut self, len: usize, page: usize) {
        self.offset = window(self.selected, self.offset, len, page);
    }
}

/// The first row to show so that `selected` is visible in `height` rows, moving the
/// previous offset as little as possible. Pure, so the drawing code can use it with their real height.
pub fn window(selected: usize, offset: usize, len: usize, height: usize) -> usize {
    if height == 0 || len == 0 {
        return 0;
    }
    let max_offset = len.saturating_sub(height);
    let mut off = offset.min(max_offset);
    if selected < off {
        off = selected;
    } else if selected >= off + height {
        off = selected + 1 - height;
    }
    off.min(max_offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_stay_in_bounds() {
        let mut c = Cursor::default();
        c.apply(UserCommand::Up, 10, 3);
        assert_eq!(c.selected(), 0);
        c.apply(UserCommand::PageDown, 10, 3);
        assert_eq!((c.selected(), c.offset()), (3, 1));
        c.apply(UserCommand::Bottom, 10, 3);
        assert_eq!((c.selected(), c.offset()), (9, 7));
        c.apply(UserCommand::Down, 10, 3);
        assert_eq!(c.selected(), 9);
        c.apply(UserCommand::PageDown, 10, 3);
        assert_eq!(c.selected(), 9);
        c.apply(UserCommand::Top, 10, 3);
        assert_eq!((c.selected(), c.offset()), (0, 0));
        c.apply(UserCommand::Down, 0, 3);
        assert_eq!(c.selected(), 0, "empty list");
    }

    #[test]
    fn window_keeps_selection_visible() {
        assert_eq!(window(5, 0, 100, 10), 0);
        assert_eq!(window(15, 0, 100, 10), 6);
        assert_eq!(window(3, 6, 100, 10), 3);
        assert_eq!(window(99, 95, 100, 10), 90);
        assert_eq!(window(2, 50, 5, 10), 0);
    }
}
