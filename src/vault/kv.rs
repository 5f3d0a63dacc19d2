//! KV v2 (docs/reference/vault.md "Layout"): read, write with check-and-set, metadata, delete, list.
//! Every call is authenticated ([`VaultClient::call`]); a key name is escaped for the URL.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::client::VaultClient;
use super::error::VaultError;
use super::path::url_escape;
use super::routing::Route;

/// A KV v2 read: the data and its version.
#[derive(Debug, Clone)]
pub struct KvRead<T> {
    pub data: T,
    pub version: u64,
}

/// A KV v2 key's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvMetadata {
    pub current_version: u64,
    pub custom_metadata: BTreeMap<String, String>,
    /// The current version is soft-deleted or destroyed.
    pub current_deleted: bool,
    /// When the key was last written (the vault's clock), when it says.
    pub updated_time: Option<DateTime<Utc>>,
}

impl VaultClient {
    /// Reads the latest version of `key` in the KV v2 `mount`; `None` when there is none
    /// (never written, deleted, or its latest version soft-deleted).
    pub async fn kv_read<T: DeserializeOwned>(
        &self,
        mount: &str,
        key: &str,
        route: Route,
    ) -> Result<Option<KvRead<T>>, VaultError> {
        let path = format!("{mount}/data/{}", url_escape(key));
        let answer = self.call(Method::GET, &path, None, route).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        answer.expect_ok(&path)?;
        #[derive(Deserialize)]
        struct Outer<T> {
            data: Inner<T>,
        }
        #[derive(Deserialize)]
        struct Inner<T> {
            data: Option<T>,
            metadata: VersionMeta,
        }
        #[derive(Deserialize)]
        struct VersionMeta {
            version: u64,
        }
        let outer: Outer<T> = answer.json(&path)?;
        Ok(outer.data.data.map(|data| KvRead {
            data,
            version: outer.data.metadata.version,
        }))
    }

    /// [`VaultClient::kv_read`] with every answer bounded by `max_answer` bytes: an answer
    /// larger is refused as it arrives, unread (`VaultError::Status` 413), so what a
    /// hostile vault sends costs at most that much memory.
    pub async fn kv_read_within<T: DeserializeOwned>(
        &self,
        mount: &str,
        key: &str,
        route: Route,
        max_answer: usize,
    ) -> Result<Option<KvRead<T>>, VaultError> {
        super::http::with_answer_limit(max_answer, self.kv_read(mount, key, route)).await
    }

    /// Writes a new version of `key`; `cas` is the version expected now (0: must not
    /// exist), `None` for no check. Returns the new version.
    pub async fn kv_write<T: Serialize>(
        &self,
        mount: &str,
        key: &str,
        data: &T,
        cas: Option<u64>,
    ) -> Result<u64, VaultError> {
        let path = format!("{mount}/data/{}", url_escape(key));
        let mut doc = json!({ "data": data });
        if let Some(cas) = cas {
            doc["options"] = json!({ "cas": cas });
        }
        let body = Zeroizing::new(serde_json::to_vec(&doc).map_err(|_| VaultError::Invalid {
            path: path.clone(),
            message: "cannot encode the data".into(),
        })?);
        zeroize_value(doc);
        let answer = self
            .call(Method::POST, &path, Some(&body), Route::Any)
            .await?;
        if answer.status == StatusCode::BAD_REQUEST && answer.errors().contains("check-and-set") {
            return Err(VaultError::CasMismatch);
        }
        answer.expect_ok(&path)?;
        #[derive(Deserialize)]
        struct Written {
            data: WrittenData,
        }
        #[derive(Deserialize)]
        struct WrittenData {
            version: u64,
        }
        Ok(answer.json::<Written>(&path)?.data.version)
    }

    /// Sets `key`'s custom metadata.
    pub async fn kv_metadata_write(
        &self,
        mount: &str,
        key: &str,
        custom: &BTreeMap<String, String>,
    ) -> Result<(), VaultError> {
        let path = format!("{mount}/metadata/{}", url_escape(key));
        let body = Zeroizing::new(
            serde_json::to_vec(&json!({ "custom_metadata": custom })).unwrap_or_default(),
        );
        let answer = self
            .call(Method::POST, &path, Some(&body), Route::Any)
            .await?;
        answer.expect_ok(&path)
    }

    /// `key`'s metadata, `None` when the key does not exist.
    pub async fn kv_metadata_read(
        &self,
        mount: &str,
        key: &str,
        route: Route,
    ) -> Result<Option<KvMetadata>, VaultError> {
        let path = format!("{mount}/metadata/{}", url_escape(key));
        let answer = self.call(Method::GET, &path, None, route).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        answer.expect_ok(&path)?;
        #[derive(Deserialize)]
        struct Outer {
            data: Meta,
        }
        #[derive(Deserialize)]
        struct Meta {
            current_version: u64,
            #[serde(default)]
            custom_metadata: Option<BTreeMap<String, String>>,
            #[serde(default)]
            versions: BTreeMap<String, VersionState>,
            #[serde(default)]
            updated_time: Option<String>,
        }
        #[derive(Deserialize)]
        struct VersionState {
            #[serde(default)]
            deletion_time: String,
            #[serde(default)]
            destroyed: bool,
        }
        let m: Outer = answer.json(&path)?;
        let current_deleted = m
            .data
            .versions
            .get(&m.data.current_version.to_string())
            .is_some_and(|v| v.destroyed || !v.deletion_time.is_empty());
        Ok(Some(KvMetadata {
            current_version: m.data.current_version,
            custom_metadata: m.data.custom_metadata.unwrap_or_default(),
            current_deleted,
            updated_time: m
                .data
                .updated_time
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc)),
        }))
    }

    /// Deletes `key`'s metadata and every version.
    pub async fn kv_delete_all(&self, mount: &str, key: &str) -> Result<(), VaultError> {
        let path = format!("{mount}/metadata/{}", url_escape(key));
        let answer = self.call(Method::DELETE, &path, None, Route::Any).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        answer.expect_ok(&path)
    }

    /// Soft-deletes `key`'s latest version.
    pub async fn kv_soft_delete(&self, mount: &str, key: &str) -> Result<(), VaultError> {
        let path = format!("{mount}/data/{}", url_escape(key));
        let answer = self.call(Method::DELETE, &path, None, Route::Any).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        answer.expect_ok(&path)
    }

    /// The names directly under `folder` (folders end with `/`); empty when none.
    pub async fn kv_list(
        &self,
        mount: &str,
        folder: &str,
        route: Route,
    ) -> Result<Vec<String>, VaultError> {
        Ok(self.kv_list_dated(mount, folder, route).await?.0)
    }

    /// [`VaultClient::kv_list`] and the time the vault answered (its `Date` header, to the
    /// second), to compare with keys' `updated_time` on the vault's own clock.
    pub async fn kv_list_dated(
        &self,
        mount: &str,
        folder: &str,
        route: Route,
    ) -> Result<(Vec<String>, Option<DateTime<Utc>>), VaultError> {
        let path = format!("{mount}/metadata/{}/?list=true", url_escape(folder));
        let answer = self.call(Method::GET, &path, None, route).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok((Vec::new(), answer.date));
        }
        answer.expect_ok(&path)?;
        #[derive(Deserialize)]
        struct Outer {
            data: Keys,
        }
        #[derive(Deserialize)]
        struct Keys {
            #[serde(default)]
            keys: Vec<String>,
        }
        Ok((answer.json::<Outer>(&path)?.data.keys, answer.date))
    }
}

/// Overwrites the strings of a JSON value that held a secret before it is dropped.
fn zeroize_value(value: Value) {
    match value {
        Value::String(s) => drop(Zeroizing::new(s)),
        Value::Array(items) => items.into_iter().for_each(zeroize_value),
        Value::Object(map) => map.into_iter().for_each(|(_, v)| zeroize_value(v)),
        _ => {}
    }
}
