//! permessage-deflate (RFC 7692): the one module that knows messages can be
//! compressed. It negotiates the extension's parameters in the handshake
//! (§5, §7.1), and plugs an [`Inbound`] inflater and an [`Outbound`]
//! compressor into the extension seam.
//!
//! Inflating: each read's compressed bytes are inflated as they arrive, into
//! room capped at the message's remaining budget plus one byte, so inflation
//! stops as soon as the message is over the limit (1009): nothing is
//! allocated, and no work done, past it. The assembler validates text as it
//! comes out of each call, so invalid UTF-8 fails in the read that brings
//! it. At the message's end the data must have ended where the empty
//! stored block a sender ends it with (§7.2.1) stands once its
//! `00 00 FF FF` is stripped: that block's header read, its lengths next.
//! The decoder says so without another call (see
//! [`Inflater::end_at_sync_point`]); then the tail the receiver appends
//! (§7.2.2) is those lengths and nothing else, and is fed before the next
//! message's data. Data that ends anywhere else (inside a block, or a
//! block's header) is corrupt, not cut short. A message that ended with a
//! BFINAL block (followed by nothing, or by the `00` header byte of that
//! empty stored block, or that block itself final, §7.2.3.4) restarts the
//! inflater instead. A small message whose one frame arrives whole is
//! inflated in one call (after the last message's tail, side by side on
//! the stack), then copied into one allocation of its exact length.
//!
//! Corrupt compressed data (a bad block type, a stored block whose lengths
//! disagree, data that ends inside a block or goes on after the final one,
//! a distance reaching before the context's start, or past the window the
//! handshake gave the peer, §7.1.2: see [`Inflater`]) is
//! [`ProtocolError::InflateFailed`], closed with 1007: RFC 7692 names no
//! code, and the message's data is what is wrong ("data within a message
//! that was not consistent with the type of the message", RFC 6455 §7.4.1),
//! as Node's `ws` answers it (Python's `websockets` uses 1002).
//!
//! Memory: the inflater and compressor are allocated when a compressed
//! message first needs them, not at the handshake, and dropped after each
//! message when the side that compresses resets its context
//! (`*_no_context_takeover`), so an idle connection holds none.
//!
//! Backend: `zlib-rs`. The compressor is its safe API (`Deflate`), which,
//! unlike `flate2`'s wrapper of it, lets the memory level be set; it is
//! set to at least 9 bits, which keeps to a negotiated 8 (see
//! [`DeflateConfig::max_window_bits`]). The
//! inflater of a peer with a 32 KiB window (the default) is its C API
//! (`libz-rs-sys`, the same Rust code, wrapped in `zstream.rs`), which,
//! unlike the safe `Inflate`, says where the decoder stands after a call.
//! The inflater of a peer whose window the handshake made smaller is
//! `miniz_oxide`'s decoder writing into a ring of exactly that window
//! (`window.rs`): zlib-rs keeps 32 KiB whatever it is told, so it could
//! not refuse a distance past a smaller window.

use std::mem::MaybeUninit;

use bytes::BytesMut;
use zlib_rs::{Deflate, DeflateFlush, InflateError, Status};

use super::{
    window::WindowedInflate,
    zstream::{RawInflate, Step},
    Inbound, Outbound,
};
use crate::{
    config::Role,
    error::ProtocolError,
    handshake::{ExtensionOffer, HandshakeError},
};

/// The extension's registered name (RFC 7692 §7).
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// The empty stored block a sync flush ends with, stripped from each
/// message sent and appended to each message received (§7.2.1, §7.2.2).
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// The smallest window RFC 7692 allows (§7.1.2): 8 bits, 256 bytes.
const MIN_WINDOW_BITS: u8 = 8;

/// The smallest window the backend is set to: zlib (and zlib-rs) refuse a
/// raw deflate window of 8 bits, so a negotiated 8 compresses with 9. That
/// keeps to 256 bytes all the same: with a window of `w` bytes the backend
/// refers back at most `w - 262` (zlib's `MAX_DIST`, the window less the
/// lookahead it keeps: every match is checked against it, and zlib-rs
/// asserts it again as it records one), so at most 250 bytes at 9 bits.
const BACKEND_MIN_WINDOW_BITS: u8 = 9;

/// The compressor's memory level, zlib's `memLevel` (1..=9, default 8).
const MAX_MEMORY_LEVEL: u8 = 9;
const DEFAULT_MEMORY_LEVEL: u8 = 8;

/// The largest window DEFLATE has (32 KiB, RFC 1951).
const MAX_WINDOW_BITS: u8 = 15;

/// What a message is first expected to inflate to, in eighths of its
/// compressed size, before the connection has inflated one (4x).
const DEFAULT_RATIO_EIGHTHS: u64 = 32;

/// The most a message is expected to inflate to, in eighths of its
/// compressed size (16x): past it the room doubles as output comes, so one
/// highly compressible message does not make every later small one
/// allocate a large buffer.
const MAX_RATIO_EIGHTHS: u64 = 128;

/// A whole message of at most this many compressed bytes is inflated with
/// its tail in one call (a copy this short costs less than a second call),
/// into [`ONE_CALL_OUTPUT`] bytes of room on the stack, then copied into an
/// allocation of its exact length.
const ONE_CALL_INPUT: usize = 512;

/// The stack room a small whole message is inflated into: 4 KiB, eight
/// times [`ONE_CALL_INPUT`].
const ONE_CALL_OUTPUT: usize = 4096;

/// Bytes of room added to every estimate, so that a small message (and the
/// `00 00 FF FF` tail after it) fits the first allocation.
const ROOM_SLACK: u64 = 64;

/// The most spare capacity a compressed send may leave in the output
/// buffer, which is kept for the connection's life: the room asked for
/// (half the payload first) is far more than a message that compresses
/// well takes (4 MiB of JSON-like text goes as 20 KB, in 2 MiB of room).
/// Past this, and past twice what is queued, the output is copied into a
/// buffer of its own length and the large one freed. The room itself
/// stays half the payload: asked for in smaller steps, zlib-rs writes a
/// few bytes more (its output depends on where the calls end), and the
/// wire would no longer be a one-call compressor's.
const SPARE_OUTPUT_MAX: usize = 64 * 1024;

/// zlib's window at 15 bits: at the end of each call zlib-rs copies the
/// last this many bytes of the call's output (all of a shorter output)
/// into its window.
const ZLIB_WINDOW: u64 = 32 * 1024;

/// The most that calling zlib-rs once per frame of one read is expected to
/// copy into its window beyond what one call for all those frames would,
/// for the frames to go one call each (see [`Inbound::frame_by_frame`]);
/// past it, one call after a copy of the decoder (its state and window,
/// about 40 KiB, some 48 K instructions) costs less. Callgrind: a message
/// of four 16 KiB fragments in one read (one window more) costs 13 K
/// instructions fewer in a call per frame than with the copy, one of two
/// 64 KiB fragments (one window more) 15 K fewer; but
/// `16_x_1MiB_text_64KiB_frags`, about three 64 KiB fragments a read (two
/// windows more), 6.4 M more in all (175.6 M, not 169.2 M) with a call per
/// frame throughout.
const PER_FRAME_WINDOW_COPY_MAX: u64 = 32 * 1024;

/// Our permessage-deflate preferences (RFC 7692 §7.1), for either role: a
/// [`Config`] option (off by default, since it costs memory per connection).
///
/// Memory per connection: nothing while idle. A compressor, from our first
/// compressed message, costs `4 * 2^bits + 7 * 2^(level + 6)` bytes plus
/// zlib-rs's fixed 128 KiB hash table and about 3 KiB of state (371 KiB at
/// the defaults; see [`max_window_bits`](Self::max_window_bits) and
/// [`memory_level`](Self::memory_level)); an inflater, from the peer's
/// first, about 47 KiB with the peer's window at 15 bits, `2^bits` bytes
/// and about 10.5 KiB below it (see
/// [`peer_max_window_bits`](Self::peer_max_window_bits)). Windows are
/// 8 to 15 bits, every value RFC 7692 allows (§7.1.2), both ways; at 8 our
/// compressor costs what it does at 9 (see
/// [`max_window_bits`](Self::max_window_bits)). Each is released
/// after every message when its side does not take its context over
/// (§7.1.1). While several fragments of a compressed text message that
/// arrived in one read are inflated in one call, a copy of the inflater (as
/// much again) is held for that call, to name the fragment of invalid text
/// exactly.
///
/// ```
/// use wsframe::{Config, DeflateConfig};
/// let config = Config::builder()
///     .deflate(Some(
///         DeflateConfig::default().max_window_bits(12).no_context_takeover(true),
///     ))
///     .build();
/// assert_eq!(config.deflate().map(|d| d.window_bits()), Some(12));
/// ```
///
/// [`Config`]: crate::Config
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DeflateConfig {
    window_bits: u8,
    peer_window_bits: u8,
    no_context_takeover: bool,
    peer_no_context_takeover: bool,
    threshold: usize,
    level: u8,
    memory_level: u8,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self {
            window_bits: MAX_WINDOW_BITS,
            peer_window_bits: MAX_WINDOW_BITS,
            no_context_takeover: false,
            peer_no_context_takeover: false,
            threshold: Self::DEFAULT_THRESHOLD,
            level: 6,
            memory_level: DEFAULT_MEMORY_LEVEL,
        }
    }
}

impl DeflateConfig {
    /// 1 KiB: smaller messages are sent as they are, since compressing them
    /// saves a few bytes at the cost of a compressor call.
    pub const DEFAULT_THRESHOLD: usize = 1024;

    /// The largest LZ77 window our compressor uses, as a base-2 logarithm
    /// (default 15, 32 KiB); clamped to 8..=15 (§7.1.2). A server answers
    /// with `server_max_window_bits` (§7.1.2.1), a client offers
    /// `client_max_window_bits` (§7.1.2.2) with it.
    ///
    /// The compressor keeps to the window the handshake agreed on (this,
    /// or less where the peer asked for less): no distance reaches further
    /// back than `2^bits` bytes. It reaches less far than that: zlib-rs, as
    /// zlib, refers back at most `2^bits - 262` bytes (the window less the
    /// lookahead it keeps), so 250 bytes at 9 bits and 32,506 at 15; a
    /// small window costs compression accordingly. At 8 bits (256 bytes)
    /// the backend, which refuses a raw 8-bit window, is set to 9, whose
    /// 250 bytes are within 256: 8 and 9 compress alike.
    ///
    /// Memory: the compressor holds `4 * 2^bits` bytes for it (the window
    /// twice over and its hash chains), 128 KiB at 15, 2 KiB at 9 and at 8;
    /// see [`memory_level`](Self::memory_level) for the rest.
    #[must_use]
    pub const fn max_window_bits(mut self, bits: u8) -> Self {
        self.window_bits = clamp_window_bits(bits);
        self
    }

    /// The largest LZ77 window we let the peer compress with, as a base-2
    /// logarithm (default 15, no limit); clamped to 8..=15. A client offers
    /// `server_max_window_bits` with it (§7.1.2.1); a server answers
    /// `client_max_window_bits` with it when the client's offer allows one
    /// (§7.1.2.2: a client that offered no such parameter cannot be
    /// limited).
    ///
    /// The window is enforced: a distance past `2^bits` bytes in what the
    /// peer sends is [`ProtocolError::InflateFailed`] (1007), however the
    /// reads are cut (see [`DeflateParams`]).
    ///
    /// Memory: this saves the peer's compressor memory, and ours. Below 15
    /// bits our inflater is a ring of exactly `2^bits` bytes and
    /// miniz_oxide's decoder (about 10.5 KiB of Huffman tables): 10,800 B
    /// measured at 8 bits, 11,056 B at 9, 14,640 B at 12, 26,928 B at 14;
    /// at 15, zlib-rs's, 47,664 B. It is held while a message inflates and, with context
    /// takeover, between messages.
    #[must_use]
    pub const fn peer_max_window_bits(mut self, bits: u8) -> Self {
        self.peer_window_bits = clamp_window_bits(bits);
        self
    }

    /// The compressor's memory level, zlib's `memLevel`: 1 to 9 (default
    /// 8), clamped. Higher compresses better and faster: it sets how many
    /// symbols are gathered before a block is written.
    ///
    /// Memory: the compressor holds `7 * 2^(level + 6)` bytes for it (its
    /// symbol and pending buffers), 112 KiB at 8, 896 B at 1. With the
    /// window's `4 * 2^bits` bytes, zlib-rs's hash table of a fixed 128 KiB
    /// (zlib's is `2^(level + 9)` bytes; zlib-rs, as zlib-ng, does not scale
    /// it) and about 3 KiB of state, a compressor costs 371 KiB (380,268 B
    /// measured) at the defaults and 134 KiB (137,651 B) with a 9-bit
    /// window and level 1. It is allocated when we first compress, and
    /// released after each message with
    /// [`no_context_takeover`](Self::no_context_takeover).
    #[must_use]
    pub const fn memory_level(mut self, level: u8) -> Self {
        self.memory_level = if level < 1 {
            1
        } else if level > MAX_MEMORY_LEVEL {
            MAX_MEMORY_LEVEL
        } else {
            level
        };
        self
    }

    /// Our compressor starts each message afresh (default: no): a server
    /// answers `server_no_context_takeover`, a client offers
    /// `client_no_context_takeover` (§7.1.1). Less memory between messages,
    /// worse compression.
    #[must_use]
    pub const fn no_context_takeover(mut self, on: bool) -> Self {
        self.no_context_takeover = on;
        self
    }

    /// Ask the peer to compress each message afresh (default: no), so that
    /// our inflater is released between messages: a server answers
    /// `client_no_context_takeover`, a client offers
    /// `server_no_context_takeover` (§7.1.1).
    #[must_use]
    pub const fn peer_no_context_takeover(mut self, on: bool) -> Self {
        self.peer_no_context_takeover = on;
        self
    }

    /// Data messages shorter than `bytes` are sent uncompressed (default
    /// [`DEFAULT_THRESHOLD`](Self::DEFAULT_THRESHOLD)); 0 compresses all.
    /// A message sent in fragments is judged by its first fragment (RSV1
    /// goes on the first frame, before the rest is known): a short first
    /// fragment sends the whole message uncompressed.
    #[must_use]
    pub const fn threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }

    /// The compression level, 0 (stored blocks only) to 9 (default 6);
    /// clamped. It costs time, not memory.
    #[must_use]
    pub const fn level(mut self, level: u32) -> Self {
        self.level = if level > 9 { 9 } else { level as u8 };
        self
    }

    /// Our compressor's largest window, as a base-2 logarithm.
    pub const fn window_bits(&self) -> u8 {
        self.window_bits
    }

    /// The largest window we let the peer use, as a base-2 logarithm.
    pub const fn peer_window_bits(&self) -> u8 {
        self.peer_window_bits
    }

    /// The compressor's memory level, 1..=9.
    pub const fn memory_level_value(&self) -> u8 {
        self.memory_level
    }

    /// The configured threshold, in bytes.
    pub const fn threshold_bytes(&self) -> usize {
        self.threshold
    }

    /// The client's offer (§7.1): our window and context preferences.
    pub fn offer(&self) -> ExtensionOffer {
        let mut offer = ExtensionOffer::new(PERMESSAGE_DEFLATE).expect("a token");
        if self.no_context_takeover {
            offer = with_flag(offer, CLIENT_NO_CONTEXT_TAKEOVER);
        }
        if self.peer_no_context_takeover {
            offer = with_flag(offer, SERVER_NO_CONTEXT_TAKEOVER);
        }
        if self.peer_window_bits < MAX_WINDOW_BITS {
            offer = with_bits(offer, SERVER_MAX_WINDOW_BITS, self.peer_window_bits);
        }
        // Without a value: the server may limit our window (§7.1.2.2).
        offer = if self.window_bits < MAX_WINDOW_BITS {
            with_bits(offer, CLIENT_MAX_WINDOW_BITS, self.window_bits)
        } else {
            with_flag(offer, CLIENT_MAX_WINDOW_BITS)
        };
        offer
    }

    /// Server side (§7.1): the parameters of the first acceptable
    /// permessage-deflate offer in `offers` (in the client's order of
    /// preference), and the response to accept it with
    /// ([`Accept::extension`](crate::handshake::Accept::extension));
    /// `None` if none is acceptable, and the connection goes on without
    /// compression. [`Accept::deflate`](crate::handshake::Accept::deflate)
    /// does both in one step.
    ///
    /// An offer is declined for an unknown or repeated parameter, a value
    /// on a `*_no_context_takeover`, a window outside 8..=15 (or written
    /// with a leading zero), and a `server_max_window_bits` without a
    /// value. `server_max_window_bits=8` is accepted and answered `=8`: see
    /// [`max_window_bits`](Self::max_window_bits) for how we keep to it.
    ///
    /// A sans-IO server: the parameters make the
    /// [`Connection`](crate::Connection), the response goes into the 101.
    ///
    /// ```
    /// use wsframe::handshake::{Status, UpgradeRequest};
    /// use wsframe::{Config, Connection, DeflateConfig, Event, Message, Role};
    ///
    /// // A client that offers a 10-bit window for its own compressor first,
    /// // then plain permessage-deflate; an offer of another extension before.
    /// let request = b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\
    ///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    ///     Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: x-other, \
    ///     permessage-deflate; client_max_window_bits=10, permessage-deflate\r\n\r\n";
    /// let Status::Complete((upgrade, _)) = UpgradeRequest::parse(request)? else { unreachable!() };
    ///
    /// // Ours: our compressor starts each message afresh.
    /// let ours = DeflateConfig::default().no_context_takeover(true);
    /// let Some((params, response)) = ours.accept(upgrade.extensions()) else {
    ///     unreachable!("no acceptable offer: answer without the extension")
    /// };
    /// assert_eq!(params.client_max_window_bits, 10, "the client's first offer");
    /// assert!(params.server_no_context_takeover, "our preference");
    /// let head = String::from_utf8(upgrade.accept().extension(response)?.to_bytes())?;
    /// assert!(head.contains(
    ///     "\r\nSec-WebSocket-Extensions: permessage-deflate; \
    ///      server_no_context_takeover; client_max_window_bits=10\r\n"
    /// ));
    ///
    /// // The connection compresses as agreed: a client made with the same
    /// // parameters sends a compressed message, the server reads it.
    /// let config = Config::builder().deflate(Some(ours)).build();
    /// let mut server = Connection::with_deflate(Role::Server, config, Some(params));
    /// let mut client = Connection::with_deflate(Role::Client, Config::default(), Some(params));
    /// let text = "to be compressed ".repeat(100);
    /// client.send(Message::from(text.as_str()))?;
    /// let wire = client.take_output();
    /// assert_eq!(wire[0] & 0x40, 0x40, "RSV1: compressed");
    /// server.receive(&wire);
    /// assert!(matches!(server.next_event(), Some(Event::Message(m)) if m.as_bytes() == text.as_bytes()));
    ///
    /// // The smallest window, 256 bytes, is kept to and answered as asked.
    /// let narrow = wsframe::handshake::ExtensionOffer::new("permessage-deflate")?
    ///     .with_param("server_max_window_bits", Some("8"))?;
    /// let (params, response) = ours.accept(&[narrow]).expect("accepted");
    /// assert_eq!(params.server_max_window_bits, 8);
    /// assert_eq!(
    ///     response.to_string(),
    ///     "permessage-deflate; server_no_context_takeover; server_max_window_bits=8"
    /// );
    ///
    /// // Only offers it cannot honour: `None`, and no extension in the 101.
    /// let unknown = wsframe::handshake::ExtensionOffer::new("permessage-deflate")?
    ///     .with_param("x-unknown", None)?;
    /// assert!(ours.accept(&[unknown]).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn accept(&self, offers: &[ExtensionOffer]) -> Option<(DeflateParams, ExtensionOffer)> {
        offers
            .iter()
            .filter(|offer| offer.name() == PERMESSAGE_DEFLATE)
            .find_map(|offer| self.accept_one(offer))
    }

    fn accept_one(&self, offer: &ExtensionOffer) -> Option<(DeflateParams, ExtensionOffer)> {
        let asked = Params::parse(offer)?;
        let server_bits = match asked.server_max_window_bits {
            Some(Some(bits)) => bits.min(self.window_bits),
            // §7.1.2.1: the offer's parameter has a value.
            Some(None) => return None,
            None => self.window_bits,
        };
        let params = DeflateParams {
            server_no_context_takeover: asked.server_no_context_takeover
                || self.no_context_takeover,
            client_no_context_takeover: asked.client_no_context_takeover
                || self.peer_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: match asked.client_max_window_bits {
                Some(Some(bits)) => bits.min(self.peer_window_bits),
                // §7.1.2.2: without a value, the server may set one.
                Some(None) => self.peer_window_bits,
                None => MAX_WINDOW_BITS,
            },
        };
        let mut response = ExtensionOffer::new(PERMESSAGE_DEFLATE).expect("a token");
        if params.server_no_context_takeover {
            response = with_flag(response, SERVER_NO_CONTEXT_TAKEOVER);
        }
        if params.client_no_context_takeover {
            response = with_flag(response, CLIENT_NO_CONTEXT_TAKEOVER);
        }
        if asked.server_max_window_bits.is_some() || server_bits < MAX_WINDOW_BITS {
            response = with_bits(response, SERVER_MAX_WINDOW_BITS, server_bits);
        }
        if asked.client_max_window_bits == Some(Some(params.client_max_window_bits))
            || params.client_max_window_bits < MAX_WINDOW_BITS
        {
            // The window the client offered to keep to, or the one we
            // limit it to (§7.1.2.2).
            response = with_bits(
                response,
                CLIENT_MAX_WINDOW_BITS,
                params.client_max_window_bits,
            );
        }
        Some((params, response))
    }

    /// Client side (§7.1): checks the extensions the server accepted
    /// ([`Accepted::extensions`](crate::handshake::Accepted::extensions))
    /// against the offer [`offer`](Self::offer) made, and returns the
    /// negotiated parameters, or `None` if the server did not accept
    /// permessage-deflate.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::BadExtensionResponse`] (the client must fail the
    /// connection, §7.1): permessage-deflate accepted twice, an unknown or
    /// repeated parameter, an invalid value, `client_max_window_bits` when
    /// we did not offer it or larger than we offered,
    /// `server_max_window_bits` missing or larger than we asked for (with
    /// [`peer_max_window_bits`](Self::peer_max_window_bits)),
    /// `server_no_context_takeover` missing when we asked for it (with
    /// [`peer_no_context_takeover`](Self::peer_no_context_takeover)).
    /// `client_max_window_bits=8` is kept to (see
    /// [`max_window_bits`](Self::max_window_bits)).
    pub fn check_response(
        &self,
        accepted: &[ExtensionOffer],
    ) -> Result<Option<DeflateParams>, HandshakeError> {
        let mut ours = accepted.iter().filter(|e| e.name() == PERMESSAGE_DEFLATE);
        let Some(response) = ours.next() else {
            return Ok(None);
        };
        if ours.next().is_some() {
            return Err(HandshakeError::BadExtensionResponse);
        }
        let got = Params::parse(response).ok_or(HandshakeError::BadExtensionResponse)?;
        // §7.1.1.1: a server accepts our server_no_context_takeover by
        // answering it; without it the response accepts no offer we made.
        if self.peer_no_context_takeover && !got.server_no_context_takeover {
            return Err(HandshakeError::BadExtensionResponse);
        }
        // §7.1.2.1: a server accepts our limit with the same or a smaller
        // value.
        let server_bits = match got.server_max_window_bits {
            Some(Some(bits)) if bits <= self.peer_window_bits => bits,
            None if self.peer_window_bits == MAX_WINDOW_BITS => MAX_WINDOW_BITS,
            _ => return Err(HandshakeError::BadExtensionResponse),
        };
        // We always offer client_max_window_bits; with a value, the server
        // may only lower it.
        let client_bits = match got.client_max_window_bits {
            Some(Some(bits)) if bits > self.window_bits => {
                return Err(HandshakeError::BadExtensionResponse)
            }
            Some(Some(bits)) => bits,
            Some(None) => return Err(HandshakeError::BadExtensionResponse),
            None => self.window_bits,
        };
        Ok(Some(DeflateParams {
            server_no_context_takeover: got.server_no_context_takeover,
            client_no_context_takeover: got.client_no_context_takeover || self.no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        }))
    }
}

/// Server side (§7.1): the parameters that `response`, a permessage-deflate
/// response made by hand rather than by [`DeflateConfig::accept`], agrees
/// on with the first of `offers` (those of its name) that it validly
/// accepts; `None` if it accepts none, so that the client would fail the
/// connection or we could not keep to it.
///
/// What makes a response accept an offer: `server_no_context_takeover` if
/// the offer asked for it (§7.1.1.1); `server_max_window_bits` if the offer
/// had it, with the same or a smaller value (§7.1.2.1);
/// `client_max_window_bits` only if the offer had it, with a value, no
/// larger than the offer's value if it had one (§7.1.2.2); no unknown or
/// repeated parameter (§7).
pub(crate) fn response_params(
    response: &ExtensionOffer,
    offers: &[ExtensionOffer],
) -> Option<DeflateParams> {
    let got = Params::parse(response)?;
    let server_bits = match got.server_max_window_bits {
        // A response's window bits always have a value (§7.1.2).
        Some(None) => return None,
        bits => bits.flatten(),
    };
    let client_bits = match got.client_max_window_bits {
        Some(None) => return None,
        bits => bits.flatten(),
    };
    offers
        .iter()
        .filter(|offer| offer.name() == response.name())
        .find_map(|offer| {
            let asked = Params::parse(offer)?;
            if asked.server_no_context_takeover && !got.server_no_context_takeover {
                return None;
            }
            match (asked.server_max_window_bits, server_bits) {
                (None, _) => {}
                (Some(Some(limit)), Some(bits)) if bits <= limit => {}
                // Above the offer's limit, missing, or an offer without a
                // value (§7.1.2.1: it has one).
                _ => return None,
            }
            let client_max_window_bits = match (asked.client_max_window_bits, client_bits) {
                // The window the client offered to keep to, if any.
                (offered, None) => offered.flatten().unwrap_or(MAX_WINDOW_BITS),
                (Some(None), Some(bits)) => bits,
                (Some(Some(limit)), Some(bits)) if bits <= limit => bits,
                // Not offered, or above the offer's value.
                _ => return None,
            };
            Some(DeflateParams {
                server_no_context_takeover: got.server_no_context_takeover,
                client_no_context_takeover: got.client_no_context_takeover,
                server_max_window_bits: server_bits.unwrap_or(MAX_WINDOW_BITS),
                client_max_window_bits,
            })
        })
}

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

fn with_flag(offer: ExtensionOffer, name: &str) -> ExtensionOffer {
    offer.with_param(name, None).expect("a token")
}

fn with_bits(offer: ExtensionOffer, name: &str, bits: u8) -> ExtensionOffer {
    offer
        .with_param(name, Some(&bits.to_string()))
        .expect("a token")
}

/// The parameters of one offer or response, each at most once, checked
/// for their syntax (§7.1).
#[derive(Default)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    /// Present, with its value if it had one.
    server_max_window_bits: Option<Option<u8>>,
    client_max_window_bits: Option<Option<u8>>,
}

impl Params {
    /// `None` for an unknown or repeated parameter or an invalid value.
    fn parse(offer: &ExtensionOffer) -> Option<Self> {
        let mut params = Self::default();
        for param in offer.params() {
            let name = param.name().to_ascii_lowercase();
            let (flag, bits) = match name.as_str() {
                SERVER_NO_CONTEXT_TAKEOVER => (Some(&mut params.server_no_context_takeover), None),
                CLIENT_NO_CONTEXT_TAKEOVER => (Some(&mut params.client_no_context_takeover), None),
                SERVER_MAX_WINDOW_BITS => (None, Some(&mut params.server_max_window_bits)),
                CLIENT_MAX_WINDOW_BITS => (None, Some(&mut params.client_max_window_bits)),
                _ => return None,
            };
            if let Some(flag) = flag {
                if *flag || param.value().is_some() {
                    return None;
                }
                *flag = true;
            }
            if let Some(bits) = bits {
                if bits.is_some() {
                    return None;
                }
                *bits = Some(match param.value() {
                    None => None,
                    Some(value) => Some(window_bits(value)?),
                });
            }
        }
        Some(params)
    }
}

/// A window-bits value: a decimal 8..=15 without leading zeroes (§7.1.2).
fn window_bits(value: &str) -> Option<u8> {
    if value.starts_with('0') || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok().filter(|bits| (8..=15).contains(bits))
}

/// The parameters a handshake agreed on (RFC 7692 §7.1), windows as base-2
/// logarithms (15 where the handshake left them open).
///
/// The peer's window is enforced (§7.1.2): a distance in what it sends
/// that reaches back more than `2^bits` bytes (`client_max_window_bits` for
/// a server receiving, `server_max_window_bits` for a client), or before
/// the start of the context, is [`ProtocolError::InflateFailed`] (1007),
/// whatever the cuts; a distance of exactly `2^bits` is read. Below 15
/// bits the inflater is a ring of exactly that window (miniz_oxide), so a
/// smaller window saves our memory too: about `2^bits` bytes plus 10.5 KiB,
/// against zlib-rs's 47 KiB at 15. A window of 8 bits is enforced as 256
/// bytes (zlib, asked for 8 bits, compresses with 9 or refuses, and with 9
/// refers back at most 250 bytes). Our own compressor keeps to 8 bits the
/// same way (see [`DeflateConfig::max_window_bits`]).
///
/// Built by hand (for a handshake made elsewhere), a window outside 8..=15
/// is clamped into it when the connection is made, as
/// [`DeflateConfig::max_window_bits`] clamps.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server starts each message's compression afresh
    /// (`server_no_context_takeover`, §7.1.1.1).
    pub server_no_context_takeover: bool,
    /// The client starts each message's compression afresh
    /// (`client_no_context_takeover`, §7.1.1.2).
    pub client_no_context_takeover: bool,
    /// The largest LZ77 window the server compresses with, as a base-2
    /// logarithm of its size in bytes, 8 to 15 (`server_max_window_bits`,
    /// §7.1.2.1).
    pub server_max_window_bits: u8,
    /// The largest LZ77 window the client compresses with, as a base-2
    /// logarithm of its size in bytes, 8 to 15 (`client_max_window_bits`,
    /// §7.1.2.2).
    pub client_max_window_bits: u8,
}

impl DeflateParams {
    /// The inflater and compressor of an endpoint of `role`.
    pub(crate) fn halves(self, role: Role, config: &DeflateConfig) -> (Inflater, Deflater) {
        let (ours, theirs) = match role {
            Role::Server => (
                (self.server_max_window_bits, self.server_no_context_takeover),
                (self.client_max_window_bits, self.client_no_context_takeover),
            ),
            Role::Client => (
                (self.client_max_window_bits, self.client_no_context_takeover),
                (self.server_max_window_bits, self.server_no_context_takeover),
            ),
        };
        (
            Inflater {
                reset_each_message: theirs.1,
                window_bits: clamp_window_bits(theirs.0),
                state: None,
                owes_tail: false,
                ended: false,
                padded: false,
                message_in: 0,
                message_out: 0,
                ratio_eighths: DEFAULT_RATIO_EIGHTHS,
                last_message_out: 0,
                wants_checkpoint: false,
                checkpoint: None,
            },
            Deflater {
                window_bits: clamp_window_bits(ours.0),
                reset_each_message: ours.1,
                threshold: config.threshold,
                level: config.level,
                memory_level: config.memory_level,
                state: None,
                compressing: false,
            },
        )
    }
}

/// `bits` within what RFC 7692 allows, 8..=15 (§7.1.2).
const fn clamp_window_bits(bits: u8) -> u8 {
    if bits < MIN_WINDOW_BITS {
        MIN_WINDOW_BITS
    } else if bits > MAX_WINDOW_BITS {
        MAX_WINDOW_BITS
    } else {
        bits
    }
}

/// The receiving half: inflates compressed messages as their bytes arrive.
///
/// Its decoder keeps the peer's negotiated window and no more (see
/// [`Decoder`]): zlib-rs with a 32 KiB window at 15 bits; below it,
/// miniz_oxide into a ring of exactly `2^bits` bytes, which refuses a
/// distance past the ring, or, until the ring has first filled, past what
/// was inflated since the context started (`window.rs`). Either verdict is
/// the decoder's check of one distance against its own state, so it holds
/// however the reads were cut. (zlib-rs could not be made strict: it keeps
/// 32 KiB whatever window bits it is given, and reaches into the current
/// call's output however far back, so a verdict from it would depend on the
/// cuts.) The two decoders keep the same rules: room capped at the budget
/// plus one byte (the ring inflates no more per call than the room given),
/// the end-of-message check at the sync point (exact with zlib-rs; with the
/// ring, see [`WindowedInflate::end_at_sync_point`]), the BFINAL restart,
/// the context's reset, and the copy for [`Inbound::replay`] (which only
/// zlib-rs is asked for: see [`Inbound::frame_by_frame`]).
pub(crate) struct Inflater {
    /// The peer resets its compressor after each message, so ours can go.
    reset_each_message: bool,
    /// The peer's window, as negotiated (8..=15): below 15, the decoder's
    /// window is exactly `2^bits` bytes.
    window_bits: u8,
    /// Allocated on the first compressed message.
    state: Option<Decoder>,
    /// The last message's data ended where a stored block's header does:
    /// the next call first gives the decoder its lengths, the tail (see
    /// [`Inflater::end_at_sync_point`]).
    owes_tail: bool,
    /// This message's data ended with a BFINAL block.
    ended: bool,
    /// The `00` after the final block was seen (§7.2.3.4).
    padded: bool,
    /// The compressed and inflated bytes of the message so far.
    message_in: u64,
    message_out: u64,
    /// What the last message inflated to, in eighths of its compressed
    /// size, plus a quarter: the room the next one starts with.
    ratio_eighths: u64,
    /// The last message's inflated length: the room a message kept whole
    /// grows to when it outgrows its first.
    last_message_out: u64,
    /// The next call is several frames' payload: copy the decoder first
    /// (see [`Inbound::checkpoint`]).
    wants_checkpoint: bool,
    /// The decoder as it stood before that call, for
    /// [`Inbound::replay`].
    checkpoint: Option<Decoder>,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("reset_each_message", &self.reset_each_message)
            .field("allocated", &self.state.is_some())
            .field("ended", &self.ended)
            .field("padded", &self.padded)
            .finish()
    }
}

impl Inflater {
    /// Inflates all of `input` into `out`, which may grow by `limit` bytes.
    ///
    /// Output goes straight into `out`'s spare capacity, not zero-filled
    /// first, and a call uses all of it: one `decompress` call per read
    /// when the room suffices, which also keeps zlib's copy of each call's
    /// last 32 KiB into its window to once per call. Room is allocated as
    /// the connection's last ratio predicts `input` inflates to, doubling
    /// the buffer when the output outgrows it, and never past the budget;
    /// a message kept whole that comes in pieces starts with the room
    /// [`Inbound::message_room`] gives it (the assembler reserves it), so
    /// that one as long as the last is never moved.
    ///
    /// `piece_max` (`u64::MAX`: none) bounds this call's output for a
    /// message streamed out in pieces: room grows no further than it, and
    /// the call stops once its output reached it and zlib filled its room
    /// (it may hold more output, even with all input taken: a long match).
    /// Returns how many bytes of `input` were taken and whether it stopped
    /// early.
    fn inflate(
        &mut self,
        input: &[u8],
        out: &mut BytesMut,
        limit: u64,
        piece_max: u64,
    ) -> Result<(usize, bool), ProtocolError> {
        let whole_input = input;
        let mut input = input;
        let start = out.len();
        // One byte past the budget shows the message is over it.
        let cap = limit.saturating_add(1);
        let result = loop {
            // Before the end: a final block may fill the byte past the budget.
            let produced = (out.len() - start) as u64;
            if produced > limit {
                break Err(ProtocolError::MessageTooBig {
                    declared: produced,
                    limit,
                });
            }
            if produced >= piece_max && !self.ended {
                // This piece is full and zlib filled its room: the rest
                // waits for the next call.
                break Ok(true);
            }
            if self.ended {
                // §7.2.3.4: a BFINAL block ends the message's data, but for
                // the header byte of the empty stored block a sender
                // appends after it (its lengths stripped as the tail).
                break match input {
                    [] => Ok(false),
                    [0x00] if !self.padded => {
                        self.padded = true;
                        self.message_in += 1;
                        Ok(false)
                    }
                    _ => Err(ProtocolError::InflateFailed),
                };
            }
            let budget = (cap - produced).min(piece_max - produced);
            if out.capacity() == out.len() {
                let expected = input.len() as u64 * self.ratio_eighths / 8 + ROOM_SLACK;
                // A message kept whole (`out` held its earlier output when
                // this call began; a streamed one is handed out after each
                // call) that outgrew its room grows at once to the last
                // message's length, rather than doubling through several
                // copies on the way there.
                let like_last = match start {
                    0 => 0,
                    _ => (self.last_message_out + ROOM_SLACK).saturating_sub(out.len() as u64),
                };
                let room = expected.max(out.len() as u64).max(like_last).min(budget);
                grow_exact(out, room as usize);
            }
            let len = out.len();
            let spare = out.spare_capacity_mut();
            // At most what zlib takes in one call (its lengths are `u32`),
            // so that room left over means all output is out.
            let room = spare
                .len()
                .min(usize::try_from(budget).unwrap_or(usize::MAX))
                .min(u32::MAX as usize);
            let (status, consumed, written) = self.decompress(input, &mut spare[..room]);
            // SAFETY: either decoder writes its output from the start of
            // the slice it is given and reports in `written` how much
            // (zlib-rs: how far `next_out` advanced; the ring: how many
            // bytes it copied out, each with `MaybeUninit::write`; see
            // `Decoder::inflate`), so the `written <= room` bytes after
            // `len` are initialised, within the capacity.
            unsafe { out.set_len(len + written) };
            input = &input[consumed..];
            self.message_in += consumed as u64;
            match status {
                // Output past the budget came first in the stream: zlib
                // can fill the room and then find corrupt data without
                // needing room, and the verdict must not depend on where
                // the reads were cut.
                Err(_) if (out.len() - start) as u64 > limit => {
                    break Err(ProtocolError::MessageTooBig {
                        declared: (out.len() - start) as u64,
                        limit,
                    })
                }
                Err(_) => break Err(ProtocolError::InflateFailed),
                Ok(Status::StreamEnd) => self.ended = true,
                // Output room left over: everything inflatable so far is
                // out (and all input taken, or none could be).
                Ok(_) if written < room => {
                    if input.is_empty() {
                        break Ok(false);
                    }
                    if consumed == 0 {
                        break Err(ProtocolError::InflateFailed);
                    }
                }
                Ok(_) => {}
            }
        };
        self.message_out += (out.len() - start) as u64;
        result.map(|stopped| match stopped {
            true => (whole_input.len() - input.len(), true),
            false => (whole_input.len(), false),
        })
    }

    /// A whole message of at most [`ONE_CALL_INPUT`] compressed bytes into
    /// `out`, which is empty: its payload (after the previous message's
    /// tail, when owed: see [`Inflater::end_at_sync_point`]) is inflated in
    /// one call into room on the stack, the end checked from where the
    /// decoder stands, then the output copied into one allocation of the
    /// exact length. Output that outgrows the stack room goes on as
    /// [`Inbound::payload`] and [`Inbound::end`] would.
    fn inflate_small_message(
        &mut self,
        payload: &[u8],
        out: &mut BytesMut,
        limit: u64,
    ) -> Result<(), ProtocolError> {
        assert!(payload.len() <= ONE_CALL_INPUT && out.is_empty());
        // The owed tail, then the payload, side by side for one call, in
        // room not zero-filled first (what is not written is not read).
        let mut input = [MaybeUninit::<u8>::uninit(); SYNC_TAIL.len() + ONE_CALL_INPUT];
        let owed = match std::mem::take(&mut self.owes_tail) {
            true => SYNC_TAIL.len(),
            false => 0,
        };
        let len = owed + payload.len();
        let start = input.as_mut_ptr().cast::<u8>();
        // SAFETY: `input` has room for the tail and `payload`, which is at
        // most `ONE_CALL_INPUT` bytes (asserted above, and the caller's
        // condition); the source slices do not overlap the local array.
        // The first `len` bytes are written here, so the slice made of
        // them is initialised.
        let input = unsafe {
            std::ptr::copy_nonoverlapping(SYNC_TAIL.as_ptr(), start, owed);
            std::ptr::copy_nonoverlapping(payload.as_ptr(), start.add(owed), payload.len());
            std::slice::from_raw_parts(start.cast_const(), len)
        };
        let mut room = [MaybeUninit::<u8>::uninit(); ONE_CALL_OUTPUT];
        // One byte past the budget shows the message is over it.
        let room = &mut room[..limit.saturating_add(1).min(ONE_CALL_OUTPUT as u64) as usize];
        let bits = self.window_bits;
        let step = self
            .state
            .get_or_insert_with(|| Decoder::new(bits))
            .inflate(input, room);
        let written = step.written;
        // SAFETY: either decoder writes its output from the start of the
        // slice it is given and reports in `written` how much (see
        // `Decoder::inflate`), so the first `written <= room.len()` bytes
        // of `room` are initialised.
        let inflated = unsafe { std::slice::from_raw_parts(room.as_ptr().cast::<u8>(), written) };
        // The owed tail completes the stored block the decoder waits in,
        // writing nothing: it is always taken whole.
        let taken = step.consumed.saturating_sub(owed);
        self.message_in += taken as u64;
        self.message_out += written as u64;
        let result = if written as u64 > limit {
            Err(ProtocolError::MessageTooBig {
                declared: written as u64,
                limit,
            })
        } else {
            match step.status {
                Err(_) => Err(ProtocolError::InflateFailed),
                Ok(Status::StreamEnd) => {
                    // §7.2.3.4: a BFINAL block ends the message's data,
                    // with nothing of the payload after it but the header
                    // byte of an empty stored block.
                    self.ended = true;
                    match &payload[taken..] {
                        [] => Ok(()),
                        [0x00] => {
                            self.padded = true;
                            self.message_in += 1;
                            Ok(())
                        }
                        _ => Err(ProtocolError::InflateFailed),
                    }
                }
                // All input taken, and room left over (all is out) or the
                // decoder at the sync point (no output can be pending
                // there): that is all, if the data ended where the tail's
                // empty stored block begins.
                Ok(_) if taken == payload.len() && written < room.len() => self.end_at_sync_point(),
                Ok(_) if taken == payload.len() && self.at_sync_point() => self.end_at_sync_point(),
                Ok(_) => {
                    // More to come than the stack holds (or input left
                    // that the next call judges): the rest of the payload,
                    // as any other message's.
                    out.extend_from_slice(inflated);
                    let budget = limit - out.len() as u64;
                    let mut result = self
                        .inflate(&payload[taken..], out, budget, u64::MAX)
                        .map(|_| ());
                    if result.is_ok() && !self.ended {
                        result = self.end_at_sync_point();
                    }
                    let result = result.map_err(|err| match err {
                        // Counted from the message's start, as `out` is.
                        ProtocolError::MessageTooBig { .. } => ProtocolError::MessageTooBig {
                            declared: out.len() as u64,
                            limit,
                        },
                        other => other,
                    });
                    return self.finish_message(result);
                }
            }
        };
        // Exact: a `Bytes` made of it later needs no allocation of its own.
        *out = BytesMut::from(inflated);
        self.finish_message(result)
    }

    /// The message ended with `result`: the inflater goes if the peer
    /// resets its context or the message failed, and starts a new stream
    /// if this one ended.
    fn finish_message(&mut self, result: Result<(), ProtocolError>) -> Result<(), ProtocolError> {
        if self.reset_each_message || result.is_err() {
            // A context the peer will not refer to again.
            self.release();
        } else if self.ended {
            // The stream ended (a BFINAL block): the next message's data
            // starts a new one, with no history.
            if let Some(inflater) = self.state.as_mut() {
                inflater.reset();
            }
            self.owes_tail = false;
        }
        self.ended = false;
        self.padded = false;
        self.end_message();
        result
    }

    /// Drops the inflater's state (and the tail it was owed).
    fn release(&mut self) {
        self.state = None;
        self.owes_tail = false;
    }

    /// The decoder is at the sync point (see [`RawInflate::at_sync_point`]).
    fn at_sync_point(&mut self) -> bool {
        self.state.as_mut().is_some_and(Decoder::at_sync_point)
    }

    /// Checks that the message's data, all inflated, ended where the empty
    /// stored block a sender ends it with (§7.2.1) stands once its
    /// `00 00 FF FF` is stripped: its header read, the decoder at the byte
    /// boundary after it holding no bits, waiting for the four bytes of
    /// lengths. Then the tail is that block's lengths, and nothing else
    /// (§7.2.2): it is owed to the decoder, fed before the next message's
    /// data (in the same call for a small message), and need not be
    /// inflated now. If that block is BFINAL (§7.2.3.4's final block, its
    /// `00 00 FF FF` stripped), the stream ends here and the next message
    /// starts a new one.
    ///
    /// With the ring (a window below 15 bits), the decoder is asked by
    /// giving it the tail at once (and a probe on a copy): see
    /// [`WindowedInflate::end_at_sync_point`]; nothing is owed then.
    ///
    /// zlib-rs tells this point exactly (`inflateSyncPoint`), where its
    /// `data_type` does not: its "block boundary" bit (128) is set only
    /// when asked to stop at one (`Z_BLOCK`, at the first boundary, not the
    /// last), and "waiting for lengths, no bits held" reads as 0, as do
    /// other points with no bits held (between blocks, inside a dynamic
    /// block's header); its BFINAL bit (64) says whether the block is the
    /// final one.
    ///
    /// Data that stops anywhere else (a stored block shorter than its
    /// length or its lengths cut, a Huffman block cut off or one that the
    /// tail's bits would continue or finish, a dynamic block's header,
    /// between blocks, an empty payload) would otherwise inflate the tail
    /// as the block's content or header and leave the inflater inside it,
    /// or between bits, for the next message: here it is a 1007.
    fn end_at_sync_point(&mut self) -> Result<(), ProtocolError> {
        let Some(inflater) = self.state.as_mut() else {
            return Err(ProtocolError::InflateFailed);
        };
        // Still owed the last message's tail: this one gave no data (the
        // decoder stands where the last one left it).
        if self.owes_tail {
            return Err(ProtocolError::InflateFailed);
        }
        let ended = match inflater {
            Decoder::Zlib(inflater) => {
                if !inflater.at_sync_point() {
                    return Err(ProtocolError::InflateFailed);
                }
                let ended = inflater.state().final_block();
                self.owes_tail = !ended;
                ended
            }
            // The tail is given at once: there is no exact check without it.
            Decoder::Windowed(inflater) => inflater
                .end_at_sync_point()
                .ok_or(ProtocolError::InflateFailed)?,
        };
        self.message_in += SYNC_TAIL.len() as u64;
        self.ended = ended;
        Ok(())
    }

    /// One `inflate` call of the message into `room`, allocating the state
    /// on the first compressed message (and first giving the decoder the
    /// last message's tail, if owed: see [`Inflater::end_at_sync_point`]):
    /// the status, the bytes taken and the bytes written.
    fn decompress(
        &mut self,
        input: &[u8],
        room: &mut [MaybeUninit<u8>],
    ) -> (Result<Status, InflateError>, usize, usize) {
        let bits = self.window_bits;
        let inflater = self.state.get_or_insert_with(|| Decoder::new(bits));
        if std::mem::take(&mut self.owes_tail) {
            // The lengths of a stored block whose header is in: an empty
            // block, complete, writing nothing.
            let step = inflater.inflate(&SYNC_TAIL, &mut []);
            debug_assert!(step.consumed == SYNC_TAIL.len() && step.written == 0);
            if step.consumed != SYNC_TAIL.len() || step.status.is_err() {
                return (Err(InflateError::DataError), 0, 0);
            }
        }
        if std::mem::take(&mut self.wants_checkpoint) {
            self.checkpoint = inflater.try_clone();
        }
        let step = inflater.inflate(input, room);
        (step.status, step.consumed, step.written)
    }

    /// The message ended: its ratio, plus a quarter, sizes the next one's
    /// first room.
    fn end_message(&mut self) {
        if let Some(eighths) = self
            .message_out
            .saturating_mul(10)
            .checked_div(self.message_in)
        {
            self.ratio_eighths = (eighths + 1).clamp(8, MAX_RATIO_EIGHTHS);
        }
        self.last_message_out = self.message_out;
        self.message_in = 0;
        self.message_out = 0;
    }
}

impl Inbound for Inflater {
    fn payload(
        &mut self,
        payload: &[u8],
        out: &mut BytesMut,
        limit: u64,
    ) -> Result<(), ProtocolError> {
        self.inflate(payload, out, limit, u64::MAX)
            .map(|_| ())
            .inspect_err(|_| self.release())
    }

    fn payload_piece(
        &mut self,
        payload: &[u8],
        out: &mut BytesMut,
        limit: u64,
        piece_max: usize,
    ) -> Result<(usize, bool), ProtocolError> {
        self.inflate(payload, out, limit, piece_max as u64)
            .inspect_err(|_| self.release())
    }

    // No limit to keep: nothing is inflated here.
    fn end(&mut self, out: &mut BytesMut, _limit: u64) -> Result<(), ProtocolError> {
        let result = if self.ended {
            Ok(())
        } else {
            self.end_at_sync_point()
        };
        if out.capacity() > 2 * out.len() + ROOM_SLACK as usize {
            // Room grown to a longer last message's length: give back what
            // doubling would not have taken (shrinking in place, no copy).
            let mut vec: Vec<u8> = std::mem::take(out).into();
            vec.shrink_to_fit();
            *out = from_vec(vec);
        }
        self.finish_message(result)
    }

    /// Per frame, unless zlib-rs (a 15-bit window) would copy more than
    /// [`PER_FRAME_WINDOW_COPY_MAX`] into its window on the way: each
    /// frame is expected to inflate as the last message did, and each call
    /// copies the last 32 KiB of its output. The ring copies each byte
    /// out of its window once however the calls fall, so its frames
    /// always go one call each.
    fn frame_by_frame(&self, ends: &[usize]) -> bool {
        if self.window_bits < MAX_WINDOW_BITS {
            return true;
        }
        // The calls of their own copy at most all but one window more than
        // one call would: no more than allowed if all is at most that much
        // more than a window (many small frames), known without a loop.
        let all = ends.last().map_or(0, |&end| end as u64) * self.ratio_eighths / 8;
        if all <= ZLIB_WINDOW + PER_FRAME_WINDOW_COPY_MAX {
            return true;
        }
        let (mut each, mut all, mut from) = (0u64, 0u64, 0);
        for &end in ends {
            let expected = end.saturating_sub(from) as u64 * self.ratio_eighths / 8;
            each += expected.min(ZLIB_WINDOW);
            all += expected;
            from = end;
        }
        each.saturating_sub(all.min(ZLIB_WINDOW)) <= PER_FRAME_WINDOW_COPY_MAX
    }

    fn checkpoint(&mut self) {
        self.wants_checkpoint = true;
    }

    fn forget_checkpoint(&mut self) {
        self.wants_checkpoint = false;
        self.checkpoint = None;
    }

    fn replay(&mut self, payload: &[u8], ends: &[usize], output: u64) -> Option<Vec<u64>> {
        let mut inflater = self.checkpoint.take()?;
        let mut room = vec![MaybeUninit::<u8>::uninit(); 32 * 1024];
        let mut total = 0u64;
        let mut from = 0;
        let mut outputs = Vec::with_capacity(ends.len());
        for &end in ends {
            let mut input = payload.get(from..end).unwrap_or_default();
            from = end;
            // As the frame's own calls: until all its output is out (room
            // left over) and its input taken, or the data ends or fails.
            while total < output {
                let step = inflater.inflate(input, &mut room);
                total += step.written as u64;
                input = &input[step.consumed..];
                let more = step.written == room.len() || !input.is_empty() && step.consumed > 0;
                if !matches!(step.status, Ok(Status::Ok | Status::BufError)) || !more {
                    break;
                }
            }
            outputs.push(total.min(output));
        }
        Some(outputs)
    }

    /// What the first piece is expected to inflate to, or the last
    /// message's length if more; a message longer than that still grows
    /// (see [`Inflater::inflate`]).
    fn message_room(&self, first_len: usize) -> u64 {
        let expected = first_len as u64 * self.ratio_eighths / 8 + ROOM_SLACK;
        expected.max(self.last_message_out + ROOM_SLACK)
    }

    fn message(
        &mut self,
        payload: &[u8],
        out: &mut BytesMut,
        limit: u64,
    ) -> Result<(), ProtocolError> {
        if payload.len() <= ONE_CALL_INPUT && out.is_empty() {
            self.inflate_small_message(payload, out, limit)
        } else {
            super::payload_then_end(self, payload, out, limit)
        }
    }
}

/// The inflater's decoder, chosen once by the peer's negotiated window and
/// dispatched once per call: zlib-rs for a 32 KiB window (the common case,
/// the fastest), a ring of exactly `2^bits` bytes below it, so that a
/// distance past the window is refused (RFC 7692 §7.1.2).
enum Decoder {
    /// A 15-bit window: zlib-rs (see `zstream.rs`).
    Zlib(RawInflate),
    /// A window of 8..=14 bits: miniz_oxide in a ring (see `window.rs`).
    /// Boxed, so that the `Connection` every user holds inline stays as
    /// small as with zlib-rs alone (the ring's fields would add 64 B to it).
    Windowed(Box<WindowedInflate>),
}

impl Decoder {
    /// A decoder for a peer window of `bits` (8..=15).
    fn new(bits: u8) -> Self {
        if bits >= MAX_WINDOW_BITS {
            Self::Zlib(RawInflate::new())
        } else {
            Self::Windowed(Box::new(WindowedInflate::new(bits)))
        }
    }

    /// One call: `input` into `output`, from its start (see
    /// [`RawInflate::inflate`] and [`WindowedInflate::inflate`]). Both
    /// initialise exactly the first `written` bytes of `output`, which the
    /// callers' `unsafe` blocks rely on.
    fn inflate(&mut self, input: &[u8], output: &mut [MaybeUninit<u8>]) -> Step {
        match self {
            Self::Zlib(inflater) => inflater.inflate(input, output),
            Self::Windowed(inflater) => inflater.inflate(input, output),
        }
    }

    /// Whether the decoder is at the sync point, asked without changing
    /// it: exact for zlib-rs ([`RawInflate::at_sync_point`]); always `false`
    /// for the ring, which tells it only by taking the tail
    /// ([`WindowedInflate::end_at_sync_point`]), so a caller that asks to
    /// take a shortcut takes the longer way.
    fn at_sync_point(&mut self) -> bool {
        match self {
            Self::Zlib(inflater) => inflater.at_sync_point(),
            Self::Windowed(_) => false,
        }
    }

    /// A copy to go on from here apart from this one; `None` if it cannot
    /// be allocated.
    fn try_clone(&mut self) -> Option<Self> {
        match self {
            Self::Zlib(inflater) => inflater.try_clone().map(Self::Zlib),
            Self::Windowed(inflater) => inflater
                .try_clone()
                .map(|copy| Self::Windowed(Box::new(copy))),
        }
    }

    /// Starts a new stream, keeping the allocation.
    fn reset(&mut self) {
        match self {
            Self::Zlib(inflater) => inflater.reset(),
            Self::Windowed(inflater) => inflater.reset(),
        }
    }
}

/// Grows `out`, which is full, to exactly `additional` bytes past its
/// length (within the message's budget). `BytesMut::reserve` reallocates
/// its vector, which rounds a request up to twice the capacity: exact when
/// the request at least doubles it, otherwise (near the budget) a message
/// near the limit would be given twice the limit, so the vector is
/// reallocated to the exact size itself (a copy would hold both at once).
fn grow_exact(out: &mut BytesMut, additional: usize) {
    debug_assert_eq!(out.capacity(), out.len());
    if out.is_empty() {
        *out = BytesMut::with_capacity(additional);
    } else if additional >= out.len() {
        out.reserve(additional);
    } else {
        let mut vec: Vec<u8> = std::mem::take(out).into();
        vec.reserve_exact(additional);
        *out = from_vec(vec);
    }
}

/// `vec` as a `BytesMut`, keeping its allocation and capacity.
fn from_vec(vec: Vec<u8>) -> BytesMut {
    BytesMut::from(bytes::Bytes::from(vec))
}

/// The sending half: compresses data messages of at least the threshold.
pub(crate) struct Deflater {
    /// Negotiated, 8..=15; the backend is set to at least 9.
    window_bits: u8,
    /// We reset our compressor after each message (negotiated).
    reset_each_message: bool,
    threshold: usize,
    level: u8,
    memory_level: u8,
    /// Allocated on the first compressed message.
    state: Option<Box<Deflate>>,
    /// The message being sent (in fragments) is compressed.
    compressing: bool,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("window_bits", &self.window_bits)
            .field("reset_each_message", &self.reset_each_message)
            .field("threshold", &self.threshold)
            .field("level", &self.level)
            .field("memory_level", &self.memory_level)
            .field("allocated", &self.state.is_some())
            .field("compressing", &self.compressing)
            .finish()
    }
}

impl Deflater {
    /// Compresses `payload` with a sync flush into `out`; at the message's
    /// end strips the flush's empty stored block (§7.2.1).
    fn compress(&mut self, payload: &[u8], fin: bool, out: &mut BytesMut) {
        let config = zlib_rs::DeflateConfig {
            level: i32::from(self.level),
            // Negative: raw deflate, no zlib header. A negotiated 8 is set
            // as 9, which refers back 250 bytes at most: within 256 (see
            // `BACKEND_MIN_WINDOW_BITS`).
            window_bits: -i32::from(self.window_bits.max(BACKEND_MIN_WINDOW_BITS)),
            mem_level: i32::from(self.memory_level),
            ..zlib_rs::DeflateConfig::default()
        };
        // The values are within zlib's ranges (clamped by `DeflateConfig`).
        let compressor = self
            .state
            .get_or_insert_with(|| Box::new(Deflate::new_with_config(config)));
        // Appended after what `out` holds (the sender's output, with room
        // for the frame's header): no buffer of its own per message.
        let start = out.len();
        // Room for half the payload first, more as needed; zeroed only as
        // far as asked for, not to `out`'s capacity, which may be large
        // after a large message.
        let mut room = payload.len() / 2 + 64;
        let mut input = payload;
        loop {
            let (before_in, before_len) = (compressor.total_in(), out.len());
            out.resize(before_len + room, 0);
            let before_out = compressor.total_out();
            // Raw deflate into a buffer with room does not fail.
            let _ = compressor.compress(input, &mut out[before_len..], DeflateFlush::SyncFlush);
            let written = (compressor.total_out() - before_out) as usize;
            out.truncate(before_len + written);
            input = &input[(compressor.total_in() - before_in) as usize..];
            // Room left over after the call: the flush is complete.
            if input.is_empty() && written < room {
                break;
            }
            room = room.max(512) * 2;
        }
        let spare = out.capacity() - out.len();
        if spare > SPARE_OUTPUT_MAX && spare > 2 * out.len() {
            // Far more room than is queued (the room for half the payload,
            // or capacity left by earlier output): keep only what is
            // queued, and room for the frame's header to grow (8 bytes at
            // most) without a reallocation. The copy is at most half the
            // room freed, itself from a payload twice as long or from
            // output already written, so it is short next to the
            // compressing; an output that merely doubled as a queue grew
            // has less spare than it holds and stays, or each send would
            // copy the whole queue.
            let mut kept = BytesMut::with_capacity(out.len() + 16);
            kept.extend_from_slice(out);
            *out = kept;
        }
        if fin {
            if out[start..].ends_with(&SYNC_TAIL) {
                out.truncate(out.len() - SYNC_TAIL.len());
            }
            if out.len() == start {
                // Nothing new to flush (an empty message or last fragment
                // right after a flush): zlib writes nothing, but the
                // receiver appends 00 00 FF FF, which completes a stored
                // block only after its header byte. Send that byte: the
                // empty message of §7.2.3.6.
                out.extend_from_slice(&[0x00]);
            }
            if self.reset_each_message {
                self.state = None;
            }
        }
    }
}

impl Outbound for Deflater {
    fn begin(&mut self, len: usize, compress: Option<bool>) -> bool {
        self.compressing = compress.unwrap_or(len >= self.threshold);
        self.compressing
    }

    fn payload(&mut self, payload: &[u8], fin: bool, out: &mut BytesMut) {
        self.compress(payload, fin, out);
    }
}

#[cfg(test)]
mod tests {
    use zlib_rs::{Inflate, InflateFlush};

    use super::*;

    fn server_halves(params: DeflateParams) -> (Inflater, Deflater) {
        params.halves(Role::Server, &DeflateConfig::default().threshold(0))
    }

    const DEFAULT: DeflateParams = DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };

    fn inflate_all(
        inflater: &mut Inflater,
        pieces: &[&[u8]],
        limit: u64,
    ) -> Result<Vec<u8>, ProtocolError> {
        let mut out = BytesMut::new();
        for piece in pieces {
            let room = limit - out.len() as u64;
            inflater.payload(piece, &mut out, room)?;
        }
        let room = limit - out.len() as u64;
        inflater.end(&mut out, room)?;
        Ok(out.to_vec())
    }

    #[test]
    fn the_rfc_7692_samples_inflate_to_hello() {
        let (mut inflater, _) = server_halves(DEFAULT);
        // §7.2.3.1: "Hello" compressed, whole and in two fragments.
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(
            inflate_all(&mut inflater, &[&hello], 100).unwrap(),
            b"Hello"
        );
        assert_eq!(
            inflate_all(
                &mut inflater,
                &[&[0xf2, 0x48, 0xcd], &[0xc9, 0xc9, 0x07, 0x00]],
                100
            )
            .unwrap(),
            b"Hello"
        );
        // §7.2.3.2: two messages sharing the sliding window.
        let (mut inflater, _) = server_halves(DEFAULT);
        assert_eq!(
            inflate_all(&mut inflater, &[&hello], 100).unwrap(),
            b"Hello"
        );
        assert_eq!(
            inflate_all(&mut inflater, &[&[0xf2, 0x00, 0x11, 0x00, 0x00]], 100).unwrap(),
            b"Hello"
        );
        // §7.2.3.3: a stored block; §7.2.3.4: BFINAL set, then a new message.
        let stored = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        assert_eq!(
            inflate_all(&mut inflater, &[&stored], 100).unwrap(),
            b"Hello"
        );
        let bfinal = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        assert_eq!(
            inflate_all(&mut inflater, &[&bfinal], 100).unwrap(),
            b"Hello"
        );
        assert_eq!(
            inflate_all(&mut inflater, &[&hello], 100).unwrap(),
            b"Hello"
        );
        // An empty message: a single 0x00.
        assert_eq!(inflate_all(&mut inflater, &[&[0x00]], 100).unwrap(), b"");
    }

    /// `data` raw-deflated with a sync flush (tail stripped), or ending in
    /// a BFINAL block with `last`.
    fn deflated(data: &[u8], last: bool) -> Vec<u8> {
        let mut deflate = Deflate::new(6, false, 15);
        let mut out = vec![0; data.len() + 64];
        let flush = match last {
            true => DeflateFlush::Finish,
            false => DeflateFlush::SyncFlush,
        };
        let _ = deflate.compress(data, &mut out, flush);
        out.truncate(deflate.total_out() as usize);
        if !last {
            assert!(out.ends_with(&SYNC_TAIL));
            out.truncate(out.len() - SYNC_TAIL.len());
        }
        out
    }

    #[test]
    fn a_whole_message_in_one_step_inflates_as_payload_then_end() {
        // Each through a fresh inflater, after "Hello" (a context to refer
        // to), in one step and in two, under limits around its inflated
        // size and the stack room's.
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let mut payloads: Vec<Vec<u8>> = vec![
            hello.to_vec(),
            vec![0xf2, 0x00, 0x11, 0x00, 0x00],
            vec![0x00],
            vec![0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            // §7.2.3.4: with the header byte of an empty stored block.
            vec![0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
            // Data after the final block, a reserved block type, a stored
            // block whose lengths disagree, a truncated block.
            vec![0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00],
            vec![0x07],
            vec![0x00, 0x05, 0x00, 0x00, 0x00],
            vec![0xf2, 0x48],
        ];
        // Fewer under Miri, which runs zlib-rs slowly.
        let lens: &[usize] = match cfg!(miri) {
            true => &[4097],
            false => &[0, 1, 4095, 4096, 4097, 10_000, 100_000],
        };
        for &len in lens {
            let text: Vec<u8> = b"Hello, permessage-deflate! "
                .iter()
                .copied()
                .cycle()
                .take(len)
                .collect();
            payloads.push(deflated(&text, false));
            payloads.push(deflated(&text, true));
        }
        let noise: Vec<u8> = (0..600u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        payloads.push(deflated(&noise, false));
        for payload in &payloads {
            let (mut reference, _) = server_halves(DEFAULT);
            let size = inflate_all(&mut reference, &[&payload[..]], 1 << 20)
                .map_or(0, |out| out.len() as u64);
            let limits = [
                0,
                1,
                size.saturating_sub(1),
                size,
                size + 1,
                4095,
                4096,
                1 << 20,
            ];
            // Under Miri, which runs zlib-rs slowly: the stack room, its
            // fallback, and the budget.
            let limits = match cfg!(miri) {
                true => &limits[5..],
                false => &limits[..],
            };
            for &limit in limits {
                let (mut two_steps, _) = server_halves(DEFAULT);
                let (mut one_step, _) = server_halves(DEFAULT);
                assert_eq!(
                    inflate_all(&mut two_steps, &[&hello], 100).unwrap(),
                    b"Hello"
                );
                assert_eq!(
                    inflate_all(&mut one_step, &[&hello], 100).unwrap(),
                    b"Hello"
                );
                let mut two = BytesMut::new();
                let want = crate::ext::payload_then_end(&mut two_steps, payload, &mut two, limit)
                    .map(|()| two.to_vec());
                let mut out = BytesMut::new();
                let got = one_step
                    .message(payload, &mut out, limit)
                    .map(|()| out.to_vec());
                assert_eq!(got, want, "{payload:?} under {limit}");
                if got.is_ok() && out.len() < ONE_CALL_OUTPUT {
                    assert_eq!(out.capacity(), out.len(), "one exact allocation");
                }
                assert_eq!(one_step.state.is_none(), two_steps.state.is_none());
                if got.is_ok() && two_steps.state.is_some() {
                    // The context goes on the same.
                    let again = inflate_all(&mut two_steps, &[&hello], 100);
                    let mut out = BytesMut::new();
                    let got = one_step
                        .message(&hello, &mut out, 100)
                        .map(|()| out.to_vec());
                    assert_eq!(got, again);
                }
            }
        }
    }

    #[test]
    // Megabytes through zlib-rs: minutes under Miri, and the tests there
    // reach the same unsafe blocks.
    #[cfg_attr(miri, ignore)]
    fn a_message_kept_whole_grows_at_once_to_the_last_ones_length() {
        // Two messages of 200,000 bytes, each in 16 pieces: the second's
        // buffer moves once (its first room, then the first's length), not
        // at every doubling; pieces handed out as they come (streaming)
        // never get room for the whole message.
        let text: Vec<u8> = (0..200_000u32)
            .map(|i| b"Hello, permessage-deflate! "[(i % 27) as usize] ^ (i / 997 % 2) as u8)
            .collect();
        let payload = deflated(&text, false);
        let pieces: Vec<&[u8]> = payload.chunks(payload.len() / 16 + 1).collect();
        let (mut inflater, _) = server_halves(DEFAULT);
        for round in 0..2 {
            let mut out = BytesMut::new();
            let mut grown = 0;
            for piece in &pieces {
                let before = out.as_ptr();
                inflater.payload(piece, &mut out, 1 << 20).unwrap();
                grown += usize::from(out.as_ptr() != before);
            }
            let budget = (1 << 20) - out.len() as u64;
            inflater.end(&mut out, budget).unwrap();
            assert_eq!(out, text);
            assert!(out.capacity() <= 2 * text.len() + 64, "{}", out.capacity());
            if round == 1 {
                assert!(grown <= 2, "moved {grown} times");
                assert!(out.capacity() <= text.len() + 64 * 2, "{}", out.capacity());
            }
        }
        let mut streamed = Vec::new();
        for piece in &pieces {
            let mut out = BytesMut::new();
            inflater.payload(piece, &mut out, 1 << 20).unwrap();
            assert!(out.capacity() < text.len() / 2, "{}", out.capacity());
            streamed.extend_from_slice(&out);
        }
        let mut out = BytesMut::new();
        inflater.end(&mut out, 1 << 20).unwrap();
        streamed.extend_from_slice(&out);
        assert_eq!(streamed, text);
    }

    #[test]
    fn a_final_block_one_byte_past_the_budget_is_too_big() {
        let text = vec![b'a'; 5000];
        for last in [false, true] {
            let payload = deflated(&text, last);
            let (mut inflater, _) = server_halves(DEFAULT);
            assert_eq!(
                inflate_all(&mut inflater, &[&payload], 4999),
                Err(ProtocolError::MessageTooBig {
                    declared: 5000,
                    limit: 4999
                }),
                "BFINAL: {last}"
            );
            let (mut inflater, _) = server_halves(DEFAULT);
            assert_eq!(inflate_all(&mut inflater, &[&payload], 5000).unwrap(), text);
        }
    }

    #[test]
    fn output_stops_one_byte_past_the_budget() {
        let (_, mut deflater) = server_halves(DEFAULT);
        let mut compressed = BytesMut::new();
        // Smaller under Miri, which runs zlib-rs slowly.
        let size: u64 = if cfg!(miri) { 1 << 12 } else { 1 << 20 };
        deflater.compress(&vec![b'a'; size as usize], true, &mut compressed);
        for limit in [0, 1, 1000, size - 1] {
            let (mut inflater, _) = server_halves(DEFAULT);
            let mut out = BytesMut::new();
            assert_eq!(
                inflater.payload(&compressed, &mut out, limit),
                Err(ProtocolError::MessageTooBig {
                    declared: limit + 1,
                    limit
                })
            );
            assert!(out.capacity() as u64 <= (limit + 1).max(64), "{limit}");
        }
        let (mut inflater, _) = server_halves(DEFAULT);
        assert_eq!(
            inflate_all(&mut inflater, &[&compressed], size)
                .unwrap()
                .len() as u64,
            size
        );
    }

    #[test]
    fn corrupt_data_and_distances_past_the_window_fail_to_inflate() {
        let (mut inflater, _) = server_halves(DEFAULT);
        // Block type 3 is reserved.
        assert_eq!(
            inflate_all(&mut inflater, &[&[0x07]], 100),
            Err(ProtocolError::InflateFailed)
        );
        // A stored block whose length and its complement disagree.
        assert_eq!(
            inflate_all(&mut inflater, &[&[0x00, 0x05, 0x00, 0x00, 0x00]], 100),
            Err(ProtocolError::InflateFailed)
        );
        // A message that refers back into the one before it: fine where
        // the context was taken over, too far back for a fresh inflater.
        let noise: Vec<u8> = (0..600u32)
            .scan(1u32, |x, _| {
                *x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                Some((*x >> 16) as u8)
            })
            .collect();
        let (_, mut deflater) = server_halves(DEFAULT);
        let (mut first, mut second) = (BytesMut::new(), BytesMut::new());
        deflater.compress(&noise, true, &mut first);
        deflater.compress(&noise, true, &mut second);
        assert!(second.len() < 20, "a back reference: {second:?}");
        let (mut inflater, _) = server_halves(DEFAULT);
        assert_eq!(inflate_all(&mut inflater, &[&first], 1000).unwrap(), noise);
        assert_eq!(inflate_all(&mut inflater, &[&second], 1000).unwrap(), noise);
        for cut in 0..second.len() {
            let (mut inflater, _) = server_halves(DEFAULT);
            assert_eq!(
                inflate_all(&mut inflater, &[&second[..cut], &second[cut..]], 1000),
                Err(ProtocolError::InflateFailed),
                "cut at {cut}"
            );
        }
    }

    /// `len` bytes of noise twice over, compressed with a 32 KiB window: the
    /// second copy refers `len` bytes back.
    fn repeated_noise(len: usize) -> (Vec<u8>, BytesMut) {
        let noise: Vec<u8> = (0..len as u32)
            .scan(7u32, |x, _| {
                *x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                Some((*x >> 16) as u8)
            })
            .collect();
        let twice = noise.repeat(2);
        let (_, mut deflater) = server_halves(DEFAULT);
        let mut wire = BytesMut::new();
        deflater.compress(&twice, true, &mut wire);
        assert!(
            wire.len() < len * 6 / 5,
            "a back reference: {} bytes",
            wire.len()
        );
        (twice, wire)
    }

    /// The verdict of an inflater with the peer's window of `bits` on
    /// `wire`, fed whole, in two pieces at every cut and byte by byte: it
    /// must be the same for all.
    fn verdict(bits: u8, wire: &[u8]) -> Result<Vec<u8>, ProtocolError> {
        let params = DeflateParams {
            client_max_window_bits: bits,
            ..DEFAULT
        };
        let inflate = |pieces: &[&[u8]]| {
            let (mut inflater, _) = server_halves(params);
            inflate_all(&mut inflater, pieces, 1 << 20)
        };
        let whole = inflate(&[wire]);
        // Every cut, or three under Miri, where each cut (a whole inflation)
        // takes a second or more; byte by byte below crosses every
        // boundary anyway.
        let step = if cfg!(miri) { wire.len() / 3 + 1 } else { 1 };
        for cut in (0..wire.len()).step_by(step) {
            assert_eq!(
                inflate(&[&wire[..cut], &wire[cut..]]),
                whole,
                "cut at {cut}"
            );
        }
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(inflate(&bytes), whole, "byte by byte");
        whole
    }

    #[test]
    fn a_distance_past_the_peer_window_is_refused_the_same_at_every_cut() {
        // client_max_window_bits=9 (512 bytes), and a message referring
        // 1200 bytes back: refused however the reads are cut, though
        // zlib-rs (which keeps 32 KiB whatever the bits) inflates it; a
        // window of 11 bits (2 KiB) or 15 reads it.
        let (text, wire) = repeated_noise(1200);
        assert_eq!(verdict(9, &wire), Err(ProtocolError::InflateFailed));
        if !cfg!(miri) {
            // Under Miri, 9 bits stand for the ring's refusal and 11 for
            // its reading: 10 is the same code on the same bytes.
            assert_eq!(verdict(10, &wire), Err(ProtocolError::InflateFailed));
        }
        assert_eq!(verdict(11, &wire), Ok(text.clone()));
        assert_eq!(verdict(15, &wire), Ok(text.clone()));
        if cfg!(miri) {
            // The rest feeds zlib-rs's own API byte by byte: slow under
            // Miri, and no unsafe code of ours (`verdict` reached it).
            return;
        }
        let mut backend = Inflate::new(false, 9);
        let mut out = vec![0; 4096];
        let input = [&wire[..], &SYNC_TAIL].concat();
        for byte in input.chunks(1) {
            let at = backend.total_out() as usize;
            assert!(backend
                .decompress(byte, &mut out[at..], InflateFlush::NoFlush)
                .is_ok());
        }
        assert_eq!(&out[..backend.total_out() as usize], text);
    }

    #[test]
    // Compression and negotiation only: no unsafe code of ours (the
    // inflaters' blocks are the other tests'), and 40 s under Miri.
    #[cfg_attr(miri, ignore)]
    fn an_8_bit_window_is_offered_and_compresses_with_the_backend_at_9() {
        // zlib-rs (as zlib since 1.2.9) refuses a raw 8-bit window; a
        // negotiated 8 is set as 9, which refers back 250 bytes at most
        // (`tests/deflate_eight_bit_window.rs` reads it with a 256-byte
        // window).
        let eight = std::panic::catch_unwind(|| Deflate::new(6, false, 8));
        assert!(eight.is_err(), "a raw 8-bit window is refused");
        assert_eq!(clamp_window_bits(7), 8);
        assert_eq!(clamp_window_bits(8), 8);
        let ours = DeflateConfig::default()
            .max_window_bits(8)
            .peer_max_window_bits(8);
        assert_eq!((ours.window_bits(), ours.peer_window_bits()), (8, 8));
        assert_eq!(
            ours.offer().to_string(),
            "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8"
        );
        // 8 compresses as 9 does, byte for byte, and without a panic.
        let text = b"an eight-bit window, compressed with nine; ".repeat(40);
        let compressed = |bits| {
            let params = DeflateParams {
                server_max_window_bits: bits,
                ..DEFAULT
            };
            let (_, mut deflater) = server_halves(params);
            assert_eq!(deflater.window_bits, bits);
            let mut wire = BytesMut::new();
            deflater.compress(&text, true, &mut wire);
            wire
        };
        assert_eq!(compressed(8), compressed(9));
    }

    #[test]
    // It runs the compressor at level 9 nine times: minutes under Miri,
    // and the other tests there reach the same backend calls.
    #[cfg_attr(miri, ignore)]
    fn any_window_and_memory_level_compress_what_inflates_back() {
        assert_eq!(DeflateConfig::default().memory_level_value(), 8);
        assert_eq!(
            DeflateConfig::default()
                .memory_level(0)
                .memory_level_value(),
            1
        );
        assert_eq!(
            DeflateConfig::default()
                .memory_level(10)
                .memory_level_value(),
            9
        );
        let text: Vec<u8> = (0..40_000u32)
            .flat_map(|i| format!("{{\"id\":{i},\"name\":\"user{}\"}}", i % 97).into_bytes())
            .take(40_000)
            .collect();
        for (bits, level) in [(9, 1), (12, 4), (15, 9)] {
            let config = DeflateConfig::default()
                .threshold(0)
                .max_window_bits(bits)
                .memory_level(level);
            let params = DeflateParams {
                server_max_window_bits: bits,
                ..DEFAULT
            };
            let (_, mut deflater) = params.halves(Role::Server, &config);
            let (mut inflater, _) = params.halves(Role::Client, &config);
            for _ in 0..3 {
                let mut wire = BytesMut::new();
                deflater.compress(&text, true, &mut wire);
                assert!(
                    wire.len() < text.len() / 4,
                    "{bits} {level}: {}",
                    wire.len()
                );
                assert_eq!(inflate_all(&mut inflater, &[&wire], 1 << 20).unwrap(), text);
            }
        }
    }

    #[test]
    fn compressing_strips_the_tail_and_keeps_or_resets_the_context() {
        for reset in [false, true] {
            let params = DeflateParams {
                server_no_context_takeover: reset,
                ..DEFAULT
            };
            let (_, mut deflater) = server_halves(params);
            let (mut inflater, _) = params.halves(Role::Client, &DeflateConfig::default());
            let text = b"Hello, Hello, Hello permessage-deflate".repeat(3);
            let mut sizes = Vec::new();
            for _ in 0..2 {
                let mut wire = BytesMut::new();
                deflater.compress(&text, true, &mut wire);
                assert!(!wire.ends_with(&SYNC_TAIL));
                sizes.push(wire.len());
                assert_eq!(inflate_all(&mut inflater, &[&wire], 1 << 20).unwrap(), text);
            }
            assert_eq!(sizes[1] < sizes[0], !reset, "context taken over: {sizes:?}");
            assert_eq!(deflater.state.is_none(), reset, "released between messages");
            assert_eq!(inflater.state.is_none(), reset, "released between messages");
        }
        // Empty: the single 0x00 of §7.2.3.6.
        let (_, mut deflater) = server_halves(DEFAULT);
        let mut wire = BytesMut::new();
        deflater.compress(b"", true, &mut wire);
        assert_eq!(&wire[..], [0x00]);
    }

    fn offers(header: &str) -> Vec<ExtensionOffer> {
        ExtensionOffer::parse_list([header.as_bytes()]).expect("grammar")
    }

    #[test]
    fn a_server_accepts_the_first_acceptable_offer_and_declines_the_rest() {
        let ours = DeflateConfig::default();
        let accepted = |header: &str| {
            ours.accept(&offers(header))
                .map(|(params, response)| (params, response.to_string()))
        };
        let params = |snct, cnct, sbits, cbits| DeflateParams {
            server_no_context_takeover: snct,
            client_no_context_takeover: cnct,
            server_max_window_bits: sbits,
            client_max_window_bits: cbits,
        };
        let table: &[(&str, Option<(DeflateParams, &str)>)] = &[
            ("permessage-deflate", Some((params(false, false, 15, 15), "permessage-deflate"))),
            (
                "permessage-deflate; client_max_window_bits",
                Some((params(false, false, 15, 15), "permessage-deflate")),
            ),
            (
                "permessage-deflate; client_max_window_bits=10; server_max_window_bits=12",
                Some((
                    params(false, false, 12, 10),
                    "permessage-deflate; server_max_window_bits=12; client_max_window_bits=10",
                )),
            ),
            (
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
                Some((
                    params(true, true, 15, 15),
                    "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
                )),
            ),
            (
                "permessage-deflate; server_max_window_bits=\"9\"",
                Some((params(false, false, 9, 15), "permessage-deflate; server_max_window_bits=9")),
            ),
            // The smallest window, 256 bytes, for our compressor.
            (
                "permessage-deflate; server_max_window_bits=8",
                Some((params(false, false, 8, 15), "permessage-deflate; server_max_window_bits=8")),
            ),
            // Declined: a value on a flag, a missing or invalid value, a
            // repeat, an unknown parameter.
            ("permessage-deflate; server_no_context_takeover=1", None),
            ("permessage-deflate; server_max_window_bits", None),
            ("permessage-deflate; client_max_window_bits=16", None),
            ("permessage-deflate; client_max_window_bits=7", None),
            ("permessage-deflate; client_max_window_bits=010", None),
            ("permessage-deflate; client_max_window_bits=1a", None),
            ("permessage-deflate; client_no_context_takeover; client_no_context_takeover", None),
            ("permessage-deflate; x=1", None),
            ("x-other", None),
            // The first acceptable one, after a declined one.
            (
                "permessage-deflate; server_max_window_bits=7, permessage-deflate; client_max_window_bits=8",
                Some((
                    params(false, false, 15, 8),
                    "permessage-deflate; client_max_window_bits=8",
                )),
            ),
        ];
        for (header, want) in table {
            let want = want.map(|(p, r)| (p, r.to_owned()));
            assert_eq!(accepted(header), want, "{header}");
        }
        // Our own preferences go into the response.
        let strict = DeflateConfig::default()
            .max_window_bits(10)
            .no_context_takeover(true)
            .peer_no_context_takeover(true);
        let (got, response) = strict.accept(&offers("permessage-deflate")).unwrap();
        assert_eq!(got, params(true, true, 10, 15));
        assert_eq!(
            response.to_string(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10"
        );
    }

    #[test]
    fn the_peer_window_is_limited_where_rfc_7692_lets_it_be() {
        let ours = DeflateConfig::default().peer_max_window_bits(10);
        // Server (§7.1.2.2): only a client that offered
        // client_max_window_bits can be limited.
        let table = [
            ("permessage-deflate", 15, "permessage-deflate"),
            (
                "permessage-deflate; client_max_window_bits",
                10,
                "permessage-deflate; client_max_window_bits=10",
            ),
            (
                "permessage-deflate; client_max_window_bits=12",
                10,
                "permessage-deflate; client_max_window_bits=10",
            ),
            (
                "permessage-deflate; client_max_window_bits=9",
                9,
                "permessage-deflate; client_max_window_bits=9",
            ),
        ];
        for (offer, bits, response) in table {
            let (params, got) = ours.accept(&offers(offer)).expect(offer);
            assert_eq!(params.client_max_window_bits, bits, "{offer}");
            assert_eq!(got.to_string(), response, "{offer}");
        }
        // Client (§7.1.2.1): the server must answer with the same or less.
        assert_eq!(
            ours.offer().to_string(),
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits"
        );
        let check = |header: &str| ours.check_response(&offers(header));
        for (response, bits) in [
            ("permessage-deflate; server_max_window_bits=10", Some(10)),
            ("permessage-deflate; server_max_window_bits=9", Some(9)),
            ("permessage-deflate; server_max_window_bits=11", None),
            ("permessage-deflate", None),
        ] {
            assert_eq!(
                check(response).map(|p| p.map(|p| p.server_max_window_bits)),
                bits.map(Some).ok_or(HandshakeError::BadExtensionResponse),
                "{response}"
            );
        }
    }

    #[test]
    fn a_client_checks_the_response_against_its_offer() {
        let ours = DeflateConfig::default().max_window_bits(12);
        assert_eq!(
            ours.offer().to_string(),
            "permessage-deflate; client_max_window_bits=12"
        );
        let check = |header: &str| ours.check_response(&offers(header));
        assert_eq!(check("x-other"), Ok(None));
        assert_eq!(
            check("permessage-deflate; server_no_context_takeover; server_max_window_bits=10"),
            Ok(Some(DeflateParams {
                server_no_context_takeover: true,
                client_no_context_takeover: false,
                server_max_window_bits: 10,
                client_max_window_bits: 12,
            }))
        );
        assert_eq!(
            check("permessage-deflate; client_max_window_bits=9"),
            Ok(Some(DeflateParams {
                server_no_context_takeover: false,
                client_no_context_takeover: false,
                server_max_window_bits: 15,
                client_max_window_bits: 9,
            }))
        );
        assert_eq!(
            check("permessage-deflate; client_max_window_bits=8"),
            Ok(Some(DeflateParams {
                server_no_context_takeover: false,
                client_no_context_takeover: false,
                server_max_window_bits: 15,
                client_max_window_bits: 8,
            }))
        );
        for bad in [
            "permessage-deflate; client_max_window_bits=13",
            "permessage-deflate; client_max_window_bits=7",
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; x",
            "permessage-deflate, permessage-deflate",
        ] {
            assert_eq!(
                check(bad),
                Err(HandshakeError::BadExtensionResponse),
                "{bad}"
            );
        }
        assert_eq!(
            DeflateConfig::default()
                .no_context_takeover(true)
                .peer_no_context_takeover(true)
                .offer()
                .to_string(),
            "permessage-deflate; client_no_context_takeover; server_no_context_takeover; client_max_window_bits"
        );
    }
}
