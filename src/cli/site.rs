//! `simsid harvest --site ORG` (cli.md "One school"): refresh one school from the fresh
//! site list, for the operator waiting for a newly onboarded school.

use super::commands::{print_run, CmdResult};
use super::exit::{self, CliError};
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
    let code = print_run(json, &summary, sink.report().as_ref())?;
    if code == exit::OK && !json {
        if let Some(org) = summary
            .diff
            .sites_added
            .first()
            .or_else(|| summary.failures.first().map(|f| &f.organisation_id))
        {
            eprintln!("next: `simsid verify {org}` checks that its credentials work");
        } else {
            eprintln!(
                "next: `simsid verify {}` checks that its credentials work",
                crate::sanitize::for_terminal(query)
            );
        }
    }
    Ok(code)
}
