//! `simsid harvest --site ORG` (cli.md "One school"): refresh one school from the fresh
//! site list, for the operator waiting for a newly onboarded school.

use super::commands::{print_run, CmdResult};
use super::exit::{self, CliError};
use super::names::SchoolNames;
use crate::domain::SiteRow;
use crate::harvest::HarvestEnd;
use crate::ops::{self, Context, SiteEnd};

/// `simsid harvest --site ORG [--json]`, through the profile's keeper's sink.
pub async fn harvest_site(ctx: &Context, json: bool, query: &str) -> CmdResult {
    ctx.refuse_if_readonly("harvest")?;
    let concurrency = ctx.settings.remote.as_ref().map_or(0, |r| r.concurrency);
    let mut sink = ctx.keeper.sink(ops::SinkOptions {
        concurrency,
        ..ops::SinkOptions::default()
    })?;
    ctx.remote()?;
    let (_lock, mut store) = ops::open_for_harvest(&ctx.settings.local)?;
    super::store_key::say_key_notice(&mut store);
    let before = super::commands::names_in(&store);
    let request = ops::keeper::HarvestRequest {
        site: Some(query),
        ..Default::default()
    };
    let end = super::commands::run_harvest(ctx, &mut store, &mut sink, request).await?;
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
    let names = super::commands::names_in(&store).or(before);
    let code = print_run(json, &summary, sink.report().as_ref(), &names)?;
    if code == exit::OK && !json {
        // The school as the store now holds it: approved, or still in the queue.
        let row = match store.resolve(query) {
            Ok(crate::lookup::Found::One(row)) => Some(row),
            _ => None,
        };
        eprintln!("{}", next_step(row.as_ref(), query, &names));
    }
    Ok(code)
}

/// What to do next after refreshing one school: verify its credentials, or, while it
/// awaits approval, approve it in SIMS ID first.
fn next_step(row: Option<&SiteRow>, query: &str, names: &SchoolNames) -> String {
    match row {
        Some(r) if r.site.authorised == Some(false) => format!(
            "{} is installed and awaiting approval: approve it in SIMS ID (App Management); \
             `simsid status` shows it leave the queue, then `simsid harvest --site {}` fetches \
             its credentials",
            names.label(&r.site.org_id),
            r.site.org_id
        ),
        Some(r) => format!(
            "next: `simsid verify {}` checks that the credentials of {} work",
            r.site.org_id,
            names.label(&r.site.org_id)
        ),
        None => format!(
            "next: `simsid verify {}` checks that its credentials work",
            crate::sanitize::for_terminal(query)
        ),
    }
}
