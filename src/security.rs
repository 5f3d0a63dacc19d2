//! security (in progress).
