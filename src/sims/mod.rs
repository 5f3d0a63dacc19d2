//! sims layer (in progress).
