//! A hostile school name served by the simulator reaches the console in a real
//! pseudo-terminal read by a terminal emulator (the kit's `terminal`, crates/simsid-testkit, which records every
//! clipboard write and title change it is sent) and leaves the clipboard, the window title
//! and the screen untouched; the name shows as visible escapes.

use crate::support::common;
use crate::support::terminal;

use common::*;
use simsid_simulator::SiteText;
use terminal::{console_script, Terminal};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_school_name_leaves_clipboard_title_and_screen_untouched() {
    let sim = simulator(12, 701).await;
    let site = sim
        .control()
        .sites()
        .into_iter()
        .find(|s| s.authorised)
        .expect("an authorised site");
    let hostile = "Aaa Evil \u{1b}]52;c;SGVsbG8=\u{7}\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[31mRED\u{9b}0m\u{202e}gnp";
    assert!(sim.control().set_site_text(
        &site.org_id,
        SiteText {
            name: Some(hostile.into()),
            dfe_code: Some("\u{1b}]52;c;V29ybGQ=\u{7}".into()),
            deni_number: None,
        }
    ));
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let cmd = console_script(&ts, &env, "", "exec ", "");
    let term = Terminal::start(140, 30, &[("NO_COLOR", "1")], &cmd);
    let screen = term.wait_for("12 of 12");
    // Sorted by name, the hostile site is first; its name shows as visible escapes.
    let screen = if screen.contains("Evil \\u{1b}]52") {
        screen
    } else {
        term.wait_for("Evil \\u{1b}]52")
    };
    assert!(
        screen.contains("Aaa Evil \\u{1b}]52;c;SGVsbG8=\\u{7}\\u{1b}]0;pwned"),
        "{screen}"
    );
    assert!(
        screen.contains("12 sites"),
        "the rows were not wiped: {screen}"
    );

    // Open it: the breadcrumb and the site screen draw the name too.
    term.text(":goto ");
    term.text(site.org_id.as_str());
    term.keys(&["Enter"]);
    let site_screen = term.wait_for("organisation");
    assert!(site_screen.contains("Evil \\u{1b}]52"), "{site_screen}");

    // No OSC 52 reached the terminal: it was sent no clipboard write at all.
    let clipboard = term.clipboard_writes();
    assert!(clipboard.is_empty(), "clipboard written: {clipboard:?}");
    // No OSC 0 or 2: the title was never set.
    let titles = term.titles();
    assert!(titles.is_empty(), "title set: {titles:?}");
    // No raw ESC ] 52 or ESC [ 2J left the program.
    assert!(!term.raw_has(b"\x1b]52;c;SGVsbG8="), "raw OSC 52 written");
    assert!(!term.raw_has(b"\x1b]0;pwned"), "raw OSC 0 written");
    // The screen was not wiped: the frame around the site is still drawn.
    assert!(site_screen.contains("simsid"), "{site_screen}");

    term.keys(&["q"]);
    sim.shutdown().await;
}
