//! Which end of the connection we are, and the limits we enforce.

/// Which end of the connection this is; it decides the masking rules (RFC 6455 §5.1).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Accepts connections: requires masked frames, sends unmasked ones.
    Server,
    /// Opens connections: rejects masked frames, masks every frame it sends.
    Client,
}

/// Limits and switches for a [`Connection`](crate::Connection).
///
/// Every limit is checked against the length a frame header *declares*,
/// before a byte of its payload is buffered, so a 14-byte header that declares
/// 2^40 bytes costs nothing and is answered with 1009.
///
/// ```
/// use wsframe::Config;
/// let config = Config::default()
///     .max_frame_size(1 << 20)
///     .max_message_size(4 << 20)
///     .auto_pong(false);
/// assert_eq!(config.frame_limit(), 1 << 20);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Config {
    max_frame_size: u64,
    max_message_size: u64,
    auto_pong: bool,
    streaming: bool,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::DeflateConfig>,
}

impl Config {
    /// 16 MiB: larger than any single frame that browsers and common libraries
    /// send by default (they fragment or send whole messages well below it),
    /// small enough that a few hundred connections cannot exhaust a server.
    pub const DEFAULT_MAX_FRAME_SIZE: u64 = 16 << 20;
    /// 64 MiB: four maximal frames; a message larger than that should be
    /// received in streaming mode, which never buffers a whole message.
    pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 64 << 20;

    /// The largest frame payload accepted (default 16 MiB); more is 1009.
    #[must_use]
    pub const fn max_frame_size(mut self, bytes: u64) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// The largest message accepted, all fragments together (default 64 MiB);
    /// more is 1009. In streaming mode nothing is buffered, so it can be lifted
    /// with `u64::MAX`.
    #[must_use]
    pub const fn max_message_size(mut self, bytes: u64) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Whether a ping is answered with a pong automatically (default: yes).
    #[must_use]
    pub const fn auto_pong(mut self, on: bool) -> Self {
        self.auto_pong = on;
        self
    }

    /// Streaming mode (default: off): data arrives as
    /// [`Event::Chunk`](crate::Event::Chunk) pieces as soon as their bytes do,
    /// instead of whole [`Event::Message`](crate::Event::Message)s.
    #[must_use]
    pub const fn streaming(mut self, on: bool) -> Self {
        self.streaming = on;
        self
    }

    /// permessage-deflate (RFC 7692) with these preferences (default:
    /// off, as it costs memory per connection): a server accepts a
    /// client's offer with them, a client offers it. What the handshake
    /// agrees on is given to [`Connection::with_deflate`](crate::Connection::with_deflate).
    #[cfg(feature = "deflate")]
    #[must_use]
    pub const fn deflate(mut self, deflate: Option<crate::DeflateConfig>) -> Self {
        self.deflate = deflate;
        self
    }

    /// The permessage-deflate preferences, if it is on.
    #[cfg(feature = "deflate")]
    pub const fn deflate_config(&self) -> Option<crate::DeflateConfig> {
        self.deflate
    }

    /// The configured frame payload limit.
    pub const fn frame_limit(&self) -> u64 {
        self.max_frame_size
    }

    /// The configured message size limit.
    pub const fn message_limit(&self) -> u64 {
        self.max_message_size
    }

    /// Whether pings are answered automatically.
    pub const fn answers_pings(&self) -> bool {
        self.auto_pong
    }

    /// Whether streaming mode is on.
    pub const fn is_streaming(&self) -> bool {
        self.streaming
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_frame_size: Self::DEFAULT_MAX_FRAME_SIZE,
            max_message_size: Self::DEFAULT_MAX_MESSAGE_SIZE,
            auto_pong: true,
            streaming: false,
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }
}
