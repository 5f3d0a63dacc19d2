//! The console's [`Services`] over the real store, SIMS client and harvest engine.

use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{anyhow, Context as _};
use futures::future::BoxFuture;
use futures::FutureExt;
use secrecy::SecretString;
use tokio::sync::mpsc::UnboundedSender;

use crate::config::{self, Dirs, Flags, ProcessEnv};
use crate::domain::{AuditAction, OrgId, RunSummary, SiteDetail, VerifyResult};
use crate::exposure::{self, Exposure, ExposureQuery, PersonExposures};
use crate::harvest::RetryPolicy;
use crate::harvest::{Cancel, HarvestEnd, HarvestEvent, HarvestOptions};
use crate::ops::verify_many::{self, CredentialCheck, Selection, Tally};
use crate::store::Store;
use crate::tui::{Overview, SecretsLocation, Services};

use super::{open_for_harvest, open_store_if_present, secrets, sims_client, Context};

/// Runs before each console harvest (the demo changes the simulator there).
pub type HarvestHook = Arc<dyn Fn() + Send + Sync>;

struct Inner {
    ctx: Context,
    /// `None` until there is a store: the console opens on a missing store with an empty
    /// list and creates nothing until a harvest (cli.md, "Store safety").
    store: Option<Store>,
}

impl Inner {
    /// The remote settings (the message says what is missing when they are incomplete).
    fn remote_settings(&self) -> anyhow::Result<crate::config::RemoteSettings> {
        self.ctx
            .remote()
            .cloned()
            .map_err(|e| anyhow!(one_line(&e.to_string())))
    }

    /// The store, opened now if a harvest has created it since; `None` while there is none.
    fn store(&mut self) -> anyhow::Result<Option<&mut Store>> {
        if self.store.is_none() {
            self.store = open_store_if_present(&self.ctx.settings.local)?;
        }
        Ok(self.store.as_mut())
    }

    /// The store, or the error to show while there is none.
    fn existing_store(&mut self) -> anyhow::Result<&mut Store> {
        self.store()?
            .ok_or_else(|| anyhow!("no store yet: press R to harvest"))
    }
}

/// The console's view of the program: one store connection for reads and audit records; each
/// harvest opens its own connection so that browsing never waits for it.
pub struct ConsoleServices {
    inner: Arc<Mutex<Inner>>,
    flags: Option<Flags>,
    before_harvest: Option<HarvestHook>,
}

impl ConsoleServices {
    /// Services for `ctx`; `flags` allow `:profile` to re-resolve settings (None: one profile).
    pub fn new(
        ctx: Context,
        flags: Option<Flags>,
        before_harvest: Option<HarvestHook>,
    ) -> anyhow::Result<Self> {
        let store = open_store_if_present(&ctx.settings.local)?;
        Ok(ConsoleServices {
            inner: Arc::new(Mutex::new(Inner { ctx, store })),
            flags,
            before_harvest,
        })
    }

    fn lock(&self) -> anyhow::Result<MutexGuard<'_, Inner>> {
        lock_arc(&self.inner)
    }
}

/// Reads one secret for a reveal or a copy and audits it: unsealed from the store, or read
/// from the vault. The store is not held while the vault answers, so the console goes on
/// browsing meanwhile (and a vault that never answers blocks nothing but this task).
async fn read_secret(
    inner: Arc<Mutex<Inner>>,
    action: AuditAction,
    org: OrgId,
    client_id: String,
) -> anyhow::Result<SecretString> {
    let ctx = {
        let mut guard = lock_arc(&inner)?;
        guard.ctx.refuse_if_readonly(action.as_str())?;
        let ctx = guard.ctx.clone();
        let store = guard.existing_store()?;
        if !super::vault_ops::vault_mode(&ctx) {
            return secrets::unseal_audited(store, &ctx, action, &org, &client_id)
                .map_err(Into::into);
        }
        ctx
    };
    let client = super::vault_ops::vault_client(&ctx)?;
    let read = super::vault_ops::read_for_reveal(&ctx, &client, &org, &client_id).await?;
    let mut guard = lock_arc(&inner)?;
    let store = guard.existing_store()?;
    super::vault_ops::audit_vault_read(store, &ctx, action, &org, &client_id, &read)?;
    Ok(read.secret)
}

/// The console's one verify (a site's `v`, the exposure view's `v`): the selected
/// credentials checked with the harvest's concurrency and retries, each audited, in local or
/// vault mode. The store is not held while the STS or the vault answers.
async fn check_selection(
    inner: Arc<Mutex<Inner>>,
    selection: Selection,
    progress: Option<UnboundedSender<Tally>>,
) -> anyhow::Result<Vec<CredentialCheck>> {
    let vault_mode = {
        let guard = lock_arc(&inner)?;
        guard.ctx.refuse_if_readonly("verify")?;
        super::vault_ops::vault_mode(&guard.ctx)
    };
    if vault_mode {
        return check_from_vault(inner, selection, progress).await;
    }
    let (client, targets, concurrency) = {
        let mut guard = lock_arc(&inner)?;
        let remote = guard.remote_settings()?;
        let client = sims_client(&remote)?;
        let store = guard.existing_store()?;
        let targets = verify_many::targets(store, &selection)?;
        (client, targets, remote.concurrency)
    };
    let checks = verify_many::verify_many(
        &client,
        &targets.targets,
        concurrency,
        RetryPolicy::default(),
        progress,
    )
    .await;
    let mut guard = lock_arc(&inner)?;
    let ctx = guard.ctx.clone();
    let store = guard.existing_store()?;
    verify_many::audit_checks(store, &ctx, &targets.targets, &checks)?;
    Ok(checks)
}

/// Vault mode: each secret read from the vault with the current identity just before its
/// token request (the store is not held across the reads).
async fn check_from_vault(
    inner: Arc<Mutex<Inner>>,
    selection: Selection,
    progress: Option<UnboundedSender<Tally>>,
) -> anyhow::Result<Vec<CredentialCheck>> {
    let (ctx, remote, targets, fingerprinter) = {
        let mut guard = lock_arc(&inner)?;
        let remote = guard.remote_settings()?;
        let ctx = guard.ctx.clone();
        let store = guard.existing_store()?;
        let targets = super::vault_verify::vault_targets(store, &selection)?;
        (ctx, remote, targets, store.fingerprinter())
    };
    let remote = super::vault_ops::with_vault_secret(&ctx, &remote).await?;
    let client = sims_client(&remote)?;
    let vault = super::vault_ops::vault_client(&ctx)?;
    let settings = super::vault_ops::vault_settings(&ctx)?;
    let reader = super::vault_verify::VaultReader {
        client: &vault,
        settings,
        fingerprinter,
    };
    let found = super::vault_verify::verify_many_from_vault(
        &reader,
        &client,
        &targets.targets,
        remote.concurrency,
        RetryPolicy::default(),
        progress,
    )
    .await?;
    let mut guard = lock_arc(&inner)?;
    let store = guard.existing_store()?;
    super::vault_verify::audit_vault_checks(store, &ctx, &found)?;
    Ok(found.checks)
}

/// Where `ctx`'s secrets live, for the console's header.
fn secrets_location(ctx: &Context) -> SecretsLocation {
    match (super::vault_ops::vault_mode(ctx), &ctx.settings.vault) {
        (true, Some(vault)) => SecretsLocation::Vault(vault.addrs.join(", ")),
        (true, None) => SecretsLocation::Vault("(not configured)".to_string()),
        (false, _) => SecretsLocation::LocalStore,
    }
}

/// A multi-line message (a list of configuration problems) as one line for a flash.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(|l| l.trim().trim_start_matches("- "))
        .collect::<Vec<_>>()
        .join(" · ")
        .replace(": · ", ": ")
}

fn lock_arc(inner: &Arc<Mutex<Inner>>) -> anyhow::Result<MutexGuard<'_, Inner>> {
    inner
        .lock()
        .map_err(|_| anyhow!("internal error: the store lock was poisoned"))
}

impl Services for ConsoleServices {
    fn overview(&self) -> anyhow::Result<Overview> {
        let mut inner = self.lock()?;
        let (sites, last_run) = match inner.store()? {
            Some(store) => (
                store.sites().context("cannot read sites")?,
                store.last_run().context("cannot read the history")?,
            ),
            None => (Vec::new(), None),
        };
        let local = &inner.ctx.settings.local;
        Ok(Overview {
            profile: local.profile.clone(),
            application_id: inner
                .ctx
                .settings
                .application_id
                .clone()
                .unwrap_or_else(|| "(not configured)".to_string()),
            store_path: local.store_path.display().to_string(),
            secrets: secrets_location(&inner.ctx),
            sites,
            last_run,
        })
    }

    fn site(&self, org: &OrgId) -> anyhow::Result<Option<SiteDetail>> {
        match self.lock()?.store()? {
            Some(store) => Ok(store.site(org)?),
            None => Ok(None),
        }
    }

    fn runs(&self) -> anyhow::Result<Vec<RunSummary>> {
        match self.lock()?.store()? {
            Some(store) => Ok(store.runs()?),
            None => Ok(Vec::new()),
        }
    }

    fn reveal(
        &self,
        org: &OrgId,
        client_id: &str,
    ) -> BoxFuture<'static, anyhow::Result<SecretString>> {
        read_secret(
            self.inner.clone(),
            AuditAction::Reveal,
            org.clone(),
            client_id.to_string(),
        )
        .boxed()
    }

    fn copy_secret(
        &self,
        org: &OrgId,
        client_id: &str,
    ) -> BoxFuture<'static, anyhow::Result<SecretString>> {
        read_secret(
            self.inner.clone(),
            AuditAction::Copy,
            org.clone(),
            client_id.to_string(),
        )
        .boxed()
    }

    fn verify(&self, org: &OrgId) -> BoxFuture<'static, anyhow::Result<Vec<VerifyResult>>> {
        let inner = self.inner.clone();
        let selection = Selection::Site(org.clone());
        async move {
            let checks = check_selection(inner, selection, None).await?;
            Ok(verify_many::results_of(&checks))
        }
        .boxed()
    }

    fn harvest(
        &self,
        events: UnboundedSender<HarvestEvent>,
        cancel: Cancel,
    ) -> BoxFuture<'static, anyhow::Result<HarvestEnd>> {
        let inner = self.inner.clone();
        let hook = self.before_harvest.clone();
        async move {
            let (ctx, remote) = {
                let guard = lock_arc(&inner)?;
                guard.ctx.refuse_if_readonly("harvest")?;
                let remote = guard.remote_settings()?;
                (guard.ctx.clone(), remote)
            };
            // One harvest at a time per store, console or not: the lock is held for the run
            // (a busy store is said in the flash line).
            let (_lock, mut store) = open_for_harvest(&ctx.settings.local)?;
            if let Some(hook) = hook {
                hook();
            }
            let remote = super::vault_ops::with_vault_secret(&ctx, &remote).await?;
            let client = sims_client(&remote)?;
            let options = HarvestOptions {
                concurrency: remote.concurrency,
                ..HarvestOptions::default()
            };
            if super::vault_ops::vault_mode(&ctx) {
                // Vault mode: the vault is written before the local commit.
                let vault = super::vault_ops::vault_client(&ctx)?;
                let settings = super::vault_ops::vault_settings(&ctx)?.clone();
                let mut sink = super::vault_sync::VaultSink::new(vault, &settings, false);
                let run = super::Run {
                    options,
                    policy: super::HarvestPolicy::default(),
                    user: &ctx.user,
                };
                return super::harvest_and_commit_via(
                    &mut store, client, run, events, cancel, &mut sink,
                )
                .await
                .map_err(Into::into);
            }
            super::harvest_and_commit(&mut store, client, options, &ctx.user, events, cancel)
                .await
                .map_err(Into::into)
        }
        .boxed()
    }

    fn exposures(&self) -> anyhow::Result<Vec<PersonExposures>> {
        let mut inner = self.lock()?;
        let Some(store) = inner.store()? else {
            return Ok(Vec::new());
        };
        let audit = store.audit().context("cannot read the audit trail")?;
        let snapshot = store.snapshot().context("cannot read the store")?;
        Ok(exposure::live_by_person(&audit, &snapshot))
    }

    fn site_exposures(&self, org: &OrgId) -> anyhow::Result<Vec<Exposure>> {
        let mut inner = self.lock()?;
        let Some(store) = inner.store()? else {
            return Ok(Vec::new());
        };
        let audit = store.audit().context("cannot read the audit trail")?;
        let snapshot = store.snapshot().context("cannot read the store")?;
        let mut all = exposure::report(&audit, &snapshot, &ExposureQuery::default());
        all.retain(|x| &x.organisation_id == org);
        Ok(all)
    }

    fn verify_listed(
        &self,
        list: Vec<(OrgId, String)>,
        progress: UnboundedSender<Tally>,
    ) -> BoxFuture<'static, anyhow::Result<Vec<CredentialCheck>>> {
        check_selection(self.inner.clone(), Selection::Listed(list), Some(progress)).boxed()
    }

    fn switch_profile(&self, name: &str) -> anyhow::Result<()> {
        let Some(flags) = &self.flags else {
            return Err(anyhow!("this console has a single profile"));
        };
        let flags = Flags {
            profile: Some(name.to_string()),
            ..flags.clone()
        };
        let settings = config::resolve(&flags, &ProcessEnv, &Dirs::platform())
            .map_err(|e| anyhow!(e.to_string()))?;
        let ctx = Context::new(settings);
        let store = open_store_if_present(&ctx.settings.local)?;
        let mut inner = self.lock()?;
        *inner = Inner { ctx, store };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn problems_fit_on_one_line() {
        assert_eq!(
            one_line("2 configuration errors:\n  - missing a\n  - missing b"),
            "2 configuration errors: missing a · missing b"
        );
        assert_eq!(one_line("plain"), "plain");
    }
}
