//! A cap on the connections a server holds open at once.

use std::{
    io::{Read, Write},
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
    let mut sink = [0u8; 4096];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    let _ = stream.write(REFUSAL);
    let _ = stream.shutdown(Shutdown::Write);
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
}
