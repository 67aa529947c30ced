//! The tokio layer's per-message choice of compression (RFC 7692 §6):
//! `send_compressed` on `WebSocket` and on the split writer, forced on a
//! message under the threshold and skipped on one over it; the frames read
//! by hand and the compressed payload by the reference inflater.
#![cfg(all(feature = "tokio", feature = "deflate"))]

mod common;

use tokio::io::{duplex, DuplexStream};
use wsframe::{tokio::WebSocket, Config, Connection, DeflateConfig, DeflateParams, Message, Role};

use common::{deflate::reference_inflate, tokio_peer::read_frame as frame, TEXT};

/// A server with permessage-deflate negotiated (threshold 1 KiB), and
/// the client's end of its pipe.
fn server() -> (WebSocket<DuplexStream>, DuplexStream) {
    let params = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };
    let config = Config::builder()
        .deflate(Some(DeflateConfig::default().threshold(1024)))
        .build();
    let (ours, theirs) = duplex(1 << 20);
    let conn = Connection::with_deflate(Role::Server, config, Some(params));
    (WebSocket::from_connection(ours, conn), theirs)
}

#[tokio::test]
async fn send_compressed_forces_or_skips_compression_per_message() {
    let small = "small ".repeat(10);
    let large = "large ".repeat(1000);
    let (ws, mut peer) = server();
    let (_reader, mut writer) = ws.split();
    let (mut ws, mut peer2) = server();
    for (compress, text) in [(true, &small), (false, &large)] {
        ws.send_compressed(Message::from(text.as_str()), compress)
            .await
            .unwrap();
        writer
            .send_compressed(Message::from(text.as_str()), compress)
            .await
            .unwrap();
        for io in [&mut peer2, &mut peer] {
            let (first, payload) = frame(io).await;
            if compress {
                assert_eq!(first, 0x80 | 0x40 | TEXT, "compressed: RSV1");
                assert_eq!(reference_inflate(&payload), Some(text.clone().into_bytes()));
            } else {
                assert_eq!(first, 0x80 | TEXT, "not compressed");
                assert_eq!(payload, text.as_bytes());
            }
        }
    }
    // And `send` follows the threshold: the large one compressed.
    ws.send(Message::from(large.as_str())).await.unwrap();
    let (first, payload) = frame(&mut peer2).await;
    assert_eq!(first, 0x80 | 0x40 | TEXT);
    assert_eq!(reference_inflate(&payload), Some(large.into_bytes()));
}
