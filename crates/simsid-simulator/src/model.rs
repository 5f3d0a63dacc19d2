//! The simulator's public vocabulary: sites and clients as it serves them, faults it can
//! inject, its counters, and what a demo mutation changed.

use std::time::Duration;

use secrecy::SecretString;
use serde::Serialize;

use crate::ids::{AuthorisationChange, CredentialRef, OrgId};

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

/// A failure the simulator can inject into Clients calls. The control API spells it
/// `{"kind": "rate_limited", "retry_after_secs": 3}`, `{"kind": "slow", "millis": 250}`, …
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// `500` with a JSON error body.
    Status500,
    /// `502` with an HTML body, as a gateway sends it.
    Html502,
    /// `429` with a `Retry-After` header in seconds (1 when the control API leaves it out).
    RateLimited {
        #[serde(default = "one_second")]
        retry_after_secs: u64,
    },
    /// The normal answer, after this delay (`millis` in the control API).
    #[serde(deserialize_with = "millis")]
    Slow(Duration),
    /// No answer: the request waits an hour, or until the simulator shuts down (then `503`).
    Hang,
    /// `403`.
    Forbidden,
    /// `404`.
    NotFound,
    /// `503` (maintenance).
    Unavailable503,
    /// `403` with `WWW-Authenticate: Bearer error="insufficient_scope"`: about the token,
    /// not the site.
    ForbiddenInsufficientScope,
    /// `200` with a body that never ends (a JSON array that keeps growing, up to a few GiB
    /// or until the client hangs up).
    EndlessBody,
}

fn one_second() -> u64 {
    1
}

/// `{"millis": N}` as a delay.
fn millis<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(serde::Deserialize)]
    struct Millis {
        millis: u64,
    }
    <Millis as serde::Deserialize>::deserialize(d).map(|m| Duration::from_millis(m.millis))
}

/// How the simulator's STS behaves; the default is IdentityServer's as far as we know it
/// (the secret accepted in the form body or as HTTP Basic, every scope asked for granted).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StsMode {
    /// Grant the integrator only these scopes (space separated), whatever it asks for, as
    /// RFC 6749 §3.3 allows. A token lacking any of the partner scopes gets `403` with
    /// `WWW-Authenticate: Bearer error="insufficient_scope"` from every Clients call.
    pub granted_scope: Option<String>,
    /// Refuse a secret sent in the form body: `401`, `WWW-Authenticate: Basic`,
    /// `invalid_client` "cannot authenticate with methods ['client_secret_basic']", as an
    /// OAuth server that insists on HTTP Basic does.
    pub require_basic: bool,
    /// Answer `invalid_scope` when a school's credential asks for a partner scope, as
    /// IdentityServer does.
    pub school_partner_scope_invalid: bool,
    /// The `error_description` of every OAuth error answer (to test hostile text).
    pub error_description: Option<String>,
}

/// The texts of a site as the site list serves them (to serve hostile ones).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
pub struct SiteText {
    pub name: Option<String>,
    pub dfe_code: Option<String>,
    pub deni_number: Option<String>,
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
