//! RFC 6455 §1.3's sample handshake: the nonce a client's key is made of,
//! that key, the accept value the RFC gives for it, and the 101 carrying it.

/// The nonce whose base64 is [`SAMPLE_KEY`].
pub const SAMPLE_NONCE: [u8; 16] = *b"the sample nonce";
pub const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// The accept value RFC 6455 §1.3 gives for [`SAMPLE_KEY`].
pub const SAMPLE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A 101 to a request with the sample key, with `extra` header lines (each
/// ending in CRLF) before the blank line.
pub fn switching(extra: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {SAMPLE_ACCEPT}\r\n{extra}\r\n"
    )
    .into_bytes()
}
