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
/// Built with [`Config::builder`] (or [`Config::default`]); each setting is
/// read back with the getter of the same name, as `tokio_util`'s
/// `LengthDelimitedCodec` does.
///
/// ```
/// use wsframe::Config;
/// let config = Config::builder()
///     .max_frame_size(1 << 20)
///     .max_message_size(4 << 20)
///     .auto_pong(false)
///     .build();
/// assert_eq!(config.max_frame_size(), 1 << 20);
/// assert!(!config.auto_pong());
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Config {
    max_frame_size: u64,
    max_message_size: u64,
    auto_pong: bool,
    streaming: bool,
}

impl Config {
    /// 16 MiB: larger than any single frame that browsers and common libraries
    /// send by default (they fragment or send whole messages well below it),
    /// small enough that a few hundred connections cannot exhaust a server.
    pub const DEFAULT_MAX_FRAME_SIZE: u64 = 16 << 20;
    /// 64 MiB: four maximal frames; a message larger than that should be
    /// received in streaming mode, which never buffers a whole message.
    pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 64 << 20;

    /// A builder starting from the defaults.
    pub const fn builder() -> ConfigBuilder {
        ConfigBuilder {
            config: Self::DEFAULT,
        }
    }

    const DEFAULT: Self = Self {
        max_frame_size: Self::DEFAULT_MAX_FRAME_SIZE,
        max_message_size: Self::DEFAULT_MAX_MESSAGE_SIZE,
        auto_pong: true,
        streaming: false,
    };

    /// The largest frame payload accepted, in bytes.
    pub const fn max_frame_size(&self) -> u64 {
        self.max_frame_size
    }

    /// The largest message accepted, all fragments together, in bytes.
    pub const fn max_message_size(&self) -> u64 {
        self.max_message_size
    }

    /// Whether pings are answered with a pong automatically.
    pub const fn auto_pong(&self) -> bool {
        self.auto_pong
    }

    /// Whether streaming mode is on.
    pub const fn streaming(&self) -> bool {
        self.streaming
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Builds a [`Config`]; from [`Config::builder`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct ConfigBuilder {
    config: Config,
}

impl ConfigBuilder {
    /// The largest frame payload accepted, in bytes (default 16 MiB); more
    /// is 1009.
    pub const fn max_frame_size(mut self, bytes: u64) -> Self {
        self.config.max_frame_size = bytes;
        self
    }

    /// The largest message accepted, all fragments together, in bytes
    /// (default 64 MiB); more is 1009. In streaming mode nothing is
    /// buffered, so it can be lifted with `u64::MAX`.
    pub const fn max_message_size(mut self, bytes: u64) -> Self {
        self.config.max_message_size = bytes;
        self
    }

    /// Whether a ping is answered with a pong automatically (default: yes).
    pub const fn auto_pong(mut self, on: bool) -> Self {
        self.config.auto_pong = on;
        self
    }

    /// Streaming mode (default: off): data arrives as
    /// [`Event::Chunk`](crate::Event::Chunk) pieces as soon as their bytes do,
    /// instead of whole [`Event::Message`](crate::Event::Message)s.
    pub const fn streaming(mut self, on: bool) -> Self {
        self.config.streaming = on;
        self
    }

    /// The configuration.
    pub const fn build(self) -> Config {
        self.config
    }
}
