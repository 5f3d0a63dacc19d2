//! The team tutorial of `docs/team.md` ("Tutorial: a team from scratch") works as written:
//! its shell blocks marked `<!-- tutorial -->` are extracted from the page and run, in
//! order, in one `bash -euo pipefail`, against a real OpenBao dev server with a file audit
//! device (what the tutorial's step 0 starts) and the in-process simulator standing in for
//! SIMS ID (its settings in the `SIMS_…` variables step 0 sets), with the real `simsid` and
//! `bao` binaries on PATH.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::common::{self, stderr, stdout};
use crate::support::vault_support::{bao_bin, served, Bao, ROOT_TOKEN};
use secrecy::ExposeSecret;

/// The shell blocks marked `<!-- tutorial -->` (a fenced `sh` block right after the
/// marker), in the page's order.
fn tutorial_blocks(page: &str) -> Vec<String> {
    let lines: Vec<&str> = page.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == "<!-- tutorial -->" {
            assert_eq!(
                lines.get(i + 1).map(|l| l.trim()),
                Some("```sh"),
                "a tutorial marker is followed by a ```sh block (line {})",
                i + 2
            );
            let body: Vec<&str> = lines[i + 2..]
                .iter()
                .take_while(|l| l.trim() != "```")
                .copied()
                .collect();
            i += 2 + body.len();
            blocks.push(body.join("\n"));
        }
        i += 1;
    }
    blocks
}

#[test]
fn the_marked_blocks_are_extracted_in_order() {
    let page = "text\n<!-- tutorial -->\n```sh\na 1\nb 2\n```\n```sh\nnot this\n```\n\
                <!-- tutorial -->\n```sh\nc 3\n```\n";
    assert_eq!(tutorial_blocks(page), ["a 1\nb 2", "c 3"]);
}

// the simulator's integrator secret is what the tutorial stores with `bao kv put`, and is compared with what the vault holds.
#[allow(clippy::disallowed_methods)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_team_tutorial_runs_as_written_against_openbao_and_the_simulator() {
    let page = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/team.md"))
        .unwrap();
    let blocks = tutorial_blocks(&page);
    let script = blocks.join("\n");
    // The tutorial covers the whole first day, in the order a team meets it.
    let steps = [
        "bao auth enable userpass",
        "bao auth enable approle",
        "bao kv put",
        "vault policy --role",
        "auth/approle/role/simsid-harvester",
        "auth/userpass/users/alice",
        "harvest",
        "sts_url",
        " pull",
        "--reveal",
        "--vault-audit",
    ];
    let mut from = 0;
    for step in steps {
        let at = script[from..]
            .find(step)
            .unwrap_or_else(|| panic!("the tutorial has `{step}` after the steps before it"));
        from += at;
    }

    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let bao = Bao::dev_with_audit(&dir.join("vault-audit.log")).await;
    let sim = common::simulator(24, 57).await;
    let sims = sim.env();

    // PATH: the two binaries the tutorial calls, as an installation has them.
    let bin = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(bao_bin(), bin.join("bao")).unwrap();
    std::os::unix::fs::symlink(assert_cmd::cargo::cargo_bin("simsid"), bin.join("simsid")).unwrap();
    let home = dir.join("home");
    std::fs::create_dir(&home).unwrap();
    // What step 0 leaves in the shell.
    let env: BTreeMap<&str, String> = [
        ("PATH", format!("{}:/usr/bin:/bin", bin.display())),
        ("HOME", home.display().to_string()),
        ("VAULT_ADDR", bao.addr.clone()),
        ("VAULT_TOKEN", ROOT_TOKEN.to_string()),
        ("SIMS_APPLICATION_ID", sims.application_id.clone()),
        ("SIMS_CLIENT_ID", sims.client_id.clone()),
        ("SIMS_ORGANISATION_ID", sims.organisation_id.clone()),
        (
            "SIMS_CLIENT_SECRET",
            sims.client_secret.expose_secret().to_string(),
        ),
        ("SIMS_STS_URL", sims.sts_url.clone()),
        ("SIMS_API_BASE", sims.api_base.clone()),
    ]
    .into_iter()
    .collect();
    let cwd = dir.to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .args(["-c", &format!("set -euo pipefail\n{script}\n")])
            .current_dir(cwd)
            .env_clear()
            .envs(env)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let (text, errors) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{text}\n---\n{errors}");

    // The integrator's secret is in the vault, and the harvest host read it from there.
    let (data, _) = bao.read("simsid-integrator").await.expect("stored");
    assert_eq!(data["client_secret"], sims.client_secret.expose_secret());
    assert!(
        !std::fs::read_to_string(dir.join("host/config.toml"))
            .unwrap()
            .contains(sims.client_secret.expose_secret()),
        "the profile names the secret's place, never the secret"
    );
    // Four policies, each its role's.
    for role in ["harvester", "viewer", "operator", "service"] {
        let (status, body) = bao
            .api("GET", &format!("sys/policies/acl/simsid-{role}"), None)
            .await;
        assert_eq!(status, 200, "{body}");
        let policy = body["data"]["policy"].as_str().unwrap();
        assert!(
            policy.starts_with(&format!("# simsid {role} (")),
            "{policy}"
        );
    }
    // The first harvest completed, the viewer pulled it and was healthy.
    assert!(text.contains("  complete  "), "{text}");
    assert!(text.contains("pulled run "), "{text}");
    assert!(text.matches("healthy\n").count() >= 2, "{text}");
    // The operator revealed a secret the simulator serves, and verified it.
    let revealed = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("secret "))
        .map(|rest| rest.trim().split(' ').next().unwrap().to_string())
        .expect("a revealed secret");
    assert!(
        served(&sim).iter().any(|(_, _, s)| *s == revealed),
        "{text}"
    );
    assert!(text.contains("credential(s) work"), "{text}");
    // The audit device's report names Alice's vault identity and the vault read.
    assert!(
        text.lines()
            .any(|l| l.contains("vault-read") && l.contains("userpass-alice")),
        "{text}"
    );

    // On the viewer, status judges the pulled view's age: older than --max-age fails,
    // naming how old it is.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let viewer_status = |max_age: &str| {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("simsid"))
            .args([
                "--config",
                "alice/config.toml",
                "status",
                "--max-age",
                max_age,
            ])
            .current_dir(dir)
            .env_clear()
            .env("HOME", &home)
            .output()
            .unwrap()
    };
    let o = viewer_status("1s");
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("problem: the pulled view was published "),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("view:           run "),
        "{}",
        stdout(&o)
    );
    let o = viewer_status("26h");
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    sim.shutdown().await;
}
