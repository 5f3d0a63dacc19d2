//! The help screen's text: every group of bindings from the key table, descriptions
//! wrapped to the width, keys `--readonly` turns off marked. Pure; `draw::help` styles it
//! and the app scrolls it.

use crate::tui::keys::groups;

/// One line of the help screen, before styling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelpLine {
    Heading(&'static str),
    /// A binding (`label` on its first line only), its description wrapped to the width,
    /// and whether `--readonly` turned it off.
    Entry {
        label: Option<&'static str>,
        text: String,
        off: bool,
    },
    Blank,
}

/// Columns before a description on the help screen.
pub const HELP_INDENT: usize = 18;

/// The help screen's lines for a width: every group of [`groups`], descriptions wrapped.
pub fn help_lines(width: u16, readonly: bool) -> Vec<HelpLine> {
    let room = usize::from(width).saturating_sub(HELP_INDENT + 1).max(10);
    let mut out = Vec::new();
    for (title, bindings) in groups() {
        out.push(HelpLine::Heading(title));
        for b in bindings {
            let off = readonly && b.writes;
            let mut text = b.description.to_string();
            if off {
                text.push(' ');
                text.push_str(crate::tui::strings::HELP_UNAVAILABLE);
            }
            for (i, part) in wrap(&text, room).into_iter().enumerate() {
                out.push(HelpLine::Entry {
                    label: (i == 0).then_some(b.label),
                    text: part,
                    off,
                });
            }
        }
        out.push(HelpLine::Blank);
    }
    out
}

/// Greedy word wrap to `width` characters (a longer word gets a line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_wraps_descriptions_to_the_width() {
        for width in [60u16, 80, 200] {
            let lines = help_lines(width, true);
            for l in &lines {
                if let HelpLine::Entry { text, .. } = l {
                    assert!(
                        HELP_INDENT + text.chars().count() < usize::from(width),
                        "{text}"
                    );
                }
            }
            let labels = lines
                .iter()
                .filter(|l| matches!(l, HelpLine::Entry { label: Some(_), .. }))
                .count();
            assert_eq!(labels, crate::tui::keys::BINDINGS.len());
        }
        assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
    }
}
