//! One test of this binary run alone in a child process, for a test that changes what the
//! whole process shares (the umask, the environment, a controlling terminal) and must not
//! change it under the other tests running beside it in this binary.

use std::process::Command;

/// The name libtest knows the test `name` of `module` (its `module_path!()`) by.
pub fn test_name(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_binary, path)) => format!("{path}::{name}"),
        None => name.to_owned(),
    }
}

/// This binary, set to run only the ignored test `name` of `module`, with its output
/// shown, on one thread.
pub fn command(module: &str, name: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("the test binary"));
    cmd.args([
        test_name(module, name).as_str(),
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    cmd
}

/// Runs the ignored test `name` of `module` in a child process with `env` set, and fails
/// unless it ran exactly that test and it passed.
pub fn run_ignored(module: &str, name: &str, env: &[(&str, &str)]) {
    let out = command(module, name)
        .envs(env.iter().copied())
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "the child test {name} did not pass alone:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
