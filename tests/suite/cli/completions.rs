//! `simsid completions SHELL` and `simsid man` through the real binary.

use assert_cmd::Command;

#[test]
fn completions_for_each_shell_exit_zero_with_a_script() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = Command::cargo_bin("simsid")
            .expect("binary")
            .args(["completions", shell])
            .env_clear()
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8(out.stdout).expect("utf-8");
        assert!(script.contains("harvest"), "{shell} script lacks commands");
    }
}

#[test]
fn completions_for_an_unknown_shell_is_a_usage_error() {
    let out = Command::cargo_bin("simsid")
        .expect("binary")
        .args(["completions", "tcsh"])
        .env_clear()
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_page_renders_roff() {
    let out = Command::cargo_bin("simsid")
        .expect("binary")
        .arg("man")
        .env_clear()
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8(out.stdout).expect("utf-8");
    assert!(page.starts_with(".ie") || page.contains(".TH simsid 1"));
    assert!(page.contains(".TH simsid\\-harvest") || page.contains(".TH simsid-harvest"));
}
