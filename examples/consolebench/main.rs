//! The console at 25,000 schools against `fzf --exact`, both in a pseudo-terminal: see
//! `unix.rs` for what it measures and how to run it. It drives a Unix pseudo-terminal, so
//! on Windows it only says so (the Windows leg still compiles every example).

#[cfg(unix)]
mod unix;

fn main() {
    #[cfg(unix)]
    unix::main();
    #[cfg(not(unix))]
    eprintln!("consolebench drives a Unix pseudo-terminal: run it on Linux or macOS");
}
