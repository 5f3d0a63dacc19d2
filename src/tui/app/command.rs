//! The `:` command line.

use crate::tui::strings;

/// A parsed `:` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineCommand {
    /// `:goto ORG` — organisation id (any case, braces), DfE code or DENI number.
    Goto(String),
    /// `:harvest` — same as `R`.
    Harvest,
    /// `:profile NAME`.
    Profile(String),
    /// `:q` or `:quit`.
    Quit,
}

/// Parses the text typed after `:`; errors are messages for the user.
pub fn parse(text: &str) -> Result<LineCommand, String> {
    let text = text.trim().trim_start_matches(':').trim();
    let (word, arg) = match text.split_once(char::is_whitespace) {
        Some((w, a)) => (w, a.trim()),
        None => (text, ""),
    };
    match word {
        "goto" | "g" if !arg.is_empty() => Ok(LineCommand::Goto(arg.to_string())),
        "goto" | "g" => Err(strings::usage(":goto ORG")),
        "harvest" => Ok(LineCommand::Harvest),
        "profile" if !arg.is_empty() => Ok(LineCommand::Profile(arg.to_string())),
        "profile" => Err(strings::usage(":profile NAME")),
        "q" | "quit" => Ok(LineCommand::Quit),
        _ => Err(strings::unknown_command(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        assert_eq!(
            parse("goto 123/4567"),
            Ok(LineCommand::Goto("123/4567".into()))
        );
        assert_eq!(
            parse("  goto   {abc}  "),
            Ok(LineCommand::Goto("{abc}".into()))
        );
        assert_eq!(parse("harvest"), Ok(LineCommand::Harvest));
        assert_eq!(
            parse("profile staging"),
            Ok(LineCommand::Profile("staging".into()))
        );
        assert_eq!(parse("q"), Ok(LineCommand::Quit));
        assert_eq!(parse("quit"), Ok(LineCommand::Quit));
        assert!(parse("goto").is_err());
        assert!(parse("profile").is_err());
        assert!(parse("frobnicate").unwrap_err().contains("frobnicate"));
    }
}
