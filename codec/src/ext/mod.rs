//! The negotiated extension set (RFC 6455 §9): which RSV bits a frame may
//! carry, and the per-message transforms the receive and send sides hand
//! payloads through.
//!
//! Nothing else in the crate knows what an extension does. The frame reader
//! asks [`AllowedRsv::for_opcode`] which reserved bits a header may set; the
//! message assembler hands the payload of a message whose first frame set an
//! extension's bit to its [`Inbound`] transform, and validates and limits
//! what comes out; the sender hands each whole message to the [`Outbound`]
//! transform. With nothing negotiated (every connection, until
//! permessage-deflate plugs in here) no RSV bit is allowed, so the reader
//! refuses those frames before any transform could be asked for, and the
//! sender's one check is a `None`.

use std::fmt;

use bytes::BytesMut;

use crate::{error::ProtocolError, frame::OpCode};

#[cfg(feature = "deflate")]
pub(crate) mod deflate;
#[cfg(feature = "deflate")]
mod window;
#[cfg(feature = "deflate")]
mod zstream;

/// The receiving half of a per-message extension (RFC 7692 §6.2 is the
/// first: inflating a compressed message as its bytes arrive).
pub(crate) trait Inbound: fmt::Debug + Send {
    /// Transforms the next `payload` bytes (unmasked) of a message whose
    /// first frame set the extension's bit, appending the result to `out`.
    /// `limit` is how many more bytes `out` may grow by; producing more is
    /// [`ProtocolError::MessageTooBig`] with `declared` the bytes this call
    /// produced (or would have), at least `limit + 1`: the assembler adds
    /// the message's earlier output.
    fn payload(
        &mut self,
        payload: &[u8],
        out: &mut BytesMut,
        limit: u64,
    ) -> Result<(), ProtocolError>;

    /// As [`payload`](Self::payload), for a message streamed out in pieces:
    /// stops early once this call's output reached `piece_max` bytes while
    /// more may be pending, so that one read's input does not inflate into
    /// one unbounded piece. Returns how many bytes of `payload` it took and
    /// whether it stopped early; then it is called again with the rest
    /// (possibly none: the output still pending) before anything else.
    fn payload_piece(
        &mut self,
        payload: &[u8],
        out: &mut BytesMut,
        limit: u64,
        piece_max: usize,
    ) -> Result<(usize, bool), ProtocolError> {
        let _ = piece_max;
        self.payload(payload, out, limit)
            .map(|()| (payload.len(), false))
    }

    /// The message's last frame ended: appends what remains to `out`.
    fn end(&mut self, out: &mut BytesMut, limit: u64) -> Result<(), ProtocolError>;

    /// The room a message kept whole whose payload comes in several calls,
    /// the first of `first_len` bytes, is expected to need: reserved
    /// (within the budget) before the first call, so that the output is not
    /// moved when a smaller first room is outgrown. 0: no estimate.
    fn message_room(&self, first_len: usize) -> u64 {
        let _ = first_len;
        0
    }

    /// The payload of several frames of a text message kept whole, each
    /// ending where `ends` says, is to go through the transform: whether
    /// one [`payload`](Self::payload) call per frame costs less than one
    /// call for all of them after a [`checkpoint`](Self::checkpoint). Either
    /// way invalid text is told in the frame whose own call finds it: the
    /// assembler validates each call's output before the next, or the
    /// transform [`replay`](Self::replay)s the one call from its checkpoint
    /// on an error. `true` by default: a transform that keeps no checkpoint
    /// is called per frame.
    fn frame_by_frame(&self, ends: &[usize]) -> bool {
        let _ = ends;
        true
    }

    /// The next [`payload`](Self::payload) call is several frames' payload
    /// (when [`frame_by_frame`](Self::frame_by_frame) said no): keep where
    /// the transform stands now, so that [`replay`](Self::replay) can tell
    /// how much each frame gives.
    fn checkpoint(&mut self) {}

    /// The checkpoint is no longer needed.
    fn forget_checkpoint(&mut self) {}

    /// From the checkpoint, `payload` (the last call's input) again, frame
    /// by frame, each ending where `ends` says: how much output the frames
    /// up to each end give, as their own calls would have, up to `output`
    /// (what the call gave). `None`: not known (no checkpoint). Only on an
    /// error path; the transform's state after it is not used again for
    /// this message.
    fn replay(&mut self, payload: &[u8], ends: &[usize], output: u64) -> Option<Vec<u64>> {
        let _ = (payload, ends, output);
        None
    }

    /// A whole message's payload, its one frame arrived at once: as
    /// [`payload`](Self::payload) then [`end`](Self::end), which a transform
    /// may do in one step. Errors as [`payload`](Self::payload), `declared`
    /// counted from this call.
    fn message(
        &mut self,
        payload: &[u8],
        out: &mut BytesMut,
        limit: u64,
    ) -> Result<(), ProtocolError> {
        payload_then_end(self, payload, out, limit)
    }
}

/// [`Inbound::message`] in two steps: `payload`, then `end` with what is
/// left of `limit`.
pub(crate) fn payload_then_end<T: Inbound + ?Sized>(
    transform: &mut T,
    payload: &[u8],
    out: &mut BytesMut,
    limit: u64,
) -> Result<(), ProtocolError> {
    let start = out.len();
    transform.payload(payload, out, limit)?;
    // Within `limit`, or `payload` would have failed.
    let produced = (out.len() - start) as u64;
    transform
        .end(out, limit - produced)
        .map_err(|err| match err {
            ProtocolError::MessageTooBig { declared, .. } => ProtocolError::MessageTooBig {
                declared: produced.saturating_add(declared),
                limit,
            },
            other => other,
        })
}

/// The sending half of a per-message extension.
pub(crate) trait Outbound: fmt::Debug + Send {
    /// A data message starts, its first frame `len` bytes long; `choice` is
    /// the caller's (`Some(true)`: transform it, `Some(false)`: don't),
    /// `None` leaves it to the extension. Returns whether the message is
    /// transformed (then its first frame carries the extension's RSV bits).
    fn begin(&mut self, len: usize, choice: Option<bool>) -> bool;

    /// Transforms the next `payload` bytes of a message that
    /// [`begin`](Self::begin) chose to transform, appending them to `out`
    /// after what it holds; `fin`: they end it.
    fn payload(&mut self, payload: &[u8], fin: bool, out: &mut BytesMut);
}

/// The extensions in use on a connection, as the handshake negotiated them.
#[derive(Debug, Default)]
pub(crate) struct Extensions {
    /// The RSV bits (RSV1 = 0b100) the negotiated extensions define.
    rsv: u8,
    inbound: Option<InboundHalf>,
    outbound: Option<OutboundHalf>,
}

/// The receiving half of the negotiated extension, held in place rather
/// than boxed, so that an idle connection with an extension negotiated
/// holds no heap until the extension needs its state.
#[derive(Debug)]
enum InboundHalf {
    #[cfg(feature = "deflate")]
    Deflate(deflate::Inflater),
    /// Any other transform (the seam's own tests).
    #[cfg(test)]
    Boxed(Box<dyn Inbound>),
}

/// The sending half, held in place as [`InboundHalf`] is.
#[derive(Debug)]
enum OutboundHalf {
    #[cfg(feature = "deflate")]
    Deflate(deflate::Deflater),
    #[cfg(test)]
    Boxed(Box<dyn Outbound>),
}

impl InboundHalf {
    fn get(&mut self) -> &mut (dyn Inbound + 'static) {
        match *self {
            #[cfg(feature = "deflate")]
            Self::Deflate(ref mut inflater) => inflater,
            #[cfg(test)]
            Self::Boxed(ref mut boxed) => boxed.as_mut(),
        }
    }
}

impl OutboundHalf {
    fn get(&mut self) -> &mut (dyn Outbound + 'static) {
        match *self {
            #[cfg(feature = "deflate")]
            Self::Deflate(ref mut deflater) => deflater,
            #[cfg(test)]
            Self::Boxed(ref mut boxed) => boxed.as_mut(),
        }
    }
}

impl Extensions {
    /// No extension: every RSV bit is reserved (RFC 6455 §5.2).
    pub(crate) fn none() -> Self {
        Self::default()
    }

    /// permessage-deflate (RFC 7692) as negotiated, for an endpoint of
    /// `role`: RSV1 and its inflater and compressor.
    #[cfg(feature = "deflate")]
    pub(crate) fn deflate(
        params: deflate::DeflateParams,
        role: crate::Role,
        config: &deflate::DeflateConfig,
    ) -> Self {
        let (inflater, deflater) = params.halves(role, config);
        Self {
            rsv: 0b100,
            inbound: Some(InboundHalf::Deflate(inflater)),
            outbound: Some(OutboundHalf::Deflate(deflater)),
        }
    }

    /// A per-message extension that owns the RSV bits `rsv`, with its two
    /// halves.
    #[cfg(test)]
    pub(crate) fn per_message(
        rsv: u8,
        inbound: Box<dyn Inbound>,
        outbound: Box<dyn Outbound>,
    ) -> Self {
        Self {
            rsv,
            inbound: Some(InboundHalf::Boxed(inbound)),
            outbound: Some(OutboundHalf::Boxed(outbound)),
        }
    }

    /// Splits the set into what the frame reader, the message assembler and
    /// the sender keep.
    pub(crate) fn split(self) -> (AllowedRsv, InboundSet, OutboundSet) {
        (
            AllowedRsv(self.rsv),
            InboundSet {
                transform: self.inbound,
            },
            OutboundSet {
                rsv: self.rsv,
                transform: self.outbound,
                transforming: false,
            },
        )
    }
}

/// Which RSV bits a frame may set: the frame reader's one question to the
/// extension set.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AllowedRsv(u8);

impl AllowedRsv {
    /// The RSV bits (RSV1 = 0b100) a frame with `opcode` may set: a
    /// per-message extension's bits on the first frame of a data message
    /// (RFC 7692 §6: not on continuations, not on control frames), none
    /// elsewhere (RFC 6455 §5.2).
    #[inline]
    pub(crate) const fn for_opcode(self, opcode: OpCode) -> u8 {
        match opcode {
            OpCode::Text | OpCode::Binary => self.0,
            _ => 0,
        }
    }
}

/// The receive side's share of the extension set: the inbound transform.
#[derive(Debug, Default)]
pub(crate) struct InboundSet {
    transform: Option<InboundHalf>,
}

impl InboundSet {
    /// The inbound transform, for a message whose first frame set the
    /// extension's bits: only reached with an extension negotiated, since
    /// the frame reader refuses those bits otherwise.
    ///
    /// # Panics
    ///
    /// Without a negotiated extension (a bug in the reader's RSV rule).
    pub(crate) fn transform(&mut self) -> &mut (dyn Inbound + 'static) {
        self.transform
            .as_mut()
            .expect("RSV bits allowed without an extension")
            .get()
    }
}

/// The send side's share of the extension set.
#[derive(Debug, Default)]
pub(crate) struct OutboundSet {
    rsv: u8,
    transform: Option<OutboundHalf>,
    /// The message being sent is transformed.
    transforming: bool,
}

impl OutboundSet {
    /// A data message starts with a frame of `len` bytes; `choice` as
    /// [`Outbound::begin`]. Returns the RSV bits for its first frame if it
    /// is to be transformed ([`transform`](Self::transform) its frames'
    /// payloads), or `None` to send it as it is (also with no extension
    /// negotiated).
    #[inline]
    pub(crate) fn begin(&mut self, len: usize, choice: Option<bool>) -> Option<u8> {
        let transform = self.transform.as_mut()?.get();
        self.transforming = transform.begin(len, choice);
        self.transforming.then_some(self.rsv)
    }

    /// Whether the message being sent is transformed: its continuation
    /// frames' payloads go through [`transform`](Self::transform).
    pub(crate) const fn transforming(&self) -> bool {
        self.transforming
    }

    /// Appends the bytes to send instead of `payload`, the next frame's of
    /// a message [`begin`](Self::begin) chose to transform, to `out`;
    /// `fin`: the frame ends the message.
    #[inline]
    pub(crate) fn transform(&mut self, payload: &[u8], fin: bool, out: &mut BytesMut) {
        if let Some(transform) = self.transform.as_mut() {
            transform.get().payload(payload, fin, out);
        }
        self.transforming = !fin;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        frame::{FrameHeader, Status},
        Config, Connection, Event, Message, Role,
    };

    /// A toy per-message extension on RSV1: flips bit 5 of every byte
    /// (ASCII letters change case), both ways.
    #[derive(Debug)]
    struct FlipCase;

    impl Inbound for FlipCase {
        fn payload(
            &mut self,
            payload: &[u8],
            out: &mut BytesMut,
            limit: u64,
        ) -> Result<(), ProtocolError> {
            if payload.len() as u64 > limit {
                return Err(ProtocolError::MessageTooBig {
                    declared: payload.len() as u64,
                    limit,
                });
            }
            out.extend(payload.iter().map(|b| b ^ 0x20));
            Ok(())
        }

        fn end(&mut self, _out: &mut BytesMut, _limit: u64) -> Result<(), ProtocolError> {
            Ok(())
        }
    }

    impl Outbound for FlipCase {
        fn begin(&mut self, len: usize, choice: Option<bool>) -> bool {
            // A threshold of 3 bytes, unless asked.
            choice.unwrap_or(len >= 3)
        }

        fn payload(&mut self, payload: &[u8], _fin: bool, out: &mut BytesMut) {
            out.extend(payload.iter().map(|b| b ^ 0x20));
        }
    }

    fn with_flip_case(role: Role, config: Config) -> Connection {
        let extensions = Extensions::per_message(0b100, Box::new(FlipCase), Box::new(FlipCase));
        Connection::with_extensions(role, config, Box::new(|| [9, 8, 7, 6]), extensions)
    }

    #[test]
    fn a_negotiated_extension_transforms_both_ways_on_its_rsv_bit() {
        let mut client = with_flip_case(Role::Client, Config::default());
        let mut server = with_flip_case(Role::Server, Config::default());
        client.send(Message::from("Hello")).unwrap();
        let wire = client.take_output();
        assert_eq!(wire[0] & 0x70, 0x40, "RSV1 set");
        // A first fragment under the threshold passes as it is.
        client.send_fragment(Message::from("ab"), false).unwrap();
        client.send_fragment(Message::from("c"), true).unwrap();
        let Status::Complete((header, len)) = FrameHeader::parse(&wire) else {
            panic!("a frame")
        };
        let mut payload = wire[len..].to_vec();
        crate::apply_mask(&mut payload, header.mask.expect("client"), 0);
        assert_eq!(payload, b"hELLO", "transformed on the way out");
        for byte in [wire.to_vec(), client.take_output().to_vec()].concat() {
            server.receive(&[byte]);
        }
        assert_eq!(
            server.next_event(),
            Some(Event::Message(Message::from("Hello")))
        );
        assert_eq!(
            server.next_event(),
            Some(Event::Message(Message::from("abc")))
        );
        assert_eq!(server.next_event(), None);
    }

    /// The first frame a server fed `frames` (masked client frames, first
    /// byte and payload as sent) reports.
    fn first_event(config: Config, frames: &[(u8, &[u8])]) -> Option<Event> {
        let mut server = with_flip_case(Role::Server, config);
        let mut wire = BytesMut::new();
        for &(first, payload) in frames {
            let header = FrameHeader {
                fin: first & 0x80 != 0,
                rsv: (first >> 4) & 0x07,
                opcode: OpCode::from_bits(first),
                mask: Some([0; 4]),
                payload_len: payload.len() as u64,
            };
            header.encode(&mut wire);
            wire.extend_from_slice(payload);
        }
        server.receive(&wire);
        server.next_event()
    }

    fn error_of(event: Option<Event>) -> Option<ProtocolError> {
        match event {
            Some(Event::Closed(closed)) => closed.error,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_rsv_rule_follows_the_extension_and_its_output_is_validated_and_limited() {
        use ProtocolError::*;
        // Its bit on a continuation or a control frame, another bit anywhere.
        for frames in [
            &[(0x41, &b"a"[..]), (0xC0, b"b")][..],
            &[(0xC9, b"p")],
            &[(0xA1, b"a")],
        ] {
            let rsv = frames.last().unwrap().0 >> 4 & 7;
            assert_eq!(
                error_of(first_event(Config::default(), frames)),
                Some(ReservedBits(rsv))
            );
        }
        // Text is validated after the transform: 0xE0 comes out as 0xC0.
        assert_eq!(
            error_of(first_event(Config::default(), &[(0xC1, b"AB\xE0")])),
            Some(InvalidUtf8(crate::InvalidUtf8::of(b"ab\xC0").unwrap()))
        );
        // The message limit applies to what comes out.
        let small = Config::builder().max_message_size(4).build();
        assert_eq!(
            error_of(first_event(small, &[(0xC2, b"12345")])),
            Some(MessageTooBig {
                declared: 5,
                limit: 4
            })
        );
    }
}
