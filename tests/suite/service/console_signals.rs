//! cli.md "Signals, services and monitoring": the real console in a pseudo-terminal, sent
//! SIGTERM, exits 143 with the terminal restored (alternate screen left, raw mode off).

use crate::support::common;
use crate::support::terminal;

use common::*;
use terminal::Terminal;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_the_console_with_143_and_the_terminal_restored() {
    let sim = simulator(30, 33).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let script = ts.dir.path().join("console.sh");
    let mut text = String::from("#!/bin/sh\n");
    for (k, v) in &env {
        text.push_str(&format!("export {k}='{v}'\n"));
    }
    text.push_str(&format!(
        "export HOME='{}'\n'{}' tui\necho \"EXIT:$?\"\nstty -a\nsleep 60\n",
        ts.dir.path().display(),
        assert_cmd::cargo::cargo_bin("simsid").display()
    ));
    std::fs::write(&script, text).unwrap();
    let cmd = format!("exec sh '{}'", script.display());
    let term = Terminal::start(110, 32, &[("NO_COLOR", "1")], &cmd);
    term.wait_for("30 of 30");
    assert!(term.alternate_screen());

    let shell_pid = term.pid();
    let children = std::fs::read_to_string(format!("/proc/{shell_pid}/task/{shell_pid}/children"))
        .unwrap_or_default();
    let console_pid: i32 = children
        .split_whitespace()
        .next()
        .expect("the console runs")
        .parse()
        .unwrap();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(console_pid).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    term.wait_for("EXIT:143");
    assert!(!term.alternate_screen(), "alternate screen left");
    let stty = term.wait_for("icanon");
    assert!(
        stty.contains(" icanon") && !stty.contains("-icanon"),
        "raw mode off:\n{stty}"
    );
    sim.shutdown().await;
}
