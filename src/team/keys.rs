//! Where the team's view lives in the vault (docs/reference/vault.md "Team mode"): its
//! folder, the manifest's and the chunks' keys, the one-string body each holds, and the
//! bounded read of the manifest that a pull and `vault check` share.

use serde::{Deserialize, Serialize};

use crate::vault::{Route, VaultClient, VaultError, VaultSettings};

/// Chunk requests in flight at most.
pub(super) const CONCURRENCY: usize = 16;

/// The folder of the view under the prefix (its first segment starts with `_`: simsid's
/// own, never a site, never removed by `--reconcile`).
pub const VIEW_FOLDER: &str = "_simsid";

/// A chunk or the manifest as stored in the vault: its exact bytes as one string, so that
/// the SHA-256 a reader checks is over what the writer hashed.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Body {
    pub(super) body: String,
}

/// The manifest's key under the mount.
pub fn manifest_key(settings: &VaultSettings) -> String {
    format!("{}/{VIEW_FOLDER}/manifest", settings.prefix)
}

/// A chunk's key under the mount (`name` is a checked SHA-256).
pub(super) fn chunk_key(settings: &VaultSettings, name: &str) -> String {
    format!("{}/{VIEW_FOLDER}/chunks/{name}", settings.prefix)
}

/// The bytes a KV answer may add around its data (request id, metadata, the JSON of the
/// envelope): a chunk's answer is refused above twice its declared bytes (JSON-escaping
/// JSON lines at most doubles them) plus this.
pub(super) const ENVELOPE: usize = 16 * 1024;

/// The largest answer a manifest read may be.
const MANIFEST_ANSWER_MAX: usize = 2 * super::chunk::MANIFEST_MAX + ENVELOPE;

/// Reads the manifest for a pull, bounded like any answer of the view: `None` when
/// nothing is published.
pub(super) async fn read_manifest_bounded(
    client: &VaultClient,
    settings: &VaultSettings,
    route: Route,
) -> Result<Option<String>, VaultError> {
    let read = client
        .kv_read_within::<Body>(
            &settings.mount,
            &manifest_key(settings),
            route,
            MANIFEST_ANSWER_MAX,
        )
        .await?;
    Ok(read.map(|r| r.data.body))
}
