//! `App::update` without a terminal: filter, sort, views, navigation, screens, reveal,
//! copy, verify, harvest progress and cancel, read-only, the command line, the key table.

use crate::support::tui_support;

use std::cmp::Ordering;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use secrecy::SecretString;
use simsid::domain::{SiteRow, VerifyResult};
use simsid::harvest::{HarvestEnd, HarvestEvent};
use simsid::tui::app::flash::Level;
use simsid::tui::app::sites::SortColumn;
use simsid::tui::app::{Confirm, Screen};
use simsid::tui::keys::{self, KeyScope};
use simsid::tui::{Action, Effect, UserCommand};
use tui_support::*;

// ---------- filter ----------

#[test]
fn plain_filter_matches_name_dfe_deni_and_org_id_case_insensitively() {
    let mut app = app();
    ch(&mut app, '/');
    typed(&mut app, "MARY");
    assert_eq!(names(&app), ["St Mary's C of E Primary School"]);
    for (text, want) in [
        ("ysgol", vec!["Ysgol Gymraeg Bro Dŵr", "Ysgol y Graig"]),
        ("667/2001", vec!["Ysgol Gymraeg Bro Dŵr"]),
        ("142-0021", vec!["Belfast Royal Academy"]),
        ("c0ffee00", vec!["Belfast Royal Academy"]),
        ("dŵr", vec!["Ysgol Gymraeg Bro Dŵr"]),
    ] {
        let mut app = self::tui_support::app();
        ch(&mut app, '/');
        typed(&mut app, text);
        assert_eq!(names(&app), want, "filter {text}");
    }
}

#[test]
fn filter_is_incremental_and_backspace_widens() {
    let mut app = app();
    ch(&mut app, '/');
    ch(&mut app, 'y');
    // Every name with a y: all but Northgate High School.
    assert_eq!(names(&app).len(), 5);
    typed(&mut app, "sgol");
    assert_eq!(names(&app), ["Ysgol Gymraeg Bro Dŵr", "Ysgol y Graig"]);
    for _ in 0..4 {
        key(&mut app, KeyCode::Backspace);
    }
    assert_eq!(names(&app).len(), 5);
    key(&mut app, KeyCode::Backspace);
    assert_eq!(names(&app).len(), 6);
    assert!(app.input().is_some(), "an empty filter line stays open");
}

#[test]
fn inverted_filter() {
    let mut app = app();
    ch(&mut app, '/');
    typed(&mut app, "!ysgol");
    let got = names(&app);
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|n| !n.to_lowercase().contains("ysgol")));
}

#[test]
fn regex_filter_and_inverted_regex() {
    let mut app = app();
    ch(&mut app, '/');
    typed(&mut app, "re:^(ysgol|st )");
    assert_eq!(
        names(&app),
        [
            "St Mary's C of E Primary School",
            "Ysgol Gymraeg Bro Dŵr",
            "Ysgol y Graig"
        ]
    );
    let mut app = self::tui_support::app();
    ch(&mut app, '/');
    typed(&mut app, r"!re:academy$");
    assert!(names(&app).iter().all(|n| !n.ends_with("Academy")));
    assert_eq!(names(&app).len(), 4);
    let mut app = self::tui_support::app();
    ch(&mut app, '/');
    typed(&mut app, r"re:^\d{3}/4");
    assert_eq!(
        names(&app),
        [
            "Northgate High School",
            "Oakfield Academy",
            "St Mary's C of E Primary School"
        ]
    );
}

#[test]
fn invalid_regex_is_an_error_and_leaves_the_list_unfiltered() {
    let mut app = app();
    ch(&mut app, '/');
    typed(&mut app, "re:([");
    assert!(app.sites().filter_error().is_some());
    assert_eq!(names(&app).len(), 6);
    let text = screen_text(&app, 80, 24);
    assert!(text.contains("invalid regular expression"), "{text}");
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    typed(&mut app, "oak");
    assert!(app.sites().filter_error().is_none());
    assert_eq!(names(&app), ["Oakfield Academy"]);
}

#[test]
fn enter_keeps_the_filter_and_esc_clears_it() {
    let mut app = app();
    ch(&mut app, '/');
    typed(&mut app, "ysgol");
    key(&mut app, KeyCode::Enter);
    assert!(app.input().is_none());
    assert_eq!(names(&app).len(), 2);
    // Keys are commands again, not text.
    ch(&mut app, 'j');
    assert_eq!(app.sites().cursor.selected(), 1);
    key(&mut app, KeyCode::Esc);
    assert_eq!(names(&app).len(), 6);
    // Esc while typing clears too.
    ch(&mut app, '/');
    typed(&mut app, "oak");
    key(&mut app, KeyCode::Esc);
    assert!(app.input().is_none());
    assert_eq!(names(&app).len(), 6);
    assert_eq!(app.sites().filter_text(), "");
}

#[test]
fn typing_q_in_the_filter_does_not_quit() {
    let mut app = app();
    ch(&mut app, '/');
    let fx = ch(&mut app, 'q');
    assert!(fx.is_empty());
    assert!(!app.should_quit());
    assert_eq!(app.sites().filter_text(), "q");
}

// ---------- sort ----------

/// The expected order of two rows; `reverse` flips it, except that empty cells stay last.
fn key_cmp(col: SortColumn, a: &SiteRow, b: &SiteRow, reverse: bool) -> Ordering {
    fn none_last<T: Ord>(a: Option<T>, b: Option<T>, reverse: bool) -> Ordering {
        match (a, b) {
            (Some(a), Some(b)) if reverse => b.cmp(&a),
            (Some(a), Some(b)) => a.cmp(&b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }
    let dir = |o: Ordering| if reverse { o.reverse() } else { o };
    let auth = |x: Option<bool>| match x {
        Some(true) => 0,
        Some(false) => 1,
        None => 2,
    };
    match col {
        SortColumn::Name => dir(a.site.name.to_lowercase().cmp(&b.site.name.to_lowercase())),
        SortColumn::Dfe => none_last(a.site.dfe_code.as_ref(), b.site.dfe_code.as_ref(), reverse),
        SortColumn::Deni => none_last(
            a.site.deni_number.as_ref(),
            b.site.deni_number.as_ref(),
            reverse,
        ),
        SortColumn::Organisation => dir(a.site.org_id.cmp(&b.site.org_id)),
        SortColumn::Authorised => dir(auth(a.site.authorised).cmp(&auth(b.site.authorised))),
        SortColumn::Credentials => dir(a.credential_count.cmp(&b.credential_count)),
        SortColumn::LastChanged => none_last(a.last_changed, b.last_changed, reverse),
        SortColumn::Change => {
            let r = |x: &SiteRow| x.badge.map_or(3, |b| b as u8);
            dir(r(a).cmp(&r(b)))
        }
    }
}

fn listed(app: &simsid::tui::App) -> Vec<SiteRow> {
    let l = app.sites();
    l.visible().iter().map(|&i| l.rows()[i].clone()).collect()
}

#[test]
fn s_cycles_every_column_and_each_sorts_ascending_then_s_reverses() {
    let mut app = app();
    let mut seen = vec![app.sites().sort().0];
    for _ in 0..SortColumn::ALL.len() {
        let (col, reverse) = app.sites().sort();
        assert!(!reverse);
        let rows = listed(&app);
        assert_eq!(rows.len(), 6);
        for w in rows.windows(2) {
            assert_ne!(
                key_cmp(col, &w[0], &w[1], false),
                Ordering::Greater,
                "{col:?} ascending"
            );
        }
        ch(&mut app, 'S');
        let rows = listed(&app);
        assert!(app.sites().sort().1);
        for w in rows.windows(2) {
            assert_ne!(
                key_cmp(col, &w[0], &w[1], true),
                Ordering::Greater,
                "{col:?} descending, empty cells last"
            );
        }
        ch(&mut app, 'S');
        ch(&mut app, 's');
        seen.push(app.sites().sort().0);
    }
    assert_eq!(seen.first(), seen.last(), "the cycle comes back to name");
    for col in SortColumn::ALL {
        assert!(seen.contains(&col), "{col:?} reachable with s");
    }
}

#[test]
fn concrete_sort_orders() {
    let mut app = app();
    assert_eq!(names(&app)[0], "Belfast Royal Academy");
    ch(&mut app, 'S');
    assert_eq!(names(&app)[0], "Ysgol y Graig");
    ch(&mut app, 'S');
    // Credentials: Belfast (0) first; reversed, Oakfield (3) first.
    while app.sites().sort().0 != SortColumn::Credentials {
        ch(&mut app, 's');
    }
    assert_eq!(names(&app)[0], "Belfast Royal Academy");
    ch(&mut app, 'S');
    assert_eq!(names(&app)[0], "Oakfield Academy");
}

#[test]
fn sort_keeps_the_selected_site_selected() {
    let mut app = app();
    ch(&mut app, 'j');
    ch(&mut app, 'j');
    let before = app.sites().selected_row().unwrap().site.org_id.clone();
    ch(&mut app, 's');
    ch(&mut app, 'S');
    assert_eq!(app.sites().selected_row().unwrap().site.org_id, before);
}

// ---------- status views ----------

#[test]
fn a_cycles_status_views() {
    let mut app = app();
    let mut got = Vec::new();
    for _ in 0..5 {
        ch(&mut app, 'a');
        got.push((app.sites().status_filter().label(), names(&app)));
    }
    assert_eq!(got[0].0, "authorised");
    assert_eq!(got[0].1.len(), 4);
    assert_eq!(
        got[1],
        (
            "unauthorised",
            // Not authorised, and unknown (null) authorisation: neither has approved the app.
            vec![
                "Belfast Royal Academy".to_string(),
                "Ysgol y Graig".to_string()
            ]
        )
    );
    assert_eq!(got[2].0, "changed");
    assert_eq!(
        got[2].1,
        [
            "Belfast Royal Academy",
            "St Mary's C of E Primary School",
            "Ysgol Gymraeg Bro Dŵr"
        ]
    );
    assert_eq!(got[3], ("stale", vec!["Oakfield Academy".to_string()]));
    assert_eq!(got[4].0, "all");
    assert_eq!(got[4].1.len(), 6);
}

#[test]
fn views_and_filters_combine() {
    let mut app = app();
    ch(&mut app, 'a'); // authorised
    ch(&mut app, '/');
    typed(&mut app, "ysgol");
    assert_eq!(
        names(&app),
        ["Ysgol Gymraeg Bro Dŵr"],
        "Graig's authorisation is unknown"
    );
}

// ---------- navigation ----------

#[test]
fn navigation_stays_in_bounds() {
    let mut ov = overview();
    ov.sites = many_sites(100);
    let mut app = app_with(ov, false);
    let sel = |a: &simsid::tui::App| a.sites().cursor.selected();
    ch(&mut app, 'k');
    assert_eq!(sel(&app), 0);
    key(&mut app, KeyCode::Up);
    assert_eq!(sel(&app), 0);
    ch(&mut app, 'j');
    key(&mut app, KeyCode::Down);
    assert_eq!(sel(&app), 2);
    key(&mut app, KeyCode::PageDown);
    let page = sel(&app) - 2;
    assert!(
        page >= 10,
        "a page at 24 rows is most of the screen, got {page}"
    );
    key(&mut app, KeyCode::PageUp);
    assert_eq!(sel(&app), 2);
    key(&mut app, KeyCode::PageUp);
    assert_eq!(sel(&app), 0);
    ch(&mut app, 'G');
    assert_eq!(sel(&app), 99);
    ch(&mut app, 'j');
    key(&mut app, KeyCode::PageDown);
    assert_eq!(sel(&app), 99);
    assert!(
        app.sites().cursor.offset() + page > 99,
        "the last row is in view"
    );
    ch(&mut app, 'g');
    assert_eq!(sel(&app), 0);
    assert_eq!(app.sites().cursor.offset(), 0);
}

#[test]
fn navigation_on_an_empty_list_is_harmless() {
    let mut ov = overview();
    ov.sites.clear();
    let mut app = app_with(ov, false);
    for c in ['j', 'k', 'G', 'g'] {
        ch(&mut app, c);
    }
    key(&mut app, KeyCode::PageDown);
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert!(screen_text(&app, 80, 24).contains("No sites cached yet"));
}

// ---------- screens ----------

#[test]
fn enter_opens_the_site_and_esc_goes_back() {
    let mut app = app();
    open_st_marys(&mut app);
    let view = app.site_screen().unwrap();
    assert_eq!(view.credentials().len(), 2);
    ch(&mut app, 'j');
    assert_eq!(
        app.site_screen()
            .unwrap()
            .selected_credential()
            .unwrap()
            .client_id,
        BACKUP_CLIENT
    );
    ch(&mut app, 'j');
    assert_eq!(app.site_screen().unwrap().cursor.selected(), 1, "bounded");
    key(&mut app, KeyCode::Esc);
    assert!(matches!(app.screen(), Screen::Sites));
    assert_eq!(
        app.sites().selected_row().unwrap().site.name,
        "St Mary's C of E Primary School",
        "the list keeps the opened site selected"
    );
}

#[test]
fn help_and_history_open_and_close() {
    let mut app = app();
    ch(&mut app, '?');
    assert!(matches!(app.screen(), Screen::Help(_)));
    ch(&mut app, '?');
    assert!(matches!(app.screen(), Screen::Sites));
    let fx = ch(&mut app, 'h');
    assert_eq!(fx, vec![Effect::LoadRuns]);
    app.update(Action::RunsLoaded(Ok(vec![latest_run(), older_run()])));
    let Screen::History(view) = app.screen() else {
        panic!("history expected")
    };
    assert_eq!(view.runs().len(), 2);
    ch(&mut app, 'j');
    key(&mut app, KeyCode::Enter);
    let Screen::Run(run) = app.screen() else {
        panic!("run expected")
    };
    assert_eq!(run.run.run_id, older_run().run_id);
    // The removed site is not in the store any more: Enter says so.
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert_eq!(app.flash().unwrap().level, Level::Warning);
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Esc);
    assert!(matches!(app.screen(), Screen::Sites));
}

// ---------- reveal ----------

#[test]
fn reveal_asks_and_y_reveals() {
    let mut app = app();
    open_st_marys(&mut app);
    assert!(ch(&mut app, 'r').is_empty());
    assert!(matches!(app.confirm(), Some(Confirm::Reveal { .. })));
    assert_eq!(app.key_scope(), KeyScope::Confirm);
    let fx = ch(&mut app, 'y');
    assert_eq!(
        fx,
        vec![Effect::Reveal {
            org: org(ST_MARYS),
            client_id: MAIN_CLIENT.into()
        }]
    );
    assert!(app.confirm().is_none());
}

#[test]
fn reveal_any_other_key_cancels() {
    for code in [
        KeyCode::Char('n'),
        KeyCode::Esc,
        KeyCode::Enter,
        KeyCode::Char('Y'),
    ] {
        let mut app = app();
        open_st_marys(&mut app);
        ch(&mut app, 'r');
        let fx = key(&mut app, code);
        assert!(fx.is_empty(), "{code:?}");
        assert!(app.confirm().is_none());
        assert!(app.site_screen().unwrap().revealed.is_none());
        assert!(
            matches!(app.screen(), Screen::Site(_)),
            "{code:?} only closes the dialog"
        );
    }
}

#[test]
fn revealed_secret_hides_after_30_seconds() {
    let mut app = app();
    app.update(Action::Tick(t0() + secs(100)));
    open_st_marys(&mut app);
    reveal_main(&mut app);
    assert!(app
        .site_screen()
        .unwrap()
        .revealed_for(MAIN_CLIENT)
        .is_some());
    app.update(Action::Tick(t0() + secs(129)));
    assert!(
        app.site_screen().unwrap().revealed.is_some(),
        "still shown at 29 s"
    );
    app.update(Action::Tick(t0() + secs(130)));
    assert!(
        app.site_screen().unwrap().revealed.is_none(),
        "hidden at 30 s"
    );
}

#[test]
fn leaving_the_site_screen_masks() {
    let mut app = app();
    open_st_marys(&mut app);
    reveal_main(&mut app);
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Enter);
    app.update(Action::SiteLoaded {
        org: org(ST_MARYS),
        result: Ok(Some(st_marys_detail())),
    });
    assert!(app.site_screen().unwrap().revealed.is_none());
    // Covering the site with another screen masks too.
    reveal_main(&mut app);
    ch(&mut app, '?');
    ch(&mut app, '?');
    assert!(app.site_screen().unwrap().revealed.is_none());
}

#[test]
fn a_late_reveal_for_a_site_no_longer_shown_is_dropped() {
    let mut app = app();
    open_st_marys(&mut app);
    ch(&mut app, 'r');
    ch(&mut app, 'y');
    key(&mut app, KeyCode::Esc);
    app.update(Action::Revealed {
        org: org(ST_MARYS),
        client_id: MAIN_CLIENT.into(),
        result: Ok(SecretString::from(SECRET.to_string())),
    });
    assert!(matches!(app.screen(), Screen::Sites));
    assert!(!format!("{app:?}").contains(SECRET));
}

#[test]
fn r_on_a_revealed_secret_hides_it() {
    let mut app = app();
    open_st_marys(&mut app);
    reveal_main(&mut app);
    assert!(ch(&mut app, 'r').is_empty());
    assert!(app.confirm().is_none());
    assert!(app.site_screen().unwrap().revealed.is_none());
}

#[test]
fn app_debug_never_shows_a_revealed_secret() {
    let mut app = app();
    open_st_marys(&mut app);
    reveal_main(&mut app);
    assert!(app.site_screen().unwrap().revealed.is_some());
    assert!(!format!("{app:?}").contains(SECRET));
}

// ---------- copy and verify ----------

#[test]
fn copy_clears_the_clipboard_after_30_seconds() {
    let mut app = app();
    open_st_marys(&mut app);
    copy_main(&mut app);
    assert!(app.flash().unwrap().text.contains("clears in 30 s"));
    assert!(app.clipboard_pending());
    assert!(app.update(Action::Tick(t0() + secs(29))).is_empty());
    assert_eq!(
        app.update(Action::Tick(t0() + secs(30))),
        vec![Effect::ClearClipboard]
    );
    assert!(!app.clipboard_pending());
    assert!(app.update(Action::Tick(t0() + secs(31))).is_empty());
}

#[test]
fn quitting_clears_a_pending_clipboard() {
    let mut app = app();
    open_st_marys(&mut app);
    copy_main(&mut app);
    let fx = ch(&mut app, 'q');
    assert_eq!(fx, vec![Effect::ClearClipboard, Effect::Quit]);
    assert!(app.should_quit());
}

#[test]
fn verify_shows_results_per_credential() {
    let mut app = app();
    open_st_marys(&mut app);
    assert_eq!(ch(&mut app, 'v'), vec![Effect::Verify(org(ST_MARYS))]);
    assert_eq!(
        app.site_screen().unwrap().verify_for(MAIN_CLIENT),
        Some(None)
    );
    app.update(Action::Verified {
        org: org(ST_MARYS),
        result: Ok(vec![
            VerifyResult {
                client_id: MAIN_CLIENT.into(),
                ok: true,
                refused: false,
                error: None,
            },
            VerifyResult {
                client_id: BACKUP_CLIENT.into(),
                ok: false,
                refused: true,
                error: Some("invalid_client".into()),
            },
        ]),
    });
    let view = app.site_screen().unwrap();
    assert!(view.verify_for(MAIN_CLIENT).unwrap().unwrap().ok);
    assert!(!view.verify_for(BACKUP_CLIENT).unwrap().unwrap().ok);
    assert_eq!(
        app.flash().unwrap().text,
        "verify: 1 ok, 1 refused, 0 errors"
    );
    ch(&mut app, 'j');
    let text = screen_text(&app, 80, 24);
    assert!(text.contains("refused: invalid_client"), "{text}");
}

/// A credential the STS could not be asked about (the vault refused us,
/// the network, the configuration) is an error, never counted as refused.
#[test]
fn verify_summary_separates_ok_refused_and_error() {
    let mut app = app();
    open_st_marys(&mut app);
    ch(&mut app, 'v');
    app.update(Action::Verified {
        org: org(ST_MARYS),
        result: Ok(vec![
            VerifyResult {
                client_id: MAIN_CLIENT.into(),
                ok: false,
                refused: false,
                error: Some("cannot reach http://127.0.0.1:9/token".into()),
            },
            VerifyResult {
                client_id: BACKUP_CLIENT.into(),
                ok: false,
                refused: true,
                error: Some("invalid_client".into()),
            },
        ]),
    });
    assert_eq!(
        app.flash().unwrap().text,
        "verify: 0 ok, 1 refused, 1 error"
    );
    let text = screen_text(&app, 80, 24);
    assert!(text.contains("error"), "{text}");
}

// ---------- read-only ----------

#[test]
fn readonly_blocks_reveal_copy_verify_and_harvest() {
    let mut app = app_with(overview(), true);
    assert!(ch(&mut app, 'R').is_empty());
    assert!(app.confirm().is_none());
    assert!(app.flash().unwrap().text.contains("read-only"));
    open_st_marys(&mut app);
    for c in ['r', 'c', 'v', 'R'] {
        let fx = ch(&mut app, c);
        assert!(fx.is_empty(), "{c} must do nothing");
        assert!(app.confirm().is_none(), "{c} must not ask");
        assert!(app.flash().unwrap().text.contains("read-only"), "{c}");
    }
    ch(&mut app, ':');
    typed(&mut app, "harvest");
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert!(app.confirm().is_none());
    assert!(app.site_screen().unwrap().verify.is_none());
}

// ---------- harvest ----------

fn start_harvest(app: &mut simsid::tui::App) {
    assert!(ch(app, 'R').is_empty());
    assert_eq!(app.confirm(), Some(&Confirm::Harvest));
    assert_eq!(ch(app, 'y'), vec![Effect::StartHarvest]);
    assert!(matches!(app.screen(), Screen::Harvest));
    assert!(app.harvest_running());
}

#[test]
fn harvest_asks_first_and_n_does_nothing() {
    let mut app = app();
    ch(&mut app, 'R');
    assert!(ch(&mut app, 'n').is_empty());
    assert!(app.harvest().is_none());
    assert!(matches!(app.screen(), Screen::Sites));
}

#[test]
fn harvest_events_update_the_counters() {
    let mut app = app();
    start_harvest(&mut app);
    app.update(Action::Tick(t0() + secs(1)));
    app.update(Action::Harvest(vec![HarvestEvent::Listed { total: 6 }]));
    app.update(Action::Harvest(vec![
        HarvestEvent::SiteStarted { org: org(ST_MARYS) },
        HarvestEvent::SiteStarted { org: org(BRO_DWR) },
        HarvestEvent::SiteStarted { org: org(OAKFIELD) },
        HarvestEvent::Retrying {
            org: Some(org(OAKFIELD)),
            attempt: 1,
            delay: secs(2),
            reason: "HTTP 429".into(),
        },
        HarvestEvent::SiteDone {
            org: org(ST_MARYS),
            credentials: 2,
        },
        HarvestEvent::SiteFailed {
            org: org(OAKFIELD),
            error: "timeout after 3 attempts".into(),
        },
    ]));
    let h = app.harvest().unwrap();
    assert_eq!(h.counts.total, Some(6));
    assert_eq!(h.counts.in_flight, 1);
    assert_eq!(h.counts.harvested, 1);
    assert_eq!(h.counts.failed, 1);
    assert_eq!(h.counts.finished(), 2);
    assert_eq!(h.counts.retries, 1);
    assert_eq!(h.counts.credentials, 2);
    assert_eq!(h.counts.failures[0].error, "timeout after 3 attempts");
    let retry = h.last_retry.as_ref().unwrap();
    assert_eq!((retry.reason.as_str(), retry.attempt), ("HTTP 429", 1));
    assert_eq!(retry.org, Some(org(OAKFIELD)));
    // 2 sites in 4 s since the list arrived: 0.5/s, 4 left → ETA 8 s.
    let now = t0() + secs(5);
    assert_eq!(h.counts.rate(now), Some(0.5));
    assert_eq!(h.counts.eta(now), Some(secs(8)));
}

#[test]
fn coalesced_events_give_the_same_counts_as_single_ones() {
    let events: Vec<HarvestEvent> = std::iter::once(HarvestEvent::Listed { total: 5000 })
        .chain((0..5000).flat_map(|i| {
            let o = org(&format!("{i:08X}-0000-4000-8000-000000000000"));
            let end = if i % 7 == 0 {
                HarvestEvent::SiteFailed {
                    org: o.clone(),
                    error: "HTTP 500".into(),
                }
            } else {
                HarvestEvent::SiteDone {
                    org: o.clone(),
                    credentials: i % 3,
                }
            };
            [HarvestEvent::SiteStarted { org: o }, end]
        }))
        .collect();
    let mut one_by_one = app();
    start_harvest(&mut one_by_one);
    for ev in events.clone() {
        one_by_one.update(Action::Harvest(vec![ev]));
    }
    let mut batched = app();
    start_harvest(&mut batched);
    batched.update(Action::Harvest(events));
    assert_eq!(one_by_one.harvest(), batched.harvest());
    let h = batched.harvest().unwrap();
    assert_eq!(h.counts.finished(), 5000);
    assert_eq!(h.counts.failed, 715);
    assert_eq!(h.counts.in_flight, 0);
}

#[test]
fn esc_or_x_cancels_the_harvest_once() {
    for c in [KeyCode::Esc, KeyCode::Char('x')] {
        let mut app = app();
        start_harvest(&mut app);
        assert_eq!(key(&mut app, c), vec![Effect::CancelHarvest], "{c:?}");
        assert!(app.harvest().unwrap().cancelling);
        assert!(key(&mut app, c).is_empty(), "asked once");
        app.update(Action::HarvestFinished(Ok(HarvestEnd::Cancelled(
            Box::new(tui_support::cancelled_run()),
        ))));
        assert!(app.harvest().is_none());
        assert!(matches!(app.screen(), Screen::Sites));
        assert_eq!(app.flash().unwrap().text, "cancelled — nothing committed");
    }
}

#[test]
fn the_pane_hides_while_the_harvest_continues_and_the_list_stays_usable() {
    let mut app = app();
    start_harvest(&mut app);
    app.update(Action::Harvest(vec![HarvestEvent::Listed { total: 6 }]));
    assert!(ch(&mut app, 'b').is_empty());
    assert!(matches!(app.screen(), Screen::Sites));
    assert!(app.harvest_running());
    ch(&mut app, 'j');
    assert_eq!(app.sites().cursor.selected(), 1);
    let text = screen_text(&app, 80, 24);
    assert!(text.contains("harvest 0/6"), "{text}");
    // R shows the pane again rather than starting another harvest.
    assert!(ch(&mut app, 'R').is_empty());
    assert!(app.confirm().is_none());
    assert!(matches!(app.screen(), Screen::Harvest));
    // Quitting cancels the running harvest.
    assert_eq!(ch(&mut app, 'q'), vec![Effect::CancelHarvest, Effect::Quit]);
}

#[test]
fn finished_harvest_shows_the_diff_and_enter_opens_a_changed_site() {
    let mut app = app();
    start_harvest(&mut app);
    let fx = app.update(Action::HarvestFinished(Ok(HarvestEnd::Finished(Box::new(
        latest_run(),
    )))));
    assert_eq!(fx, vec![Effect::LoadOverview]);
    assert!(!app.harvest_running());
    // Items: Bro Dŵr added, Belfast authorisation, Bro Dŵr credential, St Mary's rotated.
    ch(&mut app, 'G');
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::LoadSite(org(ST_MARYS))]
    );
    key(&mut app, KeyCode::Esc);
    assert!(matches!(app.screen(), Screen::Harvest), "back to the diff");
    ch(&mut app, 'g');
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::LoadSite(org(BRO_DWR))]
    );
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Esc);
    assert!(matches!(app.screen(), Screen::Sites));
    assert!(app.harvest().is_none());
}

#[test]
fn finished_while_hidden_says_where_the_diff_is() {
    let mut app = app();
    start_harvest(&mut app);
    ch(&mut app, 'b');
    app.update(Action::HarvestFinished(Ok(HarvestEnd::Finished(Box::new(
        latest_run(),
    )))));
    assert!(app.harvest().is_none());
    assert!(app.flash().unwrap().text.contains("h shows the diff"));
    assert_eq!(app.flash().unwrap().level, Level::Warning, "partial run");
}

#[test]
fn harvest_error_is_shown() {
    let mut app = app();
    start_harvest(&mut app);
    app.update(Action::HarvestFinished(Err("token request refused".into())));
    assert!(!app.harvest_running());
    assert!(screen_text(&app, 80, 24).contains("token request refused"));
}

#[test]
fn reload_after_harvest_keeps_the_selection() {
    let mut app = app();
    ch(&mut app, 'G');
    let selected = app.sites().selected_row().unwrap().site.org_id.clone();
    let mut ov = overview();
    ov.sites.reverse();
    ov.sites.remove(0);
    app.update(Action::OverviewLoaded(Ok(ov)));
    assert_eq!(app.sites().rows().len(), 5);
    assert_eq!(app.sites().selected_row().unwrap().site.org_id, selected);
}

// ---------- command line ----------

#[test]
fn goto_finds_org_id_in_any_case_with_braces_dfe_and_deni() {
    for query in [
        "{207a1392-e1f6-47ba-81da-6c374971d788}",
        "207A1392E1F647BA81DA6C374971D788",
        "123/4567",
        "1234567",
    ] {
        let mut app = app();
        ch(&mut app, ':');
        typed(&mut app, &format!("goto {query}"));
        assert_eq!(
            key(&mut app, KeyCode::Enter),
            vec![Effect::LoadSite(org(ST_MARYS))],
            "{query}"
        );
        assert!(matches!(app.screen(), Screen::Site(_)));
    }
    let mut app = app();
    ch(&mut app, ':');
    typed(&mut app, "goto 142-0021");
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::LoadSite(org(BELFAST))]
    );
}

#[test]
fn goto_unknown_is_an_error() {
    let mut app = app();
    ch(&mut app, ':');
    typed(&mut app, "goto 999/9999");
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    let flash = app.flash().unwrap();
    assert_eq!(flash.level, Level::Error);
    assert!(flash.text.contains("999/9999"));
    assert!(matches!(app.screen(), Screen::Sites));
}

#[test]
fn command_line_harvest_profile_quit_and_unknown() {
    let mut app = app();
    ch(&mut app, ':');
    typed(&mut app, "harvest");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.confirm(), Some(&Confirm::Harvest));
    ch(&mut app, 'n');

    ch(&mut app, ':');
    typed(&mut app, "profile staging");
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::SwitchProfile("staging".into())]
    );
    let mut ov = overview();
    ov.profile = "staging".into();
    ov.sites.truncate(2);
    app.update(Action::ProfileSwitched {
        name: "staging".into(),
        result: Ok(ov),
    });
    assert_eq!(app.sites().rows().len(), 2);
    assert!(screen_text(&app, 80, 24).contains("staging"));

    ch(&mut app, ':');
    typed(&mut app, "frobnicate");
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert_eq!(app.flash().unwrap().level, Level::Error);

    ch(&mut app, ':');
    typed(&mut app, "q");
    assert_eq!(key(&mut app, KeyCode::Enter), vec![Effect::Quit]);
    assert!(app.should_quit());
}

#[test]
fn ctrl_c_quits_from_anywhere() {
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    let mut app = app();
    ch(&mut app, '/');
    assert_eq!(app.handle_key(ctrl_c), vec![Effect::Quit]);
    let mut app = self::tui_support::app();
    ch(&mut app, 'R');
    assert_eq!(app.handle_key(ctrl_c), vec![Effect::Quit]);
    let mut app = self::tui_support::app();
    open_st_marys(&mut app);
    assert_eq!(app.handle_key(ctrl_c), vec![Effect::Quit]);
}

#[test]
fn flash_messages_fade_out() {
    let mut app = app();
    ch(&mut app, ':');
    typed(&mut app, "nope");
    key(&mut app, KeyCode::Enter);
    assert!(app.flash().is_some());
    app.update(Action::Tick(t0() + secs(5)));
    assert!(app.flash().is_some(), "errors stay a while");
    app.update(Action::Tick(t0() + secs(60)));
    assert!(app.flash().is_none());
}

// ---------- key table ----------

/// Every key named in docs/reference/cli.md's "Console keys", with a context where it applies.
fn cli_md_keys() -> Vec<(&'static str, KeyEvent, KeyScope)> {
    let k = |c| KeyEvent::new(c, KeyModifiers::NONE);
    let c = |ch| k(KeyCode::Char(ch));
    vec![
        ("↑", k(KeyCode::Up), KeyScope::Sites),
        ("↓", k(KeyCode::Down), KeyScope::Sites),
        ("j", c('j'), KeyScope::Sites),
        ("k", c('k'), KeyScope::Sites),
        ("PgUp", k(KeyCode::PageUp), KeyScope::Sites),
        ("PgDn", k(KeyCode::PageDown), KeyScope::Sites),
        ("g", c('g'), KeyScope::Sites),
        (
            "G",
            KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT),
            KeyScope::Sites,
        ),
        ("/", c('/'), KeyScope::Sites),
        ("Esc", k(KeyCode::Esc), KeyScope::Sites),
        ("Enter", k(KeyCode::Enter), KeyScope::Sites),
        ("s", c('s'), KeyScope::Sites),
        ("S", c('S'), KeyScope::Sites),
        ("a", c('a'), KeyScope::Sites),
        ("r", c('r'), KeyScope::Site),
        ("y", c('y'), KeyScope::Confirm),
        ("c", c('c'), KeyScope::Site),
        ("v", c('v'), KeyScope::Site),
        ("R", c('R'), KeyScope::Sites),
        ("Esc", k(KeyCode::Esc), KeyScope::Harvest),
        ("x", c('x'), KeyScope::Harvest),
        ("h", c('h'), KeyScope::Sites),
        (":", c(':'), KeyScope::Sites),
        ("?", c('?'), KeyScope::Sites),
        ("q", c('q'), KeyScope::Sites),
        (
            "Ctrl-C",
            KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
            KeyScope::Sites,
        ),
    ]
}

#[test]
fn key_table_covers_every_key_of_cli_md_and_help_lists_them() {
    let mut app = app();
    ch(&mut app, '?');
    let help = screen_text(&app, 100, 80);
    for (name, event, context) in cli_md_keys() {
        let command = keys::resolve(context, &event);
        assert!(command.is_some(), "{name} does nothing in {context:?}");
        let binding = keys::BINDINGS
            .iter()
            .find(|b| {
                (b.scope == context || b.scope == KeyScope::Global || b.scope == KeyScope::Always)
                    && Some(b.command) == command
            })
            .unwrap_or_else(|| panic!("{name}: no binding"));
        assert!(!binding.description.is_empty());
        assert!(
            help.contains(binding.label) && help.contains(binding.description),
            "help lists {name} ({})",
            binding.label
        );
    }
    // The specific commands docs/reference/cli.md promises.
    let want = [
        ("r", UserCommand::Reveal),
        ("c", UserCommand::Copy),
        ("v", UserCommand::Verify),
        ("R", UserCommand::Harvest),
        ("s", UserCommand::SortNext),
        ("S", UserCommand::SortReverse),
        ("a", UserCommand::StatusFilterNext),
        ("/", UserCommand::Filter),
        ("q", UserCommand::Quit),
        ("x", UserCommand::CancelHarvest),
    ];
    let table = cli_md_keys();
    for (name, command) in want {
        let (_, ev, ctx) = table.iter().find(|(n, _, _)| *n == name).unwrap();
        assert_eq!(keys::resolve(*ctx, ev), Some(command), "{name}");
    }
}

#[test]
fn footer_and_help_mark_readonly_keys() {
    let mut app = app_with(overview(), true);
    ch(&mut app, '?');
    let help = screen_text(&app, 100, 80);
    let marked = help
        .lines()
        .filter(|l| l.contains("(read-only: off)"))
        .count();
    assert_eq!(marked, keys::BINDINGS.iter().filter(|b| b.writes).count());
    ch(&mut app, '?');
    let text = screen_text(&app, 120, 24);
    assert!(text.contains("harvest(off)"), "{text}");
    assert!(text.contains("READ-ONLY"));
}

#[test]
fn the_reveal_flash_goes_with_the_site_screen() {
    let mut app = app();
    open_st_marys(&mut app);
    reveal_main(&mut app);
    assert!(app.flash().is_some_and(|f| f.text.contains("shown")));
    key(&mut app, KeyCode::Esc);
    assert!(app.flash().is_none(), "the secret is no longer shown");
}

#[test]
fn a_removed_site_keeps_its_name_in_the_console() {
    let mut app = app();
    let name = app.known_name(&org(ST_MARYS)).unwrap().to_string();
    let mut ov = overview();
    ov.sites.retain(|r| r.site.org_id != org(ST_MARYS));
    app.update(Action::OverviewLoaded(Ok(ov)));
    assert!(app.sites().by_org(&org(ST_MARYS)).is_none());
    assert_eq!(app.known_name(&org(ST_MARYS)), Some(name.as_str()));
}

// ---------- a team-mode viewer ----------

fn viewer(readonly: bool) -> simsid::tui::App {
    let mut overview = overview();
    overview.capabilities = simsid::tui::Capabilities {
        refresh: simsid::tui::Refresh::Pull,
        refresh_one: false,
        reveal: None,
        header: "view from vault vault.example:8200".into(),
        reads_vault: true,
    };
    app_with(overview, readonly)
}

fn pulled(changed: bool) -> simsid::domain::Pulled {
    simsid::domain::Pulled {
        run_id: Some("1a2b3c4d-0000-4000-8000-000000000000".into()),
        published_at: None,
        sites: 6,
        credentials: 9,
        changed,
    }
}

#[test]
fn a_viewer_pulls_when_the_console_starts_and_on_r_and_never_harvests() {
    let mut app = viewer(false);
    assert_eq!(
        app.update(Action::Started),
        [Effect::Pull, Effect::CheckSecretsAccess]
    );
    assert!(app.pulling());
    // One pull at a time: R while one runs asks for nothing more.
    assert!(ch(&mut app, 'R').is_empty());
    assert!(
        app.confirm().is_none(),
        "R on a viewer asks no harvest confirmation"
    );
    // A changed view reloads what is on screen; an unchanged one does not.
    let fx = app.update(Action::Pulled(Ok(pulled(true))));
    assert_eq!(fx, [Effect::LoadOverview]);
    assert!(!app.pulling());
    assert!(
        app.flash().unwrap().text.contains("run 1a2b3c4d"),
        "{:?}",
        app.flash()
    );
    assert_eq!(ch(&mut app, 'R'), [Effect::Pull]);
    assert!(app.update(Action::Pulled(Ok(pulled(false)))).is_empty());
    assert!(app.flash().unwrap().text.starts_with("view unchanged"));
    // A failed pull is said; the local view stays.
    assert_eq!(ch(&mut app, 'R'), [Effect::Pull]);
    app.update(Action::Pulled(Err("vault unreachable".into())));
    assert_eq!(app.flash().unwrap().level, Level::Error);
    assert_eq!(names(&app).len(), 6);
    // `u` on a site says where harvests run.
    key(&mut app, KeyCode::Enter);
    let fx = ch(&mut app, 'u');
    assert!(
        fx.iter().all(|e| !matches!(e, Effect::StartSiteHarvest(_))),
        "{fx:?}"
    );
    assert!(app.flash().unwrap().text.contains("harvest host"));
}

#[test]
fn a_readonly_viewer_still_pulls_and_a_harvesting_profile_does_not_pull_at_start() {
    let mut app = viewer(true);
    assert_eq!(
        app.update(Action::Started),
        [Effect::Pull, Effect::CheckSecretsAccess]
    );
    app.update(Action::Pulled(Ok(pulled(false))));
    assert_eq!(ch(&mut app, 'R'), [Effect::Pull]);
    let mut local = app_with(overview(), false);
    assert!(local.update(Action::Started).is_empty());
    assert!(ch(&mut local, 'R').is_empty());
    assert_eq!(local.confirm(), Some(&Confirm::Harvest));
}

/// The footer says `R pull`; once the vault said this identity may not
/// read secrets, reveal, copy and verify are no longer offered, and pressing them says why
/// (nothing is asked of the vault).
#[test]
fn a_viewer_without_the_operator_policy_is_not_offered_secrets() {
    let mut app = viewer(false);
    app.update(Action::Started);
    let text = screen_text(&app, 80, 24);
    assert!(text.contains("R pull"), "{text}");
    assert!(!text.contains("R harvest"), "{text}");
    // The header fits 80 columns: the vault address without its scheme.
    assert!(
        text.contains("view from vault vault.example:8200"),
        "{text}"
    );

    key(&mut app, KeyCode::Enter);
    let offered = footer_of(&screen_text(&app, 80, 24));
    assert!(
        offered.contains("r reveal") && offered.contains("c copy"),
        "{offered}"
    );
    app.update(Action::SecretsAccess(Some(false)));
    let text = footer_of(&screen_text(&app, 80, 24));
    for hint in ["r reveal", "c copy", "v verify"] {
        assert!(!text.contains(hint), "{hint} still offered:\n{text}");
    }
    for c in ['r', 'c', 'v'] {
        assert!(ch(&mut app, c).is_empty(), "{c} asks nothing");
        assert!(app.confirm().is_none());
        let flash = app.flash().unwrap();
        assert!(
            flash.text.contains("may not read secrets"),
            "{c}: {flash:?}"
        );
    }
}

/// The footer: the screen's last line.
fn footer_of(text: &str) -> String {
    text.lines().last().unwrap_or_default().to_string()
}

/// Without a capabilities answer, the vault's refusal of a first reveal teaches the same.
#[test]
fn a_viewer_learns_from_a_refused_reveal() {
    let mut app = viewer(false);
    app.update(Action::Started);
    app.update(Action::SecretsAccess(None));
    open_st_marys(&mut app);
    assert!(footer_of(&screen_text(&app, 80, 24)).contains("r reveal"));
    ch(&mut app, 'r');
    ch(&mut app, 'y');
    app.update(Action::Revealed {
        org: org(ST_MARYS),
        client_id: MAIN_CLIENT.into(),
        result: Err("vault: permission denied (403) on secret/data/simsid/x".into()),
    });
    let text = screen_text(&app, 80, 24);
    assert!(!footer_of(&text).contains("r reveal"), "{text}");
    assert!(ch(&mut app, 'c').is_empty());
}

/// Inside tmux that passes no clipboard write on, `c` reads nothing and
/// says which tmux setting is needed; with a route, it copies and the site's exposure
/// line is reloaded at once.
#[test]
fn copy_inside_tmux_without_the_setting_says_so_and_reads_nothing() {
    let mut app = app();
    open_st_marys(&mut app);
    app.update(Action::ClipboardRoute(
        simsid::tui::osc52::Route::TmuxBlocked,
    ));
    assert!(ch(&mut app, 'c').is_empty());
    let flash = app.flash().unwrap();
    assert!(flash.text.contains("set -g set-clipboard on"), "{flash:?}");
    assert!(!flash.text.contains("copied"), "{flash:?}");

    app.update(Action::ClipboardRoute(simsid::tui::osc52::Route::Plain));
    let fx = ch(&mut app, 'c');
    assert!(matches!(fx.as_slice(), [Effect::Copy { .. }]), "{fx:?}");
    let fx = app.update(Action::Copied {
        org: org(ST_MARYS),
        client_id: MAIN_CLIENT.into(),
        result: Ok(()),
    });
    assert!(app.flash().unwrap().text.starts_with("copied"));
    assert!(
        fx.contains(&Effect::LoadSiteExposure(org(ST_MARYS))),
        "the exposed line is reloaded after a copy: {fx:?}"
    );
}

/// The first frame is drawn from the first screen of sites and the totals;
/// the whole list is asked for at start, and keys pressed before it arrives are applied to
/// it, in order, once it has.
#[test]
fn the_first_frame_shows_the_head_and_keys_wait_for_the_whole_list() {
    let full = overview();
    let mut head = full.clone();
    head.sites.truncate(2);
    let totals = simsid::store::SiteTotals {
        sites: 6,
        authorised: 4,
        unauthorised: 1,
        unknown: 1,
        stale: 1,
        changed: 3,
    };
    let mut app = simsid::tui::App::with_head(
        head,
        totals,
        simsid::tui::ConsoleOptions::default(),
        simsid::tui::theme::Theme::new(false),
        t0(),
    );
    app.update(Action::Resize {
        width: 80,
        height: 24,
    });
    let text = screen_text(&app, 80, 24);
    assert!(text.contains("6 sites · 4 authorised"), "{text}");
    assert!(text.contains("6 of 6"), "the totals, not the head: {text}");
    assert_eq!(app.update(Action::Started), [Effect::LoadAllSites]);
    // G and a filter typed before the list is in: nothing moves yet.
    assert!(ch(&mut app, 'G').is_empty());
    ch(&mut app, '/');
    typed(&mut app, "ysgol");
    assert!(app.input().is_none(), "the filter line waits for the list");
    app.update(Action::OverviewLoaded(Ok(full)));
    assert_eq!(names(&app).len(), 2, "{:?}", names(&app));
    assert!(names(&app).iter().all(|n| n.starts_with("Ysgol")));
    assert!(screen_text(&app, 80, 24).contains("2 of 6"));
}

/// Typing on narrows the listed rows; deleting widens them again to every match.
#[test]
fn typing_narrows_and_deleting_widens_the_filter() {
    let mut app = app();
    ch(&mut app, '/');
    typed(&mut app, "o");
    let o = names(&app);
    typed(&mut app, "l");
    let ol = names(&app);
    assert!(
        ol.len() <= o.len() && ol.iter().all(|n| n.to_lowercase().contains("ol")),
        "{ol:?}"
    );
    key(&mut app, KeyCode::Backspace);
    assert_eq!(names(&app), o, "back to every row with an o");
}
