//! Writing the metrics file after a run (`harvest --metrics FILE`, `metrics_file`,
//! `$SIMSID_METRICS`): beside the target, renamed over it, mode 0644. A failure to write it
//! is a warning on stderr and in the log, and is recorded in the store so that `status` is
//! unhealthy until a write succeeds; it does not change the run's exit code.

use crate::domain::RunSummary;
use crate::ops::metrics::{render, MetricsInput};
use crate::ops::vault_sync::VaultCounts;
use crate::ops::Context;
use crate::store::{MetricsFailure, Store};

/// Writes the metrics of `run` when a metrics file is configured.
pub fn write(ctx: &Context, store: &Store, run: &RunSummary, vault: Option<VaultCounts>) {
    let Some(path) = ctx.settings().local.metrics_file.as_deref() else {
        // No metrics file any more: an old failure is no longer news.
        if let Err(e) = store.set_metrics_failure(None) {
            tracing::warn!(error = %e, "metrics state not cleared");
        }
        return;
    };
    let facts = store.health_facts().ok();
    let application = ctx
        .settings()
        .remote
        .as_ref()
        .map(|r| r.sims.application_id.to_string())
        .unwrap_or_default();
    let input = MetricsInput {
        profile: &ctx.settings().local.profile,
        application: &application,
        run,
        store: facts.as_ref(),
        vault,
    };
    let written = render(&input).map_err(|e| e.to_string()).and_then(|text| {
        crate::store::write_shared_file(path, text.as_bytes()).map_err(|e| e.to_string())
    });
    let failure = written.err().map(|e| {
        eprintln!(
            "simsid: warning: cannot write the metrics file {}: {}",
            crate::sanitize::for_terminal(&path.display().to_string()),
            crate::sanitize::for_terminal(&e)
        );
        tracing::warn!(path = %path.display(), error = %e, "metrics file not written");
        MetricsFailure {
            path: path.display().to_string(),
            error: e,
            at: chrono::Utc::now(),
        }
    });
    if let Err(e) = store.set_metrics_failure(failure.as_ref()) {
        eprintln!("simsid: warning: cannot record the metrics file's state in the store: {e}");
        tracing::warn!(error = %e, "metrics state not recorded");
    }
}
