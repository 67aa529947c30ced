//! A cap on the connections a server holds open at once.

use std::{
    io::{self, Read, Write},
    net::{Shutdown, TcpStream},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

/// The answer to a connection over the cap: HTTP, since the client is
/// waiting for the answer to its upgrade request, and short enough to go out
/// in one write without waiting for the client.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
    Retry-After: 5\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

/// Counts open connections against a maximum; each one holds a [`Permit`]
/// for as long as it is open. Clones share the count.
#[derive(Debug, Clone)]
pub struct ConnectionLimit {
    open: Arc<AtomicUsize>,
    max: usize,
}

/// One open connection's place under a [`ConnectionLimit`]; dropping it
/// frees the place.
#[derive(Debug)]
pub struct Permit {
    open: Arc<AtomicUsize>,
}

impl ConnectionLimit {
    /// A limit of `max` connections at once.
    pub fn new(max: usize) -> Self {
        Self {
            open: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// A place for one more connection, or `None` if `max` are open.
    pub fn try_acquire(&self) -> Option<Permit> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < self.max).then_some(open + 1)
            })
            .ok()
            .map(|_| Permit {
                open: Arc::clone(&self.open),
            })
    }

    /// The maximum.
    pub fn max(&self) -> usize {
        self.max
    }
}

/// Answers a connection over the cap with `503 Service Unavailable` and
/// closes it, without ever waiting for the client: a client that sends
/// nothing, or reads nothing, must not hold the caller (the accepting loop).
///
/// Best effort: the client may be gone, and learns nothing from an error of
/// ours. What it has sent already is read first, so that closing does not
/// reset the connection (and lose the answer) over unread bytes.
pub fn refuse(mut stream: TcpStream) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    drain_ready(&mut stream);
    let _ = stream.write(REFUSAL);
    let _ = stream.shutdown(Shutdown::Write);
}

/// At most this much is read and dropped before a refusal: more than any
/// upgrade request a browser or library sends, so that closing does not
/// reset a real client's connection, while a client that floods the socket
/// cannot hold the accepting loop in the drain.
const DRAIN_MAX: usize = 64 * 1024;

/// Reads and drops what `reader` has now, until it has no more (a
/// non-blocking socket's `WouldBlock`), ends or fails, or [`DRAIN_MAX`]
/// bytes were read. A read a signal interrupted (`Interrupted`, EINTR:
/// nothing was read) is tried again, not taken for the end: bytes left
/// unread make the close a reset.
fn drain_ready(reader: &mut impl Read) {
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < DRAIN_MAX {
        match reader.read(&mut sink) {
            Ok(0) => return,
            Ok(n) => drained += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_refused_at_the_cap_and_freed_on_drop() {
        let limit = ConnectionLimit::new(2);
        let first = limit.try_acquire().expect("first place");
        let second = limit.clone().try_acquire().expect("second place");
        assert!(limit.try_acquire().is_none(), "a third is over the cap");
        drop(first);
        let third = limit.try_acquire().expect("the first one's place");
        assert!(limit.try_acquire().is_none());
        drop((second, third));
        assert!(limit.try_acquire().is_some());
    }

    /// A non-blocking source interrupted before each of its reads, then
    /// out of bytes for now (`WouldBlock`).
    struct Interrupted {
        pending: Vec<u8>,
        interrupt_next: bool,
        reads_after_would_block: usize,
    }

    impl Read for Interrupted {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pending.is_empty() {
                self.reads_after_would_block += 1;
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.interrupt_next = !self.interrupt_next;
            if self.interrupt_next {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.pending.len()).min(1000);
            buf[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            Ok(n)
        }
    }

    #[test]
    fn the_drain_before_a_refusal_reads_on_after_an_interrupted_read() {
        let mut source = Interrupted {
            pending: vec![7; 5000],
            interrupt_next: false,
            reads_after_would_block: 0,
        };
        drain_ready(&mut source);
        assert!(
            source.pending.is_empty(),
            "{} bytes left unread",
            source.pending.len()
        );
        assert_eq!(source.reads_after_would_block, 1, "stops at WouldBlock");
    }

    /// A client that sends faster than the drain reads: always something
    /// to read (up to 16 MiB, so that a drain without a bound ends too,
    /// and fails the test rather than hanging it).
    struct Flood {
        read: usize,
    }

    impl Read for Flood {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.read >= 16 << 20 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.read += buf.len();
            Ok(buf.len())
        }
    }

    #[test]
    fn the_drain_before_a_refusal_stops_for_a_client_that_floods() {
        let mut flood = Flood { read: 0 };
        drain_ready(&mut flood);
        assert!(
            (DRAIN_MAX..DRAIN_MAX + 4096).contains(&flood.read),
            "read {} bytes",
            flood.read
        );
    }
}
