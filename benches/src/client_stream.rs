//! Client streams for the decode benches: masked frames built by hand (RFC
//! 6455 §5.2), and a server connection reading such a stream in
//! socket-sized reads.

use wsframe::{apply_mask_bytewise, Connection, Event, Message};

use crate::mem_socket::READ_SIZE;

/// The masking key of every frame [`push_masked_frame`] builds.
pub const MASK_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Appends a client frame to `out`: `first_byte` as sent (FIN, RSV and
/// opcode bits), a length field declaring `declared_len` payload bytes (in
/// its shortest form), [`MASK_KEY`], and `payload` masked with it.
/// `declared_len` may exceed `payload.len()`, for a header whose payload is
/// still to come.
pub fn push_masked_frame(out: &mut Vec<u8>, first_byte: u8, declared_len: u64, payload: &[u8]) {
    out.push(first_byte);
    match declared_len {
        0..=125 => out.push(0x80 | declared_len as u8),
        126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(declared_len as u16).to_be_bytes());
        }
        _ => {
            out.push(0x80 | 127);
            out.extend_from_slice(&declared_len.to_be_bytes());
        }
    }
    out.extend_from_slice(&MASK_KEY);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask_bytewise(&mut out[start..], MASK_KEY, 0);
}

/// Feeds `stream` to `conn` in reads of at most [`READ_SIZE`] bytes and
/// hands every message to `on_message`. Each read lands in the connection
/// with one copy, as the peers' reads do: through `receive`, which unmasks
/// and validates in that copy (reads of [`READ_SIZE`]), or, with
/// `into_read_buf`, as a socket read into `read_buf()` would land (the
/// tokio wrapper's way): room made by `prepare_read`, the read taking at
/// most the limit it returns (the room there is, or the rest of a large
/// message), then unmasked and
/// validated in place.
///
/// # Panics
///
/// On any event but a message: the benches' streams hold nothing else.
#[inline]
pub fn read_stream(
    conn: &mut Connection,
    mut stream: &[u8],
    into_read_buf: bool,
    mut on_message: impl FnMut(&Message),
) {
    while !stream.is_empty() {
        let n = if into_read_buf {
            // A socket read of at most READ_SIZE into the room there is.
            let n = conn
                .prepare_read(READ_SIZE)
                .min(READ_SIZE)
                .min(stream.len());
            conn.read_buf().extend_from_slice(&stream[..n]);
            n
        } else {
            let n = READ_SIZE.min(stream.len());
            conn.receive(&stream[..n]);
            n
        };
        stream = &stream[n..];
        while let Some(event) = conn.next_event() {
            match event {
                Event::Message(message) => on_message(&message),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}
