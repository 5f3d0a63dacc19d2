//! What a harvest changes in the vault (docs/reference/vault.md "Sync rules"), decided from the store's
//! marks, the run's sites and, with `--reconcile`, the prefix's listing: pure, no I/O. The
//! executor (`execute.rs`) makes the requests this plan names.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::domain::{
    Credential, Fingerprint, HarvestData, HeldRemovals, OrgId, RunScope, RunStatus, RunSummary,
    Site, VaultMarks,
};
use crate::harvest::guard::{is_mass_removal, MAX_REMOVED_PERCENT};
use crate::store::SealedCredential;
use crate::vault::path::decode_segment;
use crate::vault::{CredentialRecord, KvMetadata, OnRemove};

use super::RUN_FIELD;

/// One credential to write, owned, so that writes run concurrently.
pub(super) struct Job {
    pub(super) org: OrgId,
    pub(super) client_id: String,
    pub(super) record: CredentialRecord,
    pub(super) fingerprint: Fingerprint,
    /// The version expected in the vault now (0: the key must not exist).
    pub(super) cas: u64,
}

/// The plan of one sync, before any request.
pub(super) struct SyncPlan {
    /// Credentials to write: added and rotated ones; with `--reconcile`, every fetched
    /// credential, to be read back first and written only where the vault differs.
    pub(super) writes: Vec<Job>,
    /// Secrets still sealed in the store that this run does not write anyway (stale sites,
    /// held removals): they move into the vault (rule 10).
    pub(super) moves: Vec<Job>,
    /// Credentials no longer listed by a successful answer, and not held by the guard.
    pub(super) removals: Vec<(OrgId, String)>,
    /// Credentials whose mark matches: no request (always 0 with `--reconcile`, whose
    /// read-back counts them).
    pub(super) unchanged: usize,
}

/// A one-school run (`harvest --site`) sees only that school's marks: every other site is
/// absent from its site list but must not be removed from the vault.
pub(super) fn scoped_marks(
    mut marks: VaultMarks,
    data: &HarvestData,
    summary: &RunSummary,
) -> VaultMarks {
    if summary.scope == RunScope::Site {
        let listed: HashSet<&OrgId> = data.sites.iter().map(|s| &s.org_id).collect();
        marks.retain(|(org, _), _| listed.contains(org));
    }
    marks
}

/// Plans a sync: added and rotated credentials are written, unchanged ones are left alone,
/// credentials of fetched sites no longer listed and of sites absent from the site list are
/// removed unless the guard holds them; failed (stale) sites are not touched. `sealed` are
/// the secrets still sealed in the store, moved into the vault by a run of every site.
pub(super) fn plan(
    data: &HarvestData,
    held: &HeldRemovals,
    marks: &VaultMarks,
    sealed: Vec<SealedCredential>,
    scope: RunScope,
    reconcile: bool,
) -> SyncPlan {
    let sites: HashMap<&OrgId, &Site> = data.sites.iter().map(|s| (&s.org_id, s)).collect();
    let mut out = SyncPlan {
        writes: Vec::new(),
        moves: Vec::new(),
        removals: Vec::new(),
        unchanged: 0,
    };
    for (org, creds) in &data.fetched {
        for (credential, fingerprint) in creds {
            let cas = match marks.get(&(org.clone(), credential.client_id.clone())) {
                _ if reconcile => 0,
                Some(m) if &m.fingerprint == fingerprint => {
                    out.unchanged += 1;
                    continue;
                }
                m => m.map_or(0, |m| m.version),
            };
            out.writes.push(Job {
                org: org.clone(),
                client_id: credential.client_id.clone(),
                record: record(org, sites.get(org).copied(), credential),
                fingerprint: fingerprint.clone(),
                cas,
            });
        }
    }
    let listed: HashSet<&OrgId> = sites.keys().copied().collect();
    for (org, client_id) in marks.keys() {
        if data.failed.contains_key(org) || held.holds(org, client_id) {
            continue;
        }
        let gone = match data.fetched.get(org) {
            Some(creds) => !creds.iter().any(|(c, _)| &c.client_id == client_id),
            None => !listed.contains(org),
        };
        if gone {
            out.removals.push((org.clone(), client_id.clone()));
        }
    }
    // A one-school run touches no other site (docs/reference/cli.md "One school").
    if scope == RunScope::Site {
        return out;
    }
    let fetched: HashSet<(&OrgId, &str)> = data
        .fetched
        .iter()
        .flat_map(|(org, creds)| creds.iter().map(move |(c, _)| (org, c.client_id.as_str())))
        .collect();
    for s in sealed {
        if fetched.contains(&(&s.org, s.credential.client_id.as_str())) {
            continue;
        }
        out.moves.push(Job {
            cas: marks
                .get(&(s.org.clone(), s.credential.client_id.clone()))
                .map_or(0, |m| m.version),
            record: CredentialRecord {
                client_id: s.credential.client_id.clone(),
                secret: s.credential.secret,
                organisation_id: s.org.as_str().to_string(),
                school_name: s.school_name,
                dfe_code: s.dfe_code,
                deni_number: s.deni_number,
                description: s.credential.description,
            },
            client_id: s.credential.client_id,
            fingerprint: s.fingerprint,
            org: s.org,
        });
    }
    out
}

/// The vault's record of credential `c` of `org` (at `site`, when the site list names it).
fn record(org: &OrgId, site: Option<&Site>, c: &Credential) -> CredentialRecord {
    CredentialRecord {
        client_id: c.client_id.clone(),
        secret: c.secret.clone(),
        organisation_id: org.as_str().to_string(),
        school_name: site.map(|s| s.name.clone()).unwrap_or_default(),
        dfe_code: site.and_then(|s| s.dfe_code.clone()),
        deni_number: site.and_then(|s| s.deni_number.clone()),
        description: c.description.clone(),
    }
}

/// Reconcile's reading of the prefix's listing (docs/reference/vault.md sync rules 5 and 6): which entries
/// are looked into, which keys match a credential, which must be judged by their metadata.
pub(super) struct Listing<'a> {
    prefix: &'a str,
    /// (organisation, client id) of every fetched credential.
    known: HashSet<(String, String)>,
    /// Sites whose clients call failed.
    stale: HashSet<&'a str>,
    held: &'a HeldRemovals,
}

/// One entry of the prefix's top level.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Top {
    /// Left alone: simsid's own (`_`-prefixed, the team view), a stale site, a held site.
    Skip,
    /// A key directly under the prefix (no credential lives there): judged by its metadata.
    Key(String),
    /// A site's folder, listed next.
    Folder {
        seg: String,
        org: Option<OrgId>,
        path: String,
    },
}

/// One entry of a site's folder.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Entry {
    /// A folder deeper than simsid's layout: left alone (not ours to judge).
    Skip,
    /// The key of a fetched credential or of one the guard holds.
    Matches,
    /// Any other key: judged by its metadata.
    Key(String),
}

impl<'a> Listing<'a> {
    /// The listing of `prefix` for a run that fetched `data` and holds `held`.
    pub(super) fn new(prefix: &'a str, data: &'a HarvestData, held: &'a HeldRemovals) -> Self {
        Listing {
            prefix,
            known: data
                .fetched
                .iter()
                .flat_map(|(org, creds)| {
                    creds
                        .iter()
                        .map(|(c, _)| (org.as_str().to_string(), c.client_id.clone()))
                })
                .collect(),
            stale: data.failed.keys().map(OrgId::as_str).collect(),
            held,
        }
    }

    /// What to do with `entry` of the prefix's top level (a folder ends with `/`).
    pub(super) fn top(&self, entry: &str) -> Top {
        let seg = entry.trim_end_matches('/');
        if seg.starts_with('_') {
            return Top::Skip;
        }
        let org = OrgId::parse(seg).ok();
        if self.stale.contains(seg) || org.as_ref().is_some_and(|o| self.held.sites.contains(o)) {
            return Top::Skip;
        }
        let path = format!("{}/{seg}", self.prefix);
        if !entry.ends_with('/') {
            return Top::Key(path);
        }
        Top::Folder {
            seg: seg.to_string(),
            org,
            path,
        }
    }

    /// What to do with `name` in the folder `seg` (of `org`, when it parses as one).
    pub(super) fn entry(&self, seg: &str, org: Option<&OrgId>, name: &str) -> Entry {
        if name.ends_with('/') {
            return Entry::Skip;
        }
        let matches = decode_segment(name).is_some_and(|id| {
            self.known.contains(&(seg.to_string(), id.clone()))
                || org.is_some_and(|o| self.held.holds(o, &id))
        });
        if matches {
            Entry::Matches
        } else {
            Entry::Key(format!("{}/{seg}/{name}", self.prefix))
        }
    }
}

/// A key that matched no credential, judged by its metadata.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Judged {
    /// No longer there: nothing to do.
    Gone,
    /// Not written by this store (no `simsid_run`, or another store's run): reported,
    /// never removed.
    Foreign,
    /// This store's, but not a stray: written after the listing began, or already
    /// soft-deleted when removals are soft.
    Kept,
    /// This store's and matching nothing: to remove.
    Stray,
}

/// What this store's sync makes of a key that matched no credential.
#[derive(Clone, Copy)]
pub(super) struct Judge<'a> {
    /// This store's run ids.
    pub(super) ours: &'a HashSet<String>,
    /// A harvest ever completed in this store (if not, any simsid run is taken as ours).
    pub(super) completed: bool,
    /// The vault's clock when the listing began.
    pub(super) began: DateTime<Utc>,
    pub(super) on_remove: OnRemove,
}

impl Judge<'_> {
    /// Judges a key by its metadata (`None`: the key is gone).
    pub(super) fn judge(&self, meta: Option<&KvMetadata>) -> Judged {
        let Some(meta) = meta else {
            return Judged::Gone;
        };
        let ours = match meta.custom_metadata.get(RUN_FIELD) {
            Some(r) => !self.completed || self.ours.contains(r),
            None => false,
        };
        if !ours {
            Judged::Foreign
        } else if meta.updated_time.is_none_or(|t| t >= self.began) {
            // Written (or rewritten) after the listing began: not a stray.
            Judged::Kept
        } else if self.on_remove == OnRemove::Soft && meta.current_deleted {
            // Already soft-deleted keys stay soft-deleted (nothing to do).
            Judged::Kept
        } else {
            Judged::Stray
        }
    }
}

/// What reconcile's scan of the prefix found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Scan {
    /// Keys this store wrote that match no credential: to remove.
    pub(super) strays: Vec<String>,
    /// Keys this store did not write: reported, never removed.
    pub(super) foreign: Vec<String>,
    /// Keys of this store under the prefix (matching a credential or strays).
    pub(super) ours: usize,
}

/// Reconcile's removal guard (docs/reference/vault.md sync rule 6): why the scan's strays are held
/// instead of removed, or `None` to remove them. A store that never completed a harvest
/// removes nothing on its own, nor does a scan that would remove more than the mass-removal
/// share of this store's keys; `--accept-removals` takes them.
pub(super) fn guard(scan: &Scan, completed: bool, accept_removals: bool) -> Option<String> {
    let strays = scan.strays.len();
    if strays == 0 || accept_removals {
        return None;
    }
    let why = if !completed {
        format!(
            "removal held: this store has never completed a harvest, so `--reconcile` removes nothing from the vault on its own: {strays} key(s) under the prefix match no credential"
        )
    } else if is_mass_removal(strays, scan.ours) {
        format!(
            "removal held: `--reconcile` would remove {strays} of the {} key(s) simsid wrote under the prefix (more than {MAX_REMOVED_PERCENT} %)",
            scan.ours
        )
    } else {
        return None;
    };
    Some(format!(
        "{why}; they stay in the vault. If the removals are expected, run `simsid harvest --reconcile --accept-removals`"
    ))
}

/// Records a held removal's `note` on the run: a complete run becomes partial.
pub(super) fn hold(summary: &mut RunSummary, note: String) {
    summary.status = match summary.status {
        RunStatus::Complete => RunStatus::Partial,
        other => other,
    };
    summary.error = Some(match summary.error.take() {
        Some(e) => format!("{e}; {note}"),
        None => note,
    });
}

/// The keys to remove, sorted and once each: the planned removals and the scan's strays,
/// except those of a site that failed during the sync, which is stale (rule 3).
pub(super) fn removal_keys(
    prefix: &str,
    removals: &[(OrgId, String)],
    strays: Vec<String>,
    failed_sites: &BTreeMap<OrgId, String>,
) -> Vec<String> {
    let mut keys: Vec<String> = removals
        .iter()
        .filter(|(org, _)| !failed_sites.contains_key(org))
        .map(|(org, c)| crate::vault::path::credential_key(prefix, org, c))
        .collect();
    keys.extend(strays.into_iter().filter(|k| {
        !failed_sites
            .keys()
            .any(|org| k.starts_with(&format!("{prefix}/{}/", org.as_str())))
    }));
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests;
