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
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use rustix::termios::{tcsetwinsize, Winsize};
use simsid::domain::{Credential, Diff, HarvestData, OrgId, RunStatus, RunSummary, Site};
use simsid::store::KeySource;
use simsid_simulator::{SimConfig, Simulator};

const WIDTH: u16 = 120;
const HEIGHT: u16 = 40;
/// The last guard on any wait (a broken run, not a measure).
const GUARD: Duration = Duration::from_secs(60);

/// A program in a pseudo-terminal, its output read into an emulator.
struct Pty {
    child: Child,
    master: File,
    screen: Arc<Mutex<vt100::Parser>>,
}

impl Pty {
    fn start(command: &str, env: &BTreeMap<String, String>) -> Pty {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
            .expect("a pseudo-terminal");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let name = ptsname(&master, Vec::new()).expect("ptsname");
        let size = Winsize {
            ws_row: HEIGHT,
            ws_col: WIDTH,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        tcsetwinsize(&master, size).expect("window size");
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(rustix::fs::OFlags::NOCTTY.bits() as i32)
            .open(name.to_str().expect("a UTF-8 pts path"))
            .expect("the slave side");
        let child = Command::new("setsid")
            .arg("--ctty")
            .args(["sh", "-c", command])
            .env_remove("TMUX")
            .env("TERM", "xterm-256color")
            .envs(env)
            .stdin(Stdio::from(slave.try_clone().expect("slave")))
            .stdout(Stdio::from(slave.try_clone().expect("slave")))
            .stderr(Stdio::from(slave))
            .spawn()
            .expect("setsid (util-linux) runs");
        let master = File::from(master);
        let screen = Arc::new(Mutex::new(vt100::Parser::new(HEIGHT, WIDTH, 0)));
        {
            let screen = Arc::clone(&screen);
            let mut input = master.try_clone().expect("master");
            let mut answer = master.try_clone().expect("master");
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                loop {
                    let n = match input.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let mut s = screen.lock().expect("screen");
                    s.process(&buf[..n]);
                    if buf[..n].windows(4).any(|w| w == b"\x1b[6n") {
                        let (row, col) = s.screen().cursor_position();
                        let _ = write!(answer, "\x1b[{};{}R", row + 1, col + 1);
                    }
                }
            });
        }
        Pty {
            child,
            master,
            screen,
        }
    }

    fn contents(&self) -> String {
        self.screen.lock().expect("screen").screen().contents()
    }

    /// Waits until `ready` holds of the screen; when it did (None past the guard).
    fn wait_until(&self, ready: impl Fn(&str) -> bool) -> Option<Instant> {
        let start = Instant::now();
        while start.elapsed() < GUARD {
            if ready(&self.contents()) {
                return Some(Instant::now());
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        None
    }

    /// Types `bytes`; the time until the screen shows `ready`.
    fn key(&self, bytes: &[u8], ready: impl Fn(&str) -> bool) -> Duration {
        let sent = Instant::now();
        (&self.master).write_all(bytes).expect("typing");
        let shown = self
            .wait_until(ready)
            .unwrap_or_else(|| panic!("key {bytes:?} never showed:\n{}", self.contents()));
        shown - sent
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let pid = self.child.id() as i32;
        if let Some(pid) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = self.child.wait();
    }
}

/// A harvested store of the simulator's `sites` schools in `dir`; their names, one a line.
fn harvested_store(dir: &Path, sites: usize) -> (PathBuf, PathBuf) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sim = rt
        .block_on(Simulator::start(
            SimConfig {
                sites,
                seed: 2323,
                ..SimConfig::default()
            },
            "127.0.0.1:0".parse().expect("address"),
        ))
        .expect("simulator");
    let schools = sim.control().sites();
    rt.block_on(sim.shutdown());

    let store_path = dir.join("store.sqlite3");
    let (_lock, mut store) =
        simsid::store::open_for_harvest(&store_path, KeySource::File, chrono::Utc::now())
            .expect("store");
    let mut fetched = BTreeMap::new();
    let mut listed = Vec::new();
    let mut names = String::new();
    for s in &schools {
        names.push_str(&s.name);
        names.push('\n');
        let creds = s
            .visible_clients()
            .iter()
            .map(|c| {
                let fp = store.fingerprint(&c.secret);
                (
                    Credential {
                        client_id: c.client_id.clone(),
                        secret: c.secret.clone(),
                        description: Some(c.description.clone()),
                    },
                    fp,
                )
            })
            .collect::<Vec<_>>();
        // The simulator owns its own ids; the product's are parsed from the same GUID text.
        let org_id = OrgId::parse(s.org_id.as_str()).expect("the simulator's ids are GUIDs");
        fetched.insert(org_id.clone(), creds);
        listed.push(Site {
            org_id,
            name: s.name.clone(),
            dfe_code: s.dfe_code.clone(),
            deni_number: s.deni_number.clone(),
            authorised: Some(s.authorised),
        });
    }
    let now = chrono::Utc::now();
    let credentials_total = fetched.values().map(Vec::len).sum();
    let data = HarvestData {
        sites: listed,
        fetched,
        failed: BTreeMap::new(),
    };
    let summary = RunSummary {
        run_id: uuid::Uuid::new_v4(),
        status: RunStatus::Complete,
        started_at: now,
        finished_at: now,
        sites_total: sites,
        sites_harvested: sites,
        sites_failed: 0,
        credentials_total,
        diff: Diff::default(),
        failures: Vec::new(),
        stats: Default::default(),
        error: None,
        scope: Default::default(),
        signal: None,
    };
    store.commit_harvest(&data, &summary).expect("commit");
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
    // The binary beside this example, or $SIMSID_BIN (a release binary measured by a
    // debug build of this harness).
    let exe = std::env::current_exe().expect("this example");
    let simsid = match std::env::var_os("SIMSID_BIN") {
        Some(path) => PathBuf::from(path),
        None => exe
            .parent()
            .and_then(Path::parent)
            .map(|d| d.join("simsid"))
            .expect("target directory"),
    };
    assert!(
        simsid.exists(),
        "{} is missing: run `cargo build --release --bin simsid` first",
        simsid.display()
    );

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
        let fzf = Pty::start(&format!("exec fzf --exact < '{}'", names.display()), &env);
        let shown = fzf
            .wait_until(|s| s.contains(&counter))
            .expect("fzf shows its counter");
        fzf_times.push(shown - start);
        fzf.stop();

        // simsid: the header's count and a drawn row.
        let start = Instant::now();
        let console = Pty::start(&format!("exec '{}' tui", simsid.display()), &env);
        let shown = console
            .wait_until(|s| s.contains(&header) && s.lines().count() > 10)
            .unwrap_or_else(|| panic!("the console's first frame:\n{}", console.contents()));
        simsid_times.push(shown - start);
        // Let the rest of the start (anything loaded after the first frame) settle.
        std::thread::sleep(Duration::from_millis(300));

        let before = console.contents();
        sort.push(console.key(b"s", |s| s != before));
        let before = console.contents();
        end.push(console.key(b"G", |s| s != before));
        let before = console.contents();
        console.key(b"g", |s| s != before);
        let before = console.contents();
        page.push(console.key(b"\x1b[6~", |s| s != before));
        let before = console.contents();
        console.key(b"/", |s| s != before);
        let before = console.contents();
        filter.push(console.key(b"a", |s| s != before));
        let before = console.contents();
        filter.push(console.key(b"c", |s| s != before));
        console.stop();
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
