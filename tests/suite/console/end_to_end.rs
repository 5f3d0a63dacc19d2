//! End to end: the real `simsid` binary's console in a real pseudo-terminal read by a terminal
//! emulator (the kit's `terminal`, crates/simsid-testkit), on a store harvested from the in-process simulator. Open,
//! filter, open a site, the secret is not on screen; reveal with `r` `y`, it is; quit; the
//! terminal is restored.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use crate::support::common;
use crate::support::terminal;

use common::*;
use secrecy::ExposeSecret;
use terminal::{console_script, script, Terminal};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browse_filter_open_reveal_quit_in_a_real_terminal() {
    let sim = simulator(30, 31).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let target = sim
        .control()
        .sites()
        .into_iter()
        .find(|s| s.authorised && !s.clients.is_empty() && s.dfe_code.is_some())
        .expect("a site with credentials");
    let dfe = target.dfe_code.clone().unwrap();
    // The console lists a site's credentials by client id: the first one is selected.
    let first = target
        .clients
        .iter()
        .min_by(|a, b| a.client_id.cmp(&b.client_id))
        .unwrap();
    let secret = first.secret.expose_secret().to_string();
    let client_id = first.client_id.clone();
    sim.control().reset_stats();

    // The console runs from a private script (the environment holds the integrator secret).
    let cmd = console_script(&ts, &env, "", "", "echo \"EXIT:$?\"\nstty -a\nsleep 60\n");
    let term = Terminal::start(110, 32, &[("NO_COLOR", "1")], &cmd);
    let screen = term.wait_for("30 of 30");
    assert!(term.alternate_screen(), "console on the alternate screen");
    assert!(screen.contains("30 sites"), "{screen}");
    let stats = sim.control().stats();
    assert_eq!(
        (stats.token_requests, stats.api_requests),
        (0, 0),
        "the console opens on the store with no network call"
    );

    // Core dumps are off in the running console (RLIMIT_CORE 0).
    let shell_pid = term.pid();
    let children = std::fs::read_to_string(format!("/proc/{shell_pid}/task/{shell_pid}/children"))
        .unwrap_or_default();
    let console_pid = children
        .split_whitespace()
        .next()
        .expect("the console runs");
    let limits = std::fs::read_to_string(format!("/proc/{console_pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert_eq!(
        core.split_whitespace().skip(4).take(2).collect::<Vec<_>>(),
        ["0", "0"],
        "{core}"
    );

    // A resize redraws the whole screen at the new size.
    term.resize(80, 24);
    // At 110 columns "profile default" sat beyond column 80: seeing it means a new frame.
    term.wait_for("profile default");
    // The new frame may still be arriving: its last line names the count.
    let screen = term.wait_for("30 of 30");
    assert!(screen.lines().all(|l| l.chars().count() <= 80));
    assert!(screen.contains("profile default"), "{screen}");

    // Filter by DfE code, keep the filter, open the site.
    term.keys(&["/"]);
    term.text(&dfe);
    term.wait_for("1 of 30");
    term.keys(&["Enter", "Enter"]);
    let screen = term.wait_for(&client_id[..16]);
    assert!(screen.contains("••••••••"), "masked:\n{screen}");
    assert!(
        !screen.contains(&secret),
        "the secret is not on screen before reveal"
    );

    // Reveal: asks, then shows.
    term.keys(&["r"]);
    let screen = term.wait_for("any other key");
    assert!(!screen.contains(&secret), "not yet: only the confirmation");
    term.keys(&["y"]);
    term.wait_for(&secret[..20]);

    // Quit: the terminal is restored.
    term.keys(&["q"]);
    let screen = term.wait_for("EXIT:0");
    assert!(!term.alternate_screen(), "alternate screen left");
    assert!(term.cursor_shown(), "cursor shown");
    let stty = term.wait_for("icanon");
    assert!(
        stty.contains(" icanon") && !stty.contains("-icanon"),
        "raw mode off (canonical input back):\n{stty}"
    );
    assert!(
        !screen.contains(&secret),
        "the secret left with the alternate screen"
    );
    drop(term);

    // The reveal was audited, by fingerprint.
    let audit = json(&simsid(&env, &["audit", "--json"]).await);
    let reveal = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "reveal")
        .expect("reveal audited");
    assert_eq!(reveal["client_id"], client_id.as_str());
    assert_eq!(reveal["organisation_id"], target.org_id.as_str());
    let log = std::fs::read(ts.log()).unwrap();
    assert!(
        !contains_bytes(&log, secret.as_bytes()),
        "no secret in the log"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_harvest_progress_bar_on_a_terminal_rounds_its_rate() {
    // Slow enough for the bar to draw several times with a rate.
    let sim = slow_simulator(40, 33, 60).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let simsid = binary();
    let body = format!(
        "'{}' harvest\necho \"EXIT:$?\"\nsleep 60\n",
        simsid.display()
    );
    let cmd = script(&ts, "harvest.sh", &env, &body);
    let term = Terminal::start(140, 10, &[("NO_COLOR", "1")], &cmd);
    term.wait_for("EXIT:0");
    let raw = term.raw();
    let rates: Vec<&str> = raw
        .split(|c: char| c.is_whitespace())
        .filter(|w| w.ends_with("/s") && w.len() > 2)
        .collect();
    assert!(!rates.is_empty(), "the bar drew a rate: {raw:?}");
    for r in &rates {
        let number = r.trim_end_matches("/s");
        let decimals = number.split('.').nth(1).map_or(0, str::len);
        assert!(
            decimals <= 1 && (number.parse::<f64>().is_ok() || number == "—"),
            "rate {r:?} in {raw:?}"
        );
    }
    drop(term);
    sim.shutdown().await;
}
