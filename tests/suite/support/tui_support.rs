//! Fixed fake data and helpers shared by the console tests (no clock, no terminal).
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use futures::future::BoxFuture;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use secrecy::SecretString;
use simsid::domain::AuditAction;
use simsid::domain::{
    AuthorisationChange, ChangeBadge, CredentialRef, CredentialRow, Diff, Fingerprint, OrgId,
    RunStatus, RunSummary, Site, SiteDetail, SiteFailure, SiteRow, VerifyResult,
};
use simsid::exposure::{Exposure, PersonExposures};
use simsid::harvest::{HarvestEnd, HarvestEvent};
use simsid::ops::secrets::CheckOutcome;
use simsid::ops::verify::{CredentialCheck, Tally};
use simsid::tui::theme::Theme;
use simsid::tui::{
    draw, Action, App, Capabilities, ConsoleOptions, Effect, Overview, Services, UserCommand,
};
use tokio::sync::mpsc::UnboundedSender;

pub const ST_MARYS: &str = "207A1392-E1F6-47BA-81DA-6C374971D788";
pub const BRO_DWR: &str = "B1C2D3E4-0000-4000-8000-000000000002";
pub const BELFAST: &str = "C0FFEE00-1111-4222-8333-444455556666";
pub const OAKFIELD: &str = "0A0A0A0A-2222-4333-8444-555566667777";
pub const GRAIG: &str = "9F8E7D6C-5B4A-4938-8271-605948372615";
pub const NORTHGATE: &str = "11111111-2222-4333-8444-000000000006";
pub const REMOVED: &str = "DEADBEEF-0000-4000-8000-0000000000AA";

/// The one secret the fake store holds; it must appear on screen only when revealed.
pub const SECRET: &str = "Zq8#tR2mV9xLp4Kw";
pub const MAIN_CLIENT: &str = "sas-3f9a1c2b-main";
pub const BACKUP_CLIENT: &str = "sas-77d0e4aa-backup";

pub fn org(s: &str) -> OrgId {
    OrgId::parse(s).unwrap()
}

pub fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

#[allow(clippy::too_many_arguments)]
fn row(
    id: &str,
    name: &str,
    dfe: Option<&str>,
    deni: Option<&str>,
    authorised: Option<bool>,
    creds: usize,
    changed: Option<DateTime<Utc>>,
    badge: Option<ChangeBadge>,
) -> SiteRow {
    SiteRow {
        site: Site {
            org_id: org(id),
            name: name.to_string(),
            dfe_code: dfe.map(str::to_string),
            deni_number: deni.map(str::to_string),
            authorised,
        },
        credential_count: creds,
        stale: false,
        last_error: None,
        last_changed: changed,
        badge,
        first_seen: None,
        waiting_since: None,
    }
}

/// Six schools in England, Wales and Northern Ireland.
pub fn sites() -> Vec<SiteRow> {
    let mut oakfield = row(
        OAKFIELD,
        "Oakfield Academy",
        Some("330/4001"),
        None,
        Some(true),
        3,
        Some(at(2026, 6, 2, 11, 20)),
        None,
    );
    oakfield.stale = true;
    oakfield.last_error = Some("timeout after 3 attempts".into());
    vec![
        row(
            ST_MARYS,
            "St Mary's C of E Primary School",
            Some("123/4567"),
            None,
            Some(true),
            2,
            Some(at(2026, 11, 27, 16, 55)),
            Some(ChangeBadge::CredentialsChanged),
        ),
        row(
            BRO_DWR,
            "Ysgol Gymraeg Bro Dŵr",
            Some("667/2001"),
            None,
            Some(true),
            1,
            Some(at(2026, 11, 27, 16, 54)),
            Some(ChangeBadge::Added),
        ),
        row(
            BELFAST,
            "Belfast Royal Academy",
            None,
            Some("142-0021"),
            Some(false),
            0,
            None,
            Some(ChangeBadge::AuthorisationChanged),
        ),
        oakfield,
        row(
            GRAIG,
            "Ysgol y Graig",
            Some("667/2345"),
            None,
            None,
            1,
            Some(at(2025, 9, 1, 8, 0)),
            None,
        ),
        row(
            NORTHGATE,
            "Northgate High School",
            Some("881/4002"),
            None,
            Some(true),
            1,
            Some(at(2026, 2, 14, 9, 30)),
            None,
        ),
    ]
}

/// St Mary's with its two credentials.
pub fn st_marys_detail() -> SiteDetail {
    SiteDetail {
        row: sites().remove(0),
        credentials: vec![
            CredentialRow {
                client_id: MAIN_CLIENT.into(),
                description: Some("Main MIS integration".into()),
                fingerprint: Fingerprint::parse("3fa2c9d1e0b4a7f6").unwrap(),
                first_seen: at(2026, 1, 4, 9, 12),
                last_changed: at(2026, 11, 27, 16, 55),
                stale: false,
                last_error: None,
                vault_fingerprint: None,
                vault_version: None,
            },
            CredentialRow {
                client_id: BACKUP_CLIENT.into(),
                description: Some("Backup sync".into()),
                fingerprint: Fingerprint::parse("9b0e5d7c1a2f3e48").unwrap(),
                first_seen: at(2025, 9, 1, 8, 0),
                last_changed: at(2026, 3, 15, 10, 30),
                stale: false,
                last_error: None,
                vault_fingerprint: None,
                vault_version: None,
            },
        ],
    }
}

pub fn cref(o: &str, client: &str) -> CredentialRef {
    CredentialRef {
        organisation_id: org(o),
        client_id: client.into(),
    }
}

/// The latest run: partial, with one change of every kind but removals.
pub fn latest_run() -> RunSummary {
    RunSummary {
        run_id: uuid::Uuid::from_u128(0x1234_5678_9abc_4def_8123_4567_89ab_cdef),
        status: RunStatus::Partial,
        started_at: at(2026, 11, 27, 16, 52),
        finished_at: at(2026, 11, 27, 16, 55),
        sites_total: 6,
        sites_harvested: 5,
        sites_failed: 1,
        credentials_total: 8,
        diff: Diff {
            sites_added: vec![org(BRO_DWR)],
            sites_removed: vec![],
            authorisation_changed: vec![AuthorisationChange {
                organisation_id: org(BELFAST),
                from: Some(1),
                to: Some(0),
            }],
            credentials_added: vec![cref(BRO_DWR, "sas-0b1d-bro-dwr")],
            credentials_removed: vec![],
            credentials_rotated: vec![cref(ST_MARYS, MAIN_CLIENT)],
            vault_removed: Vec::new(),
        },
        failures: vec![SiteFailure {
            organisation_id: org(OAKFIELD),
            error: "timeout after 3 attempts".into(),
        }],
        stats: Default::default(),
        error: None,
        scope: Default::default(),
        signal: None,
    }
}

/// A run cancelled before it committed.
pub fn cancelled_run() -> RunSummary {
    RunSummary {
        status: RunStatus::Cancelled,
        diff: Diff::default(),
        failures: vec![],
        error: Some("cancelled".into()),
        ..latest_run()
    }
}

/// An older complete run that removed a site.
pub fn older_run() -> RunSummary {
    RunSummary {
        run_id: uuid::Uuid::from_u128(0x0fed_cba9_8765_4321_8000_0000_0000_0001),
        status: RunStatus::Complete,
        started_at: at(2026, 11, 20, 9, 0),
        finished_at: at(2026, 11, 20, 9, 2),
        sites_total: 6,
        sites_harvested: 6,
        sites_failed: 0,
        credentials_total: 9,
        diff: Diff {
            sites_removed: vec![org(REMOVED)],
            credentials_removed: vec![cref(REMOVED, "sas-old-1")],
            ..Diff::default()
        },
        failures: vec![],
        stats: Default::default(),
        error: None,
        scope: Default::default(),
        signal: None,
    }
}

pub fn overview() -> Overview {
    Overview {
        profile: "default".into(),
        application_id: "4C1E9B2A-1F4D-4B8E-9A3C-2D5E6F708192".into(),
        store_path: "/var/lib/simsid/store.sqlite3".into(),
        capabilities: Capabilities::default(),
        sites: sites(),
        last_run: Some(latest_run()),
    }
}

/// A fixed starting instant for every test.
pub fn t0() -> Instant {
    static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *T0.get_or_init(Instant::now)
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn app_with(overview: Overview, readonly: bool) -> App {
    let mut app = App::new(
        overview,
        ConsoleOptions { readonly },
        Theme::new(false),
        t0(),
    );
    app.update(Action::Resize {
        width: 80,
        height: 24,
    });
    app
}

pub fn app() -> App {
    app_with(overview(), false)
}

pub fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn ch(app: &mut App, c: char) -> Vec<Effect> {
    key(app, KeyCode::Char(c))
}

pub fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        ch(app, c);
    }
}

pub fn cmd(app: &mut App, command: UserCommand) -> Vec<Effect> {
    app.update(Action::Key(command))
}

/// The names of the listed sites, in order.
pub fn names(app: &App) -> Vec<String> {
    let list = app.sites();
    list.visible()
        .iter()
        .map(|&i| list.rows()[i].site.name.clone())
        .collect()
}

/// Selects a site by name in the list and opens it, feeding its details back.
pub fn open_st_marys(app: &mut App) {
    cmd(app, UserCommand::Top);
    let pos = names(app)
        .iter()
        .position(|n| n.starts_with("St Mary"))
        .unwrap();
    for _ in 0..pos {
        cmd(app, UserCommand::Down);
    }
    let fx = key(app, KeyCode::Enter);
    assert_eq!(fx, vec![Effect::LoadSite(org(ST_MARYS))]);
    app.update(Action::SiteLoaded {
        org: org(ST_MARYS),
        result: Ok(Some(st_marys_detail())),
    });
}

/// Reveals the selected credential of the open site (confirmed with `y`).
pub fn reveal_main(app: &mut App) {
    assert!(ch(app, 'r').is_empty());
    on_main(
        app,
        'y',
        |org, client_id| Effect::Reveal { org, client_id },
        |org, client_id| Action::Revealed {
            org,
            client_id,
            result: Ok(SecretString::from(SECRET.to_string())),
        },
    );
}

/// Copies the selected credential of the open site (`c`); the copy succeeds.
pub fn copy_main(app: &mut App) {
    on_main(
        app,
        'c',
        |org, client_id| Effect::Copy { org, client_id },
        |org, client_id| Action::Copied {
            org,
            client_id,
            result: Ok(()),
        },
    );
}

/// Presses `key` on the open site, asserts the app asks for `effect` of its selected
/// credential and nothing else, and answers with `answer`.
fn on_main(
    app: &mut App,
    key: char,
    effect: impl Fn(OrgId, String) -> Effect,
    answer: impl Fn(OrgId, String) -> Action,
) {
    let fx = ch(app, key);
    assert_eq!(fx, vec![effect(org(ST_MARYS), MAIN_CLIENT.into())]);
    app.update(answer(org(ST_MARYS), MAIN_CLIENT.into()));
}

/// Draws the app into a test terminal of the given size.
pub fn render(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| draw::draw(app, f)).unwrap();
    terminal
}

/// The screen as text.
pub fn screen_text(app: &App, width: u16, height: u16) -> String {
    render(app, width, height).backend().to_string()
}

/// A store of many generated sites (for navigation bounds and large-list drawing).
pub fn many_sites(n: usize) -> Vec<SiteRow> {
    (0..n)
        .map(|i| {
            let id = format!("{:08X}-0000-4000-8000-{:012X}", i, i);
            row(
                &id,
                &format!("School {i:05}"),
                Some(&format!("{}/{:04}", 300 + i % 600, i % 10_000)),
                None,
                Some(i % 10 != 0),
                i % 4,
                Some(at(2026, 1 + (i % 12) as u32, 1 + (i % 28) as u32, 9, 0)),
                None,
            )
        })
        .collect()
}

/// An exposure of a St Mary's or Oakfield credential.
pub fn exposure(
    o: &str,
    client: &str,
    users: &[&str],
    last: DateTime<Utc>,
    actions: &[AuditAction],
    live: bool,
) -> Exposure {
    let (name, dfe) = if o == ST_MARYS {
        ("St Mary's C of E Primary School", "123/4567")
    } else {
        ("Oakfield Academy", "330/4001")
    };
    Exposure {
        organisation_id: org(o),
        name: Some(name.into()),
        dfe_code: Some(dfe.into()),
        client_id: client.into(),
        fingerprint: Some(Fingerprint::parse("3fa2c9d1e0b4a7f6").unwrap()),
        users: users.iter().map(|u| u.to_string()).collect(),
        first_exposed: at(2026, 11, 20, 9, 0),
        last_exposed: last,
        actions: actions.to_vec(),
        vault_read: false,
        vault_read_wrapped: false,
        sources: vec![simsid::exposure::ExposureSource::Simsid],
        live,
        current_fingerprint: Some(
            Fingerprint::try_from(String::from(if live {
                "3fa2c9d1e0b4a7f6"
            } else {
                "77aa00bb11cc22dd"
            }))
            .unwrap(),
        ),
    }
}

/// Live exposures: alice saw St Mary's main credential and one of Oakfield's; bob copied
/// St Mary's main credential.
pub fn people() -> Vec<PersonExposures> {
    use AuditAction::{Copy, Reveal};
    vec![
        PersonExposures {
            person: "alice".into(),
            exposures: vec![
                exposure(
                    OAKFIELD,
                    "sas-oak-1",
                    &["alice"],
                    at(2026, 11, 28, 10, 5),
                    &[Reveal],
                    true,
                ),
                exposure(
                    ST_MARYS,
                    MAIN_CLIENT,
                    &["alice"],
                    at(2026, 11, 29, 14, 30),
                    &[Reveal, Copy],
                    true,
                ),
            ],
        },
        PersonExposures {
            person: "bob".into(),
            exposures: vec![exposure(
                ST_MARYS,
                MAIN_CLIENT,
                &["bob"],
                at(2026, 11, 29, 15, 0),
                &[Copy],
                true,
            )],
        },
    ]
}

/// St Mary's exposures: the main credential live (alice, bob), the backup rotated since.
pub fn st_marys_exposures() -> Vec<Exposure> {
    use AuditAction::{Copy, Reveal};
    vec![
        exposure(
            ST_MARYS,
            MAIN_CLIENT,
            &["alice", "bob"],
            at(2026, 11, 29, 15, 0),
            &[Reveal, Copy],
            true,
        ),
        exposure(
            ST_MARYS,
            BACKUP_CLIENT,
            &["carol"],
            at(2026, 3, 1, 8, 0),
            &[Reveal],
            false,
        ),
    ]
}

/// The outcome the fake verify gives: St Mary's main credential refused, the rest ok.
pub fn listed_checks(list: &[(OrgId, String)]) -> Vec<CredentialCheck> {
    list.iter()
        .map(|(o, c)| CredentialCheck {
            organisation_id: o.clone(),
            client_id: c.clone(),
            outcome: if c == MAIN_CLIENT {
                CheckOutcome::Refused("refused by the STS (invalid_client)".into())
            } else {
                CheckOutcome::Ok
            },
        })
        .collect()
}

/// A `Services` over the fixed data, for the runtime test. Records what it was asked.
#[derive(Default)]
pub struct FakeServices {
    pub calls: Mutex<Vec<String>>,
    /// When set, a harvest announces the site list, then waits until this file exists before
    /// it goes on: a test outside the process opens the gate once it has seen the progress
    /// pane, so the order of events never depends on timing.
    pub harvest_gate: Option<PathBuf>,
}

impl FakeServices {
    pub fn new() -> Arc<Self> {
        Arc::new(FakeServices::default())
    }
    /// Fake services whose harvest waits for `gate` to exist (see `harvest_gate`).
    pub fn with_harvest_gate(gate: PathBuf) -> Arc<Self> {
        Arc::new(FakeServices {
            harvest_gate: Some(gate),
            ..FakeServices::default()
        })
    }
    fn log(&self, s: String) {
        self.calls.lock().unwrap().push(s);
    }
}

impl Services for FakeServices {
    fn overview(&self) -> anyhow::Result<Overview> {
        self.log("overview".into());
        Ok(overview())
    }
    fn site(&self, o: &OrgId) -> anyhow::Result<Option<SiteDetail>> {
        self.log(format!("site {o}"));
        Ok((o == &org(ST_MARYS)).then(st_marys_detail))
    }
    fn runs(&self) -> anyhow::Result<Vec<RunSummary>> {
        self.log("runs".into());
        Ok(vec![latest_run(), older_run()])
    }
    fn reveal(
        &self,
        o: &OrgId,
        client_id: &str,
    ) -> BoxFuture<'static, anyhow::Result<SecretString>> {
        self.log(format!("reveal {o} {client_id}"));
        Box::pin(async { Ok(SecretString::from(SECRET.to_string())) })
    }
    fn copy_secret(
        &self,
        o: &OrgId,
        client_id: &str,
    ) -> BoxFuture<'static, anyhow::Result<SecretString>> {
        self.log(format!("copy {o} {client_id}"));
        Box::pin(async { Ok(SecretString::from(SECRET.to_string())) })
    }
    fn verify(&self, o: &OrgId) -> BoxFuture<'static, anyhow::Result<Vec<VerifyResult>>> {
        self.log(format!("verify {o}"));
        Box::pin(async {
            Ok(vec![VerifyResult {
                client_id: MAIN_CLIENT.into(),
                ok: true,
                refused: false,
                error: None,
            }])
        })
    }
    fn harvest(
        &self,
        events: UnboundedSender<HarvestEvent>,
        cancel: simsid::harvest::Cancel,
    ) -> BoxFuture<'static, anyhow::Result<HarvestEnd>> {
        self.log("harvest".into());
        let gate = self.harvest_gate.clone();
        Box::pin(async move {
            let _ = events.send(HarvestEvent::Listed { total: 6 });
            if let Some(gate) = gate {
                // Polls the gate; the 120 s bound is only a last guard against a hang.
                let mut open = false;
                for _ in 0..2400 {
                    if gate.exists() {
                        open = true;
                        break;
                    }
                    tokio::select! {
                        () = cancel.token().cancelled() => return Ok(HarvestEnd::Cancelled(Box::new(cancelled_run()))),
                        () = tokio::time::sleep(Duration::from_millis(50)) => {}
                    }
                }
                anyhow::ensure!(open, "the test never opened the harvest gate");
            }
            for (i, s) in sites().iter().enumerate() {
                if cancel.is_cancelled() {
                    return Ok(HarvestEnd::Cancelled(Box::new(cancelled_run())));
                }
                tokio::task::yield_now().await;
                let o = s.site.org_id.clone();
                let _ = events.send(HarvestEvent::SiteStarted { org: o.clone() });
                let _ = events.send(HarvestEvent::SiteDone {
                    org: o,
                    credentials: i % 3,
                });
            }
            Ok(HarvestEnd::Finished(Box::new(latest_run())))
        })
    }
    fn harvest_site(
        &self,
        org: &OrgId,
        events: UnboundedSender<HarvestEvent>,
        cancel: simsid::harvest::Cancel,
    ) -> BoxFuture<'static, anyhow::Result<HarvestEnd>> {
        self.log(format!("harvest_site {org}"));
        let org = org.clone();
        Box::pin(async move {
            if cancel.is_cancelled() {
                return Ok(HarvestEnd::Cancelled(Box::new(cancelled_run())));
            }
            let _ = events.send(HarvestEvent::Listed { total: 1 });
            let _ = events.send(HarvestEvent::SiteStarted { org: org.clone() });
            let _ = events.send(HarvestEvent::SiteDone {
                org: org.clone(),
                credentials: 1,
            });
            let mut run = latest_run();
            run.scope = simsid::domain::RunScope::Site;
            run.sites_total = 1;
            run.sites_harvested = 1;
            run.sites_failed = 0;
            run.failures.clear();
            run.diff = Diff {
                credentials_rotated: vec![CredentialRef {
                    organisation_id: org,
                    client_id: MAIN_CLIENT.into(),
                }],
                ..Diff::default()
            };
            run.status = RunStatus::Complete;
            Ok(HarvestEnd::Finished(Box::new(run)))
        })
    }
    fn switch_profile(&self, name: &str) -> anyhow::Result<()> {
        self.log(format!("profile {name}"));
        Ok(())
    }
    fn exposures(&self) -> anyhow::Result<Vec<PersonExposures>> {
        self.log("exposures".into());
        Ok(people())
    }
    fn site_exposures(&self, o: &OrgId) -> anyhow::Result<Vec<Exposure>> {
        self.log(format!("site exposures {o}"));
        Ok(if o == &org(ST_MARYS) {
            st_marys_exposures()
        } else {
            Vec::new()
        })
    }
    fn verify_listed(
        &self,
        list: Vec<(OrgId, String)>,
        progress: UnboundedSender<Tally>,
    ) -> BoxFuture<'static, anyhow::Result<Vec<CredentialCheck>>> {
        self.log(format!("verify listed {}", list.len()));
        Box::pin(async move {
            let checks = listed_checks(&list);
            for n in 0..=checks.len() {
                let _ = progress.send(Tally::of(checks.len(), &checks[..n]));
            }
            Ok(checks)
        })
    }
}

/// A writer the test reads while the console writes to it.
#[derive(Clone, Default)]
pub struct Shared(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    /// Everything written so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }

    /// Whether what was written so far contains `needle`.
    pub fn contains(&self, needle: &[u8]) -> bool {
        self.bytes().windows(needle.len()).any(|w| w == needle)
    }

    /// The screen the bytes so far draw on a 120×40 terminal (a terminal emulator reads
    /// them: a frame writes only the cells that changed).
    pub fn screen(&self) -> String {
        let mut terminal = vt100::Parser::new(40, 120, 0);
        terminal.process(&self.bytes());
        terminal.screen().contents()
    }
}

/// The console's real services for the environment `env`, with directories under `home`.
pub fn console_services(
    env: &std::collections::BTreeMap<String, String>,
    home: &std::path::Path,
) -> Arc<simsid::cli::console::ConsoleServices> {
    let dirs = simsid::config::Dirs {
        config_dir: home.join("config"),
        data_dir: home.join("data"),
        state_dir: home.join("state"),
    };
    let settings = simsid::config::resolve(&simsid::config::Flags::default(), env, &dirs).unwrap();
    let context = simsid::ops::Context::new(settings);
    Arc::new(simsid::cli::console::ConsoleServices::new(context, None, None).unwrap())
}
