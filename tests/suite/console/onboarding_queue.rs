//! The console's onboarding queue: the unauthorised view lists the sites
//! waiting for approval longest first and shows how long each has waited.

use crate::support::tui_support;

use tui_support::*;

#[test]
fn the_unauthorised_view_is_the_queue_oldest_first_with_its_wait() {
    let now = chrono::Utc::now();
    let mut ov = overview();
    let mut waiting = Vec::new();
    for (i, (name, days)) in [
        ("Newer School", 3),
        ("Oldest School", 12),
        ("Middle School", 7),
    ]
    .into_iter()
    .enumerate()
    {
        let mut row = ov.sites[i % ov.sites.len()].clone();
        row.site.org_id = org(&format!("0000000{i}-0000-4000-8000-000000000000"));
        row.site.name = name.to_string();
        row.site.authorised = Some(false);
        row.site.dfe_code = None;
        row.site.deni_number = None;
        row.credential_count = 0;
        row.waiting_since = Some(now - chrono::Duration::days(days));
        waiting.push(row);
    }
    ov.sites.extend(waiting);
    let mut app = app_with(ov, false);
    // all → authorised → unauthorised
    ch(&mut app, 'a');
    ch(&mut app, 'a');
    let listed = names(&app);
    assert_eq!(
        &listed[..3],
        ["Oldest School", "Middle School", "Newer School"],
        "{listed:?}"
    );
    let screen = screen_text(&app, 120, 24);
    assert!(screen.contains("waiting 12 d"), "{screen}");
    assert!(screen.contains("waiting 3 d"), "{screen}");
    // In the other views the column is the last change, as before.
    ch(&mut app, 'a');
    ch(&mut app, 'a');
    ch(&mut app, 'a');
    let screen = screen_text(&app, 120, 24);
    assert!(!screen.contains("waiting"), "{screen}");
}

#[test]
fn u_on_a_site_screen_refreshes_that_school_in_the_harvest_pane() {
    let mut app = app();
    open_st_marys(&mut app);
    let fx = ch(&mut app, 'u');
    assert_eq!(
        fx,
        vec![simsid::tui::Effect::StartSiteHarvest(org(ST_MARYS))],
        "u starts a one-school harvest of the open site"
    );
    assert!(matches!(app.screen(), simsid::tui::app::Screen::Harvest));
    assert!(app.harvest_running());
    // The help is generated from the key table: it lists `u`.
    ch(&mut app, '?');
    let help = screen_text(&app, 120, 60);
    assert!(help.contains("harvest --site"), "{help}");
}

#[test]
fn u_is_turned_off_by_readonly_and_does_nothing_on_the_site_list() {
    let mut app = app();
    assert!(ch(&mut app, 'u').is_empty(), "no site open");
    let mut ro = app_with(overview(), true);
    open_st_marys(&mut ro);
    assert!(ch(&mut ro, 'u').is_empty(), "--readonly turns it off");
}

#[tokio::test]
async fn the_console_runs_the_refresh_through_its_services_and_shows_the_change() {
    use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
    let services = std::sync::Arc::new(FakeServices::default());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let press = |c: KeyCode| Event::Key(KeyEvent::new(c, KeyModifiers::NONE));
    // Open St Mary's (first row, sorted by name), refresh it, wait for the pane, quit.
    for e in [press(KeyCode::Enter), press(KeyCode::Char('u'))] {
        tx.send(e).unwrap();
    }
    let svc = services.clone();
    let driver = tokio::spawn(async move {
        for _ in 0..200 {
            if svc
                .calls
                .lock()
                .unwrap()
                .iter()
                .any(|c| c.starts_with("harvest_site"))
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        tx.send(press(KeyCode::Char('q'))).unwrap();
        tx
    });
    let mut out = Vec::new();
    let app = simsid::tui::run_headless(
        services.clone(),
        simsid::tui::ConsoleOptions { readonly: false },
        (100, 30),
        rx,
        &mut out,
    )
    .await
    .unwrap();
    let _tx = driver.await.unwrap();
    assert!(
        services
            .calls
            .lock()
            .unwrap()
            .iter()
            .any(|c| c.starts_with("harvest_site ")),
        "{:?}",
        services.calls.lock().unwrap()
    );
    // The pane shows the refresh's outcome and what changed.
    // The screen as a terminal shows it (frames are drawn as differences, so a line's
    // words are not contiguous in the raw bytes).
    let mut term = vt100::Parser::new(30, 100, 0);
    term.process(&out);
    let screen = term.screen().contents();
    assert!(screen.contains("rotated"), "the change is shown: {screen}");
    // The summary counts that school's credentials, not the store's 9.
    let calls = services.calls.lock().unwrap().clone();
    let refreshed = calls
        .iter()
        .find_map(|c| c.strip_prefix("harvest_site "))
        .unwrap();
    let row = sites()
        .into_iter()
        .find(|r| r.site.org_id.as_str() == refreshed)
        .unwrap();
    assert!(
        screen.contains(&format!(
            "{} credentials of this school",
            row.credential_count
        )),
        "the school's count: {calls:?}"
    );
    assert!(!screen.contains("9 credentials"), "not the store's count");
    drop(app);
}
