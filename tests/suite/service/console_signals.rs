//! docs/reference/cli.md "Signals, services and monitoring": the real console in a pseudo-terminal, sent
//! SIGTERM, exits 143 with the terminal restored (alternate screen left, raw mode off).

use crate::support::common;
use crate::support::terminal;

use common::*;
use terminal::{console_script, Terminal};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_the_console_with_143_and_the_terminal_restored() {
    let sim = simulator(30, 33).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let cmd = console_script(&ts, &env, "", "", "echo \"EXIT:$?\"\nstty -a\nsleep 60\n");
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

/// The terminal closes under an idle console that is not the session leader: no SIGHUP
/// reaches it (the kernel signals only the leader, which here ignores it), only reads at
/// end of file. The console must notice, end with 129, and not stay behind spinning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_closed_under_an_idle_console_ends_it_with_129() {
    let sim = simulator(30, 35).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let exit_file = ts.dir.path().join("exit-code");
    let cmd = console_script(
        &ts,
        &env,
        "trap '' HUP\n",
        "",
        &format!("echo $? > '{}'\n", exit_file.display()),
    );
    let mut term = Terminal::start(110, 32, &[("NO_COLOR", "1")], &cmd);
    term.wait_for("30 of 30");
    let started = std::time::Instant::now();
    term.hang_up();
    let status = term.wait_exit(std::time::Duration::from_secs(30));
    assert!(
        status.is_some(),
        "the console ended after its terminal closed"
    );
    let code = std::fs::read_to_string(&exit_file).expect("the console's exit code");
    println!(
        "idle console gone {:?} after the hang-up",
        started.elapsed()
    );
    assert_eq!(code.trim(), "129", "a hang-up exits 129");
    sim.shutdown().await;
}

/// The terminal closes under the console in the middle of a harvest (the console is the
/// session leader: SIGHUP and reads at end of file both come): the harvest is cancelled and
/// recorded with SIGHUP, the lock released, the process ends with 129.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_closed_mid_harvest_cancels_records_and_releases_the_lock() {
    // 400 sites at ~40 ms each: the console's harvest is far from done at the hang-up.
    let sim = slow_simulator(400, 36, 40).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);

    // The console itself, not a shell, leads the terminal's session.
    let cmd = console_script(&ts, &env, "", "exec ", "");
    let mut term = Terminal::start(110, 32, &[("NO_COLOR", "1")], &cmd);
    term.wait_for("press R");
    term.text("R");
    term.wait_for("any other key");
    term.text("y");
    term.wait_for("Harvest in progress");
    // The site list and a few Clients calls: the harvest is under way, far from done (the
    // simulator's own request counter, not a sleep; 60 s only guards a hang).
    let mut started = false;
    for _ in 0..2400 {
        if sim.control().stats().api_requests >= 4 {
            started = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(started, "the console's harvest never reached the simulator");
    let started = std::time::Instant::now();
    term.hang_up();
    let status = term
        .wait_exit(std::time::Duration::from_secs(30))
        .expect("the console ended after its terminal closed");
    println!(
        "harvesting console gone {:?} after the hang-up",
        started.elapsed()
    );
    assert_eq!(status.code(), Some(129), "a hang-up exits 129");

    let history = simsid(&env, &["history", "--json"]).await;
    assert_eq!(history.status.code(), Some(0), "{}", stderr(&history));
    let runs = json(&history);
    assert_eq!(runs[0]["status"], "cancelled", "{runs}");
    assert_eq!(runs[0]["signal"], "SIGHUP", "{runs}");

    // The lock was released: the next harvest runs.
    let again = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    sim.shutdown().await;
}
