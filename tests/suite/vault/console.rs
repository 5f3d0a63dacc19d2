//! The console in vault mode, headless, against a real OpenBao (`bao server -dev`, started
//! here) and the in-process simulator, over the real `ConsoleServices` (store, SIMS client,
//! vault). One test runs the real runtime (`tui::run_headless`: keys in, frames and OSC 52
//! out); the others step the real `App` and run its effects against the services as the
//! runtime does, so that they can assert on the app's state after each key (the copy goes
//! to a buffer instead of the terminal). Harvest writes the vault; reveal, copy and verify
//! (site screen and exposure view) read it with the current identity and audit it; a `403`
//! is a clear flash with no secret anywhere.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use crate::support::common;
use crate::support::team_env::host_env_as;
use crate::support::tui_support::{console_services, Shared};
use crate::support::vault_support;

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use secrecy::ExposeSecret;
use simsid::cli::console::ConsoleServices;
use simsid::domain::{AuditAction, OrgId};
use simsid::ops::verify::CredentialCheck;
use simsid::tui::app::Screen;
use simsid::tui::theme::Theme;
use simsid::tui::{draw, osc52, strings, Action, App, ConsoleOptions, Effect, Services};
use tokio_util::sync::CancellationToken;
use vault_support::{served, shared, ROOT_TOKEN};

/// The app and the services it drives, run without a terminal.
struct Console {
    app: App,
    services: Arc<ConsoleServices>,
    /// What the copy wrote where the terminal would be (OSC 52).
    clipboard: Vec<u8>,
    /// Every effect run, in order.
    ran: Vec<Effect>,
    /// The checks of the last exposure-view verify.
    listed: Option<Vec<CredentialCheck>>,
}

impl Console {
    fn new(services: Arc<ConsoleServices>) -> Self {
        let overview = services.overview().unwrap();
        let mut app = App::new(
            overview,
            ConsoleOptions { readonly: false },
            Theme::new(false),
            Instant::now(),
        );
        app.update(Action::Resize {
            width: 120,
            height: 40,
        });
        Console {
            app,
            services,
            clipboard: Vec::new(),
            ran: Vec::new(),
            listed: None,
        }
    }

    /// Presses a key and runs what it asks for, feeding the answers back.
    async fn key(&mut self, code: KeyCode) {
        let fx = self.app.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
        self.run(fx).await;
    }

    async fn ch(&mut self, c: char) {
        self.key(KeyCode::Char(c)).await;
    }

    /// Runs effects as the terminal runtime does, until none is left (bounded).
    async fn run(&mut self, effects: Vec<Effect>) {
        let mut queue: std::collections::VecDeque<Effect> = effects.into();
        let mut steps = 0;
        while let Some(effect) = queue.pop_front() {
            steps += 1;
            assert!(steps < 64, "effects keep coming: {effect:?}");
            self.ran.push(effect.clone());
            let action = self.execute(effect).await;
            if let Some(action) = action {
                queue.extend(self.app.update(action));
            }
        }
    }

    async fn execute(&mut self, effect: Effect) -> Option<Action> {
        let s = self.services.clone();
        let message = |e: anyhow::Error| format!("{e:#}");
        Some(match effect {
            Effect::LoadOverview | Effect::LoadAllSites => {
                Action::OverviewLoaded(s.overview().map_err(message))
            }
            Effect::LoadSite(org) => {
                let result = s.site(&org).map_err(message);
                Action::SiteLoaded { org, result }
            }
            Effect::LoadRuns => Action::RunsLoaded(s.runs().map_err(message)),
            Effect::Reveal { org, client_id } => {
                let result = s.reveal(&org, &client_id).await.map_err(message);
                Action::Revealed {
                    org,
                    client_id,
                    result,
                }
            }
            Effect::Copy { org, client_id } => {
                let result = match s.copy_secret(&org, &client_id).await {
                    Ok(secret) => osc52::write_osc52(
                        &mut self.clipboard,
                        secret.expose_secret().as_bytes(),
                        false,
                    )
                    .map_err(|e| e.to_string()),
                    Err(e) => Err(message(e)),
                };
                Action::Copied {
                    org,
                    client_id,
                    result,
                }
            }
            Effect::ClearClipboard => {
                osc52::write_clear(&mut self.clipboard, false).unwrap();
                return None;
            }
            Effect::Verify(org) => {
                let result = s.verify(&org).await.map_err(message);
                Action::Verified { org, result }
            }
            Effect::StartHarvest => {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let result = s
                    .harvest(tx, CancellationToken::new().into())
                    .await
                    .map_err(message);
                let mut batch = Vec::new();
                while let Ok(ev) = rx.try_recv() {
                    batch.push(ev);
                }
                let more = self.app.update(Action::Harvest(batch));
                assert!(more.is_empty(), "{more:?}");
                Action::HarvestFinished(result)
            }
            Effect::StartSiteHarvest(org) => {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let result = s
                    .harvest_site(&org, tx, CancellationToken::new().into())
                    .await
                    .map_err(message);
                let mut batch = Vec::new();
                while let Ok(ev) = rx.try_recv() {
                    batch.push(ev);
                }
                let more = self.app.update(Action::Harvest(batch));
                assert!(more.is_empty(), "{more:?}");
                Action::HarvestFinished(result)
            }
            Effect::CheckSecretsAccess => Action::SecretsAccess(s.may_read_secrets().await),
            Effect::LoadExposures => Action::ExposuresLoaded(s.exposures().map_err(message)),
            Effect::LoadSiteExposure(org) => {
                let result = s.site_exposures(&org).map_err(message);
                Action::SiteExposureLoaded { org, result }
            }
            Effect::VerifyListed(list) => {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let result = s.verify_listed(list, tx).await.map_err(message);
                while let Ok(tally) = rx.try_recv() {
                    let more = self.app.update(Action::ListedVerifyProgress(tally));
                    assert!(more.is_empty(), "{more:?}");
                }
                self.listed = result.as_ref().ok().cloned();
                Action::ListedVerified(result)
            }
            Effect::Pull => Action::Pulled(s.pull().await.map_err(message)),
            Effect::CancelHarvest | Effect::SwitchProfile(_) | Effect::Quit => return None,
        })
    }

    /// The screen as text.
    fn screen(&self) -> String {
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
        terminal.draw(|f| draw::draw(&self.app, f)).unwrap();
        let buffer = terminal.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..buffer.area.height {
            for x in 0..buffer.area.width {
                out.push_str(buffer[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    fn flash(&self) -> String {
        self.app.flash().map(|f| f.text.clone()).unwrap_or_default()
    }

    /// Opens the site `org` from the list (the first row after filtering by its id).
    async fn open(&mut self, org: &OrgId) {
        for _ in 0..5 {
            if matches!(self.app.screen(), Screen::Sites) {
                break;
            }
            self.key(KeyCode::Esc).await;
        }
        self.ch('/').await;
        for c in org.as_str().chars() {
            self.ch(c).await;
        }
        self.key(KeyCode::Enter).await;
        self.key(KeyCode::Enter).await;
        assert_eq!(
            self.app.site_screen().map(|v| v.org.clone()),
            Some(org.clone()),
            "{}",
            self.screen()
        );
    }

    /// The client id of the credential `r`/`c` act on (the last reveal or copy asked for).
    fn last_read(&self) -> (OrgId, String) {
        self.ran
            .iter()
            .rev()
            .find_map(|e| match e {
                Effect::Reveal { org, client_id } | Effect::Copy { org, client_id } => {
                    Some((org.clone(), client_id.clone()))
                }
                _ => None,
            })
            .expect("a reveal or copy ran")
    }
}

fn secret_of(all: &[(OrgId, String, String)], org: &OrgId, client_id: &str) -> String {
    all.iter()
        .find(|(o, c, _)| o == org && c == client_id)
        .map(|(_, _, s)| s.clone())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_harvests_into_the_vault_and_reads_it_for_reveal_copy_and_verify() {
    let bao = shared().await;
    let sim = simulator(5, 51).await;
    let ts = TempStore::new();
    let prefix = "t/console";
    let env = host_env_as(&sim, &ts, &bao, prefix, ROOT_TOKEN);
    let mut console = Console::new(console_services(&env, ts.dir.path()));

    // R y: the console's harvest writes every credential to the vault, none to the store.
    console.ch('R').await;
    console.ch('y').await;
    assert!(console.ran.contains(&Effect::StartHarvest));
    assert!(!console.flash().contains("failed"), "{}", console.flash());
    let all = served(&sim);
    let mut want: Vec<String> = all
        .iter()
        .map(|(o, c, _)| simsid::vault::path::credential_key(prefix, o, c))
        .collect();
    want.sort();
    assert_eq!(bao.keys(prefix).await, want);
    for (o, c, secret) in &all {
        let (data, _) = bao
            .read(&simsid::vault::path::credential_key(prefix, o, c))
            .await
            .unwrap();
        assert_eq!(data["secret"], serde_json::json!(secret));
    }
    assert_eq!(ts.open().sealed_secret_count().unwrap(), 0);
    assert_eq!(console.app.sites().rows().len(), 5, "the list reloaded");

    // r y on a site: the secret read from the vault is on screen; the audit names the
    // vault identity.
    let org = all[0].0.clone();
    console.open(&org).await;
    console.ch('r').await;
    console.ch('y').await;
    let (o, client_id) = console.last_read();
    assert_eq!(o, org);
    let secret = secret_of(&all, &org, &client_id);
    assert!(console.screen().contains(&secret), "{}", console.screen());
    let store = ts.open();
    let last = store.audit().unwrap().pop().unwrap();
    assert_eq!(last.action, AuditAction::Reveal);
    assert_eq!(last.client_id.as_deref(), Some(client_id.as_str()));
    assert_eq!(last.identity.as_deref(), Some("root"));
    assert_eq!(last.detail.as_deref(), Some("vault identity root"));
    assert_eq!(
        last.fingerprint,
        Some(store.fingerprint(&secret.clone().into()))
    );

    // c: the secret goes to the clipboard (OSC 52), audited as a copy.
    console.ch('c').await;
    assert_eq!(console.last_read(), (org.clone(), client_id.clone()));
    let encoded = base64::engine::general_purpose::STANDARD.encode(&secret);
    let written = String::from_utf8(console.clipboard.clone()).unwrap();
    assert!(
        written.contains(&encoded),
        "OSC 52 carries the vault's secret"
    );
    let last = ts.open().audit().unwrap().pop().unwrap();
    assert_eq!(
        (last.action, last.identity.as_deref()),
        (AuditAction::Copy, Some("root"))
    );

    // v: the site's credentials are verified with the vault's secrets.
    console.ch('v').await;
    assert!(console.ran.contains(&Effect::Verify(org.clone())));
    let verified = console
        .app
        .site_screen()
        .and_then(|v| v.verify.clone())
        .unwrap();
    match verified {
        simsid::tui::app::site::VerifyState::Done(results) => {
            assert!(!results.is_empty());
            assert!(results.iter().all(|r| r.ok), "{results:?}");
        }
        other => panic!("{other:?}"),
    }

    // The exposure view's v verifies what was revealed and copied, read from the vault.
    console.key(KeyCode::Esc).await;
    console.ch('e').await;
    console.ch('v').await;
    let listed = console
        .ran
        .iter()
        .find_map(|e| match e {
            Effect::VerifyListed(list) => Some(list.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(listed, vec![(org.clone(), client_id.clone())]);
    let screen = console.screen();
    assert!(
        screen.contains("verified 1/1: 1 ok, 0 refused, 0 error(s)"),
        "{screen}"
    );
    let verifies: Vec<_> = ts
        .open()
        .audit()
        .unwrap()
        .into_iter()
        .filter(|e| e.action == AuditAction::Verify)
        .collect();
    assert!(verifies.len() >= 2);
    for v in &verifies {
        assert!(
            v.detail
                .as_deref()
                .unwrap()
                .ends_with("; vault identity root"),
            "{v:?}"
        );
    }

    // Nothing of it reached the local files (store, log).
    for (path, bytes) in all_file_bytes(ts.dir.path()) {
        for (_, _, s) in &all {
            assert!(!contains_bytes(&bytes, s.as_bytes()), "{}", path.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_read_the_identity_may_not_make_is_a_clear_flash_without_the_secret() {
    let bao = shared().await;
    let sim = simulator(3, 52).await;
    let ts = TempStore::new();
    let prefix = "t/console403";
    let env = host_env_as(&sim, &ts, &bao, prefix, ROOT_TOKEN);
    assert_eq!(code(&simsid(&env, &["harvest"]).await), 0);
    let all = served(&sim);
    let org = all[0].0.clone();
    // An exposure to verify later (revealed with the harvester's identity).
    assert_eq!(
        code(&simsid(&env, &["show", org.as_str(), "--reveal"]).await),
        0
    );
    let audit_before = ts.open().audit().unwrap().len();

    // The console with an identity that may look itself up but read nothing.
    let weak = bao.token_with(&["default"]).await;
    let env = host_env_as(&sim, &ts, &bao, prefix, &weak);
    let mut console = Console::new(console_services(&env, ts.dir.path()));
    console.open(&org).await;
    let may_not = "your vault identity may not read this credential";
    console.ch('r').await;
    console.ch('y').await;
    assert!(console.flash().contains(may_not), "{}", console.flash());
    assert!(console.app.site_screen().unwrap().revealed.is_none());
    console.ch('c').await;
    assert!(console.flash().contains(may_not), "{}", console.flash());
    assert!(console.clipboard.is_empty(), "nothing was copied");
    console.ch('v').await;
    assert!(console.flash().contains(may_not) || console.screen().contains(may_not));
    let screen_site = console.screen();

    console.key(KeyCode::Esc).await;
    console.ch('e').await;
    console.ch('v').await;
    let screen = console.screen();
    // Every credential of the revealed site is exposed; none could be read.
    let n = all.iter().filter(|(o, _, _)| o == &org).count();
    assert!(
        screen.contains(&format!("verified {n}/{n}: 0 ok, 0 refused, {n} error(s)")),
        "{screen}"
    );
    let checks = console.listed.clone().expect("the exposure view verified");
    assert_eq!(checks.len(), n);
    for c in &checks {
        assert_eq!(c.outcome.error(), Some(may_not), "{c:?}");
    }
    let trail = ts.open().audit().unwrap();
    assert!(
        trail[audit_before..]
            .iter()
            .all(|e| e.action == AuditAction::Verify),
        "a refused read reveals and copies nothing: {:?}",
        &trail[audit_before..]
    );
    for (_, _, s) in &all {
        assert!(!screen.contains(s.as_str()));
        assert!(!screen_site.contains(s.as_str()));
        assert!(!console.flash().contains(s.as_str()));
    }
    assert!(!screen.contains(&weak));
}

/// Waits (at most 60 s, in 20 ms steps) until `done` holds: observes, never orders.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..3000 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_console_runtime_harvests_into_the_vault_and_reads_it() {
    use crossterm::event::Event;
    let bao = shared().await;
    let sim = simulator(4, 53).await;
    let ts = TempStore::new();
    let prefix = "t/consoleruntime";
    let env = host_env_as(&sim, &ts, &bao, prefix, ROOT_TOKEN);
    let services: Arc<dyn Services> = console_services(&env, ts.dir.path());
    let out = Shared::default();
    let (keys, input) = tokio::sync::mpsc::unbounded_channel();
    let console = tokio::spawn(simsid::tui::run_headless(
        services,
        ConsoleOptions { readonly: false },
        (120, 40),
        input,
        out.clone(),
    ));
    let press = |code: KeyCode| {
        keys.send(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
            .unwrap()
    };

    // R y: the runtime's harvest task writes the vault, then the store (no secret in it).
    press(KeyCode::Char('R'));
    press(KeyCode::Char('y'));
    until("the harvest to end", || out.contains(b"harvest complete")).await;
    let all = served(&sim);
    assert_eq!(bao.keys(prefix).await.len(), all.len());
    assert_eq!(ts.open().sealed_secret_count().unwrap(), 0);

    // :goto ORG, r y: the secret read from the vault is drawn; the audit names the identity.
    let org = all[0].0.clone();
    press(KeyCode::Esc);
    press(KeyCode::Char(':'));
    for c in format!("goto {}", org.as_str()).chars() {
        press(KeyCode::Char(c));
    }
    press(KeyCode::Enter);
    press(KeyCode::Char('r'));
    press(KeyCode::Char('y'));
    let last_audit = |action: AuditAction| {
        ts.open()
            .audit()
            .unwrap()
            .into_iter()
            .rev()
            .find(|e| e.action == action)
    };
    until("the reveal's audit record", || {
        last_audit(AuditAction::Reveal).is_some()
    })
    .await;
    let reveal = last_audit(AuditAction::Reveal).unwrap();
    assert_eq!(reveal.organisation_id.as_ref(), Some(&org));
    assert_eq!(reveal.identity.as_deref(), Some("root"));
    let client_id = reveal.client_id.clone().unwrap();
    let secret = secret_of(&all, &org, &client_id);
    until("the revealed secret on screen", || {
        out.contains(secret.as_bytes())
    })
    .await;

    // c: the vault's secret goes out as OSC 52 (and is audited as a copy).
    press(KeyCode::Char('c'));
    let mut seq = b"\x1b]52;c;".to_vec();
    seq.extend_from_slice(
        base64::engine::general_purpose::STANDARD
            .encode(&secret)
            .as_bytes(),
    );
    until("the OSC 52 copy", || out.contains(&seq)).await;
    let copy = last_audit(AuditAction::Copy).unwrap();
    assert_eq!(
        (copy.client_id.as_deref(), copy.identity.as_deref()),
        (Some(client_id.as_str()), Some("root"))
    );

    // v: verified with the vault's secrets, each audited with the identity.
    press(KeyCode::Char('v'));
    until("the verify's audit records", || {
        last_audit(AuditAction::Verify).is_some()
    })
    .await;
    press(KeyCode::Char('q'));
    let app = tokio::time::timeout(std::time::Duration::from_secs(30), console)
        .await
        .expect("the console quits")
        .unwrap()
        .expect("the console ends without error");
    let verify = last_audit(AuditAction::Verify).unwrap();
    assert!(
        verify
            .detail
            .as_deref()
            .unwrap()
            .starts_with("ok; vault identity root"),
        "{verify:?}"
    );
    assert!(app.should_quit());
    for (path, bytes) in all_file_bytes(ts.dir.path()) {
        for (_, _, s) in &all {
            assert!(!contains_bytes(&bytes, s.as_bytes()), "{}", path.display());
        }
    }
}

/// A vault that accepts connections and never answers: it holds every connection open and
/// counts them.
struct SilentVault {
    addr: String,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl SilentVault {
    async fn start() -> SilentVault {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            // Bounded: a test makes a handful of connections.
            while held.len() < 1000 {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                held.push(socket);
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        SilentVault {
            addr,
            accepted,
            task,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for SilentVault {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_keeps_answering_keys_while_the_vault_never_answers() {
    use crossterm::event::Event;
    let sim = simulator(3, 57).await;
    let ts = TempStore::new();
    // A store with sites (harvested in local mode), then the console in vault mode on a vault
    // that accepts connections and never answers.
    let local = env_for(&sim, &ts);
    let o = simsid(&local, &["harvest"]).await;
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let silent = SilentVault::start().await;
    let mut env = local.clone();
    env.insert("SIMSID_SECRETS".into(), "vault".into());
    env.insert("VAULT_ADDR".into(), silent.addr.clone());
    env.insert("VAULT_TOKEN".into(), "never-checked".into());
    env.insert("SIMSID_VAULT_PREFIX".into(), "t/silent".into());
    let services: Arc<dyn Services> = console_services(&env, ts.dir.path());
    let org = ts.open().sites().unwrap()[0].site.org_id.clone();

    let out = Shared::default();
    let (keys, input) = tokio::sync::mpsc::unbounded_channel();
    let console = tokio::spawn(simsid::tui::run_headless(
        services,
        ConsoleOptions { readonly: false },
        (120, 40),
        input,
        out.clone(),
    ));
    let press = |code: KeyCode| {
        keys.send(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
            .unwrap()
    };
    let shows = |text: &str| out.screen().contains(text);
    let secrets = format!(
        "secrets: vault {}",
        silent.addr.trim_start_matches("http://")
    );
    until("the sites screen saying where secrets live", || {
        shows(&secrets)
    })
    .await;

    // :goto ORG, r y: the reveal's read reaches the vault, which never answers.
    press(KeyCode::Char(':'));
    for c in format!("goto {}", org.as_str()).chars() {
        press(KeyCode::Char(c));
    }
    press(KeyCode::Enter);
    until("the site screen", || shows(strings::ORGANISATION)).await;
    press(KeyCode::Char('r'));
    press(KeyCode::Char('y'));
    until("the reveal's connection to the vault", || {
        silent.accepted() >= 1
    })
    .await;
    until("the screen saying it reads the vault", || {
        shows("reading the vault…")
    })
    .await;

    // c: the copy's read waits on the vault too, beside the reveal's.
    press(KeyCode::Char('c'));
    until("the copy's connection to the vault", || {
        silent.accepted() >= 2
    })
    .await;

    // Every key still works while both reads wait: ? opens the help, Esc leaves it.
    press(KeyCode::Char('?'));
    until("the help screen", || {
        shows(&format!("› {}", strings::CRUMB_HELP))
    })
    .await;
    press(KeyCode::Esc);
    until("the site screen again", || {
        !shows(&format!("› {}", strings::CRUMB_HELP)) && shows(strings::ORGANISATION)
    })
    .await;

    // q quits at once, with both reads still waiting on the vault.
    press(KeyCode::Char('q'));
    let app = tokio::time::timeout(std::time::Duration::from_secs(30), console)
        .await
        .expect("q is handled while the vault does not answer")
        .unwrap()
        .expect("the console ends without error");
    assert!(app.should_quit());
    assert!(silent.accepted() >= 2, "both reads were still waiting");
    // Nothing was read, so nothing was audited as read.
    let audit = ts.open().audit().unwrap();
    assert!(
        !audit
            .iter()
            .any(|e| matches!(e.action, AuditAction::Reveal | AuditAction::Copy)),
        "{audit:?}"
    );
    assert!(!out.contains(b"\x1b]52;c;"), "no clipboard write");
}
