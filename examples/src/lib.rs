//! What the example programs share: the servers' command line
//! ([`ServerOptions`], with the exit codes every program uses) and the cap on
//! open connections ([`ConnectionLimit`], [`refuse`]), and errors shown
//! as a person reads them ([`Report`]).
//!
//! The programs are this crate's binaries:
//!
//! | binary | what it is |
//! |---|---|
//! | `echo_server` | a blocking echo server on `std::net`, a thread per connection |
//! | `tokio_echo_server` | the same on tokio (feature `tokio`), a task per connection |
//! | `tokio_chat_server` | a chat on tokio: every message to every client, each connection split into a reader and a writer (feature `tokio`) |
//! | `tokio_keepalive_server` | an echo server with keepalive pings, idle and send timeouts and a graceful shutdown on Ctrl-C (feature `tokio`) |
//! | `tokio_client` | a client on tokio: sends its arguments as text messages, prints the echoes, closes (feature `tokio`) |
//! | `axum_server` | HTTP and WebSocket on one port with axum, checking `Origin` and choosing a subprotocol (feature `axum`) |
//! | `autobahn_client` | a client for the Autobahn fuzzing server |
//! | `explain` | what close codes mean, two side by side, and where a text message's bytes stop being UTF-8 (`--text`) |

mod limit;
mod options;
mod report;
mod stdout;

pub use limit::{refuse, ConnectionLimit, Permit};
pub use options::{
    Parsed, ServerOptions, UsageError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, SERVER_OPTIONS_HELP,
};
pub use report::{exit_code, Report};
pub use stdout::write_line;
