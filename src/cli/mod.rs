//! cli layer (in progress).
