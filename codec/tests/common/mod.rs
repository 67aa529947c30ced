//! Wire-level helpers: raw frames as a peer would send them, and a driver that
//! runs a connection over a byte stream cut any way.
#![allow(dead_code)] // each test file uses a different subset

#[cfg(feature = "deflate")]
pub mod deflate;
#[cfg(feature = "deflate")]
pub mod deflate_messages;
#[cfg(feature = "tokio")]
pub mod framed_server;
pub mod hand_driven;
pub mod joined_chunks;
pub mod largest_block;
#[cfg(feature = "tokio")]
pub mod raw_server;
#[cfg(all(feature = "tokio", feature = "deflate"))]
pub mod real_peers;
pub mod sample_handshake;
#[cfg(feature = "tokio")]
pub mod tap;
#[cfg(feature = "tokio")]
pub mod tokio_peer;

use wsframe::{apply_mask_bytewise, Config, Connection, Event, FrameHeader, Role, Status};

pub const KEY: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

/// Opcodes and flags by name, for readable tables.
pub const FIN: u8 = 0x80;
pub const CONT: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// A frame with any first byte (FIN, RSV, opcode, reserved or not), the
/// minimal length encoding, and an optional mask (the bytewise reference
/// masking, not the code under test).
pub fn raw_frame(first: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![first];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
    let body = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask_bytewise(&mut out[body..], key, 0);
    }
    out
}

/// A frame as a client sends it (masked).
pub fn client(first: u8, payload: &[u8]) -> Vec<u8> {
    raw_frame(first, payload, Some(KEY))
}

/// A close frame payload.
pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

/// The frames a server wrote: (first byte, payload).
pub fn server_frames(mut out: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while !out.is_empty() {
        let Status::Complete((header, len)) = FrameHeader::parse(out) else {
            panic!("server wrote an invalid frame: {out:02x?}");
        };
        assert!(header.mask.is_none(), "server frames are never masked");
        let end = len + header.payload_len as usize;
        frames.push((out[0], out[len..end].to_vec()));
        out = &out[end..];
    }
    frames
}

/// One unmasked frame as a server writes it, parsed by hand from RFC 6455
/// §5.2 (not by the code under test): `(first byte, payload, frame
/// length)`, or `None` if `buf` holds less.
pub fn parse_server_frame(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let (&first, rest) = buf.split_first()?;
    let (&second, rest) = rest.split_first()?;
    assert_eq!(second & 0x80, 0, "a server frame is never masked (§5.1)");
    assert_eq!(first & 0x70, 0, "no extension negotiated: RSV bits are 0");
    let (len, header) = match second & 0x7F {
        126 => (
            u16::from_be_bytes(rest.get(..2)?.try_into().unwrap()) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(rest.get(..8)?.try_into().unwrap()) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let payload = buf.get(header..header + len)?;
    Some((first, payload.to_vec(), header + len))
}

/// All the frames in `buf`, parsed as [`parse_server_frame`] does:
/// `(first byte, payload)`; panics on a cut frame at the end.
pub fn parse_server_frames(mut buf: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while !buf.is_empty() {
        let Some((first, payload, len)) = parse_server_frame(buf) else {
            panic!("cut frame: {buf:02x?}");
        };
        frames.push((first, payload));
        buf = &buf[len..];
    }
    frames
}

/// The close code of the last frame written, if it is a close frame.
pub fn close_code_on_wire(out: &[u8]) -> Option<u16> {
    let (first, payload) = server_frames(out).pop()?;
    (first & 0x0F == CLOSE).then(|| u16::from_be_bytes([payload[0], payload[1]]))
}

/// Runs a connection over `input` cut at `cuts`, pulling events after every
/// piece; returns the events and everything written. It runs twice: once
/// with `receive`, once putting every other piece straight into `read_buf`;
/// both must give the same.
pub fn drive(role: Role, config: Config, input: &[u8], cuts: &[usize]) -> (Vec<Event>, Vec<u8>) {
    drive_connection(
        &|| Connection::with_mask_source(role, config, Box::new(|| [1, 2, 3, 4])),
        input,
        cuts,
    )
}

/// As [`drive`], with connections that `make` builds.
pub fn drive_connection(
    make: &dyn Fn() -> Connection,
    input: &[u8],
    cuts: &[usize],
) -> (Vec<Event>, Vec<u8>) {
    let received = drive_with(make, input, cuts, false);
    let mixed = drive_with(make, input, cuts, true);
    assert_eq!(received, mixed, "receive and read_buf differ");
    received
}

/// `input` to connections that `make` builds, fed whole, byte by byte and
/// (with `every_cut`) cut at every point, each through both input paths
/// ([`drive_connection`]): what `view` makes of each run must be the same
/// every way (`what` names the case); returns the whole run's.
pub fn same_every_way<T: PartialEq + std::fmt::Debug>(
    what: &str,
    make: &dyn Fn() -> Connection,
    input: &[u8],
    every_cut: bool,
    view: impl Fn((Vec<Event>, Vec<u8>)) -> T,
) -> T {
    let whole = view(drive_connection(make, input, &[]));
    let bytewise: Vec<usize> = (1..input.len()).collect();
    assert_eq!(
        view(drive_connection(make, input, &bytewise)),
        whole,
        "{what}: byte by byte"
    );
    for cut in (0..=input.len()).filter(|_| every_cut) {
        assert_eq!(
            view(drive_connection(make, input, &[cut])),
            whole,
            "{what}: cut at {cut}"
        );
    }
    whole
}

fn drive_with(
    make: &dyn Fn() -> Connection,
    input: &[u8],
    cuts: &[usize],
    use_read_buf: bool,
) -> (Vec<Event>, Vec<u8>) {
    feed_cut(&mut make(), input, cuts, use_read_buf)
}

/// `input` fed to `conn` cut at `cuts`, every other piece appended to
/// `read_buf()` when `use_read_buf`: its events and output.
pub fn feed_cut(
    conn: &mut Connection,
    input: &[u8],
    cuts: &[usize],
    use_read_buf: bool,
) -> (Vec<Event>, Vec<u8>) {
    let mut events = Vec::new();
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &end) in cuts.iter().chain(std::iter::once(&input.len())).enumerate() {
        if use_read_buf && i % 2 == 1 {
            conn.read_buf().extend_from_slice(&input[start..end]);
        } else {
            conn.receive(&input[start..end]);
        }
        start = end;
        while let Some(event) = conn.next_event() {
            events.push(event);
        }
        out.extend_from_slice(&conn.take_output());
    }
    (events, out)
}

/// A server fed `input` in one piece.
pub fn server(input: &[u8]) -> (Vec<Event>, Vec<u8>) {
    drive(Role::Server, Config::default(), input, &[])
}

/// Joins frames into one stream.
pub fn stream(frames: &[Vec<u8>]) -> Vec<u8> {
    frames.concat()
}

/// A small deterministic generator (xorshift64*), so that a failure names
/// the seed that reproduces it.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
