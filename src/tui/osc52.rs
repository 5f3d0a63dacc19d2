//! OSC 52 clipboard writes: the only way the console touches a clipboard. The terminal
//! (local or at the other end of ssh) puts the payload on the system clipboard.

use std::io::{self, Write};

use base64::Engine as _;
use zeroize::Zeroizing;

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;

/// Writes `ESC ] 52 ; c ; <base64 payload> BEL` to `out`. Inside tmux (`tmux = true`) the
/// sequence is wrapped in tmux's passthrough `ESC P tmux; … ESC \` with every inner `ESC`
/// doubled. An empty payload clears the clipboard. Intermediate copies of the payload are
/// zeroed when dropped.
pub fn write_osc52<W: Write + ?Sized>(out: &mut W, payload: &[u8], tmux: bool) -> io::Result<()> {
    let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(payload));
    let mut seq = Zeroizing::new(Vec::with_capacity(encoded.len() + 16));
    seq.extend_from_slice(&[ESC, b']']);
    seq.extend_from_slice(b"52;c;");
    seq.extend_from_slice(encoded.as_bytes());
    seq.push(BEL);
    if tmux {
        let mut wrapped = Zeroizing::new(Vec::with_capacity(seq.len() + 16));
        wrapped.extend_from_slice(&[ESC, b'P']);
        wrapped.extend_from_slice(b"tmux;");
        for &b in seq.iter() {
            if b == ESC {
                wrapped.push(ESC);
            }
            wrapped.push(b);
        }
        wrapped.extend_from_slice(&[ESC, b'\\']);
        out.write_all(&wrapped)?;
    } else {
        out.write_all(&seq)?;
    }
    out.flush()
}

/// Writes the OSC 52 sequence that empties the clipboard.
pub fn write_clear<W: Write + ?Sized>(out: &mut W, tmux: bool) -> io::Result<()> {
    write_osc52(out, b"", tmux)
}

/// Whether we run inside tmux (`$TMUX` set and not empty).
pub fn inside_tmux() -> bool {
    std::env::var_os("TMUX").is_some_and(|v| !v.is_empty())
}

/// How a copy reaches the clipboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The plain sequence: straight to the terminal, or to tmux with `set-clipboard on`
    /// (tmux then sets its buffer and the outer terminal's clipboard).
    Plain,
    /// Wrapped in tmux's passthrough (tmux with `allow-passthrough on`).
    TmuxPassthrough,
    /// Inside tmux that takes neither (its defaults, `set-clipboard external` and no
    /// passthrough): a copy would never reach the clipboard.
    TmuxBlocked,
}

impl Route {
    /// Whether the sequence is wrapped for tmux's passthrough.
    pub fn wrapped(self) -> bool {
        self == Route::TmuxPassthrough
    }
}

/// The route inside tmux from its global options `set-clipboard` and `allow-passthrough`
/// as `tmux show -gv` prints them (`None`: not known, as with a tmux too old for the
/// option, which then passes sequences through).
pub fn tmux_route(set_clipboard: Option<&str>, allow_passthrough: Option<&str>) -> Route {
    match (
        set_clipboard.map(str::trim),
        allow_passthrough.map(str::trim),
    ) {
        (Some("on"), _) => Route::Plain,
        (_, Some("on" | "all")) => Route::TmuxPassthrough,
        // A tmux before 3.3 has no allow-passthrough and passes the wrapped form through.
        (_, None) => Route::TmuxPassthrough,
        _ => Route::TmuxBlocked,
    }
}

/// The route for this process: plain outside tmux; inside, asked of tmux (two quick
/// `tmux show -gv` calls).
pub fn detect_route() -> Route {
    if !inside_tmux() {
        return Route::Plain;
    }
    let option = |name: &str| -> Option<String> {
        let out = std::process::Command::new("tmux")
            .args(["show", "-gv", name])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    tmux_route(
        option("set-clipboard").as_deref(),
        option("allow-passthrough").as_deref(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmux_routes_from_its_options() {
        assert_eq!(tmux_route(Some("on"), Some("off")), Route::Plain);
        assert_eq!(
            tmux_route(Some("external"), Some("on")),
            Route::TmuxPassthrough
        );
        assert_eq!(
            tmux_route(Some("external"), Some("all")),
            Route::TmuxPassthrough
        );
        // tmux's defaults since 3.3: neither reaches the clipboard.
        assert_eq!(
            tmux_route(Some("external"), Some("off")),
            Route::TmuxBlocked
        );
        assert_eq!(tmux_route(Some("off"), Some("off")), Route::TmuxBlocked);
        // Older tmux (no allow-passthrough option) passes the wrapped form through.
        assert_eq!(tmux_route(Some("external"), None), Route::TmuxPassthrough);
    }

    #[test]
    fn plain_sequence() {
        let mut buf = Vec::new();
        write_osc52(&mut buf, b"s3cret!", false).unwrap();
        assert_eq!(buf, b"\x1b]52;c;czNjcmV0IQ==\x07");
    }

    #[test]
    fn tmux_passthrough_doubles_escapes() {
        let mut buf = Vec::new();
        write_osc52(&mut buf, b"s3cret!", true).unwrap();
        assert_eq!(buf, b"\x1bPtmux;\x1b\x1b]52;c;czNjcmV0IQ==\x07\x1b\\");
    }

    #[test]
    fn clear_is_an_empty_payload() {
        let mut buf = Vec::new();
        write_clear(&mut buf, false).unwrap();
        assert_eq!(buf, b"\x1b]52;c;\x07");
        let mut buf = Vec::new();
        write_clear(&mut buf, true).unwrap();
        assert_eq!(buf, b"\x1bPtmux;\x1b\x1b]52;c;\x07\x1b\\");
    }

    #[test]
    fn payload_is_not_written_in_clear_text() {
        let mut buf = Vec::new();
        write_osc52(&mut buf, b"very-secret-value", false).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(!text.contains("very-secret-value"));
        let b64 = text
            .trim_start_matches("\x1b]52;c;")
            .trim_end_matches('\x07');
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(decoded, b"very-secret-value");
    }
}
