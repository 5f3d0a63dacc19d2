//! What a newcomer reads on the first day, from the real binary against the in-process
//! simulator: schools by name in harvest and history output (text `Name (00BDDE5C…)`, JSON
//! `names` and `failures[].name`, hostile names made inert), a school awaiting approval
//! after `harvest --site` (what to do next), how long a waiting school has waited in `show`,
//! `vault policy --role` printing one policy with no vault login and no secret id, and
//! `verify` with the school's credential alone (no integrator's secret; a network error
//! names the STS URL).

use crate::support::common;

use common::*;
use serde_json::Value;
use simsid_simulator::{Fault, SiteText};

/// `Name (00BDDE5C…)` for `org` named `name`.
fn label(name: &str, org: &str) -> String {
    format!("{name} ({}…)", &org[..8])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harvest_and_history_name_every_school_in_text_and_json() {
    let sim = simulator(12, 71).await;
    let store = TempStore::new();
    let env = env_for(&sim, &store);
    let control = sim.control();
    // One school fails, one is renamed with an escape sequence, one will leave.
    let broken = authorised_site(&sim, 0).org_id;
    let others: Vec<_> = control
        .sites()
        .into_iter()
        .filter(|s| s.org_id != broken)
        .collect();
    control.set_site_fault(&broken, Fault::Status500, None);
    let hostile = others[0].org_id.clone();
    control.set_site_text(
        &hostile,
        SiteText {
            name: Some("Evil\u{1b}[2J School".into()),
            ..SiteText::default()
        },
    );
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let text = stdout(&o);
    let broken_name = control
        .sites()
        .into_iter()
        .find(|s| s.org_id == broken)
        .unwrap()
        .name;
    assert!(
        text.contains(&format!(
            "failed {}: ",
            label(&broken_name, broken.as_str())
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "+ site {}",
            label("Evil\\u{1b}[2J School", hostile.as_str())
        )),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "{text}");

    // A school leaves: the run names it although the store no longer holds it.
    control.clear_site_fault(&broken);
    let leaving = others[1].clone();
    assert!(control.remove_site(&leaving.org_id));
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = json(&o);
    assert_eq!(
        run["diff"]["sites_removed"][0],
        leaving.org_id.as_str(),
        "{run}"
    );
    assert_eq!(run["names"][leaving.org_id.as_str()], leaving.name.as_str());
    assert!(
        run["diff"].get("names").is_none(),
        "names sit beside the diff"
    );

    // history --json: every run has `names` and each failure its `name`.
    let history = json(&simsid(&env, &["history", "--json"]).await);
    let partial = history
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] == "partial")
        .unwrap();
    assert_eq!(partial["failures"][0]["organisation_id"], broken.as_str());
    assert_eq!(partial["failures"][0]["name"], broken_name.as_str());
    assert_eq!(partial["names"][broken.as_str()], broken_name.as_str());
    assert_eq!(
        partial["names"][hostile.as_str()],
        "Evil\u{1b}[2J School",
        "JSON keeps the text, escaped as JSON does"
    );
    let o = simsid(&env, &["history"]).await;
    assert!(
        stdout(&o).contains(&format!("failed {}", label(&broken_name, broken.as_str()))),
        "{}",
        stdout(&o)
    );
    // The removed school is named in the history too, though the store no longer has it.
    assert!(
        stdout(&o).contains(&format!(
            "- site {}",
            label(&leaving.name, leaving.org_id.as_str())
        )),
        "{}",
        stdout(&o)
    );
    let removing = history
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["run_id"] == run["run_id"])
        .unwrap();
    assert_eq!(
        removing["names"][leaving.org_id.as_str()],
        leaving.name.as_str()
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_school_awaiting_approval_says_what_to_do_next_and_how_long_it_waited() {
    let sim = simulator(6, 72).await;
    let store = TempStore::new();
    let env = env_for(&sim, &store);
    let control = sim.control();
    let new = control.add_site();
    control.set_authorised(&new, Some(false));
    let name = control
        .sites()
        .into_iter()
        .find(|s| s.org_id == new)
        .unwrap()
        .name;
    let o = simsid(&env, &["harvest", "--site", new.as_str()]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let next = stderr(&o);
    assert!(
        next.contains(&format!(
            "{} is installed and awaiting approval",
            label(&name, new.as_str())
        )),
        "{next}"
    );
    assert!(next.contains("approve it in SIMS ID"), "{next}");
    assert!(next.contains("`simsid status`"), "{next}");
    assert!(!next.contains("simsid verify"), "{next}");
    assert!(
        stdout(&o).contains(&format!("+ site {}", label(&name, new.as_str()))),
        "{}",
        stdout(&o)
    );
    let o = simsid(&env, &["show", new.as_str()]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let shown = stdout(&o);
    let waiting = shown
        .lines()
        .find(|l| l.trim_start().starts_with("waiting "))
        .unwrap_or_else(|| panic!("a waiting line in {shown}"));
    assert!(
        waiting.contains(" s (installed, awaiting approval in SIMS ID since "),
        "{waiting}"
    );

    // Approved: the next step is verifying its credentials.
    control.set_authorised(&new, Some(true));
    let o = simsid(&env, &["harvest", "--site", new.as_str()]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("next: `simsid verify {new}`")),
        "{}",
        stderr(&o)
    );
    let o = simsid(&env, &["show", new.as_str()]).await;
    assert!(!stdout(&o).contains("waiting "), "{}", stdout(&o));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_policy_prints_one_role_with_no_login_and_keeps_the_integrators_secret() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    // An AppRole harvest host before its role exists: no role id, no secret id file yet,
    // no client id or organisation id either.
    std::fs::write(
        &config,
        "[profile.default]\n\
         application_id = \"207A1392-E1F6-47BA-81DA-6C374971D788\"\n\
         secrets = \"vault\"\n\
         vault_addr = \"http://127.0.0.1:1\"\n\
         vault_auth = \"approle\"\n\
         vault_secret_id_file = \"/nonexistent/secret-id\"\n\
         client_secret_vault = \"kv/team/integrator#client_secret\"\n",
    )
    .unwrap();
    let mut env = std::collections::BTreeMap::new();
    env.insert("SIMSID_CONFIG".to_string(), config.display().to_string());
    let prefix = "secret/data/simsid/207A1392-E1F6-47BA-81DA-6C374971D788/*";
    let o = simsid(&env, &["vault", "policy", "--role", "harvester"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let harvester = stdout(&o);
    let headings: Vec<&str> = harvester.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(headings.len(), 1, "{harvester}");
    assert!(
        headings[0].starts_with("# simsid harvester ("),
        "{harvester}"
    );
    assert!(
        harvester.contains(&format!("path \"{prefix}\"")),
        "{harvester}"
    );
    assert!(
        harvester.contains("path \"kv/data/team/integrator\""),
        "the integrator's secret is readable by the harvester: {harvester}"
    );

    // All four without --role, each under one heading; the harvester's part keeps its
    // integrator line when split on the headings.
    let o = simsid(&env, &["vault", "policy"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let all = stdout(&o);
    let parts: Vec<&str> = all.split("\n# simsid ").collect();
    assert_eq!(parts.len(), 4, "{all}");
    assert!(parts[0].contains("kv/data/team/integrator"), "{all}");
    assert!(all.starts_with(&harvester), "{all}");
    for role in ["viewer", "operator", "service"] {
        let o = simsid(&env, &["vault", "policy", "--role", role]).await;
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stdout(&o).starts_with(&format!("# simsid {role} (")));
        assert!(all.contains(stdout(&o).trim_end()), "{role}");
    }
    let o = simsid(&env, &["vault", "policy", "--role", "admin"]).await;
    assert_eq!(o.status.code(), Some(2));

    // A malformed client_secret_vault: said on stderr, the policies still printed.
    std::fs::write(
        &config,
        "[profile.default]\n\
         application_id = \"207A1392-E1F6-47BA-81DA-6C374971D788\"\n\
         client_secret_vault = \"no-field-here\"\n",
    )
    .unwrap();
    let o = simsid(&env, &["vault", "policy", "--role", "harvester"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("grants no read on the integrator's secret"),
        "{}",
        stderr(&o)
    );
    // No application id for a prefix that needs one: a configuration error.
    std::fs::write(&config, "[profile.default]\n").unwrap();
    let o = simsid(&env, &["vault", "policy"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("application_id"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_needs_only_the_schools_credential_and_names_an_unreachable_sts() {
    let sim = simulator(5, 73).await;
    let store = TempStore::new();
    let env = env_for(&sim, &store);
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let org = authorised_site(&sim, 0).org_id;

    // A support laptop: the store and the STS URL, no integrator identity at all.
    let mut laptop = env.clone();
    for var in [
        "SIMSID_CLIENT_ID",
        "SIMSID_ORGANISATION_ID",
        "SIMSID_CLIENT_SECRET",
    ] {
        laptop.remove(var);
    }
    let o = simsid(&laptop, &["verify", org.as_str(), "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let results = json(&o)["results"].as_array().unwrap().clone();
    assert!(!results.is_empty());
    assert!(results.iter().all(|r| r["ok"] == true), "{results:?}");

    // An STS nobody answers at: an error (exit 1) naming the URL.
    let dead = format!(
        "http://127.0.0.1:{}/connect/token",
        crate::support::vault_support::free_port()
    );
    laptop.insert("SIMSID_STS_URL".into(), dead.clone());
    let o = simsid(&laptop, &["verify", org.as_str(), "--json"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let doc: Value = json(&o);
    let error = doc["results"][0]["error"].as_str().unwrap().to_string();
    assert!(
        error.contains(&format!("could not reach the STS at {dead}")),
        "{error}"
    );
    assert_eq!(doc["results"][0]["refused"], false);
    sim.shutdown().await;
}

// Not on Windows: drives the demo through a Unix pseudo-terminal (.ci/windows/demo-smoke
// runs it under Wine).
#[cfg(not(windows))]
#[test]
fn the_demos_first_screen_says_which_school_fails_on_purpose() {
    let home = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("simsid");
    let home_path = home.path().display().to_string();
    let term = crate::support::terminal::Terminal::start(
        80,
        24,
        &[("HOME", home_path.as_str()), ("NO_COLOR", "1")],
        &format!("{} demo --sites 12", bin.display()),
    );
    let screen = term.wait_for("fails on purpose");
    assert!(
        screen.contains("demo: ") && screen.contains("to show a stale site"),
        "{screen}"
    );
    term.keys(&["q"]);
}
