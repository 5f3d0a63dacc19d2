//! The simulator's mutable state and every decision it makes: which token a form earns,
//! whether a bearer token is accepted, what a site list or Clients call answers (faults
//! included), and the changes the control surface applies. No I/O and no clock: callers
//! pass the time in, so the logic is tested without a server.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::RngExt;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::dataset::{GeneratedSite, Generator, Integrator, Refusal};
use super::model::{DemoChanges, Fault, SimClient, SimSite, SiteText, StsMode};
use super::wire::{IssuedToken, TokenForm, WireClient, WireSite};
use crate::ids::{AuthorisationChange, CredentialRef, OrgId};

mod api;
mod demo;
mod sts;

/// The scope granted when a token request names none.
const DEFAULT_SCOPE: &str = "rapapi partner partner-read partner-write";

/// A fault waiting to be applied, `remaining` times (`None` = until cleared).
#[derive(Clone, Debug)]
pub(crate) struct FaultSlot {
    fault: Fault,
    remaining: Option<u32>,
}

impl FaultSlot {
    /// A slot for `fault`, or nothing when `times` is `Some(0)`.
    fn new(fault: Fault, times: Option<u32>) -> Option<FaultSlot> {
        (times != Some(0)).then_some(FaultSlot {
            fault,
            remaining: times,
        })
    }

    /// The fault to apply to this request, counting it down and clearing it when used up.
    fn take(slot: &mut Option<FaultSlot>) -> Option<Fault> {
        let current = slot.as_mut()?;
        let fault = current.fault;
        if let Some(left) = current.remaining.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                *slot = None;
            }
        }
        Some(fault)
    }
}

/// One site with its wire details and its injected fault.
#[derive(Clone, Debug)]
struct SiteEntry {
    site: SimSite,
    id: Option<i64>,
    authorised: Option<bool>,
    refusal: Refusal,
    fault: Option<FaultSlot>,
}

impl SiteEntry {
    fn set_authorised(&mut self, authorised: Option<bool>) {
        self.authorised = authorised;
        self.site.authorised = authorised == Some(true);
    }
}

/// Who a token was issued to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenKind {
    /// The integrator: may call the partner API.
    Integrator,
    /// A school's own client (a `verify`): valid, but not for the partner API.
    School,
}

#[derive(Clone, Debug)]
struct TokenInfo {
    kind: TokenKind,
    expires_at: Instant,
    calls: u64,
    /// Granted fewer than the partner scopes: Clients calls are refused with a Bearer
    /// `insufficient_scope` challenge.
    narrowed: bool,
}

/// What a bearer token allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Granted,
    /// The integrator's, but granted fewer than the partner scopes.
    GrantedNarrowed,
    /// Missing, unknown, expired or used up: `401`.
    Unauthorised,
    /// Valid but not the integrator's: `403`.
    Forbidden,
}

/// An error answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    BadRequest,
    Forbidden,
    NotFound,
    Status500,
    Html502,
    RateLimited {
        retry_after_secs: u64,
    },
    Unavailable,
    /// `403` with `WWW-Authenticate: Bearer error="insufficient_scope"`.
    InsufficientScope,
}

/// The body of an answer.
#[derive(Clone, Debug)]
pub(crate) enum Reply {
    Sites(Vec<WireSite>),
    Clients(Vec<WireClient>),
    /// `200` with a JSON array that never ends.
    Endless,
    Fail(Failure),
}

/// A wait before the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delay {
    Sleep(Duration),
    /// Wait an hour or until shutdown.
    Hang,
}

/// What an API request gets: an optional wait, then a reply.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub delay: Option<Delay>,
    pub reply: Reply,
}

impl Plan {
    fn now(reply: Reply) -> Plan {
        Plan { delay: None, reply }
    }

    /// The plan for a request hit by `fault`; `normal` is the answer it would have had.
    fn faulted(fault: Fault, normal: impl FnOnce() -> Reply) -> Plan {
        let fail = |f| Plan::now(Reply::Fail(f));
        match fault {
            Fault::Slow(wait) => Plan {
                delay: Some(Delay::Sleep(wait)),
                reply: normal(),
            },
            Fault::Hang => Plan {
                delay: Some(Delay::Hang),
                reply: Reply::Fail(Failure::Unavailable),
            },
            Fault::Status500 => fail(Failure::Status500),
            Fault::Html502 => fail(Failure::Html502),
            Fault::RateLimited { retry_after_secs } => {
                fail(Failure::RateLimited { retry_after_secs })
            }
            Fault::Forbidden => fail(Failure::Forbidden),
            Fault::NotFound => fail(Failure::NotFound),
            Fault::Unavailable503 => fail(Failure::Unavailable),
            Fault::ForbiddenInsufficientScope => fail(Failure::InsufficientScope),
            Fault::EndlessBody => Plan::now(Reply::Endless),
        }
    }
}

/// Why a token request was refused: the OAuth `error` code.
pub(crate) type OAuthCode = &'static str;

/// Everything the simulator knows and can change.
pub(crate) struct State {
    generator: Generator,
    integrator: Integrator,
    sites: BTreeMap<OrgId, SiteEntry>,
    site_list_fault: Option<FaultSlot>,
    global_fault: Option<FaultSlot>,
    tokens: HashMap<[u8; 32], TokenInfo>,
    token_call_limit: Option<u64>,
    /// Token requests still to be answered `429` (the gateway limiting the STS).
    token_rate_limited: u32,
    token_ttl: Duration,
    /// Every secret generated and every token issued, for leak tests.
    issued: Vec<SecretString>,
    token_rng: StdRng,
    /// Digests of school secrets the vendor suspended: the STS refuses them with
    /// `invalid_client` while the Clients call still lists them, until they are rotated.
    suspended: HashSet<[u8; 32]>,
    sts: StsMode,
}

/// SHA-256 of a token: tokens are looked up by digest, never kept as map keys.
pub(crate) fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// True when `text` names the same GUID as `id` (any case, braces tolerated).
fn same_guid(text: &str, id: &OrgId) -> bool {
    OrgId::parse(text).is_some_and(|g| &g == id)
}

impl State {
    /// The dataset of `sites` sites for `seed`; tokens live `token_ttl`.
    pub fn new(sites: usize, seed: u64, token_ttl: Duration) -> State {
        let mut generator = Generator::new(seed);
        let integrator = generator.integrator();
        let generated = generator.initial_sites(sites);
        let mut state = State {
            issued: vec![integrator.secret.clone()],
            generator,
            integrator,
            sites: BTreeMap::new(),
            site_list_fault: None,
            global_fault: None,
            tokens: HashMap::new(),
            token_call_limit: None,
            token_rate_limited: 0,
            token_ttl,
            token_rng: rand::make_rng::<StdRng>(),
            suspended: HashSet::new(),
            sts: StsMode::default(),
        };
        for site in generated {
            state.insert(site);
        }
        state
    }

    fn insert(&mut self, generated: GeneratedSite) -> OrgId {
        let GeneratedSite {
            site,
            id,
            authorised,
            refusal,
        } = generated;
        self.issued
            .extend(site.clients.iter().map(|c| c.secret.clone()));
        let org = site.org_id.clone();
        self.sites.insert(
            org.clone(),
            SiteEntry {
                site,
                id,
                authorised,
                refusal,
                fault: None,
            },
        );
        org
    }

    /// The integrator's identity and secret.
    pub fn integrator(&self) -> &Integrator {
        &self.integrator
    }

    /// The current dataset, in site-list order.
    pub fn sites(&self) -> Vec<SimSite> {
        self.sites.values().map(|e| e.site.clone()).collect()
    }

    /// Every secret and token ever generated or issued, plus the APIM key.
    pub fn all_secrets(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .issued
            .iter()
            .map(|s| s.expose_secret().to_string())
            .collect();
        all.push(self.generator.apim_key().to_string());
        all
    }

    // ---- control ----

    pub fn remove_site(&mut self, org: &OrgId) -> bool {
        self.sites.remove(org).is_some()
    }

    pub fn add_site(&mut self) -> OrgId {
        let site = self.generator.added_site();
        self.insert(site)
    }

    pub fn rotate_secret(&mut self, org: &OrgId, client_id: &str) -> bool {
        let secret = self.generator.secret();
        let Some(client) = self
            .sites
            .get_mut(org)
            .and_then(|e| e.site.clients.iter_mut().find(|c| c.client_id == client_id))
        else {
            return false;
        };
        client.secret = secret.clone();
        self.issued.push(secret);
        true
    }

    /// Suspends a client's current secret, as the vendor does on request: token requests
    /// with it are refused (`invalid_client`); the Clients call still lists it; rotating
    /// the secret (a re-issue) lifts the suspension.
    pub fn suspend_client(&mut self, org: &OrgId, client_id: &str) -> bool {
        let Some(client) = self
            .sites
            .get(org)
            .and_then(|e| e.site.clients.iter().find(|c| c.client_id == client_id))
        else {
            return false;
        };
        let d = digest(client.secret.expose_secret());
        self.suspended.insert(d);
        true
    }

    pub fn withdraw_client(&mut self, org: &OrgId, client_id: &str) -> bool {
        let Some(entry) = self.sites.get_mut(org) else {
            return false;
        };
        let before = entry.site.clients.len();
        entry.site.clients.retain(|c| c.client_id != client_id);
        entry.site.clients.len() != before
    }

    pub fn add_client(&mut self, org: &OrgId) -> Option<String> {
        if !self.sites.contains_key(org) {
            return None;
        }
        let client = self.generator.client();
        let id = client.client_id.clone();
        self.issued.push(client.secret.clone());
        self.sites.get_mut(org)?.site.clients.push(client);
        Some(id)
    }

    pub fn set_authorised(&mut self, org: &OrgId, authorised: Option<bool>) -> bool {
        match self.sites.get_mut(org) {
            Some(entry) => {
                entry.set_authorised(authorised);
                true
            }
            None => false,
        }
    }

    pub fn set_site_text(&mut self, org: &OrgId, text: SiteText) -> bool {
        let Some(entry) = self.sites.get_mut(org) else {
            return false;
        };
        if let Some(name) = text.name {
            entry.site.name = name;
        }
        if let Some(dfe) = text.dfe_code {
            entry.site.dfe_code = Some(dfe);
        }
        if let Some(deni) = text.deni_number {
            entry.site.deni_number = Some(deni);
        }
        true
    }

    pub fn push_client(&mut self, org: &OrgId, client: SimClient) -> bool {
        let Some(entry) = self.sites.get_mut(org) else {
            return false;
        };
        self.issued.push(client.secret.clone());
        entry.site.clients.push(client);
        true
    }

    pub fn duplicate_client(&mut self, org: &OrgId, client_id: &str, same_secret: bool) -> bool {
        let fresh = self.generator.secret();
        let Some(entry) = self.sites.get_mut(org) else {
            return false;
        };
        let Some(mut copy) = entry
            .site
            .clients
            .iter()
            .find(|c| c.client_id == client_id)
            .cloned()
        else {
            return false;
        };
        if !same_secret {
            copy.secret = fresh.clone();
            self.issued.push(fresh);
        }
        entry.site.clients.push(copy);
        true
    }

    pub fn set_sts_mode(&mut self, mode: StsMode) {
        self.sts = mode;
    }

    /// The STS mode in force.
    pub fn sts_mode(&self) -> &StsMode {
        &self.sts
    }

    pub fn site_exists(&self, org: &OrgId) -> bool {
        self.sites.contains_key(org)
    }

    pub fn set_site_fault(&mut self, org: &OrgId, fault: Option<Fault>, times: Option<u32>) {
        if let Some(entry) = self.sites.get_mut(org) {
            entry.fault = fault.and_then(|f| FaultSlot::new(f, times));
        }
    }

    pub fn set_global_fault(&mut self, fault: Option<Fault>, times: Option<u32>) {
        self.global_fault = fault.and_then(|f| FaultSlot::new(f, times));
    }

    pub fn fail_site_list(&mut self, times: Option<u32>) {
        self.site_list_fault = FaultSlot::new(Fault::Unavailable503, times);
    }

    pub fn clear_site_list_fault(&mut self) {
        self.site_list_fault = None;
    }

    pub fn expire_tokens_after(&mut self, calls: Option<u64>) {
        self.token_call_limit = calls;
    }

    /// Answers the next `times` token requests `429` (`0` lifts it).
    pub fn rate_limit_tokens(&mut self, times: u32) {
        self.token_rate_limited = times;
    }

    /// Whether this token request is one of those answered `429` (counts it down).
    pub fn take_token_rate_limit(&mut self) -> bool {
        if self.token_rate_limited == 0 {
            return false;
        }
        self.token_rate_limited -= 1;
        true
    }
}

fn wire_client(c: &SimClient) -> WireClient {
    WireClient {
        client_id: c.client_id.clone(),
        secret: c.secret.clone(),
        ocpaimkey: c.ocpaimkey.clone(),
        description: c.description.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State::new(40, 1, Duration::from_secs(60))
    }

    fn form(client_id: &str, secret: &str) -> TokenForm {
        TokenForm {
            grant_type: Some("client_credentials".into()),
            client_id: Some(client_id.into()),
            client_secret: Some(SecretString::from(secret.to_string())),
            scope: Some("rapapi partner".into()),
        }
    }

    fn integrator_token(s: &mut State, now: Instant) -> String {
        let i = s.integrator().clone();
        let answer = s
            .token(form(&i.client_id, i.secret.expose_secret()), now)
            .unwrap();
        assert_eq!(answer.scope, "rapapi partner");
        answer.access_token.expose_secret().to_string()
    }

    fn app(s: &State) -> String {
        s.integrator().application_id.as_str().to_lowercase()
    }

    fn authorised_with_clients(s: &State) -> SimSite {
        s.sites()
            .into_iter()
            .find(|x| x.authorised && !x.clients.is_empty())
            .unwrap()
    }

    #[test]
    fn tokens_expire_by_time_and_by_call_count() {
        let mut s = state();
        let t0 = Instant::now();
        let token = integrator_token(&mut s, t0);
        assert_eq!(s.authenticate(Some(&token), t0), Access::Granted);
        assert_eq!(s.authenticate(Some("nope"), t0), Access::Unauthorised);
        assert_eq!(s.authenticate(None, t0), Access::Unauthorised);
        assert_eq!(
            s.authenticate(Some(&token), t0 + Duration::from_secs(60)),
            Access::Unauthorised
        );
        s.expire_tokens_after(Some(2));
        let fresh = integrator_token(&mut s, t0);
        assert_eq!(s.authenticate(Some(&fresh), t0), Access::Granted);
        assert_eq!(s.authenticate(Some(&fresh), t0), Access::Granted);
        assert_eq!(s.authenticate(Some(&fresh), t0), Access::Unauthorised);
        s.expire_tokens_after(None);
        assert_eq!(s.authenticate(Some(&fresh), t0), Access::Granted);
    }

    #[test]
    fn school_credentials_work_until_rotated_or_withdrawn() {
        let mut s = state();
        let now = Instant::now();
        let site = authorised_with_clients(&s);
        let client = site.clients[0].clone();
        let secret = client.secret.expose_secret().to_string();
        let token = s.token(form(&client.client_id, &secret), now).unwrap();
        assert_eq!(
            s.authenticate(Some(token.access_token.expose_secret()), now),
            Access::Forbidden,
            "a school token is not a partner token"
        );
        assert!(s.rotate_secret(&site.org_id, &client.client_id));
        assert_eq!(
            s.token(form(&client.client_id, &secret), now).err(),
            Some("invalid_client")
        );
        let new_secret = first_secret(&s, &site.org_id);
        assert!(s.token(form(&client.client_id, &new_secret), now).is_ok());
        assert!(s.withdraw_client(&site.org_id, &client.client_id));
        assert!(!s.withdraw_client(&site.org_id, &client.client_id));
        assert_eq!(
            s.token(form(&client.client_id, &new_secret), now).err(),
            Some("invalid_client")
        );
        assert!(s.all_secrets().contains(&secret));
        assert!(s.all_secrets().contains(&new_secret));
    }

    /// The secret of a site's first client, as the simulator lists it now.
    fn first_secret(s: &State, org: &OrgId) -> String {
        s.sites()
            .into_iter()
            .find(|x| &x.org_id == org)
            .unwrap()
            .clients[0]
            .secret
            .expose_secret()
            .to_string()
    }

    #[test]
    fn a_suspended_secret_is_refused_until_it_is_rotated() {
        let mut s = state();
        let now = Instant::now();
        let site = authorised_with_clients(&s);
        let client = site.clients[0].clone();
        let secret = client.secret.expose_secret().to_string();
        assert!(s.suspend_client(&site.org_id, &client.client_id));
        assert!(!s.suspend_client(&site.org_id, "sas-unknown"));
        assert_eq!(
            s.token(form(&client.client_id, &secret), now).err(),
            Some("invalid_client")
        );
        let listed = s
            .sites()
            .into_iter()
            .find(|x| x.org_id == site.org_id)
            .unwrap();
        assert!(
            listed
                .clients
                .iter()
                .any(|c| c.client_id == client.client_id),
            "a suspended client is still listed"
        );
        assert!(s.rotate_secret(&site.org_id, &client.client_id));
        let reissued = first_secret(&s, &site.org_id);
        assert!(s.token(form(&client.client_id, &reissued), now).is_ok());
    }

    #[test]
    fn token_requests_need_client_credentials_grant() {
        let mut s = state();
        let i = s.integrator().clone();
        let mut f = form(&i.client_id, i.secret.expose_secret());
        f.grant_type = Some("password".into());
        assert_eq!(
            s.token(f, Instant::now()).err(),
            Some("unsupported_grant_type")
        );
        assert_eq!(
            s.token(form(&i.client_id, "wrong"), Instant::now()).err(),
            Some("invalid_client")
        );
    }

    #[test]
    fn counted_faults_clear_and_global_wins() {
        let mut s = state();
        let app = app(&s);
        let site = authorised_with_clients(&s);
        let org = site.org_id.as_str().to_lowercase();
        s.set_site_fault(&site.org_id, Some(Fault::Status500), Some(2));
        s.set_global_fault(Some(Fault::Html502), Some(1));
        let reply = |s: &mut State| s.clients(&app, &format!("{{{org}}}")).reply;
        assert!(matches!(reply(&mut s), Reply::Fail(Failure::Html502)));
        assert!(matches!(reply(&mut s), Reply::Fail(Failure::Status500)));
        assert!(matches!(reply(&mut s), Reply::Fail(Failure::Status500)));
        match reply(&mut s) {
            Reply::Clients(c) => assert_eq!(c.len(), site.clients.len()),
            other => panic!("{other:?}"),
        }
        s.set_site_fault(
            &site.org_id,
            Some(Fault::Slow(Duration::from_millis(5))),
            None,
        );
        for _ in 0..3 {
            let plan = s.clients(&app, &org);
            assert_eq!(plan.delay, Some(Delay::Sleep(Duration::from_millis(5))));
            assert!(matches!(plan.reply, Reply::Clients(_)));
        }
        s.set_site_fault(&site.org_id, None, None);
        assert_eq!(s.clients(&app, &org).delay, None);
    }

    #[test]
    fn unauthorised_sites_refuse_in_a_mix_and_unknown_paths_are_404() {
        let mut s = State::new(120, 4, Duration::from_secs(60));
        let app = app(&s);
        let mut kinds = std::collections::BTreeSet::new();
        for site in s.sites().into_iter().filter(|x| !x.authorised) {
            match s.clients(&app, site.org_id.as_str()).reply {
                Reply::Clients(c) if c.is_empty() => kinds.insert("empty"),
                Reply::Fail(Failure::Forbidden) => kinds.insert("403"),
                Reply::Fail(Failure::NotFound) => kinds.insert("404"),
                other => panic!("{other:?}"),
            };
        }
        assert_eq!(kinds.len(), 3, "{kinds:?}");
        let stranger = "00000000-0000-0000-0000-000000000001";
        assert!(matches!(
            s.clients(&app, stranger).reply,
            Reply::Fail(Failure::NotFound)
        ));
        assert!(matches!(
            s.clients(&app, "12345").reply,
            Reply::Fail(Failure::BadRequest)
        ));
        assert!(matches!(
            s.site_list(stranger).reply,
            Reply::Fail(Failure::NotFound)
        ));
    }

    #[test]
    fn site_list_fault_counts_down() {
        let mut s = state();
        let app = app(&s);
        s.fail_site_list(Some(1));
        assert!(matches!(
            s.site_list(&app).reply,
            Reply::Fail(Failure::Unavailable)
        ));
        match s.site_list(&app).reply {
            Reply::Sites(sites) => assert_eq!(sites.len(), 40),
            other => panic!("{other:?}"),
        }
        s.fail_site_list(None);
        for _ in 0..3 {
            assert!(matches!(s.site_list(&app).reply, Reply::Fail(_)));
        }
        s.clear_site_list_fault();
        assert!(matches!(s.site_list(&app).reply, Reply::Sites(_)));
    }

    #[test]
    fn demo_mutate_changes_four_things_deterministically() {
        let mut a = state();
        let mut b = state();
        let before = a.sites();
        let changes = a.demo_mutate();
        let same = b.demo_mutate();
        assert_eq!(changes, same);
        assert_eq!(changes.notes.len(), 4, "{:?}", changes.notes);
        let after = a.sites();
        let secret_of = |sites: &[SimSite], r: &CredentialRef| {
            sites
                .iter()
                .find(|x| x.org_id == r.organisation_id)
                .and_then(|x| x.clients.iter().find(|c| c.client_id == r.client_id))
                .map(|c| c.secret.expose_secret().to_string())
        };
        let removed = changes.removed.unwrap();
        assert!(before.iter().any(|x| x.org_id == removed));
        assert!(after.iter().all(|x| x.org_id != removed));
        assert!(before.iter().all(|x| x.org_id != changes.added));
        assert!(after.iter().any(|x| x.org_id == changes.added));
        let rotated = changes.rotated.unwrap();
        let old = secret_of(&before, &rotated).unwrap();
        let new = secret_of(&after, &rotated).unwrap();
        assert_ne!(old, new);
        let flipped = changes.authorisation_changed.unwrap();
        let site = after
            .iter()
            .find(|x| x.org_id == flipped.organisation_id)
            .unwrap();
        assert_eq!(Some(u8::from(site.authorised)), flipped.to);
        assert_ne!(flipped.from, flipped.to);
        if site.authorised {
            assert!(!site.clients.is_empty());
        }
    }
}
