//! Sys calls: a node's role (`sys/health`), the seal, a mount's engine and version, and what
//! the identity may do on paths (`sys/capabilities-self`), for `vault check` and `doctor`.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::client::VaultClient;
use super::error::VaultError;
use super::http::unanswered;
use super::routing::Route;

/// A node's role as `sys/health` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeRole {
    Active,
    Standby,
    Sealed,
    Uninitialised,
    /// Another status code.
    Other(u16),
}

impl NodeRole {
    /// The word shown by `vault check`.
    pub fn as_str(&self) -> String {
        match self {
            NodeRole::Active => "active".into(),
            NodeRole::Standby => "standby".into(),
            NodeRole::Sealed => "sealed".into(),
            NodeRole::Uninitialised => "not initialised".into(),
            NodeRole::Other(s) => format!("status {s}"),
        }
    }

    /// The role a `sys/health` status code stands for.
    pub fn from_health(status: u16) -> NodeRole {
        match status {
            200 => NodeRole::Active,
            429 | 472 | 473 => NodeRole::Standby,
            503 => NodeRole::Sealed,
            501 => NodeRole::Uninitialised,
            s => NodeRole::Other(s),
        }
    }
}

impl VaultClient {
    /// `sys/capabilities-self` for `paths` (full API paths such as `secret/data/x/*`).
    pub async fn capabilities_self(
        &self,
        paths: &[String],
    ) -> Result<BTreeMap<String, Vec<String>>, VaultError> {
        let body =
            Zeroizing::new(serde_json::to_vec(&json!({ "paths": paths })).unwrap_or_default());
        let answer = self
            .call(
                Method::POST,
                "sys/capabilities-self",
                Some(&body),
                Route::Any,
            )
            .await?;
        answer.expect_ok("sys/capabilities-self")?;
        let v: Value = answer.json("sys/capabilities-self")?;
        let data = v.get("data").unwrap_or(&v);
        Ok(paths
            .iter()
            .map(|p| {
                let caps = data
                    .get(p)
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                (p.clone(), caps)
            })
            .collect())
    }

    /// One node's role from `sys/health` (no retry, no token).
    pub async fn health(&self, index: usize) -> Result<NodeRole, VaultError> {
        let addr = self.nodes.addr(index);
        let answer = self
            .http
            .send_once(addr, &Method::GET, "sys/health", None, None)
            .await
            .map_err(|e| unanswered(addr, &e))?;
        Ok(NodeRole::from_health(answer.status.as_u16()))
    }

    /// Whether the vault is sealed (`sys/seal-status`).
    pub async fn sealed(&self) -> Result<bool, VaultError> {
        let answer = self
            .send(Method::GET, "sys/seal-status", None, None, Route::Any)
            .await?;
        answer.expect_ok("sys/seal-status")?;
        #[derive(Deserialize)]
        struct Seal {
            sealed: bool,
        }
        Ok(answer.json::<Seal>("sys/seal-status")?.sealed)
    }

    /// The mount's engine type and KV version (`sys/internal/ui/mounts/MOUNT`).
    pub async fn mount_kind(&self, mount: &str) -> Result<(String, Option<String>), VaultError> {
        let path = format!("sys/internal/ui/mounts/{mount}");
        let answer = self.call(Method::GET, &path, None, Route::Any).await?;
        answer.expect_ok(&path)?;
        let v: Value = answer.json(&path)?;
        let data = v.get("data").cloned().unwrap_or(Value::Null);
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let version = data
            .get("options")
            .and_then(|o| o.get("version"))
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok((kind, version))
    }
}
