//! A private tmux server for the real-terminal tests: start a program in a pane, type keys,
//! read the screen and (optionally) the raw bytes the program wrote. Killed when dropped.
#![allow(dead_code)]

use std::process::Command;
use std::time::Duration;

/// A private tmux server (its own socket) with one pane.
pub struct Tmux {
    socket: String,
    /// Everything the pane's program wrote (tmux pipe-pane).
    raw: tempfile::NamedTempFile,
}

impl Tmux {
    /// Starts `command` in a `width`×`height` pane with `env` set; panics (with the reason)
    /// when tmux is missing: `.ci/run` installs it, and a skipped test would hide that.
    pub fn start(name: &str, width: u16, height: u16, env: &[(&str, &str)], command: &str) -> Tmux {
        let ok = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            ok,
            "tmux is required for the real-terminal tests (.ci/run installs it)"
        );
        // A socket name no other run can have: pid (unique among live processes) and a
        // random part (a server left behind by a killed run whose pid is reused).
        let tmux = Tmux {
            socket: format!(
                "simsid-test-{}-{}-{name}",
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            ),
            raw: tempfile::NamedTempFile::new().expect("temp file"),
        };
        let (w, h) = (width.to_string(), height.to_string());
        let mut args: Vec<String> = ["-f", "/dev/null", "new-session", "-d", "-x", &w, "-y", &h]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for (k, v) in env {
            args.push("-e".into());
            args.push(format!("{k}={v}"));
        }
        args.push(command.to_string());
        tmux.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        tmux.run(&["set-option", "-g", "set-clipboard", "on"]);
        let pipe = format!("cat >> '{}'", tmux.raw.path().display());
        tmux.run(&["pipe-pane", "-t", "0", "-o", &pipe]);
        tmux
    }

    /// Runs a tmux command against this server; returns its stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .env_remove("TMUX")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The visible screen as text.
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "0"])
    }

    /// Sends named keys (`Enter`, `Escape`, `q`…), one at a time.
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.run(&["send-keys", "-t", "0", k]);
        }
    }

    /// Types `text` literally.
    pub fn text(&self, text: &str) {
        self.run(&["send-keys", "-t", "0", "-l", text]);
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

    /// Whether the raw output contains `want` now.
    pub fn raw_has(&self, want: &[u8]) -> bool {
        let raw = std::fs::read(self.raw.path()).unwrap_or_default();
        raw.windows(want.len()).any(|w| w == want)
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

    /// A tmux format of the pane (`#{alternate_on}`, `#{cursor_flag}`, `#{pane_pid}`…).
    pub fn format(&self, f: &str) -> String {
        self.run(&["display-message", "-p", "-t", "0", f])
            .trim()
            .to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .env_remove("TMUX")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}
