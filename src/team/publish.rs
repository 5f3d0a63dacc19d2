//! The harvest host's publish of the team's view (docs/reference/vault.md "Team mode"):
//! the chunks the vault does not hold yet, then the manifest with check-and-set, then the
//! chunks the previous publish retired.

use chrono::Utc;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use tracing::{info, warn};

use super::chunk::{build, is_chunk_name, Header, Manifest};
use super::error::{TeamError, TeamResult};
use super::keys::{chunk_key, manifest_key, Body, CONCURRENCY, VIEW_FOLDER};
use super::view::View;
use crate::store::{PublishedMark, Store};
use crate::vault::{Route, VaultClient, VaultError, VaultSettings};

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

/// The vault half of a publish: writes `view` (from [`Store::view_rows`]) after `previous`
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
) -> TeamResult<(Published, PublishedMark, Option<String>)> {
    let start = client.requests();
    let identity = client.identity().await.ok();
    if let Some(run) = view.runs.iter_mut().find(|r| r.summary.run_id == run_id) {
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
    let built = build(&view, header).map_err(TeamError::from)?;
    for attempt in 0..2 {
        let mut manifest = built.manifest.clone();
        manifest.sequence = known
            .as_ref()
            .map_or(0, |(_, _, seq)| *seq)
            .saturating_add(1);
        let prev = known.as_ref().and_then(|(_, m, _)| m.as_ref());
        let plan = manifest.plan_after(prev, repair);
        let body = manifest.to_body().map_err(TeamError::from)?;
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
    Err(TeamError::failed(
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
/// store read, `publish_view`, and what it published remembered in the store.
pub async fn publish(
    client: &VaultClient,
    settings: &VaultSettings,
    store: &Store,
    run_id: uuid::Uuid,
    repair: bool,
) -> TeamResult<Published> {
    let view = View::from_rows(store.view_rows()?);
    let previous = if repair { None } else { store.published()? };
    let (published, mark, identity) =
        publish_view(client, settings, view, previous, run_id, repair).await?;
    if let Some(identity) = identity {
        store.set_run_identity(&run_id.to_string(), &identity)?;
    }
    store.set_published(&mark)?;
    Ok(published)
}
