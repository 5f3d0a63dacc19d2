//! The console's runtime without a terminal (`run_headless`): the real event loop, effects,
//! services calls, OSC 52 writes, harvest events and shutdown, drawn into a buffer. The
//! pseudo-terminal test (`console/pty.rs`) covers the real terminal; this one covers
//! `Runtime::execute` on any writer, in-process.

use crate::support::tui_support;

use std::time::Duration;

use base64::Engine as _;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use simsid::tui::{run_headless, ConsoleOptions};
use tokio::sync::mpsc::{self, UnboundedSender};
use tui_support::*;

fn press(keys: &UnboundedSender<Event>, code: KeyCode) {
    keys.send(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
        .unwrap();
}

fn typed(keys: &UnboundedSender<Event>, text: &str) {
    for c in text.chars() {
        press(keys, KeyCode::Char(c));
    }
}

/// Waits (at most 10 s, in 10 ms steps) until `done` holds: observes, never orders.
async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

fn osc52(payload: &[u8]) -> Vec<u8> {
    let mut seq = b"\x1b]52;c;".to_vec();
    seq.extend_from_slice(
        base64::engine::general_purpose::STANDARD
            .encode(payload)
            .as_bytes(),
    );
    seq.push(0x07);
    seq
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_console_runs_effects_copies_harvests_and_clears_on_quit() {
    let services = FakeServices::new();
    let out = Shared::default();
    let (keys, input) = mpsc::unbounded_channel();
    let console = tokio::spawn(run_headless(
        services.clone(),
        ConsoleOptions { readonly: false },
        (100, 30),
        input,
        out.clone(),
    ));
    let calls = || services.calls.lock().unwrap().clone();

    // `:goto` opens the site through the real effect (LoadSite → services.site).
    press(&keys, KeyCode::Char(':'));
    typed(&keys, &format!("goto {ST_MARYS}"));
    press(&keys, KeyCode::Enter);
    until("the site to load", || {
        calls().contains(&format!("site {ST_MARYS}"))
    })
    .await;

    // Copy: the secret goes out as OSC 52 on the writer, nowhere else.
    press(&keys, KeyCode::Char('c'));
    until("the OSC 52 copy", || {
        out.contains(&osc52(SECRET.as_bytes()))
    })
    .await;
    assert!(calls().contains(&format!("copy {ST_MARYS} {MAIN_CLIENT}")));

    // Reveal asks first; `y` reveals and the secret is drawn.
    press(&keys, KeyCode::Char('r'));
    press(&keys, KeyCode::Char('y'));
    until("the revealed secret on screen", || {
        out.contains(SECRET.as_bytes()) && calls().iter().any(|c| c.starts_with("reveal "))
    })
    .await;

    // A harvest runs as a task; its events and its end come back through the loop.
    press(&keys, KeyCode::Char('R'));
    press(&keys, KeyCode::Char('y'));
    until("the harvest to end", || out.contains(b"harvest partial")).await;
    assert!(calls().contains(&"harvest".to_string()));

    // Quit: the copied secret is cleared from the clipboard on the way out.
    let before_quit = out.bytes().len();
    press(&keys, KeyCode::Char('q'));
    let app = tokio::time::timeout(Duration::from_secs(10), console)
        .await
        .expect("the console quits")
        .unwrap()
        .expect("the console ends without error");
    assert!(app.should_quit());
    let tail = &out.bytes()[before_quit..];
    let clear = osc52(b"");
    assert!(
        tail.windows(clear.len()).any(|w| w == clear.as_slice()),
        "the clipboard is cleared on quit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_console_reports_a_closed_input_as_an_error() {
    let services = FakeServices::new();
    let (keys, input) = mpsc::unbounded_channel::<Event>();
    drop(keys);
    let ended = tokio::time::timeout(
        Duration::from_secs(10),
        run_headless(
            services,
            ConsoleOptions { readonly: false },
            (80, 24),
            input,
            Shared::default(),
        ),
    )
    .await
    .expect("the console stops");
    let err = match ended {
        Ok(_) => panic!("a closed input is an error"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("input closed"), "{err}");
}
