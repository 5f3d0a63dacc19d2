//! The vault's own audit device as a source of exposures (docs/reference/vault.md, "Who saw which secret,
//! across the whole team" and "Trust"). Pure logic over its JSON lines:
//! - every successful read of a credential's value (`{mount}/data/{prefix}/{ORG}/{client}`,
//!   any version: the version read is in the answer);
//! - every read answered with response wrapping (`wrap_info.creation_path` is a credential,
//!   no `data`): version unknown, action `vault-read-wrapped`; a `sys/wrapping/unwrap` of
//!   that wrapping token (the log HMACs both the same way) is tied back to it, naming the
//!   version and, when another identity unwraps, that identity too;
//! - every write of the team's view manifest, and by whom (who the harvester is).
//!
//! `metadata/…` and `subkeys/…` never return a secret's value, so they are not reads here.
//! Memory is bounded by what is kept, never by hostile text: a line over [`MAX_LINE`] is junk
//! unread, a path is kept only as the (organisation, client id) it names, an identity is cut
//! at 256 bytes, and the number of identities, pairs and open wrapping tokens is capped.
//! The caller opens the files and feeds them through [`VaultReads::read_from`].

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::io::{self, BufRead};

use chrono::{DateTime, Duration, Utc};
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;

use crate::domain::vault_identity::{AuthFacts, VaultIdentity};
use crate::domain::OrgId;

/// The longest audit line taken (a KV read record is a few KiB); longer lines are junk,
/// skipped without being held in memory.
pub const MAX_LINE: usize = 1 << 20;

/// How far in the future a record's time may be (clock skew between hosts); later is junk.
pub const MAX_SKEW: Duration = Duration::minutes(5);

// The caps below hold `exposure --vault-audit` under 100 MB whatever the log holds (each kept
// item is at most a few hundred bytes, and each credential becomes one entry of the report);
// a team's real log is inside them (25,000 schools with two credentials each, a few thousand
// identities).
/// The most distinct identities kept; reads by further identities are counted as dropped.
pub const MAX_IDENTITIES: usize = 5_000;
/// The most distinct credentials kept.
pub const MAX_CREDENTIALS: usize = 50_000;
/// The most distinct (identity, credential) pairs kept.
pub const MAX_PAIRS: usize = 150_000;
/// The longest client id taken (the host writes SIMS ID's, a few dozen characters); a
/// longer one in a path is junk.
pub const MAX_CLIENT_ID: usize = 128;
/// The most wrapping tokens waiting for their unwrap; older ones are forgotten first.
pub const MAX_OPEN_WRAPS: usize = 100_000;
/// The most versions remembered per pair (the highest are kept: the current one is).
const MAX_VERSIONS: usize = 16;

/// Where the profile's credentials and view are in the vault, given by the caller (the
/// vault layer owns the layout; this module only matches against it).
#[derive(Debug, Clone, Copy)]
pub struct CredentialLayout<'a> {
    /// The KV v2 mount (`secret`).
    pub mount: &'a str,
    /// The prefix under it (`simsid/APP`).
    pub prefix: &'a str,
    /// The manifest of the team's view, under the prefix (`_simsid/manifest`).
    pub manifest: &'a str,
    /// A client id's key segment back to the client id (`None`: not a segment we write).
    pub decode_client: fn(&str) -> Option<String>,
}

/// Which keys are credentials: `{mount}/data/{prefix}/{ORG}/{client}`.
#[derive(Debug, Clone)]
pub struct AuditScope {
    data_prefix: String,
    manifest_path: String,
    decode_client: fn(&str) -> Option<String>,
    /// Finds the prefix in a raw line before any JSON is parsed.
    finder: memchr::memmem::Finder<'static>,
    unwrap_finder: memchr::memmem::Finder<'static>,
    manifest_finder: memchr::memmem::Finder<'static>,
}

const UNWRAP_PATH: &str = "sys/wrapping/unwrap";

impl AuditScope {
    /// The scope of a profile's layout.
    pub fn new(layout: &CredentialLayout<'_>) -> Self {
        let mount = layout.mount.trim_matches('/');
        let prefix = layout.prefix.trim_matches('/');
        let data_prefix = format!("{mount}/data/{prefix}/");
        AuditScope {
            finder: memchr::memmem::Finder::new(data_prefix.as_bytes()).into_owned(),
            unwrap_finder: memchr::memmem::Finder::new(UNWRAP_PATH.as_bytes()).into_owned(),
            manifest_finder: memchr::memmem::Finder::new(
                format!("{data_prefix}{}", layout.manifest.trim_matches('/')).as_bytes(),
            )
            .into_owned(),
            manifest_path: format!("{data_prefix}{}", layout.manifest.trim_matches('/')),
            data_prefix,
            decode_client: layout.decode_client,
        }
    }

    /// The credential a path names: `None` for any other path (another mount or prefix,
    /// `_simsid/…`, a deeper or shallower key, an organisation id not in the upper case
    /// the harvest host writes).
    pub fn credential(&self, path: &str) -> Option<(OrgId, String)> {
        let rest = path.strip_prefix(&self.data_prefix)?;
        let (org, client) = rest.split_once('/')?;
        if client.contains('/') {
            return None;
        }
        // OrgId::parse accepts braces and any case; a key the host wrote has neither.
        if org.len() != 36 || client.len() > 3 * MAX_CLIENT_ID {
            return None;
        }
        let parsed = OrgId::parse(org).ok().filter(|o| o.as_str() == org)?;
        let client = (self.decode_client)(client).filter(|c| c.len() <= MAX_CLIENT_ID)?;
        Some((parsed, client))
    }

    fn is_manifest(&self, path: &str) -> bool {
        path == self.manifest_path
    }
}

/// One identity's reads of one credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairReads {
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    /// The KV versions this identity read (the highest [`MAX_VERSIONS`], ascending).
    pub versions: Vec<u64>,
    /// Whether any read returned the value itself (action `vault-read`).
    pub plain: bool,
    /// The last read answered with response wrapping, or an unwrap of one (action
    /// `vault-read-wrapped`): its version is unknown, so it is live until the credential
    /// rotates after this time.
    pub wrapped_last: Option<DateTime<Utc>>,
}

impl PairReads {
    fn new(at: DateTime<Utc>) -> Self {
        PairReads {
            first: at,
            last: at,
            versions: Vec::new(),
            plain: false,
            wrapped_last: None,
        }
    }

    fn saw(&mut self, at: DateTime<Utc>) {
        self.first = self.first.min(at);
        self.last = self.last.max(at);
    }

    fn add_version(&mut self, version: u64) {
        if let Err(i) = self.versions.binary_search(&version) {
            self.versions.insert(i, version);
            if self.versions.len() > MAX_VERSIONS {
                self.versions.remove(0);
            }
        }
    }
}

/// One credential and each identity's reads of it.
pub type CredentialReads<'a> = (&'a (OrgId, String), Vec<(&'a VaultIdentity, &'a PairReads)>);

/// Who wrote the team's view manifest, according to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestWrites {
    pub count: u64,
    pub last: DateTime<Utc>,
}

/// What was read from the files, for the summary line on stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditTally {
    pub lines: u64,
    /// Reads taken, wrapped reads and tied unwraps included.
    pub reads: u64,
    pub skipped: u64,
    /// Reads answered with response wrapping.
    pub wrapped: u64,
    /// Unwraps tied back to a wrapped read in the files.
    pub unwraps_tied: u64,
    /// Unwraps whose wrapped read is not in the files (or was forgotten).
    pub unwraps_untied: u64,
    /// Records timed in the future beyond [`MAX_SKEW`] (junk, among the skipped).
    pub future: u64,
    /// Reads not kept because a cap was reached (identities or pairs).
    pub dropped: u64,
}

/// A wrapping token waiting for its unwrap.
#[derive(Debug, Clone)]
struct OpenWrap {
    credential: u32,
    identity: u32,
    seq: u64,
}

/// The successful credential reads found so far, per credential and identity.
#[derive(Debug)]
pub struct VaultReads {
    identities: Vec<VaultIdentity>,
    by_name: HashMap<String, u32>,
    /// Credentials by (organisation, client id), each kept once.
    credentials: HashMap<(OrgId, String), u32>,
    /// Per (credential, identity), the reads.
    pairs: HashMap<(u32, u32), PairReads>,
    open_wraps: HashMap<u64, OpenWrap>,
    /// Open wraps oldest first (a key whose sequence no longer matches was unwrapped).
    wrap_order: VecDeque<(u64, u64)>,
    wrap_seq: u64,
    token_hasher: std::collections::hash_map::RandomState,
    manifest_writers: BTreeMap<u32, ManifestWrites>,
    /// Reads before this time are left out (`--since`).
    since: Option<DateTime<Utc>>,
    /// Now: a record later than this plus [`MAX_SKEW`] is junk.
    now: DateTime<Utc>,
    pub tally: AuditTally,
}

impl Default for VaultReads {
    fn default() -> Self {
        VaultReads::new(None, Utc::now())
    }
}

// The shape of a response record; everything else in it is ignored (without being
// allocated). Strings are borrowed where the line has no escapes in them.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    time: Cow<'a, str>,
    #[serde(borrow, default)]
    auth: Option<Auth<'a>>,
    #[serde(borrow, default)]
    request: Option<Request<'a>>,
    #[serde(borrow, default)]
    response: Option<Response<'a>>,
    #[serde(borrow, default)]
    error: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Auth<'a> {
    #[serde(borrow, default)]
    display_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    metadata: Option<AuthMetadata<'a>>,
    #[serde(borrow, default)]
    entity_id: Option<Cow<'a, str>>,
    #[serde(default)]
    policies: Option<Policies>,
}

#[derive(Deserialize)]
struct AuthMetadata<'a> {
    #[serde(borrow, default)]
    role_name: Option<AnyStr<'a>>,
    #[serde(borrow, default)]
    username: Option<AnyStr<'a>>,
}

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    operation: Cow<'a, str>,
    #[serde(borrow)]
    path: Cow<'a, str>,
    #[serde(borrow, default)]
    client_token: Option<AnyStr<'a>>,
    #[serde(borrow, default)]
    data: Option<RequestData<'a>>,
}

#[derive(Deserialize)]
struct RequestData<'a> {
    #[serde(borrow, default)]
    token: Option<AnyStr<'a>>,
}

#[derive(Deserialize)]
struct Response<'a> {
    #[serde(default)]
    data: Option<ResponseData>,
    #[serde(borrow, default)]
    wrap_info: Option<WrapInfo<'a>>,
}

#[derive(Deserialize)]
struct ResponseData {
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    version: Option<u64>,
}

#[derive(Deserialize)]
struct WrapInfo<'a> {
    #[serde(borrow, default)]
    token: Option<AnyStr<'a>>,
    #[serde(borrow, default)]
    creation_path: Option<AnyStr<'a>>,
}

/// A string where one is expected, or `None` for any other JSON value (skipped unread).
struct AnyStr<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for AnyStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AnyStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(AnyStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(AnyStr(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(AnyStr(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(AnyStr(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(AnyStr(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(AnyStr(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(AnyStr(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(AnyStr(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(AnyStr(None))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(AnyStr(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'a> AnyStr<'a> {
    fn get<'b>(opt: &'b Option<AnyStr<'a>>) -> Option<&'b str> {
        opt.as_ref().and_then(|s| s.0.as_deref())
    }
}

/// Whether a policy list holds `root`, read without keeping the list.
struct Policies(bool);

impl<'de> Deserialize<'de> for Policies {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Policies;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of policy names")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Policies(false))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut root = false;
                while let Some(p) = seq.next_element::<AnyStr<'de>>()? {
                    root |= p.0.as_deref() == Some("root");
                }
                Ok(Policies(root))
            }
        }
        d.deserialize_any(V)
    }
}

/// What one record says, once checked.
#[derive(Debug)]
enum Event {
    /// A read that returned the value, with the version read.
    Read {
        credential: (OrgId, String),
        who: VaultIdentity,
        at: DateTime<Utc>,
        version: u64,
    },
    /// A read answered with a wrapping token (HMAC'd in the log) instead of the value.
    Wrapped {
        credential: (OrgId, String),
        who: VaultIdentity,
        at: DateTime<Utc>,
        token: Option<String>,
    },
    /// An unwrap of wrapping token `token`; `who` is `None` when the wrapping token itself
    /// authenticated it (the log then names the wrapper, not who held the token).
    Unwrap {
        token: String,
        who: Option<VaultIdentity>,
        at: DateTime<Utc>,
        version: Option<u64>,
    },
    /// A successful write of the team's view manifest.
    ManifestWrite {
        who: VaultIdentity,
        at: DateTime<Utc>,
    },
}

/// Why a line was not taken.
#[derive(Debug, PartialEq, Eq)]
enum Junk {
    Other,
    Future,
}

/// The longest wrapping token (HMAC'd: `hmac-sha256:` and 64 hex digits) remembered.
const MAX_TOKEN: usize = 128;

impl VaultReads {
    /// An empty fold that leaves out reads before `since` and counts records later than
    /// `now` (plus a little skew) as junk.
    pub fn new(since: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Self {
        VaultReads {
            identities: Vec::new(),
            by_name: HashMap::new(),
            credentials: HashMap::new(),
            pairs: HashMap::new(),
            open_wraps: HashMap::new(),
            wrap_order: VecDeque::new(),
            wrap_seq: 0,
            token_hasher: std::collections::hash_map::RandomState::new(),
            manifest_writers: BTreeMap::new(),
            since,
            now,
            tally: AuditTally::default(),
        }
    }

    /// Takes one line: a successful read of a credential (plain or wrapped), an unwrap, or
    /// a write of the view's manifest is recorded; anything else (not JSON, another shape,
    /// a request record, an error, another path, a time in the future) is counted as
    /// skipped.
    pub fn take_line(&mut self, line: &[u8], scope: &AuditScope) {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        self.tally.lines += 1;
        match event_of(line, scope, self.now) {
            Ok(event) => self.take(event),
            Err(Junk::Future) => {
                self.tally.future += 1;
                self.tally.skipped += 1;
            }
            Err(Junk::Other) => self.tally.skipped += 1,
        }
    }

    fn before_since(&self, at: DateTime<Utc>) -> bool {
        self.since.is_some_and(|t| at < t)
    }

    fn take(&mut self, event: Event) {
        match event {
            Event::Read {
                credential,
                who,
                at,
                version,
            } => {
                if self.before_since(at) {
                    return;
                }
                let (Some(c), Some(id)) = self.intern_both(credential, who) else {
                    self.tally.dropped += 1;
                    return;
                };
                if let Some(pair) = self.pair_of(c, id, at) {
                    pair.plain = true;
                    pair.add_version(version);
                }
            }
            Event::Wrapped {
                credential,
                who,
                at,
                token,
            } => {
                let (Some(c), Some(id)) = self.intern_both(credential, who) else {
                    self.tally.dropped += 1;
                    return;
                };
                if let Some(token) = token.filter(|t| t.len() <= MAX_TOKEN) {
                    self.open_wrap(&token, c, id);
                }
                if self.before_since(at) {
                    return;
                }
                self.tally.wrapped += 1;
                if let Some(pair) = self.pair_of(c, id, at) {
                    pair.wrapped_last = pair.wrapped_last.max(Some(at));
                }
            }
            Event::Unwrap {
                token,
                who,
                at,
                version,
            } => {
                let key = self.token_key(&token);
                let Some(open) = self.open_wraps.remove(&key) else {
                    self.tally.unwraps_untied += 1;
                    return;
                };
                self.tally.unwraps_tied += 1;
                if self.before_since(at) {
                    return;
                }
                // The version the wrapped read answered is now known, for the wrapper…
                if let Some(v) = version {
                    if let Some(pair) = self.pairs.get_mut(&(open.credential, open.identity)) {
                        pair.add_version(v);
                    }
                }
                // … and whoever else unwrapped it read the secret too.
                let Some(who) = who else {
                    return;
                };
                let Some(id) = self.intern(who) else {
                    self.tally.dropped += 1;
                    return;
                };
                if id == open.identity {
                    return;
                }
                if let Some(pair) = self.pair_of(open.credential, id, at) {
                    pair.wrapped_last = pair.wrapped_last.max(Some(at));
                    if let Some(v) = version {
                        pair.add_version(v);
                    }
                }
            }
            Event::ManifestWrite { who, at } => {
                let Some(id) = self.intern(who) else {
                    self.tally.dropped += 1;
                    return;
                };
                let w = self
                    .manifest_writers
                    .entry(id)
                    .or_insert(ManifestWrites { count: 0, last: at });
                w.count += 1;
                w.last = w.last.max(at);
            }
        }
    }

    /// The index of `who`, added if new and there is room.
    fn intern(&mut self, who: VaultIdentity) -> Option<u32> {
        if let Some(&i) = self.by_name.get(&who.name) {
            return Some(i);
        }
        if self.identities.len() >= MAX_IDENTITIES {
            return None;
        }
        let i = u32::try_from(self.identities.len()).ok()?;
        self.by_name.insert(who.name.clone(), i);
        self.identities.push(who);
        Some(i)
    }

    /// The indexes of an identity and a credential; a credential takes a place only when its
    /// reader has one.
    fn intern_both(
        &mut self,
        credential: (OrgId, String),
        who: VaultIdentity,
    ) -> (Option<u32>, Option<u32>) {
        match self.intern(who) {
            Some(id) => (self.credential_index(credential), Some(id)),
            None => (None, None),
        }
    }

    /// The index of a credential, added if new and there is room.
    fn credential_index(&mut self, credential: (OrgId, String)) -> Option<u32> {
        if let Some(&i) = self.credentials.get(&credential) {
            return Some(i);
        }
        if self.credentials.len() >= MAX_CREDENTIALS {
            return None;
        }
        let i = u32::try_from(self.credentials.len()).ok()?;
        self.credentials.insert(credential, i);
        Some(i)
    }

    /// The pair's reads, counted as one more read at `at` (`None` when the cap is reached).
    fn pair_of(&mut self, credential: u32, id: u32, at: DateTime<Utc>) -> Option<&mut PairReads> {
        let full = self.pairs.len() >= MAX_PAIRS;
        if full && !self.pairs.contains_key(&(credential, id)) {
            self.tally.dropped += 1;
            return None;
        }
        self.tally.reads += 1;
        let pair = self
            .pairs
            .entry((credential, id))
            .or_insert_with(|| PairReads::new(at));
        pair.saw(at);
        Some(pair)
    }

    /// A wrapping token's key: a keyed 64-bit hash of the (HMAC'd) token, so an open wrap
    /// costs a few bytes whatever the log wrote.
    fn token_key(&self, token: &str) -> u64 {
        use std::hash::BuildHasher;
        self.token_hasher.hash_one(token)
    }

    fn open_wrap(&mut self, token: &str, credential: u32, identity: u32) {
        // Forget the oldest first: a wrapping token lives minutes, the log runs in order.
        while self.open_wraps.len() >= MAX_OPEN_WRAPS {
            let Some((key, seq)) = self.wrap_order.pop_front() else {
                break;
            };
            if self.open_wraps.get(&key).is_some_and(|w| w.seq == seq) {
                self.open_wraps.remove(&key);
            }
        }
        if self.wrap_order.len() >= 2 * MAX_OPEN_WRAPS {
            // Unwrapped tokens leave their place in the queue: drop those places.
            let open = &self.open_wraps;
            self.wrap_order
                .retain(|(key, seq)| open.get(key).is_some_and(|w| w.seq == *seq));
        }
        self.wrap_seq += 1;
        let key = self.token_key(token);
        self.wrap_order.push_back((key, self.wrap_seq));
        self.open_wraps.insert(
            key,
            OpenWrap {
                credential,
                identity,
                seq: self.wrap_seq,
            },
        );
    }

    /// Reads every line of `input` (streamed; a line over [`MAX_LINE`] bytes is junk,
    /// skipped without being held). Errors are the reader's own (a truncated `.gz`, say).
    pub fn read_from(&mut self, mut input: impl BufRead, scope: &AuditScope) -> io::Result<()> {
        let mut line = Vec::with_capacity(8 * 1024);
        loop {
            line.clear();
            let (complete, eof) = read_bounded_line(&mut input, &mut line, MAX_LINE)?;
            if eof && line.is_empty() && complete {
                return Ok(());
            }
            if complete {
                self.take_line(&line, scope);
            } else {
                self.tally.lines += 1;
                self.tally.skipped += 1;
            }
            if line.capacity() > 64 * 1024 {
                // One long line must not keep its buffer for the rest of the file.
                line = Vec::with_capacity(8 * 1024);
            }
            if eof {
                return Ok(());
            }
        }
    }

    /// Per credential (sorted by organisation and client id), each identity's reads
    /// (sorted by name), one credential at a time.
    pub fn credentials(&self) -> impl Iterator<Item = CredentialReads<'_>> {
        let mut keys: Vec<Option<&(OrgId, String)>> = vec![None; self.credentials.len()];
        for (key, &i) in &self.credentials {
            keys[i as usize] = Some(key);
        }
        let mut order: Vec<(u32, u32)> = self.pairs.keys().copied().collect();
        order.sort_unstable_by(|a, b| {
            keys[a.0 as usize].cmp(&keys[b.0 as usize]).then_with(|| {
                self.identities[a.1 as usize]
                    .name
                    .cmp(&self.identities[b.1 as usize].name)
            })
        });
        let mut at = 0;
        std::iter::from_fn(move || {
            let &(credential, _) = order.get(at)?;
            let mut group = Vec::new();
            while let Some(&(c, id)) = order.get(at).filter(|(c, _)| *c == credential) {
                group.push((&self.identities[id as usize], &self.pairs[&(c, id)]));
                at += 1;
            }
            Some((keys[credential as usize]?, group))
        })
    }

    /// Who the log records writing the team's view manifest, and how often.
    pub fn manifest_writers(&self) -> impl Iterator<Item = (&VaultIdentity, &ManifestWrites)> {
        self.manifest_writers
            .iter()
            .map(|(i, w)| (&self.identities[*i as usize], w))
    }

    /// How many distinct identities read any credential.
    pub fn identity_count(&self) -> usize {
        let mut seen: Vec<u32> = self.pairs.keys().map(|(_, id)| *id).collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    }

    /// How many distinct credentials were read.
    pub fn credential_count(&self) -> usize {
        let mut seen: Vec<u32> = self.pairs.keys().map(|(c, _)| *c).collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
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

/// The identity of a record's `auth` (a missing or empty display name is a token).
fn identity_of(auth: &Auth<'_>) -> VaultIdentity {
    let meta = auth.metadata.as_ref();
    VaultIdentity::qualify(&AuthFacts {
        display_name: auth.display_name.as_deref().unwrap_or(""),
        role_name: meta.and_then(|m| AnyStr::get(&m.role_name)),
        username: meta.and_then(|m| AnyStr::get(&m.username)),
        entity_id: auth.entity_id.as_deref(),
        root: auth.policies.as_ref().is_some_and(|p| p.0),
    })
}

/// What one line says, else why it is junk.
fn event_of(line: &[u8], scope: &AuditScope, now: DateTime<Utc>) -> Result<Event, Junk> {
    // A cheap test first: most lines of a busy vault's log are something else. The needles
    // hold whatever the spacing of the JSON: the path as written, and the record type.
    let ours = scope.finder.find(line).is_some();
    if !ours && scope.unwrap_finder.find(line).is_none() {
        return Err(Junk::Other);
    }
    if memchr::memmem::find(line, b"\"response\"").is_none() {
        return Err(Junk::Other);
    }
    // Of our paths, only a read, a wrapped answer or a write of the manifest is taken: a
    // write of a credential (most of the rest) is left unparsed.
    if ours
        && memchr::memmem::find(line, b"\"read\"").is_none()
        && memchr::memmem::find(line, b"\"wrap_info\"").is_none()
        && scope.manifest_finder.find(line).is_none()
    {
        return Err(Junk::Other);
    }
    let record: Record = serde_json::from_slice(line).map_err(|_| Junk::Other)?;
    if record.kind != "response" || record.error.as_deref().is_some_and(|e| !e.is_empty()) {
        return Err(Junk::Other);
    }
    let at = DateTime::parse_from_rfc3339(&record.time)
        .map_err(|_| Junk::Other)?
        .with_timezone(&Utc);
    if at > now + MAX_SKEW {
        return Err(Junk::Future);
    }
    let request = record.request.ok_or(Junk::Other)?;
    let auth = record.auth.ok_or(Junk::Other)?;
    let response = record.response;
    // A wrapped answer: whatever the request, the token stands for what `creation_path`
    // returned (a read, or a rewrap of one).
    if let Some(wrap) = response.as_ref().and_then(|r| r.wrap_info.as_ref()) {
        let credential = AnyStr::get(&wrap.creation_path)
            .and_then(|p| scope.credential(p))
            .ok_or(Junk::Other)?;
        if response.as_ref().is_some_and(|r| r.data.is_some()) {
            return Err(Junk::Other);
        }
        return Ok(Event::Wrapped {
            credential,
            who: identity_of(&auth),
            at,
            token: AnyStr::get(&wrap.token).map(str::to_string),
        });
    }
    let version = response
        .as_ref()
        .and_then(|r| r.data.as_ref())
        .and_then(|d| d.metadata.as_ref())
        .and_then(|m| m.version);
    if request.path == UNWRAP_PATH {
        if request.operation != "update" {
            return Err(Junk::Other);
        }
        // Unwrapped with another identity (the token in the body), or with the wrapping
        // token itself (then the log's identity is the wrapper's, not the holder's).
        if let Some(token) = request.data.as_ref().and_then(|d| AnyStr::get(&d.token)) {
            return Ok(Event::Unwrap {
                token: token.to_string(),
                who: Some(identity_of(&auth)),
                at,
                version,
            });
        }
        let token = AnyStr::get(&request.client_token).ok_or(Junk::Other)?;
        return Ok(Event::Unwrap {
            token: token.to_string(),
            who: None,
            at,
            version,
        });
    }
    if !ours {
        return Err(Junk::Other);
    }
    if scope.is_manifest(&request.path) {
        return match request.operation.as_ref() {
            "create" | "update" | "patch" => Ok(Event::ManifestWrite {
                who: identity_of(&auth),
                at,
            }),
            _ => Err(Junk::Other),
        };
    }
    if request.operation != "read" {
        return Err(Junk::Other);
    }
    let credential = scope.credential(&request.path).ok_or(Junk::Other)?;
    // A read of a missing key is answered without data: nothing was seen.
    let version = version.ok_or(Junk::Other)?;
    Ok(Event::Read {
        credential,
        who: identity_of(&auth),
        at,
        version,
    })
}

#[cfg(test)]
mod tests;
