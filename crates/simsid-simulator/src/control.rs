//! [`SimControl`]: the in-process handle that reads and changes a running simulator's
//! dataset, faults and counters. The `/_sim/` HTTP routes call the same methods.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::model::{DemoChanges, Fault, SimClient, SimSite, SimStats, SiteText, StsMode};
use super::ratelimit::TokenBucket;
use super::state::State;
use super::stats::Counters;
use crate::ids::OrgId;

struct Shared {
    state: Mutex<State>,
    counters: Arc<Counters>,
    /// The gateway's rate limit on API requests, if one is set.
    limit: Mutex<Option<TokenBucket>>,
}

/// A cheap, cloneable handle on a simulator's state. Changes apply to the next request.
#[derive(Clone)]
pub struct SimControl {
    shared: Arc<Shared>,
}

impl SimControl {
    pub(crate) fn new(state: State) -> SimControl {
        SimControl {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                counters: Arc::new(Counters::default()),
                limit: Mutex::new(None),
            }),
        }
    }

    /// The state, locked. A panic while holding the lock cannot leave it half-changed in
    /// a way that matters to a simulator, so a poisoned lock is used as is.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn counters(&self) -> &Arc<Counters> {
        &self.shared.counters
    }

    /// The current dataset, in site-list order.
    pub fn sites(&self) -> Vec<SimSite> {
        self.lock().sites()
    }

    /// Every school secret ever generated (rotated-away ones included), the integrator's
    /// secret, every access token issued and the APIM key: what must never leak.
    pub fn all_secrets(&self) -> Vec<String> {
        self.lock().all_secrets()
    }

    /// Removes a site from the site list (its clients stop working). False if unknown.
    pub fn remove_site(&self, org: &OrgId) -> bool {
        self.lock().remove_site(org)
    }

    /// Adds a generated, authorised site with one or two clients.
    pub fn add_site(&self) -> OrgId {
        self.lock().add_site()
    }

    /// Gives a client a new secret; the old one is refused from now on.
    pub fn rotate_secret(&self, org: &OrgId, client_id: &str) -> bool {
        self.lock().rotate_secret(org, client_id)
    }

    /// Suspends a client's current secret (the vendor's "suspend the credentials"): the STS
    /// refuses it with `invalid_client` while the Clients call still lists it, until the
    /// secret is rotated. False if the site or client is unknown.
    pub fn suspend_client(&self, org: &OrgId, client_id: &str) -> bool {
        self.lock().suspend_client(org, client_id)
    }

    /// Removes a client from a site; its secret is refused from now on.
    pub fn withdraw_client(&self, org: &OrgId, client_id: &str) -> bool {
        self.lock().withdraw_client(org, client_id)
    }

    /// Adds a client to a site and returns its id (`None` if the site is unknown).
    pub fn add_client(&self, org: &OrgId) -> Option<String> {
        self.lock().add_client(org)
    }

    /// Sets the site's `Authorised` field (`None` = null). Only `Some(true)` serves clients.
    pub fn set_authorised(&self, org: &OrgId, authorised: Option<bool>) -> bool {
        self.lock().set_authorised(org, authorised)
    }

    /// Injects `fault` into the site's Clients calls: `times` = `None` until cleared,
    /// `Some(n)` for the next `n` calls. Ignored for an unknown site.
    pub fn set_site_fault(&self, org: &OrgId, fault: Fault, times: Option<u32>) {
        self.lock().set_site_fault(org, Some(fault), times);
    }

    /// Clears the site's fault.
    pub fn clear_site_fault(&self, org: &OrgId) {
        self.lock().set_site_fault(org, None, None);
    }

    /// Injects `fault` into every Clients call (it takes precedence over a site fault);
    /// `None` clears it.
    pub fn set_global_fault(&self, fault: Option<Fault>, times: Option<u32>) {
        self.lock().set_global_fault(fault, times);
    }

    /// The site list answers `503` for the next `times` calls (`None` = until cleared).
    pub fn fail_site_list(&self, times: Option<u32>) {
        self.lock().fail_site_list(times);
    }

    /// Clears the site-list fault.
    pub fn clear_site_list_fault(&self) {
        self.lock().clear_site_list_fault();
    }

    /// Every access token stops working (`401`) once it has served `calls` API calls,
    /// counted since it was issued; `None` lifts the limit.
    pub fn expire_tokens_after(&self, calls: Option<u64>) {
        self.lock().expire_tokens_after(calls);
    }

    /// Answers the next `times` token requests (any client) `429` with `Retry-After: 1`, as
    /// a gateway in front of the STS does when it limits; `0` lifts it.
    pub fn rate_limit_tokens(&self, times: u32) {
        self.lock().rate_limit_tokens(times);
    }

    /// Sets the gateway's rate limit: `Some(r)` admits `r` API requests per second (token
    /// bucket, burst `r / 10`, starting full) and answers the rest `429` with
    /// `Retry-After: 1`; `None` lifts it.
    pub fn set_rate_limit(&self, per_second: Option<u32>) {
        let bucket = per_second.map(|r| TokenBucket::new(r, tokio::time::Instant::now()));
        *self.limit() = bucket;
    }

    /// The rate limit in force (requests per second), if any.
    pub fn rate_limit(&self) -> Option<u32> {
        self.limit().as_ref().map(TokenBucket::rate)
    }

    /// Whether the gateway admits an API request arriving now (always, without a limit).
    pub(crate) fn admit(&self) -> bool {
        match self.limit().as_mut() {
            Some(bucket) => bucket.admit(tokio::time::Instant::now()),
            None => true,
        }
    }

    fn limit(&self) -> MutexGuard<'_, Option<TokenBucket>> {
        self.shared
            .limit
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces a site's name, DfE code and DENI number as served (fields left `None` keep
    /// their value). False if the site is unknown.
    pub fn set_site_text(&self, org: &OrgId, text: SiteText) -> bool {
        self.lock().set_site_text(org, text)
    }

    /// Appends `client` to the site's clients exactly as given: any client id (hostile ones,
    /// or one the site already has, to serve duplicates), any secret and description.
    pub fn push_client(&self, org: &OrgId, client: SimClient) -> bool {
        self.lock().push_client(org, client)
    }

    /// Appends a copy of the site's client `client_id`: with `same_secret` an exact
    /// duplicate, otherwise the same id with a new secret. False if there is no such client.
    pub fn duplicate_client(&self, org: &OrgId, client_id: &str, same_secret: bool) -> bool {
        self.lock().duplicate_client(org, client_id, same_secret)
    }

    /// Sets how the STS behaves (narrowed scopes, HTTP Basic only, IdentityServer's
    /// `invalid_scope`, hostile error descriptions).
    pub fn set_sts_mode(&self, mode: StsMode) {
        self.lock().set_sts_mode(mode);
    }

    /// The request counters.
    pub fn stats(&self) -> SimStats {
        self.shared.counters.snapshot()
    }

    /// Zeroes the request counters.
    pub fn reset_stats(&self) {
        self.shared.counters.reset();
    }

    /// Between demo harvests: removes one site, rotates one secret, flips one
    /// authorisation and adds one site, and says what it did.
    pub fn demo_mutate(&self) -> DemoChanges {
        self.lock().demo_mutate()
    }
}
