//! wsframe
