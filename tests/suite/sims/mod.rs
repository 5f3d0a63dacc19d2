// Not on Windows: runs Python's Authlib, a Linux process a Windows test cannot wait for.
#[cfg(not(windows))]
mod authlib_interop;
mod client;
mod rate_limit;
mod simulator;
mod wire;
