//! sim layer (in progress).
