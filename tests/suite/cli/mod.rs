mod commands;
mod completions;
mod lookup;
mod remote_text;
mod settings;
