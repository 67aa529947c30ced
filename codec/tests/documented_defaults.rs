//! Every default and clamp the docs state, checked against the code: the
//! numbers in `ConfigBuilder`'s and `DeflateConfig`'s docs, the crate docs'
//! limits table and the `DEFAULT_*` constants, so that a change to one
//! without the other fails here.

use std::time::Duration;

use wsframe::Config;

#[test]
fn config_defaults_are_the_documented_values() {
    let config = Config::default();
    // The crate docs' limits table and each builder method's "(default ...)".
    assert_eq!(config.max_frame_size(), 16 * 1024 * 1024);
    assert_eq!(config.max_message_size(), 64 * 1024 * 1024);
    assert_eq!(config.max_output_buffer(), 4 * 1024 * 1024);
    assert_eq!(config.max_outgoing_frame_size(), 16 * 1024 * 1024);
    assert_eq!(config.close_timeout(), Some(Duration::from_secs(10)));
    assert_eq!(config.ping_interval(), None);
    assert_eq!(config.idle_timeout(), None);
    assert!(config.auto_pong());
    assert!(!config.streaming());
    #[cfg(feature = "deflate")]
    assert_eq!(config.deflate(), None);
    // The constants the docs link to say the same.
    assert_eq!(Config::DEFAULT_MAX_FRAME_SIZE, config.max_frame_size());
    assert_eq!(Config::DEFAULT_MAX_MESSAGE_SIZE, config.max_message_size());
    assert_eq!(
        Config::DEFAULT_MAX_OUTPUT_BUFFER,
        config.max_output_buffer()
    );
    assert_eq!(Some(Config::DEFAULT_CLOSE_TIMEOUT), config.close_timeout());
    // `builder()` starts from the same values.
    assert_eq!(Config::builder().build(), config);
}

#[test]
fn handshake_limits_are_the_crate_docs_values() {
    // The crate docs' limits table: 16 KiB of request head, 64 header lines.
    assert_eq!(wsframe::handshake::MAX_HANDSHAKE_LEN, 16 * 1024);
    assert_eq!(wsframe::handshake::MAX_HEADERS, 64);
}

#[test]
fn config_zero_values_are_taken_as_documented() {
    let config = Config::builder()
        .max_output_buffer(0)
        .max_outgoing_frame_size(0)
        .ping_interval(Some(Duration::ZERO))
        .build();
    // "0 is taken as 1", twice; "A zero interval is taken as `None`".
    assert_eq!(config.max_output_buffer(), 1);
    assert_eq!(config.max_outgoing_frame_size(), 1);
    assert_eq!(config.ping_interval(), None);
}

#[cfg(feature = "deflate")]
mod deflate {
    use wsframe::{Config, DeflateConfig};

    #[test]
    fn deflate_defaults_are_the_documented_values() {
        let default = DeflateConfig::default();
        // Windows 15 bits both ways, threshold 1 KiB, memory level 8.
        assert_eq!(default.window_bits(), 15);
        assert_eq!(default.peer_window_bits(), 15);
        assert_eq!(default.threshold_bytes(), 1024);
        assert_eq!(DeflateConfig::DEFAULT_THRESHOLD, 1024);
        assert_eq!(default.memory_level_value(), 8);
        // Level 6 and both context takeovers kept ("default: no"): no
        // getter, so compared with a config setting them as documented.
        let documented = DeflateConfig::default()
            .max_window_bits(15)
            .peer_max_window_bits(15)
            .threshold(1024)
            .memory_level(8)
            .level(6)
            .no_context_takeover(false)
            .peer_no_context_takeover(false);
        assert_eq!(default, documented);
        assert_ne!(default, DeflateConfig::default().level(5));
        assert_ne!(default, DeflateConfig::default().no_context_takeover(true));
        assert_ne!(
            default,
            DeflateConfig::default().peer_no_context_takeover(true)
        );
    }

    /// `DeflateParams` built by hand with windows outside 8..=15: clamped
    /// when the connection is made (no panic), and a compressed message
    /// still goes from client to server whole.
    #[test]
    fn deflate_params_out_of_range_are_clamped_by_the_connection() {
        use wsframe::{Connection, DeflateParams, Event, Message, Role};
        for bits in [0, 7, 16, 255] {
            let params = DeflateParams {
                server_no_context_takeover: false,
                client_no_context_takeover: false,
                server_max_window_bits: bits,
                client_max_window_bits: bits,
            };
            let config = Config::builder()
                .deflate(Some(DeflateConfig::default().threshold(0)))
                .build();
            let mut client = Connection::with_deflate_and_mask_source(
                Role::Client,
                config,
                Some(params),
                Box::new(|| [1, 2, 3, 4]),
            );
            let mut server = Connection::with_deflate(Role::Server, config, Some(params));
            let text = "abcabcabc ".repeat(200);
            client.send(Message::from(text.as_str())).unwrap();
            let wire = client.take_output();
            // RSV1: compressed.
            assert_eq!(wire[0] & 0x40, 0x40, "{bits}");
            server.receive(&wire);
            match server.next_event() {
                Some(Event::Message(message)) => {
                    assert_eq!(message.as_bytes(), text.as_bytes(), "{bits}")
                }
                other => panic!("{bits}: {other:?}"),
            }
        }
    }

    #[test]
    fn deflate_values_are_clamped_as_documented() {
        // Window bits 8..=15 (RFC 7692 §7.1.2), both ways.
        for (bits, clamped) in [
            (0, 8),
            (7, 8),
            (8, 8),
            (12, 12),
            (15, 15),
            (16, 15),
            (255, 15),
        ] {
            let config = DeflateConfig::default()
                .max_window_bits(bits)
                .peer_max_window_bits(bits);
            assert_eq!(config.window_bits(), clamped, "{bits}");
            assert_eq!(config.peer_window_bits(), clamped, "{bits}");
        }
        // Memory level 1..=9.
        for (level, clamped) in [(0, 1), (1, 1), (8, 8), (9, 9), (10, 9), (255, 9)] {
            let config = DeflateConfig::default().memory_level(level);
            assert_eq!(config.memory_level_value(), clamped, "{level}");
        }
        // Compression level 0..=9: over 9 is 9.
        assert_eq!(
            DeflateConfig::default().level(10),
            DeflateConfig::default().level(9)
        );
        assert_eq!(
            DeflateConfig::default().level(u32::MAX),
            DeflateConfig::default().level(9)
        );
        assert_ne!(
            DeflateConfig::default().level(0),
            DeflateConfig::default().level(9)
        );
    }
}
