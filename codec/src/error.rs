//! Errors: what the peer did wrong ([`ProtocolError`], each with the close
//! code that goes on the wire), and what the local caller did wrong
//! ([`SendError`]).

use std::fmt;

use crate::{close::CloseCode, diagnosis::InvalidUtf8};

/// A violation of RFC 6455 by the peer. The connection answers it with a close
/// frame carrying [`close_code`](Self::close_code) and stops reading.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProtocolError {
    /// RSV1–3 set where no negotiated extension allows them (§5.2), the
    /// bits as given (RSV1 = 4, RSV2 = 2, RSV3 = 1): any of them without an
    /// extension; with permessage-deflate, RSV2 or RSV3, or RSV1 on a
    /// continuation or control frame (RFC 7692 §6: the "Per-Message
    /// Compressed" bit is set on a message's first frame only).
    ReservedBits(u8),
    /// An opcode reserved for future use: 3–7 or 0xB–0xF (§5.2).
    ReservedOpcode(u8),
    /// A close, ping or pong frame without FIN (§5.5).
    FragmentedControlFrame,
    /// A control frame declaring more than 125 bytes of payload (§5.5).
    ControlFrameTooLong,
    /// A length encoded in more bytes than needed (§5.2).
    NonMinimalLength,
    /// A 64-bit length with its most significant bit set (§5.2).
    LengthTopBitSet,
    /// A server received a frame without a mask (§5.1).
    UnmaskedFrame,
    /// A client received a masked frame (§5.1).
    MaskedFrame,
    /// A continuation frame with no fragmented message open (§5.4).
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is open (§5.4).
    ExpectedContinuation,
    /// A text message stopped being valid UTF-8 (§8.1): where, the bytes,
    /// and what the sender most likely did.
    InvalidUtf8(InvalidUtf8),
    /// A close frame with a 1-byte payload (§5.5.1).
    CloseFrameTooShort,
    /// A close frame with a code that may not be sent (§7.4).
    InvalidCloseCode(u16),
    /// A close frame whose reason is not valid UTF-8 (§5.5.1): where in the
    /// reason, and the bytes.
    InvalidCloseReason(InvalidUtf8),
    /// A frame declaring more payload than [`Config::max_frame_size`](crate::Config::max_frame_size).
    FrameTooBig {
        /// The declared payload length.
        declared: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A compressed message's payload did not inflate (RFC 7692 §6.2): a bad
    /// block type, a stored block's length check, a distance too far back
    /// for the context, data after the final block, or data that ends
    /// inside a block (the appended `00 00 FF FF` must complete an empty
    /// stored block, §7.2.1). Closed with
    /// 1007, like invalid text: the message's data is wrong.
    InflateFailed,
    /// A message growing past [`Config::max_message_size`](crate::Config::max_message_size).
    MessageTooBig {
        /// The message's length with the frame just announced; for a
        /// compressed message, the bytes inflated when it passed the limit
        /// (inflating stops there). Either way the message has at least
        /// this many bytes, maybe more.
        declared: u64,
        /// The configured limit.
        limit: u64,
    },
}

impl ProtocolError {
    /// The close code RFC 6455 asks for (§7.4.1): 1007 for bad UTF-8 (in a
    /// text message or a close reason, §8.1) and for a compressed payload
    /// that does not inflate ([`InflateFailed`](Self::InflateFailed): the
    /// message's data is wrong), 1009 for a limit (§10.4), 1002 for
    /// everything else.
    pub const fn close_code(&self) -> CloseCode {
        match self {
            Self::InvalidUtf8(_) | Self::InvalidCloseReason(_) => CloseCode::INVALID_PAYLOAD,
            Self::FrameTooBig { .. } | Self::MessageTooBig { .. } => CloseCode::MESSAGE_TOO_BIG,
            Self::InflateFailed => CloseCode::INVALID_PAYLOAD,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl ProtocolError {
    /// The evidence of invalid UTF-8, for [`InvalidUtf8`](Self::InvalidUtf8)
    /// and [`InvalidCloseReason`](Self::InvalidCloseReason).
    pub const fn invalid_utf8(&self) -> Option<&InvalidUtf8> {
        match self {
            Self::InvalidUtf8(evidence) | Self::InvalidCloseReason(evidence) => Some(evidence),
            _ => None,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::ReservedBits(bits) => {
                // Not "without an extension": with permessage-deflate, RSV1
                // on a continuation or control frame lands here too.
                write!(
                    f,
                    "reserved bits {bits:#05b} set where no negotiated extension allows them"
                )
            }
            Self::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            Self::FragmentedControlFrame => f.write_str("control frame without FIN"),
            Self::ControlFrameTooLong => f.write_str("control frame payload over 125 bytes"),
            Self::NonMinimalLength => f.write_str("payload length not minimally encoded"),
            Self::LengthTopBitSet => f.write_str("64-bit payload length has its top bit set"),
            Self::UnmaskedFrame => f.write_str("client frame is not masked"),
            Self::MaskedFrame => f.write_str("server frame is masked"),
            Self::UnexpectedContinuation => {
                f.write_str("continuation frame with no fragmented message open")
            }
            Self::ExpectedContinuation => {
                f.write_str("new data frame while a fragmented message is open")
            }
            // The short form: it is the close frame's reason (≤ 123 bytes).
            Self::InvalidUtf8(ref evidence) => {
                write!(
                    f,
                    "invalid UTF-8 at byte {} of the message",
                    evidence.offset()
                )?;
                if evidence.frame() > 1 {
                    write!(f, " (frame {})", evidence.frame())?;
                }
                write!(f, ": {}", evidence.short())
            }
            Self::CloseFrameTooShort => f.write_str("close frame payload of 1 byte"),
            Self::InvalidCloseCode(code) => write!(f, "close code {code} may not be sent"),
            Self::InvalidCloseReason(ref evidence) => write!(
                f,
                "invalid UTF-8 at byte {} of the close reason: {}",
                evidence.offset(),
                evidence.short()
            ),
            Self::InflateFailed => f.write_str("compressed message payload did not inflate"),
            Self::FrameTooBig { declared, limit } => {
                write!(f, "frame of {declared} bytes exceeds the limit of {limit}")
            }
            Self::MessageTooBig { declared, limit } => {
                write!(
                    f,
                    "message of at least {declared} bytes exceeds the limit of {limit}"
                )
            }
        }
    }
}

impl std::error::Error for ProtocolError {}

/// A local caller's misuse of a [`Connection`](crate::Connection): nothing was
/// sent, and the connection is unchanged.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SendError {
    /// Anything sent once our close frame is queued (by
    /// [`Connection::close`](crate::Connection::close), as the reply to the
    /// peer's close, or on a failure or a timeout): a message, a fragment,
    /// a ping, a pong or a second close (§5.5.1: nothing after a close).
    Closed,
    /// A close code that may not be sent on the wire (§7.4.1), such as 1005.
    UnsendableCloseCode(u16),
    /// A control frame payload (or close reason plus code) over 125 bytes (§5.5).
    ControlPayloadTooLong(usize),
    /// A new message while a fragmented one is open, or a fragment of the
    /// other kind (text, binary) than the open message's (§5.4).
    FragmentOutOfOrder,
    /// The output already holds `pending` unsent bytes, at or over
    /// [`Config::max_output_buffer`](crate::Config::max_output_buffer)'s
    /// `limit`: write some out (the peer must read) and try again.
    OutputFull {
        /// Bytes waiting to be written.
        pending: usize,
        /// The configured bound.
        limit: usize,
    },
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Closed => f.write_str("the connection is closing or closed"),
            Self::UnsendableCloseCode(code) => write!(f, "close code {code} may not be sent"),
            Self::ControlPayloadTooLong(len) => write!(
                f,
                "control frame payload of {len} bytes exceeds 125 (RFC 6455 §5.5; \
                 a close reason takes at most 123 bytes, after its 2-byte code)"
            ),
            Self::FragmentOutOfOrder => f.write_str(
                "a fragmented message is open (RFC 6455 §5.4): finish it with \
                 send_fragment(.., fin = true), its fragments all of its kind (text or \
                 binary), before sending another message",
            ),
            Self::OutputFull { pending, limit } => write!(
                f,
                "{pending} bytes wait to be written, at or over the output limit of {limit}: \
                 the peer is not reading; write out pending output first"
            ),
        }
    }
}

impl std::error::Error for SendError {}
