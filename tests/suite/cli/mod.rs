mod commands;
mod completions;
mod first_day;
mod lookup;
mod remote_text;
mod settings;
