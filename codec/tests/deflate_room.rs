//! The inflater's output room (RFC 7692 §7.2.2): it is sized from the
//! connection's last ratio and grown exactly within the message budget, so
//! these tests make the ratio swing (1:1, then 1:1000, and back) and land
//! inflated sizes on limit - 1, limit and limit + 1, whole, byte by byte and
//! at every cut through both input paths; every message delivered must keep
//! its bytes after later ones arrive, compared with the source data.
#![cfg(feature = "deflate")]

mod common;

use common::{deflate::*, *};
use flate2::{Compress, Compression, Decompress, FlushDecompress};
use wsframe::{Config, Connection, DeflateParams, Event, Message, ProtocolError, Role};

/// A client's compressor (flate2, not the codec), one per connection.
struct Deflate {
    stream: Compress,
    reset_each_message: bool,
}

impl Deflate {
    fn new(params: DeflateParams) -> Self {
        Self {
            stream: Compress::new(Compression::default(), false),
            reset_each_message: params.client_no_context_takeover,
        }
    }

    /// `data` compressed and sync-flushed, the `00 00 FF FF` tail removed
    /// (§7.2.1), or the `00` of an empty message.
    fn message(&mut self, data: &[u8]) -> Vec<u8> {
        if self.reset_each_message {
            self.stream.reset();
        }
        sync_message(&mut self.stream, data)
    }
}

/// A message the client sends: its data, and whether it is text.
struct Sent {
    data: Vec<u8>,
    text: bool,
}

impl Sent {
    fn message(&self) -> Message {
        if self.text {
            Message::from(String::from_utf8(self.data.clone()).unwrap())
        } else {
            Message::from(self.data.clone())
        }
    }
}

/// The wire bytes of `messages`, each compressed, masked, and (for every
/// third one) split into three frames.
fn wire(params: DeflateParams, messages: &[Sent]) -> Vec<u8> {
    let mut deflate = Deflate::new(params);
    let mut input = Vec::new();
    for (i, sent) in messages.iter().enumerate() {
        let payload = deflate.message(&sent.data);
        if params.client_no_context_takeover {
            // Each message inflates alone, so the reference inflater can
            // check it is the data (with takeover the window depends on
            // the earlier ones; the codec's output is compared with the
            // source instead).
            let mut tail = payload.clone();
            tail.extend_from_slice(&[0, 0, 0xFF, 0xFF]);
            let mut inflated = Vec::with_capacity(sent.data.len() + 1);
            Decompress::new(false)
                .decompress_vec(&tail, &mut inflated, FlushDecompress::Sync)
                .unwrap();
            assert_eq!(inflated, sent.data);
        }
        let opcode = if sent.text { TEXT } else { BINARY };
        push_compressed(&mut input, opcode, &payload, i % 3 == 2);
    }
    input
}

/// The server's events for `input`, fed whole, byte by byte and (when
/// `every_cut`) cut at every point, each through `receive` and `read_buf`
/// (`drive_connection` compares the two paths); all must agree.
fn events(config: Config, params: DeflateParams, input: &[u8], every_cut: bool) -> Vec<Event> {
    let make = move || Connection::with_deflate(Role::Server, config, Some(params));
    same_every_way("events", &make, input, every_cut, |(events, _)| events)
}

/// Messages whose ratios swing between 1:1 and about 1:1000, the
/// compressible ones inflating to `limit - 1`, `limit` and (last)
/// `limit + 1`.
fn swinging(limit: usize) -> Vec<Sent> {
    let zeros = |len| Sent {
        data: vec![b'a'; len],
        text: true,
    };
    let noisy = |len: usize, seed| Sent {
        data: incompressible(len.min(limit), seed),
        text: false,
    };
    vec![
        noisy(300, 1),
        zeros(limit),
        noisy(200, 2),
        zeros(limit - 1),
        zeros(1),
        zeros(limit),
        noisy(700, 3),
        zeros(0),
        zeros(limit),
        noisy(5, 4),
        zeros(limit + 1),
    ]
}

#[test]
fn swinging_ratios_land_exactly_on_the_limit_and_one_past_is_1009() {
    for params in [TAKEOVER, NO_TAKEOVER] {
        for limit in [1usize, 2, 63, 64, 65, 200, 4096, 70_000] {
            let messages = swinging(limit);
            let input = wire(params, &messages);
            let config = Config::builder().max_message_size(limit as u64).build();
            let got = events(config, params, &input, limit <= 4096);
            let (last, delivered) = got.split_last().unwrap();
            let want: Vec<Event> = messages[..messages.len() - 1]
                .iter()
                .map(|sent| Event::Message(sent.message()))
                .collect();
            assert_eq!(delivered, &want[..], "limit {limit}");
            match last {
                Event::Closed(closed) => assert_eq!(
                    closed.error,
                    Some(ProtocolError::MessageTooBig {
                        declared: limit as u64 + 1,
                        limit: limit as u64
                    }),
                    "limit {limit}"
                ),
                other => panic!("limit {limit}: {other:?}"),
            }
        }
    }
}

#[test]
fn messages_held_by_the_caller_keep_their_bytes_as_later_ones_inflate() {
    let limit = 1 << 20;
    let messages: Vec<Sent> = (0..60usize)
        .map(|i| {
            if i.is_multiple_of(2) {
                Sent {
                    data: incompressible(50 + i * 37, i as u64 + 9),
                    text: false,
                }
            } else {
                Sent {
                    data: vec![b'0' + (i % 10) as u8; i * 2000],
                    text: true,
                }
            }
        })
        .collect();
    let input = wire(TAKEOVER, &messages);
    let config = Config::builder().max_message_size(limit).build();
    let mut conn = Connection::with_deflate(Role::Server, config, Some(TAKEOVER));
    let mut held = Vec::new();
    // Reads of odd sizes, so that messages end mid-read and reads start
    // mid-message; every message stays held while the next ones arrive.
    for piece in input.chunks(1009) {
        conn.receive(piece);
        while let Some(event) = conn.next_event() {
            held.push(event);
        }
    }
    assert_eq!(held.len(), messages.len());
    for (event, sent) in held.iter().zip(&messages) {
        assert_eq!(event, &Event::Message(sent.message()));
    }
}

#[test]
fn corrupt_data_after_good_data_in_the_same_read_is_1007_after_the_good_message() {
    for params in [TAKEOVER, NO_TAKEOVER] {
        let good = Sent {
            data: b"a".repeat(3000),
            text: true,
        };
        let mut input = wire(params, std::slice::from_ref(&good));
        // A reserved block type (BTYPE 11, RFC 1951 §3.2.3), then a good
        // continuation that must not be reached.
        input.extend(client(FIN | RSV1 | BINARY, &[0xFF, 0xFF, 0x00, 0x01]));
        input.extend(wire(
            NO_TAKEOVER,
            &[Sent {
                data: b"late".to_vec(),
                text: true,
            }],
        ));
        let config = Config::builder().max_message_size(4096).build();
        let got = events(config, params, &input, true);
        assert_eq!(got[0], Event::Message(good.message()));
        match &got[1..] {
            [Event::Closed(closed)] => {
                assert_eq!(closed.error, Some(ProtocolError::InflateFailed))
            }
            other => panic!("{other:?}"),
        }
    }
}

/// Streaming mode hands out each read's inflated bytes as they come, so
/// every read starts from empty room: the pieces of each message, joined,
/// are its data, whole and byte by byte, and one byte past the limit is
/// 1009 there too.
#[test]
fn streamed_pieces_join_to_each_message_under_swinging_ratios() {
    let limit = 5000;
    let messages = swinging(limit);
    let input = wire(TAKEOVER, &messages);
    let config = Config::builder()
        .max_message_size(limit as u64)
        .streaming(true)
        .build();
    let make = move || Connection::with_deflate(Role::Server, config, Some(TAKEOVER));
    let bytewise: Vec<usize> = (1..input.len()).collect();
    for cuts in [&[][..], &bytewise] {
        let (events, _) = drive_connection(&make, &input, cuts);
        let mut joined: Vec<Vec<u8>> = Vec::new();
        let mut open: Option<Vec<u8>> = None;
        let mut end = None;
        for event in events {
            match event {
                Event::Chunk { data, last } => {
                    open.get_or_insert_with(Vec::new)
                        .extend_from_slice(data.as_bytes());
                    if last {
                        joined.extend(open.take());
                    }
                }
                Event::Closed(closed) => end = closed.error,
                other => panic!("{other:?}"),
            }
        }
        let want: Vec<&[u8]> = messages[..messages.len() - 1]
            .iter()
            .map(|sent| &sent.data[..])
            .collect();
        assert_eq!(joined, want, "{} cuts", cuts.len());
        assert_eq!(
            end,
            Some(ProtocolError::MessageTooBig {
                declared: limit as u64 + 1,
                limit: limit as u64
            })
        );
    }
}
