//! The client-to-server byte streams every implementation decodes: generated
//! once, masked with a fixed key, identical for all.

use wsframe::{Config, Connection, Message, Role};

use crate::{text_of_len, CORPORA};

/// One workload: a masked client stream and what decoding it must yield.
pub struct Workload {
    /// Short name, used as the benchmark id.
    pub name: &'static str,
    /// The bytes on the wire, client to server.
    pub stream: Vec<u8>,
    /// The messages it holds.
    pub messages: usize,
    /// Their total payload length.
    pub payload_bytes: usize,
    /// One message's payload, for the encode direction.
    pub sample: Message,
}

/// Cuts `text` into a message of `len` bytes on a code-point boundary.
fn text_message(seed: &str, len: usize) -> String {
    String::from_utf8(text_of_len(seed, len)).expect("cut on a boundary")
}

fn build(name: &'static str, message: Message, count: usize, fragment: Option<usize>) -> Workload {
    let mut client = Connection::with_mask_source(
        Role::Client,
        Config::default(),
        Box::new(|| [0x5A, 0xC3, 0x17, 0x8E]),
    );
    let mut stream = Vec::new();
    let len = message.as_bytes().len();
    for _ in 0..count {
        match fragment {
            None => client.send(message.clone()).expect("open"),
            Some(size) => {
                let bytes = message.as_bytes();
                let pieces: Vec<&[u8]> = bytes.chunks(size).collect();
                for (i, piece) in pieces.iter().enumerate() {
                    let part = match &message {
                        // Fragment boundaries of the benchmark text fall on
                        // code points: the corpus is cut to fit.
                        Message::Text(_) => {
                            Message::from(std::str::from_utf8(piece).expect("boundary"))
                        }
                        Message::Binary(_) => Message::from(*piece),
                    };
                    client
                        .send_fragment(part, i + 1 == pieces.len())
                        .expect("open");
                }
            }
        }
        stream.extend_from_slice(&client.take_output());
    }
    Workload {
        name,
        stream,
        messages: count,
        payload_bytes: count * len,
        sample: message,
    }
}

/// The five decode workloads.
pub fn all() -> Vec<Workload> {
    let mixed = CORPORA
        .iter()
        .find(|(k, _)| *k == "mixed")
        .expect("mixed")
        .1;
    // 1 MiB of mixed text whose 64 KiB cuts land on code points: sixteen
    // segments of exactly 64 KiB each.
    let mut segment = text_message(mixed, 64 << 10);
    while segment.len() < 64 << 10 {
        segment.push('.');
    }
    let mib = segment.repeat(16);
    vec![
        build(
            "100k_x_20B_text",
            Message::from("twenty bytes, ascii!"),
            100_000,
            None,
        ),
        build(
            "10k_x_1KiB_text",
            Message::from(text_message(mixed, 1024)),
            10_000,
            None,
        ),
        build(
            "1k_x_16KiB_text",
            Message::from(text_message(mixed, 16 << 10)),
            1_000,
            None,
        ),
        build(
            "16_x_1MiB_text_64KiB_frags",
            Message::from(mib),
            16,
            Some(64 << 10),
        ),
        build(
            "1k_x_64KiB_binary",
            Message::from(vec![0xA7u8; 64 << 10]),
            1_000,
            None,
        ),
    ]
}
