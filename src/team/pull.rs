//! The viewer's pull of the team's view (docs/reference/vault.md "Team mode", "Trust"):
//! the manifest, the chunks not cached, every check, then the store replaced in one
//! transaction; bounded by what the manifest declares.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use futures::stream::{self, StreamExt};
use tracing::{info, warn};

use super::chunk::{assemble, sha256_hex, Manifest, ViewError};
use super::error::{TeamError, TeamResult};
use super::keys::{chunk_key, manifest_key, read_manifest_bounded, Body, CONCURRENCY, ENVELOPE};
use super::view::View;
use crate::store::{PulledMark, Store};
use crate::vault::{Route, VaultClient, VaultError, VaultSettings};

/// Manifest reads when none is found (a standby lagging a write, a cluster electing a new
/// leader): each reads again, from the active node, after a pause that doubles from
/// [`FIRST_PAUSE`] up to [`MAX_PAUSE`] (about 7 s in all). Chunks get one retry pass.
const PULL_ATTEMPTS: u32 = 8;
const FIRST_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);
const MAX_PAUSE: std::time::Duration = std::time::Duration::from_secs(2);
/// The pause before the one retry pass over missing chunks.
const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(300);

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

/// Reads the manifest for a pull: a few times, from the active node after the first,
/// while none is found (a standby may lag a write by a moment, and during an election the
/// answer may come from one); every attempt is one request.
async fn read_manifest_patiently(
    client: &VaultClient,
    settings: &VaultSettings,
) -> TeamResult<String> {
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
    Err(TeamError::failed(format!(
        "nothing is published at {}/{}: the harvest host (`source = \"sims\"`, \
         `secrets = \"vault\"`) publishes the team's view with every harvest",
        settings.mount,
        manifest_key(settings)
    )))
}

fn view_forbidden(settings: &VaultSettings) -> TeamError {
    TeamError::failed(format!(
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
    Fatal(TeamError),
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
                return Err(Stop::Fatal(TeamError::from(ViewError::TooLarge(format!(
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
/// [`super::DECLARED_MAX`] are refused before any chunk is asked for, each chunk's
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
) -> TeamResult<Fetched> {
    let mut body = read_manifest_patiently(client, settings).await?;
    let mut route = Route::Any;
    for pass in 0..2 {
        let sha = sha256_hex(body.as_bytes());
        if let Some(k) = known.filter(|k| k.manifest_sha256 == sha) {
            return Ok(Fetched::Unchanged(k.clone()));
        }
        let manifest = Manifest::parse(&body).map_err(TeamError::from)?;
        let older = match known {
            Some(k) if manifest.sequence < k.sequence => {
                if !accept_older {
                    return Err(TeamError::failed(format!(
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
            Err(Stop::Missing(name)) => return Err(TeamError::from(ViewError::Missing { name })),
        };
        if missing.is_empty() {
            let view = assemble(&manifest, &cached).map_err(TeamError::from)?;
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
                return Err(TeamError::from(ViewError::Malformed(
                    "the manifest went missing during the pull".into(),
                )))
            }
            Err(VaultError::Forbidden(_)) => return Err(view_forbidden(settings)),
            Err(e) => return Err(e.into()),
        };
    }
    Err(TeamError::from(ViewError::Malformed(
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
                .map(move |c| (s.row.site.org_id.as_str(), c.client_id.as_str()))
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
/// each leaves the store as it was. Taking an older view is audited, naming `user`.
pub async fn pull(
    client: &VaultClient,
    settings: &VaultSettings,
    store: &mut Store,
    options: PullOptions,
    user: &str,
) -> TeamResult<Pulled> {
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
            return Err(TeamError::Held(format!(
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
            user: user.to_string(),
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
        store.replace_with_view(&view.sites, &view.runs, &chunks, mark, audit.as_ref())?;
        info!(run_id = %mark.run_id, sequence = mark.sequence, sites = mark.sites, credentials = mark.credentials, "team view pulled");
    }
    Ok(pulled)
}

#[cfg(test)]
mod tests;
