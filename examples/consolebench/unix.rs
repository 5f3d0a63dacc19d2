//! The console at 25,000 schools: the first frame of `simsid` on a
//! harvested store, side by side with `fzf --exact` showing the same 25,000 names, both in
//! a 120×40 pseudo-terminal read by a terminal emulator (`vt100`); then how long each key
//! takes to show on screen (a filter keystroke, `s`, `G`, `PgDn`).
//!
//! ```text
//! cargo build --release --bin simsid
//! cargo run --release --example consolebench            # 25,000 sites, 5 rounds
//! cargo run --release --example consolebench -- 5000 3  # sites, rounds
//! SIMSID_BIN=target/release/simsid cargo run --example consolebench   # a debug harness
//! ```
//!
//! The store is written as a harvest writes it (the simulator's schools, two credentials
//! each, committed through the store), in a temporary directory, its key in the key file
//! beside it (no `SIMSID_STORE_KEY`: the key comes from the file, as `store_key = "file"`
//! says). fzf's clock stops when its `25000/25000` counter is on screen; simsid's when its
//! header says `25000 of 25000` and the first school's row is drawn. Measures, asserts
//! nothing; prints the median of the rounds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use simsid::domain::{Credential, Site};
use simsid::store::KeySource;
use simsid_testkit::fixtures::{complete_summary, harvest_of};
use simsid_testkit::process::binary_beside_example;
use simsid_testkit::sims::{self, ToDomain};
use simsid_testkit::terminal::Terminal;

const WIDTH: u16 = 120;
const HEIGHT: u16 = 40;
/// The last guard on any wait (a broken run, not a measure).
const GUARD: Duration = Duration::from_secs(60);

/// `command` in a `WIDTH`×`HEIGHT` pseudo-terminal with `env`.
fn in_terminal(command: &str, env: &BTreeMap<String, String>) -> Terminal {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Terminal::start(WIDTH, HEIGHT, &env, command)
}

/// Types `bytes` into `term`; the time until its screen shows `ready`.
fn key(term: &Terminal, bytes: &[u8], ready: impl Fn(&str) -> bool) -> Duration {
    let sent = Instant::now();
    term.send(bytes);
    let shown = term
        .wait_until(GUARD, ready)
        .unwrap_or_else(|| panic!("key {bytes:?} never showed:\n{}", term.screen()));
    shown - sent
}

/// A harvested store of the simulator's `sites` schools in `dir`; their names, one a line.
fn harvested_store(dir: &Path, sites: usize) -> (PathBuf, PathBuf) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sim = rt.block_on(sims::simulator(sites, 2323));
    let schools = sim.control().sites();
    rt.block_on(sim.shutdown());

    let store_path = dir.join("store.sqlite3");
    let (_lock, mut store) =
        simsid::store::open_for_harvest(&store_path, KeySource::File, chrono::Utc::now())
            .expect("store");
    let names: String = schools.iter().map(|s| format!("{}\n", s.name)).collect();
    let listed = schools
        .iter()
        .map(|s| Site {
            org_id: s.org_id.to_domain(),
            name: s.name.clone(),
            dfe_code: s.dfe_code.clone(),
            deni_number: s.deni_number.clone(),
            authorised: Some(s.authorised),
        })
        .collect();
    let data = harvest_of(&store, listed, |i, _| {
        schools[i]
            .visible_clients()
            .iter()
            .map(|c| Credential {
                client_id: c.client_id.clone(),
                secret: c.secret.clone(),
                description: Some(c.description.clone()),
            })
            .collect()
    });
    store
        .commit_harvest(&data, &complete_summary(&data))
        .expect("commit");
    let names_path = dir.join("names.txt");
    std::fs::write(&names_path, names).expect("names");
    (store_path, names_path)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

pub fn main() {
    let mut args = std::env::args().skip(1);
    let sites: usize = args.next().map_or(25_000, |a| a.parse().expect("sites"));
    let rounds: usize = args.next().map_or(5, |a| a.parse().expect("rounds"));
    let simsid = binary_beside_example();

    let dir = tempfile::tempdir().expect("temporary directory");
    let home = dir.path().join("home");
    std::fs::create_dir(&home).expect("home");
    let (store, names) = harvested_store(dir.path(), sites);
    let mut env = BTreeMap::new();
    env.insert("HOME".to_string(), home.display().to_string());
    env.insert(
        "XDG_CONFIG_HOME".into(),
        home.join(".config").display().to_string(),
    );
    env.insert("NO_COLOR".into(), "1".into());
    env.insert("SIMSID_STORE".into(), store.display().to_string());
    env.insert(
        "SIMSID_LOG".into(),
        dir.path().join("simsid.log").display().to_string(),
    );
    let counter = format!("{sites}/{sites}");
    let header = format!("{sites} of {sites}");

    let mut fzf_times = Vec::new();
    let mut simsid_times = Vec::new();
    let (mut filter, mut sort, mut end, mut page) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        // fzf: the same names, its clock stopping at its counter.
        let start = Instant::now();
        let fzf = in_terminal(&format!("exec fzf --exact < '{}'", names.display()), &env);
        let shown = fzf
            .wait_until(GUARD, |s| s.contains(&counter))
            .expect("fzf shows its counter");
        fzf_times.push(shown - start);
        drop(fzf);

        // simsid: the header's count and a drawn row.
        let start = Instant::now();
        let console = in_terminal(&format!("exec '{}' tui", simsid.display()), &env);
        let shown = console
            .wait_until(GUARD, |s| s.contains(&header) && s.lines().count() > 10)
            .unwrap_or_else(|| panic!("the console's first frame:\n{}", console.screen()));
        simsid_times.push(shown - start);
        // Let the rest of the start (anything loaded after the first frame) settle.
        std::thread::sleep(Duration::from_millis(300));

        let before = console.screen();
        sort.push(key(&console, b"s", |s| s != before));
        let before = console.screen();
        end.push(key(&console, b"G", |s| s != before));
        let before = console.screen();
        key(&console, b"g", |s| s != before);
        let before = console.screen();
        page.push(key(&console, b"\x1b[6~", |s| s != before));
        let before = console.screen();
        key(&console, b"/", |s| s != before);
        let before = console.screen();
        filter.push(key(&console, b"a", |s| s != before));
        let before = console.screen();
        filter.push(key(&console, b"c", |s| s != before));
        drop(console);
    }

    let (f, s) = (median(fzf_times), median(simsid_times));
    println!("{sites} sites, {WIDTH}x{HEIGHT}, median of {rounds} rounds");
    println!(
        "first frame: simsid {}  fzf --exact {}  ratio simsid/fzf {:.2}",
        ms(s),
        ms(f),
        s.as_secs_f64() / f.as_secs_f64()
    );
    println!(
        "key to screen: filter keystroke {}  s {}  G {}  PgDn {}",
        ms(median(filter)),
        ms(median(sort)),
        ms(median(end)),
        ms(median(page))
    );
}
