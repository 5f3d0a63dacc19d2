//! Team mode's headless command (vault.md "Team mode"): `simsid pull` on a viewer (the
//! keeper refuses a harvest there, and a pull on a profile that harvests).

use std::io::Write;

use super::commands::{io_err, CmdResult};
use super::exit::{self, CliError};
use super::output;
use crate::ops::{self, Context};

/// `simsid pull [--json]`: the published view into the local store; one request when
/// unchanged; a missing or altered chunk fails (exit 1) and leaves the store as it was.
pub async fn pull(ctx: &Context, json: bool) -> CmdResult {
    // Before the store is opened: a harvest host's store is never replaced.
    ctx.keeper.pull_refused()?;
    // The harvest lock: one writer of the store at a time (a pull replaces its view).
    let (_lock, mut store) = ops::open_for_harvest(&ctx.settings.local)?;
    super::store_key::say_key_notice(&mut store);
    let started_at = chrono::Utc::now();
    let pulled = match ctx.keeper.pull(&mut store).await {
        Ok(pulled) => pulled,
        Err(e) => {
            // Monitoring learns that this pull failed (the view is as it was).
            let failed =
                crate::harvest::failed_summary(uuid::Uuid::new_v4(), started_at, e.to_string());
            super::metrics::write(ctx, &store, &failed, None);
            return Err(e.into());
        }
    };
    // The metrics of the run the view shows (the harvest host's): how fresh the view is.
    if let Some(run) = store.last_run()? {
        super::metrics::write(ctx, &store, &run, None);
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
