//! The harvest against a standards-based OAuth 2.0 server that is not ours (a narrowed
//! scope fails the run and keeps the cache; a client refused `client_secret_post` reports
//! the OAuth error and Basic works): Authlib's client-credentials grant and bearer
//! validation (`tests/authlib/server.py`), started on a free loopback port. Authlib and
//! Flask are provisioned by the suite on first use (the kit's `tools`, crates/simsid-testkit); a failure to
//! provision fails the tests rather than skipping them.

use crate::support::common;
use crate::support::tools;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

const APP_ID: &str = "11111111-2222-3333-4444-555555555555";
const SCOPES: &str = "rapapi partner partner-read partner-write";

/// The Authlib server, killed when dropped.
struct Authlib {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Authlib {
    fn start() -> Authlib {
        // Authlib and Flask are provisioned by the suite on first use (the kit's `tools`, crates/simsid-testkit).
        let (python, pythonpath) = tools::python_with_authlib();
        let check = Command::new(&python)
            .args(["-c", "import authlib, flask"])
            .env("PYTHONPATH", &pythonpath)
            .output();
        assert!(
            check.as_ref().is_ok_and(|o| o.status.success()),
            "python3 cannot import the provisioned authlib and flask: {check:?}"
        );
        let dir = tempfile::tempdir().unwrap();
        let port_file = dir.path().join("port");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/authlib/server.py");
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(&port_file)
            .env("PYTHONPATH", &pythonpath)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        // Bounded wait for the port file (written atomically once bound).
        for _ in 0..300 {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                if let Ok(port) = text.trim().parse() {
                    return Authlib {
                        child,
                        port,
                        _dir: dir,
                    };
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the Authlib server exited: {status}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        panic!("the Authlib server did not start within 15 s");
    }

    #[allow(clippy::disallowed_methods)] // the store key goes into the child's environment
    fn env(&self, store: &TempStore, client: &str, secret: &str) -> BTreeMap<String, String> {
        let base = format!("http://127.0.0.1:{}", self.port);
        let mut m = BTreeMap::new();
        m.insert("SIMSID_APPLICATION_ID".into(), APP_ID.into());
        m.insert("SIMSID_CLIENT_ID".into(), client.into());
        m.insert(
            "SIMSID_ORGANISATION_ID".into(),
            "207A1392-E1F6-47BA-81DA-6C374971D788".into(),
        );
        m.insert("SIMSID_CLIENT_SECRET".into(), secret.into());
        m.insert("SIMSID_STS_URL".into(), format!("{base}/connect/token"));
        m.insert("SIMSID_API_BASE".into(), format!("{base}/api/v1/partner"));
        m.insert("SIMSID_SCOPES".into(), SCOPES.into());
        m.insert("SIMSID_STORE".into(), store.path().display().to_string());
        m.insert(
            "SIMSID_STORE_KEY".into(),
            secrecy::ExposeSecret::expose_secret(&store.key_b64).to_string(),
        );
        m.insert("SIMSID_LOG".into(), store.log().display().to_string());
        m
    }
}

impl Drop for Authlib {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A harvest with `env` fails (exit 1) naming `reason`, and the 24 credentials the store
/// behind `full` cached stay.
async fn fails_keeping_the_cache(
    env: &BTreeMap<String, String>,
    reason: &str,
    full: &BTreeMap<String, String>,
) {
    let run = json(&run(env, &["harvest", "--json"], 1).await);
    assert_eq!(run["status"], "failed", "{run}");
    let error = run["error"].as_str().unwrap();
    assert!(error.contains(reason), "{run}");
    assert_eq!(
        cached_credentials(full).await,
        24,
        "the cache is not emptied"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrowed_scope_from_authlib_fails_the_harvest_and_keeps_the_cache() {
    let server = Authlib::start();
    let ts = TempStore::new();
    let full = server.env(&ts, "full", "full-secret");
    let o = simsid(&full, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["credentials_total"], 24);
    assert_eq!(cached_credentials(&full).await, 24);

    // Allowed only `rapapi partner`: Authlib grants that much (RFC 6749 §3.3).
    let narrow = server.env(&ts, "narrow", "narrow-secret");
    fails_keeping_the_cache(&narrow, "partner-read partner-write", &full).await;

    // Asking only for what it gets: every Clients call is Authlib's 403 insufficient_scope.
    let mut asks_less = narrow.clone();
    asks_less.insert("SIMSID_SCOPES".into(), "rapapi partner".into());
    fails_keeping_the_cache(&asks_less, "insufficient_scope", &full).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authlib_refusing_client_secret_post_reports_the_oauth_error_and_basic_works() {
    let server = Authlib::start();
    let ts = TempStore::new();
    let post = server.env(&ts, "basic", "basic-secret");
    let o = simsid(&post, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("invalid_client (HTTP 401)"), "{err}");
    assert!(err.contains("cannot authenticate with methods"), "{err}");
    assert!(err.contains("sts_client_auth = \"basic\""), "{err}");
    assert!(!err.contains("basic-secret"), "{err}");

    let mut basic = post.clone();
    basic.insert("SIMSID_STS_CLIENT_AUTH".into(), "basic".into());
    let o = simsid(&basic, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["credentials_total"], 24);
}
