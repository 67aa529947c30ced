//! Printing to stdout without panicking when the reader goes away.
//!
//! `println!` panics when stdout is a closed pipe (`explain 1007 | head -1`,
//! `echo_server --help | head`); the programs print through [`say!`], which
//! ends the program quietly instead, as command-line tools do.

use std::fmt;
use std::io::{self, Write};
use std::process;

/// Like `println!`, but a closed stdout ends the program with [`EXIT_OK`]
/// (its reader wanted no more) instead of a panic.
///
/// [`EXIT_OK`]: crate::EXIT_OK
#[macro_export]
macro_rules! say {
    () => {
        $crate::write_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::write_line(format_args!($($arg)*))
    };
}

/// Writes `line` and a newline to stdout: what [`say!`] calls.
///
/// A broken pipe exits with [`EXIT_OK`](crate::EXIT_OK); another write
/// error is reported on stderr and exits with
/// [`EXIT_FAILURE`](crate::EXIT_FAILURE).
pub fn write_line(line: fmt::Arguments<'_>) {
    if let Err(err) = writeln!(io::stdout().lock(), "{line}") {
        if err.kind() == io::ErrorKind::BrokenPipe {
            process::exit(i32::from(crate::EXIT_OK));
        }
        eprintln!("cannot write to stdout: {err}");
        process::exit(i32::from(crate::EXIT_FAILURE));
    }
}
