//! The view as content-addressed chunks and a manifest (docs/reference/vault.md "Team mode": consistent,
//! bounded, verified). Pure.
//!
//! The view is a stream of JSON lines: the sites by organisation id, then the runs oldest
//! first. The stream is cut after a line whose SHA-256 has its low six bits zero (about one
//! line in 64, and never before [`CHUNK_MIN`] bytes), and wherever a chunk would pass
//! [`CHUNK_MAX`] bytes; the sites end a chunk of their own. So an unchanged site list gives
//! the same chunks, a changed site changes the chunk around it, and a new run changes only
//! the end of the stream. That end (the runs after the last cut) is not a chunk but the
//! manifest's `tail`: an unchanged re-harvest writes the manifest alone, or the manifest
//! and one chunk when its run closes one.
//!
//! A chunk's name is the SHA-256 of its bytes; the manifest names every chunk in order,
//! holds the tail and the SHA-256 of the whole stream. A reader checks all of them.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::view::{Line, View};
use crate::domain::{RunRecord, SiteDetail};

/// The manifest format this build writes, and the newest it reads. 3: a site's line says
/// what the site is and no longer what the last run did to it (its badge, which a reader
/// derives from the runs). 2: the manifest carries its `sequence` (a format-1 manifest
/// counts as sequence 0). Formats 1 and 2 are read too: their lines' badges are ignored
/// and derived from the runs like format 3's.
pub const FORMAT: u32 = 3;
/// The most bytes a manifest may declare for its chunks and tail together (docs/reference/vault.md
/// "Trust": a pull is bounded by what the manifest declares; 25,000 sites make about
/// 46 MiB).
pub const DECLARED_MAX: usize = 256 * 1024 * 1024;
/// The most bytes of one chunk (or of the tail). JSON-escaping a stream of JSON lines at
/// most doubles it, so a chunk's write stays far below [`WRITE_MAX`].
pub const CHUNK_MAX: usize = 128 * 1024;
/// No single write to the vault above this (Raft's default entry limit is 1 MiB).
pub const WRITE_MAX: usize = 512 * 1024;
/// A chunk is not cut by a line's hash before it holds this many bytes.
const CHUNK_MIN: usize = 8 * 1024;
/// A line whose hash's first byte has these bits zero ends a chunk (1 in 64).
const BOUNDARY_BITS: u8 = 0x3f;
/// A publish writing fewer chunks than this is quiet (an unchanged re-harvest writes at
/// most one: its run may close the tail into a chunk)…
const QUIET_WRITES: usize = 2;
/// … and makes at most this many chunk requests, writes and removals together, so that an
/// unchanged re-harvest costs at most the session's lookup, one chunk request and the
/// manifest (docs/reference/vault.md: at most 3 requests).
const QUIET_CHUNK_REQUESTS: usize = 1;
/// The most chunks a manifest may name (a reader refuses more).
const MAX_CHUNKS: usize = 200_000;
/// The largest manifest a reader accepts.
pub const MANIFEST_MAX: usize = 2 * WRITE_MAX;

/// Why a view could not be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    /// A chunk the manifest names is not there (removed by a later publish, or lost).
    #[error("chunk {name} of the team's view is missing")]
    Missing { name: String },
    /// A chunk's bytes do not match its name (the SHA-256 the manifest names).
    #[error("chunk {name} of the team's view does not match its SHA-256 (altered)")]
    Altered { name: String },
    /// The manifest or the stream is not what this build writes.
    #[error("the team's view is malformed: {0}")]
    Malformed(String),
    /// A write would pass [`WRITE_MAX`].
    #[error("the team's view is too large: {0}")]
    TooLarge(String),
}

/// One chunk the manifest names: its name (the SHA-256 of its bytes, lower-case hex) and
/// its length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRef {
    pub name: String,
    pub bytes: usize,
}

/// The manifest: written last, with check-and-set; the one key a reader reads first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The previous manifest's sequence plus one (0 for a manifest written before format
    /// 2): a viewer refuses a view older than the one it holds.
    #[serde(default)]
    pub sequence: u64,
    /// The run that published this view.
    pub run_id: uuid::Uuid,
    #[serde(deserialize_with = "crate::domain::checked_time::deserialize")]
    pub published_at: DateTime<Utc>,
    /// The vault identity of the harvest host.
    pub identity: Option<String>,
    pub sites: usize,
    pub credentials: usize,
    pub runs: usize,
    /// The stream's chunks, in order.
    pub chunks: Vec<ChunkRef>,
    /// The end of the stream, after its last chunk.
    pub tail: String,
    /// SHA-256 of the whole stream (every chunk in order, then the tail).
    pub stream_sha256: String,
    /// Chunks the previous manifest named and this one does not: removed by the next
    /// publish (a reader may still be fetching them now).
    #[serde(default)]
    pub retired: Vec<String>,
}

/// A built view: the manifest and every chunk's bytes by name.
#[derive(Debug, Clone)]
pub struct Chunks {
    pub manifest: Manifest,
    pub bodies: HashMap<String, String>,
}

/// What one publish does after the previous one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishPlan {
    /// Chunks to write before the manifest (not known to exist).
    pub write: Vec<String>,
    /// Chunks to remove after the manifest (retired by the previous publish, named by
    /// neither manifest).
    pub remove: Vec<String>,
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The SHA-256 of `bytes` in lower-case hex (a chunk's name).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Whether `name` can be a chunk's name (64 lower-case hex digits): a name from the vault
/// becomes part of a key, so nothing else is accepted.
pub fn is_chunk_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The size of the write that stores `body` as `{"data":{"body":…},"options":{"cas":N}}`
/// (an upper bound: the cas is counted with 20 digits).
pub fn write_size(body: &str) -> usize {
    serde_json::to_string(body).map_or(usize::MAX, |s| s.len()) + 64
}

/// Whether the line `line` ends a chunk by its hash.
fn ends_chunk(line: &str) -> bool {
    Sha256::digest(line.as_bytes())[0] & BOUNDARY_BITS == 0
}

/// The largest index ≤ `at` that is a character boundary of `s`.
fn floor_boundary(s: &str, at: usize) -> usize {
    let mut i = at.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Cuts `lines` (each ending in `\n`) into chunks pushed on `out`; returns what remains
/// after the last cut.
fn cut(lines: &[String], out: &mut Vec<String>) -> String {
    let mut current = String::new();
    for line in lines {
        let mut rest = line.as_str();
        while current.len() + rest.len() > CHUNK_MAX {
            let at = floor_boundary(rest, CHUNK_MAX - current.len());
            if at == 0 {
                if current.is_empty() {
                    // Cannot happen for a character shorter than CHUNK_MAX; bounded anyway.
                    let first = rest.chars().next().map_or(rest.len(), char::len_utf8);
                    out.push(rest[..first].to_string());
                    rest = &rest[first..];
                } else {
                    out.push(std::mem::take(&mut current));
                }
                continue;
            }
            current.push_str(&rest[..at]);
            out.push(std::mem::take(&mut current));
            rest = &rest[at..];
        }
        current.push_str(rest);
        if current.len() >= CHUNK_MIN && ends_chunk(line) {
            out.push(std::mem::take(&mut current));
        }
    }
    current
}

fn encode_line(line: &Line) -> Result<String, ViewError> {
    let mut s = serde_json::to_string(line)
        .map_err(|e| ViewError::Malformed(format!("cannot encode a line ({e})")))?;
    s.push('\n');
    Ok(s)
}

/// Who published and when: the manifest's header.
#[derive(Debug, Clone)]
pub struct Header {
    /// The sequence of this publish (the one in the vault plus one).
    pub sequence: u64,
    pub run_id: uuid::Uuid,
    pub published_at: DateTime<Utc>,
    pub identity: Option<String>,
}

/// Builds the chunks and manifest of `view`: sites sorted by organisation id (credentials
/// by client id), runs in the order given (oldest first). Fails when the manifest's write
/// would pass [`WRITE_MAX`].
pub fn build(view: &View, header: Header) -> Result<Chunks, ViewError> {
    let mut sites: Vec<&SiteDetail> = view.sites.iter().collect();
    sites.sort_by(|a, b| a.row.site.org_id.cmp(&b.row.site.org_id));
    let site_lines = sites
        .into_iter()
        .map(|s| {
            let mut s = s.clone();
            s.credentials.sort_by(|a, b| a.client_id.cmp(&b.client_id));
            encode_line(&Line::Site(s))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let run_lines = view
        .runs
        .iter()
        .map(|r: &RunRecord| encode_line(&Line::Run(r.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    let mut pieces = Vec::new();
    let rest = cut(&site_lines, &mut pieces);
    if !rest.is_empty() {
        pieces.push(rest);
    }
    let tail = cut(&run_lines, &mut pieces);
    let mut stream = Sha256::new();
    let mut bodies = HashMap::new();
    let mut chunks = Vec::with_capacity(pieces.len());
    for piece in pieces {
        stream.update(piece.as_bytes());
        let name = sha256_hex(piece.as_bytes());
        chunks.push(ChunkRef {
            name: name.clone(),
            bytes: piece.len(),
        });
        bodies.insert(name, piece);
    }
    stream.update(tail.as_bytes());
    let manifest = Manifest {
        format: FORMAT,
        sequence: header.sequence,
        run_id: header.run_id,
        published_at: header.published_at,
        identity: header.identity,
        sites: view.sites.len(),
        credentials: view.credential_count(),
        runs: view.runs.len(),
        chunks,
        tail,
        stream_sha256: hex(&stream.finalize()),
        retired: Vec::new(),
    };
    Ok(Chunks { manifest, bodies })
}

impl Manifest {
    /// The manifest as written to the vault; fails when its write would pass
    /// [`WRITE_MAX`].
    pub fn to_body(&self) -> Result<String, ViewError> {
        let body = serde_json::to_string(self)
            .map_err(|e| ViewError::Malformed(format!("cannot encode the manifest ({e})")))?;
        if write_size(&body) > WRITE_MAX {
            return Err(ViewError::TooLarge(format!(
                "its manifest would be {} bytes, above {WRITE_MAX}",
                write_size(&body)
            )));
        }
        Ok(body)
    }

    /// Parses and checks a manifest read from the vault (hostile input: bounded, every name
    /// a chunk name).
    pub fn parse(body: &str) -> Result<Manifest, ViewError> {
        if body.len() > MANIFEST_MAX {
            return Err(ViewError::Malformed(format!(
                "the manifest is {} bytes, above {MANIFEST_MAX}",
                body.len()
            )));
        }
        let m: Manifest = serde_json::from_str(body)
            .map_err(|e| ViewError::Malformed(format!("the manifest is not valid ({e})")))?;
        if m.format > FORMAT {
            return Err(ViewError::Malformed(format!(
                "manifest format {} is newer than this build reads ({FORMAT}): upgrade simsid",
                m.format
            )));
        }
        if m.format == 0 {
            return Err(ViewError::Malformed("manifest format 0".into()));
        }
        if m.chunks.len() > MAX_CHUNKS || m.retired.len() > MAX_CHUNKS {
            return Err(ViewError::Malformed(
                "the manifest names too many chunks".into(),
            ));
        }
        let names_ok = m
            .chunks
            .iter()
            .all(|c| is_chunk_name(&c.name) && c.bytes <= CHUNK_MAX)
            && m.retired.iter().all(|n| is_chunk_name(n))
            && is_chunk_name(&m.stream_sha256);
        if !names_ok || m.tail.len() > CHUNK_MAX {
            return Err(ViewError::Malformed(
                "the manifest names a chunk that is not a SHA-256 or too large".into(),
            ));
        }
        let mut seen = std::collections::HashSet::with_capacity(m.chunks.len());
        if let Some(dup) = m.chunks.iter().find(|c| !seen.insert(c.name.as_str())) {
            return Err(ViewError::Malformed(format!(
                "the manifest names chunk {} more than once",
                dup.name
            )));
        }
        let declared = m.declared_bytes();
        if declared > DECLARED_MAX {
            return Err(ViewError::TooLarge(format!(
                "its manifest declares {declared} bytes, above {} MiB",
                DECLARED_MAX >> 20
            )));
        }
        Ok(m)
    }

    /// The bytes this manifest declares: its chunks' and its tail's.
    pub fn declared_bytes(&self) -> usize {
        self.chunks
            .iter()
            .fold(self.tail.len(), |sum, c| sum.saturating_add(c.bytes))
    }

    /// The sequence of the manifest whose body is `body`, read leniently (a publish after
    /// a manifest this build cannot read, or a damaged one, still continues its sequence):
    /// 0 when it has none.
    pub fn sequence_of(body: &str) -> u64 {
        #[derive(Deserialize)]
        struct Sequence {
            #[serde(default)]
            sequence: u64,
        }
        if body.len() > MANIFEST_MAX {
            return 0;
        }
        serde_json::from_str::<Sequence>(body).map_or(0, |s| s.sequence)
    }

    /// The names of this manifest's chunks.
    pub fn names(&self) -> BTreeSet<&str> {
        self.chunks.iter().map(|c| c.name.as_str()).collect()
    }

    /// Plans this publish after `previous` (the manifest now in the vault, if any) and
    /// records in `retired` what the previous one named and this one does not. Chunks the
    /// previous one retired are removed now, all of them when the view changed, else at
    /// most one chunk request in all (the others stay retired until a later publish).
    /// With `rewrite_all` every chunk is written (a repair).
    pub fn plan_after(&mut self, previous: Option<&Manifest>, rewrite_all: bool) -> PublishPlan {
        let next: BTreeSet<String> = self.names().into_iter().map(str::to_string).collect();
        let (prev_names, prev_retired): (BTreeSet<String>, BTreeSet<String>) = match previous {
            Some(p) => (
                p.names().into_iter().map(str::to_string).collect(),
                p.retired.iter().cloned().collect(),
            ),
            None => Default::default(),
        };
        self.retired = prev_names.difference(&next).cloned().collect();
        let write: Vec<String> = if rewrite_all {
            next.iter().cloned().collect()
        } else {
            next.iter()
                .filter(|n| !prev_names.contains(*n) && !prev_retired.contains(*n))
                .cloned()
                .collect()
        };
        let mut remove: Vec<String> = prev_retired.difference(&next).cloned().collect();
        // A quiet publish (the view unchanged but for its newest run) makes at most one
        // chunk request: what it does not remove now stays retired for the next publish.
        if write.len() < QUIET_WRITES {
            let now = QUIET_CHUNK_REQUESTS
                .saturating_sub(write.len())
                .min(remove.len());
            let later = remove.split_off(now);
            self.retired.extend(later);
            self.retired.sort();
            self.retired.dedup();
        }
        PublishPlan { write, remove }
    }
}

/// Reassembles and verifies a view: every chunk the manifest names must be in `bodies` and
/// match its SHA-256 and length; the stream must match its SHA-256 and parse, and its
/// counts must be the manifest's. What a line does not carry is derived (the badges from
/// the runs).
pub fn assemble(manifest: &Manifest, bodies: &HashMap<String, String>) -> Result<View, ViewError> {
    let mut stream = String::new();
    for c in &manifest.chunks {
        let body = bodies.get(&c.name).ok_or_else(|| ViewError::Missing {
            name: c.name.clone(),
        })?;
        if body.len() != c.bytes || sha256_hex(body.as_bytes()) != c.name {
            return Err(ViewError::Altered {
                name: c.name.clone(),
            });
        }
        stream.push_str(body);
    }
    stream.push_str(&manifest.tail);
    if sha256_hex(stream.as_bytes()) != manifest.stream_sha256 {
        return Err(ViewError::Malformed(
            "the stream does not match the manifest's SHA-256".into(),
        ));
    }
    let mut view = View::default();
    for (n, text) in stream.lines().enumerate() {
        match serde_json::from_str::<Line>(text) {
            Ok(Line::Site(s)) => view.sites.push(s),
            Ok(Line::Run(r)) => view.runs.push(r),
            Err(e) => {
                // The checks' own messages name what is wrong without quoting the value;
                // serde's may quote it, so the whole is sanitised and bounded.
                return Err(ViewError::Malformed(format!(
                    "line {} is not a site or a run as a harvest host writes it ({}: {})",
                    n + 1,
                    e.classify_name(),
                    crate::sanitize::bounded(&e.to_string(), 200)
                )));
            }
        }
    }
    if view.sites.len() != manifest.sites
        || view.credential_count() != manifest.credentials
        || view.runs.len() != manifest.runs
    {
        return Err(ViewError::Malformed(
            "the view's counts are not its manifest's".into(),
        ));
    }
    view.derive();
    Ok(view)
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "unexpected fields",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{fixtures, Diff, Fingerprint, OrgId};
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 123_456_789).unwrap()
    }

    fn org(n: u32) -> OrgId {
        OrgId::parse(&format!("{n:08X}-0000-4000-8000-000000000000")).unwrap()
    }

    /// A site as a reader derives it (two credentials, no badge).
    fn site(n: u32) -> SiteDetail {
        let credentials = (0..2)
            .map(|c| {
                let mut row = fixtures::credential(
                    format!("client-{n}-{c}"),
                    &format!("{:016x}", n * 10 + c),
                    t(2),
                );
                row.first_seen = t(1);
                row.description = Some("a description".repeat(3));
                row
            })
            .collect();
        let name = format!("School {n} \"quoted\" \\ ünïcode");
        let mut site = fixtures::site(org(n), name, t(n as i64), credentials);
        site.row.site.dfe_code = Some(format!("{n}"));
        site.row.site.authorised = Some(!n.is_multiple_of(3));
        site
    }

    /// A run (its times in whole seconds, as a run's line carries them).
    fn run(n: u32, diff: Diff) -> RunRecord {
        let at = |s: i64| Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap();
        let mut summary = fixtures::run(uuid::Uuid::from_u128(n as u128), at(n as i64 * 100));
        summary.finished_at = at(n as i64 * 100 + 5);
        summary.diff = diff;
        RunRecord {
            summary,
            identity: Some("approle".into()),
            site: None,
        }
    }

    /// The whole stream of `built`: its chunks in order, then its tail.
    fn stream_of(built: &Chunks) -> String {
        built
            .manifest
            .chunks
            .iter()
            .map(|c| built.bodies[&c.name].as_str())
            .chain([built.manifest.tail.as_str()])
            .collect()
    }

    fn view(sites: u32, runs: u32) -> View {
        View {
            sites: (0..sites).map(site).collect(),
            runs: (0..runs).map(|n| run(n, Diff::default())).collect(),
        }
    }

    fn header(n: u128) -> Header {
        Header {
            sequence: n as u64,
            run_id: uuid::Uuid::from_u128(n),
            published_at: t(0),
            identity: Some("token-host".into()),
        }
    }

    /// A first run of 25,000 sites: its diff alone is far above one write.
    fn big_diff() -> Diff {
        Diff {
            sites_added: (0..25_000).map(org).collect(),
            ..Diff::default()
        }
    }

    #[test]
    fn every_chunk_and_the_manifest_stay_within_one_write() {
        let mut v = view(3_000, 40);
        v.runs.push(run(99, big_diff()));
        let built = build(&v, header(1)).unwrap();
        assert!(built.manifest.chunks.len() > 10);
        for body in built.bodies.values() {
            assert!(body.len() <= CHUNK_MAX);
            assert!(write_size(body) <= WRITE_MAX, "{}", write_size(body));
        }
        assert!(write_size(&built.manifest.to_body().unwrap()) <= WRITE_MAX);
        // And it reads back whole.
        let back = assemble(&built.manifest, &built.bodies).unwrap();
        assert_eq!(back.runs, v.runs);
        assert_eq!(back.sites.len(), v.sites.len());
        // Its badge derived from the runs: the last one added every site.
        let mut want = v.sites[17].clone();
        want.row.badge = Some(crate::domain::ChangeBadge::Added);
        assert_eq!(back.sites[17], want);
    }

    #[test]
    fn a_line_cut_inside_a_multibyte_character_is_never_made() {
        let mut s = site(1);
        s.row.site.name = "é".repeat(CHUNK_MAX);
        let v = View {
            sites: vec![s],
            runs: Vec::new(),
        };
        let built = build(&v, header(1)).unwrap();
        assert!(built.manifest.chunks.len() >= 2);
        assert_eq!(assemble(&built.manifest, &built.bodies).unwrap(), v);
    }

    #[test]
    fn an_unchanged_view_gives_the_same_names_and_a_new_run_touches_only_the_end() {
        let v = view(2_000, 300);
        let a = build(&v, header(1)).unwrap();
        let b = build(&v, header(2)).unwrap();
        assert_eq!(a.manifest.chunks, b.manifest.chunks);
        assert_eq!(a.manifest.tail, b.manifest.tail);

        // One more run: every chunk stays, at most one is added (the tail may close one).
        let mut w = v.clone();
        w.runs.push(run(1_000, Diff::default()));
        let mut c = build(&w, header(3)).unwrap();
        let plan = c.manifest.plan_after(Some(&a.manifest), false);
        assert!(plan.write.len() <= 1, "{plan:?}");
        assert!(plan.remove.is_empty());
        assert!(c.manifest.retired.is_empty());

        // One site changed: only the chunks around it change.
        let mut x = v.clone();
        x.sites[700].row.site.name = "Renamed".into();
        let mut d = build(&x, header(4)).unwrap();
        let plan = d.manifest.plan_after(Some(&a.manifest), false);
        assert!(
            (1..=2).contains(&plan.write.len()),
            "{} of {} written",
            plan.write.len(),
            a.manifest.chunks.len()
        );
        assert_eq!(d.manifest.retired.len(), plan.write.len());
        // The next publishes remove what this one retired, one chunk request each while the
        // view is quiet.
        let mut previous = d.manifest.clone();
        let mut removed = Vec::new();
        for n in 0..4 {
            let mut e = build(&x, header(5 + n)).unwrap();
            let plan = e.manifest.plan_after(Some(&previous), false);
            assert!(plan.write.is_empty());
            assert!(plan.remove.len() <= 1, "{plan:?}");
            removed.extend(plan.remove);
            previous = e.manifest;
        }
        removed.sort();
        assert_eq!(removed, d.manifest.retired);
        assert!(previous.retired.is_empty());

        // A changed view removes everything retired at once.
        let mut y = x.clone();
        for site in y.sites.iter_mut().step_by(100) {
            site.row.site.name.push('!');
        }
        let mut f = build(&y, header(20)).unwrap();
        let plan = f.manifest.plan_after(Some(&d.manifest), false);
        assert!(plan.write.len() >= 2);
        assert_eq!(plan.remove, d.manifest.retired);
    }

    /// A site's line changes only when the site does (format 3): after a first harvest that
    /// added 3,000 schools (each marked "added" in the console), a harvest that rotates one
    /// school's credential rewrites the chunk(s) holding that school and the run lines
    /// (the manifest's tail, or one chunk it closes), not every chunk whose schools lost
    /// their mark. Format 2 carried the mark in each line: the same publish rewrote every
    /// chunk (all 49 of the same schools as format 2 wrote them).
    #[test]
    fn a_harvest_that_changes_one_school_rewrites_only_the_chunks_around_it() {
        let sites = 3_000;
        let added = Diff {
            sites_added: (0..sites).map(org).collect(),
            ..Diff::default()
        };
        let first = View {
            sites: (0..sites).map(site).collect(),
            runs: vec![run(1, added)],
        };
        let a = build(&first, header(1)).unwrap();
        let mut second = first.clone();
        let school = 1_234;
        let credential = &mut second.sites[school as usize].credentials[0];
        credential.fingerprint = Fingerprint::local("ffffffffffffffff".into());
        credential.last_changed = t(500);
        second.runs.push(run(
            2,
            Diff {
                credentials_rotated: vec![crate::domain::CredentialRef {
                    organisation_id: org(school),
                    client_id: credential.client_id.clone(),
                }],
                ..Diff::default()
            },
        ));
        let mut b = build(&second, header(2)).unwrap();
        let plan = b.manifest.plan_after(Some(&a.manifest), false);
        println!(
            "{sites} sites, {} chunks: the publish after one school changed writes {} chunk(s)",
            a.manifest.chunks.len(),
            plan.write.len()
        );
        assert!(a.manifest.chunks.len() > 30, "{}", a.manifest.chunks.len());
        assert!((1..=2).contains(&plan.write.len()), "{plan:?}");
        // What it wrote holds that school; every other chunk is the first publish's.
        let line = format!("\"org_id\":\"{}\"", org(school));
        assert!(plan.write.iter().any(|n| b.bodies[n].contains(&line)));
        // And the viewer derives the marks: the rotated school alone.
        let back = assemble(&b.manifest, &b.bodies).unwrap();
        let marked: Vec<_> = back
            .sites
            .iter()
            .filter(|s| s.row.badge.is_some())
            .collect();
        assert_eq!(marked.len(), 1);
        assert_eq!(marked[0].row.site.org_id, org(school));
        assert_eq!(
            marked[0].row.badge,
            Some(crate::domain::ChangeBadge::CredentialsChanged)
        );
    }

    /// A format-3 viewer reads a format-2 view (a team upgrading its viewers first): its
    /// lines' badges are ignored and derived from its runs like format 3's.
    #[test]
    fn a_format_2_view_is_read_and_its_lines_badges_are_derived_again() {
        let mut v = view(3, 0);
        v.runs.push(run(
            1,
            Diff {
                sites_added: vec![org(1)],
                ..Diff::default()
            },
        ));
        let built = build(&v, header(1)).unwrap();
        let stream = stream_of(&built);
        // Format 2 wrote each site's badge in its line (here a wrong one, to be ignored).
        let old = stream.replace(
            "\"credentials\":[",
            "\"badge\":\"authorisation_changed\",\"credentials\":[",
        );
        assert_eq!(old.matches("\"badge\"").count(), 3);
        let mut m = built.manifest.clone();
        m.format = 2;
        m.chunks.clear();
        m.stream_sha256 = sha256_hex(old.as_bytes());
        m.tail = old;
        let m = Manifest::parse(&m.to_body().unwrap()).unwrap();
        let back = assemble(&m, &HashMap::new()).unwrap();
        let badges: Vec<_> = back.sites.iter().map(|s| s.row.badge).collect();
        assert_eq!(
            badges,
            [None, Some(crate::domain::ChangeBadge::Added), None],
            "derived from the run, not read from the lines"
        );
        assert_eq!(back.runs, v.runs);
    }

    #[test]
    fn a_missing_or_altered_chunk_fails_the_read() {
        let v = view(1_000, 10);
        let built = build(&v, header(1)).unwrap();
        let name = built.manifest.chunks[1].name.clone();

        let mut missing = built.bodies.clone();
        missing.remove(&name);
        assert_eq!(
            assemble(&built.manifest, &missing),
            Err(ViewError::Missing { name: name.clone() })
        );

        let mut altered = built.bodies.clone();
        let body = altered.get_mut(&name).unwrap();
        let flipped = body.replacen("School", "Schoal", 1);
        *body = flipped;
        assert_eq!(
            assemble(&built.manifest, &altered),
            Err(ViewError::Altered { name })
        );

        let mut tail_changed = built.manifest.clone();
        tail_changed.tail.push(' ');
        assert!(matches!(
            assemble(&tail_changed, &built.bodies),
            Err(ViewError::Malformed(_))
        ));
    }

    #[test]
    fn a_manifest_carries_its_sequence_and_an_older_format_counts_as_zero() {
        let built = build(&view(10, 2), header(7)).unwrap();
        assert_eq!(built.manifest.sequence, 7);
        let body = built.manifest.to_body().unwrap();
        assert_eq!(Manifest::sequence_of(&body), 7);
        assert_eq!(Manifest::parse(&body).unwrap().sequence, 7);
        // A format-1 manifest (before sequences) is read, as sequence 0.
        let mut old: serde_json::Value = serde_json::from_str(&body).unwrap();
        old["format"] = 1.into();
        old.as_object_mut().unwrap().remove("sequence");
        let old = old.to_string();
        assert_eq!(Manifest::parse(&old).unwrap().sequence, 0);
        assert_eq!(Manifest::sequence_of(&old), 0);
        assert_eq!(Manifest::sequence_of("not json"), 0);
    }

    #[test]
    fn duplicates_a_declared_size_above_the_cap_and_a_newer_format_are_refused() {
        let built = build(&view(200, 2), header(1)).unwrap();
        let mut m = built.manifest.clone();
        m.chunks.push(m.chunks[0].clone());
        let e = Manifest::parse(&serde_json::to_string(&m).unwrap()).unwrap_err();
        assert!(e.to_string().contains("more than once"), "{e}");

        let mut m = built.manifest.clone();
        m.chunks = (0..(DECLARED_MAX / CHUNK_MAX + 1))
            .map(|n| ChunkRef {
                name: sha256_hex(&n.to_le_bytes()),
                bytes: CHUNK_MAX,
            })
            .collect();
        let e = Manifest::parse(&serde_json::to_string(&m).unwrap()).unwrap_err();
        assert!(e.to_string().contains("256 MiB"), "{e}");

        let mut m = built.manifest.clone();
        m.format = FORMAT + 1;
        let e = Manifest::parse(&serde_json::to_string(&m).unwrap()).unwrap_err();
        assert!(e.to_string().contains("upgrade simsid"), "{e}");
    }

    #[test]
    fn a_view_with_a_hostile_fingerprint_or_a_future_time_is_refused_whole() {
        let v = view(3, 1);
        let built = build(&v, header(1)).unwrap();
        let stream = stream_of(&built);
        let forge = |stream: String| {
            let mut m = built.manifest.clone();
            m.chunks.clear();
            m.stream_sha256 = sha256_hex(stream.as_bytes());
            m.tail = stream;
            assemble(&m, &HashMap::new())
        };
        assert_eq!(forge(stream.clone()).unwrap().sites.len(), 3);
        let hostile = serde_json::to_string("\u{1b}]52;c;aGk=\u{7}\u{1b}[31m").unwrap();
        let fp = serde_json::to_string(&format!("{:016x}", 0)).unwrap();
        let e = forge(stream.replacen(&fp, &hostile, 1)).unwrap_err();
        assert!(e.to_string().contains("not a fingerprint"), "{e}");
        assert!(!e.to_string().contains('\u{1b}'), "{e}");
        let e = forge(stream.replacen("2023-", "2999-", 1)).unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
        // The same GUID, but not as the host writes it (braced).
        let org = serde_json::to_string(v.sites[0].row.site.org_id.as_str()).unwrap();
        let braced = serde_json::to_string(&format!("{{{}}}", v.sites[0].row.site.org_id)).unwrap();
        let e = forge(stream.replacen(&org, &braced, 1)).unwrap_err();
        assert!(matches!(e, ViewError::Malformed(_)), "{e}");
    }

    #[test]
    fn a_hostile_manifest_is_refused() {
        let built = build(&view(10, 2), header(1)).unwrap();
        let mut m = built.manifest.clone();
        m.chunks.push(ChunkRef {
            name: "../../other".into(),
            bytes: 1,
        });
        assert!(Manifest::parse(&serde_json::to_string(&m).unwrap()).is_err());
        let mut m = built.manifest.clone();
        m.format = 9;
        assert!(Manifest::parse(&serde_json::to_string(&m).unwrap()).is_err());
        assert!(Manifest::parse("{").is_err());
        let good = built.manifest.to_body().unwrap();
        assert_eq!(Manifest::parse(&good).unwrap(), built.manifest);
    }
}
