//! A sans-IO server driven by hand with explicit instants: its clock
//! started, its events taken, its output read back by the hand parser.

use std::time::Instant;

use wsframe::{Config, Connection, Event, Role};

use super::parse_server_frames;

/// A server whose clock started now (its first `handle_timeout`), and that
/// instant.
pub fn server(config: Config) -> (Connection, Instant) {
    let mut conn = Connection::new(Role::Server, config);
    let start = Instant::now();
    conn.handle_timeout(start);
    (conn, start)
}

/// Every event ready.
pub fn drain(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.next_event()).collect()
}

/// Everything unsent, parsed by hand (not by the code under test):
/// `(first byte, payload)`.
pub fn wire(conn: &mut Connection) -> Vec<(u8, Vec<u8>)> {
    parse_server_frames(&conn.take_output())
}
