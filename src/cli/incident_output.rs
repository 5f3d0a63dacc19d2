//! Pure renderers for the incident commands: `exposure` (JSON, CSV, text), `verify
//! --exposed|--all` and `audit --verify`. Remote text (names, client ids, codes, errors) goes
//! through the sanitiser for a terminal and the neutraliser for CSV cells. Never a secret.

use std::io::{self, Write};

use serde_json::{json, Value};

use crate::domain::rfc3339;
use crate::exposure::Exposure;
use crate::ops::secrets::CheckOutcome;
use crate::ops::verify::{CredentialCheck, Tally};
use crate::sanitize::{csv_cell, for_terminal};
use crate::store::AuditCheck;

/// The header of `exposure --format csv` (the fields of `exposure --json`, in order).
pub const EXPOSURE_CSV_HEADER: [&str; 10] = [
    "organisation_id",
    "name",
    "dfe_code",
    "client_id",
    "fingerprint",
    "users",
    "first_exposed",
    "last_exposed",
    "actions",
    "live",
];

fn actions(x: &Exposure) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = x.actions.iter().map(|a| a.as_str()).collect();
    if x.vault_read {
        out.push("vault-read");
    }
    if x.vault_read_wrapped {
        out.push("vault-read-wrapped");
    }
    out
}

fn sources(x: &Exposure) -> Vec<&'static str> {
    x.sources.iter().map(|s| s.as_str()).collect()
}

/// One element of `exposure --json`; with `--vault-audit` (`with_sources`) it adds
/// `sources`.
pub fn exposure_json(x: &Exposure, with_sources: bool) -> Value {
    let mut v = json!({
        "organisation_id": x.organisation_id,
        "name": x.name,
        "dfe_code": x.dfe_code,
        "client_id": x.client_id,
        "fingerprint": x.fingerprint,
        "users": x.users,
        "first_exposed": rfc3339::format(&x.first_exposed),
        "last_exposed": rfc3339::format(&x.last_exposed),
        "actions": actions(x),
        "live": x.live,
    });
    if with_sources {
        v["sources"] = json!(sources(x));
    }
    v
}

/// `exposure --json`: the array of [`exposure_json`], pretty-printed as `write_json` would,
/// one entry rendered at a time.
pub fn exposure_json_array(
    out: &mut dyn Write,
    list: &[Exposure],
    with_sources: bool,
) -> io::Result<()> {
    if list.is_empty() {
        return out.write_all(b"[]\n");
    }
    for (i, x) in list.iter().enumerate() {
        out.write_all(if i == 0 { b"[\n" } else { b",\n" })?;
        let text = serde_json::to_string_pretty(&exposure_json(x, with_sources))?;
        // A string's newlines are escaped in JSON: every line break here is the printer's.
        for (n, line) in text.split('\n').enumerate() {
            if n > 0 {
                out.write_all(b"\n")?;
            }
            out.write_all(b"  ")?;
            out.write_all(line.as_bytes())?;
        }
    }
    out.write_all(b"\n]\n")
}

/// One CSV row of `exposure --format csv`, every cell neutralised; `sources` last with
/// `--vault-audit`.
pub fn exposure_csv_row(x: &Exposure, with_sources: bool) -> Vec<String> {
    let mut cells = vec![
        x.organisation_id.to_string(),
        x.name.clone().unwrap_or_default(),
        x.dfe_code.clone().unwrap_or_default(),
        x.client_id.clone(),
        x.fingerprint
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        x.users.join(";"),
        rfc3339::format(&x.first_exposed),
        rfc3339::format(&x.last_exposed),
        actions(x).join(";"),
        x.live.to_string(),
    ];
    if with_sources {
        cells.push(sources(x).join(";"));
    }
    cells.iter().map(|c| csv_cell(c).into_owned()).collect()
}

/// `exposure --format csv` as bytes.
pub fn exposure_csv(list: &[Exposure], with_sources: bool) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = EXPOSURE_CSV_HEADER.to_vec();
    if with_sources {
        header.push("sources");
    }
    w.write_record(header)?;
    for x in list {
        w.write_record(exposure_csv_row(x, with_sources))?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// The legend under `exposure --vault-audit` as text: what the vault's actions mean.
pub const VAULT_LEGEND: &str = "vault-read: a read of the value (data/…, any version); \
vault-read-wrapped: a read answered with response wrapping, or its unwrap (version unknown: \
live until the credential rotates after it); reads of metadata/… and subkeys/… never return \
a secret's value and are not exposures";

/// `exposure` as text: the columns are as wide as their longest cell (a long action list
/// or client id never shifts the columns after it); with `--vault-audit` (`with_sources`)
/// a legend line ends it.
pub fn exposure_text(
    out: &mut (impl Write + ?Sized),
    list: &[Exposure],
    with_sources: bool,
) -> io::Result<()> {
    let rows: Vec<[String; 7]> = list
        .iter()
        .map(|x| {
            [
                if x.live { "LIVE" } else { "-" }.to_string(),
                x.organisation_id.to_string(),
                for_terminal(x.dfe_code.as_deref().unwrap_or("-")).into_owned(),
                for_terminal(&x.client_id).into_owned(),
                x.fingerprint
                    .as_ref()
                    .map_or("-".to_string(), ToString::to_string),
                rfc3339::format(&x.last_exposed),
                actions(x).join(","),
            ]
        })
        .collect();
    let header = [
        "LIVE",
        "ORGANISATION ID",
        "DFE",
        "CLIENT ID",
        "FINGERPRINT",
        "LAST EXPOSED",
        "ACTIONS",
    ];
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut text = String::new();
        for (cell, w) in cells.iter().zip(widths) {
            let pad = w.saturating_sub(cell.chars().count());
            text.push_str(cell);
            text.push_str(&" ".repeat(pad + 2));
        }
        text
    };
    writeln!(out, "{}USERS / SCHOOL", line(&header))?;
    for (x, row) in list.iter().zip(&rows) {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        writeln!(
            out,
            "{}{}  {}",
            line(&cells),
            for_terminal(&x.users.join(", ")),
            for_terminal(x.name.as_deref().unwrap_or("(site no longer cached)")),
        )?;
    }
    let live = list.iter().filter(|x| x.live).count();
    writeln!(
        out,
        "{} credential(s) exposed, {live} still live",
        list.len()
    )?;
    if with_sources {
        writeln!(out, "{VAULT_LEGEND}")?;
    }
    Ok(())
}

/// One result of `verify --exposed|--all --json`.
pub fn check_json(c: &CredentialCheck) -> Value {
    json!({
        "organisation_id": c.organisation_id,
        "client_id": c.client_id,
        "ok": c.outcome == CheckOutcome::Ok,
        "refused": matches!(c.outcome, CheckOutcome::Refused(_)),
        "error": c.outcome.error(),
    })
}

/// `verify --exposed|--all --json`.
pub fn verify_list_json(tally: &Tally, checks: &[CredentialCheck]) -> Value {
    json!({
        "ok": tally.ok,
        "refused": tally.refused,
        "errors": tally.errors,
        "results": checks.iter().map(check_json).collect::<Vec<_>>(),
    })
}

/// The one summary line of a bulk verify.
pub fn verify_summary(tally: &Tally, not_held: usize) -> String {
    let mut line = format!(
        "verified {} credential(s): {} ok, {} refused, {} error(s)",
        tally.done(),
        tally.ok,
        tally.refused,
        tally.errors
    );
    if not_held > 0 {
        line.push_str(&format!(
            "; {not_held} exposed credential(s) already rotated or removed, not verified"
        ));
    }
    line
}

/// `verify --exposed|--all` as text: one line per credential, then the summary line.
pub fn verify_list_text(
    out: &mut impl Write,
    tally: &Tally,
    checks: &[CredentialCheck],
    not_held: usize,
) -> io::Result<()> {
    for c in checks {
        let (word, reason) = match &c.outcome {
            CheckOutcome::Ok => ("ok", ""),
            CheckOutcome::Refused(e) => ("REFUSED", e.as_str()),
            CheckOutcome::Error(e) => ("ERROR", e.as_str()),
        };
        writeln!(
            out,
            "{word:<8} {}  {}  {}",
            c.organisation_id,
            for_terminal(&c.client_id),
            for_terminal(reason)
        )?;
    }
    writeln!(out, "{}", verify_summary(tally, not_held))
}

/// `audit --verify --json`.
pub fn audit_check_json(check: &AuditCheck) -> Value {
    json!({
        "records": check.records,
        "intact": check.intact(),
        "first_bad": check.first_bad.as_ref().map(|b| json!({
            "index": b.index,
            "time": b.time.as_ref().map(rfc3339::format),
        })),
    })
}

/// `audit --verify` as text.
pub fn audit_check_text(out: &mut impl Write, check: &AuditCheck) -> io::Result<()> {
    match &check.first_bad {
        None => writeln!(
            out,
            "audit trail intact: {} record(s), every one chained to the one before",
            check.records
        ),
        Some(bad) => writeln!(
            out,
            "audit trail BROKEN at record {} ({}): a record was edited, removed, inserted or \
             reordered there; {} record(s) now",
            bad.index,
            bad.time
                .as_ref()
                .map_or("time unknown".to_string(), rfc3339::format),
            check.records
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AuditAction, Fingerprint, OrgId};
    use crate::store::BadRecord;
    use chrono::{TimeZone, Utc};

    fn exposure() -> Exposure {
        let t = Utc.with_ymd_and_hms(2026, 11, 30, 1, 2, 3).unwrap();
        Exposure {
            organisation_id: OrgId::parse("207a1392-e1f6-47ba-81da-6c374971d788").unwrap(),
            name: Some("=HYPERLINK(\"http://x\")\u{1b}[2J".into()),
            dfe_code: Some("123/4567".into()),
            client_id: "-sas-1".into(),
            fingerprint: Some(Fingerprint::local("0123456789abcdef".into())),
            users: vec!["alice".into(), "bob".into()],
            first_exposed: t,
            last_exposed: t,
            actions: vec![AuditAction::Reveal, AuditAction::Copy],
            vault_read: false,
            vault_read_wrapped: false,
            sources: vec![crate::exposure::ExposureSource::Simsid],
            live: true,
            current_fingerprint: Some(Fingerprint::local("0123456789abcdef".into())),
        }
    }

    #[test]
    fn exposure_json_has_the_fields_of_cli_md() {
        let v = exposure_json(&exposure(), false);
        assert_eq!(v["organisation_id"], "207A1392-E1F6-47BA-81DA-6C374971D788");
        assert_eq!(v["users"], json!(["alice", "bob"]));
        assert_eq!(v["actions"], json!(["reveal", "copy"]));
        assert_eq!(v["first_exposed"], "2026-11-30T01:02:03Z");
        assert_eq!(v["live"], true);
        assert_eq!(v.as_object().unwrap().len(), 10);
    }

    #[test]
    fn csv_neutralises_formulas_escapes_controls_and_joins_lists() {
        let bytes = exposure_csv(&[exposure()], false).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), EXPOSURE_CSV_HEADER.join(","));
        let row = lines.next().unwrap();
        assert!(
            row.contains("\"'=HYPERLINK(\"\"http://x\"\")\\u{1b}[2J\""),
            "{row}"
        );
        assert!(row.contains(",'-sas-1,"), "{row}");
        assert!(row.contains(",alice;bob,") && row.contains(",reveal;copy,true"));
    }

    #[test]
    fn the_json_array_is_what_write_json_prints() {
        for list in [vec![], vec![exposure()], vec![exposure(), exposure()]] {
            let mut streamed = Vec::new();
            exposure_json_array(&mut streamed, &list, true).unwrap();
            let mut whole = Vec::new();
            let v = Value::Array(list.iter().map(|x| exposure_json(x, true)).collect());
            crate::cli::output::write_json(&mut whole, &v).unwrap();
            assert_eq!(
                String::from_utf8(streamed).unwrap(),
                String::from_utf8(whole).unwrap()
            );
        }
    }

    #[test]
    fn text_escapes_control_characters() {
        let mut buf = Vec::new();
        exposure_text(&mut buf, &[exposure()], false).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(!text.contains('\u{1b}'));
        assert!(text.contains("\\u{1b}[2J"));
        assert!(text.ends_with("1 credential(s) exposed, 1 still live\n"));
        let mut buf = Vec::new();
        let mut wrapped = exposure();
        wrapped.vault_read_wrapped = true;
        exposure_text(&mut buf, &[wrapped], true).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.contains(",vault-read-wrapped "), "{text}");
        assert!(text.ends_with(&format!("{VAULT_LEGEND}\n")), "{text}");
        assert!(VAULT_LEGEND.contains("subkeys/"));
    }

    #[test]
    fn the_text_columns_stay_aligned_with_a_long_action_list() {
        let mut long = exposure();
        long.actions = vec![
            AuditAction::Reveal,
            AuditAction::Copy,
            AuditAction::Reveal,
            AuditAction::Copy,
        ];
        long.client_id = "a-client-id-much-longer-than-thirty-two-characters".into();
        let mut buf = Vec::new();
        exposure_text(&mut buf, &[exposure(), long], false).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // USERS starts in the same column on the header and on every row.
        let users_at = lines[0].find("USERS / SCHOOL").unwrap();
        for row in &lines[1..3] {
            assert_eq!(row.find("alice"), Some(users_at), "{text}");
        }
        let at = |l: &str| l.find("2026-11-30").unwrap();
        assert_eq!(at(lines[1]), at(lines[2]), "{text}");
    }

    #[test]
    fn audit_check_documents() {
        let whole = AuditCheck {
            records: 3,
            first_bad: None,
        };
        assert_eq!(
            audit_check_json(&whole),
            json!({"records": 3, "intact": true, "first_bad": null})
        );
        let t = Utc.with_ymd_and_hms(2026, 11, 30, 1, 2, 3).unwrap();
        let broken = AuditCheck {
            records: 3,
            first_bad: Some(BadRecord {
                index: 1,
                time: Some(t),
            }),
        };
        assert_eq!(
            audit_check_json(&broken)["first_bad"],
            json!({"index": 1, "time": "2026-11-30T01:02:03Z"})
        );
        let mut buf = Vec::new();
        audit_check_text(&mut buf, &broken).unwrap();
        assert!(String::from_utf8(buf)
            .unwrap()
            .contains("BROKEN at record 1"));
    }
}
