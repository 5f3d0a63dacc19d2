//! The SIMS ID simulator on loopback and the product's client for it: settings, ids in
//! both vocabularies, the sites with credentials.

use std::time::Duration;

use simsid::domain::{AppId, OrgId};
use simsid::sims::{SimsClient, SimsSettings};
use simsid_simulator::{SimConfig, SimSite, Simulator};

/// A simulator with `config` on a free loopback port.
pub async fn start(config: SimConfig) -> Simulator {
    Simulator::start(config, "127.0.0.1:0".parse().expect("a loopback address"))
        .await
        .expect("simulator starts")
}

/// A simulator on loopback with `sites` schools.
pub async fn simulator(sites: usize, seed: u64) -> Simulator {
    start(SimConfig {
        sites,
        seed,
        ..SimConfig::default()
    })
    .await
}

/// A simulator whose every call takes about `latency_ms`.
pub async fn slow_simulator(sites: usize, seed: u64, latency_ms: u64) -> Simulator {
    start(SimConfig {
        sites,
        seed,
        latency: Duration::from_millis(latency_ms),
        ..SimConfig::default()
    })
    .await
}

/// The settings of a real client for the simulator, each request bounded by `timeout`.
pub fn settings(sim: &Simulator, timeout: Duration) -> SimsSettings {
    let env = sim.env();
    SimsSettings {
        sts_url: env.sts_url.clone(),
        api_base: env.api_base.clone(),
        application_id: AppId::parse(&env.application_id).expect("the simulator's app id"),
        client_id: env.client_id.clone(),
        client_secret: env.client_secret.clone(),
        organisation_id: OrgId::parse(&env.organisation_id).expect("the simulator's org id"),
        scopes: "rapapi partner partner-read partner-write".into(),
        acr_values: "orgselect:{organisation_id}".into(),
        apim_key: None,
        timeout,
        connect_timeout: timeout,
        client_auth: Default::default(),
        verify_scopes: String::new(),
    }
}

/// A real client for the simulator, each request bounded by `timeout`.
pub fn client(sim: &Simulator, timeout: Duration) -> SimsClient {
    SimsClient::new(settings(sim, timeout)).expect("a client")
}

/// `n` credentials (site, client id) of different authorised sites.
pub fn credentials(sim: &Simulator, n: usize) -> Vec<(OrgId, String)> {
    let found: Vec<(OrgId, String)> = sim
        .control()
        .sites()
        .into_iter()
        .filter(|s| s.authorised && !s.clients.is_empty())
        .map(|s| (s.org_id.to_domain(), s.clients[0].client_id.clone()))
        .take(n)
        .collect();
    assert_eq!(found.len(), n, "the dataset has {n} sites with credentials");
    found
}

/// The authorised site with credentials after the first `skip` ones.
pub fn authorised_site(sim: &Simulator, skip: usize) -> SimSite {
    sim.control()
        .sites()
        .into_iter()
        .filter(|s| s.authorised && !s.clients.is_empty())
        .nth(skip)
        .expect("an authorised site with clients")
}

/// The product's id of a school the simulator serves. The simulator keeps its own
/// identifiers (it stands in for SIMS ID); both spell a school as the same GUID text.
pub trait ToDomain {
    /// The same school as a `simsid::domain::OrgId`.
    fn to_domain(&self) -> OrgId;
}

impl ToDomain for simsid_simulator::OrgId {
    fn to_domain(&self) -> OrgId {
        OrgId::parse(self.as_str()).expect("the simulator's ids are GUIDs")
    }
}

/// The simulator's id of a school the product names.
pub trait ToSim {
    /// The same school as a `simsid_simulator::OrgId`.
    fn to_sim(&self) -> simsid_simulator::OrgId;
}

impl ToSim for OrgId {
    fn to_sim(&self) -> simsid_simulator::OrgId {
        simsid_simulator::OrgId::parse(self.as_str()).expect("the product's ids are GUIDs")
    }
}
