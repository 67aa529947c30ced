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
//! | `autobahn_client` | a client for the Autobahn fuzzing server |
//! | `explain` | what close codes mean, two side by side |

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
