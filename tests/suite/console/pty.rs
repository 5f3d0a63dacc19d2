//! The real console in a real pseudo-terminal read by a terminal emulator
//! (the kit's `terminal`, crates/simsid-testkit): keys, screens, OSC 52 copy, reveal, harvest, quit, and terminal
//! restore on quit and on panic.

use crate::support::child;
use crate::support::terminal;
use crate::support::tui_support;

use terminal::Terminal;

use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use secrecy::SecretString;
use simsid::domain::{OrgId, RunSummary, SiteDetail, VerifyResult};
use simsid::harvest::Cancel;
use simsid::harvest::{HarvestEnd, HarvestEvent};
use simsid::tui::{ConsoleOptions, Overview, Services};
use tokio::sync::mpsc::UnboundedSender;
use tui_support::*;

const CHILD_ENV: &str = "SIMSID_TUI_PTY_CHILD";
/// The file whose existence lets the child's fake harvest go on (see `harvest_gate`).
const GATE_ENV: &str = "SIMSID_TUI_PTY_GATE";
/// Text of a panic that must never reach the screen.
const PANIC_PAYLOAD: &str = "state-that-must-not-be-printed";

/// Services whose `site` panics, to check the terminal is restored on panic.
struct PanickingServices(Arc<FakeServices>);

impl Services for PanickingServices {
    fn overview(&self) -> anyhow::Result<Overview> {
        self.0.overview()
    }
    fn site(&self, _: &OrgId) -> anyhow::Result<Option<SiteDetail>> {
        panic!("{PANIC_PAYLOAD}")
    }
    fn runs(&self) -> anyhow::Result<Vec<RunSummary>> {
        self.0.runs()
    }
    fn reveal(&self, o: &OrgId, c: &str) -> BoxFuture<'static, anyhow::Result<SecretString>> {
        self.0.reveal(o, c)
    }
    fn copy_secret(&self, o: &OrgId, c: &str) -> BoxFuture<'static, anyhow::Result<SecretString>> {
        self.0.copy_secret(o, c)
    }
    fn verify(&self, o: &OrgId) -> BoxFuture<'static, anyhow::Result<Vec<VerifyResult>>> {
        self.0.verify(o)
    }
    fn harvest(
        &self,
        e: UnboundedSender<HarvestEvent>,
        c: Cancel,
    ) -> BoxFuture<'static, anyhow::Result<HarvestEnd>> {
        self.0.harvest(e, c)
    }
    fn harvest_site(
        &self,
        o: &OrgId,
        e: UnboundedSender<HarvestEvent>,
        c: Cancel,
    ) -> BoxFuture<'static, anyhow::Result<HarvestEnd>> {
        self.0.harvest_site(o, e, c)
    }
    fn switch_profile(&self, name: &str) -> anyhow::Result<()> {
        self.0.switch_profile(name)
    }
    fn exposures(&self) -> anyhow::Result<Vec<simsid::exposure::PersonExposures>> {
        self.0.exposures()
    }
    fn site_exposures(&self, o: &OrgId) -> anyhow::Result<Vec<simsid::exposure::Exposure>> {
        self.0.site_exposures(o)
    }
    fn verify_listed(
        &self,
        list: Vec<(OrgId, String)>,
        progress: UnboundedSender<simsid::ops::verify::Tally>,
    ) -> BoxFuture<'static, anyhow::Result<Vec<simsid::ops::verify::CredentialCheck>>> {
        self.0.verify_listed(list, progress)
    }
}

/// Runs the console when started by `console_in_a_terminal` (does nothing otherwise).
#[test]
#[ignore = "started inside a pseudo-terminal by the other tests of this file"]
fn pty_child() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    // Without $TMUX the console writes plain OSC 52, which the emulator records. (The
    // terminal removes it already; the passthrough form is checked byte for byte in the
    // osc52 unit tests.)
    std::env::remove_var("TMUX");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let services: Arc<dyn Services> = match mode.as_str() {
        "panic" => Arc::new(PanickingServices(FakeServices::new())),
        _ => match std::env::var_os(GATE_ENV) {
            Some(gate) => FakeServices::with_harvest_gate(PathBuf::from(gate)),
            None => FakeServices::new(),
        },
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(simsid::tui::run(services, ConsoleOptions::default()))
    }));
    let raw = crossterm::terminal::is_raw_mode_enabled().unwrap();
    println!(
        "CONSOLE_EXIT ok={} panicked={} raw={raw}",
        matches!(result, Ok(Ok(()))),
        result.is_err()
    );
}

/// Starts this test binary's `pty_child` in a pseudo-terminal; its fake harvest waits for
/// `gate` to exist.
fn start(mode: &str, gate: &std::path::Path) -> Terminal {
    let exe: PathBuf = std::env::current_exe().unwrap();
    let child = format!(
        "{} {} --exact --ignored --nocapture --test-threads=1; sleep 30",
        exe.display(),
        child::test_name(module_path!(), "pty_child")
    );
    let gate = gate.display().to_string();
    Terminal::start(
        100,
        30,
        &[(CHILD_ENV, mode), (GATE_ENV, &gate), ("NO_COLOR", "1")],
        &child,
    )
}

fn base64_of(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn console_in_a_terminal() {
    let gates = tempfile::tempdir().unwrap();
    let gate = gates.path().join("harvest-may-go-on");
    let t = start("normal", &gate);
    let s = t.wait_for("St Mary's C of E Primary School");
    assert!(
        t.alternate_screen(),
        "the console uses the alternate screen"
    );
    assert!(s.contains("6 of 6"));

    // Incremental filter, then Esc clears it.
    t.text("/ysgol");
    t.wait_for("2 of 6");
    t.keys(&["Escape"]);
    t.wait_for("6 of 6");

    // :goto by DfE code opens the site.
    t.text(":goto 123/4567");
    t.keys(&["Enter"]);
    let s = t.wait_for("Main MIS integration");
    assert!(s.contains("••••••••") && !s.contains(SECRET));

    // c copies through OSC 52: the terminal is sent the secret for its clipboard.
    t.text("c");
    let s = t.wait_for("clears in 30 s");
    assert!(!s.contains(SECRET), "copying does not show the secret");
    assert_eq!(
        t.clipboard_writes(),
        [("c".to_string(), base64_of(SECRET))],
        "OSC 52 reached the terminal"
    );
    let copy = format!("\x1b]52;c;{}\x07", base64_of(SECRET));
    assert!(t.raw_contains(copy.as_bytes()));
    assert!(!t.raw_has(b"\x1b]52;c;\x07"), "not cleared yet");

    // r asks, y reveals; leaving the screen hides it.
    t.text("r");
    t.wait_for("any other key");
    t.text("y");
    t.wait_for(SECRET);
    t.keys(&["Escape"]);
    let s = t.wait_for("6 of 6");
    assert!(!s.contains(SECRET));

    // A harvest with its live pane, to the end and its diff.
    t.text("R");
    t.wait_for("any other key");
    t.text("y");
    t.wait_for("Harvest in progress");
    std::fs::write(&gate, b"").unwrap();
    let s = t.wait_for("Harvest partial");
    assert!(s.contains("credential rotated"));

    // q quits: terminal restored, raw mode off, clipboard cleared.
    t.text("q");
    let s = t.wait_for("CONSOLE_EXIT");
    assert!(
        s.contains("CONSOLE_EXIT ok=true panicked=false raw=false"),
        "{s}"
    );
    assert!(!t.alternate_screen(), "alternate screen left");
    assert!(t.cursor_shown(), "cursor shown");
    // The clearing sequence (an empty OSC 52) in the raw output.
    assert!(
        t.raw_contains(b"\x1b]52;c;\x07"),
        "the clipboard was cleared on quit"
    );
}

#[test]
fn panic_restores_the_terminal_without_printing_state() {
    let gates = tempfile::tempdir().unwrap();
    let t = start("panic", &gates.path().join("unused"));
    t.wait_for("St Mary's C of E Primary School");
    t.keys(&["Enter"]);
    let s = t.wait_for("CONSOLE_EXIT");
    assert!(s.contains(simsid::tui::PANIC_MESSAGE), "{s}");
    assert!(s.contains("panicked=true raw=false"), "{s}");
    assert!(
        !s.contains(PANIC_PAYLOAD),
        "the panic payload is not printed: {s}"
    );
    assert!(!t.alternate_screen());
    assert!(t.cursor_shown());
}
