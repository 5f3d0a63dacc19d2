//! The console's onboarding queue (issue 17 item 6): the unauthorised view lists the sites
//! waiting for approval longest first and shows how long each has waited.

mod tui_support;

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
