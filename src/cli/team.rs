//! Team mode's headless command (docs/reference/vault.md "Team mode"): `simsid pull` on a viewer (the
//! keeper refuses a harvest there, and a pull on a profile that harvests).

use std::io::Write;

use super::commands::{io_err, CmdResult};
use super::exit::{self, CliError};
use super::output;
use crate::ops::{self, Context};
use crate::sanitize::for_terminal as clean;

/// `simsid pull [--json] [--accept-older] [--accept-removals]`: the published view into
/// the local store; one request when unchanged; a missing or altered chunk, a malformed
/// view or an older one fails (exit 1), a mass removal is held (exit 3), each leaving the
/// store as it was.
pub async fn pull(ctx: &Context, json: bool, options: crate::team::PullOptions) -> CmdResult {
    let started_at = chrono::Utc::now();
    // The keeper refuses a pull on a harvest host before the store is opened, then holds the
    // harvest lock (one writer of the store at a time: a pull replaces its view).
    let ops::PullOutcome { pulled, store } = ctx
        .keeper()
        .pull(ops::PullRequest {
            options,
            on_locked: Some(&super::store_key::say_key_notice),
        })
        .await?;
    let store = &store.store;
    let pulled = match pulled {
        Ok(pulled) => pulled,
        Err(e) => {
            // Monitoring learns that this pull failed (the view is as it was).
            let failed =
                crate::harvest::failed_summary(uuid::Uuid::new_v4(), started_at, e.to_string());
            super::metrics::write(ctx, store, &failed, None);
            return Err(e.into());
        }
    };
    // The metrics of the run the view shows (the harvest host's): how fresh the view is.
    if let Some(run) = store.last_run()? {
        super::metrics::write(ctx, store, &run, None);
    }
    let mut out = std::io::stdout().lock();
    if json {
        let v = serde_json::to_value(&pulled)
            .map_err(|e| CliError::runtime(format!("cannot encode the pull: {e}")))?;
        output::write_json(&mut out, &v).map_err(io_err)?;
    } else {
        writeln!(
            out,
            "{} run {} published {}: {} sites, {} credentials",
            if pulled.changed {
                "pulled"
            } else {
                "unchanged:"
            },
            pulled.run_id.as_deref().unwrap_or("-"),
            pulled
                .published_at
                .as_ref()
                .map_or_else(|| "-".to_string(), crate::domain::rfc3339::format),
            pulled.sites,
            pulled.credentials
        )
        .map_err(io_err)?;
    }
    Ok(exit::OK)
}

/// `simsid show ORG --check-vault [--json]` (docs/reference/vault.md "What the view proves"): the site as
/// `show` prints it, and each credential's fingerprint checked against the custom metadata
/// of its key in the vault (one metadata read per credential, no secret). Exit 0 when
/// every fingerprint agrees, 1 when one differs or is missing (named on stderr).
pub async fn show_check_vault(ctx: &Context, org: &str, json: bool) -> CmdResult {
    let store = ops::open_existing_store(&ctx.settings().local)?;
    let org_id = super::commands::resolve_org(&store, org)?;
    let detail = store
        .site(&org_id)?
        .ok_or_else(|| CliError::not_found(org))?;
    drop(store);
    let settings = ctx.keeper().vault_settings().map_err(|_| {
        CliError::usage(
            "--check-vault needs a vault: it is for vault mode (`secrets = \"vault\"`) and \
             team mode (`source = \"vault\"`)",
        )
    })?;
    let checks = ctx
        .keeper()
        .check_against_vault(settings, &org_id, &detail.credentials)
        .await?;
    let mut out = std::io::stdout().lock();
    if json {
        let mut v = output::show_json(&detail, &[]);
        if let Some(list) = v.get_mut("credentials").and_then(|c| c.as_array_mut()) {
            for (cred, check) in list.iter_mut().zip(&checks) {
                if let Some(obj) = cred.as_object_mut() {
                    obj.insert(
                        "vault_fingerprint".into(),
                        check
                            .vault_fingerprint
                            .as_ref()
                            .map_or(serde_json::Value::Null, |f| f.as_str().into()),
                    );
                    obj.insert("agrees".into(), check.agrees.into());
                }
            }
        }
        output::write_json(&mut out, &v).map_err(io_err)?;
    } else {
        output::show_text(&mut out, &detail, &[], chrono::Utc::now()).map_err(io_err)?;
        writeln!(out).map_err(io_err)?;
        writeln!(
            out,
            "  vault check      each fingerprint against its key's custom metadata"
        )
        .map_err(io_err)?;
        for c in &checks {
            let verdict = match (&c.vault_fingerprint, c.agrees) {
                (_, true) => "agrees".to_string(),
                (Some(f), false) => format!("DIFFERS: the vault holds {f}"),
                (None, false) => "MISSING: no fingerprint in the vault".to_string(),
            };
            writeln!(out, "  {:<16} {verdict}", clean(&c.client_id)).map_err(io_err)?;
        }
    }
    drop(out);
    let bad: Vec<String> = checks
        .iter()
        .filter(|c| !c.agrees)
        .map(|c| {
            format!(
                "{} ({})",
                clean(&c.client_id),
                if c.vault_fingerprint.is_some() {
                    "differs"
                } else {
                    "missing"
                }
            )
        })
        .collect();
    if bad.is_empty() {
        return Ok(exit::OK);
    }
    eprintln!(
        "simsid: the vault's fingerprint does not agree for {} of {}'s {} credential(s): {}",
        bad.len(),
        org_id,
        checks.len(),
        bad.join(", ")
    );
    Ok(exit::RUNTIME)
}
