//! Every user-facing word of the console, in one place so the wording stays consistent.

pub const APP: &str = "simsid";
pub const NONE: &str = "—";
pub const UNKNOWN: &str = "?";
pub use crate::words::MASK;
pub const READ_ONLY: &str = "READ-ONLY";

pub const BADGE_ADDED: &str = "new";
pub const BADGE_AUTH: &str = "auth";
pub const BADGE_CREDS: &str = "creds";

// Breadcrumbs.
pub const CRUMB_SITES: &str = "Sites";
pub const CRUMB_HARVEST: &str = "Harvest";
pub const CRUMB_HISTORY: &str = "History";
pub const CRUMB_RUN: &str = "Run";
pub const CRUMB_HELP: &str = "Help";
pub const CRUMB_EXPOSURE: &str = "Exposure";

// Sites screen.
pub const PROFILE: &str = "profile";
pub const APPLICATION: &str = "application";
pub const STORE: &str = "store";
/// Where the secrets live: `secrets: local store` or `secrets: vault ADDR`.
pub const SECRETS: &str = "secrets:";
/// The status line while a secret is read from the store.
pub const READING_STORE: &str = "reading the store…";
/// The status line while a secret is read from a vault.
pub const READING_VAULT: &str = "reading the vault…";
pub const LAST_HARVEST: &str = "last harvest";
pub const NEVER_HARVESTED: &str = "never — press R to harvest";
pub const COL_NAME: &str = "Name";
pub const COL_DFE: &str = "DfE";
pub const COL_DENI: &str = "DENI";
pub const COL_ORG: &str = "Organisation id";
pub const COL_ORG_SHORT: &str = "Org id";
pub const COL_AUTH: &str = "Auth";
pub const COL_CREDS: &str = "Creds";
pub const COL_CHANGED: &str = "Last changed";
pub const COL_CHANGED_SHORT: &str = "Changed";
pub const COL_BADGE: &str = "Chg";
pub const NO_SITES: &str = "No sites cached yet: press R to harvest.";
pub const NO_MATCH: &str = "No site matches: Esc clears the filter, a changes the view.";

// Site screen.
pub const ORGANISATION: &str = "organisation";
pub const AUTHORISED: &str = "authorised";
pub const STALE: &str = "stale";
pub const CREDENTIALS: &str = "credentials";
/// Harvest pane: vault writes and removals done / to do (vault mode).
pub const VAULT_WRITES: &str = "vault writes";
pub const LAST_CHANGED: &str = "last changed";
pub const LAST_ERROR: &str = "last error";
pub const FIRST_SEEN: &str = "first seen";
pub const DESCRIPTION: &str = "description";
pub const SECRET: &str = "secret";
pub const FINGERPRINT: &str = "fp";
pub const VERIFY: &str = "verify";
pub const COL_CLIENT: &str = "Client id";
pub const COL_SECRET: &str = "Secret (fingerprint)";
pub const COL_DESCRIPTION: &str = "Description";
pub const COL_FIRST_SEEN: &str = "First seen";
pub const COL_STALE: &str = "Stale";
pub const COL_VERIFY: &str = "Verify";
pub const COL_ERROR: &str = "Last error";
pub const LOADING: &str = "loading…";
pub const SITE_MISSING: &str = "This site is not in the store (removed by a harvest?).";
pub const NO_CREDENTIALS: &str =
    "No credentials: the school has not issued any to this application.";
pub const VERIFY_PENDING: &str = "…";
pub const VERIFY_OK: &str = "ok";
pub const VERIFY_REFUSED: &str = "refused";
pub const VERIFY_ERROR: &str = "error";

// Harvest pane.
pub const HARVEST_RUNNING: &str = "Harvest in progress";
pub const HARVEST_LISTING: &str = "getting a token and the site list…";
pub const HARVEST_CANCELLING: &str = "cancelling…";
pub const HARVEST_FAILED: &str = "Harvest failed";
pub const RATE: &str = "rate";
pub const ETA: &str = "ETA";
pub const ELAPSED: &str = "elapsed";
pub const IN_FLIGHT: &str = "in flight";
pub const RETRIES: &str = "retries";
pub const FAILED: &str = "failed";
pub const FAILURES: &str = "Failures";
pub const LAST_RETRY: &str = "last retry";
pub const RATE_LIMITED: &str = "429s";
pub const CONCURRENCY: &str = "concurrency";
pub const CEILING_OF: &str = "of";
pub const PACE: &str = "pace";
pub const NO_PACING: &str = "not paced";
pub const PAUSED: &str = "paused by the gateway";
pub const REQUESTS_PER_SEC: &str = "requests/s";
pub const RATE_LIMITED_PER_SEC: &str = "429s/s";
pub const SLOWEST: &str = "Slowest in flight";
pub const RETRY_SITE_LIST: &str = "token or site list";
pub const COL_CHANGE: &str = "Change";
pub const COL_SITE: &str = "Site";
pub const NO_CHANGES: &str = "Nothing changed.";

// History.
pub const COL_STARTED: &str = "Started";
pub const COL_STATUS: &str = "Status";
pub const COL_SITES: &str = "Sites";
pub const COL_HARVESTED: &str = "Done";
pub const COL_FAILED: &str = "Failed";
pub const COL_CHANGES: &str = "Changes";
pub const NO_RUNS: &str = "No harvest yet: press R to run one.";

// Diff items.
pub const DIFF_SITE_ADDED: &str = "site added";
pub const DIFF_SITE_REMOVED: &str = "site removed";
pub const DIFF_AUTH: &str = "authorisation";
pub const DIFF_CRED_ADDED: &str = "credential added";
pub const DIFF_CRED_REMOVED: &str = "credential removed";
pub const DIFF_CRED_ROTATED: &str = "credential rotated";

// Exposure screen and the site screen's exposure marks.
pub const COL_USER: &str = "User";
pub const COL_SCHOOL: &str = "School";
pub const COL_LAST_EXPOSED: &str = "Last exposed";
pub const COL_ACTIONS: &str = "Actions";
pub const COL_EXPOSED: &str = "Exposed";
pub const COL_EXPOSED_SHORT: &str = "Exp";
pub const EXPOSED: &str = "exposed";
pub const EXPOSED_LIVE: &str = "live";
pub const EXPOSED_ROTATED: &str = "rotated";
pub const EXPOSED_ROTATED_SHORT: &str = "rot";
pub const NOT_EXPOSED: &str = "never revealed or copied";
pub const NO_EXPOSURES: &str =
    "No live exposure: every secret revealed or copied has rotated since (or none was).";
pub const FLASH_NOTHING_TO_VERIFY: &str = "nothing listed to verify";
pub const FLASH_VERIFY_RUNNING: &str = "a verify is already running";

// Help and small terminals.
pub const HELP_TITLE: &str = "Keys";
pub const HELP_UNAVAILABLE: &str = "(read-only: off)";
pub const FOOTER_OFF: &str = "(off)";
pub const TOO_SMALL: &str = "terminal too small";

// Confirmations.
pub const CONFIRM_TITLE: &str = "Confirm";
pub const CONFIRM_KEYS: &str = "y: yes · any other key: cancel";
pub const CONFIRM_HARVEST: &str = "Start a full re-harvest? Every site's credentials are fetched again; the store changes only when it ends.";
pub const CANCELLED: &str = "cancelled";

// Flash messages.
pub const FLASH_READ_ONLY: &str = "read-only: this console cannot reveal, copy, verify or harvest";
pub const FLASH_NO_CREDENTIAL: &str = "no credential selected";
pub const FLASH_HARVEST_RUNNING: &str = "a harvest is already running";
pub const FLASH_HARVEST_CANCELLED: &str = "cancelled — nothing committed";
pub const FLASH_HARVEST_HIDDEN: &str = "the harvest continues — R shows the pane again";
pub const FLASH_CLIPBOARD_CLEARED: &str = "clipboard cleared";
pub const FLASH_VERIFYING: &str = "verifying…";
pub const FLASH_BUSY_PROFILE: &str = "wait for the harvest to end before switching profile";
pub const FLASH_SITE_GONE: &str = "that site is no longer in the store";

/// the unauthorised filter's time cell: how long a site has waited for approval.
pub fn waiting(age: &str) -> String {
    format!("waiting {age}")
}

/// "copied CLIENT, clears in 30 s".
pub fn copied(client_id: &str, secs: u64) -> String {
    format!("copied {client_id}, clears in {secs} s")
}

/// "secret of CLIENT shown, hides in 30 s".
pub fn revealed(client_id: &str, secs: u64) -> String {
    format!("secret of {client_id} shown, hides in {secs} s")
}

/// "(hides in 27 s)".
pub fn hides_in(secs: u64) -> String {
    format!("(hides in {secs} s)")
}

/// Reveal confirmation text.
pub fn confirm_reveal(client_id: &str, site: &str) -> String {
    format!(
        "Reveal the secret of {client_id} at {site}? The reveal is recorded in the audit trail."
    )
}

/// "verify: 2 ok, 1 refused, 1 error": `refused` only when the STS said the credential
/// is no good, `error` when it could not be asked (the vault refused us, the network,
/// the configuration), as `simsid verify`'s exit codes separate them.
pub fn verified(ok: usize, refused: usize, errors: usize) -> String {
    let errors = match errors {
        1 => "1 error".to_string(),
        n => format!("{n} errors"),
    };
    format!("verify: {ok} ok, {refused} refused, {errors}")
}

/// The end of a harvest as a flash message.
pub fn harvest_ended(status: &str, changes: usize, pane_hidden: bool) -> String {
    let tail = if pane_hidden {
        " — h shows the diff"
    } else {
        ""
    };
    format!("harvest {status}: {changes} change(s){tail}")
}

/// A failed background call.
pub fn failed(what: &str, error: &str) -> String {
    format!("{what} failed: {error}")
}

/// "not found: ORG".
pub fn not_found(query: &str) -> String {
    format!("not found: {query}")
}

/// Unknown `:` command.
pub fn unknown_command(cmd: &str) -> String {
    format!("unknown command `{cmd}` (try :goto ORG, :harvest, :profile NAME, :q)")
}

/// A `:` command missing its argument.
pub fn usage(cmd: &str) -> String {
    format!("usage: {cmd}")
}

/// "profile NAME".
pub fn profile_switched(name: &str) -> String {
    format!("switched to profile {name}")
}

/// "invalid regular expression: …".
pub fn bad_regex(error: &str) -> String {
    format!("invalid regular expression: {error}")
}

/// "terminal too small (need 60×12)".
pub fn too_small(min_w: u16, min_h: u16) -> String {
    format!("{TOO_SMALL} (need {min_w}×{min_h})")
}

/// The exposure screen's first line: what is listed.
pub fn exposure_summary(credentials: usize, people: usize) -> String {
    format!("{credentials} live exposed credential(s), shown or copied to {people} user(s) · v verifies them")
}

/// Progress or outcome of `v` on the exposure screen.
pub fn exposure_verify(
    done: usize,
    total: usize,
    ok: usize,
    refused: usize,
    errors: usize,
) -> String {
    let word = if done < total {
        "verifying"
    } else {
        "verified"
    };
    format!("{word} {done}/{total}: {ok} ok, {refused} refused, {errors} error(s)")
}

/// The site screen's exposure line for a credential: to whom, when, and whether it rotated.
pub fn exposed_to(users: &str, last: &str, rotated: bool) -> String {
    let state = if rotated {
        "rotated since"
    } else {
        "NOT rotated since"
    };
    format!("to {users} · last {last} · {state}")
}

/// Reveal, copy or verify pressed on a viewer whose vault identity may not read secrets.
pub const FLASH_VIEWER_NO_SECRETS: &str =
    "this vault identity may not read secrets (the viewer policy): reveal, copy and verify need the operator policy";
/// `c` inside tmux that passes no clipboard write on (its defaults).
pub const FLASH_TMUX_CLIPBOARD: &str =
    "tmux drops copies: needs `set -g set-clipboard on` (or allow-passthrough on)";
/// The footer's hint for `R` on a team-mode viewer.
pub const HINT_PULL: &str = "pull";

/// A team-mode viewer pulling the published view.
pub const FLASH_PULLING: &str = "pulling the team's view from the vault…";

/// `u` (or `:harvest`) on a team-mode viewer.
pub const FLASH_VIEWER_HARVEST: &str =
    "this profile reads the team's view from the vault: harvests run on the harvest host (R pulls)";

/// "view pulled: run 1a2b3c4d, 120 sites, 240 credentials" (or "unchanged").
pub fn pulled(p: &crate::domain::Pulled) -> String {
    let run = p
        .run_id
        .as_deref()
        .map_or("no run yet".to_string(), |r| format!("run {}", short_id(r)));
    if p.changed {
        format!(
            "view pulled: {run}, {} site(s), {} credential(s)",
            p.sites, p.credentials
        )
    } else {
        format!("view unchanged: {run}")
    }
}

/// The first 8 characters of a run id, as the header shows it.
pub fn short_run(id: &str) -> String {
    short_id(id)
}

fn short_id(id: &str) -> String {
    crate::sanitize::for_terminal(id).chars().take(8).collect()
}
