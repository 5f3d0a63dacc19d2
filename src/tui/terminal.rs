//! Terminal setup and restore. The terminal is restored (raw mode off, alternate screen
//! left, cursor shown) when [`Tui`] is dropped or restored, on error and on panic: a panic
//! hook restores it and prints a generic message, never the panic's payload (which could
//! hold state).

use std::io::{self, Stdout, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};

use crossterm::cursor::{Hide, Show};
use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

/// Whether a console currently owns the terminal (the panic hook restores it then).
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Whether a panic happened while the console owned the terminal.
static PANICKED: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// The message printed after a panic instead of the panic's own text.
pub const PANIC_MESSAGE: &str =
    "simsid: internal error; the console stopped and the terminal was restored.";

/// The console's terminal: the real one ([`Tui::enter`]), or any writer standing in for
/// one of a fixed size ([`Tui::headless`]).
pub struct Tui<W: Write = TermOut> {
    pub terminal: Terminal<CrosstermBackend<W>>,
    /// The fixed size of a headless terminal; `None` for the real one (asked each time).
    fixed: Option<(u16, u16)>,
    /// Set once the real terminal is gone: nothing more is written to it.
    gone: Option<Arc<AtomicBool>>,
}

/// Standard output, until the terminal is gone: from then on writes are dropped, so that
/// nothing on the way out (ratatui showing the cursor again, and printing to the gone
/// terminal that it could not) fails on a terminal no one can see.
pub struct TermOut {
    out: Stdout,
    gone: Arc<AtomicBool>,
}

impl Write for TermOut {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.gone.load(Ordering::SeqCst) {
            return Ok(buf.len());
        }
        self.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.gone.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.out.flush()
    }
}

impl<W: Write> Tui<W> {
    /// A terminal of `size` drawn into `out`: nothing about the process's own terminal
    /// changes (the headless runtime and its tests).
    pub fn headless(out: W, size: (u16, u16)) -> anyhow::Result<Tui<W>> {
        let area = ratatui::layout::Rect::new(0, 0, size.0, size.1);
        let terminal = Terminal::with_options(
            CrosstermBackend::new(out),
            ratatui::TerminalOptions {
                viewport: ratatui::Viewport::Fixed(area),
            },
        )?;
        Ok(Tui {
            terminal,
            fixed: Some(size),
            gone: None,
        })
    }

    /// The terminal's size (columns, rows).
    pub fn size(&self) -> anyhow::Result<(u16, u16)> {
        match self.fixed {
            Some(size) => Ok(size),
            None => {
                let s = self.terminal.size()?;
                Ok((s.width, s.height))
            }
        }
    }

    /// Writes raw bytes (an OSC 52 sequence) to the terminal.
    pub fn write_raw(
        &mut self,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        let backend = self.terminal.backend_mut();
        write(backend)?;
        backend.flush()
    }

    /// Gives the terminal back (idempotent; nothing to do for a headless one).
    pub fn restore(&mut self) {
        if self.fixed.is_none() {
            restore();
        }
    }

    /// The terminal went away (a hang-up): nothing more is written to it, restoring
    /// included (there is nothing left to restore).
    pub fn abandon(&mut self) {
        if let Some(gone) = &self.gone {
            gone.store(true, Ordering::SeqCst);
        }
        ACTIVE.store(false, Ordering::SeqCst);
    }
}

impl Tui {
    /// Raw mode, alternate screen, hidden cursor, bracketed paste; undone on drop.
    pub fn enter() -> anyhow::Result<Tui> {
        let gone = Arc::new(AtomicBool::new(false));
        install_panic_hook();
        PANICKED.store(false, Ordering::SeqCst);
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let setup = execute!(
            io::stdout(),
            EnterAlternateScreen,
            Hide,
            EnableBracketedPaste
        )
        .map_err(anyhow::Error::from)
        .and_then(|()| {
            let out = TermOut {
                out: io::stdout(),
                gone: gone.clone(),
            };
            Terminal::new(CrosstermBackend::new(out)).map_err(Into::into)
        });
        match setup {
            Ok(terminal) => Ok(Tui {
                terminal,
                fixed: None,
                gone: Some(gone),
            }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }
}

impl<W: Write> Drop for Tui<W> {
    fn drop(&mut self) {
        self.restore();
    }
}

/// Whether a panic happened while the console owned the terminal.
pub fn panicked() -> bool {
    PANICKED.load(Ordering::SeqCst)
}

/// Restores the terminal if a console owns it; safe to call any number of times.
fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = execute!(
            io::stdout(),
            DisableBracketedPaste,
            LeaveAlternateScreen,
            Show
        );
        let _ = disable_raw_mode();
    }
}

/// Installs (once per process) a panic hook that, while a console owns the terminal,
/// restores it and prints [`PANIC_MESSAGE`] with the code location only. Otherwise the
/// previous hook runs as before.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if ACTIVE.load(Ordering::SeqCst) {
                restore();
                PANICKED.store(true, Ordering::SeqCst);
                let at = info
                    .location()
                    .map(|l| format!(" ({}:{})", l.file(), l.line()))
                    .unwrap_or_default();
                eprintln!("{PANIC_MESSAGE}{at}");
            } else {
                previous(info);
            }
        }));
    });
}
