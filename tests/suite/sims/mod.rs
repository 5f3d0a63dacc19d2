mod authlib_interop;
mod client;
mod rate_limit;
mod simulator;
mod wire;
