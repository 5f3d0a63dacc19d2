//! How a process or the library is pointed at a real OpenBao: the environments of a team's
//! processes (the harvest host's and a viewer's) and the vault settings a bench hands the
//! library.

use std::collections::BTreeMap;

use secrecy::SecretString;
use simsid::vault::{VaultAuth, VaultSettings};
use simsid_simulator::Simulator;

use crate::process::env_for;
use crate::store::TempStore;
use crate::vault::{Bao, ROOT_TOKEN};

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
    host_env_at(sim, ts, &bao.addr, prefix, token)
}

/// A harvest host's environment: vault mode under `prefix` at the vault address `addr`
/// (a server that is not a [`Bao`]: a proxy, a silent port), with the vault token `token`.
pub fn host_env_at(
    sim: &Simulator,
    ts: &TempStore,
    addr: &str,
    prefix: &str,
    token: &str,
) -> BTreeMap<String, String> {
    let mut e = env_for(sim, ts);
    e.insert("SIMSID_SECRETS".into(), "vault".into());
    vault_at(&mut e, addr, prefix, token);
    e
}

/// A viewer's environment (docs/reference/vault.md "Viewing"): the vault with `token`, the
/// application id and the STS address; no integrator client id, organisation id or secret.
pub fn viewer_env(
    sim: &Simulator,
    ts: &TempStore,
    bao: &Bao,
    prefix: &str,
    token: &str,
) -> BTreeMap<String, String> {
    let sims = sim.env();
    let mut e = ts.env();
    e.insert("SIMSID_SOURCE".into(), "vault".into());
    e.insert("SIMSID_APPLICATION_ID".into(), sims.application_id.clone());
    e.insert("SIMSID_STS_URL".into(), sims.sts_url.clone());
    vault_at(&mut e, &bao.addr, prefix, token);
    e
}

/// Points `env` at the vault at `addr` under `prefix` with `token`.
fn vault_at(env: &mut BTreeMap<String, String>, addr: &str, prefix: &str, token: &str) {
    env.insert("VAULT_ADDR".into(), addr.into());
    env.insert("VAULT_TOKEN".into(), token.into());
    env.insert("SIMSID_VAULT_PREFIX".into(), prefix.into());
}

/// The library's vault settings for the KV v2 mount `secret` at `addrs` under `prefix`,
/// with `token`.
pub fn settings(addrs: Vec<String>, prefix: &str, token: &str) -> VaultSettings {
    VaultSettings {
        addrs,
        mount: "secret".into(),
        prefix: prefix.into(),
        namespace: None,
        ca_file: None,
        auth: VaultAuth::Token {
            token: Some(SecretString::from(token.to_string())),
            token_file: "/nonexistent".into(),
        },
        on_remove: Default::default(),
        retry_budget: None,
    }
}
