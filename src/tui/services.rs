//! The console's window on the rest of the program: the [`Services`] trait the binary
//! implements over the store, the SIMS client and the harvest engine.

use futures::future::BoxFuture;
use secrecy::SecretString;
use tokio::sync::mpsc::UnboundedSender;

use crate::domain::{Capabilities, CredentialCheck, Pulled, Tally};
use crate::domain::{OrgId, RunSummary, SiteDetail, SiteRow, VerifyResult};
use crate::exposure::{Exposure, PersonExposures};
use crate::harvest::{Cancel, HarvestEnd, HarvestEvent};
use crate::store::SiteTotals;

/// What the console needs from the rest of the program (implemented by the binary over the
/// store, the SIMS client and the harvest engine). All methods are cheap to call from the
/// runtime; slow ones return futures that the runtime spawns so the UI never blocks.
pub trait Services: Send + Sync + 'static {
    /// Reloads the overview (profile, application, every cached site, last run) from the store.
    fn overview(&self) -> anyhow::Result<Overview>;
    /// A message for the first screen (the demo says which school fails on purpose).
    fn notice(&self) -> Option<String> {
        None
    }
    /// The first frame's part of the overview: the first `rows` sites in name order and
    /// the totals over every site, read without aggregating every site (the rest then comes
    /// from [`Services::overview`] in the background). `None`: no quicker way than
    /// `overview` (the console then loads it all first).
    fn overview_head(&self, rows: usize) -> anyhow::Result<Option<(Overview, SiteTotals)>> {
        let _ = rows;
        Ok(None)
    }
    /// One cached site with its credentials (no secrets); `None` when it is not in the store.
    fn site(&self, org: &OrgId) -> anyhow::Result<Option<SiteDetail>>;
    /// Past harvest runs, newest first.
    fn runs(&self) -> anyhow::Result<Vec<RunSummary>>;
    /// Reads one secret for display (from the store or the vault) and writes an audit
    /// record. A future: the runtime spawns it, so a vault that does not answer never
    /// blocks the console.
    fn reveal(
        &self,
        org: &OrgId,
        client_id: &str,
    ) -> BoxFuture<'static, anyhow::Result<SecretString>>;
    /// Reads one secret for the clipboard and writes an audit record (a future, as
    /// [`Services::reveal`]).
    fn copy_secret(
        &self,
        org: &OrgId,
        client_id: &str,
    ) -> BoxFuture<'static, anyhow::Result<SecretString>>;
    /// Requests a token from the STS with each of the site's credentials.
    fn verify(&self, org: &OrgId) -> BoxFuture<'static, anyhow::Result<Vec<VerifyResult>>>;
    /// Runs a full re-harvest, sending progress on `events`; stops without committing when
    /// `cancel` fires (the run is then recorded as cancelled, with the signal if one threw it).
    fn harvest(
        &self,
        events: UnboundedSender<HarvestEvent>,
        cancel: Cancel,
    ) -> BoxFuture<'static, anyhow::Result<HarvestEnd>>;
    /// Refreshes one school (`harvest --site`: the fresh site list, that school's clients,
    /// that site alone committed), sending progress on `events`; stops without committing
    /// when `cancel` fires. A school SIMS ID no longer lists is an error saying so.
    fn harvest_site(
        &self,
        org: &OrgId,
        events: UnboundedSender<HarvestEvent>,
        cancel: Cancel,
    ) -> BoxFuture<'static, anyhow::Result<HarvestEnd>>;
    /// Switches to another configured profile; `overview()` then reflects it.
    fn switch_profile(&self, name: &str) -> anyhow::Result<()>;

    /// A team-mode viewer: brings the view the harvest host published into the local store
    /// (docs/reference/vault.md "Team mode"). Other profiles harvest instead.
    fn pull(&self) -> BoxFuture<'static, anyhow::Result<Pulled>> {
        Box::pin(async {
            Err(anyhow::anyhow!(
                "this profile harvests SIMS ID itself: R re-harvests"
            ))
        })
    }
    /// Whether this identity may read the schools' secrets (reveal, copy, verify): one
    /// capabilities check, asked once by a viewer's console at start. `None` when it cannot
    /// be told (or always may, as with a local store).
    fn may_read_secrets(&self) -> BoxFuture<'static, Option<bool>> {
        Box::pin(async { None })
    }
    /// The live exposures (revealed or copied, not rotated since), grouped by user.
    fn exposures(&self) -> anyhow::Result<Vec<PersonExposures>>;
    /// Every exposure of one site's credentials (live or not), for the site screen.
    fn site_exposures(&self, org: &OrgId) -> anyhow::Result<Vec<Exposure>>;
    /// Verifies the listed credentials (bounded concurrency, the harvest's retries), sending
    /// the running tally on `progress`; each verify is audited.
    fn verify_listed(
        &self,
        list: Vec<(OrgId, String)>,
        progress: UnboundedSender<Tally>,
    ) -> BoxFuture<'static, anyhow::Result<Vec<CredentialCheck>>>;
}

/// Everything the sites screen shows, loaded once from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    /// The active profile's name.
    pub profile: String,
    /// The application id (GUID) of the profile.
    pub application_id: String,
    /// Where the store lives, as shown to the user.
    pub store_path: String,
    /// What the console may offer for this profile (what `R` does, whether `u` and reveal
    /// are possible) and what its header says of where the secrets are.
    pub capabilities: Capabilities,
    /// Every cached site.
    pub sites: Vec<SiteRow>,
    /// The most recent harvest run, if any.
    pub last_run: Option<RunSummary>,
}

/// How the console was started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsoleOptions {
    /// Turns off reveal, copy, verify and harvest (for staff who only browse).
    pub readonly: bool,
}
