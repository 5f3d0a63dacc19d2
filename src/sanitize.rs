//! Text from the network is hostile (docs/reference/cli.md): the one sanitiser for text bound for a terminal
//! and the one neutraliser for CSV cells. Pure functions, no I/O.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal raw: C0 controls, DEL, C1 controls, and the bidi
/// controls U+202A–U+202E and U+2066–U+2069.
pub fn is_unsafe_char(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}')
}

/// Replaces each control or bidi character with a visible escape of the form `\u{1b}`
/// (lower-case hex), leaving everything else as it is. Borrows when nothing needs changing.
pub fn for_terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`for_terminal`] line by line: the line breaks of a message we composed (a list of
/// configuration problems) stay, every other control character is escaped.
pub fn for_terminal_lines(s: &str) -> String {
    s.split('\n')
        .map(for_terminal)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Cuts remote text to at most `max` characters (a `…` marks the cut) and sanitises it:
/// for error bodies and OAuth descriptions that end up in messages.
pub fn bounded(s: &str, max: usize) -> String {
    let cut: String = if s.chars().count() > max {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    } else {
        s.to_string()
    };
    for_terminal(&cut).into_owned()
}

/// Neutralises a CSV cell, in a file or on a terminal: every control or bidi character is
/// escaped as [`for_terminal`] does (a spreadsheet needs none of them, and CSV written to a
/// terminal must not carry a school name's escape sequences to the screen), then a cell a
/// spreadsheet would read as a formula, beginning with `=`, `+`, `-` or `@`, is prefixed
/// with `'`. (A leading tab or carriage return, the other formula triggers, is escaped by
/// then.)
pub fn csv_cell(s: &str) -> Cow<'_, str> {
    let clean = for_terminal(s);
    match clean.chars().next() {
        Some('=' | '+' | '-' | '@') => Cow::Owned(format!("'{clean}")),
        _ => clean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_controls_and_bidi_visibly() {
        assert_eq!(
            for_terminal("a\u{1b}]52;c;SGVsbG8=\u{7}b"),
            "a\\u{1b}]52;c;SGVsbG8=\\u{7}b"
        );
        assert_eq!(for_terminal("x\ny\rz\0"), "x\\u{a}y\\u{d}z\\u{0}");
        assert_eq!(for_terminal("\u{9b}31m\u{7f}"), "\\u{9b}31m\\u{7f}");
        assert_eq!(for_terminal("evil\u{202e}gnp.exe"), "evil\\u{202e}gnp.exe");
        assert_eq!(for_terminal("\u{2066}\u{2069}"), "\\u{2066}\\u{2069}");
    }

    #[test]
    fn lines_keep_their_breaks_and_bounded_cuts() {
        assert_eq!(for_terminal_lines("a\n\u{1b}b\r"), "a\n\\u{1b}b\\u{d}");
        assert_eq!(bounded("abcdef", 4), "abc…");
        assert_eq!(bounded("\u{7}", 4), "\\u{7}");
    }

    #[test]
    fn leaves_ordinary_text_borrowed() {
        let s = "Ysgol Iau Bryn-y-Môr — St Mary's C of E (VA)";
        assert!(matches!(for_terminal(s), Cow::Borrowed(_)));
        assert_eq!(for_terminal(s), s);
    }

    #[test]
    fn csv_formula_cells_are_prefixed() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_cell("+cmd|' /C calc'!A0"), "'+cmd|' /C calc'!A0");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tx"), "\\u{9}x");
        assert_eq!(csv_cell("\rx"), "\\u{d}x");
        assert_eq!(csv_cell("Ysgol = school"), "Ysgol = school");
        assert_eq!(csv_cell(""), "");
    }

    #[test]
    fn csv_cells_carry_no_control_or_bidi_character() {
        assert_eq!(
            csv_cell("Evil \u{1b}]52;c;SGVsbG8=\u{7}\u{1b}]0;pwned\u{7}\u{9b}0m\u{202e}x"),
            "Evil \\u{1b}]52;c;SGVsbG8=\\u{7}\\u{1b}]0;pwned\\u{7}\\u{9b}0m\\u{202e}x"
        );
        assert_eq!(csv_cell("+1\u{1b}[31m"), "'+1\\u{1b}[31m");
        assert_eq!(csv_cell("line\nbreak"), "line\\u{a}break");
        let plain = "Ysgol Iau Bryn-y-Môr, St Mary's";
        assert!(matches!(csv_cell(plain), Cow::Borrowed(_)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn no_control_or_bidi_character_survives(s in "\\PC*|[\\x00-\\x{a0}\\x{2000}-\\x{2070}]*") {
            let out = for_terminal(&s);
            prop_assert!(!out.chars().any(is_unsafe_char));
            if !s.chars().any(is_unsafe_char) {
                prop_assert_eq!(out.as_ref(), s.as_str());
            }
        }

        #[test]
        fn any_char_is_escaped_or_kept(c in any::<char>()) {
            let s = c.to_string();
            let out = for_terminal(&s);
            prop_assert!(!out.chars().any(is_unsafe_char));
            let escaped = format!("\\u{{{:x}}}", c as u32);
            prop_assert!(out == s || out == escaped);
        }

        #[test]
        fn no_csv_cell_carries_a_control_or_a_formula(s in "\\PC*|[\\x00-\\x{a0}\\x{2000}-\\x{2070}=+@-]*") {
            let out = csv_cell(&s);
            prop_assert!(!out.chars().any(is_unsafe_char));
            prop_assert!(!out.starts_with(['=', '+', '-', '@', '\t', '\r']));
        }
    }
}
