//! The echo servers' command line: an address, the timeouts and the cap on
//! connections; and the exit codes of every example program.

use std::{fmt, time::Duration};

/// Exit code of a program that did its job (or printed `--help`).
pub const EXIT_OK: u8 = 0;
/// Exit code of a program that could not do its job: a server that cannot
/// listen on its address, a client whose peer failed it.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of a program given a command line it does not understand.
pub const EXIT_USAGE: u8 = 2;

/// The options both echo servers take, for their `--help`.
pub const SERVER_OPTIONS_HELP: &str = "\
Arguments:
  [ADDR]                     where to listen [default: 127.0.0.1:9001]

Options:
  --handshake-timeout SECS   close a client whose upgrade request is not whole
                             SECS seconds after it connected [default: 10]
  --idle-timeout SECS        close a connection that sends nothing, or reads
                             nothing we write, for SECS seconds; an open
                             WebSocket is first sent a 1001 (Going Away) close
                             frame [default: 60]
  --max-connections N        refuse connections beyond N open ones with
                             `503 Service Unavailable` [default: 256]
  --max-message-size BYTES   close with 1009 (Message Too Big) a client
                             whose message, inflated, passes BYTES
                             [default: 67108864, 64 MiB]; a connection
                             holds at most about twice this (a message
                             and its echo), so N connections at most
                             about 2 x N x BYTES
  --no-deflate               do not accept permessage-deflate (RFC 7692),
                             which is on by default on every path but
                             /plain (never compressed)
  --deflate-level N          compress with zlib level N, 0 (stored) to 9
                             [default: 6]
  -h, --help                 print this help

SECS may have a fraction (0.5).

Exit codes:
  0  --help
  1  cannot listen on ADDR
  2  a command line it does not understand";

/// How an echo server runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// Where to listen, `host:port`.
    pub addr: String,
    /// Time from accepting a connection to having its whole upgrade request.
    pub handshake_timeout: Duration,
    /// Longest a connection may go without a byte read, or with a write
    /// stuck on a client that does not read.
    pub idle_timeout: Duration,
    /// Most connections open at once; more are refused with a 503.
    pub max_connections: usize,
    /// Accept permessage-deflate (`--no-deflate` turns it off).
    pub deflate: bool,
    /// The compression level, 0-9 (`--deflate-level`; zlib's default 6).
    pub deflate_level: u32,
    /// The largest message accepted, in bytes, inflated bytes when
    /// compressed (`--max-message-size`; the library's default, 64 MiB).
    pub max_message_size: u64,
}

impl ServerOptions {
    /// The connections' configuration: the defaults, with
    /// permessage-deflate on unless `--no-deflate`, at `--deflate-level`,
    /// and a frame limit equal to the message limit (`--max-message-size`),
    /// compressing every message whatever its size (threshold 0).
    ///
    /// The threshold of 0 is for the Autobahn cases as kosoku 0.1.0 runs
    /// them: it hands a message that came back uncompressed (text or
    /// binary) to the case code of groups 12 and 13 as a `str`, whose SHA-1
    /// then fails ("Strings must be encoded before hashing"), so every echo
    /// shorter than a threshold would fail its case. RFC 7692 lets a sender
    /// leave any message uncompressed, so this is kosoku's bug, not a rule;
    /// `DeflateConfig`'s own default (1 KiB) is what a server should use.
    pub fn config(&self) -> wsframe::Config {
        let deflate = wsframe::DeflateConfig::default()
            .threshold(0)
            .level(self.deflate_level);
        // Most peers send a whole message as one frame: a frame limit below
        // the message limit would refuse their messages between the two.
        wsframe::Config::builder()
            .deflate(self.deflate.then_some(deflate))
            .max_message_size(self.max_message_size)
            .max_frame_size(self.max_message_size)
            .build()
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:9001".to_owned(),
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 256,
            deflate: true,
            deflate_level: 6,
            max_message_size: wsframe::Config::DEFAULT_MAX_MESSAGE_SIZE,
        }
    }
}

/// What a command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Run with these options.
    Run(ServerOptions),
    /// Print the help and exit with [`EXIT_OK`].
    Help,
}

/// A command line the servers do not understand; its `Display` says what is
/// wrong. Exit with [`EXIT_USAGE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

impl ServerOptions {
    /// Parses the arguments after the program's name.
    ///
    /// # Errors
    ///
    /// [`UsageError`] for an unknown option, a missing or malformed value
    /// (timeouts are positive seconds, the cap a positive integer), or a
    /// second address.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Parsed, UsageError> {
        let mut options = Self::default();
        let mut addr = None;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value = || {
                args.next()
                    .ok_or_else(|| UsageError(format!("{arg} needs a value")))
            };
            match arg.as_str() {
                "-h" | "--help" => return Ok(Parsed::Help),
                "--handshake-timeout" => options.handshake_timeout = seconds(&arg, &value()?)?,
                "--idle-timeout" => options.idle_timeout = seconds(&arg, &value()?)?,
                "--no-deflate" => options.deflate = false,
                "--deflate-level" => {
                    let value = value()?;
                    options.deflate_level = match value.parse() {
                        Ok(level) if level <= 9 => level,
                        _ => {
                            return Err(UsageError(format!(
                                "--deflate-level takes a level from 0 to 9, not {value:?}"
                            )))
                        }
                    };
                }
                "--max-connections" => {
                    let value = value()?;
                    options.max_connections = match value.parse() {
                        Ok(n) if n > 0 => n,
                        _ => {
                            return Err(UsageError(format!(
                                "--max-connections takes a positive integer, not {value:?}"
                            )))
                        }
                    };
                }
                "--max-message-size" => {
                    let value = value()?;
                    options.max_message_size = match value.parse() {
                        Ok(n) if n > 0 => n,
                        _ => {
                            return Err(UsageError(format!(
                                "--max-message-size takes a positive number of bytes, not {value:?}"
                            )))
                        }
                    };
                }
                _ if arg.starts_with('-') => {
                    return Err(UsageError(format!("unknown option {arg:?}")))
                }
                _ if addr.is_some() => {
                    return Err(UsageError(format!(
                        "one address only; {arg:?} is a second one"
                    )))
                }
                _ => addr = Some(arg),
            }
        }
        if let Some(addr) = addr {
            options.addr = addr;
        }
        Ok(Parsed::Run(options))
    }
}

/// A positive number of seconds, fractions allowed.
fn seconds(option: &str, value: &str) -> Result<Duration, UsageError> {
    match value.parse::<f64>().map(Duration::try_from_secs_f64) {
        Ok(Ok(duration)) if !duration.is_zero() => Ok(duration),
        _ => Err(UsageError(format!(
            "{option} takes a positive number of seconds, not {value:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Parsed, UsageError> {
        ServerOptions::parse(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn no_arguments_give_the_defaults() {
        assert_eq!(parse(""), Ok(Parsed::Run(ServerOptions::default())));
    }

    #[test]
    fn every_option_is_read() {
        let expected = ServerOptions {
            addr: "0.0.0.0:80".to_owned(),
            handshake_timeout: Duration::from_millis(500),
            idle_timeout: Duration::from_secs(3),
            max_connections: 20,
            deflate: false,
            deflate_level: 1,
            max_message_size: 1000,
        };
        let line = "--handshake-timeout 0.5 0.0.0.0:80 --idle-timeout 3 --max-connections 20 \
                    --no-deflate --deflate-level 1 --max-message-size 1000";
        assert_eq!(parse(line), Ok(Parsed::Run(expected)));
    }

    #[test]
    fn help_wins_wherever_it_is() {
        assert_eq!(parse("127.0.0.1:1 --help"), Ok(Parsed::Help));
        assert_eq!(parse("-h --bogus"), Ok(Parsed::Help));
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        for (line, message) in [
            ("--bogus", "unknown option \"--bogus\""),
            ("--idle-timeout", "--idle-timeout needs a value"),
            (
                "--idle-timeout 0",
                "--idle-timeout takes a positive number of seconds, not \"0\"",
            ),
            (
                "--handshake-timeout -1",
                "--handshake-timeout takes a positive number of seconds, not \"-1\"",
            ),
            (
                "--handshake-timeout NaN",
                "--handshake-timeout takes a positive number of seconds, not \"NaN\"",
            ),
            (
                "--max-connections 0",
                "--max-connections takes a positive integer, not \"0\"",
            ),
            ("a:1 b:2", "one address only; \"b:2\" is a second one"),
            (
                "--max-message-size 0",
                "--max-message-size takes a positive number of bytes, not \"0\"",
            ),
            (
                "--max-message-size 1M",
                "--max-message-size takes a positive number of bytes, not \"1M\"",
            ),
            (
                "--deflate-level 10",
                "--deflate-level takes a level from 0 to 9, not \"10\"",
            ),
        ] {
            assert_eq!(parse(line).unwrap_err().to_string(), message, "{line}");
        }
    }
}
