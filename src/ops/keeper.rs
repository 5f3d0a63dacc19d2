//! The one keeper of secrets: where a school's secret lives is decided once, when the
//! settings are resolved (into one [`Role`]), and every operation goes through the profile's
//! keeper as a whole: a request in ([`HarvestRequest`], [`PullRequest`], [`ReadRequest`],
//! [`VerifyRequest`]), an outcome out. The keeper takes the harvest lock, builds the commit
//! path, sets concurrency, commits, publishes and records, for every front end alike; it
//! holds what it needs (the settings, the user) and is the only code that reads the role.
//! The front ends get [`Capabilities`], never the role. The keeper holds one vault session (one
//! [`VaultClient`]: login, renewal, the retry budget and the memory of an outage) shared by
//! every operation of the profile.

use std::sync::{Arc, Mutex, OnceLock};

use futures::future::{BoxFuture, Either};
use futures::FutureExt;
use secrecy::SecretString;
use tokio::sync::mpsc::UnboundedSender;

use super::audit::Auditor;
use super::harvest::{CommitSink, HarvestPolicy, Run, SiteEnd, Synced, ToSync};
use super::vault_sync::{VaultCounts, VaultSink, SYNC_CONCURRENCY};
use super::verify::{self, SecretSource, Selection, Tally, Verified};
use super::{secrets, vault_ops, OpError, OpResult};
use crate::config::{RemoteSettings, Role, Settings};
use crate::domain::{AuditAction, Capabilities, Fingerprint, OrgId, Refresh, RunSummary};
use crate::harvest::{Cancel, HarvestEvent, HarvestOptions, RetryPolicy};
use crate::sims::SimsClient;
use crate::store::{HarvestLock, Store};
use crate::team;
use crate::vault::{VaultClient, VaultSettings};

/// The profile's keeper of secrets. Cheap to clone: clones share the vault session.
#[derive(Clone)]
pub struct Keeper {
    shared: Arc<Shared>,
}

struct Shared {
    /// The profile's settings, its one role among them (nothing else matches on it).
    settings: Settings,
    /// The OS user its audit records name.
    user: String,
    /// The one vault client, made on first use (no request is made to make it).
    session: OnceLock<Result<Arc<VaultClient>, String>>,
    /// The remote settings with the integrator's secret read (once) from the vault.
    remote: tokio::sync::OnceCell<RemoteSettings>,
}

impl std::fmt::Debug for Keeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let role = match self.role() {
            Role::Local(_) => "local",
            Role::VaultHost(_) => "vault host",
            Role::Viewer(_) => "viewer",
        };
        f.debug_struct("Keeper")
            .field("role", &role)
            .finish_non_exhaustive()
    }
}

/// Briefly lends the store to the keeper (for an unseal, an audit record): the command's
/// own store, or the console's shared one, which is never held while the network answers.
pub trait StoreAccess: Sync {
    /// Runs `f` on the store.
    fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> OpResult<R>) -> OpResult<R>;
}

impl StoreAccess for Mutex<Store> {
    fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> OpResult<R>) -> OpResult<R> {
        let mut store = self
            .lock()
            .map_err(|_| OpError::failed("internal error: the store lock was poisoned"))?;
        f(&mut store)
    }
}

impl Keeper {
    /// The keeper `settings` describe, acting for `user` (no request made, nothing opened).
    pub fn new(settings: Settings, user: String) -> Keeper {
        Keeper {
            shared: Arc::new(Shared {
                settings,
                user,
                session: OnceLock::new(),
                remote: tokio::sync::OnceCell::new(),
            }),
        }
    }

    fn role(&self) -> &Role {
        &self.shared.settings.role
    }

    /// The profile's resolved settings.
    pub fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    /// Refuses `what` (reveal, copy, verify, harvest, export…) when the profile is
    /// read-only: the one gate both front ends go through.
    pub fn refuse_if_readonly(&self, what: &str) -> OpResult<()> {
        if self.shared.settings.local.readonly {
            return Err(OpError::invalid(format!(
                "{what} is turned off in read-only mode (--readonly or `readonly = true`)"
            )));
        }
        Ok(())
    }

    /// The vault settings, when any are configured (vault mode, a viewer, or the
    /// integrator's secret read from the vault in local mode).
    pub fn configured_vault(&self) -> Option<&VaultSettings> {
        match self.role() {
            Role::Local(v) => v.as_ref(),
            Role::VaultHost(v) | Role::Viewer(v) => Some(v),
        }
    }

    /// How this profile's store is brought up to date: a harvest, or a viewer's pull.
    pub fn refresh(&self) -> Refresh {
        match self.role() {
            Role::Local(_) | Role::VaultHost(_) => Refresh::Harvest,
            Role::Viewer(_) => Refresh::Pull,
        }
    }

    /// What a front end may offer for this profile, and its header's words for where the
    /// secrets are (the console never asks for the role).
    pub fn capabilities(&self) -> Capabilities {
        match self.role() {
            Role::Local(_) => Capabilities::default(),
            Role::VaultHost(v) => Capabilities {
                header: format!("vault {}", short_address(&v.addrs.join(", "))),
                reads_vault: true,
                ..Capabilities::default()
            },
            // A viewer pulls, harvests no school, and may read a secret only if its
            // identity's policy lets it (the vault tells).
            Role::Viewer(v) => Capabilities {
                refresh: Refresh::Pull,
                refresh_one: false,
                reveal: None,
                header: format!("view from vault {}", short_address(&v.addrs.join(", "))),
                reads_vault: true,
            },
        }
    }

    /// `simsid vault check`: every address with its role, seal, authentication and
    /// identity, the mount, what this profile needs of the vault, the integrator secret when
    /// it is in the vault, and secrets still sealed in the local store.
    pub async fn check_vault(&self) -> OpResult<Vec<vault_ops::CheckLine>> {
        vault_ops::check(self).await
    }

    /// `vault check`'s lines on what this profile needs of the vault: a viewer's read of
    /// the team's view (and whether it may also read secrets), or a harvest host's
    /// capabilities under the prefix.
    pub async fn needs_checks(
        &self,
        client: &VaultClient,
        settings: &VaultSettings,
    ) -> Vec<(String, Result<String, String>)> {
        match self.role() {
            Role::Viewer(_) => team::check_viewer(client, settings).await,
            Role::Local(_) | Role::VaultHost(_) => {
                vault_ops::check_harvester(client, settings).await
            }
        }
    }

    /// `show ORG --check-vault`: each of a site's `credentials` (as the store holds them)
    /// checked against the custom metadata of its key in the vault at `settings`; one
    /// metadata read per credential, never a secret.
    pub async fn check_against_vault(
        &self,
        settings: &VaultSettings,
        org: &OrgId,
        credentials: &[crate::domain::CredentialRow],
    ) -> OpResult<Vec<team::VaultAgreement>> {
        let client = self.vault()?;
        Ok(team::check_against_vault(&client, settings, org, credentials).await?)
    }

    /// In vault mode, the note for secrets still sealed in the local store (docs/reference/vault.md sync
    /// rule 10: the next harvest moves them); `None` otherwise, or with no store yet.
    pub fn sealed_remaining(&self) -> Option<String> {
        match self.role() {
            Role::Local(_) | Role::Viewer(_) => None,
            Role::VaultHost(_) => vault_ops::sealed_remaining(&self.shared.settings.local),
        }
    }

    /// The vault settings, or the usage error saying what to set.
    pub fn vault_settings(&self) -> OpResult<&VaultSettings> {
        let v = self.configured_vault().ok_or_else(|| {
            OpError::invalid(
                "no vault configured: set VAULT_ADDR (or SIMSID_VAULT_ADDR) or `vault_addr` in the profile",
            )
        })?;
        if v.prefix.contains("{application_id}") {
            return Err(OpError::invalid(
                "vault_prefix uses {application_id}: set SIMSID_APPLICATION_ID or `application_id`",
            ));
        }
        Ok(v)
    }

    /// The profile's one vault session (made on first use; no request made).
    pub fn vault(&self) -> OpResult<Arc<VaultClient>> {
        let settings = self.vault_settings()?;
        self.shared
            .session
            .get_or_init(|| {
                VaultClient::new(settings)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(OpError::failed)
    }

    /// The remote settings, with the integrator's secret read from the vault when
    /// `client_secret_vault` is set (once per keeper, through its session).
    pub async fn remote(&self) -> OpResult<RemoteSettings> {
        let remote = self.remote_settings()?;
        let Some(r) = &remote.client_secret_vault else {
            return Ok(remote.clone());
        };
        self.shared
            .remote
            .get_or_try_init(|| async {
                let client = self.vault()?;
                let secret = vault_ops::read_secret_ref(&client, r).await?;
                let mut out = remote.clone();
                out.sims.client_secret = secret;
                out.client_secret_vault = None;
                Ok::<_, OpError>(out)
            })
            .await
            .cloned()
    }

    /// The remote settings as resolved, or the usage error listing what is missing.
    fn remote_settings(&self) -> OpResult<&RemoteSettings> {
        self.shared
            .settings
            .remote
            .as_ref()
            .map_err(|e| OpError::invalid(e.to_string()))
    }

    /// One secret for an explicit reveal or copy, audited (OS user, and the vault identity
    /// when it came from the vault). The store is lent only for the unseal or the record.
    pub async fn read(
        &self,
        store: &impl StoreAccess,
        request: ReadRequest<'_>,
    ) -> OpResult<SecretString> {
        let ReadRequest {
            action,
            org,
            client_id,
        } = request;
        self.refuse_if_readonly(action.as_str())?;
        match self.role() {
            Role::Local(_) => store.with_store(|s| {
                // Fails when the store does not hold it (before anything is audited).
                secrets::unseal_audited(s, self, action, org, client_id)
            }),
            Role::VaultHost(_) => {
                let client = self.vault()?;
                let settings = self.vault_settings()?;
                let read = vault_ops::read_for_reveal(settings, &client, org, client_id).await?;
                store.with_store(|s| {
                    vault_ops::audit_vault_read(s, self, action, org, client_id, &read)
                })?;
                Ok(read.secret)
            }
            Role::Viewer(_) => {
                let client = self.vault()?;
                let settings = self.vault_settings()?;
                let read = vault_ops::read_for_reveal(settings, &client, org, client_id).await?;
                // Fingerprints agree across the team: the record names the host's.
                let host =
                    team::host_fingerprint(&client, settings, org, client_id, read.version).await;
                store.with_store(|s| {
                    let fp = team::viewer_fingerprint(s, org, client_id, read.version, host)
                        .unwrap_or_else(|| s.fingerprint(&read.secret));
                    vault_ops::audit_vault_read_as(
                        s,
                        self,
                        action,
                        org,
                        client_id,
                        &read.identity,
                        &fp,
                    )
                })?;
                Ok(read.secret)
            }
        }
    }

    /// The one verify: the credentials `selection` names, each secret read just before its
    /// token request (unsealed, or read from the vault with the person's identity), with
    /// the harvest's concurrency and retries, each audited in one wording. Returns the
    /// checks and how many selected credentials the store no longer holds.
    pub async fn verify(
        &self,
        store: &impl StoreAccess,
        request: VerifyRequest<'_>,
    ) -> OpResult<(Verified, usize)> {
        let VerifyRequest {
            selection,
            progress,
        } = request;
        self.refuse_if_readonly("verify")?;
        let targets = store.with_store(|s| verify::targets(s, selection))?;
        // The STS alone: each school's own credential, never the integrator's (docs/reference/cli.md).
        let sims = SimsClient::new(self.shared.settings.verify.clone())
            .map_err(|e| OpError::failed(format!("cannot build the SIMS ID client: {e}")))?;
        let concurrency = self
            .shared
            .settings
            .remote
            .as_ref()
            .map_or(crate::config::DEFAULT_CONCURRENCY, |r| r.concurrency);
        // The one loop; only where each secret comes from differs.
        let unsealed;
        let from_vault;
        let client;
        let (source, identity): (&dyn SecretSource, Option<String>) = match self.role() {
            Role::Local(_) => {
                unsealed = Unsealed { store };
                (&unsealed, None)
            }
            Role::VaultHost(_) | Role::Viewer(_) => {
                client = self.vault()?;
                // Fails the verify only when the identity cannot be looked up at all (a
                // wrong or expired token); a credential it may not read is that one's error.
                let identity = client.identity().await?;
                let fingerprinter = store.with_store(|s| Ok(s.fingerprinter()))?;
                // A viewer names the host's fingerprints (the view's, by version).
                let view_marks = match self.role() {
                    Role::Viewer(_) => Some(store.with_store(|s| Ok(s.vault_marks()?))?),
                    _ => None,
                };
                from_vault = FromVault {
                    client: &client,
                    settings: self.vault_settings()?,
                    fingerprinter,
                    view_marks,
                };
                (&from_vault, Some(identity))
            }
        };
        let found = verify::run(
            &sims,
            source,
            &targets.targets,
            concurrency,
            RetryPolicy::default(),
            progress,
        )
        .await;
        store.with_store(|s| verify::audit_checks(s, self, &found, identity.as_deref()))?;
        Ok((found, targets.not_held))
    }

    /// Refuses a harvest this profile cannot run, before anything is opened: a viewer
    /// harvests nothing, and `reconcile` (repairing the vault) needs vault mode.
    fn refuse_harvest(&self, reconcile: bool) -> OpResult<()> {
        match self.role() {
            Role::Viewer(_) => Err(OpError::invalid(team::HARVEST_ON_VIEWER)),
            Role::Local(_) if reconcile => Err(OpError::invalid(
                "--reconcile repairs the vault: it needs vault mode (`secrets = \"vault\"` or SIMSID_SECRETS=vault)",
            )),
            Role::Local(_) | Role::VaultHost(_) => Ok(()),
        }
    }

    /// The commit path of one harvest: the local commit alone, or the vault written first
    /// and the team's view published after the commit.
    fn commit_path(&self, options: PathOptions) -> OpResult<CommitPath> {
        self.refuse_harvest(options.reconcile)?;
        match self.role() {
            Role::Local(_) | Role::Viewer(_) => Ok(CommitPath { vault: None }),
            Role::VaultHost(settings) => {
                let sink = VaultSink::new(self.vault()?, settings, options.reconcile)
                    .with_concurrency(options.concurrency.max(SYNC_CONCURRENCY))
                    .accepting_removals(options.accept_removals);
                // Every committed run also publishes the team's view (docs/reference/vault.md "Team mode").
                Ok(CommitPath {
                    vault: Some(Box::new(VaultStep {
                        sink,
                        client: self.vault()?,
                        settings: settings.clone(),
                        repair: options.reconcile,
                        published: None,
                    })),
                })
            }
        }
    }
}

/// Runs once the store is open under the harvest lock, before the operation (a notice of a
/// store created just now; the demo changes its simulator there).
pub type OnLocked<'a> = &'a (dyn Fn(&mut Store) + Send + Sync);

/// A viewer's pull (`simsid pull`, the console's `R` on a viewer).
#[derive(Clone, Copy, Default)]
pub struct PullRequest<'a> {
    pub options: team::PullOptions,
    /// Runs once the store is open under the lock, before the pull.
    pub on_locked: Option<OnLocked<'a>>,
}

/// How a pull went, with the store it wrote (still under the harvest lock).
pub struct PullOutcome {
    /// The pull's result: a missing or altered chunk fails and leaves the store as it was.
    pub pulled: OpResult<team::Pulled>,
    pub store: LockedStore,
}

/// The store a whole operation wrote, under the store's harvest lock until dropped: the
/// front end reads it for its output and its metrics, and records what it adds.
pub struct LockedStore {
    pub store: Store,
    _lock: HarvestLock,
}

impl Keeper {
    /// A viewer's pull: refused (usage error) on a profile that harvests before the store
    /// is opened; then the harvest lock (one writer of the store at a time), and the
    /// published view into the store; one request when unchanged.
    pub async fn pull(&self, request: PullRequest<'_>) -> OpResult<PullOutcome> {
        // Before the store is opened: a harvest host's store is never replaced.
        self.refuse_unless_viewer()?;
        let (lock, mut store) = super::open_for_harvest(&self.shared.settings.local)?;
        if let Some(hook) = request.on_locked {
            hook(&mut store);
        }
        let pulled = async {
            let client = self.vault()?;
            team::pull::pull(
                &client,
                self.vault_settings()?,
                &mut store,
                request.options,
                &self.shared.user,
            )
            .await
            .map_err(OpError::from)
        }
        .await;
        Ok(PullOutcome {
            pulled,
            store: LockedStore { store, _lock: lock },
        })
    }

    fn refuse_unless_viewer(&self) -> OpResult<()> {
        if matches!(self.role(), Role::Viewer(_)) {
            Ok(())
        } else {
            Err(OpError::invalid(
                "pull is for a viewer profile (`source = \"vault\"` or SIMSID_SOURCE=vault): \
                 this profile harvests SIMS ID itself, and in vault mode publishes the team's view",
            ))
        }
    }
}

/// One secret for an explicit reveal or copy.
#[derive(Debug, Clone, Copy)]
pub struct ReadRequest<'a> {
    /// Reveal or copy (the audit record's action).
    pub action: AuditAction,
    pub org: &'a OrgId,
    pub client_id: &'a str,
}

/// The one verify: the credentials `selection` names, the running tally on `progress`.
#[derive(Debug, Clone)]
pub struct VerifyRequest<'a> {
    pub selection: &'a Selection,
    pub progress: Option<UnboundedSender<Tally>>,
}

/// A harvest: the whole list, or one school (`harvest --site ORG`, the console's `u`).
#[derive(Clone, Copy, Default)]
pub struct HarvestRequest<'a> {
    /// One school (organisation id, DfE code or DENI number); `None`: every site.
    pub site: Option<&'a str>,
    pub policy: HarvestPolicy,
    /// List the vault prefix and repair drift (`harvest --reconcile`; vault mode only).
    pub reconcile: bool,
    /// Runs once the store is open under the lock, before fetching.
    pub on_locked: Option<OnLocked<'a>>,
}

impl std::fmt::Debug for HarvestRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HarvestRequest")
            .field("site", &self.site)
            .field("policy", &self.policy)
            .field("reconcile", &self.reconcile)
            .finish_non_exhaustive()
    }
}

/// How a harvest went, with the store it wrote (still under the harvest lock).
pub struct Harvested {
    /// How the run ended (a full harvest as [`SiteEnd::Ran`]), or why it failed once the
    /// store was open (a front end still records that it failed).
    pub end: OpResult<SiteEnd>,
    /// What the vault side did (`None` on a local store).
    pub vault: Option<SinkReport>,
    pub store: LockedStore,
}

/// How a harvest's commit path behaves.
#[derive(Debug, Clone, Copy, Default)]
struct PathOptions {
    reconcile: bool,
    accept_removals: bool,
    /// The harvest's concurrency (the vault's writes use at least the sync's default).
    concurrency: usize,
}

impl Keeper {
    /// The one harvest, for every front end: refused when read-only, on a viewer, or when
    /// the settings are incomplete (before anything is opened); then the store's harvest
    /// lock (exit 6 naming the holder when another harvest has it), the commit path (the
    /// vault first in vault mode), the SIMS client from the remote settings (the
    /// integrator's secret through this keeper) at their concurrency, the run, its commit,
    /// the publish of the team's view and the records. Ctrl-C and the like cancel through
    /// `cancel`.
    pub async fn harvest(
        &self,
        request: HarvestRequest<'_>,
        events: UnboundedSender<HarvestEvent>,
        cancel: Cancel,
    ) -> OpResult<Harvested> {
        self.refuse_if_readonly("harvest")?;
        self.refuse_harvest(request.reconcile)?;
        let concurrency = self.remote_settings()?.concurrency;
        let mut path = self.commit_path(PathOptions {
            reconcile: request.reconcile,
            accept_removals: request.policy.accept_removals,
            concurrency,
        })?;
        let (lock, mut store) = super::open_for_harvest(&self.shared.settings.local)?;
        if let Some(hook) = request.on_locked {
            hook(&mut store);
        }
        let end = self
            .run_harvest(&mut store, &mut path, request, events, cancel)
            .await;
        Ok(Harvested {
            end,
            vault: path.report(),
            store: LockedStore { store, _lock: lock },
        })
    }

    async fn run_harvest(
        &self,
        store: &mut Store,
        path: &mut CommitPath,
        request: HarvestRequest<'_>,
        events: UnboundedSender<HarvestEvent>,
        cancel: Cancel,
    ) -> OpResult<SiteEnd> {
        let remote = self.remote().await?;
        let client = super::sims_client(&remote)?;
        let run = Run {
            options: HarvestOptions {
                concurrency: remote.concurrency,
                retry: remote.retry,
            },
            policy: request.policy,
            user: &self.shared.user,
        };
        match request.site {
            None => super::harvest::run_and_commit(store, client, run, events, cancel, path)
                .await
                .map(SiteEnd::Ran),
            Some(query) => {
                super::harvest::run_site_and_commit(store, client, run, query, events, cancel, path)
                    .await
            }
        }
    }
}

impl Auditor for Keeper {
    fn os_user(&self) -> &str {
        &self.shared.user
    }
    fn vault_identity(&self) -> Option<&str> {
        None
    }
}

/// The commit path of one harvest: the local commit, with one optional vault step before
/// it (the vault written first) whose publish of the team's view follows the commit.
#[derive(Debug, Default)]
pub(crate) struct CommitPath {
    vault: Option<Box<VaultStep>>,
}

/// A harvest host's vault step: the sync before the local commit, then the publish of the
/// team's view after it.
#[derive(Debug)]
struct VaultStep {
    sink: VaultSink,
    client: Arc<VaultClient>,
    settings: VaultSettings,
    /// `--reconcile`: every chunk rewritten and orphaned ones removed.
    repair: bool,
    /// `None` until a publish was tried (or when the run did not commit); the reason when
    /// it failed.
    published: Option<Result<team::Published, String>>,
}

impl CommitPath {
    /// The local store alone (a local profile's harvest, built here for the unit tests).
    #[cfg(test)]
    pub(crate) fn local() -> CommitPath {
        CommitPath::default()
    }
}

/// What a vault-mode harvest adds to its output: the counts, and with `--reconcile` the
/// foreign keys it left alone (`harvest --json`: `"vault"` and `"vault_foreign"`).
#[derive(Debug, Clone, Default)]
pub struct SinkReport {
    pub counts: VaultCounts,
    pub foreign: Option<Vec<String>>,
    /// How publishing the team's view went (`None`: not tried, the run did not commit).
    pub view: Option<Result<team::Published, String>>,
}

impl CommitPath {
    /// What the vault side did (`None` for the local store).
    fn report(&self) -> Option<SinkReport> {
        self.vault.as_ref().map(|v| SinkReport {
            counts: v.sink.counts,
            foreign: v.sink.reconciling().then(|| v.sink.foreign.clone()),
            view: v.published.clone(),
        })
    }
}

impl CommitSink for CommitPath {
    fn sync(
        &mut self,
        run: ToSync<'_>,
        summary: &mut RunSummary,
    ) -> impl std::future::Future<Output = OpResult<Synced>> {
        match &mut self.vault {
            None => Either::Left(std::future::ready(Ok(Synced::default()))),
            Some(v) => Either::Right(v.sink.sync(run, summary)),
        }
    }

    fn identity(&self) -> Option<String> {
        self.vault.as_ref().and_then(|v| v.sink.identity())
    }

    fn publishes_view(&self) -> bool {
        self.vault.is_some()
    }

    fn publish_view(
        &mut self,
        view: team::View,
        previous: Option<crate::store::PublishedMark>,
        run_id: uuid::Uuid,
    ) -> impl std::future::Future<Output = Option<(crate::store::PublishedMark, Option<String>)>>
    {
        match &mut self.vault {
            None => Either::Left(std::future::ready(None)),
            Some(v) => Either::Right(v.publish(view, previous, run_id)),
        }
    }
}

impl VaultStep {
    /// The after-commit hook: publishes the team's view and keeps how it went for the
    /// front end; the store remembers what was published (`None`: nothing was).
    async fn publish(
        &mut self,
        view: team::View,
        previous: Option<crate::store::PublishedMark>,
        run_id: uuid::Uuid,
    ) -> Option<(crate::store::PublishedMark, Option<String>)> {
        let published = team::publish_view(
            &self.client,
            &self.settings,
            view,
            previous,
            run_id,
            self.repair,
        )
        .await;
        match published {
            Ok((published, mark, identity)) => {
                self.published = Some(Ok(published));
                Some((mark, identity))
            }
            Err(e) => {
                tracing::warn!(error = %e, "the team's view was not published");
                self.published = Some(Err(e.to_string()));
                None
            }
        }
    }
}

/// Local mode: each secret unsealed from the store.
struct Unsealed<'a, A> {
    store: &'a A,
}

impl<A: StoreAccess> SecretSource for Unsealed<'_, A> {
    fn secret<'a>(
        &'a self,
        org: &'a OrgId,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<(SecretString, Fingerprint), String>> {
        let found = self.store.with_store(|s| {
            let secret = s.secret(org, client_id)?;
            let fp = s.fingerprint(&secret);
            Ok((secret, fp))
        });
        std::future::ready(found.map_err(|e| e.to_string())).boxed()
    }
}

/// Vault mode: each secret read from the vault with the current identity (a `403` or a
/// missing key is that credential's error).
struct FromVault<'a> {
    client: &'a VaultClient,
    settings: &'a VaultSettings,
    fingerprinter: crate::store::Fingerprinter,
    /// On a viewer, the view's fingerprints by vault version (the host's, not this store's).
    view_marks: Option<crate::domain::VaultMarks>,
}

impl SecretSource for FromVault<'_> {
    fn secret<'a>(
        &'a self,
        org: &'a OrgId,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<(SecretString, Fingerprint), String>> {
        async move {
            let read =
                vault_ops::read_credential_version(self.client, self.settings, org, client_id)
                    .await
                    .map_err(|e| e.to_string())?;
            let fp = match &self.view_marks {
                None => self.fingerprinter.fingerprint(&read.data.secret),
                Some(marks) => match marks.get(&(org.clone(), client_id.to_string())) {
                    Some(m) if m.version == read.version => m.fingerprint.clone(),
                    _ => team::host_fingerprint(
                        self.client,
                        self.settings,
                        org,
                        client_id,
                        read.version,
                    )
                    .await
                    .unwrap_or_else(|| self.fingerprinter.fingerprint(&read.data.secret)),
                },
            };
            Ok((read.data.secret, fp))
        }
        .boxed()
    }
}

/// The most of a vault address the header shows.
const ADDRESS_MAX: usize = 32;

/// `https://bao-1.example.org:8200, https://bao-2…` as `bao-1.example.org:8200 +1`.
fn short_address(addrs: &str) -> String {
    let mut nodes = addrs.split(',').map(str::trim).filter(|a| !a.is_empty());
    let first = nodes.next().unwrap_or_default();
    let more = nodes.count();
    let bare = first
        .strip_prefix("https://")
        .or_else(|| first.strip_prefix("http://"))
        .unwrap_or(first)
        .trim_end_matches('/');
    let bare = crate::words::truncate(&crate::sanitize::for_terminal(bare), ADDRESS_MAX);
    match more {
        0 => bare,
        n => format!("{bare} +{n}"),
    }
}
