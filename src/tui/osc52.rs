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

#[cfg(test)]
mod tests {
    use super::*;

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
