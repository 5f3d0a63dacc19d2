//! The progress bar long commands draw on stderr (harvest, bulk verify): only when stderr
//! is a terminal, so scripts and pipes see nothing.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// A bar `what [====>  ] pos/len unit  rate  eta  message`, ticking, or `None` when stderr
/// is not a terminal. One line whatever the terminal's width: the message is cut to fit
/// (a wrapped line would be redrawn as a new one each tick).
pub fn stderr_bar(what: &str, unit: &str) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {what} [{{bar:20}}] {{pos}}/{{len}} {unit}  {{rate}}  eta {{eta}}  {{wide_msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "rate",
            |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                let _ = out.write_str(&rate(state.per_sec()));
            },
        )
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    Some(bar)
}

/// A rate for people: `60.4/s` below 100 a second (one decimal), `1234/s` above, `—/s`
/// before there is one.
pub fn rate(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec < 0.0 {
        return "—/s".to_string();
    }
    if per_sec < 100.0 {
        format!("{per_sec:.1}/s")
    } else {
        format!("{per_sec:.0}/s")
    }
}

#[cfg(test)]
mod tests {
    use super::rate;

    #[test]
    fn rates_are_rounded_for_people() {
        assert_eq!(rate(60.3648), "60.4/s");
        assert_eq!(rate(0.0), "0.0/s");
        assert_eq!(rate(9.96), "10.0/s");
        assert_eq!(rate(99.94), "99.9/s");
        assert_eq!(rate(1234.56), "1235/s");
        assert_eq!(rate(f64::NAN), "—/s");
        assert_eq!(rate(f64::INFINITY), "—/s");
    }
}
