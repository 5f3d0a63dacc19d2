//! The vault's own audit device as a source of exposures (vault.md, "Who saw which secret,
//! across the whole team"). Pure logic over its JSON lines: every successful read of a
//! credential's data under the profile's mount and prefix, folded per identity and
//! credential (first and last read, the versions read). Memory grows with the number of
//! distinct identity × credential pairs, never with the number of lines; the caller opens
//! the files and feeds them through [`VaultReads::read_from`].

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::domain::OrgId;
use crate::vault::path::decode_segment;

/// The longest audit line taken (a KV read record is a few KiB); longer lines are skipped
/// without being held in memory.
pub const MAX_LINE: usize = 1 << 20;

/// Which keys are credentials: `{mount}/data/{prefix}/{ORG}/{client}`.
#[derive(Debug, Clone)]
pub struct AuditScope {
    data_prefix: String,
    /// Finds the prefix in a raw line before any JSON is parsed.
    finder: memchr::memmem::Finder<'static>,
}

impl AuditScope {
    /// The scope of a profile's mount and prefix.
    pub fn new(mount: &str, prefix: &str) -> Self {
        let mount = mount.trim_matches('/');
        let prefix = prefix.trim_matches('/');
        let data_prefix = format!("{mount}/data/{prefix}/");
        AuditScope {
            finder: memchr::memmem::Finder::new(data_prefix.as_bytes()).into_owned(),
            data_prefix,
        }
    }

    /// The credential a request path names: `None` for any other path (another mount or
    /// prefix, `_simsid/…`, a deeper or shallower key).
    pub fn credential(&self, path: &str) -> Option<(OrgId, String)> {
        let rest = path.strip_prefix(&self.data_prefix)?;
        let (org, client) = rest.split_once('/')?;
        if client.contains('/') {
            return None;
        }
        // OrgId::parse accepts braces and any case; a key we wrote has neither.
        if org.starts_with('{') {
            return None;
        }
        let org = OrgId::parse(org).ok()?;
        Some((org, decode_segment(client)?))
    }
}

/// One person as the vault names them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct VaultIdentity {
    /// `auth.display_name` (`userpass-alice`, `token-alice`, `approle`).
    pub display_name: String,
    /// The user or role name inside it, from `auth.metadata` (`username`, `role_name`).
    pub name: Option<String>,
}

impl VaultIdentity {
    /// Whether `user` names this identity: the display name, the name in its metadata, or
    /// the name after an auth method's prefix (`alice` in `userpass-alice`), ignoring case.
    pub fn is_named(&self, user: &str) -> bool {
        person_matches(&self.display_name, user)
            || self
                .name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(user))
    }
}

/// Auth methods whose display names are `METHOD-NAME`.
const AUTH_PREFIXES: &[&str] = &[
    "token-",
    "userpass-",
    "approle-",
    "ldap-",
    "oidc-",
    "jwt-",
    "cert-",
    "github-",
    "kubernetes-",
    "radius-",
    "okta-",
];

/// Whether `user` names `candidate` (an OS user or a vault display name): the same name, or
/// the name inside a display name such as `userpass-alice`, case-insensitively.
pub fn person_matches(candidate: &str, user: &str) -> bool {
    if candidate.eq_ignore_ascii_case(user) {
        return true;
    }
    let lower = candidate.to_ascii_lowercase();
    AUTH_PREFIXES.iter().any(|p| {
        lower
            .strip_prefix(p)
            .is_some_and(|inner| !inner.is_empty() && inner.eq_ignore_ascii_case(user))
    })
}

/// One identity's reads of one credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairReads {
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    /// Every KV version this identity read.
    pub versions: BTreeSet<u64>,
}

/// What was read from the files, for the summary line on stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditTally {
    pub lines: u64,
    pub reads: u64,
    pub skipped: u64,
}

/// The successful credential reads found so far, per credential and identity.
#[derive(Debug, Default)]
pub struct VaultReads {
    pairs: BTreeMap<(OrgId, String), BTreeMap<VaultIdentity, PairReads>>,
    /// Reads before this time are left out (`--since`).
    since: Option<DateTime<Utc>>,
    pub tally: AuditTally,
}

// The shape of a response record; everything else in it is ignored. Strings are borrowed
// where the line has no escapes in them.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    time: Cow<'a, str>,
    #[serde(borrow)]
    auth: Option<Auth<'a>>,
    #[serde(borrow)]
    request: Option<Request<'a>>,
    response: Option<Response>,
    #[serde(borrow, default)]
    error: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Auth<'a> {
    #[serde(borrow, default)]
    display_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    metadata: Option<BTreeMap<Cow<'a, str>, Option<Cow<'a, str>>>>,
}

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    operation: Cow<'a, str>,
    #[serde(borrow)]
    path: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Response {
    data: Option<ResponseData>,
}

#[derive(Deserialize)]
struct ResponseData {
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct Metadata {
    version: Option<u64>,
}

impl VaultReads {
    /// An empty fold that leaves out reads before `since`.
    pub fn since(since: Option<DateTime<Utc>>) -> Self {
        VaultReads {
            since,
            ..VaultReads::default()
        }
    }

    /// Takes one line: a successful read of a credential's data is recorded, anything
    /// else (not JSON, another shape, a request record, an error, another path) is counted
    /// as skipped.
    pub fn take_line(&mut self, line: &[u8], scope: &AuditScope) {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        self.tally.lines += 1;
        match read_of(line, scope) {
            Some((_, _, at, _)) if self.since.is_some_and(|t| at < t) => {}
            Some((credential, identity, at, version)) => {
                self.tally.reads += 1;
                let reads = self
                    .pairs
                    .entry(credential)
                    .or_default()
                    .entry(identity)
                    .or_insert_with(|| PairReads {
                        first: at,
                        last: at,
                        versions: BTreeSet::new(),
                    });
                reads.first = reads.first.min(at);
                reads.last = reads.last.max(at);
                reads.versions.insert(version);
            }
            None => self.tally.skipped += 1,
        }
    }

    /// Reads every line of `input` (streamed; a line over [`MAX_LINE`] bytes is skipped
    /// without being held). Errors are the reader's own (a truncated `.gz`, say).
    pub fn read_from(&mut self, mut input: impl BufRead, scope: &AuditScope) -> io::Result<()> {
        let mut line = Vec::with_capacity(8 * 1024);
        loop {
            line.clear();
            let (complete, eof) = read_bounded_line(&mut input, &mut line, MAX_LINE)?;
            if eof && line.is_empty() {
                return Ok(());
            }
            if complete {
                self.take_line(&line, scope);
            } else {
                self.tally.lines += 1;
                self.tally.skipped += 1;
            }
            if eof {
                return Ok(());
            }
        }
    }

    /// Per credential, each identity's reads.
    pub fn credentials(
        &self,
    ) -> impl Iterator<Item = (&(OrgId, String), &BTreeMap<VaultIdentity, PairReads>)> {
        self.pairs.iter()
    }

    /// How many distinct identities read any credential.
    pub fn identity_count(&self) -> usize {
        self.pairs
            .values()
            .flat_map(|m| m.keys().map(|i| &i.display_name))
            .collect::<BTreeSet<_>>()
            .len()
    }

    /// How many distinct credentials were read.
    pub fn credential_count(&self) -> usize {
        self.pairs.len()
    }
}

/// Reads up to and including the next `\n` into `line`, keeping at most `max` bytes: returns
/// (whether the line fitted, whether the input ended).
fn read_bounded_line(
    input: &mut impl BufRead,
    line: &mut Vec<u8>,
    max: usize,
) -> io::Result<(bool, bool)> {
    let mut fits = true;
    loop {
        let (done, used) = {
            let buf = match input.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                return Ok((fits, true));
            }
            let (chunk, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (&buf[..=i], true),
                None => (buf, false),
            };
            if fits && line.len() + chunk.len() <= max {
                line.extend_from_slice(chunk);
            } else {
                fits = false;
                line.clear();
            }
            (done, chunk.len())
        };
        input.consume(used);
        if done {
            return Ok((fits, false));
        }
    }
}

/// What one successful read names: the credential, who, when, and the version read.
type Read = ((OrgId, String), VaultIdentity, DateTime<Utc>, u64);

/// The credential, identity, time and version of a successful read, else `None`.
fn read_of(line: &[u8], scope: &AuditScope) -> Option<Read> {
    // A cheap test first: most lines of a busy vault's log are something else. The needles
    // hold whatever the spacing of the JSON: the path as written, and the two values.
    if scope.finder.find(line).is_none()
        || memchr::memmem::find(line, b"\"read\"").is_none()
        || memchr::memmem::find(line, b"\"response\"").is_none()
    {
        return None;
    }
    let record: Record = serde_json::from_slice(line).ok()?;
    if record.kind != "response" || record.error.as_deref().is_some_and(|e| !e.is_empty()) {
        return None;
    }
    let request = record.request?;
    if request.operation != "read" {
        return None;
    }
    let credential = scope.credential(&request.path)?;
    // A read of a missing key is answered without data: nothing was seen.
    let version = record.response?.data?.metadata?.version?;
    let at = DateTime::parse_from_rfc3339(&record.time)
        .ok()?
        .with_timezone(&Utc);
    let auth = record.auth?;
    let display_name = auth.display_name.filter(|d| !d.is_empty())?.into_owned();
    let name = auth.metadata.and_then(|m| {
        ["username", "role_name", "name"]
            .iter()
            .find_map(|k| m.get(*k).cloned().flatten())
            .map(Cow::into_owned)
    });
    Some((
        credential,
        VaultIdentity { display_name, name },
        at,
        version,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: &str = "207A1392-E1F6-47BA-81DA-6C374971D788";

    fn scope() -> AuditScope {
        AuditScope::new("secret", "simsid/APP")
    }

    fn line(kind: &str, op: &str, path: &str, version: Option<u64>, error: Option<&str>) -> String {
        let data = match version {
            Some(v) => format!(
                r#","data":{{"data":{{"secret":"hmac-sha256:ab"}},"metadata":{{"version":{v},"destroyed":false}}}}"#
            ),
            None => String::new(),
        };
        let error = error.map_or(String::new(), |e| format!(r#","error":"{e}""#));
        format!(
            r#"{{"time":"2026-12-02T17:08:14.478828149Z","type":"{kind}","auth":{{"display_name":"userpass-alice","metadata":{{"username":"alice"}}}},"request":{{"operation":"{op}","path":"{path}"}},"response":{{"mount_type":"kv"{data}}}{error}}}"#
        )
    }

    #[test]
    fn a_successful_read_of_a_credential_is_taken() {
        let mut reads = VaultReads::default();
        let path = format!("secret/data/simsid/APP/{ORG}/sas-1");
        reads.take_line(
            line("response", "read", &path, Some(3), None).as_bytes(),
            &scope(),
        );
        assert_eq!(
            reads.tally,
            AuditTally {
                lines: 1,
                reads: 1,
                skipped: 0
            }
        );
        let (cred, by) = reads.credentials().next().unwrap();
        assert_eq!(cred.1, "sas-1");
        let (who, r) = by.iter().next().unwrap();
        assert_eq!(who.display_name, "userpass-alice");
        assert_eq!(who.name.as_deref(), Some("alice"));
        assert_eq!(r.versions.iter().copied().collect::<Vec<_>>(), vec![3]);
    }

    #[test]
    fn everything_else_is_skipped_and_counted() {
        let mut reads = VaultReads::default();
        let good = format!("secret/data/simsid/APP/{ORG}/sas-1");
        let lines = [
            "not json at all".to_string(),
            r#"{"type":"response"}"#.to_string(),
            line("request", "read", &good, Some(1), None),
            line("response", "update", &good, Some(1), None),
            line(
                "response",
                "read",
                &good,
                Some(1),
                Some("permission denied"),
            ),
            line("response", "read", &good, None, None),
            line(
                "response",
                "read",
                &format!("other/data/simsid/APP/{ORG}/sas-1"),
                Some(1),
                None,
            ),
            line(
                "response",
                "read",
                &format!("secret/data/simsid/OTHER/{ORG}/sas-1"),
                Some(1),
                None,
            ),
            line(
                "response",
                "read",
                "secret/data/simsid/APP/_simsid/manifest",
                Some(1),
                None,
            ),
            line(
                "response",
                "read",
                &format!("secret/metadata/simsid/APP/{ORG}/sas-1"),
                Some(1),
                None,
            ),
            line(
                "response",
                "read",
                &format!("secret/data/simsid/APP/{ORG}/a/b"),
                Some(1),
                None,
            ),
        ];
        for l in &lines {
            reads.take_line(l.as_bytes(), &scope());
        }
        reads.take_line(b"\n", &scope());
        assert_eq!(
            reads.tally,
            AuditTally {
                lines: 11,
                reads: 0,
                skipped: 11
            }
        );
        assert_eq!(reads.credential_count(), 0);
    }

    #[test]
    fn an_encoded_client_id_is_decoded() {
        let mut reads = VaultReads::default();
        let path = format!("secret/data/simsid/APP/{ORG}/a%2Fb");
        reads.take_line(
            line("response", "read", &path, Some(1), None).as_bytes(),
            &scope(),
        );
        assert_eq!(reads.credentials().next().unwrap().0 .1, "a/b");
    }

    #[test]
    fn lines_are_streamed_and_an_endless_line_is_skipped() {
        let path = format!("secret/data/simsid/APP/{ORG}/sas-1");
        let good = line("response", "read", &path, Some(2), None);
        let mut input = Vec::new();
        input.extend_from_slice(good.as_bytes());
        input.push(b'\n');
        input.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        input.push(b'\n');
        input.extend_from_slice(good.as_bytes()); // no final newline
        let mut reads = VaultReads::default();
        reads
            .read_from(io::BufReader::with_capacity(4096, &input[..]), &scope())
            .unwrap();
        assert_eq!(
            reads.tally,
            AuditTally {
                lines: 3,
                reads: 2,
                skipped: 1
            }
        );
    }

    #[test]
    fn people_are_matched_by_display_name_or_the_name_inside() {
        let id = VaultIdentity {
            display_name: "userpass-alice".into(),
            name: Some("alice".into()),
        };
        for u in ["alice", "ALICE", "userpass-alice", "UserPass-Alice"] {
            assert!(id.is_named(u), "{u}");
        }
        assert!(!id.is_named("bob"));
        assert!(!id.is_named("userpass"));
        assert!(person_matches("token-alice", "alice"));
        assert!(person_matches("Alice", "alice"));
        assert!(!person_matches("alice-smith", "smith"));
    }
}
