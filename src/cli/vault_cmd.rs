//! `simsid vault check` and `simsid vault policy` (vault.md).

use std::io::Write;

use super::args::VaultCommand;
use super::exit::{self, io_err, CmdResult};
use super::output;
use crate::ops::{vault_ops, Context};

/// `simsid vault check|policy`.
pub async fn vault(ctx: &Context, command: VaultCommand) -> CmdResult {
    match command {
        VaultCommand::Policy => {
            let text = vault_ops::policies(ctx)?;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).map_err(io_err)?;
            Ok(exit::OK)
        }
        VaultCommand::Check { json } => {
            let lines = vault_ops::check(ctx).await?;
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
