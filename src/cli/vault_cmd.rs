//! `simsid vault check` and `simsid vault policy` (docs/reference/vault.md). Printing the policies needs
//! only the mount, the prefix and `client_secret_vault`: no vault login, no secret id, no
//! SIMS ID settings, so it runs before the rest of the settings are resolved.

use std::io::Write;

use super::args::{PolicyRole, VaultCommand};
use super::exit::{self, io_err, CliError, CmdResult};
use super::output;
use crate::config::{Dirs, Flags, ProcessEnv};
use crate::ops::Context;
use crate::vault::policy::{render_roles, Role, Scope};

/// `simsid vault policy [--role R]`: the role's policy, or all four.
pub fn policy(flags: &Flags, role: Option<PolicyRole>) -> CmdResult {
    let scope = crate::config::resolve_policy_scope(flags, &ProcessEnv, &Dirs::platform())
        .map_err(|e| CliError::usage(e.to_string()))?;
    for note in &scope.notes {
        eprintln!(
            "simsid: warning: {}",
            crate::sanitize::for_terminal_lines(note)
        );
    }
    let roles: Vec<Role> = match role {
        Some(r) => vec![r.role()],
        None => Role::ALL.to_vec(),
    };
    let text = render_roles(
        &roles,
        &Scope {
            mount: &scope.mount,
            prefix: &scope.prefix,
            integrator: scope.integrator.as_ref(),
        },
    );
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).map_err(io_err)?;
    Ok(exit::OK)
}

/// `simsid vault check` (`vault policy` is [`policy`], run before the settings).
pub async fn vault(ctx: &Context, command: VaultCommand) -> CmdResult {
    match command {
        VaultCommand::Policy { role } => {
            let flags = crate::config::Flags {
                config: ctx.settings().local.config_path.clone(),
                profile: Some(ctx.settings().local.profile.clone()),
                ..crate::config::Flags::default()
            };
            policy(&flags, role)
        }
        VaultCommand::Check { json } => {
            let lines = ctx.keeper().check_vault().await?;
            let ok = lines.iter().all(|l| l.ok);
            let mut out = std::io::stdout().lock();
            if json {
                let v = serde_json::json!({ "ok": ok, "checks": lines });
                output::write_json(&mut out, &v).map_err(io_err)?;
            } else {
                for l in &lines {
                    writeln!(
                        out,
                        "{:<4} {}: {}",
                        if l.ok { "ok" } else { "FAIL" },
                        l.check,
                        l.detail
                    )
                    .map_err(io_err)?;
                }
            }
            Ok(if ok { exit::OK } else { exit::RUNTIME })
        }
    }
}
