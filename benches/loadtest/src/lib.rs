//! The echo load test's shared parts: how every server listens (one
//! `current_thread` runtime, the same limits, the same socket options) and
//! the frames of the raw client that drives them all.
//!
//! The workload is uWebSockets' `load_test`, the one tokio-websockets and
//! fastwebsockets publish: N connections, each sending one binary message
//! and awaiting its echo before the next. See `README.md` and `run.sh`.
#![forbid(unsafe_code)]

pub mod frame;
pub mod server;

/// The largest message every server accepts: 64 MiB, the default of
/// wsframe, tungstenite and fastwebsockets, set explicitly for all four so
/// the 1 MiB workload fits everywhere and no server checks a smaller limit.
pub const MAX_MESSAGE_SIZE: usize = 64 << 20;
