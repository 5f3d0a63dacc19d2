//! `simsid store key [--move-to-keychain | --to-file]`: where this store's key lives, or move
//! it (docs/reference/cli.md, "Store"). Text for a person; the exit code says whether it worked.

use std::io::Write;
use std::path::Path;

use super::args::StoreCommand;
use super::exit::{self, io_err, CmdResult};
use crate::ops::{self, Context};
use crate::store::{self, KeyLocation, KeyMove};

/// `simsid store key …`.
pub fn store(ctx: &Context, command: StoreCommand) -> CmdResult {
    let StoreCommand::Key {
        move_to_keychain,
        to_file,
    } = command;
    let local = &ctx.settings().local;
    let mut out = std::io::stdout().lock();
    let to = match (move_to_keychain, to_file) {
        (true, _) => KeyMove::ToKeychain,
        (_, true) => KeyMove::ToFile,
        _ => {
            let text = where_it_lives(local);
            writeln!(out, "{text}").map_err(io_err)?;
            return Ok(exit::OK);
        }
    };
    let moved = ops::move_store_key(local, to)?;
    let store_path = local.store_path.display();
    let id = &moved.id;
    let place = |location: KeyLocation| match location {
        KeyLocation::Keychain => {
            format!("the OS keychain (service simsid, account {id})")
        }
        KeyLocation::File => format!("the file {}", moved.key_file.display()),
        KeyLocation::Env => "SIMSID_STORE_KEY".to_string(),
    };
    if moved.unchanged {
        writeln!(
            out,
            "the key of the store {store_path} is already in {}",
            place(moved.to)
        )
        .map_err(io_err)?;
    } else {
        writeln!(
            out,
            "moved the key of the store {store_path} from {} to {}",
            place(moved.from),
            place(moved.to)
        )
        .map_err(io_err)?;
    }
    if let Some(note) = &moved.note {
        eprintln!("simsid: note: {}", crate::sanitize::for_terminal(note));
    }
    Ok(exit::OK)
}

/// One line: where the store's key lives (or, with no store yet, where a new one's will go).
fn where_it_lives(local: &crate::config::LocalSettings) -> String {
    let path = &local.store_path;
    let location = ops::store_key_location(local);
    if !path.is_file() {
        return format!(
            "no store at {} yet: its key will go in {}",
            path.display(),
            new_place(location, path)
        );
    }
    let record = store::key_record(path).unwrap_or_default();
    let shown = path.display();
    match location {
        KeyLocation::Env => format!("the key of the store {shown} is given in SIMSID_STORE_KEY"),
        KeyLocation::Keychain => format!(
            "the key of the store {shown} is in the OS keychain (service simsid, account {})",
            record.id.as_deref().unwrap_or("?")
        ),
        KeyLocation::File => format!(
            "the key of the store {shown} is in the file {}",
            store::existing_key_path(path)
                .unwrap_or_else(|| store::default_key_path(path))
                .display()
        ),
    }
}

fn new_place(location: KeyLocation, store_path: &Path) -> String {
    match location {
        KeyLocation::Keychain => "the OS keychain".to_string(),
        KeyLocation::File => format!("the file {}", store::default_key_path(store_path).display()),
        KeyLocation::Env => "SIMSID_STORE_KEY".to_string(),
    }
}

/// Prints the one-line notice of a store created just now whose key went to a file because no
/// keychain answered (docs/reference/cli.md, "Store"), and logs it.
pub fn say_key_notice(store: &mut store::Store) {
    if let Some(notice) = store.take_key_notice() {
        tracing::info!(notice = %notice, "store key");
        eprintln!("simsid: notice: {}", crate::sanitize::for_terminal(&notice));
    }
}
