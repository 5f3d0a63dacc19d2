//! The console's [`Services`] over the real store, the profile's keeper of secrets and the
//! harvest engine (built by the front end that runs the console: `simsid` and `simsid demo`).

use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{anyhow, Context as _};
use futures::future::BoxFuture;
use futures::FutureExt;
use secrecy::SecretString;
use tokio::sync::mpsc::UnboundedSender;

use crate::config::{self, Dirs, Flags, ProcessEnv};
use crate::domain::VerifyResult;
use crate::domain::{AuditAction, CredentialCheck, OrgId, RunSummary, SiteDetail, Tally};
use crate::exposure::{self, Exposure, ExposureQuery, PersonExposures};
use crate::harvest::{Cancel, HarvestEnd, HarvestEvent};
use crate::ops::verify::{self, Selection};
use crate::ops::{self, open_store_if_present, Context};
use crate::ops::{OpError, OpResult, StoreAccess};
use crate::store::{SiteTotals, Store};
use crate::tui::{Overview, Services};

/// Runs before each console harvest (the demo changes the simulator there).
pub type HarvestHook = Arc<dyn Fn() + Send + Sync>;

struct Inner {
    ctx: Context,
    /// `None` until there is a store: the console opens on a missing store with an empty
    /// list and creates nothing until a harvest (docs/reference/cli.md, "Store safety").
    store: Option<Store>,
}

impl Inner {
    /// The store, opened now if a harvest has created it since; `None` while there is none.
    fn store(&mut self) -> anyhow::Result<Option<&mut Store>> {
        if self.store.is_none() {
            self.store = open_store_if_present(&self.ctx.settings().local)?;
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
    /// The first screen's message (the demo's).
    notice: Option<String>,
}

impl ConsoleServices {
    /// Services for `ctx`; `flags` allow `:profile` to re-resolve settings (None: one profile).
    pub fn new(
        ctx: Context,
        flags: Option<Flags>,
        before_harvest: Option<HarvestHook>,
    ) -> anyhow::Result<Self> {
        let store = open_store_if_present(&ctx.settings().local)?;
        Ok(ConsoleServices {
            inner: Arc::new(Mutex::new(Inner { ctx, store })),
            flags,
            before_harvest,
            notice: None,
        })
    }

    /// The same services, with a message for the console's first screen.
    pub fn with_notice(mut self, notice: String) -> Self {
        self.notice = Some(notice);
        self
    }

    fn lock(&self) -> anyhow::Result<MutexGuard<'_, Inner>> {
        lock_arc(&self.inner)
    }
}

/// The console's store, lent to the keeper for an unseal or an audit record (never held
/// while the network answers).
struct Shared(Arc<Mutex<Inner>>);

impl StoreAccess for Shared {
    fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> OpResult<R>) -> OpResult<R> {
        let mut guard = lock_arc(&self.0).map_err(|e| OpError::failed(e.to_string()))?;
        let store = guard
            .existing_store()
            .map_err(|e| OpError::failed(e.to_string()))?;
        f(store)
    }
}

/// The profile's context now (a `:profile` switch replaces it).
fn context(inner: &Arc<Mutex<Inner>>) -> anyhow::Result<Context> {
    Ok(lock_arc(inner)?.ctx.clone())
}

/// Reads one secret for a reveal or a copy and audits it, through the profile's keeper.
fn read_secret(
    inner: Arc<Mutex<Inner>>,
    action: AuditAction,
    org: &OrgId,
    client_id: &str,
) -> BoxFuture<'static, anyhow::Result<SecretString>> {
    let (org, client_id) = (org.clone(), client_id.to_string());
    async move {
        let ctx = context(&inner)?;
        let store = Shared(inner);
        let request = ops::ReadRequest {
            action,
            org: &org,
            client_id: &client_id,
        };
        Ok(ctx.keeper().read(&store, request).await?)
    }
    .boxed()
}

/// The console's one verify (a site's `v`, the exposure screen's `v`), through the keeper.
async fn check_selection(
    inner: Arc<Mutex<Inner>>,
    selection: Selection,
    progress: Option<UnboundedSender<Tally>>,
) -> anyhow::Result<Vec<CredentialCheck>> {
    let ctx = context(&inner)?;
    let store = Shared(inner);
    let request = ops::VerifyRequest {
        selection: &selection,
        progress,
    };
    let (found, _) = ctx.keeper().verify(&store, request).await?;
    Ok(found.checks)
}

/// One harvest of the console (the whole list, or one school), through the keeper (one
/// harvest at a time per store, console or not: the keeper holds the lock for the run, and
/// a busy store is said in the flash line).
async fn run_harvest(
    inner: Arc<Mutex<Inner>>,
    site: Option<String>,
    hook: Option<HarvestHook>,
    events: UnboundedSender<HarvestEvent>,
    cancel: Cancel,
) -> anyhow::Result<HarvestEnd> {
    let ctx = context(&inner)?;
    let before = hook.map(|hook| move |_: &mut Store| hook());
    let request = ops::HarvestRequest {
        site: site.as_deref(),
        on_locked: before.as_ref().map(|f| f as ops::OnLocked<'_>),
        ..ops::HarvestRequest::default()
    };
    // A refusal before the run (a list of configuration problems) fits the flash line.
    let harvested = ctx
        .keeper()
        .harvest(request, events, cancel)
        .await
        .map_err(|e| match e.to_string() {
            many if many.contains('\n') => anyhow!(one_line(&many)),
            _ => anyhow::Error::from(e),
        })?;
    let end = harvested.end?;
    let query = site.unwrap_or_default();
    match end {
        ops::SiteEnd::Ran(end) => Ok(end),
        ops::SiteEnd::Unlisted => Err(anyhow!(ops::harvest::unlisted_message(&query))),
        ops::SiteEnd::Ambiguous(_) => Err(anyhow!("{query} matches several sites")),
    }
}

/// A viewer's pull through the keeper (one at a time per store: the harvest lock, held by
/// its own connection, so browsing never waits for it).
async fn run_pull(inner: Arc<Mutex<Inner>>) -> anyhow::Result<crate::domain::Pulled> {
    let ctx = context(&inner)?;
    Ok(ctx
        .keeper()
        .pull(ops::PullRequest::default())
        .await?
        .pulled?)
}

/// A viewer's one capabilities check: may this identity read the schools' secrets (the
/// operator policy) or only the view (the viewer policy)? `None` for other profiles, or
/// when the vault cannot be asked (the first reveal then tells).
async fn viewer_may_read_secrets(inner: Arc<Mutex<Inner>>) -> Option<bool> {
    let ctx = context(&inner).ok()?;
    // Only where the keeper cannot say beforehand (a viewer's identity) is the vault asked.
    if ctx.keeper().capabilities().reveal.is_some() {
        return None;
    }
    let settings = ctx.keeper().vault_settings().ok()?;
    let path = format!(
        "{}/data/{}/simsid-check/simsid-check",
        settings.mount, settings.prefix
    );
    let client = ctx.keeper().vault().ok()?;
    let caps = client
        .capabilities_self(std::slice::from_ref(&path))
        .await
        .ok()?;
    let granted = caps.get(&path).cloned().unwrap_or_default();
    Some(crate::vault::policy::missing(&["read"], &granted).is_empty())
}

/// The overview of `ctx`'s profile over these sites.
fn overview_of(
    ctx: &Context,
    sites: Vec<crate::domain::SiteRow>,
    last_run: Option<RunSummary>,
) -> Overview {
    let local = &ctx.settings().local;
    Overview {
        profile: local.profile.clone(),
        application_id: ctx
            .settings()
            .application_id
            .clone()
            .unwrap_or_else(|| "(not configured)".to_string()),
        // The header says where the store's key lives (docs/reference/cli.md, "Store").
        store_path: format!(
            "{} (key: {})",
            local.store_path.display(),
            ops::store_key_location(local)
        ),
        capabilities: ctx.keeper().capabilities(),
        sites,
        last_run,
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
    fn notice(&self) -> Option<String> {
        self.notice.clone()
    }

    fn overview(&self) -> anyhow::Result<Overview> {
        let mut inner = self.lock()?;
        let (sites, last_run) = match inner.store()? {
            Some(store) => (
                store.sites().context("cannot read sites")?,
                store.last_run().context("cannot read the history")?,
            ),
            None => (Vec::new(), None),
        };
        Ok(overview_of(&inner.ctx, sites, last_run))
    }

    fn overview_head(&self, rows: usize) -> anyhow::Result<Option<(Overview, SiteTotals)>> {
        let mut inner = self.lock()?;
        let Some(store) = inner.store()? else {
            return Ok(None);
        };
        let totals = store.site_totals().context("cannot read sites")?;
        let sites = store.sites_head(rows).context("cannot read sites")?;
        let last_run = store.last_run().context("cannot read the history")?;
        Ok(Some((overview_of(&inner.ctx, sites, last_run), totals)))
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
        read_secret(self.inner.clone(), AuditAction::Reveal, org, client_id)
    }

    fn copy_secret(
        &self,
        org: &OrgId,
        client_id: &str,
    ) -> BoxFuture<'static, anyhow::Result<SecretString>> {
        read_secret(self.inner.clone(), AuditAction::Copy, org, client_id)
    }

    fn verify(&self, org: &OrgId) -> BoxFuture<'static, anyhow::Result<Vec<VerifyResult>>> {
        let inner = self.inner.clone();
        let selection = Selection::Site(org.clone());
        async move {
            let checks = check_selection(inner, selection, None).await?;
            Ok(verify::results_of(&checks))
        }
        .boxed()
    }

    fn harvest_site(
        &self,
        org: &OrgId,
        events: UnboundedSender<HarvestEvent>,
        cancel: Cancel,
    ) -> BoxFuture<'static, anyhow::Result<HarvestEnd>> {
        let site = Some(org.as_str().to_string());
        run_harvest(self.inner.clone(), site, None, events, cancel).boxed()
    }

    fn harvest(
        &self,
        events: UnboundedSender<HarvestEvent>,
        cancel: Cancel,
    ) -> BoxFuture<'static, anyhow::Result<HarvestEnd>> {
        let hook = self.before_harvest.clone();
        run_harvest(self.inner.clone(), None, hook, events, cancel).boxed()
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

    fn pull(&self) -> BoxFuture<'static, anyhow::Result<crate::domain::Pulled>> {
        run_pull(self.inner.clone()).boxed()
    }

    fn may_read_secrets(&self) -> BoxFuture<'static, Option<bool>> {
        viewer_may_read_secrets(self.inner.clone()).boxed()
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
        let store = open_store_if_present(&ctx.settings().local)?;
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
