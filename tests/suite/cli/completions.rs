//! `simsid completions SHELL` and `simsid man` through the real binary.

use assert_cmd::Command;

/// The binary with an empty environment, but for `SystemRoot` and `PATH` where there is a
/// `SystemRoot` (Windows needs them to start a process; under Wine, without them it fails
/// with "Invalid handle").
fn bare() -> Command {
    let mut cmd = Command::cargo_bin("simsid").expect("binary");
    cmd.env_clear();
    if let Some(root) = std::env::var_os("SystemRoot") {
        cmd.env("SystemRoot", root);
        cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default());
    }
    cmd
}

#[test]
fn completions_for_each_shell_exit_zero_with_a_script() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = bare().args(["completions", shell]).output().expect("run");
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8(out.stdout).expect("utf-8");
        assert!(script.contains("harvest"), "{shell} script lacks commands");
    }
}

#[test]
fn completions_for_an_unknown_shell_is_a_usage_error() {
    let out = bare().args(["completions", "tcsh"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_page_renders_roff() {
    let out = bare().arg("man").output().expect("run");
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8(out.stdout).expect("utf-8");
    assert!(page.starts_with(".ie") || page.contains(".TH simsid 1"));
    assert!(page.contains(".TH simsid\\-harvest") || page.contains(".TH simsid-harvest"));
}

#[test]
fn help_names_the_platforms_own_default_places() {
    let out = bare().arg("--help").output().expect("run");
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).expect("utf-8");
    #[cfg(windows)]
    for place in [
        r"%APPDATA%\simsid\config.toml",
        r"%LOCALAPPDATA%\simsid\store.sqlite3",
        "%SIMSID_CONFIG%",
    ] {
        assert!(help.contains(place), "{place} not in {help}");
    }
    #[cfg(not(windows))]
    for place in [
        "$SIMSID_CONFIG",
        "platform config directory",
        "$SIMSID_STORE",
    ] {
        assert!(help.contains(place), "{place} not in {help}");
    }
    assert!(!help.contains(if cfg!(windows) { "$SIMSID" } else { "%SIMSID" }));
}

#[test]
fn help_is_offered_as_the_reference_beside_the_man_page() {
    let out = bare().args(["help", "man"]).output().expect("run");
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).expect("utf-8");
    assert!(help.contains("simsid help [COMMAND]"), "{help}");
}
