//! A real terminal for the end-to-end console tests, with nothing to install: a
//! pseudo-terminal (the kernel's, opened with rustix) whose output a terminal emulator
//! (the `vt100` crate) reads. Start a program in it, type keys, read the screen, the
//! clipboard writes (OSC 52) and the window title it was sent, and the raw bytes. The
//! program is the session leader of its own session with the pseudo-terminal as its
//! controlling terminal (`setsid --ctty`), so a resize reaches it as SIGWINCH. Killed when
//! dropped.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use rustix::termios::{tcsetwinsize, Winsize};

use crate::store::TempStore;

/// What the emulator saw beside the screen: OSC 52 writes and title changes.
#[derive(Default)]
struct Seen {
    /// Every clipboard write: its selection and its (base64) data.
    clipboard: Vec<(Vec<u8>, Vec<u8>)>,
    /// Every window title (OSC 0 / OSC 2) set.
    titles: Vec<Vec<u8>>,
}

impl vt100::Callbacks for Seen {
    fn copy_to_clipboard(&mut self, _: &mut vt100::Screen, ty: &[u8], data: &[u8]) {
        self.clipboard.push((ty.to_vec(), data.to_vec()));
    }
    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        self.titles.push(title.to_vec());
    }
    fn set_window_icon_name(&mut self, _: &mut vt100::Screen, name: &[u8]) {
        self.titles.push(name.to_vec());
    }
}

/// The emulator and everything the program wrote.
struct State {
    parser: vt100::Parser<Seen>,
    raw: Vec<u8>,
    closed: bool,
}

/// A program running in a pseudo-terminal read by a terminal emulator.
pub struct Terminal {
    child: Child,
    /// `None` once the terminal was hung up ([`Terminal::hang_up`]).
    master: Option<File>,
    state: Arc<Mutex<State>>,
    reader: Option<std::thread::JoinHandle<()>>,
    /// Tells the reader to let go of its copies of the master side.
    hang_up: Arc<std::sync::atomic::AtomicBool>,
}

impl Terminal {
    /// Starts `command` (a `sh -c` line) in a `width`×`height` terminal with `env` set
    /// (`TERM=xterm-256color`; `TMUX` removed, whatever the test runs in).
    pub fn start(width: u16, height: u16, env: &[(&str, &str)], command: &str) -> Terminal {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
            .expect("a pseudo-terminal");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let name = ptsname(&master, Vec::new()).expect("ptsname");
        let size = Winsize {
            ws_row: height,
            ws_col: width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        tcsetwinsize(&master, size).expect("window size");
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(rustix::fs::OFlags::NOCTTY.bits() as i32)
            .open(name.to_str().expect("a UTF-8 pts path"))
            .expect("the pseudo-terminal's slave side");
        let child = Command::new("setsid")
            .arg("--ctty")
            .args(["sh", "-c", command])
            .env_remove("TMUX")
            .env("TERM", "xterm-256color")
            .envs(env.iter().copied())
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave))
            .spawn()
            .expect("setsid (util-linux) runs");
        let master = File::from(master);
        let state = Arc::new(Mutex::new(State {
            parser: vt100::Parser::new_with_callbacks(height, width, 0, Seen::default()),
            raw: Vec::new(),
            closed: false,
        }));
        let hang_up = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let state = Arc::clone(&state);
            let hang_up = Arc::clone(&hang_up);
            let mut input = master.try_clone().expect("the master side");
            let mut answer = master.try_clone().expect("the master side");
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                // Ends when every holder of the slave side is gone (EIO), on drop, or when
                // the terminal is hung up (its copies of the master side closed).
                loop {
                    if hang_up.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let mut fds = [PollFd::new(&input, PollFlags::IN)];
                    let wait = Timespec {
                        tv_sec: 0,
                        tv_nsec: 20_000_000,
                    };
                    match poll(&mut fds, Some(&wait)) {
                        Ok(0) | Err(rustix::io::Errno::INTR) => continue,
                        Ok(_) => {}
                        Err(_) => break,
                    }
                    let n = match input.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let mut s = state.lock().unwrap();
                    s.parser.process(&buf[..n]);
                    s.raw.extend_from_slice(&buf[..n]);
                    // Answer a cursor position query as a terminal does.
                    if contains(&buf[..n], b"\x1b[6n") {
                        let (row, col) = s.parser.screen().cursor_position();
                        let _ = write!(answer, "\x1b[{};{}R", row + 1, col + 1);
                    }
                }
                state.lock().unwrap().closed = true;
            })
        };
        Terminal {
            child,
            master: Some(master),
            state,
            reader: Some(reader),
            hang_up,
        }
    }

    /// The program's process id (the `sh` running `command`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The visible screen as text, one line a row, trailing blanks trimmed.
    pub fn screen(&self) -> String {
        self.state.lock().unwrap().parser.screen().contents()
    }

    /// Sends named keys (`Enter`, `Escape`, or a literal such as `q`), one at a time.
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            let bytes: &[u8] = match *k {
                "Enter" => b"\r",
                "Escape" => b"\x1b",
                "Tab" => b"\t",
                "BSpace" => b"\x7f",
                other => other.as_bytes(),
            };
            self.write(bytes);
            // A lone ESC followed at once by more bytes would read as Alt+key.
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// Types `text` literally.
    pub fn text(&self, text: &str) {
        self.write(text.as_bytes());
    }

    /// Writes `bytes` as typed, at once (no pause after an escape: see [`Terminal::keys`]).
    pub fn send(&self, bytes: &[u8]) {
        self.write(bytes);
    }

    fn write(&self, bytes: &[u8]) {
        (self.master.as_ref().expect("the terminal is not hung up"))
            .write_all(bytes)
            .expect("typing into the terminal");
    }

    /// Waits until the screen contains `want`; returns the screen. The wait ends on the
    /// screen; its 90 s bound is only a last guard against a hang (a loaded machine can take
    /// seconds to start a binary).
    pub fn wait_for(&self, want: &str) -> String {
        let mut screen = String::new();
        for _ in 0..1800 {
            screen = self.screen();
            if screen.contains(want) {
                return screen;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("timed out waiting for {want:?}; screen:\n{screen}");
    }

    /// Waits (at most `bound`, a last guard) until `ready` holds of the screen; the instant
    /// it was seen to (checked every 0.2 ms: for a bench's clock), `None` past the bound.
    pub fn wait_until(&self, bound: Duration, ready: impl Fn(&str) -> bool) -> Option<Instant> {
        let start = Instant::now();
        while start.elapsed() < bound {
            if ready(&self.screen()) {
                return Some(Instant::now());
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        None
    }

    /// Everything the program wrote so far, as text (invalid UTF-8 replaced).
    pub fn raw(&self) -> String {
        String::from_utf8_lossy(&self.state.lock().unwrap().raw).into_owned()
    }

    /// Whether the raw output contains `want` now.
    pub fn raw_has(&self, want: &[u8]) -> bool {
        contains(&self.state.lock().unwrap().raw, want)
    }

    /// Waits until the raw output contains `want` (at most 30 s, a last guard).
    pub fn raw_contains(&self, want: &[u8]) -> bool {
        for _ in 0..600 {
            if self.raw_has(want) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Whether the program is on the alternate screen.
    pub fn alternate_screen(&self) -> bool {
        self.state
            .lock()
            .unwrap()
            .parser
            .screen()
            .alternate_screen()
    }

    /// Whether the cursor is shown.
    pub fn cursor_shown(&self) -> bool {
        !self.state.lock().unwrap().parser.screen().hide_cursor()
    }

    /// Every clipboard write (OSC 52) the terminal was sent: selection and base64 data.
    pub fn clipboard_writes(&self) -> Vec<(String, String)> {
        let s = self.state.lock().unwrap();
        s.parser
            .callbacks()
            .clipboard
            .iter()
            .map(|(t, d)| {
                (
                    String::from_utf8_lossy(t).into_owned(),
                    String::from_utf8_lossy(d).into_owned(),
                )
            })
            .collect()
    }

    /// Every window title (or icon name) the terminal was sent.
    pub fn titles(&self) -> Vec<String> {
        let s = self.state.lock().unwrap();
        s.parser
            .callbacks()
            .titles
            .iter()
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .collect()
    }

    /// Resizes the terminal (the program gets SIGWINCH from the kernel).
    pub fn resize(&self, width: u16, height: u16) {
        self.state
            .lock()
            .unwrap()
            .parser
            .screen_mut()
            .set_size(height, width);
        let size = Winsize {
            ws_row: height,
            ws_col: width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let master = self.master.as_ref().expect("the terminal is not hung up");
        tcsetwinsize(master, size).expect("window size");
    }

    /// Closes the terminal as a dropped SSH connection or a closed terminal window does:
    /// every copy of the master side is closed, so the kernel hangs the terminal up (its
    /// session leader gets SIGHUP; every reader of the terminal then reads end of file).
    pub fn hang_up(&mut self) {
        self.hang_up
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        drop(self.master.take());
    }

    /// Waits (at most `bound`, a last guard) for the program started in the terminal to
    /// end; its exit status, or `None` while it still runs.
    pub fn wait_exit(&mut self, bound: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for the program") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        // The whole session: the shell and what it started.
        let pgid = self.child.id() as i32;
        if let Some(pid) = rustix::process::Pid::from_raw(pgid) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The reader ends once no process holds the slave side any more.
        if let Some(reader) = self.reader.take() {
            for _ in 0..100 {
                if reader.is_finished() {
                    let _ = reader.join();
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A private shell script `name` in `ts`'s folder that exports `env` (it holds the
/// integrator's secret, so it goes on no command line), sets HOME to that folder and runs
/// `body`; the line that starts it (for [`Terminal::start`]).
pub fn script(ts: &TempStore, name: &str, env: &BTreeMap<String, String>, body: &str) -> String {
    let path = ts.dir.path().join(name);
    let mut text = String::from("#!/bin/sh\n");
    for (k, v) in env {
        text.push_str(&format!("export {k}='{v}'\n"));
    }
    text.push_str(&format!(
        "export HOME='{}'\n{body}",
        ts.dir.path().display()
    ));
    std::fs::write(&path, text).expect("the script is written");
    format!("exec sh '{}'", path.display())
}

/// The line that starts the real console (`simsid tui`) from a [`script`] with `env`:
/// `before` it, the console's line starting with `launch` (`exec ` makes the console the
/// session leader), then `after`.
pub fn console_script(
    ts: &TempStore,
    env: &BTreeMap<String, String>,
    before: &str,
    launch: &str,
    after: &str,
) -> String {
    let simsid = crate::process::binary();
    let body = format!("{before}{launch}'{}' tui\n{after}", simsid.display());
    script(ts, "console.sh", env, &body)
}
