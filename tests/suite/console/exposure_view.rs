//! The console's exposure view driven through `App::update` without a terminal: the key
//! table, loading, grouping, Enter, `v` with progress, read-only, and the site screen's
//! exposure marks.

use crate::support::tui_support;

use crossterm::event::KeyCode;
use simsid::tui::keys::{self, KeyScope};
use simsid::tui::{Action, Effect, UserCommand};
use tui_support::*;

fn open_exposure(app: &mut simsid::tui::App) {
    assert_eq!(ch(app, 'e'), vec![Effect::LoadExposures]);
    app.update(Action::ExposuresLoaded(Ok(people())));
}

#[test]
fn e_is_in_the_key_table_footer_and_help() {
    let b = keys::BINDINGS
        .iter()
        .find(|b| b.command == UserCommand::Exposure)
        .expect("a binding opens the exposure view");
    assert_eq!(b.label, "e");
    assert!(keys::footer(KeyScope::Sites)
        .iter()
        .any(|f| f.command == UserCommand::Exposure));
    let help = keys::groups();
    assert!(help.iter().any(|(title, list)| *title == "Exposure view"
        && list
            .iter()
            .any(|b| b.command == UserCommand::Verify && b.writes)));
    let mut app = app();
    open_exposure(&mut app);
    assert_eq!(app.key_scope(), KeyScope::Exposure);
    assert!(ch(&mut app, 'e').is_empty(), "e again does not reload");
}

#[test]
fn rows_are_grouped_by_user_and_enter_opens_the_site() {
    let mut app = app();
    open_exposure(&mut app);
    let text = screen_text(&app, 80, 24);
    let alice = text.find("alice").unwrap();
    let bob = text.find("bob").unwrap();
    assert!(alice < bob, "alice's group comes first");
    // Row 1 is Oakfield (alice), row 2 St Mary's (alice): open St Mary's.
    ch(&mut app, 'j');
    let fx = key(&mut app, KeyCode::Enter);
    assert_eq!(fx, vec![Effect::LoadSite(org(ST_MARYS))]);
    let fx = app.update(Action::SiteLoaded {
        org: org(ST_MARYS),
        result: Ok(Some(st_marys_detail())),
    });
    assert_eq!(fx, vec![Effect::LoadSiteExposure(org(ST_MARYS))]);
    app.update(Action::SiteExposureLoaded {
        org: org(ST_MARYS),
        result: Ok(st_marys_exposures()),
    });
    let view = app.site_screen().unwrap();
    assert!(view.exposure_of(MAIN_CLIENT).unwrap().live);
    assert!(view.exposure_of(BACKUP_CLIENT).unwrap().rotated_since());
    // Esc goes back to the exposure view.
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.key_scope(), KeyScope::Exposure);
}

#[test]
fn v_verifies_each_listed_credential_once_with_progress() {
    let mut app = app();
    open_exposure(&mut app);
    let fx = ch(&mut app, 'v');
    let list = vec![
        (org(OAKFIELD), "sas-oak-1".to_string()),
        (org(ST_MARYS), MAIN_CLIENT.to_string()),
    ];
    let mut want = list.clone();
    want.sort();
    assert_eq!(fx, vec![Effect::VerifyListed(want.clone())]);
    assert!(ch(&mut app, 'v').is_empty(), "one verify at a time");
    let checks = listed_checks(&want);
    app.update(Action::ListedVerifyProgress(
        simsid::ops::verify::Tally::of(2, &checks[..1]),
    ));
    assert!(screen_text(&app, 80, 24).contains("verifying 1/2"));
    app.update(Action::ListedVerified(Ok(checks)));
    let text = screen_text(&app, 80, 24);
    assert!(
        text.contains("verified 2/2: 1 ok, 1 refused, 0 error(s)"),
        "{text}"
    );
    assert!(text.contains("refused"));
    // Another v starts a new verify.
    assert_eq!(ch(&mut app, 'v'), vec![Effect::VerifyListed(want)]);
}

#[test]
fn read_only_and_empty_views_do_not_verify() {
    let mut readonly = app_with(overview(), true);
    open_exposure(&mut readonly);
    assert!(ch(&mut readonly, 'v').is_empty());
    assert!(readonly.flash().unwrap().text.contains("read-only"));
    let mut app = app();
    ch(&mut app, 'e');
    app.update(Action::ExposuresLoaded(Ok(Vec::new())));
    assert!(ch(&mut app, 'v').is_empty());
    assert!(screen_text(&app, 80, 24).contains("No live exposure"));
}

#[test]
fn a_finished_harvest_reloads_the_exposures() {
    let mut app = app();
    open_exposure(&mut app);
    ch(&mut app, 'R');
    ch(&mut app, 'y');
    let fx = app.update(Action::HarvestFinished(Ok(
        simsid::harvest::HarvestEnd::Finished(Box::new(latest_run())),
    )));
    assert!(fx.contains(&Effect::LoadExposures), "{fx:?}");
}
