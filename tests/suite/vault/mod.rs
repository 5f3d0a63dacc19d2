mod console;
mod one_school;
mod ownership_and_outages;
mod sync_and_read;
