//! Every screen drawn into ratatui's TestBackend and compared with a reviewed snapshot
//! (`console/snapshots/`). Fixed data and fixed instants: no clock is read.

use crate::support::tui_support;

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use simsid::harvest::{HarvestEnd, HarvestEvent};
use simsid::tui::Action;
use tui_support::*;

fn assert_masked(text: &str) {
    assert!(!text.contains(SECRET), "a masked screen shows the secret");
}

#[test]
fn sites_screen() {
    let app = app();
    let t = render(&app, 80, 24);
    assert_masked(&t.backend().to_string());
    assert_snapshot!("sites", t.backend());
}

#[test]
fn sites_screen_wide() {
    let app = app();
    assert_snapshot!("sites_wide", render(&app, 140, 16).backend());
}

#[test]
fn sites_screen_filtered_while_typing() {
    let mut app = app();
    ch(&mut app, '/');
    typed(&mut app, "ysgol");
    assert_snapshot!("sites_filtered", render(&app, 80, 24).backend());
}

#[test]
fn sites_screen_readonly_sorted_and_viewed() {
    let mut app = app_with(overview(), true);
    ch(&mut app, 's');
    ch(&mut app, 's');
    ch(&mut app, 's');
    ch(&mut app, 'S');
    ch(&mut app, 'a');
    assert_snapshot!("sites_readonly_sorted", render(&app, 80, 24).backend());
}

#[test]
fn site_screen_masked() {
    let mut app = app();
    open_st_marys(&mut app);
    let t = render(&app, 80, 24);
    let text = t.backend().to_string();
    assert_masked(&text);
    assert!(text.contains("••••••••"));
    assert!(text.contains("3fa2c9d1e0b4a7f6"));
    assert_snapshot!("site_masked", t.backend());
}

#[test]
fn site_screen_revealed() {
    let mut app = app();
    app.update(Action::Tick(t0() + secs(10)));
    open_st_marys(&mut app);
    reveal_main(&mut app);
    app.update(Action::Tick(t0() + secs(13)));
    let t = render(&app, 80, 24);
    let text = t.backend().to_string();
    assert!(text.contains(SECRET), "the revealed secret is on screen");
    assert!(text.contains("(hides in 27 s)"));
    assert_snapshot!("site_revealed", t.backend());
    // And gone again after 30 s.
    app.update(Action::Tick(t0() + secs(40)));
    assert_masked(&render(&app, 80, 24).backend().to_string());
}

#[test]
fn confirm_dialog() {
    let mut app = app();
    open_st_marys(&mut app);
    ch(&mut app, 'r');
    let t = render(&app, 80, 24);
    assert_masked(&t.backend().to_string());
    assert_snapshot!("confirm_reveal", t.backend());
}

#[test]
fn harvest_pane_in_progress() {
    let mut app = app();
    ch(&mut app, 'R');
    assert_snapshot!("confirm_harvest", render(&app, 80, 24).backend());
    ch(&mut app, 'y');
    app.update(Action::Tick(t0() + secs(2)));
    app.update(Action::Harvest(vec![HarvestEvent::Listed { total: 6 }]));
    app.update(Action::Tick(t0() + secs(6)));
    app.update(Action::Harvest(vec![
        HarvestEvent::SiteStarted { org: org(ST_MARYS) },
        HarvestEvent::SiteStarted { org: org(BRO_DWR) },
        HarvestEvent::SiteStarted { org: org(OAKFIELD) },
        HarvestEvent::SiteStarted { org: org(BELFAST) },
        HarvestEvent::SiteDone {
            org: org(ST_MARYS),
            credentials: 2,
        },
        HarvestEvent::SiteDone {
            org: org(BRO_DWR),
            credentials: 1,
        },
        HarvestEvent::Retrying {
            org: Some(org(OAKFIELD)),
            attempt: 2,
            delay: secs(4),
            reason: "HTTP 429 Too Many Requests".into(),
        },
        HarvestEvent::SiteFailed {
            org: org(OAKFIELD),
            error: "timeout after 3 attempts".into(),
        },
    ]));
    app.update(Action::Tick(t0() + secs(10)));
    assert_snapshot!("harvest_progress", render(&app, 80, 24).backend());
    // Hidden: the list with a progress status line.
    ch(&mut app, 'b');
    assert_snapshot!("harvest_hidden_status", render(&app, 80, 24).backend());
}

#[test]
fn harvest_pane_diff() {
    let mut app = app();
    ch(&mut app, 'R');
    ch(&mut app, 'y');
    app.update(Action::HarvestFinished(Ok(HarvestEnd::Finished(Box::new(
        latest_run(),
    )))));
    ch(&mut app, 'j');
    assert_snapshot!("harvest_diff", render(&app, 80, 24).backend());
}

#[test]
fn history_screen() {
    let mut app = app();
    ch(&mut app, 'h');
    app.update(Action::RunsLoaded(Ok(vec![latest_run(), older_run()])));
    assert_snapshot!("history", render(&app, 80, 24).backend());
    ch(&mut app, 'j');
    assert_snapshot!("history_older", render(&app, 80, 24).backend());
    key(&mut app, KeyCode::Enter);
    assert_snapshot!("history_run", render(&app, 80, 24).backend());
}

#[test]
fn help_screen() {
    let mut app = app();
    ch(&mut app, '?');
    let top = render(&app, 80, 24);
    assert!(
        top.backend().to_string().contains("more below"),
        "the first page says more is below"
    );
    assert_snapshot!("help", top.backend());
    ch(&mut app, 'G');
    let end = render(&app, 80, 24);
    assert!(!end.backend().to_string().contains("more below"));
    assert_snapshot!("help_end", end.backend());
}

#[test]
fn too_small() {
    let app = app();
    let t = render(&app, 20, 5);
    assert!(t.backend().to_string().contains("terminal too"));
    assert_snapshot!("too_small_20x5", t.backend());
    assert_snapshot!("too_small_1x1", render(&app, 1, 1).backend());
    // Just at the minimum, the console itself is drawn.
    let t = render(&app, 60, 12);
    assert!(t.backend().to_string().contains("simsid"));
    assert_snapshot!("minimum_60x12", t.backend());
}

#[test]
fn every_screen_draws_at_odd_sizes_without_panicking() {
    let mut app = app();
    let mut states = Vec::new();
    let sizes = [
        (0, 0),
        (1, 1),
        (20, 5),
        (59, 30),
        (60, 12),
        (61, 13),
        (80, 24),
        (200, 60),
    ];
    for (w, h) in sizes {
        states.push(render(&app, w.max(1), h.max(1)).backend().to_string());
    }
    open_st_marys(&mut app);
    reveal_main(&mut app);
    ch(&mut app, 'v');
    for (w, h) in sizes {
        render(&app, w.max(1), h.max(1));
    }
    ch(&mut app, 'h');
    app.update(Action::RunsLoaded(Ok(vec![latest_run(), older_run()])));
    ch(&mut app, 'R');
    for (w, h) in sizes {
        render(&app, w.max(1), h.max(1));
    }
    assert_eq!(states.len(), sizes.len());
}

#[test]
fn large_list_draws_only_the_window() {
    let mut ov = overview();
    ov.sites = many_sites(25_000);
    let mut app = app_with(ov, false);
    ch(&mut app, 'G');
    let text = render(&app, 80, 24).backend().to_string();
    assert!(text.contains("School 24999"), "{text}");
    assert!(text.contains("25000 of 25000"));
    ch(&mut app, '/');
    typed(&mut app, "school 1234");
    let text = render(&app, 80, 24).backend().to_string();
    assert!(text.contains("10 of 25000"), "{text}");
}

/// Colours are accents only: no cell ever gets a background colour (readable on dark and
/// light terminals), and with `NO_COLOR` no cell gets a foreground colour either.
#[test]
fn colours_are_accents_only_and_no_color_has_none() {
    use ratatui::style::Color;
    use simsid::tui::theme::Theme;
    use simsid::tui::{App, ConsoleOptions};
    for color in [true, false] {
        let mut app = App::new(
            overview(),
            ConsoleOptions { readonly: false },
            Theme::new(color),
            t0(),
        );
        let mut screens = vec![render(&app, 80, 24)];
        open_st_marys(&mut app);
        reveal_main(&mut app);
        screens.push(render(&app, 80, 24));
        key(&mut app, KeyCode::Esc);
        ch(&mut app, 'R');
        screens.push(render(&app, 80, 24));
        ch(&mut app, 'y');
        app.update(Action::HarvestFinished(Ok(HarvestEnd::Finished(Box::new(
            latest_run(),
        )))));
        screens.push(render(&app, 80, 24));
        ch(&mut app, '?');
        screens.push(render(&app, 80, 24));
        let mut coloured = 0;
        for t in &screens {
            for cell in t.backend().buffer().content() {
                assert_eq!(cell.bg, Color::Reset, "no background colours");
                if cell.fg != Color::Reset {
                    coloured += 1;
                }
            }
        }
        if color {
            assert!(coloured > 0, "accents are used when colour is allowed");
        } else {
            assert_eq!(coloured, 0, "NO_COLOR: no colours at all");
        }
    }
}

/// Opens the exposure view with `e` and feeds it the fixed exposures.
fn open_exposure(app: &mut simsid::tui::App) {
    let fx = ch(app, 'e');
    assert_eq!(fx, vec![simsid::tui::Effect::LoadExposures]);
    app.update(Action::ExposuresLoaded(Ok(people())));
}

#[test]
fn exposure_view_grouped_by_user() {
    let mut app = app();
    open_exposure(&mut app);
    let t = render(&app, 80, 24);
    let text = t.backend().to_string();
    assert_masked(&text);
    assert!(text.contains("alice") && text.contains("bob"));
    assert_snapshot!("exposure", t.backend());
    assert_snapshot!("exposure_wide", render(&app, 140, 16).backend());
}

#[test]
fn exposure_view_verifying_and_verified() {
    let mut app = app();
    open_exposure(&mut app);
    let fx = ch(&mut app, 'v');
    let Some(simsid::tui::Effect::VerifyListed(list)) = fx.first().cloned() else {
        panic!("v verifies the listed credentials: {fx:?}");
    };
    let checks = listed_checks(&list);
    app.update(Action::ListedVerifyProgress(
        simsid::ops::verify::Tally::of(list.len(), &checks[..1]),
    ));
    assert_snapshot!("exposure_verifying", render(&app, 80, 24).backend());
    app.update(Action::ListedVerified(Ok(checks)));
    assert_snapshot!("exposure_verified", render(&app, 80, 24).backend());
}

#[test]
fn exposure_view_empty() {
    let mut app = app();
    ch(&mut app, 'e');
    app.update(Action::ExposuresLoaded(Ok(Vec::new())));
    assert_snapshot!("exposure_empty", render(&app, 80, 24).backend());
}

#[test]
fn site_screen_marks_exposed_credentials() {
    let mut app = app();
    open_st_marys(&mut app);
    app.update(Action::SiteExposureLoaded {
        org: org(ST_MARYS),
        result: Ok(st_marys_exposures()),
    });
    let t = render(&app, 80, 24);
    let text = t.backend().to_string();
    assert!(text.contains("to alice, bob"), "{text}");
    assert!(text.contains("NOT rotated since"), "{text}");
    assert_snapshot!("site_exposed", t.backend());
    ch(&mut app, 'j');
    let t = render(&app, 140, 24);
    let text = t.backend().to_string();
    assert!(
        text.contains("to carol") && text.contains("rotated since"),
        "{text}"
    );
    assert!(!text.contains("NOT rotated since"), "{text}");
    assert_snapshot!("site_exposed_backup_wide", t.backend());
}

#[test]
fn site_screen_shows_whole_client_ids_the_description_and_dates_give_way() {
    // Client ids as long as SIMS ID's (a GUID-sized one and a simulator-sized one).
    let long = "0F3C8E2A-5B7D-4E19-A6C2-9D8B7A6F5E4D";
    let sim_sized = "sas-oneroster-7f3a9c21";
    let mut detail = st_marys_detail();
    detail.credentials[0].client_id = long.into();
    detail.credentials[1].client_id = sim_sized.into();
    let mut app = app();
    open_st_marys(&mut app);
    app.update(Action::SiteLoaded {
        org: org(ST_MARYS),
        result: Ok(Some(detail)),
    });
    for width in [80, 100, 119, 120, 140] {
        let text = render(&app, width, 24).backend().to_string();
        // The table's rows (not the selected credential's box below, which names it too).
        let table: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("••••••••") && !l.contains('│'))
            .collect();
        assert_eq!(table.len(), 2, "{width}: {text}");
        assert!(table[0].contains(long), "{width}: {text}");
        assert!(table[1].contains(sim_sized), "{width}: {text}");
        if width >= 120 {
            // From 120 columns the fingerprint stays whole too.
            assert!(table[0].contains("3fa2c9d1e0b4a7f6"), "{width}: {text}");
        }
    }
    // At 120 the dates gave way (whole columns, never a cut header), the client id did not.
    let text = render(&app, 120, 24).backend().to_string();
    let row = text
        .lines()
        .find(|l| l.contains(long) && l.contains("••••••••"));
    let row = row.unwrap_or_else(|| panic!("{text}"));
    assert!(!row.contains("2026-01-04"), "{text}");
    let header = header_line(&text, "Client id");
    for label in [
        "Secret (fingerprint)",
        "Description",
        "Stale",
        "Verify",
        "Exposed",
        "Last error",
    ] {
        assert!(header.contains(label), "{label:?} whole in {header}");
    }
}

/// The header row of a rendered table: the line holding `first`.
fn header_line(text: &str, first: &str) -> String {
    text.lines()
        .find(|l| l.contains(first))
        .unwrap_or_else(|| panic!("no header with {first:?} in\n{text}"))
        .to_string()
}

#[test]
fn sites_screen_at_120_cuts_no_header_and_no_name() {
    let app = app();
    let t = render(&app, 120, 24);
    let text = t.backend().to_string();
    let header = header_line(&text, "Name ▲");
    for label in [
        "DfE",
        "DENI",
        "Organisation id",
        "Auth",
        "Creds",
        "Last changed",
        "Chg",
    ] {
        assert!(header.contains(label), "{label:?} whole in {header}");
    }
    assert!(text.contains("St Mary's C of E Primary School"));
    assert_snapshot!("sites_120", t.backend());
}

#[test]
fn sites_screen_at_80_gives_the_name_the_room() {
    let app = app();
    let text = render(&app, 80, 24).backend().to_string();
    // The longest name whole; the organisation id gave way first.
    assert!(text.contains("St Mary's C of E Primary School "), "{text}");
    let header = header_line(&text, "Name ▲");
    for label in ["DfE", "DENI", "Auth", "Creds", "Changed", "Chg"] {
        assert!(header.contains(label), "{label:?} whole in {header}");
    }
}

#[test]
fn credential_table_headers_are_whole_words_at_80_and_120() {
    let mut app = app();
    open_st_marys(&mut app);
    for width in [80, 120] {
        let t = render(&app, width, 24);
        let text = t.backend().to_string();
        let header = header_line(&text, "Client id");
        for label in ["Secret (fingerprint)", "Description", "Verify", "Exposed"] {
            assert!(
                header.contains(label),
                "{width}: {label:?} whole in {header}"
            );
        }
        if width == 120 {
            for label in ["Last changed", "Stale", "Last error"] {
                assert!(
                    header.contains(label),
                    "{width}: {label:?} whole in {header}"
                );
            }
            assert_snapshot!("site_120", t.backend());
        }
    }
}

#[test]
fn a_code_no_school_has_is_not_a_column_and_its_room_goes_to_the_name() {
    let mut ov = overview();
    for r in &mut ov.sites {
        r.site.deni_number = None;
    }
    let app = app_with(ov, false);
    let text = render(&app, 80, 24).backend().to_string();
    let header = header_line(&text, "Name ▲");
    assert!(!header.contains("DENI"), "{header}");
    assert!(header.contains("DfE"), "{header}");
}
