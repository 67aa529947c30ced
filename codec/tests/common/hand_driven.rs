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

/// `input` into `conn` in the pieces `cuts` make (each cut an offset, in
/// order; the last piece runs to the end), the `i`-th piece appended to
/// [`Connection::read_buf`] when `through_read_buf(i)`, else given to
/// [`Connection::receive`]: both ways a socket read lands.
pub fn feed(
    conn: &mut Connection,
    input: &[u8],
    cuts: &[usize],
    through_read_buf: impl Fn(usize) -> bool,
) {
    let mut from = 0;
    for (i, &to) in cuts.iter().chain(std::iter::once(&input.len())).enumerate() {
        if through_read_buf(i) {
            conn.read_buf().extend_from_slice(&input[from..to]);
        } else {
            conn.receive(&input[from..to]);
        }
        from = to;
    }
}
