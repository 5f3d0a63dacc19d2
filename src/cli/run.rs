//! Runs one parsed command line: hardening, settings, logging, then the command.

use std::sync::Arc;

use super::args::{Cli, Command};
use super::console::ConsoleServices;
use super::exit::{self, CliError};
use super::{commands, demo, incident};
use crate::config::{self, Dirs, ProcessEnv};
use crate::ops::Context;

/// Runs the command line and returns the process exit code.
pub async fn run(cli: Cli) -> u8 {
    let hardening = crate::security::harden_process();
    match execute(cli, &hardening).await {
        Ok(code) => code,
        Err(e) => {
            if !e.message.is_empty() {
                eprintln!(
                    "simsid: {}",
                    crate::sanitize::for_terminal_lines(&e.message)
                );
                tracing::error!(code = e.code, error = %e.message, "command failed");
            }
            e.code
        }
    }
}

async fn execute(cli: Cli, hardening: &[String]) -> Result<u8, CliError> {
    let global = cli.global;
    let command = cli.command.unwrap_or(Command::Tui);
    match command {
        Command::Simulate {
            listen,
            sites,
            seed,
            latency_ms,
            rate_limit,
        } => {
            let config = simsid_simulator::SimConfig {
                sites: sites as usize,
                seed,
                latency: std::time::Duration::from_millis(latency_ms),
                rate_limit,
                ..simsid_simulator::SimConfig::default()
            };
            let (mut out, mut notes) = (std::io::stdout(), std::io::stderr());
            simsid_simulator::serve_until_interrupted(config, listen, &mut out, &mut notes)
                .await
                .map_err(|e| CliError::runtime(format!("simulator: {e}")))?;
            return Ok(exit::OK);
        }
        Command::Completions { shell } => {
            return super::shell::completions(shell, &mut std::io::stdout().lock())
                .map(|()| exit::OK)
                .map_err(commands::io_err);
        }
        Command::Man => {
            return super::shell::man_page(&mut std::io::stdout().lock())
                .map(|()| exit::OK)
                .map_err(commands::io_err);
        }
        Command::Demo { sites, seed } => {
            return demo::run(sites as usize, seed, global.readonly, global.verbose).await;
        }
        // Printing the policies needs no login, no secret id and no SIMS ID settings.
        Command::Vault {
            command: super::args::VaultCommand::Policy { role },
        } => return super::vault_cmd::policy(&global.flags(None), role),
        _ => {}
    }

    let concurrency = match &command {
        Command::Harvest { concurrency, .. } => concurrency.map(|c| c as usize),
        _ => None,
    };
    let flags = global.flags(concurrency);
    let mut settings = config::resolve(&flags, &ProcessEnv, &Dirs::platform())
        .map_err(|e| CliError::usage(e.to_string()))?;
    // `--metrics FILE` on a harvest or a pull: where this run's metrics go.
    if let Command::Harvest {
        metrics: Some(path),
        ..
    }
    | Command::Pull {
        metrics: Some(path),
        ..
    } = &command
    {
        settings.local.metrics_file = Some(path.clone());
    }
    for w in &settings.warnings {
        eprintln!(
            "simsid: warning: {}",
            crate::sanitize::for_terminal_lines(w)
        );
    }
    match crate::logging::init(&settings.local.log_path, global.verbose) {
        Ok(Some(note)) => eprintln!("simsid: warning: {note}"),
        Ok(None) => {}
        Err(e) => eprintln!(
            "simsid: warning: cannot open log file {}: {e}",
            settings.local.log_path.display()
        ),
    }
    for p in hardening {
        tracing::warn!(problem = %p, "process hardening");
    }
    for w in crate::store::check_permissions(&settings.local.store_path) {
        eprintln!("simsid: warning: {w}");
    }
    let ctx = Context::new(settings);
    tracing::info!(command = command_name(&command), profile = %ctx.settings().local.profile, "start");

    match command {
        Command::Tui => {
            let services = ConsoleServices::new(ctx.clone(), Some(flags), None)
                .map_err(|e| CliError::runtime(e.to_string()))?;
            let ended = crate::tui::run(
                Arc::new(services),
                crate::tui::ConsoleOptions {
                    readonly: ctx.settings().local.readonly,
                },
            )
            .await;
            exit::console_exit(ended)
        }
        Command::Harvest {
            json,
            accept_removals,
            reconcile,
            metrics: _,
            site,
            ..
        } => {
            if let Some(org) = site {
                return super::harvest_one::harvest_site(&ctx, json, &org).await;
            }
            let policy = crate::ops::HarvestPolicy { accept_removals };
            commands::harvest(&ctx, json, reconcile, policy).await
        }
        Command::Pull {
            json,
            accept_older,
            accept_removals,
            metrics: _,
        } => {
            let options = crate::team::PullOptions {
                accept_older,
                accept_removals,
            };
            super::team::pull(&ctx, json, options).await
        }
        Command::Sites {
            json,
            filter,
            status,
        } => commands::sites(&ctx, json, filter.as_deref(), status),
        Command::Show {
            org,
            json,
            check_vault: true,
            ..
        } => super::team::show_check_vault(&ctx, &org, json).await,
        Command::Show {
            org, json, reveal, ..
        } => commands::show(&ctx, &org, json, reveal).await,
        Command::Verify {
            org,
            json,
            exposed,
            user,
            all,
            vault_audit,
        } => match org {
            Some(org) => commands::verify(&ctx, &org, json).await,
            None => {
                let selection = if all {
                    crate::ops::verify::Selection::All
                } else if vault_audit.files.is_empty() && vault_audit.exclude_user.is_empty() {
                    debug_assert!(exposed);
                    crate::ops::verify::Selection::Exposed { user }
                } else {
                    incident::exposed_selection(&ctx, user, &vault_audit)?
                };
                incident::verify_selection(&ctx, selection, json).await
            }
        },
        Command::Vault { command } => super::vault_cmd::vault(&ctx, command).await,
        Command::Store { command } => super::store_key::store(&ctx, command),
        Command::History { json } => commands::history(&ctx, json),
        Command::Status { json, max_age } => super::status::status(&ctx, json, max_age),
        Command::Audit { json, verify: true } => incident::audit_verify(&ctx, json),
        Command::Audit { json, .. } => commands::audit(&ctx, json),
        Command::Exposure(args) => incident::exposure(&ctx, &args),
        Command::Export { format, output } => commands::export(&ctx, format, output.as_deref()),
        Command::Simulate { .. }
        | Command::Demo { .. }
        | Command::Completions { .. }
        | Command::Man => Ok(exit::OK),
    }
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Tui => "tui",
        Command::Demo { .. } => "demo",
        Command::Harvest { .. } => "harvest",
        Command::Pull { .. } => "pull",
        Command::Sites { .. } => "sites",
        Command::Show { .. } => "show",
        Command::Verify { .. } => "verify",
        Command::History { .. } => "history",
        Command::Status { .. } => "status",
        Command::Audit { .. } => "audit",
        Command::Exposure { .. } => "exposure",
        Command::Export { .. } => "export",
        Command::Simulate { .. } => "simulate",
        Command::Completions { .. } => "completions",
        Command::Man => "man",
        Command::Vault { .. } => "vault",
        Command::Store { .. } => "store",
    }
}
