//! `simsid harvest --site ORG` (docs/reference/cli.md "One school"): refresh one school from the fresh
//! site list, for the operator waiting for a newly onboarded school.

use super::commands::{print_run, CmdResult};
use super::exit::{self, CliError};
use super::names::site_label;
use crate::domain::SiteRow;
use crate::harvest::HarvestEnd;
use crate::ops::{self, Context, SiteEnd};

/// `simsid harvest --site ORG [--json]`, one school through the profile's keeper.
pub async fn harvest_site(ctx: &Context, json: bool, query: &str) -> CmdResult {
    let request = ops::HarvestRequest {
        site: Some(query),
        on_locked: Some(&super::store_key::say_key_notice),
        ..ops::HarvestRequest::default()
    };
    let ops::Harvested { end, vault, store } = super::commands::run_harvest(ctx, request).await?;
    let store = &store.store;
    let summary = match end? {
        SiteEnd::Unlisted => {
            return Err(CliError {
                code: exit::NOT_FOUND,
                message: ops::harvest::unlisted_message(query),
            })
        }
        SiteEnd::Ambiguous(sites) => {
            let sites: Vec<&crate::domain::Site> = sites.iter().collect();
            return Err(CliError {
                code: exit::NOT_FOUND,
                message: crate::lookup::ambiguous_message(query, &sites),
            });
        }
        SiteEnd::Ran(HarvestEnd::Cancelled(s) | HarvestEnd::Finished(s)) => s,
    };
    let names = super::commands::names_for_run(store, &summary);
    let code = print_run(json, &summary, vault.as_ref(), &names)?;
    if code == exit::OK && !json {
        // The school as the store now holds it: approved, or still in the queue.
        let row = match store.resolve(query) {
            Ok(crate::lookup::Found::One(row)) => Some(row),
            _ => None,
        };
        eprintln!("{}", next_step(row.as_ref(), query));
    }
    Ok(code)
}

/// What to do next after refreshing one school: verify its credentials, or, while it
/// awaits approval, approve it in SIMS ID first.
fn next_step(row: Option<&SiteRow>, query: &str) -> String {
    match row {
        Some(r) if r.site.authorised == Some(false) => format!(
            "{} is installed and awaiting approval: approve it in SIMS ID (App Management); \
             `simsid status` shows it leave the queue, then `simsid harvest --site {}` fetches \
             its credentials",
            site_label(&r.site),
            r.site.org_id
        ),
        Some(r) => format!(
            "next: `simsid verify {}` checks that the credentials of {} work",
            r.site.org_id,
            site_label(&r.site)
        ),
        None => format!(
            "next: `simsid verify {}` checks that its credentials work",
            crate::sanitize::for_terminal(query)
        ),
    }
}
