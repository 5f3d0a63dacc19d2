//! Team mode (vault.md "Team mode"): the harvest host publishes the team's view under
//! `{prefix}/_simsid/` after every committing harvest, and a viewer pulls it into its store.
//!
//! Each operation has a vault half that holds no store (so it may run as a background task)
//! between a store read before and a store write after: [`publish_view`] then
//! [`Store::set_published`] / [`Store::set_run_identity`]; [`fetch_view`] then
//! [`Store::replace_with_view`]. [`publish`] and [`pull`] do all three for the CLI.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::{OpError, OpResult};
use crate::store::{PublishedMark, PulledMark, Store};
use crate::vault::{Route, VaultClient, VaultError, VaultSettings};
use crate::view::chunk::{is_chunk_name, sha256_hex, Header};
use crate::view::{assemble, build, Manifest, View, ViewError};

/// Chunk requests in flight at most.
const CONCURRENCY: usize = 16;
/// Pull attempts when the manifest or a chunk is not found (a standby lagging a write, a
/// cluster electing a new leader, a publish that removed a chunk meanwhile): each attempt
/// reads the manifest again, from the active node, after a pause that doubles from
/// [`FIRST_PAUSE`] up to [`MAX_PAUSE`] (about 7 s in all).
const PULL_ATTEMPTS: u32 = 8;
const FIRST_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);
const MAX_PAUSE: std::time::Duration = std::time::Duration::from_secs(2);

/// Why a viewer does not harvest (a usage error, exit 2).
pub const HARVEST_ON_VIEWER: &str = "this profile reads the team's view from the vault; harvests run on the harvest host (`source = \"sims\"`)";

/// The folder of the view under the prefix (its first segment starts with `_`: simsid's
/// own, never a site, never removed by `--reconcile`).
pub const VIEW_FOLDER: &str = "_simsid";

/// A chunk or the manifest as stored in the vault: its exact bytes as one string, so that
/// the SHA-256 a reader checks is over what the writer hashed.
#[derive(Debug, Serialize, Deserialize)]
struct Body {
    body: String,
}

/// The manifest's key under the mount.
pub fn manifest_key(settings: &VaultSettings) -> String {
    format!("{}/{VIEW_FOLDER}/manifest", settings.prefix)
}

/// A chunk's key under the mount (`name` is a checked SHA-256).
fn chunk_key(settings: &VaultSettings, name: &str) -> String {
    format!("{}/{VIEW_FOLDER}/chunks/{name}", settings.prefix)
}

fn view_error(e: ViewError) -> OpError {
    OpError::failed(e.to_string())
}

/// What one publish did (`harvest --json` `"view"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Published {
    /// Chunks the view has.
    pub chunks: usize,
    /// Chunks written by this publish (only those not already in the vault).
    pub written: usize,
    /// Chunks removed (retired by the previous publish).
    pub removed: usize,
    /// Vault requests this publish made (the session's login or lookup included).
    pub requests: u64,
}

/// Reads the manifest: its KV version and body, `None` when nothing is published.
async fn read_manifest(
    client: &VaultClient,
    settings: &VaultSettings,
    route: Route,
) -> Result<Option<(u64, String)>, VaultError> {
    let read = client
        .kv_read::<Body>(&settings.mount, &manifest_key(settings), route)
        .await?;
    Ok(read.map(|r| (r.version, r.data.body)))
}

/// The vault half of a publish: writes `view` (from [`Store::view`]) after `previous`
/// (from [`Store::published`]; `None`: read from the vault). Chunks the previous manifest
/// did not name are written first, then the manifest with check-and-set on the previous
/// version (another publisher in between: read again, once), then the chunks the previous
/// publish retired are removed. `repair` writes every chunk and removes any chunk under
/// `_simsid/chunks/` neither manifest names (`harvest --reconcile`). The run `run_id`, if
/// in the view, is published with the identity that publishes. Returns what it did, the
/// mark to remember ([`Store::set_published`]) and the identity ([`Store::set_run_identity`]).
pub async fn publish_view(
    client: &VaultClient,
    settings: &VaultSettings,
    mut view: View,
    previous: Option<PublishedMark>,
    run_id: uuid::Uuid,
    repair: bool,
) -> OpResult<(Published, PublishedMark, Option<String>)> {
    let start = client.requests();
    let identity = client.identity().await.ok();
    if let Some(run) = view.runs.iter_mut().find(|r| r.run_id == run_id) {
        if run.identity.is_none() {
            run.identity.clone_from(&identity);
        }
    }
    let mut known: Option<(u64, Option<Manifest>)> =
        previous.map(|p| (p.version, Manifest::parse(&p.manifest).ok()));
    if known.is_none() {
        known = read_manifest(client, settings, Route::Active)
            .await?
            .map(|(v, body)| (v, Manifest::parse(&body).ok()));
    }
    let header = Header {
        run_id,
        published_at: Utc::now(),
        identity: identity.clone(),
    };
    let built = build(&view, header).map_err(view_error)?;
    for attempt in 0..2 {
        let mut manifest = built.manifest.clone();
        let prev = known.as_ref().and_then(|(_, m)| m.as_ref());
        let plan = manifest.plan_after(prev, repair);
        let body = manifest.to_body().map_err(view_error)?;
        let writes: Vec<(String, Body)> = plan
            .write
            .iter()
            .map(|name| {
                let body = built.bodies.get(name).cloned().unwrap_or_default();
                (chunk_key(settings, name), Body { body })
            })
            .collect();
        stream::iter(writes)
            .map(|(key, chunk)| async move {
                client.kv_write(&settings.mount, &key, &chunk, None).await
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<u64>>()
            .await?;
        let cas = known.as_ref().map_or(0, |(v, _)| *v);
        let version = match client
            .kv_write(
                &settings.mount,
                &manifest_key(settings),
                &Body { body: body.clone() },
                Some(cas),
            )
            .await
        {
            Ok(v) => v,
            Err(VaultError::CasMismatch) if attempt == 0 => {
                // Another publisher wrote in between (or this store's memory is old).
                known = read_manifest(client, settings, Route::Active)
                    .await?
                    .map(|(v, body)| (v, Manifest::parse(&body).ok()));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let mut remove = plan.remove.clone();
        if repair {
            remove.extend(orphans(client, settings, &manifest).await?);
        }
        let keys: Vec<String> = remove.iter().map(|n| chunk_key(settings, n)).collect();
        let removed = stream::iter(keys)
            .map(|key| async move { client.kv_delete_all(&settings.mount, &key).await })
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        let failed = removed.iter().filter(|r| r.is_err()).count();
        if failed > 0 {
            // Left behind, harmless (no manifest names them); `--reconcile` removes them.
            warn!(failed, "old chunks of the team's view could not be removed");
        }
        let published = Published {
            chunks: manifest.chunks.len(),
            written: plan.write.len(),
            removed: remove.len() - failed,
            requests: client.requests() - start,
        };
        info!(
            run_id = %run_id,
            chunks = published.chunks,
            written = published.written,
            removed = published.removed,
            requests = published.requests,
            "team view published"
        );
        let mark = PublishedMark {
            version,
            manifest: body,
        };
        return Ok((published, mark, identity));
    }
    Err(OpError::failed(
        "the team's view changed in the vault twice while publishing (another harvest host?)",
    ))
}

/// Chunks under `_simsid/chunks/` that neither `manifest` nor the publish it retired from
/// names (left behind by a failed removal).
async fn orphans(
    client: &VaultClient,
    settings: &VaultSettings,
    manifest: &Manifest,
) -> Result<Vec<String>, VaultError> {
    let folder = format!("{}/{VIEW_FOLDER}/chunks", settings.prefix);
    let names = client
        .kv_list(&settings.mount, &folder, Route::Active)
        .await?;
    let keep = manifest.names();
    Ok(names
        .into_iter()
        .filter(|n| is_chunk_name(n))
        .filter(|n| !keep.contains(n.as_str()) && !manifest.retired.contains(n))
        .collect())
}

/// Publishes the view of `store` after run `run_id` committed (the CLI's harvest): the
/// store read, [`publish_view`], and what it published remembered in the store.
pub async fn publish(
    client: &VaultClient,
    settings: &VaultSettings,
    store: &Store,
    run_id: uuid::Uuid,
    repair: bool,
) -> OpResult<Published> {
    let view = store.view()?;
    let previous = if repair { None } else { store.published()? };
    let (published, mark, identity) =
        publish_view(client, settings, view, previous, run_id, repair).await?;
    if let Some(identity) = identity {
        store.set_run_identity(&run_id.to_string(), &identity)?;
    }
    store.set_published(&mark)?;
    Ok(published)
}

pub use crate::domain::Pulled;

/// The pull `mark` describes; `changed` when it brought a new view.
fn pulled(mark: &PulledMark, changed: bool) -> Pulled {
    Pulled {
        run_id: Some(mark.run_id.to_string()),
        published_at: Some(mark.published_at),
        sites: mark.sites,
        credentials: mark.credentials,
        changed,
    }
}

/// What the vault half of a pull found.
#[derive(Debug)]
pub enum Fetched {
    /// The view already pulled.
    Unchanged(PulledMark),
    /// A new view, verified: write it with [`Store::replace_with_view`] (`chunks` are the
    /// chunks it is made of, to cache).
    Changed {
        view: View,
        chunks: HashMap<String, String>,
        mark: PulledMark,
    },
}

impl Fetched {
    /// The pull's outcome as `pull --json` reports it.
    pub fn summary(&self) -> Pulled {
        match self {
            Fetched::Unchanged(mark) => pulled(mark, false),
            Fetched::Changed { mark, .. } => pulled(mark, true),
        }
    }
}

/// The vault half of a pull: reads the manifest (one request when it is the one `known`
/// names), fetches the chunks not in `cached`, and verifies every chunk and the stream. A
/// chunk that went missing (a publish removed it meanwhile) starts again from the
/// manifest on the active node, at most [`PULL_ATTEMPTS`] times; an altered chunk fails
/// at once.
pub async fn fetch_view(
    client: &VaultClient,
    settings: &VaultSettings,
    known: Option<&PulledMark>,
    mut cached: HashMap<String, String>,
) -> OpResult<Fetched> {
    let mut last = None;
    for attempt in 0..PULL_ATTEMPTS {
        let route = if attempt == 0 {
            Route::Any
        } else {
            let pause = FIRST_PAUSE
                .saturating_mul(1 << (attempt - 1).min(8))
                .min(MAX_PAUSE);
            tokio::time::sleep(pause).await;
            Route::Active
        };
        let (_, body) = match read_manifest(client, settings, route).await {
            Ok(Some(found)) => found,
            // A standby may lag a write by a moment, and during an election the answer may
            // come from one: ask again before saying nothing is published.
            Ok(None) if attempt + 1 < PULL_ATTEMPTS => {
                last = Some(ViewError::Malformed("no manifest".into()));
                continue;
            }
            Ok(None) => {
                return Err(OpError::failed(format!(
                    "nothing is published at {}/{}: the harvest host (`source = \"sims\"`, \
                     `secrets = \"vault\"`) publishes the team's view with every harvest",
                    settings.mount,
                    manifest_key(settings)
                )))
            }
            Err(VaultError::Forbidden(_)) => {
                return Err(OpError::failed(format!(
                    "your vault identity may not read the team's view at {}/{}: it needs the \
                     viewer policy (`simsid vault policy`)",
                    settings.mount,
                    manifest_key(settings)
                )))
            }
            Err(e) => return Err(e.into()),
        };
        let sha = sha256_hex(body.as_bytes());
        if let Some(k) = known.filter(|k| k.manifest_sha256 == sha) {
            return Ok(Fetched::Unchanged(k.clone()));
        }
        let manifest = Manifest::parse(&body).map_err(view_error)?;
        let wanted: Vec<String> = manifest
            .names()
            .into_iter()
            .filter(|n| !cached.contains_key(*n))
            .map(str::to_string)
            .collect();
        let fetched = stream::iter(wanted)
            .map(|name| async move {
                let read = client
                    .kv_read::<Body>(&settings.mount, &chunk_key(settings, &name), route)
                    .await;
                (name, read)
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        for (name, read) in fetched {
            match read {
                Ok(Some(r)) => {
                    cached.insert(name, r.data.body);
                }
                Ok(None) => {}
                Err(VaultError::Forbidden(_)) => {
                    return Err(OpError::failed(
                        "your vault identity may not read the team's view (`simsid vault policy`: viewer)",
                    ))
                }
                Err(e) => return Err(e.into()),
            }
        }
        match assemble(&manifest, &cached) {
            Ok(view) => {
                let names = manifest.names();
                cached.retain(|n, _| names.contains(n.as_str()));
                let mark = PulledMark {
                    manifest_sha256: sha,
                    run_id: manifest.run_id,
                    published_at: manifest.published_at,
                    identity: manifest.identity.clone(),
                    sites: manifest.sites,
                    credentials: manifest.credentials,
                    pulled_at: Utc::now(),
                };
                return Ok(Fetched::Changed {
                    view,
                    chunks: cached,
                    mark,
                });
            }
            Err(e @ ViewError::Missing { .. }) => {
                warn!(error = %e, attempt, "a chunk of the team's view went missing; reading the manifest again");
                last = Some(e);
            }
            Err(e) => return Err(view_error(e)),
        }
    }
    Err(view_error(last.unwrap_or(ViewError::Malformed(
        "the view could not be read".into(),
    ))))
}

/// `simsid pull`: brings the published view into `store` (the caller holds the harvest
/// lock). An unchanged view costs one request and writes nothing; a missing or altered
/// chunk fails and leaves the store as it was.
pub async fn pull(
    client: &VaultClient,
    settings: &VaultSettings,
    store: &mut Store,
) -> OpResult<Pulled> {
    let known = store.pulled()?;
    let cached = if known.is_some() {
        store.view_chunks()?
    } else {
        HashMap::new()
    };
    let fetched = fetch_view(client, settings, known.as_ref(), cached).await?;
    let pulled = fetched.summary();
    if let Fetched::Changed { view, chunks, mark } = &fetched {
        let chunks: BTreeMap<&str, &str> = chunks
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_str()))
            .collect();
        store.replace_with_view(view, &chunks, mark)?;
        info!(run_id = %mark.run_id, sites = mark.sites, credentials = mark.credentials, "team view pulled");
    }
    Ok(pulled)
}

/// A harvest's commit sink that also publishes the team's view once the run committed:
/// `inner` (the vault sink) takes the harvest as before; `outcome` says how the publish
/// went, for the front end to report.
#[derive(Debug)]
pub struct Publishing<K> {
    pub inner: K,
    client: std::sync::Arc<VaultClient>,
    settings: VaultSettings,
    repair: bool,
    /// `None` until a publish was tried (or when the run did not commit); the reason when
    /// it failed.
    pub outcome: Option<Result<Published, String>>,
}

impl<K> Publishing<K> {
    /// `inner` publishing through `client` under `settings`; `repair` (`--reconcile`)
    /// rewrites every chunk and removes orphaned ones.
    pub fn new(
        inner: K,
        client: std::sync::Arc<VaultClient>,
        settings: &VaultSettings,
        repair: bool,
    ) -> Self {
        Publishing {
            inner,
            client,
            settings: settings.clone(),
            repair,
            outcome: None,
        }
    }
}

impl<K: super::CommitSink> super::CommitSink for Publishing<K> {
    fn sync(
        &mut self,
        run: super::harvest::ToSync<'_>,
        summary: &mut crate::domain::RunSummary,
    ) -> impl std::future::Future<Output = OpResult<super::Synced>> {
        self.inner.sync(run, summary)
    }

    fn identity(&self) -> Option<String> {
        self.inner.identity()
    }

    fn publishes_view(&self) -> bool {
        true
    }

    async fn publish_view(
        &mut self,
        view: View,
        previous: Option<PublishedMark>,
        run_id: uuid::Uuid,
    ) -> Option<(PublishedMark, Option<String>)> {
        let published = publish_view(
            &self.client,
            &self.settings,
            view,
            previous,
            run_id,
            self.repair,
        )
        .await;
        match published {
            Ok((published, mark, identity)) => {
                self.outcome = Some(Ok(published));
                Some((mark, identity))
            }
            Err(e) => {
                warn!(error = %e, "the team's view was not published");
                self.outcome = Some(Err(e.to_string()));
                None
            }
        }
    }
}

/// The fingerprint the harvest host wrote in the custom metadata of a credential's key, if
/// that metadata describes `version` (what a viewer read); `None` when it cannot be read.
pub async fn host_fingerprint(
    client: &VaultClient,
    settings: &VaultSettings,
    org: &crate::domain::OrgId,
    client_id: &str,
    version: u64,
) -> Option<crate::domain::Fingerprint> {
    let key = crate::vault::path::credential_key(&settings.prefix, org, client_id);
    let meta = client
        .kv_metadata_read(&settings.mount, &key, Route::Active)
        .await
        .ok()??;
    (meta.current_version == version)
        .then(|| meta.custom_metadata.get("fingerprint").cloned())
        .flatten()
        .filter(|f| f.len() <= 64 && f.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(crate::domain::Fingerprint)
}

/// On a viewer, the fingerprint an audit record of a read names (vault.md "Team mode":
/// fingerprints agree): the view's when the version read is the view's, else `host` (the
/// host's, from the key's custom metadata: [`host_fingerprint`]); `None` when neither.
pub fn viewer_fingerprint(
    store: &Store,
    org: &crate::domain::OrgId,
    client_id: &str,
    version: u64,
    host: Option<crate::domain::Fingerprint>,
) -> Option<crate::domain::Fingerprint> {
    let mark = store.credential_mark(org, client_id).ok().flatten();
    match mark {
        Some((fingerprint, Some(v))) if v == version => Some(fingerprint),
        _ => host,
    }
}

/// `vault check` on a viewer: whether this identity may read the team's view (and it is
/// there), and whether it may also read secrets (reveal, copy, verify: the operator
/// policy) or not (the viewer policy). Each line: what was checked and ok or the reason.
pub async fn check_viewer(
    client: &VaultClient,
    settings: &VaultSettings,
) -> Vec<(String, Result<String, String>)> {
    let mount = &settings.mount;
    let view_path = format!("{mount}/data/{}", manifest_key(settings));
    let secret_path = format!("{mount}/data/{}/simsid-check/simsid-check", settings.prefix);
    let mut out = Vec::new();
    let caps = match client
        .capabilities_self(&[view_path.clone(), secret_path.clone()])
        .await
    {
        Ok(caps) => caps,
        Err(e) => {
            out.push((
                format!("capabilities on {mount}/{}", settings.prefix),
                Err(e.to_string()),
            ));
            return out;
        }
    };
    let none = Vec::new();
    let may_read = |path: &str| {
        crate::vault::policy::missing(&["read"], caps.get(path).unwrap_or(&none)).is_empty()
    };
    let view = if may_read(&view_path) {
        match read_manifest(client, settings, Route::Any).await {
            Ok(Some((_, body))) => match Manifest::parse(&body) {
                Ok(m) => Ok(format!(
                    "readable: run {} published {} ({} sites)",
                    m.run_id,
                    crate::domain::rfc3339::format(&m.published_at),
                    m.sites
                )),
                Err(e) => Err(e.to_string()),
            },
            Ok(None) => Err(
                "readable, but nothing is published yet: the harvest host publishes the view with every harvest in vault mode"
                    .into(),
            ),
            Err(e) => Err(e.to_string()),
        }
    } else {
        Err(
            "this identity may not read it: it needs the viewer policy (see `simsid vault policy`)"
                .into(),
        )
    };
    out.push((format!("team view {view_path}"), view));
    out.push((
        "secrets".into(),
        Ok(if may_read(&secret_path) {
            "this identity may also read secrets (reveal, copy, verify: the operator policy)".into()
        } else {
            "this identity may not read secrets (the viewer policy): reveal, copy and verify are refused".into()
        }),
    ));
    out
}
