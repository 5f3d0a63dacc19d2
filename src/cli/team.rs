//! Team mode's headless commands (vault.md "Team mode"): `simsid pull` on a viewer, and the
//! refusal of `harvest` there.

use std::io::Write;

use super::commands::{io_err, CmdResult};
use super::exit::{self, CliError};
use super::output;
use crate::config::Source;
use crate::ops::{self, vault_ops, Context};

/// Why a viewer does not harvest (exit 2).
pub const HARVEST_ON_VIEWER: &str = "this profile reads the team's view from the vault; harvests run on the harvest host (`source = \"sims\"`)";

/// `simsid pull [--json]`: the published view into the local store; one request when
/// unchanged; a missing or altered chunk fails (exit 1) and leaves the store as it was.
pub async fn pull(ctx: &Context, json: bool) -> CmdResult {
    if ctx.settings.source != Source::Vault {
        return Err(CliError::usage(
            "pull is for a viewer profile (`source = \"vault\"` or SIMSID_SOURCE=vault): this \
             profile harvests SIMS ID itself, and in vault mode publishes the team's view",
        ));
    }
    let settings = vault_ops::vault_settings(ctx)?;
    let client = vault_ops::vault_client(ctx)?;
    // The harvest lock: one writer of the store at a time (a pull replaces its view).
    let (_lock, mut store) = ops::open_for_harvest(&ctx.settings.local)?;
    let pulled = ops::team::pull(&client, settings, &mut store).await?;
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
            pulled.run_id,
            crate::domain::rfc3339::format(&pulled.published_at),
            pulled.sites,
            pulled.credentials
        )
        .map_err(io_err)?;
    }
    Ok(exit::OK)
}
