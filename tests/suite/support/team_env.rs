//! The environments of a team's processes against a real OpenBao: the harvest host's and a
//! viewer's (shared by the team, view-trust and audit-trust tests).

use std::collections::BTreeMap;

use simsid_simulator::Simulator;

use super::common::{self, TempStore};
use super::vault_support::{Bao, ROOT_TOKEN};

/// A harvest host's environment: vault mode under `prefix`, the root token.
pub fn host_env(
    sim: &Simulator,
    ts: &TempStore,
    bao: &Bao,
    prefix: &str,
) -> BTreeMap<String, String> {
    host_env_as(sim, ts, bao, prefix, ROOT_TOKEN)
}

/// A harvest host's environment: vault mode under `prefix`, with the vault token `token`.
pub fn host_env_as(
    sim: &Simulator,
    ts: &TempStore,
    bao: &Bao,
    prefix: &str,
    token: &str,
) -> BTreeMap<String, String> {
    let mut e = common::env_for(sim, ts);
    e.insert("SIMSID_SECRETS".into(), "vault".into());
    e.insert("VAULT_ADDR".into(), bao.addr.clone());
    e.insert("VAULT_TOKEN".into(), token.into());
    e.insert("SIMSID_VAULT_PREFIX".into(), prefix.into());
    e
}

/// A viewer's environment (docs/reference/vault.md "Viewing"): the vault with `token`, the
/// application id and the STS address; no integrator client id, organisation id or secret.
// The store key goes into the child's environment: its bytes are needed there.
#[allow(clippy::disallowed_methods)]
pub fn viewer_env(
    sim: &Simulator,
    ts: &TempStore,
    bao: &Bao,
    prefix: &str,
    token: &str,
) -> BTreeMap<String, String> {
    let sims = sim.env();
    let mut e = BTreeMap::new();
    e.insert("SIMSID_SOURCE".into(), "vault".into());
    e.insert("SIMSID_APPLICATION_ID".into(), sims.application_id.clone());
    e.insert("SIMSID_STS_URL".into(), sims.sts_url.clone());
    e.insert("SIMSID_STORE".into(), ts.path().display().to_string());
    e.insert(
        "SIMSID_STORE_KEY".into(),
        secrecy::ExposeSecret::expose_secret(&ts.key_b64).to_string(),
    );
    e.insert("SIMSID_LOG".into(), ts.log().display().to_string());
    e.insert("VAULT_ADDR".into(), bao.addr.clone());
    e.insert("VAULT_TOKEN".into(), token.into());
    e.insert("SIMSID_VAULT_PREFIX".into(), prefix.into());
    e
}
