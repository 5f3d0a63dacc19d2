//! Pure renderers for the headless commands: JSON documents (the contract of docs/reference/cli.md) and
//! human-readable text. Nothing here reads a secret except `show --reveal`, whose secrets are
//! passed in explicitly.

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Map, Value};

use super::names::SchoolNames;
use crate::sanitize::{csv_cell, for_terminal as clean};

use crate::domain::{
    rfc3339, AuditEntry, ChangeBadge, CredentialRow, Diff, RunSummary, SiteDetail, SiteRow,
    VerifyResult,
};

/// Masked secret as shown everywhere a secret is not explicitly revealed.
pub use crate::words::MASK;

fn time(t: &DateTime<Utc>) -> String {
    rfc3339::format(t)
}

/// A short human time: `2026-11-27 16:55 UTC`.
pub fn human_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn badge(b: Option<ChangeBadge>) -> Value {
    b.map_or(Value::Null, |b| json!(crate::words::badge_name(b)))
}

/// The fields every site document shares (`sites`, `show`, `export`).
fn site_fields(row: &SiteRow) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("organisation_id".into(), json!(row.site.org_id));
    m.insert("name".into(), json!(row.site.name));
    m.insert("dfe_code".into(), json!(row.site.dfe_code));
    m.insert("deni_number".into(), json!(row.site.deni_number));
    m.insert("authorised".into(), json!(row.site.authorised));
    m.insert("stale".into(), json!(row.stale));
    m.insert("last_error".into(), json!(row.last_error));
    m.insert(
        "first_seen".into(),
        json!(row.first_seen.as_ref().map(time)),
    );
    m.insert(
        "waiting_since".into(),
        json!(row.waiting_since.as_ref().map(time)),
    );
    m
}

/// One element of `sites --json`.
pub fn site_json(row: &SiteRow) -> Value {
    let mut m = site_fields(row);
    m.insert("credential_count".into(), json!(row.credential_count));
    m.insert(
        "last_changed".into(),
        json!(row.last_changed.as_ref().map(time)),
    );
    m.insert("changed".into(), badge(row.badge));
    Value::Object(m)
}

/// A credential without its secret.
fn credential_fields(c: &CredentialRow) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("client_id".into(), json!(c.client_id));
    m.insert("description".into(), json!(c.description));
    m.insert("fingerprint".into(), json!(c.fingerprint));
    m.insert("first_seen".into(), json!(time(&c.first_seen)));
    m.insert("last_changed".into(), json!(time(&c.last_changed)));
    m.insert("stale".into(), json!(c.stale));
    m.insert("last_error".into(), json!(c.last_error));
    m
}

/// A site document whose credentials are built by `credential`.
fn detail_json(detail: &SiteDetail, credential: impl Fn(usize, &CredentialRow) -> Value) -> Value {
    let mut m = site_fields(&detail.row);
    let creds = detail
        .credentials
        .iter()
        .enumerate()
        .map(|(i, c)| credential(i, c))
        .collect();
    m.insert("credentials".into(), Value::Array(creds));
    Value::Object(m)
}

/// `show ORG --json`; `secrets[i]` is the revealed secret of `detail.credentials[i]`, if any.
#[allow(clippy::disallowed_methods)] // an explicit `show --reveal` prints the secret
pub fn show_json(detail: &SiteDetail, secrets: &[Option<SecretString>]) -> Value {
    detail_json(detail, |i, c| {
        let mut m = credential_fields(c);
        // The only place a secret is ever serialised: `show --reveal`.
        let secret = secrets.get(i).and_then(Option::as_ref);
        m.insert(
            "secret".into(),
            json!(secret.map(|s| s.expose_secret().to_string())),
        );
        Value::Object(m)
    })
}

/// One site of `export --format json` (fingerprints, never secrets).
pub fn export_json(detail: &SiteDetail) -> Value {
    detail_json(detail, |_, c| Value::Object(credential_fields(c)))
}

/// The CSV header of `export --format csv`.
pub const EXPORT_CSV_HEADER: [&str; 12] = [
    "organisation_id",
    "name",
    "dfe_code",
    "deni_number",
    "authorised",
    "site_stale",
    "client_id",
    "description",
    "fingerprint",
    "first_seen",
    "last_changed",
    "credential_stale",
];

/// The CSV rows of one site: one per credential, or one with empty credential columns.
/// Every cell is neutralised against formula injection ([`csv_cell`]).
pub fn export_csv_rows(detail: &SiteDetail) -> Vec<Vec<String>> {
    export_csv_rows_raw(detail)
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|cell| csv_cell(&cell).into_owned())
                .collect()
        })
        .collect()
}

fn export_csv_rows_raw(detail: &SiteDetail) -> Vec<Vec<String>> {
    let row = &detail.row;
    let site = &row.site;
    let base = vec![
        site.org_id.to_string(),
        site.name.clone(),
        site.dfe_code.clone().unwrap_or_default(),
        site.deni_number.clone().unwrap_or_default(),
        // Booleans are `true`/`false` in every CSV column (docs/reference/cli.md); unknown is empty.
        site.authorised.map(|a| a.to_string()).unwrap_or_default(),
        row.stale.to_string(),
    ];
    if detail.credentials.is_empty() {
        let mut r = base;
        r.extend(std::iter::repeat_n(String::new(), 6));
        return vec![r];
    }
    detail
        .credentials
        .iter()
        .map(|c| {
            let mut r = base.clone();
            r.extend([
                c.client_id.clone(),
                c.description.clone().unwrap_or_default(),
                c.fingerprint.to_string(),
                time(&c.first_seen),
                time(&c.last_changed),
                c.stale.to_string(),
            ]);
            r
        })
        .collect()
}

/// `verify ORG --json`.
pub fn verify_json(org: &str, results: &[VerifyResult]) -> Value {
    json!({ "organisation_id": org, "results": results })
}

/// One element of `audit --json`.
pub fn audit_json(e: &AuditEntry) -> Value {
    json!({
        "time": time(&e.at),
        "user": e.user,
        "action": e.action.as_str(),
        "organisation_id": e.organisation_id,
        "client_id": e.client_id,
        "fingerprint": e.fingerprint,
        "detail": e.detail,
        "identity": e.identity,
    })
}

/// Writes a JSON document followed by a newline.
pub fn write_json(out: &mut impl Write, v: &Value) -> io::Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(io::Error::other)?;
    writeln!(out, "{}", json_for_terminal(&text))
}

/// JSON text with every character a terminal must not get raw written as a `\uXXXX`
/// escape: the same JSON value. serde_json escapes C0 controls inside strings itself (a C0
/// outside a string is the layout's own line break), not DEL, C1 or bidi controls; so
/// remote text in a string cannot act on the terminal it is printed to.
fn json_for_terminal(text: &str) -> std::borrow::Cow<'_, str> {
    let escape = |c: char| c >= ' ' && crate::sanitize::is_unsafe_char(c);
    if !text.chars().any(escape) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if escape(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `sites` as a text table.
pub fn sites_text(out: &mut impl Write, rows: &[SiteRow]) -> io::Result<()> {
    writeln!(
        out,
        "{:<36}  {:<8}  {:<8}  {:<4}  {:>5}  {:<5}  NAME",
        "ORGANISATION ID", "DFE", "DENI", "AUTH", "CREDS", "STALE"
    )?;
    for r in rows {
        writeln!(
            out,
            "{:<36}  {:<8}  {:<8}  {:<4}  {:>5}  {:<5}  {}",
            r.site.org_id,
            clean(r.site.dfe_code.as_deref().unwrap_or("-")),
            clean(r.site.deni_number.as_deref().unwrap_or("-")),
            crate::words::flag(r.site.authorised),
            r.credential_count,
            if r.stale { "stale" } else { "" },
            crate::words::truncate(&clean(&r.site.name), 60),
        )?;
    }
    writeln!(out, "{} site(s)", rows.len())
}

/// `sites --status unauthorised` as text: the onboarding queue, how long each site has
/// waited for approval, oldest first (the caller sorts).
pub fn waiting_text(out: &mut impl Write, rows: &[SiteRow], now: DateTime<Utc>) -> io::Result<()> {
    writeln!(
        out,
        "{:<8}  {:<20}  {:<36}  {:<8}  {:<4}  NAME",
        "WAITING", "SINCE", "ORGANISATION ID", "DFE", "AUTH"
    )?;
    for r in rows {
        let (waited, since) = match &r.waiting_since {
            Some(t) => (crate::words::age(now - *t), time(t)),
            None => ("-".to_string(), "-".to_string()),
        };
        writeln!(
            out,
            "{:<8}  {:<20}  {:<36}  {:<8}  {:<4}  {}",
            waited,
            since,
            r.site.org_id,
            clean(r.site.dfe_code.as_deref().unwrap_or("-")),
            crate::words::flag(r.site.authorised),
            crate::words::truncate(&clean(&r.site.name), 60),
        )?;
    }
    writeln!(out, "{} site(s) waiting for approval", rows.len())
}

/// `show ORG` as text; revealed secrets replace the mask.
#[allow(clippy::disallowed_methods)] // an explicit `show --reveal` prints the secret
pub fn show_text(
    out: &mut impl Write,
    detail: &SiteDetail,
    secrets: &[Option<SecretString>],
    now: DateTime<Utc>,
) -> io::Result<()> {
    let row = &detail.row;
    let s = &row.site;
    writeln!(out, "{}", clean(&s.name))?;
    writeln!(out, "  organisation id  {}", s.org_id)?;
    writeln!(
        out,
        "  DfE code         {}",
        clean(s.dfe_code.as_deref().unwrap_or("-"))
    )?;
    writeln!(
        out,
        "  DENI number      {}",
        clean(s.deni_number.as_deref().unwrap_or("-"))
    )?;
    writeln!(
        out,
        "  authorised       {}",
        crate::words::flag(s.authorised)
    )?;
    if let Some(since) = &row.waiting_since {
        writeln!(
            out,
            "  waiting          {} (installed, awaiting approval in SIMS ID since {})",
            crate::words::age(now - *since),
            human_time(since)
        )?;
    }
    if row.stale {
        writeln!(
            out,
            "  STALE            last harvest failed: {}",
            clean(row.last_error.as_deref().unwrap_or("unknown error"))
        )?;
    }
    writeln!(out, "  credentials      {}", detail.credentials.len())?;
    for (i, c) in detail.credentials.iter().enumerate() {
        let shown = match secrets.get(i).and_then(Option::as_ref) {
            Some(secret) => clean(secret.expose_secret()).into_owned(),
            None => MASK.to_string(),
        };
        writeln!(out)?;
        writeln!(out, "  client id        {}", clean(&c.client_id))?;
        writeln!(
            out,
            "  secret           {shown}  (fingerprint {})",
            c.fingerprint
        )?;
        writeln!(
            out,
            "  description      {}",
            clean(c.description.as_deref().unwrap_or("-"))
        )?;
        writeln!(out, "  first seen       {}", human_time(&c.first_seen))?;
        writeln!(out, "  last changed     {}", human_time(&c.last_changed))?;
        if c.stale {
            writeln!(
                out,
                "  stale            {}",
                clean(c.last_error.as_deref().unwrap_or("yes"))
            )?;
        }
    }
    Ok(())
}

/// `verify ORG` as text.
pub fn verify_text(out: &mut impl Write, org: &str, results: &[VerifyResult]) -> io::Result<()> {
    if results.is_empty() {
        return writeln!(out, "{org}: no credentials to verify");
    }
    for r in results {
        match (&r.ok, &r.error) {
            (true, _) => writeln!(out, "ok       {}", clean(&r.client_id))?,
            (false, e) => writeln!(
                out,
                "{}  {}  {}",
                if r.refused { "REFUSED" } else { "ERROR  " },
                clean(&r.client_id),
                clean(e.as_deref().unwrap_or(""))
            )?,
        }
    }
    let ok = results.iter().filter(|r| r.ok).count();
    writeln!(out, "{ok} of {} credential(s) work", results.len())
}

/// How many entries of each kind the text diff lists before summarising the rest.
pub const DIFF_TEXT_LIMIT: usize = 20;

fn capped<T>(
    out: &mut impl Write,
    items: &[T],
    indent: &str,
    line: impl Fn(&T) -> String,
) -> io::Result<()> {
    for item in items.iter().take(DIFF_TEXT_LIMIT) {
        writeln!(out, "{indent}{}", line(item))?;
    }
    if items.len() > DIFF_TEXT_LIMIT {
        writeln!(
            out,
            "{indent}  … and {} more (see --json)",
            items.len() - DIFF_TEXT_LIMIT
        )?;
    }
    Ok(())
}

/// The diff as indented text: a count line, then up to [`DIFF_TEXT_LIMIT`] entries per kind,
/// each school by name (`Name (00BDDE5C…)`).
pub fn diff_text(
    out: &mut impl Write,
    diff: &Diff,
    names: &SchoolNames,
    indent: &str,
) -> io::Result<()> {
    if diff.is_empty() {
        return writeln!(out, "{indent}no changes");
    }
    writeln!(
        out,
        "{indent}sites +{} -{}, authorisation changed {}, credentials +{} -{} rotated {}",
        diff.sites_added.len(),
        diff.sites_removed.len(),
        diff.authorisation_changed.len(),
        diff.credentials_added.len(),
        diff.credentials_removed.len(),
        diff.credentials_rotated.len()
    )?;
    let n = |o: &crate::domain::OrgId| names.label(o);
    capped(out, &diff.sites_added, indent, |o| {
        format!("+ site {}", n(o))
    })?;
    capped(out, &diff.sites_removed, indent, |o| {
        format!("- site {}", n(o))
    })?;
    capped(out, &diff.authorisation_changed, indent, |a| {
        let w = |v: Option<u8>| v.map_or("null".to_string(), |v| v.to_string());
        format!(
            "~ authorised {} {} -> {}",
            n(&a.organisation_id),
            w(a.from),
            w(a.to)
        )
    })?;
    capped(out, &diff.credentials_added, indent, |c| {
        format!(
            "+ credential {} {}",
            n(&c.organisation_id),
            clean(&c.client_id)
        )
    })?;
    capped(out, &diff.credentials_removed, indent, |c| {
        format!(
            "- credential {} {}",
            n(&c.organisation_id),
            clean(&c.client_id)
        )
    })?;
    capped(out, &diff.credentials_rotated, indent, |c| {
        format!(
            "* rotated {} {}",
            n(&c.organisation_id),
            clean(&c.client_id)
        )
    })
}

/// A harvest run summary as text (used by `harvest` and `history`), schools by name.
pub fn run_text(out: &mut impl Write, s: &RunSummary, names: &SchoolNames) -> io::Result<()> {
    let secs = (s.finished_at - s.started_at).num_milliseconds() as f64 / 1000.0;
    writeln!(
        out,
        "{}  {:<8}  {} site(s), {} harvested, {} failed, {} credential(s)  [{:.1} s]  run {}",
        human_time(&s.started_at),
        s.status.as_str(),
        s.sites_total,
        s.sites_harvested,
        s.sites_failed,
        s.credentials_total,
        secs,
        s.run_id
    )?;
    if let Some(e) = &s.error {
        writeln!(out, "    error: {}", clean(e))?;
    }
    for f in &s.failures {
        writeln!(
            out,
            "    failed {}: {}",
            names.label(&f.organisation_id),
            clean(&f.error)
        )?;
    }
    for key in &s.diff.vault_removed {
        writeln!(out, "    removed from the vault: {}", clean(key))?;
    }
    diff_text(out, &s.diff, names, "    ")
}

/// `audit` as text.
pub fn audit_text(out: &mut impl Write, entries: &[AuditEntry]) -> io::Result<()> {
    for e in entries {
        writeln!(
            out,
            "{}  {:<10} {:<8} {:<36} {:<32} {:<16} {}",
            time(&e.at),
            crate::words::truncate(&clean(&e.user), 10),
            e.action.as_str(),
            e.organisation_id
                .as_ref()
                .map_or("-".to_string(), ToString::to_string),
            clean(e.client_id.as_deref().unwrap_or("-")),
            e.fingerprint
                .as_ref()
                .map_or("-".to_string(), ToString::to_string),
            clean(e.detail.as_deref().unwrap_or(""))
        )?;
    }
    writeln!(out, "{} audit record(s)", entries.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Fingerprint, OrgId, Site};

    fn detail() -> SiteDetail {
        let t = DateTime::parse_from_rfc3339("2026-11-27T16:55:39Z")
            .unwrap()
            .with_timezone(&Utc);
        SiteDetail {
            row: SiteRow {
                site: Site {
                    org_id: OrgId::parse("{207a1392-e1f6-47ba-81da-6c374971d788}").unwrap(),
                    name: "St Mary's, \"Upper\" School".into(),
                    dfe_code: Some("3734001".into()),
                    deni_number: None,
                    authorised: Some(true),
                },
                credential_count: 1,
                stale: false,
                last_error: None,
                last_changed: Some(t),
                badge: Some(ChangeBadge::Added),
                first_seen: None,
                waiting_since: None,
            },
            credentials: vec![CredentialRow {
                client_id: "sas-simsprimary-1".into(),
                description: Some("Primary".into()),
                fingerprint: Fingerprint::local("0123456789abcdef".into()),
                first_seen: t,
                last_changed: t,
                stale: false,
                last_error: None,
                vault_fingerprint: None,
                vault_version: None,
            }],
        }
    }

    #[test]
    fn json_escapes_c1_and_bidi_controls_and_keeps_the_value() {
        let v = json!({"name": "a\u{9b}31mb\u{202e}c\u{1b}]52;c;x\u{7}"});
        let mut out = Vec::new();
        write_json(&mut out, &v).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text
                .chars()
                .any(|c| c != '\n' && crate::sanitize::is_unsafe_char(c)),
            "{text:?}"
        );
        assert!(
            text.contains("\\u009b") && text.contains("\\u202e"),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v);
    }

    #[test]
    fn show_json_masks_unless_revealed() {
        let d = detail();
        let v = show_json(&d, &[]);
        assert_eq!(v["organisation_id"], "207A1392-E1F6-47BA-81DA-6C374971D788");
        assert_eq!(v["credentials"][0]["secret"], Value::Null);
        assert_eq!(v["credentials"][0]["first_seen"], "2026-11-27T16:55:39Z");
        let v = show_json(
            &d,
            &[Some(SecretString::from("revealed-value".to_string()))],
        );
        assert_eq!(v["credentials"][0]["secret"], "revealed-value");
        let e = export_json(&d);
        assert!(e["credentials"][0].get("secret").is_none());
        assert_eq!(e["credentials"][0]["fingerprint"], "0123456789abcdef");
    }

    #[test]
    fn text_renderers_mask_and_list() {
        let d = detail();
        let mut buf = Vec::new();
        show_text(&mut buf, &d, &[None], Utc::now()).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.contains(MASK) && text.contains("0123456789abcdef"));
        let mut buf = Vec::new();
        sites_text(&mut buf, std::slice::from_ref(&d.row)).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.contains("3734001") && text.ends_with("1 site(s)\n"));
        let rows = export_csv_rows(&d);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].len(), EXPORT_CSV_HEADER.len());
        // Booleans are `true`/`false` in every column.
        assert_eq!(
            (
                rows[0][4].as_str(),
                rows[0][5].as_str(),
                rows[0][11].as_str()
            ),
            ("true", "false", "false")
        );
        assert_eq!(site_json(&d.row)["changed"], "added");
    }
}
