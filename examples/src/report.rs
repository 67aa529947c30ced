//! Errors shown as a person reads them.

use std::{error::Error, fmt, process::ExitCode};

use crate::{EXIT_FAILURE, EXIT_OK};

/// Shows an error and its causes on one line, each once: `{}` of the
/// error, then `": "` and `{}` of each [`source`](Error::source) in turn
/// (as anyhow's `{:#}` does). Not `{:?}`: a derived `Debug`
/// (`Io(Os { code: 111, kind: ConnectionRefused, .. })`) is for
/// programmers.
///
/// ```
/// use wsframe_examples::Report;
///
/// let err = std::io::Error::other("the peer vanished");
/// assert_eq!(Report(&err).to_string(), "the peer vanished");
/// ```
pub struct Report<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(err) = cause {
            write!(f, ": {err}")?;
            cause = err.source();
        }
        Ok(())
    }
}

/// What a program's `main` returns for `result`: [`EXIT_OK`], or
/// [`EXIT_FAILURE`] after the error on stderr as `program: ` and its
/// [`Report`]. Instead of `main() -> Result`, which prints the error with
/// `{:?}`.
pub fn exit_code<E: Into<Box<dyn Error>>>(program: &str, result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(err) => {
            eprintln!("{program}: {}", Report(&*err.into()));
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
