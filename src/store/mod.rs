//! store layer (in progress).
