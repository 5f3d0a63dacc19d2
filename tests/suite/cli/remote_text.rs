//! Issue 8: hostile data and careless operators, each item against the simulator and the
//! real binary. Every test here failed before its fix.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use simsid::domain::OrgId;
use simsid::simulator::{Fault, SimClient, SimSite, Simulator, SiteText, StsMode};

/// A school name that tries everything: OSC 52 (clipboard), OSC 0 (title), clear screen,
/// colour, a line feed that would forge a row, C1 CSI, NUL and a bidi override.
const HOSTILE_NAME: &str =
    "Evil \u{1b}]52;c;SGVsbG8=\u{7} School\nFORGED-ROW\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[31m\u{9b}1m\0\u{202e}gnp";
const HOSTILE_CLIENT: &str = "sas-\u{1b}]52;c;SGVsbG8=\u{7}-x\r\nREFUSED";

/// Bytes that must never reach a terminal from remote text.
fn assert_terminal_safe(text: &str) {
    for c in text.chars() {
        assert!(
            c == '\n' || !simsid::sanitize::is_unsafe_char(c),
            "raw {:?} in output:\n{text}",
            c
        );
    }
}

fn authorised_site(sim: &Simulator, skip: usize) -> SimSite {
    sim.control()
        .sites()
        .into_iter()
        .filter(|s| s.authorised && !s.clients.is_empty())
        .nth(skip)
        .expect("an authorised site with clients")
}

fn hostile_client(secret: &str) -> SimClient {
    SimClient {
        client_id: HOSTILE_CLIENT.into(),
        secret: SecretString::from(secret.to_string()),
        description: "@SUM(1+1)*cmd|' /C calc'!A0\u{1b}[2J".into(),
        ocpaimkey: None,
    }
}

/// A simulator whose first authorised site has the hostile name and a formula DfE code
/// (and, with `client`, a hostile client); returns it with that site's organisation id.
async fn hostile_sim(seed: u64, client: bool) -> (Simulator, OrgId) {
    let sim = simulator(12, seed).await;
    let site = authorised_site(&sim, 0);
    assert!(sim.control().set_site_text(
        &site.org_id,
        SiteText {
            name: Some(HOSTILE_NAME.into()),
            dfe_code: Some("=HYPERLINK(\"http://x\",\"y\")".into()),
            deni_number: Some("+1\u{1b}[31m".into()),
        }
    ));
    if client {
        assert!(sim
            .control()
            .push_client(&site.org_id, hostile_client("hostile-secret-Qx71")));
    }
    (sim, site.org_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item2_sites_show_history_and_harvest_text_escape_remote_text() {
    let (sim, org) = hostile_sim(801, false).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_terminal_safe(&stdout(&o));

    // The hostile client arrives with the next harvest: its diff line is escaped.
    assert!(sim
        .control()
        .push_client(&org, hostile_client("hostile-secret-Qx71")));
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert_terminal_safe(&text);
    assert!(
        text.contains("sas-\\u{1b}]52;c;SGVsbG8=\\u{7}-x\\u{d}\\u{a}REFUSED"),
        "{text}"
    );

    let o = simsid(&env, &["sites"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert_terminal_safe(&text);
    // Header, 12 rows, the count: a line feed in a name forges no row.
    assert_eq!(text.lines().count(), 14, "{text}");
    assert!(!text.lines().any(|l| l.starts_with("FORGED-ROW")), "{text}");
    assert!(
        text.contains("Evil \\u{1b}]52;c;SGVsbG8=\\u{7} School\\u{a}FORGED-ROW"),
        "{text}"
    );

    let o = simsid(&env, &["show", org.as_str()]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert_terminal_safe(&text);
    assert!(text.contains("\\u{202e}gnp"), "{text}");
    assert!(text.contains("=HYPERLINK"), "{text}");

    let o = simsid(&env, &["history"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_terminal_safe(&stdout(&o));

    // JSON stays exact: serde escapes what JSON must, the value is the served one.
    let o = simsid(&env, &["show", org.as_str(), "--json"]).await;
    let doc = json(&o);
    assert_eq!(doc["name"], HOSTILE_NAME);
    assert!(doc["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["client_id"] == HOSTILE_CLIENT));
    assert!(!o.stdout.contains(&0x1b), "JSON escapes ESC");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item3_export_csv_neutralises_formula_cells() {
    let (sim, _org) = hostile_sim(802, true).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = simsid(&env, &["export", "--format", "csv"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut reader = csv::Reader::from_reader(o.stdout.as_slice());
    let mut cells = Vec::new();
    for record in reader.records() {
        cells.extend(record.unwrap().iter().map(str::to_string));
    }
    assert!(cells.contains(&"'=HYPERLINK(\"http://x\",\"y\")".to_string()));
    // Control characters are escaped in CSV too (issue 16): the ESC arrives as `\u{1b}`.
    assert!(cells.contains(&"'+1\\u{1b}[31m".to_string()), "{cells:?}");
    assert!(cells.iter().any(|c| c.starts_with("'@SUM(1+1)")));
    for c in &cells {
        assert!(
            !c.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "formula cell {c:?}"
        );
    }
    sim.shutdown().await;
}

async fn store_credential_count(env: &BTreeMap<String, String>) -> u64 {
    let o = simsid(env, &["sites", "--json"]).await;
    json(&o)
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["credential_count"].as_u64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item6_duplicate_client_ids_fail_the_site_exact_duplicates_count_once() {
    let sim = simulator(10, 806).await;
    let clash = authorised_site(&sim, 0);
    let twin = authorised_site(&sim, 1);
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // Same id, different secrets at one site; an exact copy at another; a hostile id twice.
    let clash_id = clash.clients[0].client_id.clone();
    assert!(sim
        .control()
        .duplicate_client(&clash.org_id, &clash_id, false));
    assert!(sim
        .control()
        .duplicate_client(&twin.org_id, &twin.clients[0].client_id, true));
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let run = json(&o);
    assert_eq!(run["status"], "partial");
    let failures = run["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{run}");
    assert_eq!(failures[0]["organisation_id"], clash.org_id.as_str());
    let error = failures[0]["error"].as_str().unwrap();
    assert!(
        error.contains(&clash_id) && error.contains("twice"),
        "{error}"
    );
    assert_eq!(
        run["credentials_total"].as_u64().unwrap(),
        store_credential_count(&env).await,
        "credentials_total equals what the store holds"
    );
    let o = simsid(&env, &["show", clash.org_id.as_str(), "--json"]).await;
    let shown = json(&o);
    assert_eq!(shown["stale"], true);
    assert_eq!(
        shown["credentials"].as_array().unwrap().len(),
        clash.clients.len(),
        "the previous credentials are kept"
    );
    let o = simsid(&env, &["show", twin.org_id.as_str(), "--json"]).await;
    assert_eq!(
        json(&o)["credentials"].as_array().unwrap().len(),
        twin.clients.len()
    );

    // A hostile client id twice: the error names it, sanitised.
    let third = authorised_site(&sim, 2);
    assert!(sim
        .control()
        .push_client(&third.org_id, hostile_client("a-Lk20")));
    assert!(sim
        .control()
        .push_client(&third.org_id, hostile_client("b-Lk21")));
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let text = stdout(&o);
    assert_terminal_safe(&text);
    assert!(text.contains("sas-\\u{1b}]52;c;SGVsbG8=\\u{7}-x"), "{text}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item9_ambiguous_dfe_code_shows_reveals_and_verifies_nothing() {
    let sim = simulator(10, 809).await;
    let real = authorised_site(&sim, 0);
    let shadow = authorised_site(&sim, 1);
    for (site, name) in [(&real, "Real School"), (&shadow, "Shadow\u{1b}]0;x\u{7}")] {
        assert!(sim.control().set_site_text(
            &site.org_id,
            SiteText {
                name: Some(name.into()),
                dfe_code: Some("1001".into()),
                deni_number: None,
            }
        ));
    }
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    for args in [
        vec!["show", "1001", "--reveal"],
        vec!["show", "1001", "--json"],
        vec!["verify", "1001"],
    ] {
        sim.control().reset_stats();
        let o = simsid(&env, &args).await;
        assert_eq!(o.status.code(), Some(4), "{args:?}: {}", stderr(&o));
        assert!(
            o.stdout.is_empty(),
            "{args:?}: nothing shown: {}",
            stdout(&o)
        );
        let err = stderr(&o);
        assert_terminal_safe(&err);
        assert!(err.contains(real.org_id.as_str()), "{err}");
        assert!(err.contains(shadow.org_id.as_str()), "{err}");
        assert!(err.contains("Real School"), "{err}");
        assert_eq!(sim.control().stats().token_requests, 0, "nothing verified");
    }
    let o = simsid(&env, &["audit", "--json"]).await;
    let audit = json(&o);
    assert!(
        !audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "reveal"),
        "nothing revealed: {audit}"
    );
    // The organisation id still picks one.
    let o = simsid(&env, &["show", shadow.org_id.as_str()]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item10_clients_answers_are_capped_at_one_mebibyte() {
    let sim = simulator(6, 810).await;
    let site = authorised_site(&sim, 0);
    sim.control()
        .set_site_fault(&site.org_id, Fault::EndlessBody, None);
    let client = client(&sim, Duration::from_secs(30));
    let err = client.clients(&site.org_id).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("malformed answer: answer larger than {} bytes", 1024 * 1024)
    );
    assert_eq!(simsid::sims::MAX_CLIENTS_BODY, 1024 * 1024);
    assert_eq!(simsid::sims::MAX_SITE_LIST_BODY, 64 * 1024 * 1024);
    // The site list is still read in full.
    assert_eq!(client.sites().await.unwrap().len(), 6);
    sim.shutdown().await;
}

/// Runs the binary with a config file holding `toml` and `env` (no simulator needed).
async fn with_config(
    toml: &str,
    extra: &[(&str, &str)],
    args: &[&str],
) -> (std::process::Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, toml).unwrap();
    let mut env = BTreeMap::new();
    env.insert("SIMSID_CONFIG".to_string(), path.display().to_string());
    env.insert(
        "SIMSID_STORE".to_string(),
        dir.path().join("store.sqlite3").display().to_string(),
    );
    env.insert(
        "SIMSID_LOG".to_string(),
        dir.path().join("simsid.log").display().to_string(),
    );
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    let o = simsid(&env, args).await;
    (o, dir)
}

const PROFILE: &str = r#"
application_id  = "11111111-2222-3333-4444-555555555555"
client_id       = "sas-test"
organisation_id = "207A1392-E1F6-47BA-81DA-6C374971D788"
sts_url  = "https://127.0.0.1:9/connect/token"
api_base = "https://127.0.0.1:9/api/v1/partner"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item11_configuration_never_echoes_secrets_and_fails_at_validation() {
    // A secret pasted into `client_secret_env` or `client_secret_file` is never echoed.
    let pasted = "Xk9$pasted+secret/value==";
    for key in ["client_secret_env", "client_secret_file"] {
        let toml = format!("[profile.default]{PROFILE}{key} = \"{pasted}\"\n");
        let (o, dir) = with_config(&toml, &[], &["harvest"]).await;
        assert!(matches!(o.status.code(), Some(1 | 2)), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(
            !err.contains(pasted) && !err.contains("pasted+secret"),
            "{key}: {err}"
        );
        assert!(err.contains(key), "{key}: {err}");
        let log = std::fs::read_to_string(dir.path().join("simsid.log")).unwrap_or_default();
        assert!(!log.contains("pasted+secret"), "{key}: {log}");
    }
    // A valid variable name is named.
    let toml = format!("[profile.default]{PROFILE}client_secret_env = \"MY_SECRET_VAR\"\n");
    let (o, _dir) = with_config(&toml, &[], &["harvest"]).await;
    assert!(stderr(&o).contains("MY_SECRET_VAR"), "{}", stderr(&o));

    // Profile names are not paths.
    let toml = format!("[profile.\"../../x\"]{PROFILE}");
    let (o, dir) = with_config(&toml, &[("SIMSID_PROFILE", "../../x")], &["sites"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("profile"), "{}", stderr(&o));
    assert!(!dir.path().join("x").exists());

    // http:// to a host other than loopback: exit 2 at validation.
    let toml = format!(
        "[profile.default]{}",
        PROFILE.replace(
            "https://127.0.0.1:9/connect",
            "http://sts.example.com/connect"
        )
    );
    let (o, _dir) = with_config(&toml, &[("SIMSID_CLIENT_SECRET", "s")], &["harvest"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("https"), "{}", stderr(&o));

    // A TOML integer application id gets the App Management explanation.
    let toml = format!(
        "[profile.default]{}",
        PROFILE.replace("\"11111111-2222-3333-4444-555555555555\"", "12345")
    );
    let (o, _dir) = with_config(&toml, &[("SIMSID_CLIENT_SECRET", "s")], &["harvest"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("App Management"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("invalid type"), "{}", stderr(&o));

    // An empty SIMSID_STS_URL is an error, not production.
    let toml = format!("[profile.default]{PROFILE}");
    let (o, _dir) = with_config(
        &toml,
        &[("SIMSID_CLIENT_SECRET", "s"), ("SIMSID_STS_URL", "")],
        &["harvest"],
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("SIMSID_STS_URL"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item11_a_redirect_is_reported_as_a_redirect_not_followed() {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    let app = axum::Router::new().fallback(|| async {
        (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, "https://elsewhere.example/connect/token")],
        )
            .into_response()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let sim = simulator(1, 811).await;
    let ts = TempStore::new();
    let mut env = env_for(&sim, &ts);
    env.insert(
        "SIMSID_STS_URL".into(),
        format!("http://{addr}/connect/token"),
    );
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("redirect (HTTP 307), not followed"),
        "{}",
        stderr(&o)
    );
    server.abort();
    sim.shutdown().await;
}

/// A harvest on a store harvested in full before: the run fails (exit 1, `failed`) and the
/// store keeps every credential. Returns the run's error.
async fn harvest_fails_and_keeps_the_cache(env: &BTreeMap<String, String>) -> String {
    let before = store_credential_count(env).await;
    assert!(before > 5);
    let o = simsid(env, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let run = json(&o);
    assert_eq!(run["status"], "failed", "{run}");
    assert!(run["diff"]["credentials_removed"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(store_credential_count(env).await, before, "cache kept");
    run["error"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item14_a_narrowed_scope_or_a_bearer_403_fails_the_run_not_the_cache() {
    let sim = simulator(20, 814).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // The STS grants less than asked (RFC 6749 §3.3).
    sim.control().set_sts_mode(StsMode {
        granted_scope: Some("rapapi partner".into()),
        ..StsMode::default()
    });
    let error = harvest_fails_and_keeps_the_cache(&env).await;
    assert!(error.contains("partner-read partner-write"), "{error}");

    // A client that asks only for what it gets: every Clients call answers 403 with a
    // Bearer insufficient_scope challenge.
    let mut narrow = env.clone();
    narrow.insert("SIMSID_SCOPES".into(), "rapapi partner".into());
    let error = harvest_fails_and_keeps_the_cache(&narrow).await;
    assert!(error.contains("insufficient_scope"), "{error}");

    // The same challenge injected on the partner API with the full scopes.
    sim.control().set_sts_mode(StsMode::default());
    sim.control()
        .set_global_fault(Some(Fault::ForbiddenInsufficientScope), None);
    let error = harvest_fails_and_keeps_the_cache(&env).await;
    assert!(error.contains("403, insufficient_scope"), "{error}");

    // A plain 403 (no challenge) is still "no credentials" for that site.
    sim.control().set_global_fault(None, None);
    let site = authorised_site(&sim, 0);
    sim.control()
        .set_site_fault(&site.org_id, Fault::Forbidden, None);
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    assert_ne!(json(&o)["status"], "failed");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item15_oauth_errors_keep_code_and_description_and_basic_works() {
    let sim = simulator(8, 815).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);

    // The simulator, like IdentityServer, accepts HTTP Basic by default.
    let mut basic = env.clone();
    basic.insert("SIMSID_STS_CLIENT_AUTH".into(), "basic".into());
    let o = simsid(&basic, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // An STS that insists on Basic: "post" reports the OAuth error and the way out.
    sim.control().set_sts_mode(StsMode {
        require_basic: true,
        ..StsMode::default()
    });
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("invalid_client (HTTP 401)"), "{err}");
    assert!(err.contains("client_secret_basic"), "{err}");
    assert!(err.contains("sts_client_auth = \"basic\""), "{err}");
    let o = simsid(&basic, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // Other OAuth codes keep their code; a hostile description is sanitised.
    sim.control().set_sts_mode(StsMode {
        error_description: Some("nope\u{1b}]52;c;SGVsbG8=\u{7}".into()),
        ..StsMode::default()
    });
    let client = client(&sim, Duration::from_secs(10));
    let site = authorised_site(&sim, 0);
    let err = client
        .verify(
            &site.org_id,
            &site.clients[0].client_id,
            &SecretString::from("wrong-Zz90"),
        )
        .await
        .unwrap_err();
    let text = err.to_string();
    assert_eq!(
        text,
        "the STS refused the client id and secret: invalid_client (HTTP 400): \
         nope\\u{1b}]52;c;SGVsbG8=\\u{7}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item16_verify_asks_no_partner_scope_and_refused_means_invalid_client() {
    let sim = simulator(8, 816).await;
    // As IdentityServer: a school credential asking for partner scopes gets invalid_scope.
    sim.control().set_sts_mode(StsMode {
        school_partner_scope_invalid: true,
        ..StsMode::default()
    });
    let site = authorised_site(&sim, 0);
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let o = simsid(&env, &["verify", site.org_id.as_str(), "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc = json(&o);
    for r in doc["results"].as_array().unwrap() {
        assert_eq!(r["ok"], true, "{doc}");
        assert_eq!(r["refused"], false, "{doc}");
    }

    // `verify_scopes` set to the partner scopes: invalid_scope is an error, not a refusal.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[profile.default]\nverify_scopes = \"rapapi partner partner-read partner-write\"\n",
    )
    .unwrap();
    let mut scoped = env.clone();
    scoped.insert("SIMSID_CONFIG".into(), config.display().to_string());
    let o = simsid(&scoped, &["verify", site.org_id.as_str(), "--json"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let doc = json(&o);
    for r in doc["results"].as_array().unwrap() {
        assert_eq!(r["ok"], false, "{doc}");
        assert_eq!(r["refused"], false, "{doc}");
        assert!(
            r["error"].as_str().unwrap().contains("invalid_scope"),
            "{doc}"
        );
    }
    let o = simsid(&scoped, &["verify", site.org_id.as_str()]).await;
    assert!(!stdout(&o).contains("REFUSED"), "{}", stdout(&o));

    // A rotated secret is refused (invalid_client): refused true, exit 5.
    let client_id = site.clients[0].client_id.clone();
    assert!(sim.control().rotate_secret(&site.org_id, &client_id));
    let o = simsid(&env, &["verify", site.org_id.as_str(), "--json"]).await;
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let doc = json(&o);
    let r = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["client_id"] == client_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (r["ok"].clone(), r["refused"].clone()),
        (Value::Bool(false), Value::Bool(true))
    );
    let _ = site.clients[0].secret.expose_secret();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_on_a_terminal_or_in_a_file_carries_no_escape_sequence() {
    let (sim, org) = hostile_sim(807, true).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // An exposure of the hostile site, so that `exposure` has its name and client id.
    let o = simsid(&env, &["show", org.as_str(), "--reveal"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let export_file = ts.dir.path().join("export.csv");
    let exposure_file = ts.dir.path().join("exposure.csv");
    let mut outputs = Vec::new();
    for args in [
        &["export", "--format", "csv"][..],
        &["exposure", "--format", "csv"][..],
    ] {
        let o = simsid(&env, args).await;
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        outputs.push((format!("{args:?} to stdout"), o.stdout));
    }
    for (args, file) in [
        (&["export", "--format", "csv", "--output"][..], &export_file),
        (
            &["exposure", "--format", "csv", "--output"][..],
            &exposure_file,
        ),
    ] {
        let mut args = args.to_vec();
        let path = file.display().to_string();
        args.push(&path);
        let o = simsid(&env, &args).await;
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        outputs.push((format!("{args:?}"), std::fs::read(file).unwrap()));
    }
    for (what, bytes) in outputs {
        let text = String::from_utf8(bytes).expect("UTF-8 CSV");
        // The name arrives visibly escaped, whole, in one cell.
        assert!(
            text.contains("Evil \\u{1b}]52;c;SGVsbG8=\\u{7} School\\u{a}FORGED-ROW"),
            "{what}: {text}"
        );
        // No control or bidi character at all, but the record separators.
        let bad: Vec<char> = text
            .chars()
            .filter(|&c| c != '\n' && c != '\r' && simsid::sanitize::is_unsafe_char(c))
            .collect();
        assert!(bad.is_empty(), "{what}: {bad:?} in {text}");
        // Every record has the header's number of fields (no forged row).
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let width = reader.headers().unwrap().len();
        for record in reader.records() {
            let record = record.unwrap();
            assert_eq!(record.len(), width, "{what}: {record:?}");
            assert!(!record.iter().any(|c| c.starts_with("FORGED")), "{what}");
        }
    }
    sim.shutdown().await;
}
