//! Who saw which secret, and is it still live? Pure logic over the audit trail and the
//! current store contents (docs/reference/cli.md, `exposure`): one entry per credential that was revealed
//! or copied, with the people it was shown to, first and last exposure, the actions, the
//! fingerprint at the last exposure, and whether the store still holds that secret.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::vault_identity::{person_matches, VaultIdentity};
use crate::domain::{
    AuditAction, AuditEntry, Fingerprint, OrgId, RunSummary, Snapshot, VaultMarks,
};

pub mod vault_audit;

use vault_audit::VaultReads;

/// Which exposures to report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExposureQuery {
    /// Only records of this person: the OS user or, in vault mode, the vault identity.
    pub user: Option<String>,
    /// Only records at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only credentials whose exposed secret the store still holds.
    pub live_only: bool,
}

impl ExposureQuery {
    /// Whether an audit record counts for this query (reveal or copy, user, time).
    pub fn selects(&self, e: &AuditEntry) -> bool {
        is_exposure(e)
            && self.user.as_deref().is_none_or(|u| names(e, u))
            && self.since.is_none_or(|t| e.at >= t)
    }
}

/// Whether a record showed a secret to a person.
pub fn is_exposure(e: &AuditEntry) -> bool {
    matches!(e.action, AuditAction::Reveal | AuditAction::Copy)
        && e.organisation_id.is_some()
        && e.client_id.is_some()
}

/// Whether a record names `user`, as its OS user or as its vault identity (`token-alice`,
/// or the name inside it, `alice`; a qualified `approle:product` by its role too),
/// ignoring case.
pub fn names(e: &AuditEntry, user: &str) -> bool {
    person_matches(&e.user, user)
        || e.identity.as_deref().is_some_and(|i| {
            person_matches(i, user)
                || i.split_once(':')
                    .is_some_and(|(_, part)| part.eq_ignore_ascii_case(user))
        })
}

/// Where an exposure was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExposureSource {
    /// A reveal or copy in this store's audit trail.
    Simsid,
    /// A read recorded by the vault's audit device.
    VaultAudit,
}

impl ExposureSource {
    /// The name in `exposure --json` (`sources`).
    pub fn as_str(self) -> &'static str {
        match self {
            ExposureSource::Simsid => "simsid",
            ExposureSource::VaultAudit => "vault-audit",
        }
    }
}

/// One exposed credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    pub organisation_id: OrgId,
    /// The school's name and DfE code from the store (`None` once the site is gone).
    pub name: Option<String>,
    pub dfe_code: Option<String>,
    pub client_id: String,
    /// The fingerprint at the last exposure (`None` for records that did not name one).
    pub fingerprint: Option<Fingerprint>,
    /// Everyone it was shown to: OS users and vault identities, sorted, once each.
    pub users: Vec<String>,
    pub first_exposed: DateTime<Utc>,
    pub last_exposed: DateTime<Utc>,
    /// The kinds of exposure through simsid, `reveal` before `copy`.
    pub actions: Vec<AuditAction>,
    /// Whether the vault's audit device recorded a read of it (action `vault-read`).
    pub vault_read: bool,
    /// Whether it recorded a read answered with response wrapping, or the unwrap of one
    /// (action `vault-read-wrapped`).
    pub vault_read_wrapped: bool,
    /// Where it was found, once each, `simsid` first.
    pub sources: Vec<ExposureSource>,
    /// True while the store holds this credential with the exposed fingerprint.
    pub live: bool,
    /// The fingerprint the store holds now (`None`: the credential is gone).
    pub current_fingerprint: Option<Fingerprint>,
}

impl Exposure {
    /// The store still holds the credential, with another secret: it rotated since.
    pub fn rotated_since(&self) -> bool {
        self.current_fingerprint.is_some() && !self.live
    }
}

/// The exposures the query selects, one per credential, sorted by organisation id and
/// client id.
pub fn report(audit: &[AuditEntry], current: &Snapshot, query: &ExposureQuery) -> Vec<Exposure> {
    let mut out = aggregate(audit.iter().filter(|e| query.selects(e)), current);
    if query.live_only {
        out.retain(|x| x.live);
    }
    out
}

/// One person's exposures, for the console's exposure screen (grouped by user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonExposures {
    /// The OS user, with the vault identity in brackets when there is one.
    pub person: String,
    pub exposures: Vec<Exposure>,
}

/// The live exposures of each person (OS user, and vault identity when there is one),
/// people sorted by name. Each person's entries carry the fingerprint at *their* last
/// exposure, so a credential rotated after one person saw it stays live only for those
/// who saw the new secret.
pub fn live_by_person(audit: &[AuditEntry], current: &Snapshot) -> Vec<PersonExposures> {
    let people: BTreeSet<(&str, Option<&str>)> = audit
        .iter()
        .filter(|e| is_exposure(e))
        .map(|e| (e.user.as_str(), e.identity.as_deref()))
        .collect();
    people
        .into_iter()
        .filter_map(|(user, identity)| {
            let mine = audit
                .iter()
                .filter(|e| is_exposure(e) && e.user == user && e.identity.as_deref() == identity);
            let exposures: Vec<Exposure> = aggregate(mine, current)
                .into_iter()
                .filter(|x| x.live)
                .collect();
            (!exposures.is_empty()).then(|| PersonExposures {
                person: match identity {
                    Some(id) if id != user => format!("{user} ({id})"),
                    _ => user.to_string(),
                },
                exposures,
            })
        })
        .collect()
}

/// Folds exposure records (in trail order) into one entry per credential.
fn aggregate<'a>(
    records: impl Iterator<Item = &'a AuditEntry>,
    current: &Snapshot,
) -> Vec<Exposure> {
    let mut by_credential: BTreeMap<(OrgId, String), Exposure> = BTreeMap::new();
    for e in records {
        let (Some(org), Some(client_id)) = (&e.organisation_id, &e.client_id) else {
            continue;
        };
        let entry = by_credential
            .entry((org.clone(), client_id.clone()))
            .or_insert_with(|| Exposure {
                organisation_id: org.clone(),
                name: None,
                dfe_code: None,
                client_id: client_id.clone(),
                fingerprint: e.fingerprint.clone(),
                users: Vec::new(),
                first_exposed: e.at,
                last_exposed: e.at,
                actions: Vec::new(),
                vault_read: false,
                vault_read_wrapped: false,
                sources: vec![ExposureSource::Simsid],
                live: false,
                current_fingerprint: None,
            });
        entry.first_exposed = entry.first_exposed.min(e.at);
        if e.at >= entry.last_exposed {
            entry.last_exposed = e.at;
            entry.fingerprint = e.fingerprint.clone();
        }
        for person in std::iter::once(&e.user).chain(e.identity.as_ref()) {
            if !entry.users.contains(person) {
                entry.users.push(person.clone());
            }
        }
        if !entry.actions.contains(&e.action) {
            entry.actions.push(e.action);
        }
    }
    by_credential
        .into_values()
        .map(|mut x| {
            x.users.sort();
            x.actions.sort_by_key(|a| *a != AuditAction::Reveal);
            let site = current.sites.get(&x.organisation_id);
            x.name = site.map(|s| s.site.name.clone());
            x.dfe_code = site.and_then(|s| s.site.dfe_code.clone());
            x.current_fingerprint = site.and_then(|s| s.credentials.get(&x.client_id).cloned());
            // A record without a fingerprint cannot prove the secret changed: still live.
            x.live = match (&x.current_fingerprint, &x.fingerprint) {
                (Some(now), Some(then)) => now == then,
                (Some(_), None) => true,
                (None, _) => false,
            };
            x
        })
        .collect()
}

/// The vault identities that harvested into this store (its harvest audit records name
/// them, qualified: `approle:ROLE`, `root`, `token:ENTITY`): their reads of a credential
/// are the harvest's own read-back.
pub fn harvester_identities(audit: &[AuditEntry]) -> BTreeSet<String> {
    audit
        .iter()
        .filter(|e| e.action == AuditAction::Harvest)
        .filter_map(|e| e.identity.clone())
        .collect()
}

/// Who the harvester is for `--vault-audit`, and what on-call should know about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Harvesters {
    /// Qualified names of machine identities whose reads are the harvest's read-back.
    pub names: BTreeSet<String>,
    /// Lines for stderr: suspect manifest writers, a view's unconfirmed claim.
    pub notes: Vec<String>,
}

/// Decides who the harvester is (docs/reference/vault.md "Trust"). On the harvest host: the identities
/// its own runs recorded. On a viewer (`viewer`): the machine identities the audit log
/// records writing the view's manifest, never a name taken from the pulled view
/// (`view_claims` only adds a note when the log does not confirm it). A manifest written by
/// a person's login is reported as suspect and that person is never the harvester.
pub fn harvesters(
    recorded: &BTreeSet<String>,
    viewer: bool,
    view_claims: &BTreeSet<String>,
    reads: &VaultReads,
) -> Harvesters {
    let mut out = Harvesters::default();
    let own = |name: &str| recorded.iter().any(|r| r.eq_ignore_ascii_case(name));
    for (who, w) in reads.manifest_writers() {
        let when = crate::domain::rfc3339::format(&w.last);
        if !who.is_machine() {
            out.notes.push(format!(
                "SUSPECT: the team's view manifest was written by {} ({} time(s), last {when}), a person's login, not a machine identity: it is never treated as the harvester, and its reads are reported",
                who.name, w.count
            ));
        } else if viewer {
            out.names.insert(who.name.clone());
        } else if !own(&who.name) {
            out.notes.push(format!(
                "SUSPECT: the team's view manifest was written by {} ({} time(s), last {when}), not the identity this host's runs recorded: its reads are reported",
                who.name, w.count
            ));
        }
    }
    if viewer {
        for claim in view_claims {
            if !out.names.iter().any(|n| n.eq_ignore_ascii_case(claim)) {
                out.notes.push(format!(
                    "the pulled view names {claim} as the harvester, but the audit files do not record it writing the view's manifest: its reads are reported"
                ));
            }
        }
    } else {
        out.names.extend(recorded.iter().cloned());
    }
    out
}

/// When each credential's current secret reached the vault: the start of the last run that
/// added or rotated it (a wrapped read before it saw an older secret).
pub fn rotation_times(runs: &[RunSummary]) -> BTreeMap<(OrgId, String), DateTime<Utc>> {
    let mut out: BTreeMap<(OrgId, String), DateTime<Utc>> = BTreeMap::new();
    for run in runs {
        for c in run
            .diff
            .credentials_added
            .iter()
            .chain(&run.diff.credentials_rotated)
        {
            let at = out
                .entry((c.organisation_id.clone(), c.client_id.clone()))
                .or_insert(run.started_at);
            *at = (*at).max(run.started_at);
        }
    }
    out
}

/// What `exposure --vault-audit` adds to the report: the reads the vault's audit device
/// recorded, and who is left out of them.
pub struct VaultAuditFilter<'a> {
    pub reads: &'a VaultReads,
    /// Per credential, the KV version the store last wrote (decides `live`).
    pub marks: &'a VaultMarks,
    /// Per credential, when its current secret reached the vault (decides `live` for a
    /// wrapped read, whose version is unknown).
    pub rotated_at: &'a BTreeMap<(OrgId, String), DateTime<Utc>>,
    /// `--exclude-user`: people left out (a production service reading every secret).
    pub exclude: &'a [String],
    /// The harvester's qualified names (their reads are the harvest's own read-back).
    pub harvesters: &'a BTreeSet<String>,
    /// `--include-harvester`.
    pub include_harvester: bool,
}

impl VaultAuditFilter<'_> {
    fn keeps(&self, who: &VaultIdentity, query: &ExposureQuery) -> bool {
        query.user.as_deref().is_none_or(|u| who.is_named(u))
            && !self.exclude.iter().any(|x| who.is_named(x))
            && (self.include_harvester || !self.is_harvester(who))
    }

    /// A machine identity the harvester's runs (or the log) name, by its qualified name:
    /// never a display name alone, never a person.
    fn is_harvester(&self, who: &VaultIdentity) -> bool {
        who.is_machine()
            && self
                .harvesters
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&who.name))
    }
}

/// The report of [`report`] with the vault's audit device as a second source: a credential
/// read by a selected identity is an exposure (action `vault-read`, or `vault-read-wrapped`
/// for a read answered with response wrapping), live while a version it read is the one
/// the vault holds now, or for a wrapped read (version unknown) until the credential
/// rotated after it; entries of both sources are merged.
pub fn report_with_vault(
    audit: &[AuditEntry],
    current: &Snapshot,
    query: &ExposureQuery,
    vault: &VaultAuditFilter,
) -> Vec<Exposure> {
    let selected = audit
        .iter()
        .filter(|e| query.selects(e) && !vault.exclude.iter().any(|x| names(e, x)));
    // Both sources come sorted by (organisation, client id): merged in one pass, each entry
    // built once in place (a large log's report is never held twice).
    let local = aggregate(selected, current);
    let mut out: Vec<Exposure> = Vec::with_capacity(vault.reads.credential_count() + local.len());
    let mut local = local.into_iter().peekable();
    for (key, by_identity) in vault.reads.credentials() {
        let (org, client_id) = key;
        let kept: Vec<_> = by_identity
            .into_iter()
            .filter(|(who, _)| vault.keeps(who, query))
            .collect();
        let (Some(first), Some(last)) = (
            kept.iter().map(|(_, r)| r.first).min(),
            kept.iter().map(|(_, r)| r.last).max(),
        ) else {
            continue;
        };
        let site = current.sites.get(org);
        let now = site.and_then(|s| s.credentials.get(client_id).cloned());
        let mark = vault.marks.get(key);
        // Live while a version read is the one the vault holds now (without a mark the
        // store cannot tell: still held means live); a wrapped read's version is unknown,
        // so it is live unless the credential rotated after it.
        while let Some(x) = local.next_if(|x| (&x.organisation_id, &x.client_id) < (&key.0, &key.1))
        {
            out.push(x);
        }
        let rotated = vault.rotated_at.get(key);
        let read_live =
            mark.is_none_or(|m| kept.iter().any(|(_, r)| r.versions.contains(&m.version)));
        let wrapped_live = kept.iter().any(|(_, r)| {
            r.wrapped_last
                .is_some_and(|w| rotated.is_none_or(|at| w >= *at))
        });
        let live = now.is_some() && (read_live || wrapped_live);
        let entry = match local.next_if(|x| x.organisation_id == key.0 && x.client_id == key.1) {
            Some(x) => {
                out.push(x);
                out.last_mut().expect("just pushed")
            }
            None => {
                out.push(Exposure {
                    organisation_id: org.clone(),
                    name: site.map(|s| s.site.name.clone()),
                    dfe_code: site.and_then(|s| s.site.dfe_code.clone()),
                    client_id: client_id.clone(),
                    fingerprint: None,
                    users: Vec::new(),
                    first_exposed: first,
                    last_exposed: last,
                    actions: Vec::new(),
                    vault_read: false,
                    vault_read_wrapped: false,
                    sources: Vec::new(),
                    live: false,
                    current_fingerprint: now.clone(),
                });
                out.last_mut().expect("just pushed")
            }
        };
        entry.first_exposed = entry.first_exposed.min(first);
        if last >= entry.last_exposed {
            entry.last_exposed = last;
            // The fingerprint of what was read is known when it is the current version.
            entry.fingerprint = if live { now.clone() } else { None };
        }
        for (who, r) in &kept {
            if !entry.users.contains(&who.name) {
                entry.users.push(who.name.clone());
            }
            entry.vault_read |= r.plain;
            entry.vault_read_wrapped |= r.wrapped_last.is_some();
        }
        entry.users.sort();
        entry.live |= live;
        if !entry.sources.contains(&ExposureSource::VaultAudit) {
            entry.sources.push(ExposureSource::VaultAudit);
        }
    }
    out.extend(local);
    if query.live_only {
        out.retain(|x| x.live);
    }
    out
}

/// Reads `--since`: an RFC 3339 time, or a date (`2026-11-30`, midnight UTC).
pub fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            "expected an RFC 3339 time (2026-11-30T09:00:00Z) or a date (2026-11-30)".to_string()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Site, SnapshotSite};
    use chrono::TimeZone;

    fn org(n: u8) -> OrgId {
        OrgId::parse(&format!("{n:08x}-0000-4000-8000-000000000000")).unwrap()
    }

    fn t(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 1, minute, 0).unwrap()
    }

    fn fp(s: &str) -> Fingerprint {
        Fingerprint::local(s.into())
    }

    fn rec(user: &str, action: AuditAction, o: u8, client: &str, f: &str, m: u32) -> AuditEntry {
        AuditEntry {
            at: t(m),
            user: user.into(),
            action,
            organisation_id: Some(org(o)),
            client_id: Some(client.into()),
            fingerprint: Some(fp(f)),
            detail: None,
            identity: None,
        }
    }

    /// Site 1 holds c1 (fingerprint "b", rotated from "a") and c2 ("x"); site 2 is gone.
    fn current() -> Snapshot {
        let mut sites = BTreeMap::new();
        sites.insert(
            org(1),
            SnapshotSite {
                site: Site {
                    org_id: org(1),
                    name: "Abbey".into(),
                    dfe_code: Some("123/4567".into()),
                    deni_number: None,
                    authorised: Some(true),
                },
                credentials: [("c1".to_string(), fp("b")), ("c2".to_string(), fp("x"))]
                    .into_iter()
                    .collect(),
            },
        );
        Snapshot { sites }
    }

    fn trail() -> Vec<AuditEntry> {
        use AuditAction::*;
        vec![
            rec("alice", Reveal, 1, "c1", "a", 1),
            rec("alice", Verify, 1, "c2", "x", 2),
            rec("alice", Copy, 1, "c2", "x", 3),
            rec("bob", Copy, 1, "c1", "b", 4),
            rec("alice", Reveal, 2, "c9", "z", 5),
            rec("bob", Reveal, 1, "c1", "b", 6),
        ]
    }

    #[test]
    fn one_entry_per_credential_with_the_last_fingerprint() {
        let all = report(&trail(), &current(), &ExposureQuery::default());
        assert_eq!(all.len(), 3, "verify records are not exposures");
        let c1 = &all[0];
        assert_eq!((c1.client_id.as_str(), c1.live), ("c1", true));
        assert_eq!(c1.users, ["alice", "bob"]);
        assert_eq!((c1.first_exposed, c1.last_exposed), (t(1), t(6)));
        assert_eq!(c1.actions, [AuditAction::Reveal, AuditAction::Copy]);
        assert_eq!(c1.fingerprint, Some(fp("b")));
        assert_eq!(c1.name.as_deref(), Some("Abbey"));
        let gone = &all[2];
        assert_eq!((gone.client_id.as_str(), gone.live), ("c9", false));
        assert_eq!(gone.name, None);
        assert!(!gone.rotated_since());
    }

    #[test]
    fn user_since_and_live_filters() {
        let alice = ExposureQuery {
            user: Some("alice".into()),
            ..Default::default()
        };
        let mine = report(&trail(), &current(), &alice);
        assert_eq!(mine.len(), 3);
        assert_eq!(mine[0].fingerprint, Some(fp("a")));
        assert!(
            !mine[0].live && mine[0].rotated_since(),
            "rotated after alice saw it"
        );
        let live = report(
            &trail(),
            &current(),
            &ExposureQuery {
                live_only: true,
                ..alice.clone()
            },
        );
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].client_id, "c2");
        let since = report(
            &trail(),
            &current(),
            &ExposureQuery {
                since: Some(t(4)),
                ..Default::default()
            },
        );
        assert_eq!(since.len(), 2);
        assert_eq!(since[0].users, ["bob"]);
        assert_eq!(since[0].first_exposed, t(4));
    }

    /// An audit read record by `who`: a display name, or `approle:ROLE` for an AppRole
    /// login of that role.
    fn audit_line(who: &str, o: u8, client: &str, version: u64, minute: u32) -> String {
        let auth = match who.strip_prefix("approle:") {
            Some(role) => {
                format!(r#"{{"display_name":"approle","metadata":{{"role_name":"{role}"}}}}"#)
            }
            None => format!(r#"{{"display_name":"{who}"}}"#),
        };
        format!(
            r#"{{"time":"2026-11-30T01:{minute:02}:00Z","type":"response","auth":{auth},"request":{{"operation":"read","path":"secret/data/simsid/APP/{}/{client}"}},"response":{{"data":{{"metadata":{{"version":{version}}}}}}}}}"#,
            org(o)
        )
    }

    fn wrapped_line(who: &str, o: u8, client: &str, minute: u32) -> String {
        let path = format!("secret/data/simsid/APP/{}/{client}", org(o));
        format!(
            r#"{{"time":"2026-11-30T01:{minute:02}:00Z","type":"response","auth":{{"display_name":"{who}"}},"request":{{"operation":"read","path":"{path}"}},"response":{{"wrap_info":{{"token":"hmac-sha256:{minute}","creation_path":"{path}"}}}}}}"#
        )
    }

    fn manifest_line(auth: &str) -> String {
        format!(
            r#"{{"time":"2026-11-30T01:00:00Z","type":"response","auth":{auth},"request":{{"operation":"update","path":"secret/data/simsid/APP/_simsid/manifest"}},"response":{{}}}}"#
        )
    }

    fn marks() -> VaultMarks {
        let mut m = VaultMarks::new();
        for (client, f, v) in [("c1", "b", 2), ("c2", "x", 1)] {
            m.insert(
                (org(1), client.to_string()),
                crate::domain::VaultMark {
                    fingerprint: fp(f),
                    version: v,
                },
            );
        }
        m
    }

    fn decode(segment: &str) -> Option<String> {
        Some(segment.to_string())
    }

    fn vault_reads(lines: &[String]) -> VaultReads {
        let scope = vault_audit::AuditScope::new(&vault_audit::CredentialLayout {
            mount: "secret",
            prefix: "simsid/APP",
            manifest: "_simsid/manifest",
            decode_client: decode,
        });
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let mut reads = VaultReads::new(None, now);
        for l in lines {
            reads.take_line(l.as_bytes(), &scope);
        }
        reads
    }

    /// What a vault-audit filter borrows, owned by the test: the log's reads, the
    /// harvesters, the vault marks and when each credential last rotated.
    struct VaultFixture {
        reads: VaultReads,
        harvesters: BTreeSet<String>,
        marks: VaultMarks,
        rotations: BTreeMap<(OrgId, String), DateTime<Utc>>,
    }

    impl VaultFixture {
        /// `lines` of the audit log, `harvesters` named, no rotation since.
        fn new(lines: &[String], harvesters: &[&str]) -> Self {
            VaultFixture {
                reads: vault_reads(lines),
                harvesters: harvesters.iter().map(|h| h.to_string()).collect(),
                marks: marks(),
                rotations: BTreeMap::new(),
            }
        }

        /// The filter leaving out no one but the harvesters.
        fn filter(&self) -> VaultAuditFilter<'_> {
            VaultAuditFilter {
                reads: &self.reads,
                marks: &self.marks,
                rotated_at: &self.rotations,
                exclude: &[],
                harvesters: &self.harvesters,
                include_harvester: false,
            }
        }
    }

    #[test]
    fn vault_reads_join_the_report_live_by_the_version_read() {
        let fixture = VaultFixture::new(
            &[
                audit_line("userpass-alice", 1, "c1", 1, 7), // c1 rotated since: version 2 now
                audit_line("token-dave", 1, "c2", 1, 8),     // c2 still at version 1
                audit_line("approle:harvester", 1, "c2", 1, 9), // the harvester's read-back
                audit_line("approle:product", 1, "c2", 1, 10), // a service: not the harvester
            ],
            &["approle:harvester"],
        );
        let filter = fixture.filter();
        let all = report_with_vault(&trail(), &current(), &ExposureQuery::default(), &filter);
        assert_eq!(all.len(), 3);
        let c1 = &all[0];
        assert_eq!(c1.users, ["alice", "bob", "userpass-alice"]);
        assert_eq!(
            c1.sources,
            [ExposureSource::Simsid, ExposureSource::VaultAudit]
        );
        assert!(
            c1.vault_read && c1.live,
            "bob saw the current secret through simsid"
        );
        assert_eq!(c1.last_exposed, t(7));
        assert_eq!(c1.fingerprint, None, "alice read an old version");
        let c2 = &all[1];
        assert_eq!(
            c2.users,
            ["alice", "approle:product", "token-dave"],
            "the harvester is left out, the service sharing its display name is not"
        );
        assert!(c2.live);
        assert_eq!(c2.fingerprint, Some(fp("x")));

        let alice = ExposureQuery {
            user: Some("ALICE".into()),
            ..Default::default()
        };
        let mine = report_with_vault(&trail(), &current(), &alice, &filter);
        let c1 = &mine[0];
        assert_eq!(c1.users, ["alice", "userpass-alice"]);
        assert!(!c1.live, "alice saw only versions that rotated since");

        let dave_only = ExposureQuery {
            user: Some("dave".into()),
            live_only: true,
            ..Default::default()
        };
        let got = report_with_vault(&trail(), &current(), &dave_only, &filter);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].sources, [ExposureSource::VaultAudit]);
        assert_eq!(got[0].name.as_deref(), Some("Abbey"));

        // The role part names it, case-insensitively.
        let product = ExposureQuery {
            user: Some("PRODUCT".into()),
            ..Default::default()
        };
        let got = report_with_vault(&[], &current(), &product, &filter);
        assert_eq!(got[0].users, ["approle:product"]);

        let with_harvester = VaultAuditFilter {
            include_harvester: true,
            exclude: &["dave".to_string(), "approle:product".to_string()],
            ..filter
        };
        let got = report_with_vault(&[], &current(), &ExposureQuery::default(), &with_harvester);
        let users: Vec<_> = got.iter().map(|x| x.users.join(",")).collect();
        assert_eq!(users, ["userpass-alice", "approle:harvester"]);
    }

    #[test]
    fn a_display_name_alone_never_makes_a_harvester() {
        // A person recorded as the harvester (a forged view, say) is still reported, and a
        // bare display name shared by every AppRole matches nobody.
        let fixture = VaultFixture::new(
            &[
                audit_line("userpass-xena", 1, "c2", 1, 7),
                audit_line("approle:product", 1, "c2", 1, 8),
            ],
            &["userpass-xena", "approle"],
        );
        let filter = fixture.filter();
        let got = report_with_vault(&[], &current(), &ExposureQuery::default(), &filter);
        assert_eq!(got[0].users, ["approle:product", "userpass-xena"]);
    }

    #[test]
    fn a_wrapped_read_is_live_until_the_credential_rotates_after_it() {
        let mut fixture = VaultFixture::new(
            &[
                wrapped_line("userpass-alice", 1, "c1", 5),
                wrapped_line("userpass-alice", 1, "c2", 5),
            ],
            &[],
        );
        // c1's current secret reached the vault at minute 6 (after the read); c2's at 4.
        fixture.rotations = [
            ((org(1), "c1".to_string()), t(6)),
            ((org(1), "c2".to_string()), t(4)),
        ]
        .into();
        let filter = fixture.filter();
        let got = report_with_vault(&[], &current(), &ExposureQuery::default(), &filter);
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|x| x.vault_read_wrapped && !x.vault_read));
        assert!(!got[0].live, "c1 rotated after the wrapped read");
        assert!(got[1].live, "c2 did not");
        assert_eq!(got[1].fingerprint, Some(fp("x")));
    }

    #[test]
    fn the_harvester_is_whom_the_log_records_writing_the_manifest_on_a_viewer() {
        let host = r#"{"display_name":"approle","metadata":{"role_name":"harvester"}}"#;
        let xena = r#"{"display_name":"userpass-xena","metadata":{"username":"xena"}}"#;
        let reads = vault_reads(&[manifest_line(host), manifest_line(xena)]);
        let claims: BTreeSet<String> = ["userpass-xena".to_string()].into();
        let found = harvesters(&BTreeSet::new(), true, &claims, &reads);
        assert_eq!(
            found.names.iter().collect::<Vec<_>>(),
            ["approle:harvester"]
        );
        assert_eq!(found.notes.len(), 2, "{:?}", found.notes);
        assert!(found.notes[0].contains("SUSPECT") && found.notes[0].contains("userpass-xena"));
        assert!(found.notes[1].contains("pulled view names userpass-xena"));
        // On the host, its own runs decide; another writer is suspect.
        let own: BTreeSet<String> = ["approle:other".to_string()].into();
        let found = harvesters(&own, false, &BTreeSet::new(), &reads);
        assert_eq!(found.names, own);
        assert_eq!(found.notes.len(), 2, "{:?}", found.notes);
    }

    #[test]
    fn rotation_times_are_the_last_run_that_wrote_the_secret() {
        let run = |minute: u32, rotated: &[&str]| RunSummary {
            run_id: uuid::Uuid::nil(),
            status: crate::domain::RunStatus::Complete,
            started_at: t(minute),
            finished_at: t(minute),
            sites_total: 1,
            sites_harvested: 1,
            sites_failed: 0,
            credentials_total: 2,
            diff: crate::domain::Diff {
                credentials_rotated: rotated
                    .iter()
                    .map(|c| crate::domain::CredentialRef {
                        organisation_id: org(1),
                        client_id: c.to_string(),
                    })
                    .collect(),
                ..Default::default()
            },
            failures: Vec::new(),
            stats: Default::default(),
            error: None,
            scope: Default::default(),
            signal: None,
        };
        let runs = [run(1, &["c1", "c2"]), run(3, &["c1"])];
        let at = rotation_times(&runs);
        assert_eq!(at[&(org(1), "c1".to_string())], t(3));
        assert_eq!(at[&(org(1), "c2".to_string())], t(1));
    }

    #[test]
    fn the_vault_identity_matches_too() {
        let mut r = rec("svc", AuditAction::Reveal, 1, "c2", "x", 1);
        r.identity = Some("carol@example.org".into());
        let q = ExposureQuery {
            user: Some("carol@example.org".into()),
            ..Default::default()
        };
        let got = report(&[r.clone()], &current(), &q);
        assert_eq!(got[0].users, ["carol@example.org", "svc"]);
        let people = live_by_person(&[r], &current());
        assert_eq!(people[0].person, "svc (carol@example.org)");
    }

    #[test]
    fn grouped_by_person_keeps_only_what_they_saw_live() {
        let people = live_by_person(&trail(), &current());
        let names: Vec<&str> = people.iter().map(|p| p.person.as_str()).collect();
        assert_eq!(names, ["alice", "bob"]);
        let alice: Vec<&str> = people[0]
            .exposures
            .iter()
            .map(|x| x.client_id.as_str())
            .collect();
        assert_eq!(alice, ["c2"]);
        assert_eq!(people[1].exposures[0].client_id, "c1");
    }

    #[test]
    fn since_takes_times_and_dates() {
        assert_eq!(parse_since("2026-11-30T01:05:00Z"), Ok(t(5)));
        assert_eq!(parse_since("2026-11-30T02:05:00+01:00"), Ok(t(5)));
        assert_eq!(
            parse_since("2026-11-30"),
            Ok(Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap())
        );
        assert!(parse_since("yesterday").is_err());
    }
}
