//! The simulator's public vocabulary: sites and clients as it serves them, faults it can
//! inject, its counters, and what a demo mutation changed.

use std::time::Duration;

use secrecy::SecretString;
use serde::Serialize;

use crate::domain::{AuthorisationChange, CredentialRef, OrgId};

/// A school in the simulated dataset.
#[derive(Clone, Debug)]
pub struct SimSite {
    pub org_id: OrgId,
    pub name: String,
    pub dfe_code: Option<String>,
    pub deni_number: Option<String>,
    /// True when the site list says `"Authorised": 1`. Clients of a site that is not
    /// authorised are not served (the Clients call answers `[]`, `403` or `404`).
    pub authorised: bool,
    pub clients: Vec<SimClient>,
}

impl SimSite {
    /// The clients a Clients call returns right now: all of them when the site is
    /// authorised, none otherwise.
    pub fn visible_clients(&self) -> &[SimClient] {
        if self.authorised {
            &self.clients
        } else {
            &[]
        }
    }
}

/// One API client of a school. `Debug` never shows the secret (secrecy redacts it).
#[derive(Clone, Debug)]
pub struct SimClient {
    pub client_id: String,
    pub secret: SecretString,
    pub description: String,
    /// The application's API-management key, present on some clients (it is the same for
    /// every school; clients must drop it).
    pub ocpaimkey: Option<String>,
}

/// A failure the simulator can inject into Clients calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `500` with a JSON error body.
    Status500,
    /// `502` with an HTML body, as a gateway sends it.
    Html502,
    /// `429` with a `Retry-After` header in seconds.
    RateLimited { retry_after_secs: u64 },
    /// The normal answer, after this delay.
    Slow(Duration),
    /// No answer: the request waits an hour, or until the simulator shuts down (then `503`).
    Hang,
    /// `403`.
    Forbidden,
    /// `404`.
    NotFound,
    /// `503` (maintenance).
    Unavailable503,
}

/// Request counters. `max_in_flight` is the most API requests ever served at once since
/// the last reset; `rate_limited` counts the `429` answers (the gateway's rate limit and
/// injected `rate_limited` faults).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SimStats {
    pub token_requests: u64,
    pub api_requests: u64,
    pub rate_limited: u64,
    pub max_in_flight: u64,
    pub in_flight: u64,
}

/// What one [`SimControl::demo_mutate`](super::SimControl::demo_mutate) changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DemoChanges {
    /// The site removed from the site list, if there was one to remove.
    pub removed: Option<OrgId>,
    /// The credential whose secret was rotated, if an authorised site had one.
    pub rotated: Option<CredentialRef>,
    /// The site whose authorisation was flipped (`0`/`1`).
    pub authorisation_changed: Option<AuthorisationChange>,
    /// The newly added site.
    pub added: OrgId,
    /// One human sentence per change, naming the schools (no secrets).
    pub notes: Vec<String>,
}
