//! Text from the network is inert on a terminal and in files: school names and client ids
//! carrying escape sequences (OSC 52, OSC 0, CSI, C1, bidi, line feeds) come out escaped
//! from `sites`, `show`, `history` and `harvest`, CSV cells that would be spreadsheet
//! formulas are neutralised, and CSV on a terminal or in a file carries no escape
//! sequence. The real binary against the in-process simulator.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use crate::support::common;
use crate::support::hostile::*;

use common::*;
use simsid::domain::OrgId;
use simsid_simulator::{Simulator, SiteText};

/// A school name that tries everything: OSC 52 (clipboard), OSC 0 (title), clear screen,
/// colour, a line feed that would forge a row, C1 CSI, NUL and a bidi override.
const HOSTILE_NAME: &str =
    "Evil \u{1b}]52;c;SGVsbG8=\u{7} School\nFORGED-ROW\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[31m\u{9b}1m\0\u{202e}gnp";

/// A simulator whose first authorised site has the hostile name and a formula DfE code
/// (and, with `client`, a hostile client); returns it with that site's organisation id.
async fn hostile_sim(seed: u64, client: bool) -> (Simulator, OrgId) {
    let sim = simulator(12, seed).await;
    let site = authorised_site(&sim, 0);
    assert!(sim.control().set_site_text(
        &site.org_id,
        SiteText {
            name: Some(HOSTILE_NAME.into()),
            dfe_code: Some("=HYPERLINK(\"http://x\",\"y\")".into()),
            deni_number: Some("+1\u{1b}[31m".into()),
        }
    ));
    if client {
        assert!(sim
            .control()
            .push_client(&site.org_id, hostile_client("hostile-secret-Qx71")));
    }
    (sim, site.org_id.to_domain())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sites_show_history_and_harvest_escape_remote_text() {
    let (sim, org) = hostile_sim(801, false).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_terminal_safe(&stdout(&o));

    // The hostile client arrives with the next harvest: its diff line is escaped.
    assert!(sim
        .control()
        .push_client(&org.to_sim(), hostile_client("hostile-secret-Qx71")));
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert_terminal_safe(&text);
    assert!(
        text.contains("sas-\\u{1b}]52;c;SGVsbG8=\\u{7}-x\\u{d}\\u{a}REFUSED"),
        "{text}"
    );

    let o = simsid(&env, &["sites"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert_terminal_safe(&text);
    // Header, 12 rows, the count: a line feed in a name forges no row.
    assert_eq!(text.lines().count(), 14, "{text}");
    assert!(!text.lines().any(|l| l.starts_with("FORGED-ROW")), "{text}");
    assert!(
        text.contains("Evil \\u{1b}]52;c;SGVsbG8=\\u{7} School\\u{a}FORGED-ROW"),
        "{text}"
    );

    let o = simsid(&env, &["show", org.as_str()]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert_terminal_safe(&text);
    assert!(text.contains("\\u{202e}gnp"), "{text}");
    assert!(text.contains("=HYPERLINK"), "{text}");

    let o = simsid(&env, &["history"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_terminal_safe(&stdout(&o));

    // JSON stays exact: serde escapes what JSON must, the value is the served one.
    let o = simsid(&env, &["show", org.as_str(), "--json"]).await;
    let doc = json(&o);
    assert_eq!(doc["name"], HOSTILE_NAME);
    assert!(doc["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["client_id"] == HOSTILE_CLIENT));
    assert!(!o.stdout.contains(&0x1b), "JSON escapes ESC");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_csv_neutralises_formula_cells() {
    let (sim, _org) = hostile_sim(802, true).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = simsid(&env, &["export", "--format", "csv"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut reader = csv::Reader::from_reader(o.stdout.as_slice());
    let mut cells = Vec::new();
    for record in reader.records() {
        cells.extend(record.unwrap().iter().map(str::to_string));
    }
    assert!(cells.contains(&"'=HYPERLINK(\"http://x\",\"y\")".to_string()));
    // Control characters are escaped in CSV too: the ESC arrives as `\u{1b}`.
    assert!(cells.contains(&"'+1\\u{1b}[31m".to_string()), "{cells:?}");
    assert!(cells.iter().any(|c| c.starts_with("'@SUM(1+1)")));
    for c in &cells {
        assert!(
            !c.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "formula cell {c:?}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_on_a_terminal_or_in_a_file_carries_no_escape_sequence() {
    let (sim, org) = hostile_sim(807, true).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // An exposure of the hostile site, so that `exposure` has its name and client id.
    let o = simsid(&env, &["show", org.as_str(), "--reveal"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let export_file = ts.dir.path().join("export.csv");
    let exposure_file = ts.dir.path().join("exposure.csv");
    let mut outputs = Vec::new();
    for args in [
        &["export", "--format", "csv"][..],
        &["exposure", "--format", "csv"][..],
    ] {
        let o = simsid(&env, args).await;
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        outputs.push((format!("{args:?} to stdout"), o.stdout));
    }
    for (args, file) in [
        (&["export", "--format", "csv", "--output"][..], &export_file),
        (
            &["exposure", "--format", "csv", "--output"][..],
            &exposure_file,
        ),
    ] {
        let mut args = args.to_vec();
        let path = file.display().to_string();
        args.push(&path);
        let o = simsid(&env, &args).await;
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        outputs.push((format!("{args:?}"), std::fs::read(file).unwrap()));
    }
    for (what, bytes) in outputs {
        let text = String::from_utf8(bytes).expect("UTF-8 CSV");
        // The name arrives visibly escaped, whole, in one cell.
        assert!(
            text.contains("Evil \\u{1b}]52;c;SGVsbG8=\\u{7} School\\u{a}FORGED-ROW"),
            "{what}: {text}"
        );
        // No control or bidi character at all, but the record separators.
        let bad: Vec<char> = text
            .chars()
            .filter(|&c| c != '\n' && c != '\r' && simsid::sanitize::is_unsafe_char(c))
            .collect();
        assert!(bad.is_empty(), "{what}: {bad:?} in {text}");
        // Every record has the header's number of fields (no forged row).
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let width = reader.headers().unwrap().len();
        for record in reader.records() {
            let record = record.unwrap();
            assert_eq!(record.len(), width, "{what}: {record:?}");
            assert!(!record.iter().any(|c| c.starts_with("FORGED")), "{what}");
        }
    }
    sim.shutdown().await;
}
