//! The message assembler: frames into messages. It keeps the open message
//! (its kind, its length so far, its buffer and its UTF-8 validator), applies
//! the message rules (fragment order, the message limit, the UTF-8 verdict)
//! and decides, at each frame's start, where the frame reader puts the
//! payload ([`Route`]).
//!
//! A whole message in one frame stays where it landed in the read buffer and
//! is handed out as a slice of it (zero-copy), unless it is large and being
//! copied in anyway: then, like every fragment, it is written straight into a
//! buffer of its message's own, in the same pass that unmasks it, so that a
//! fragmented message is never copied again to be joined and a large frame
//! arriving over many reads is never moved. In streaming mode each piece is
//! handed out as it arrives, text cut on a code point.

use std::collections::VecDeque;

use bytes::BytesMut;
use utf8stream::{Utf8Error, Utf8Validator};

use super::Inbound;
use crate::{
    config::Config,
    error::ProtocolError,
    ext::InboundSet,
    frame::{FrameHeader, OpCode},
    message::{Message, Text},
};

/// A whole message in one frame at least this long gets a buffer of its own
/// when the reader copies its bytes in, as fragments do: larger frames mostly
/// arrive across reads, and the read buffer would move what has arrived when
/// it makes room for the rest. Below it, sharing the read buffer is cheaper
/// than an allocation per message (`codec_decode/1k_x_16KiB_text` is 10 %
/// slower with 4 KiB here, `1k_x_64KiB_binary` 5-10 % faster with 32 KiB
/// than without).
const OWN_BUFFER_MIN: u64 = if cfg!(any(fuzzing, miri)) {
    // Under the fuzz targets' 4 KiB frame limit, so that they reach it, and
    // small enough for Miri to run the tests that cross it.
    1024
} else {
    32 * 1024
};

/// Where the frame reader puts a frame's payload.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// In the read buffer, handed over whole at the frame's end: a control
    /// frame's payload, or a whole message (`whole`) as a zero-copy slice.
    Kept {
        /// Validate it as UTF-8 as it lands.
        text: bool,
        /// The frame is a whole message.
        whole: bool,
    },
    /// In the read buffer, handed over as it arrives (streaming mode).
    Streamed {
        /// Validate it as UTF-8 as it lands.
        text: bool,
    },
    /// Straight into the message's own buffer.
    Own {
        /// Validate it as UTF-8 as it lands.
        text: bool,
    },
    /// Unmasked, then through the extension's inbound transform.
    Transform,
    /// Dropped: the message was found invalid.
    Discard,
}

/// The data message being received.
#[derive(Copy, Clone, Debug)]
struct Open {
    text: bool,
    /// Its length so far, with the frame being read, as declared.
    declared: u64,
    /// Its first frame set an extension's RSV bits.
    transformed: bool,
    /// A transformed message: the bytes its transform produced so far
    /// (what counts against the limit; in streaming mode pieces of them
    /// are already handed out).
    produced: u64,
    /// Found invalid: the rest of it is dropped.
    invalid: bool,
}

/// The frame being read, as the assembler needs to end it.
#[derive(Copy, Clone, Debug)]
enum Frame {
    Control(OpCode),
    Data { fin: bool, route: Route },
}

/// Joins frames into messages.
#[derive(Debug)]
pub(crate) struct MessageAssembler {
    max_message_size: u64,
    streaming: bool,
    extensions: InboundSet,
    frame: Frame,
    open: Option<Open>,
    /// The open message's own buffer (routes `Own` and `Transform`).
    buffer: BytesMut,
    utf8: Utf8Validator,
    /// Streaming mode: the bytes of a code point that the last piece cut,
    /// held back for the next one.
    held: BytesMut,
}

impl MessageAssembler {
    pub(super) fn new(config: &Config, extensions: InboundSet) -> Self {
        Self {
            max_message_size: config.message_limit(),
            streaming: config.is_streaming(),
            extensions,
            frame: Frame::Control(OpCode::Ping),
            open: None,
            buffer: BytesMut::new(),
            utf8: Utf8Validator::new(),
            held: BytesMut::new(),
        }
    }

    /// Bytes of messages held: the open message's so far.
    pub(super) fn buffered_len(&self) -> usize {
        self.buffer.len() + self.held.len()
    }

    /// Drops the open message.
    pub(super) fn clear(&mut self) {
        self.open = None;
        self.buffer = BytesMut::new();
        self.held = BytesMut::new();
    }

    /// A frame with `header` starts (its header rules already checked):
    /// applies the message rules and routes its payload. `in_place`: its
    /// bytes are being read where they lie in the read buffer.
    ///
    /// # Errors
    ///
    /// A continuation with no message open, a new message while one is open
    /// (§5.4, 1002), and the message limit (§10.4, 1009), checked against the
    /// declared length before any payload is kept.
    #[inline]
    pub(super) fn begin(
        &mut self,
        header: &FrameHeader,
        in_place: bool,
    ) -> Result<Route, ProtocolError> {
        let open = match header.opcode {
            OpCode::Text | OpCode::Binary => {
                // §5.4: "fragments of one message MUST NOT be interleaved".
                if self.open.is_some() {
                    return Err(ProtocolError::ExpectedContinuation);
                }
                self.utf8.reset();
                self.open.insert(Open {
                    text: header.opcode == OpCode::Text,
                    declared: 0,
                    // Only bits an extension defines get past the reader.
                    transformed: header.rsv != 0,
                    produced: 0,
                    invalid: false,
                })
            }
            // §5.4: a continuation belongs to an open fragmented message.
            OpCode::Continuation => self
                .open
                .as_mut()
                .ok_or(ProtocolError::UnexpectedContinuation)?,
            control => {
                self.frame = Frame::Control(control);
                return Ok(Route::Kept {
                    text: false,
                    whole: false,
                });
            }
        };
        // §10.4: the message limit, against the running total plus this
        // frame (for a transformed message, its output is what counts).
        let declared = open.declared.saturating_add(header.payload_len);
        if declared > self.max_message_size && !open.transformed {
            return Err(ProtocolError::MessageTooBig {
                declared,
                limit: self.max_message_size,
            });
        }
        open.declared = declared;
        let text = open.text;
        let whole = header.fin && header.opcode != OpCode::Continuation;
        let route = if open.invalid {
            Route::Discard
        } else if open.transformed {
            Route::Transform
        } else if self.streaming {
            Route::Streamed { text }
        } else if whole && (in_place || header.payload_len < OWN_BUFFER_MIN) {
            Route::Kept { text, whole }
        } else {
            Route::Own { text }
        };
        self.frame = Frame::Data {
            fin: header.fin,
            route,
        };
        Ok(route)
    }

    /// The validator the payload of a frame goes through, if it is `text`.
    #[inline]
    pub(super) fn validator(&mut self, text: bool) -> Option<&mut Utf8Validator> {
        text.then_some(&mut self.utf8)
    }

    /// The open message's own buffer, and its validator if it is `text`.
    #[inline]
    pub(super) fn own_buffer(&mut self, text: bool) -> (&mut BytesMut, Option<&mut Utf8Validator>) {
        (&mut self.buffer, text.then_some(&mut self.utf8))
    }

    /// The open message's text stopped being UTF-8: reported now (§8.1:
    /// fail as soon as it is known), and the rest of the message dropped.
    pub(super) fn invalid_text(&mut self, err: Utf8Error, ready: &mut VecDeque<Inbound>) {
        self.poison(
            ProtocolError::InvalidUtf8 {
                valid_up_to: err.valid_up_to(),
            },
            ready,
        );
    }

    fn poison(&mut self, err: ProtocolError, ready: &mut VecDeque<Inbound>) {
        ready.push_back(Inbound::Violation(err));
        if let Some(open) = &mut self.open {
            open.invalid = true;
        }
        if let Frame::Data { route, .. } = &mut self.frame {
            *route = Route::Discard;
        }
        self.buffer = BytesMut::new();
        self.held = BytesMut::new();
    }

    /// Unmasked payload of a transformed message: through the extension
    /// into the message's buffer, where text is validated as it comes out
    /// of this call (fail-fast per read). In streaming mode what came out
    /// is handed out at once as a piece, so only the transform's own state
    /// is kept.
    pub(super) fn transform(&mut self, payload: &[u8], ready: &mut VecDeque<Inbound>) {
        self.run_transform(Some(payload), ready);
        if let Some(open) = self.open.filter(|open| self.streaming && !open.invalid) {
            let bytes = std::mem::take(&mut self.buffer);
            self.hand_out_piece(bytes, open.text, false, ready);
        }
    }

    /// Hands `payload` (or, for `None`, the message's end) to the inbound
    /// transform with the message's remaining budget, counts what came
    /// out, and validates it.
    fn run_transform(&mut self, payload: Option<&[u8]>, ready: &mut VecDeque<Inbound>) {
        let Some(open) = &mut self.open else {
            return;
        };
        let produced = open.produced;
        let limit = self.max_message_size.saturating_sub(produced);
        let start = self.buffer.len();
        let transform = self.extensions.transform();
        let result = match payload {
            Some(payload) => transform.payload(payload, &mut self.buffer, limit),
            None => transform.end(&mut self.buffer, limit),
        }
        .map_err(|err| match err {
            // The transform counts from its call; the message, from its start.
            ProtocolError::MessageTooBig { declared, .. } => ProtocolError::MessageTooBig {
                declared: produced.saturating_add(declared),
                limit: self.max_message_size,
            },
            other => other,
        });
        open.produced += (self.buffer.len() - start) as u64;
        self.after_transform(start, result, ready);
    }

    /// Validates what a transform appended from `start` on, or reports its
    /// error.
    fn after_transform(
        &mut self,
        start: usize,
        result: Result<(), ProtocolError>,
        ready: &mut VecDeque<Inbound>,
    ) {
        let text = self.open.is_some_and(|open| open.text);
        let result =
            result.and_then(|()| match text {
                true => self.utf8.feed(&self.buffer[start..]).map_err(|err| {
                    ProtocolError::InvalidUtf8 {
                        valid_up_to: err.valid_up_to(),
                    }
                }),
                false => Ok(()),
            });
        if let Err(err) = result {
            self.poison(err, ready);
        }
    }

    /// Streaming mode: the payload of the frame being read that arrived,
    /// handed out as a piece.
    pub(super) fn piece(&mut self, payload: BytesMut, ready: &mut VecDeque<Inbound>) {
        if let Some(open) = self.open {
            if !open.invalid {
                self.hand_out_piece(payload, open.text, false, ready);
            }
        }
    }

    /// The frame being read ended; `kept` is its payload if its route kept
    /// it in the read buffer. Returns whether reading goes on (not after a
    /// close frame).
    #[inline]
    pub(super) fn end_frame(&mut self, kept: BytesMut, ready: &mut VecDeque<Inbound>) -> bool {
        let (fin, route) = match self.frame {
            Frame::Control(opcode) => {
                let payload = kept.freeze();
                ready.push_back(match opcode {
                    OpCode::Ping => Inbound::Ping(payload),
                    OpCode::Pong => Inbound::Pong(payload),
                    _ => Inbound::Close(payload),
                });
                return opcode != OpCode::Close;
            }
            Frame::Data { fin, route } => (fin, route),
        };
        if route == Route::Transform && fin {
            self.run_transform(None, ready);
        }
        let Some(open) = self.open else {
            unreachable!("a data frame without a message");
        };
        if fin {
            self.open = None;
        }
        if open.invalid || !fin && !matches!(route, Route::Streamed { .. }) {
            return true;
        }
        if open.text && fin {
            // A message may not end inside a code point.
            if let Err(err) = self.utf8.finish() {
                self.poison(
                    ProtocolError::InvalidUtf8 {
                        valid_up_to: err.valid_up_to(),
                    },
                    ready,
                );
                return true;
            }
        }
        match route {
            Route::Streamed { .. } => self.hand_out_piece(kept, open.text, fin, ready),
            Route::Kept { .. } => ready.push_back(Inbound::Message(message(open.text, kept))),
            _ => {
                let bytes = std::mem::take(&mut self.buffer);
                if self.streaming {
                    // A transformed message's last piece: what its end
                    // produced (its earlier output went out as it came).
                    self.hand_out_piece(bytes, open.text, true, ready);
                } else {
                    ready.push_back(Inbound::Message(message(open.text, bytes)));
                }
            }
        }
        true
    }

    /// Streaming mode: hands out `payload`, joining in front (for text)
    /// the bytes held from the last piece and holding back those of a code
    /// point its end cuts.
    fn hand_out_piece(
        &mut self,
        mut payload: BytesMut,
        text: bool,
        last: bool,
        ready: &mut VecDeque<Inbound>,
    ) {
        if text {
            if !self.held.is_empty() {
                let mut joined = std::mem::take(&mut self.held);
                joined.extend_from_slice(&payload);
                payload = joined;
            }
            // The validator accepted every byte so far; the last
            // `pending()` of them start a code point it has not seen end
            // (none after `finish`).
            let pending = self.utf8.pending();
            if pending > 0 {
                self.held = payload.split_off(payload.len() - pending);
            }
        }
        if last || !payload.is_empty() {
            ready.push_back(Inbound::Piece {
                data: message(text, payload),
                last,
            });
        }
    }
}

/// A message of validated bytes.
fn message(text: bool, bytes: BytesMut) -> Message {
    let bytes = bytes.freeze();
    if text {
        // SAFETY: `from_validated` requires `bytes` to be valid UTF-8.
        // Every byte of a text message went, in order, through the
        // message's `Utf8Validator` (or, for a small whole message, the
        // one-shot `utf8stream::check`), which accepted all of them: a
        // message or piece with a rejected byte is dropped before it gets
        // here. A message is complete only after `finish` confirmed it does
        // not end inside a code point; a streamed piece starts with the
        // bytes held back from the last one and holds back those of a code
        // point its end cuts, so it starts and ends on code-point
        // boundaries.
        Message::Text(unsafe { Text::from_validated(bytes) })
    } else {
        Message::Binary(bytes)
    }
}
