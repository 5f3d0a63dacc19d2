//! Styles. Text uses the terminal's own foreground and background, so the console reads
//! well on dark and light backgrounds; colour is only an accent, and `NO_COLOR` removes it
//! (modifiers such as bold, reversed and dim remain).

use ratatui::style::{Color, Modifier, Style};

/// The styles the views use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub title: Style,
    pub label: Style,
    pub header: Style,
    pub selected: Style,
    pub dim: Style,
    pub accent: Style,
    pub key: Style,
    pub off: Style,
    pub info: Style,
    pub warning: Style,
    pub error: Style,
    pub ok: Style,
    pub secret: Style,
}

impl Theme {
    /// The theme, with or without colour.
    pub fn new(color: bool) -> Self {
        let c = |style: Style, color_: Color| if color { style.fg(color_) } else { style };
        let bold = Style::new().add_modifier(Modifier::BOLD);
        Theme {
            title: c(bold, Color::Cyan),
            label: Style::new().add_modifier(Modifier::DIM),
            header: Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            dim: Style::new().add_modifier(Modifier::DIM),
            accent: c(bold, Color::Cyan),
            key: c(bold, Color::Cyan),
            off: Style::new().add_modifier(Modifier::DIM | Modifier::CROSSED_OUT),
            info: c(Style::new(), Color::Cyan),
            warning: c(bold, Color::Yellow),
            error: c(bold, Color::Red),
            ok: c(Style::new(), Color::Green),
            secret: c(bold, Color::Magenta),
        }
    }

    /// Colour unless `NO_COLOR` is set to a non-empty value (<https://no-color.org>).
    pub fn from_env() -> Self {
        Theme::new(!no_color(std::env::var_os("NO_COLOR").as_deref()))
    }
}

impl Default for Theme {
    fn default() -> Self {
        Theme::new(true)
    }
}

/// Whether a `NO_COLOR` value asks for no colour.
pub fn no_color(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn styles(t: &Theme) -> [Style; 13] {
        [
            t.title, t.label, t.header, t.selected, t.dim, t.accent, t.key, t.off, t.info,
            t.warning, t.error, t.ok, t.secret,
        ]
    }

    #[test]
    fn no_color_theme_has_no_colours_and_never_sets_a_background() {
        for s in styles(&Theme::new(false)) {
            assert_eq!(s.fg, None);
            assert_eq!(s.bg, None);
        }
        for s in styles(&Theme::new(true)) {
            assert_eq!(s.bg, None, "backgrounds stay the terminal's own");
        }
        assert!(Theme::new(true).error.fg.is_some());
    }

    #[test]
    fn no_color_env_value() {
        assert!(!no_color(None));
        assert!(!no_color(Some(std::ffi::OsStr::new(""))));
        assert!(no_color(Some(std::ffi::OsStr::new("1"))));
    }
}
