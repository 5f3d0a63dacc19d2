mod console;
mod one_school;
mod one_session;
mod ownership_and_outages;
mod sync_and_read;
mod team;
mod tutorial;
mod view_trust;
