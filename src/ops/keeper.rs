//! The one keeper of secrets (design.md): where a school's secret lives is decided once, when
//! the settings are resolved, and every operation goes through the profile's keeper —
//! reveal, copy, verify, the harvest's commit sink, the integrator's own secret. The front
//! ends never ask which mode they are in. The keeper holds one vault session (one
//! [`VaultClient`]: login, renewal, the retry budget and the memory of an outage) shared by
//! every operation of the profile.

use std::sync::{Arc, Mutex, OnceLock};

use futures::future::{BoxFuture, Either};
use futures::FutureExt;
use secrecy::SecretString;
use tokio::sync::mpsc::UnboundedSender;

use super::harvest::{CommitSink, HarvestPolicy, LocalOnly, Run, SiteEnd, Synced, ToSync};
use super::vault_sync::{VaultCounts, VaultSink, SYNC_CONCURRENCY};
use super::verify_many::{self, SecretSource, Selection, Tally, Verified};
use super::{secrets, team, vault_ops, Context, OpError, OpResult};
use crate::config::{RemoteSettings, Settings};
use crate::domain::{AuditAction, Fingerprint, OrgId, RunSummary};
use crate::harvest::{Cancel, HarvestEvent, HarvestOptions, RetryPolicy};
use crate::sims::SimsClient;
use crate::store::Store;
use crate::vault::{SecretsMode, VaultClient, VaultSettings};

/// Where the schools' secrets live, as the console's header says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretsPlace {
    /// Sealed in the local store.
    LocalStore,
    /// In the vault at these addresses.
    Vault(String),
    /// A viewer: the team's view pulled from the vault at these addresses, where the
    /// secrets are read too.
    View(String),
}

/// The profile's keeper of secrets. Cheap to clone: clones share the vault session.
#[derive(Clone)]
pub struct Keeper {
    shared: Arc<Shared>,
}

struct Shared {
    kind: Kind,
    /// The vault settings, when any are configured (vault mode, or the integrator's secret
    /// read from the vault in local mode).
    vault: Option<VaultSettings>,
    /// The one vault client, made on first use (no request is made to make it).
    session: OnceLock<Result<Arc<VaultClient>, String>>,
    /// The remote settings with the integrator's secret read (once) from the vault.
    remote: tokio::sync::OnceCell<RemoteSettings>,
}

/// The kinds of keeper: a new mode is a new kind here, not a branch in every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `secrets = "local"`: sealed in the store.
    Local,
    /// `secrets = "vault"`: the vault is the system of record; the store keeps metadata.
    /// A harvest publishes the team's view (vault.md "Team mode").
    Vault,
    /// `source = "vault"`: a viewer of the team's view. The store is a cache of the view
    /// the harvest host published (`pull`); secrets are read from the vault with the
    /// person's identity; no harvest.
    Viewer,
}

impl std::fmt::Debug for Keeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keeper")
            .field("kind", &self.shared.kind)
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
    /// The keeper `settings` describe (no request made, nothing opened).
    pub fn new(settings: &Settings) -> Keeper {
        let kind = match (settings.source, settings.secrets) {
            (crate::config::Source::Vault, _) => Kind::Viewer,
            (_, SecretsMode::Local) => Kind::Local,
            (_, SecretsMode::Vault) => Kind::Vault,
        };
        Keeper {
            shared: Arc::new(Shared {
                kind,
                vault: settings.vault.clone(),
                session: OnceLock::new(),
                remote: tokio::sync::OnceCell::new(),
            }),
        }
    }

    /// Where the schools' secrets live (the console's header).
    pub fn place(&self) -> SecretsPlace {
        match (self.shared.kind, &self.shared.vault) {
            (Kind::Local, _) => SecretsPlace::LocalStore,
            (Kind::Vault, Some(v)) => SecretsPlace::Vault(v.addrs.join(", ")),
            (Kind::Viewer, Some(v)) => SecretsPlace::View(v.addrs.join(", ")),
            (Kind::Vault | Kind::Viewer, None) => SecretsPlace::Vault("(not configured)".into()),
        }
    }

    /// `vault check`'s lines on what this profile needs of the vault: a viewer's read of
    /// the team's view (and whether it may also read secrets), or a harvest host's
    /// capabilities under the prefix.
    pub async fn needs_checks(
        &self,
        client: &VaultClient,
        settings: &VaultSettings,
    ) -> Vec<(String, Result<String, String>)> {
        match self.shared.kind {
            Kind::Viewer => team::check_viewer(client, settings).await,
            Kind::Local | Kind::Vault => vault_ops::check_harvester(client, settings).await,
        }
    }

    /// In vault mode, the note for secrets still sealed in the local store (vault.md sync
    /// rule 10: the next harvest moves them); `None` otherwise, or with no store yet.
    pub fn sealed_remaining(&self, ctx: &Context) -> Option<String> {
        match self.shared.kind {
            Kind::Local | Kind::Viewer => None,
            Kind::Vault => vault_ops::sealed_remaining(ctx),
        }
    }

    /// The vault settings, or the usage error saying what to set.
    pub fn vault_settings(&self) -> OpResult<&VaultSettings> {
        let v = self.shared.vault.as_ref().ok_or_else(|| {
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
    pub async fn remote(&self, ctx: &Context) -> OpResult<RemoteSettings> {
        let remote = ctx.remote()?;
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

    /// One secret for an explicit reveal or copy, audited (OS user, and the vault identity
    /// when it came from the vault). The store is lent only for the unseal or the record.
    pub async fn read(
        &self,
        ctx: &Context,
        store: &impl StoreAccess,
        action: AuditAction,
        org: &OrgId,
        client_id: &str,
    ) -> OpResult<SecretString> {
        ctx.refuse_if_readonly(action.as_str())?;
        match self.shared.kind {
            Kind::Local => store.with_store(|s| {
                // Fails when the store does not hold it (before anything is audited).
                secrets::unseal_audited(s, ctx, action, org, client_id)
            }),
            Kind::Vault => {
                let client = self.vault()?;
                let settings = self.vault_settings()?;
                let read = vault_ops::read_for_reveal(settings, &client, org, client_id).await?;
                store.with_store(|s| {
                    vault_ops::audit_vault_read(s, ctx, action, org, client_id, &read)
                })?;
                Ok(read.secret)
            }
            Kind::Viewer => {
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
                        ctx,
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
        ctx: &Context,
        store: &impl StoreAccess,
        selection: &Selection,
        progress: Option<UnboundedSender<Tally>>,
    ) -> OpResult<(Verified, usize)> {
        ctx.refuse_if_readonly("verify")?;
        let targets = store.with_store(|s| verify_many::targets(s, selection))?;
        // The STS alone: each school's own credential, never the integrator's (cli.md).
        let sims = SimsClient::new(ctx.settings.verify.clone())
            .map_err(|e| OpError::failed(format!("cannot build the SIMS ID client: {e}")))?;
        let concurrency = ctx
            .settings
            .remote
            .as_ref()
            .map_or(crate::config::DEFAULT_CONCURRENCY, |r| r.concurrency);
        // The one loop; only where each secret comes from differs.
        let unsealed;
        let from_vault;
        let client;
        let (source, identity): (&dyn SecretSource, Option<String>) = match self.shared.kind {
            Kind::Local => {
                unsealed = Unsealed { store };
                (&unsealed, None)
            }
            Kind::Vault | Kind::Viewer => {
                client = self.vault()?;
                // Fails the verify only when the identity cannot be looked up at all (a
                // wrong or expired token); a credential it may not read is that one's error.
                let identity = client.identity().await?;
                let fingerprinter = store.with_store(|s| Ok(s.fingerprinter()))?;
                // A viewer names the host's fingerprints (the view's, by version).
                let view_marks = match self.shared.kind {
                    Kind::Viewer => Some(store.with_store(|s| Ok(s.vault_marks()?))?),
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
        let found = verify_many::verify_many(
            &sims,
            source,
            &targets.targets,
            concurrency,
            RetryPolicy::default(),
            progress,
        )
        .await;
        store.with_store(|s| verify_many::audit_checks(s, ctx, &found, identity.as_deref()))?;
        Ok((found, targets.not_held))
    }

    /// The commit sink of a harvest: the store alone, or the vault written first.
    /// `reconcile` (repairing the vault) needs vault mode (a usage error otherwise).
    pub fn sink(&self, options: SinkOptions) -> OpResult<Sink> {
        match self.shared.kind {
            Kind::Viewer => Err(OpError::invalid(team::HARVEST_ON_VIEWER)),
            Kind::Local if options.reconcile => Err(OpError::invalid(
                "--reconcile repairs the vault: it needs vault mode (`secrets = \"vault\"` or SIMSID_SECRETS=vault)",
            )),
            Kind::Local => Ok(Sink::Local(LocalOnly)),
            Kind::Vault => {
                let sink = VaultSink::new(self.vault()?, self.vault_settings()?, options.reconcile)
                    .with_concurrency(options.concurrency.max(SYNC_CONCURRENCY))
                    .accepting_removals(options.accept_removals);
                // Every committed run also publishes the team's view (vault.md "Team mode").
                let sink = team::Publishing::new(
                    sink,
                    self.vault()?,
                    self.vault_settings()?,
                    options.reconcile,
                );
                Ok(Sink::Vault(Box::new(sink)))
            }
        }
    }
}

impl Keeper {
    /// A viewer's pull (`simsid pull`): the published view into `store` (the caller holds
    /// the harvest lock); one request when unchanged; a missing or altered chunk fails and
    /// leaves the store as it was. A usage error on a profile that harvests.
    pub async fn pull(
        &self,
        store: &mut Store,
        options: team::PullOptions,
    ) -> OpResult<team::Pulled> {
        self.refuse_unless_viewer()?;
        let client = self.vault()?;
        team::pull(&client, self.vault_settings()?, store, options).await
    }

    /// The vault half of a pull, holding no store (the console pulls in the background):
    /// `known` and `cached` from [`Store::pulled`] and [`Store::view_chunks`]; write a
    /// changed view with [`Store::replace_with_view`].
    pub async fn fetch_view(
        &self,
        known: Option<crate::store::PulledMark>,
        cached: std::collections::HashMap<String, String>,
        accept_older: bool,
    ) -> OpResult<team::Fetched> {
        self.refuse_unless_viewer()?;
        let client = self.vault()?;
        team::fetch_view(
            &client,
            self.vault_settings()?,
            known.as_ref(),
            cached,
            accept_older,
        )
        .await
    }

    /// The refusal of a pull on a profile that harvests (`Ok` on a viewer).
    pub fn pull_refused(&self) -> OpResult<()> {
        self.refuse_unless_viewer()
    }

    fn refuse_unless_viewer(&self) -> OpResult<()> {
        if self.shared.kind == Kind::Viewer {
            Ok(())
        } else {
            Err(OpError::invalid(
                "pull is for a viewer profile (`source = \"vault\"` or SIMSID_SOURCE=vault): \
                 this profile harvests SIMS ID itself, and in vault mode publishes the team's view",
            ))
        }
    }
}

/// What to harvest: the whole list, or one school (`harvest --site ORG`, the console's `u`).
#[derive(Debug, Clone, Copy, Default)]
pub struct HarvestRequest<'a> {
    /// One school (organisation id, DfE code or DENI number); `None`: every site.
    pub site: Option<&'a str>,
    pub policy: HarvestPolicy,
}

impl Keeper {
    /// The one assembly of a harvest, for both front ends: the SIMS client from the remote
    /// settings (the integrator's secret through this keeper), the run's options, and
    /// `sink` (from [`Keeper::sink`]) taking it before the local commit. The caller holds
    /// the store's harvest lock. A full harvest ends as [`SiteEnd::Ran`].
    pub async fn harvest(
        &self,
        ctx: &Context,
        store: &mut Store,
        sink: &mut Sink,
        request: HarvestRequest<'_>,
        events: UnboundedSender<HarvestEvent>,
        cancel: Cancel,
    ) -> OpResult<SiteEnd> {
        ctx.refuse_if_readonly("harvest")?;
        let remote = self.remote(ctx).await?;
        let client = super::sims_client(&remote)?;
        let run = Run {
            options: HarvestOptions {
                concurrency: remote.concurrency,
                ..HarvestOptions::default()
            },
            policy: request.policy,
            user: &ctx.user,
        };
        match request.site {
            None => super::harvest_and_commit_via(store, client, run, events, cancel, sink)
                .await
                .map(SiteEnd::Ran),
            Some(query) => {
                super::harvest_site_via(store, client, run, query, events, cancel, sink).await
            }
        }
    }
}

/// How a harvest's sink should behave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkOptions {
    /// List the vault prefix and repair drift (`harvest --reconcile`).
    pub reconcile: bool,
    /// Take the removals the guard would hold (`--accept-removals`).
    pub accept_removals: bool,
    /// The harvest's concurrency (the vault's writes use at least the sync's default).
    pub concurrency: usize,
}

/// The sink a keeper gives a harvest.
#[derive(Debug)]
pub enum Sink {
    /// The local store alone.
    Local(LocalOnly),
    /// The vault first, then the store; then the team's view is published.
    Vault(Box<team::Publishing<VaultSink>>),
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

impl Sink {
    /// What the vault side did (`None` for the local store).
    pub fn report(&self) -> Option<SinkReport> {
        match self {
            Sink::Local(_) => None,
            Sink::Vault(v) => Some(SinkReport {
                counts: v.inner.counts,
                foreign: v.inner.reconciling().then(|| v.inner.foreign.clone()),
                view: v.outcome.clone(),
            }),
        }
    }
}

impl CommitSink for Sink {
    fn sync(
        &mut self,
        run: ToSync<'_>,
        summary: &mut RunSummary,
    ) -> impl std::future::Future<Output = OpResult<Synced>> {
        match self {
            Sink::Local(s) => Either::Left(s.sync(run, summary)),
            Sink::Vault(v) => Either::Right(v.sync(run, summary)),
        }
    }

    fn identity(&self) -> Option<String> {
        match self {
            Sink::Local(s) => s.identity(),
            Sink::Vault(v) => v.identity(),
        }
    }

    fn publishes_view(&self) -> bool {
        match self {
            Sink::Local(s) => s.publishes_view(),
            Sink::Vault(v) => v.publishes_view(),
        }
    }

    fn publish_view(
        &mut self,
        view: crate::view::View,
        previous: Option<crate::store::PublishedMark>,
        run_id: uuid::Uuid,
    ) -> impl std::future::Future<Output = Option<(crate::store::PublishedMark, Option<String>)>>
    {
        match self {
            Sink::Local(s) => Either::Left(s.publish_view(view, previous, run_id)),
            Sink::Vault(v) => Either::Right(v.publish_view(view, previous, run_id)),
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
