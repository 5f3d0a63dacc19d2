//! Team mode (docs/reference/vault.md "Team mode"): the harvest host publishes the team's view under
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
/// Manifest reads when none is found (a standby lagging a write, a cluster electing a new
/// leader): each reads again, from the active node, after a pause that doubles from
/// [`FIRST_PAUSE`] up to [`MAX_PAUSE`] (about 7 s in all). Chunks get one retry pass.
const PULL_ATTEMPTS: u32 = 8;
const FIRST_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);
const MAX_PAUSE: std::time::Duration = std::time::Duration::from_secs(2);
/// The pause before the one retry pass over missing chunks.
const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(300);

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
    // Not bounded below the client's own bound: a damaged manifest must not stop the host
    // from publishing over it.
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
    // What is in the vault now: its KV version, the manifest (if this build reads it) and
    // its sequence (this publish's is one more).
    let parsed =
        |(v, body): (u64, String)| (v, Manifest::parse(&body).ok(), Manifest::sequence_of(&body));
    let mut known: Option<(u64, Option<Manifest>, u64)> =
        previous.map(|p| parsed((p.version, p.manifest)));
    if known.is_none() {
        known = read_manifest(client, settings, Route::Active)
            .await?
            .map(parsed);
    }
    let header = Header {
        sequence: 0,
        run_id,
        published_at: Utc::now(),
        identity: identity.clone(),
    };
    let built = build(&view, header).map_err(view_error)?;
    for attempt in 0..2 {
        let mut manifest = built.manifest.clone();
        manifest.sequence = known
            .as_ref()
            .map_or(0, |(_, _, seq)| *seq)
            .saturating_add(1);
        let prev = known.as_ref().and_then(|(_, m, _)| m.as_ref());
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
        let cas = known.as_ref().map_or(0, |(v, _, _)| *v);
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
                    .map(parsed);
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
        /// Taken with `accept_older`: (its sequence, the higher one the store held).
        older: Option<(u64, u64)>,
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

/// What a viewer takes that a pull refuses by default (`pull --accept-older`,
/// `pull --accept-removals`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PullOptions {
    /// Take a view whose sequence is below the one the store holds (audited).
    pub accept_older: bool,
    /// Take a view that removes more than the removal guard allows.
    pub accept_removals: bool,
}

/// The bytes a KV answer may add around its data (request id, metadata, the JSON of the
/// envelope): a chunk's answer is refused above twice its declared bytes (JSON-escaping
/// JSON lines at most doubles them) plus this.
const ENVELOPE: usize = 16 * 1024;

/// The largest answer a manifest read may be.
const MANIFEST_ANSWER_MAX: usize = 2 * crate::view::chunk::MANIFEST_MAX + ENVELOPE;

/// Reads the manifest for a pull, bounded like any answer of the view: `None` when
/// nothing is published.
async fn read_manifest_bounded(
    client: &VaultClient,
    settings: &VaultSettings,
    route: Route,
) -> Result<Option<String>, VaultError> {
    let read = client
        .kv_read_within::<Body>(
            &settings.mount,
            &manifest_key(settings),
            route,
            MANIFEST_ANSWER_MAX,
        )
        .await?;
    Ok(read.map(|r| r.data.body))
}

/// Reads the manifest for a pull: a few times, from the active node after the first,
/// while none is found (a standby may lag a write by a moment, and during an election the
/// answer may come from one); every attempt is one request.
async fn read_manifest_patiently(
    client: &VaultClient,
    settings: &VaultSettings,
) -> OpResult<String> {
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
        match read_manifest_bounded(client, settings, route).await {
            Ok(Some(body)) => return Ok(body),
            Ok(None) => continue,
            Err(VaultError::Forbidden(_)) => return Err(view_forbidden(settings)),
            Err(e) => return Err(e.into()),
        }
    }
    Err(OpError::failed(format!(
        "nothing is published at {}/{}: the harvest host (`source = \"sims\"`, \
         `secrets = \"vault\"`) publishes the team's view with every harvest",
        settings.mount,
        manifest_key(settings)
    )))
}

fn view_forbidden(settings: &VaultSettings) -> OpError {
    OpError::failed(format!(
        "your vault identity may not read the team's view at {}/{}: it needs the viewer \
         policy (`simsid vault policy`)",
        settings.mount,
        manifest_key(settings)
    ))
}

/// Why a pass over the chunks stopped.
enum Stop {
    /// A chunk is not there.
    Missing(String),
    /// Anything else: the pull fails at once.
    Fatal(OpError),
}

/// Fetches `wanted` (name and declared bytes) into `cached` from `route`. Each answer is
/// refused as it arrives once it passes what its chunk can be (twice the declared bytes
/// plus the envelope), and a body longer than declared is refused before it is hashed. A
/// chunk that is not there is collected in the returned list, or with `stop_at_missing`
/// ends the pass at once. Any other failure ends it at once. Requests in flight are
/// dropped when the pass ends early.
async fn fetch_chunks(
    client: &VaultClient,
    settings: &VaultSettings,
    wanted: Vec<(String, usize)>,
    route: Route,
    cached: &mut HashMap<String, String>,
    stop_at_missing: bool,
) -> Result<Vec<String>, Stop> {
    let mut reads = stream::iter(wanted)
        .map(|(name, bytes)| async move {
            let limit = bytes.saturating_mul(2).saturating_add(ENVELOPE);
            let read = client
                .kv_read_within::<Body>(&settings.mount, &chunk_key(settings, &name), route, limit)
                .await;
            (name, bytes, read)
        })
        .buffer_unordered(CONCURRENCY);
    let mut missing = Vec::new();
    while let Some((name, bytes, read)) = reads.next().await {
        match read {
            Ok(Some(r)) if r.data.body.len() == bytes => {
                cached.insert(name, r.data.body);
            }
            Ok(Some(_)) | Err(VaultError::Status { status: 413, .. }) => {
                return Err(Stop::Fatal(view_error(ViewError::TooLarge(format!(
                    "chunk {name} is not the {bytes} bytes its manifest declares"
                )))))
            }
            Ok(None) if stop_at_missing => return Err(Stop::Missing(name)),
            Ok(None) => missing.push(name),
            Err(VaultError::Forbidden(_)) => return Err(Stop::Fatal(view_forbidden(settings))),
            Err(e) => return Err(Stop::Fatal(e.into())),
        }
    }
    Ok(missing)
}

/// The vault half of a pull: reads the manifest (one request when it is the one `known`
/// names), refuses one whose sequence is below `known`'s unless `accept_older`, fetches
/// the chunks not in `cached`, and verifies every chunk and the stream. Bounded by what
/// the manifest declares (docs/reference/vault.md "Trust"): duplicate names and a declared size above
/// [`crate::view::DECLARED_MAX`] are refused before any chunk is asked for, each chunk's
/// answer is bounded by its declared size, and chunks not found get one retry pass on the
/// active node (after the manifest is read again there: a publish may have moved on),
/// which ends at the first chunk still missing. At most two requests per chunk named,
/// plus the manifest reads.
pub async fn fetch_view(
    client: &VaultClient,
    settings: &VaultSettings,
    known: Option<&PulledMark>,
    mut cached: HashMap<String, String>,
    accept_older: bool,
) -> OpResult<Fetched> {
    let mut body = read_manifest_patiently(client, settings).await?;
    let mut route = Route::Any;
    for pass in 0..2 {
        let sha = sha256_hex(body.as_bytes());
        if let Some(k) = known.filter(|k| k.manifest_sha256 == sha) {
            return Ok(Fetched::Unchanged(k.clone()));
        }
        let manifest = Manifest::parse(&body).map_err(view_error)?;
        let older = match known {
            Some(k) if manifest.sequence < k.sequence => {
                if !accept_older {
                    return Err(OpError::failed(format!(
                        "the team's view in the vault has sequence {}, older than the sequence \
                         {} this store holds: refused (an earlier view written again?); the \
                         local view is unchanged. `simsid pull --accept-older` takes it \
                         anyway (audited)",
                        manifest.sequence, k.sequence
                    )));
                }
                Some((manifest.sequence, k.sequence))
            }
            _ => None,
        };
        let wanted: Vec<(String, usize)> = manifest
            .chunks
            .iter()
            .filter(|c| !cached.contains_key(&c.name))
            .map(|c| (c.name.clone(), c.bytes))
            .collect();
        let retry = pass == 1;
        let missing = match fetch_chunks(client, settings, wanted, route, &mut cached, retry).await
        {
            Ok(missing) => missing,
            Err(Stop::Fatal(e)) => return Err(e),
            Err(Stop::Missing(name)) => return Err(view_error(ViewError::Missing { name })),
        };
        if missing.is_empty() {
            let view = assemble(&manifest, &cached).map_err(view_error)?;
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
                sequence: manifest.sequence,
            };
            return Ok(Fetched::Changed {
                view,
                chunks: cached,
                mark,
                older,
            });
        }
        if retry {
            break;
        }
        // One retry pass: a publish may have removed a chunk meanwhile, or the node that
        // answered may lag; read the manifest again from the active node and fetch what is
        // still wanted there.
        warn!(
            missing = missing.len(),
            "chunks of the team's view were missing; one more pass on the active node"
        );
        tokio::time::sleep(RETRY_PAUSE).await;
        route = Route::Active;
        body = match read_manifest_bounded(client, settings, Route::Active).await {
            Ok(Some(body)) => body,
            Ok(None) => {
                return Err(view_error(ViewError::Malformed(
                    "the manifest went missing during the pull".into(),
                )))
            }
            Err(VaultError::Forbidden(_)) => return Err(view_forbidden(settings)),
            Err(e) => return Err(e.into()),
        };
    }
    Err(view_error(ViewError::Malformed(
        "the view could not be read".into(),
    )))
}

/// What a pull that applies `next` over a store holding `have` would remove, and whether
/// that is more than the removal guard allows (docs/reference/cli.md: more than 10 % of the cached
/// credentials, and more than 5).
fn removals(have: &std::collections::BTreeSet<(String, String)>, next: &View) -> (usize, bool) {
    let keep: std::collections::HashSet<(&str, &str)> = next
        .sites
        .iter()
        .flat_map(|s| {
            s.credentials
                .iter()
                .map(move |c| (s.org_id.as_str(), c.client_id.as_str()))
        })
        .collect();
    let removing = have
        .iter()
        .filter(|(o, c)| !keep.contains(&(o.as_str(), c.as_str())))
        .count();
    (
        removing,
        crate::harvest::guard::is_mass_removal(removing, have.len()),
    )
}

/// `simsid pull`: brings the published view into `store` (the caller holds the harvest
/// lock). An unchanged view costs one request and writes nothing; a missing or altered
/// chunk, a malformed view or an older one (unless `accept_older`) fails, and a view that
/// would remove more than the removal guard allows is held (unless `accept_removals`):
/// each leaves the store as it was. Taking an older view is audited.
pub async fn pull(
    client: &VaultClient,
    settings: &VaultSettings,
    store: &mut Store,
    options: PullOptions,
) -> OpResult<Pulled> {
    let known = store.pulled()?;
    let cached = if known.is_some() {
        store.view_chunks()?
    } else {
        HashMap::new()
    };
    let fetched = fetch_view(
        client,
        settings,
        known.as_ref(),
        cached,
        options.accept_older,
    )
    .await?;
    let pulled = fetched.summary();
    if let Fetched::Changed {
        view,
        chunks,
        mark,
        older,
    } = &fetched
    {
        let have = store.credential_keys()?;
        let (removing, mass) = removals(&have, view);
        if mass && !options.accept_removals {
            return Err(OpError::Held(format!(
                "pull held: the team's view (run {}, sequence {}) would remove {removing} of \
                 the {} cached credential(s) (more than {} %); the local view is unchanged. \
                 If the removals are expected, run `simsid pull --accept-removals`",
                mark.run_id,
                mark.sequence,
                have.len(),
                crate::harvest::guard::MAX_REMOVED_PERCENT
            )));
        }
        let audit = older.map(|(got, held)| crate::domain::AuditEntry {
            at: Utc::now(),
            user: super::audit::os_user(),
            action: crate::domain::AuditAction::Pull,
            organisation_id: None,
            client_id: None,
            fingerprint: None,
            detail: Some(format!(
                "pull --accept-older: took run {} at sequence {got}, below the {held} held",
                mark.run_id
            )),
            identity: None,
        });
        let chunks: BTreeMap<&str, &str> = chunks
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_str()))
            .collect();
        store.replace_with_view(view, &chunks, mark, audit.as_ref())?;
        info!(run_id = %mark.run_id, sequence = mark.sequence, sites = mark.sites, credentials = mark.credentials, "team view pulled");
    }
    Ok(pulled)
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
        .then(|| meta.custom_metadata.get("fingerprint"))
        .flatten()
        .and_then(|f| crate::domain::Fingerprint::parse(f).ok())
}

/// On a viewer, the fingerprint an audit record of a read names (docs/reference/vault.md "Team mode":
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
        match read_manifest_bounded(client, settings, Route::Any).await {
            Ok(Some(body)) => match Manifest::parse(&body) {
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

/// One credential checked against the vault (`show ORG --check-vault`): the fingerprint in
/// its key's custom metadata, and whether it is the local one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultAgreement {
    pub client_id: String,
    /// The vault's fingerprint; `None` when the key or its fingerprint is missing, or the
    /// text there is not a fingerprint.
    pub vault_fingerprint: Option<crate::domain::Fingerprint>,
    /// Whether the vault's fingerprint is the local one.
    pub agrees: bool,
}

/// Checks each of `credentials` (a site's, as the store holds them) against the custom
/// metadata of its key in the vault (docs/reference/vault.md "What the view proves"): one metadata read
/// per credential, never a secret. Fails on the first read the vault refuses or cannot
/// answer.
pub async fn check_against_vault(
    client: &VaultClient,
    settings: &VaultSettings,
    org: &crate::domain::OrgId,
    credentials: &[crate::domain::CredentialRow],
) -> OpResult<Vec<VaultAgreement>> {
    let mut out = Vec::with_capacity(credentials.len());
    for c in credentials {
        let key = crate::vault::path::credential_key(&settings.prefix, org, &c.client_id);
        let meta = match client
            .kv_metadata_read(&settings.mount, &key, Route::Any)
            .await
        {
            Ok(meta) => meta,
            Err(VaultError::Forbidden(_)) => {
                return Err(OpError::failed(format!(
                    "your vault identity may not read the metadata of {}/metadata/{key}: \
                     checking against the vault needs the operator or harvester policy \
                     (`simsid vault policy`)",
                    settings.mount
                )))
            }
            Err(e) => return Err(e.into()),
        };
        let vault_fingerprint = meta
            .as_ref()
            .and_then(|m| m.custom_metadata.get("fingerprint"))
            .and_then(|f| crate::domain::Fingerprint::parse(f).ok());
        out.push(VaultAgreement {
            client_id: c.client_id.clone(),
            agrees: vault_fingerprint.as_ref() == Some(&c.fingerprint),
            vault_fingerprint,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
