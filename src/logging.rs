//! logging (in progress).
