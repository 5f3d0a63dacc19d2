//! harvest layer (in progress).
