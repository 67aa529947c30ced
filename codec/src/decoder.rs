//! The frame decoder: headers out of a caller's buffer, payload bytes
//! unmasked in place as they arrive, limits checked before anything is read.

use std::ops::Range;

use bytes::{Buf, BytesMut};

use crate::{
    config::Role,
    error::ProtocolError,
    frame::{FrameHeader, Status},
    mask::apply_mask,
};

/// What [`FrameDecoder::decode`] found in the buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A whole frame whose payload had already arrived: the header and the
    /// payload (unmasked) are both taken off the buffer. The common case, in
    /// one step.
    Frame(FrameHeader, BytesMut),
    /// A new frame began whose payload has not all arrived; its header has
    /// been consumed from the buffer.
    Header(FrameHeader),
    /// More of the current frame's payload has arrived and is unmasked in
    /// place. The front of the buffer holds the frame's untaken payload;
    /// `new` is the range of it that was unmasked by this call.
    Payload {
        /// The newly unmasked bytes, as a range of the buffer.
        new: Range<usize>,
        /// Whether the whole rest of the payload is now in the buffer.
        complete: bool,
    },
}

/// Splits a byte stream into frames without ever buffering more than the
/// caller gave it.
///
/// The payload stays in the caller's buffer: the decoder unmasks each byte
/// once, as it arrives, and the caller takes payload bytes off the front with
/// [`take`](Self::take) when it wants them (all at once for a zero-copy
/// frame, or piece by piece for streaming).
#[derive(Clone, Debug)]
pub struct FrameDecoder {
    role: Role,
    max_frame_size: u64,
    /// Whether payloads still need unmasking (not when the connection's
    /// first pass has done it on the way in).
    unmask: bool,
    frame: Option<FrameProgress>,
}

#[derive(Copy, Clone, Debug)]
struct FrameProgress {
    header: FrameHeader,
    /// Payload bytes already taken out of the buffer.
    taken: u64,
    /// Payload bytes at the front of the buffer that are unmasked, not taken.
    unmasked: usize,
}

impl FrameDecoder {
    /// A decoder for `role` that refuses frames over `max_frame_size` bytes.
    pub const fn new(role: Role, max_frame_size: u64) -> Self {
        Self {
            role,
            max_frame_size,
            unmask: true,
            frame: None,
        }
    }

    /// A decoder for bytes whose payloads were unmasked already: it checks
    /// that frames are masked as the role requires, and leaves the bytes be.
    pub(crate) const fn for_unmasked_payloads(role: Role, max_frame_size: u64) -> Self {
        Self {
            role,
            max_frame_size,
            unmask: false,
            frame: None,
        }
    }

    /// The header of the frame whose payload is being read, if any.
    pub fn current(&self) -> Option<&FrameHeader> {
        self.frame.as_ref().map(|f| &f.header)
    }

    /// Payload bytes at the front of `buf` that are unmasked and not taken.
    pub fn unmasked(&self) -> usize {
        self.frame.map_or(0, |f| f.unmasked)
    }

    /// Advances through `buf`: parses the next header, or unmasks the payload
    /// bytes that arrived since the last call. `Ok(None)` means "read more".
    ///
    /// # Errors
    ///
    /// Header rules ([`FrameHeader::parse`]), the role's masking rule (§5.1)
    /// and the frame size limit (1009), all before any payload is read.
    #[inline]
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, ProtocolError> {
        let Some(frame) = &mut self.frame else {
            let (header, len) = match FrameHeader::parse(buf)? {
                Status::Complete(parsed) => parsed,
                Status::Partial => return Ok(None),
            };
            // §5.1: "The server MUST close the connection upon receiving a
            // frame that is not masked" / "A client MUST close a connection if
            // it detects a masked frame."
            match (self.role, header.mask.is_some()) {
                (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
                (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
                _ => {}
            }
            // §10.4: limits on frame size, checked before buffering.
            if header.payload_len > self.max_frame_size {
                return Err(ProtocolError::FrameTooBig {
                    declared: header.payload_len,
                    limit: self.max_frame_size,
                });
            }
            buf.advance(len);
            if header.payload_len <= buf.len() as u64 {
                let mut payload = buf.split_to(header.payload_len as usize);
                if let (Some(key), true) = (header.mask, self.unmask) {
                    apply_mask(&mut payload, key, 0);
                }
                return Ok(Some(Decoded::Frame(header, payload)));
            }
            self.frame = Some(FrameProgress {
                header,
                taken: 0,
                unmasked: 0,
            });
            return Ok(Some(Decoded::Header(header)));
        };
        let remaining = frame.header.payload_len - frame.taken;
        let arrived = remaining.min(buf.len() as u64) as usize;
        let complete = arrived as u64 == remaining;
        if arrived == frame.unmasked && !complete {
            return Ok(None);
        }
        let new = frame.unmasked..arrived;
        if let (Some(key), true) = (frame.header.mask, self.unmask) {
            let offset = frame.taken as usize + frame.unmasked;
            apply_mask(&mut buf[new.clone()], key, offset);
        }
        frame.unmasked = arrived;
        Ok(Some(Decoded::Payload { new, complete }))
    }

    /// Takes `n` unmasked payload bytes off the front of `buf`. When the last
    /// payload byte is taken, the frame is done and the next call to
    /// [`decode`](Self::decode) looks for a header.
    ///
    /// # Panics
    ///
    /// If `n` is more than [`unmasked`](Self::unmasked).
    pub fn take(&mut self, buf: &mut BytesMut, n: usize) -> BytesMut {
        let frame = self.frame.as_mut().expect("take without a frame");
        assert!(n <= frame.unmasked, "take beyond the unmasked payload");
        frame.unmasked -= n;
        frame.taken += n as u64;
        if frame.taken == frame.header.payload_len {
            self.frame = None;
        }
        buf.split_to(n)
    }
}
