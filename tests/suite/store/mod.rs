mod audit_chain;
mod commit;
mod files;
mod keychain;
mod lock;
mod read_commands;
mod refused_files;
mod written_files;
