mod one_verify;
mod refusals;
