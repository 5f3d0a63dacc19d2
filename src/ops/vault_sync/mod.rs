//! The vault as the harvest's commit sink (docs/reference/vault.md "Sync rules"): writes what changed with
//! check-and-set, removes what SIMS ID no longer lists, and with `--reconcile` lists the
//! prefix and repairs drift. Runs between fetching and the local commit. What to write and
//! remove is decided in `plan` (pure); `execute` makes the requests.

use std::collections::HashSet;
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;

use super::harvest::{CommitSink, Synced};
use super::OpError;
use super::OpResult;
use crate::domain::{HarvestData, HeldRemovals, RunSummary, VaultMarks};
use crate::harvest::HarvestEvent;
use crate::store::{Fingerprinter, SealedCredential};
use crate::vault::{OnRemove, VaultClient, VaultSettings};

mod execute;
mod plan;
mod writer;

use execute::Executor;
use writer::Writer;

/// Vault requests in flight at most during a sync.
pub const SYNC_CONCURRENCY: usize = 32;

/// What a sync did, as `harvest --json` reports it under `"vault"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VaultCounts {
    pub written: usize,
    pub removed: usize,
    pub unchanged: usize,
    pub errors: usize,
}

/// The vault sink of one harvest.
#[derive(Debug)]
pub(crate) struct VaultSink {
    client: Arc<VaultClient>,
    mount: String,
    prefix: String,
    on_remove: OnRemove,
    reconcile: bool,
    accept_removals: bool,
    concurrency: usize,
    /// What the last sync did.
    pub counts: VaultCounts,
    /// Reconcile: keys under the prefix this store did not write (no `simsid_run`, or a
    /// run of another store), reported and left alone (docs/reference/vault.md sync rule 5).
    pub foreign: Vec<String>,
    /// The vault identity that wrote, when the last sync made requests.
    identity: Option<String>,
}

impl VaultSink {
    /// A sink writing under `settings`' mount and prefix; `reconcile` also lists the prefix
    /// and repairs drift.
    pub fn new(client: Arc<VaultClient>, settings: &VaultSettings, reconcile: bool) -> Self {
        VaultSink {
            client,
            mount: settings.mount.clone(),
            prefix: settings.prefix.clone(),
            on_remove: settings.on_remove,
            reconcile,
            accept_removals: false,
            concurrency: SYNC_CONCURRENCY,
            counts: VaultCounts::default(),
            foreign: Vec::new(),
            identity: None,
        }
    }

    /// The same sink with another number of requests in flight.
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Whether this sink lists the prefix and repairs drift (`--reconcile`).
    pub fn reconciling(&self) -> bool {
        self.reconcile
    }

    /// The same sink taking the removals reconcile's guard would hold
    /// (`--accept-removals`, docs/reference/vault.md sync rule 6).
    pub fn accepting_removals(mut self, accept: bool) -> Self {
        self.accept_removals = accept;
        self
    }
}

/// The custom metadata field naming the run that last wrote a key.
pub const RUN_FIELD: &str = "simsid_run";

/// What a sync needs from this store, read before any await.
struct StoreState {
    fingerprinter: Fingerprinter,
    marks: VaultMarks,
    ours: HashSet<String>,
    /// A harvest ever completed in this store.
    completed: bool,
    /// Secrets still sealed in the store (local mode's), to move into the vault.
    sealed: Vec<SealedCredential>,
}

impl VaultSink {
    /// Plans the sync from the store's `state` and the run, then carries the plan out.
    async fn run(
        &mut self,
        state: StoreState,
        data: &HarvestData,
        held: &HeldRemovals,
        summary: &mut RunSummary,
        events: &UnboundedSender<HarvestEvent>,
    ) -> OpResult<Synced> {
        let StoreState {
            fingerprinter,
            marks,
            ours,
            completed,
            sealed,
        } = state;
        let plan = plan::plan(data, held, &marks, sealed, summary.scope, self.reconcile);
        let mut executor = Executor {
            writer: Writer {
                client: Arc::clone(&self.client),
                mount: self.mount.clone(),
                prefix: self.prefix.clone(),
                run_id: summary.run_id.to_string(),
                fingerprinter,
                on_remove: self.on_remove,
                ours: Arc::new(ours),
            },
            concurrency: self.concurrency,
            reconcile: self.reconcile,
            accept_removals: self.accept_removals,
            completed,
            events,
            counts: VaultCounts::default(),
            foreign: Vec::new(),
        };
        let result = executor.run(plan, marks, data, held, summary).await;
        self.counts = executor.counts;
        self.foreign = executor.foreign;
        result
    }
}

impl CommitSink for VaultSink {
    fn sync(
        &mut self,
        run: super::harvest::ToSync<'_>,
        summary: &mut RunSummary,
    ) -> impl std::future::Future<Output = OpResult<Synced>> {
        let super::harvest::ToSync {
            store,
            data,
            held,
            events,
        } = run;
        // Taken now so that no reference to the store lives across an await. The run is
        // recorded as a writer of this store before it writes anything (rule 9).
        let state = (|| {
            store.record_vault_writer(&summary.run_id.to_string())?;
            Ok::<_, crate::store::StoreError>(StoreState {
                fingerprinter: store.fingerprinter(),
                marks: plan::scoped_marks(store.vault_marks()?, data, summary),
                ours: store.vault_writer_runs()?,
                completed: store.has_completed_harvest()?,
                sealed: store.sealed_credentials()?,
            })
        })()
        .map_err(|e| OpError::failed(format!("cannot read the store: {e}")));
        async move {
            let state = state?;
            let result = self.run(state, data, held, summary, events).await;
            // Only a sync that spoke to the vault names its identity: an unchanged
            // re-harvest stays at zero requests.
            if self.reconcile || self.counts.written + self.counts.removed > 0 {
                self.identity = self.client.identity().await.ok();
            }
            result
        }
    }

    fn identity(&self) -> Option<String> {
        self.identity.clone()
    }
}

/// A run of every site, complete, for the unit tests of the plan and the executor.
#[cfg(test)]
fn test_summary() -> RunSummary {
    let t = chrono::DateTime::parse_from_rfc3339("2026-12-02T03:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    crate::domain::fixtures::run(uuid::Uuid::from_u128(7), t)
}
