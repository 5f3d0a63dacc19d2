//! The team's view as evidence, against a real OpenBao (docs/reference/vault.md "Trust: the view and the
//! audit log are evidence"): a replayed manifest is refused unless `pull --accept-older`
//! (audited), a view that would empty a viewer is held, a view whose fingerprint carries
//! terminal controls is refused whole, an audit trail that already holds one prints it
//! escaped, and `show --check-vault` checks each fingerprint against the key's own custom
//! metadata without reading a secret.

use crate::support::common;
use crate::support::vault_support;

use std::collections::BTreeMap;

use crate::support::team_env::{host_env, viewer_env};
use common::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use simsid::vault::path::credential_key;
use simsid::vault::policy;
use vault_support::{served, shared, Bao, ROOT_TOKEN};

/// What a terminal must never get raw from a view: OSC 52 (set the clipboard) and SGR.
const HOSTILE: &str = "\u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{1b}[31mffff";

/// What a viewer shows: `sites --json` and every site's `show --json`.
async fn shown(env: &BTreeMap<String, String>) -> Vec<Value> {
    let sites = json(&run(env, &["sites", "--json"], 0).await);
    let mut out = vec![sites.clone()];
    for s in sites.as_array().unwrap() {
        let org = s["organisation_id"].as_str().unwrap();
        out.push(json(&run(env, &["show", org, "--json"], 0).await));
    }
    out
}

/// A token holding the harvester policy for `prefix` (what a harvest host runs with, and
/// all it takes to write the view).
async fn harvester_token(bao: &Bao, prefix: &str) -> String {
    let name = format!("harvester-{}", prefix.replace('/', "-"));
    bao.policy(&name, &policy::harvester("secret", prefix, None))
        .await;
    bao.token_with(&[&name]).await
}

/// The manifest's body as the vault holds it.
async fn manifest_body(bao: &Bao, prefix: &str) -> String {
    let (data, _) = bao
        .read(&format!("{prefix}/_simsid/manifest"))
        .await
        .expect("a manifest");
    data["body"].as_str().unwrap().to_string()
}

/// The view's whole stream (every chunk in order, then the tail) of `manifest`.
async fn stream_of(bao: &Bao, prefix: &str, manifest: &Value) -> String {
    let mut stream = String::new();
    for c in manifest["chunks"].as_array().unwrap() {
        let key = format!("{prefix}/_simsid/chunks/{}", c["name"].as_str().unwrap());
        let (data, _) = bao.read(&key).await.expect("a chunk");
        stream.push_str(data["body"].as_str().unwrap());
    }
    stream.push_str(manifest["tail"].as_str().unwrap());
    stream
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `body` as the manifest with `token` (a harvester-policy identity).
async fn write_manifest(bao: &Bao, prefix: &str, token: &str, body: &str) {
    let (s, v) = bao
        .try_api(
            "POST",
            &format!("secret/data/{prefix}/_simsid/manifest"),
            Some(json!({"data": {"body": body}})),
            Some(token),
        )
        .await
        .unwrap();
    assert_eq!(s, 200, "{v}");
}

/// Forges the next view as a harvester-policy identity could: the current stream changed
/// by `change`, whole in the manifest's tail, with the next sequence and the counts the
/// changed stream holds. Returns the forged manifest.
async fn forge(bao: &Bao, prefix: &str, token: &str, change: impl Fn(&str) -> String) -> Value {
    let current: Value = serde_json::from_str(&manifest_body(bao, prefix).await).unwrap();
    let stream = change(&stream_of(bao, prefix, &current).await);
    let lines: Vec<Value> = stream
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let sites: Vec<&Value> = lines.iter().filter_map(|l| l.get("site")).collect();
    let credentials: usize = sites
        .iter()
        .map(|s| s["credentials"].as_array().unwrap().len())
        .sum();
    let mut forged = current.clone();
    forged["sequence"] = json!(current["sequence"].as_u64().unwrap() + 1);
    forged["chunks"] = json!([]);
    forged["retired"] = json!([]);
    forged["tail"] = json!(stream);
    forged["stream_sha256"] = json!(sha256_hex(stream.as_bytes()));
    forged["sites"] = json!(sites.len());
    forged["credentials"] = json!(credentials);
    write_manifest(bao, prefix, token, &forged.to_string()).await;
    forged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_manifest_is_refused_and_taken_only_with_accept_older_which_is_audited() {
    let bao = shared().await;
    let sim = simulator(7, 2101).await;
    let prefix = "t/trust-replay";
    let host_store = TempStore::new();
    let host = host_env(&sim, &host_store, &bao, prefix);
    run(&host, &["harvest"], 0).await;
    let first = manifest_body(&bao, prefix).await;
    let first_sequence = serde_json::from_str::<Value>(&first).unwrap()["sequence"].clone();
    assert_eq!(first_sequence, json!(1), "the first publish");

    let (org, client, _) = served(&sim).remove(0);
    assert!(sim.control().rotate_secret(&org.to_sim(), &client));
    run(&host, &["harvest"], 0).await;
    let second: Value = serde_json::from_str(&manifest_body(&bao, prefix).await).unwrap();
    assert_eq!(second["sequence"], json!(2), "one more than the vault's");

    let viewer_store = TempStore::new();
    let viewer = viewer_env(&sim, &viewer_store, &bao, prefix, ROOT_TOKEN);
    run(&viewer, &["pull"], 0).await;
    let before = shown(&viewer).await;

    // The previous manifest written again by a harvester-policy identity (its chunks are
    // still there: a publish removes what it retired only at the next publish).
    let harvester = harvester_token(&bao, prefix).await;
    write_manifest(&bao, prefix, &harvester, &first).await;
    let o = run(&viewer, &["pull"], 1).await;
    let e = stderr(&o);
    assert!(
        e.contains("sequence 1") && e.contains("sequence 2") && e.contains("--accept-older"),
        "{e}"
    );
    assert_eq!(shown(&viewer).await, before, "the store is unchanged");
    assert!(
        !json(&run(&viewer, &["audit", "--json"], 0).await)
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == json!("pull")),
        "nothing taken, nothing audited"
    );

    // Taken on purpose: the older view, and an audit record saying so.
    let o = run(&viewer, &["pull", "--accept-older", "--json"], 0).await;
    assert_eq!(json(&o)["changed"], json!(true));
    assert_ne!(shown(&viewer).await, before);
    let audit = json(&run(&viewer, &["audit", "--json"], 0).await);
    let pulls: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == json!("pull"))
        .collect();
    assert_eq!(pulls.len(), 1, "{audit}");
    let detail = pulls[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("--accept-older") && detail.contains("sequence 1") && detail.contains('2'),
        "{detail}"
    );
    run(&viewer, &["audit", "--verify"], 0).await;

    // The host's next publish continues from the vault's sequence.
    assert!(sim.control().rotate_secret(&org.to_sim(), &client));
    run(&host, &["harvest"], 0).await;
    let third: Value = serde_json::from_str(&manifest_body(&bao, prefix).await).unwrap();
    assert_eq!(third["sequence"], json!(2), "the replayed 1, plus one");
    run(&viewer, &["pull"], 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_with_no_sites_is_held_until_accept_removals() {
    let bao = shared().await;
    let sim = simulator(12, 2102).await;
    let prefix = "t/trust-empty";
    let host_store = TempStore::new();
    let host = host_env(&sim, &host_store, &bao, prefix);
    run(&host, &["harvest"], 0).await;
    let viewer_store = TempStore::new();
    let viewer = viewer_env(&sim, &viewer_store, &bao, prefix, ROOT_TOKEN);
    let pulled = json(&run(&viewer, &["pull", "--json"], 0).await);
    let credentials = pulled["credentials"].as_u64().unwrap();
    assert!(credentials > 5, "{pulled}");
    let before = shown(&viewer).await;

    let harvester = harvester_token(&bao, prefix).await;
    let forged = forge(&bao, prefix, &harvester, |stream| {
        stream
            .lines()
            .filter(|l| l.starts_with("{\"run\""))
            .map(|l| format!("{l}\n"))
            .collect()
    })
    .await;
    assert_eq!(forged["sites"], json!(0));

    let o = run(&viewer, &["pull"], 3).await;
    let e = stderr(&o);
    assert!(
        e.contains("pull --accept-removals") && e.contains(&format!("of the {credentials}")),
        "{e}"
    );
    assert_eq!(shown(&viewer).await, before, "the store is unchanged");

    let o = run(&viewer, &["pull", "--accept-removals", "--json"], 0).await;
    assert_eq!(json(&o)["sites"], json!(0));
    let sites = json(&run(&viewer, &["sites", "--json"], 0).await);
    assert_eq!(sites, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fingerprint_carrying_terminal_controls_refuses_the_whole_view() {
    let bao = shared().await;
    let sim = simulator(5, 2103).await;
    let prefix = "t/trust-osc52";
    let host_store = TempStore::new();
    let host = host_env(&sim, &host_store, &bao, prefix);
    run(&host, &["harvest"], 0).await;
    let viewer_store = TempStore::new();
    let viewer = viewer_env(&sim, &viewer_store, &bao, prefix, ROOT_TOKEN);
    run(&viewer, &["pull"], 0).await;
    let before = shown(&viewer).await;
    let pulled_before = viewer_store.open().pulled().unwrap();

    let harvester = harvester_token(&bao, prefix).await;
    let hostile = serde_json::to_string(HOSTILE).unwrap();
    forge(&bao, prefix, &harvester, |stream| {
        // The first credential's fingerprint, whatever it is.
        let at = stream.find("\"fingerprint\":\"").unwrap() + "\"fingerprint\":".len();
        let end = at + 18;
        format!("{}{hostile}{}", &stream[..at], &stream[end..])
    })
    .await;
    let o = run(&viewer, &["pull"], 1).await;
    let e = stderr(&o);
    assert!(e.contains("not a fingerprint"), "{e}");
    assert!(
        !o.stderr.contains(&0x1b) && !o.stdout.contains(&0x1b),
        "{e:?}"
    );
    assert_eq!(shown(&viewer).await, before, "the store is unchanged");
    assert_eq!(viewer_store.open().pulled().unwrap(), pulled_before);

    // A time in the future, likewise.
    run(&host, &["harvest", "--reconcile"], 0).await;
    run(&viewer, &["pull"], 0).await;
    let before = shown(&viewer).await;
    forge(&bao, prefix, &harvester, |stream| {
        let at = stream.find("\"first_seen\":\"").unwrap() + "\"first_seen\":\"".len();
        let end = at + stream[at..].find('"').unwrap();
        format!("{}2999-01-01T00:00:00Z{}", &stream[..at], &stream[end..])
    })
    .await;
    let o = run(&viewer, &["pull"], 1).await;
    assert!(stderr(&o).contains("out of range"), "{}", stderr(&o));
    assert_eq!(shown(&viewer).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_trail_that_already_holds_a_hostile_fingerprint_prints_it_escaped() {
    let sim = simulator(3, 2104).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    run(&env, &["harvest"], 0).await;
    let (org, _, _) = served(&sim).remove(0);
    run(&env, &["show", org.as_str(), "--reveal"], 0).await;
    // As an older build could have recorded it from a view it did not check.
    let conn = rusqlite::Connection::open(ts.path()).unwrap();
    let changed = conn
        .execute(
            "UPDATE audit SET fingerprint = ?1 WHERE action = 'reveal'",
            [HOSTILE],
        )
        .unwrap();
    assert!(changed >= 1);
    drop(conn);

    let o = run(&env, &["audit"], 0).await;
    let text = stdout(&o);
    assert!(
        !o.stdout.contains(&0x1b) && !o.stdout.contains(&0x07),
        "{text:?}"
    );
    assert!(text.contains("\\u{1b}]52;c;"), "{text}");
    let o = run(&env, &["audit", "--json"], 0).await;
    assert!(!o.stdout.contains(&0x1b));
    let entries = json(&o);
    assert!(entries
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["fingerprint"] == json!(HOSTILE)));
}

/// The data reads of credentials (`secret/data/{prefix}/…`, not the view) in the audit log.
fn credential_data_reads(log: &std::path::Path, prefix: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == json!("request"))
        .filter(|v| {
            let path = v["request"]["path"].as_str().unwrap_or("");
            path.starts_with(&format!("secret/data/{prefix}/"))
                && !path.contains("/_simsid/")
                && v["request"]["operation"] == json!("read")
        })
        .count()
}

/// The metadata reads of credentials in the audit log (a harvest writes metadata; only
/// `--check-vault` reads it here).
fn credential_metadata_reads(log: &std::path::Path, prefix: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == json!("request"))
        .filter(|v| {
            let path = v["request"]["path"].as_str().unwrap_or("");
            path.starts_with(&format!("secret/metadata/{prefix}/"))
                && !path.contains("/_simsid/")
                && v["request"]["operation"] == json!("read")
        })
        .count()
}

/// Waits (bounded) until the audit log holds `n` credential metadata reads.
async fn metadata_reads_at_least(log: &std::path::Path, prefix: &str, n: usize) -> usize {
    for _ in 0..100 {
        let got = credential_metadata_reads(log, prefix);
        if got >= n {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    credential_metadata_reads(log, prefix)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_check_vault_reads_each_keys_metadata_and_names_what_differs() {
    let dir = tempfile::tempdir().unwrap();
    let audit_log = dir.path().join("audit.log");
    let bao = Bao::dev_with_audit(&audit_log).await;
    let sim = simulator(4, 2105).await;
    let prefix = "t/trust-check";
    let host_store = TempStore::new();
    let host = host_env(&sim, &host_store, &bao, prefix);
    run(&host, &["harvest"], 0).await;

    bao.policy("team-operator", &policy::operator("secret", prefix))
        .await;
    bao.policy("team-viewer", &policy::viewer("secret", prefix))
        .await;
    let olga = bao.userpass_login("olga", &["team-operator"]).await;
    let vera = bao.userpass_login("vera", &["team-viewer"]).await;
    let viewer_store = TempStore::new();
    let viewer = viewer_env(&sim, &viewer_store, &bao, prefix, &olga);
    run(&viewer, &["pull"], 0).await;

    // The site with the most credentials.
    let mut by_org: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (org, client, _) in served(&sim) {
        by_org
            .entry(org.as_str().to_string())
            .or_default()
            .push(client);
    }
    let (org, clients) = by_org.iter().max_by_key(|(_, c)| c.len()).unwrap();
    let data_reads_before = credential_data_reads(&audit_log, prefix);
    let metadata_before = credential_metadata_reads(&audit_log, prefix);

    // Every fingerprint agrees: on the viewer and on the host.
    let o = run(&viewer, &["show", org, "--check-vault", "--json"], 0).await;
    let v = json(&o);
    let creds = v["credentials"].as_array().unwrap();
    assert_eq!(creds.len(), clients.len());
    for c in creds {
        assert_eq!(c["agrees"], json!(true), "{c}");
        assert_eq!(c["vault_fingerprint"], c["fingerprint"], "{c}");
        assert_eq!(c["secret"], Value::Null, "no secret");
    }
    assert_eq!(
        metadata_reads_at_least(&audit_log, prefix, metadata_before + clients.len()).await,
        metadata_before + clients.len(),
        "one metadata read per credential"
    );
    let o = run(&viewer, &["show", org, "--check-vault"], 0).await;
    assert!(stdout(&o).contains("agrees"), "{}", stdout(&o));
    run(&host, &["show", org, "--check-vault"], 0).await;

    // One key's custom metadata says another fingerprint; another's says none.
    let other = &clients[0];
    let key = credential_key(prefix, &simsid::domain::OrgId::parse(org).unwrap(), other);
    let (s, r) = bao
        .api(
            "POST",
            &format!("secret/metadata/{key}"),
            Some(json!({"custom_metadata": {"fingerprint": "0000000000000000"}})),
        )
        .await;
    assert!(s == 200 || s == 204, "{r}");
    let o = run(&viewer, &["show", org, "--check-vault", "--json"], 1).await;
    assert!(stderr(&o).contains(other.as_str()), "{}", stderr(&o));
    let v = json(&o);
    let c = v["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == json!(other))
        .unwrap();
    assert_eq!(c["agrees"], json!(false));
    assert_eq!(c["vault_fingerprint"], json!("0000000000000000"));
    let (s, r) = bao
        .api(
            "POST",
            &format!("secret/metadata/{key}"),
            Some(json!({"custom_metadata": {"simsid_run": "x"}})),
        )
        .await;
    assert!(s == 200 || s == 204, "{r}");
    let o = run(&viewer, &["show", org, "--check-vault"], 1).await;
    assert!(stdout(&o).contains("MISSING"), "{}", stdout(&o));
    assert!(
        stderr(&o).contains(other.as_str()) && stderr(&o).contains("missing"),
        "{}",
        stderr(&o)
    );

    // No secret was read by any of it.
    assert_eq!(credential_data_reads(&audit_log, prefix), data_reads_before);

    // The viewer policy may not read a key's metadata: said so, exit 1.
    let viewer_only = viewer_env(&sim, &viewer_store, &bao, prefix, &vera);
    let o = run(&viewer_only, &["show", org, "--check-vault"], 1).await;
    assert!(stderr(&o).contains("operator"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_vault_on_a_profile_without_a_vault_is_a_usage_error() {
    let sim = simulator(1, 2106).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    run(&env, &["harvest"], 0).await;
    let (org, _, _) = served(&sim).remove(0);
    let o = run(&env, &["show", org.as_str(), "--check-vault"], 2).await;
    assert!(stderr(&o).contains("needs a vault"), "{}", stderr(&o));
    let o = run(
        &env,
        &["show", org.as_str(), "--check-vault", "--reveal"],
        2,
    )
    .await;
    assert!(stderr(&o).contains("--reveal"), "{}", stderr(&o));
}
