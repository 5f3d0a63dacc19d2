//! A real OpenBao for the vault tests: `bao server -dev` on a free loopback port, started
//! by the tests and killed on drop. `bao` is provisioned by the suite on first use
//! ([`crate::tools`]); a failure to provision fails the test, never skips it. Also a
//! three-node Raft cluster ([`Cluster`]) and what the simulator serves ([`served`]).

use crate::sims::ToDomain;
use crate::tools;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::Value;

/// The dev server's root token (a test value, loopback only).
pub const ROOT_TOKEN: &str = "simsid-test-root";

/// A running OpenBao node; killed on drop.
pub struct Bao {
    child: Child,
    pub addr: String,
    /// The token [`Bao::api`] uses (root).
    pub token: String,
    _dir: tempfile::TempDir,
    /// The file audit log ([`Bao::dev_audited`]).
    audit_log: Option<PathBuf>,
    _audit_dir: Option<tempfile::TempDir>,
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The `-config=…` argument of a file audit device writing to `audit_log`, declared in a
/// configuration file beside it.
fn audit_config(audit_log: &Path) -> String {
    let hcl = format!(
        "audit \"file\" \"simsid-test\" {{\n  options {{\n    file_path = \"{}\"\n  }}\n}}\n",
        audit_log.display()
    );
    let config = audit_log.with_extension("hcl");
    std::fs::write(&config, hcl).unwrap();
    format!("-config={}", config.display())
}

/// Waits (at most 5 s, a last guard) until the audit log at `path` (a file another process
/// appends to) satisfies `ready`, named `what` in the panic; its text then.
pub async fn audit_log_when(path: &Path, what: &str, ready: impl Fn(&str) -> bool) -> String {
    for _ in 0..100 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if ready(&text) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the audit log {} never {what}", path.display());
}

/// The `bao` binary the kit provisions itself (see [`crate::tools`]).
pub fn bao_bin() -> PathBuf {
    tools::bao()
}

impl Bao {
    /// Starts `bao server -dev` on a free port and waits until it answers.
    pub async fn dev() -> Bao {
        Bao::dev_with(&[]).await
    }

    /// A dev server with a file audit device writing to `audit_log`, declared in a
    /// configuration file beside it (OpenBao refuses to enable audit devices through the
    /// API).
    pub async fn dev_with_audit(audit_log: &Path) -> Bao {
        Bao::dev_with(&[audit_config(audit_log)]).await
    }

    /// A dev server with a file audit device writing to its own [`Bao::audit_log`].
    pub async fn dev_audited() -> Bao {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("audit.log");
        let mut bao = Bao::dev_with(&[audit_config(&log)]).await;
        bao.audit_log = Some(log);
        bao._audit_dir = Some(dir);
        bao
    }

    /// The file audit log of a server started by [`Bao::dev_audited`].
    pub fn audit_log(&self) -> &Path {
        self.audit_log
            .as_deref()
            .expect("a server started with Bao::dev_audited")
    }

    /// [`Bao::dev`] with more arguments (an extra `-config=…` listener, say).
    pub async fn dev_with(extra: &[String]) -> Bao {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let addr = format!("http://127.0.0.1:{port}");
        let log = std::fs::File::create(dir.path().join("bao.log")).unwrap();
        let child = Command::new(bao_bin())
            .args([
                "server",
                "-dev",
                &format!("-dev-root-token-id={ROOT_TOKEN}"),
                &format!("-dev-listen-address=127.0.0.1:{port}"),
            ])
            .args(extra)
            .env("HOME", dir.path())
            .env_remove("VAULT_ADDR")
            .env_remove("BAO_ADDR")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("bao starts");
        let bao = Bao {
            child,
            addr,
            token: ROOT_TOKEN.to_string(),
            _dir: dir,
            audit_log: None,
            _audit_dir: None,
        };
        bao.wait_ready().await;
        bao
    }

    async fn wait_ready(&self) {
        for _ in 0..300 {
            if let Ok((200, _)) = self.try_api("GET", "sys/health", None, None).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("bao dev server at {} did not become ready", self.addr);
    }

    /// One API call with `token` (root when `None`): status and JSON body (Null if none).
    pub async fn try_api(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Result<(u16, Value), reqwest::Error> {
        // A client per call: tests run on different runtimes.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let mut req = http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}/v1/{path}", self.addr),
            )
            .header("X-Vault-Token", token.unwrap_or(&self.token));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// [`Bao::try_api`] with the root token, panicking on a transport error.
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.try_api(method, path, body, None)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// The data of `secret/data/{key}` and its version, `None` when absent or deleted.
    pub async fn read(&self, key: &str) -> Option<(Value, u64)> {
        let (s, v) = self
            .api(
                "GET",
                &format!("secret/data/{}", key.replace('%', "%25")),
                None,
            )
            .await;
        (s == 200).then(|| {
            (
                v["data"]["data"].clone(),
                v["data"]["metadata"]["version"].as_u64().unwrap(),
            )
        })
    }

    /// `secret/metadata/{key}`, `None` when the key does not exist at all.
    pub async fn metadata(&self, key: &str) -> Option<Value> {
        let (s, v) = self
            .api(
                "GET",
                &format!("secret/metadata/{}", key.replace('%', "%25")),
                None,
            )
            .await;
        (s == 200).then(|| v["data"].clone())
    }

    /// Every key (recursively) under `prefix`, but not the team's view (`_simsid/`: folders
    /// whose name starts with `_` are simsid's own, not credentials).
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut folders = vec![prefix.trim_end_matches('/').to_string()];
        let mut guard = 0;
        while let Some(f) = folders.pop() {
            guard += 1;
            assert!(guard < 10_000);
            let (s, v) = self
                .api(
                    "GET",
                    &format!("secret/metadata/{}/?list=true", f.replace('%', "%25")),
                    None,
                )
                .await;
            if s != 200 {
                continue;
            }
            for k in v["data"]["keys"].as_array().unwrap() {
                let k = k.as_str().unwrap();
                if let Some(folder) = k.strip_suffix('/') {
                    if folder.starts_with('_') {
                        continue;
                    }
                    folders.push(format!("{f}/{folder}"));
                } else {
                    out.push(format!("{f}/{k}"));
                }
            }
        }
        out.sort();
        out
    }

    /// Creates a token with `policies` (and no default root), returning it.
    pub async fn token_with(&self, policies: &[&str]) -> String {
        let (s, v) = self
            .api(
                "POST",
                "auth/token/create",
                Some(serde_json::json!({ "policies": policies, "ttl": "1h" })),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v["auth"]["client_token"].as_str().unwrap().to_string()
    }

    /// Enables userpass (once per server, whichever test comes first) and creates `user` with `policies`; returns a token from
    /// logging in as that user (display name `userpass-USER`).
    pub async fn userpass_login(&self, user: &str, policies: &[&str]) -> String {
        let (s, v) = self.api("GET", "sys/auth", None).await;
        assert_eq!(s, 200, "{v}");
        if v["userpass/"].is_null() && v["data"]["userpass/"].is_null() {
            let (s, v) = self
                .api(
                    "POST",
                    "sys/auth/userpass",
                    Some(serde_json::json!({ "type": "userpass" })),
                )
                .await;
            // Another test on the same server may have enabled it since the listing.
            let raced = s == 400 && v.to_string().contains("already in use");
            assert!(s == 204 || s == 200 || raced, "{s} {v}");
        }
        let password = format!("pw-{user}-test");
        let (s, v) = self
            .api(
                "POST",
                &format!("auth/userpass/users/{user}"),
                Some(serde_json::json!({ "password": password, "policies": policies.join(",") })),
            )
            .await;
        assert!(s == 204 || s == 200, "{s} {v}");
        let (s, v) = self
            .api(
                "POST",
                &format!("auth/userpass/login/{user}"),
                Some(serde_json::json!({ "password": password })),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v["auth"]["client_token"].as_str().unwrap().to_string()
    }

    /// Writes an ACL policy.
    pub async fn policy(&self, name: &str, hcl: &str) {
        let (s, v) = self
            .api(
                "PUT",
                &format!("sys/policies/acl/{name}"),
                Some(serde_json::json!({ "policy": hcl })),
            )
            .await;
        assert!(s == 204 || s == 200, "{s} {v}");
    }
}

static SHARED: Mutex<Weak<Bao>> = Mutex::new(Weak::new());
static STARTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One dev server shared by the tests running at the same time (stopped when the last
/// holder drops it). Each test uses its own prefix.
pub async fn shared() -> Arc<Bao> {
    let _one = STARTING.lock().await;
    if let Some(b) = SHARED.lock().unwrap().upgrade() {
        return b;
    }
    let b = Arc::new(Bao::dev().await);
    *SHARED.lock().unwrap() = Arc::downgrade(&b);
    b
}

/// A three-node OpenBao Raft cluster on loopback (docs/reference/vault.md "A cluster"): one config per
/// node, `operator init` on the first, unseal, the others join by `retry_join` and are
/// unsealed once initialised, three voters, then KV v2 at `secret/`.
pub struct Cluster {
    pub nodes: Vec<Option<Bao>>,
    pub addrs: Vec<String>,
    pub root_token: String,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts and forms the cluster; panics (never skips) if it cannot.
    pub async fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
        let addrs: Vec<String> = ports
            .iter()
            .map(|(api, _)| format!("http://127.0.0.1:{api}"))
            .collect();
        let joins: String = addrs
            .iter()
            .map(|a| format!("  retry_join {{\n    leader_api_addr = \"{a}\"\n  }}\n"))
            .collect();
        let mut nodes = Vec::new();
        for (i, (api, cluster)) in ports.iter().enumerate() {
            let node_dir = dir.path().join(format!("node{i}"));
            std::fs::create_dir_all(node_dir.join("raft")).unwrap();
            let config = format!(
                "storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"node{i}\"\n  performance_multiplier = 1\n{joins}}}\n\
                 listener \"tcp\" {{\n  address = \"127.0.0.1:{api}\"\n  cluster_address = \"127.0.0.1:{cluster}\"\n  tls_disable = true\n}}\n\
                 api_addr = \"http://127.0.0.1:{api}\"\ncluster_addr = \"https://127.0.0.1:{cluster}\"\n\
                 disable_mlock = true\nui = false\n",
                node_dir.join("raft").display()
            );
            let cfg = node_dir.join("config.hcl");
            std::fs::write(&cfg, config).unwrap();
            let log = std::fs::File::create(node_dir.join("bao.log")).unwrap();
            let child = Command::new(bao_bin())
                .args(["server", &format!("-config={}", cfg.display())])
                .env("HOME", &node_dir)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("bao starts");
            nodes.push(Some(Bao {
                child,
                addr: addrs[i].clone(),
                token: String::new(),
                _dir: tempfile::tempdir().unwrap(),
                audit_log: None,
                _audit_dir: None,
            }));
        }
        let mut cluster = Cluster {
            nodes,
            addrs,
            root_token: String::new(),
            _dir: dir,
        };
        cluster.form().await;
        cluster
    }

    /// Node `i` (panics when killed).
    pub fn node(&self, i: usize) -> &Bao {
        self.nodes[i].as_ref().expect("node running")
    }

    async fn until<F, Fut>(&self, what: &str, mut f: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        for _ in 0..600 {
            if f().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("cluster: timed out waiting until {what}");
    }

    async fn form(&mut self) {
        let first = self.node(0);
        self.until("node 0 answers", || async {
            first
                .try_api("GET", "sys/seal-status", None, Some(""))
                .await
                .is_ok()
        })
        .await;
        let (s, v) = first
            .try_api(
                "PUT",
                "sys/init",
                Some(serde_json::json!({"secret_shares": 1, "secret_threshold": 1})),
                Some(""),
            )
            .await
            .unwrap();
        assert_eq!(s, 200, "init: {v}");
        let key = v["keys_base64"][0].as_str().unwrap().to_string();
        self.root_token = v["root_token"].as_str().unwrap().to_string();
        for node in self.nodes.iter_mut().flatten() {
            node.token = self.root_token.clone();
        }
        let first = self.node(0);
        let unseal = serde_json::json!({ "key": key });
        let (s, v) = first
            .try_api("PUT", "sys/unseal", Some(unseal.clone()), Some(""))
            .await
            .unwrap();
        assert_eq!(s, 200, "unseal: {v}");
        self.until("node 0 is active", || async {
            matches!(
                first.try_api("GET", "sys/health", None, Some("")).await,
                Ok((200, _))
            )
        })
        .await;
        for i in 1..3 {
            let node = self.node(i);
            self.until("a node is initialised by joining", || async {
                matches!(
                    node.try_api("GET", "sys/seal-status", None, Some("")).await,
                    Ok((200, v)) if v["initialized"] == serde_json::json!(true)
                )
            })
            .await;
            let (s, v) = node
                .try_api("PUT", "sys/unseal", Some(unseal.clone()), Some(""))
                .await
                .unwrap();
            assert_eq!(s, 200, "unseal node {i}: {v}");
        }
        let token = self.root_token.clone();
        self.until("three voters", || async {
            match first
                .try_api("GET", "sys/storage/raft/configuration", None, Some(&token))
                .await
            {
                Ok((200, v)) => v["data"]["config"]["servers"].as_array().is_some_and(|s| {
                    s.len() == 3 && s.iter().all(|n| n["voter"] == serde_json::json!(true))
                }),
                _ => false,
            }
        })
        .await;
        let (s, v) = first
            .try_api(
                "POST",
                "sys/mounts/secret",
                Some(serde_json::json!({"type": "kv", "options": {"version": "2"}})),
                Some(&token),
            )
            .await
            .unwrap();
        assert!(s == 204 || s == 200, "mount: {s} {v}");
        // KV v2 upgrades its mount in the background: wait until a write is accepted.
        self.until("KV v2 accepts writes", || async {
            matches!(
                first
                    .try_api(
                        "POST",
                        "secret/data/ready",
                        Some(serde_json::json!({"data": {"ok": "1"}})),
                        Some(&token),
                    )
                    .await,
                Ok((200, _))
            )
        })
        .await;
    }

    /// The index of the active node, asked of the running nodes.
    pub async fn leader(&self) -> Option<usize> {
        for i in 0..self.nodes.len() {
            let Some(node) = &self.nodes[i] else { continue };
            if let Ok((200, v)) = node.try_api("GET", "sys/leader", None, Some("")).await {
                let want = v["leader_address"].as_str().unwrap_or_default();
                if let Some(j) = self.addrs.iter().position(|a| a == want) {
                    if self.nodes[j].is_some() {
                        return Some(j);
                    }
                }
            }
        }
        None
    }

    /// Waits (bounded) for an active node among the running ones.
    pub async fn wait_leader(&self) -> usize {
        for _ in 0..600 {
            if let Some(i) = self.leader().await {
                if let Ok((200, _)) = self
                    .node(i)
                    .try_api("GET", "sys/health", None, Some(""))
                    .await
                {
                    return i;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("cluster: no leader");
    }

    /// Kills node `i`.
    pub fn kill(&mut self, i: usize) {
        self.nodes[i] = None;
    }

    /// An API call with the root token to node `i`.
    pub async fn api(
        &self,
        i: usize,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.node(i)
            .try_api(method, path, body, Some(&self.root_token))
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }
}

/// Every (org, client id, secret) the simulator serves now: what the vault should hold.
// The tests compare the vault's secrets with these.
#[allow(clippy::disallowed_methods)]
pub fn served(sim: &simsid_simulator::Simulator) -> Vec<(simsid::domain::OrgId, String, String)> {
    use secrecy::ExposeSecret;
    sim.control()
        .sites()
        .into_iter()
        .flat_map(|s| {
            s.visible_clients()
                .iter()
                .map(|c| {
                    (
                        s.org_id.to_domain(),
                        c.client_id.clone(),
                        c.secret.expose_secret().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}
