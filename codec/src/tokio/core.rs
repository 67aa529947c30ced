//! The state both [`WebSocket`](super::WebSocket) and its split halves
//! drive: the stream, the sans-IO connection and the timer, advanced by
//! `poll_*` functions that keep every byte not yet written, and every event
//! not yet returned, inside the connection. That is what makes each async
//! method cancel-safe: a future dropped between two polls leaves nothing
//! half done outside the core.

use std::{
    future::{poll_fn, Future},
    io::{self, IoSlice},
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{ready, Context, Poll, Wake, Waker},
};

use ::tokio::{
    io::{AsyncRead, AsyncWrite},
    time::{sleep, sleep_until, Instant, Sleep},
};
use bytes::BufMut;
use tokio_util::io::poll_read_buf;

use super::Error;
use crate::{CloseCode, Closed, Connection, Event, Initiator, Message, Role, State};

/// How much room a read asks for when no larger frame is being read: a
/// connection's read buffer is this large until a frame needs more. With
/// many connections each buffer's front is cold when its next message
/// comes; 64 KiB buffers spread those fronts over four times the memory
/// (and the same cache sets, at a 64 KiB stride), and the echo load test's
/// 1000 x 64 B cost about 4 % more server CPU per message than with 16 KiB.
/// Larger frames get room for their rest (see `Connection::prepare_read`).
const READ_CHUNK: usize = 16 * 1024;

/// How many runs of output one vectored write takes at most: each large
/// message sent is two (its header, its payload), and the system takes up
/// to `IOV_MAX` (1024 on Linux).
const WRITE_SLICES: usize = 64;

/// Which half polls: each has its own slot for the waker of a blocked write.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Reader,
    Writer,
}

/// Wakes both halves when the stream can be written again: either may have
/// been the one to find it full, and a stream keeps only the last waker.
#[derive(Debug, Default)]
struct WriteWakers {
    reader: Mutex<Option<Waker>>,
    writer: Mutex<Option<Waker>>,
}

impl WriteWakers {
    fn register(&self, side: Side, waker: &Waker) {
        let slot = match side {
            Side::Reader => &self.reader,
            Side::Writer => &self.writer,
        };
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if !slot.as_ref().is_some_and(|old| old.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }
}

impl Wake for WriteWakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        for slot in [&self.reader, &self.writer] {
            if let Some(waker) = slot.lock().unwrap_or_else(PoisonError::into_inner).take() {
                waker.wake();
            }
        }
    }
}

/// The stream, the connection, the timer.
#[derive(Debug)]
pub(crate) struct Core<S> {
    pub(crate) io: S,
    pub(crate) conn: Connection,
    timer: Option<Pin<Box<Sleep>>>,
    write_wakers: Arc<WriteWakers>,
    /// `write_wakers` as the waker every write polls with, made once:
    /// building it per write cost an `Arc` count up and down each time.
    write_waker: Waker,
    /// Bytes were written since the last flush.
    unflushed: bool,
    /// The peer hung up (read returned 0), or a read failed.
    eof: bool,
    /// A hang-up that cut a frame or a message, or a failed read, was
    /// reported (once).
    cut_reported: bool,
    /// The write side was shut down after the close (server, §7.1.1).
    shut_down: bool,
    /// A close event held until the close frame is written.
    closing: Option<Event>,
    /// How long that write may stall, with the output left when it last
    /// started: [`Config::close_timeout`](crate::Config::close_timeout)
    /// from its first wait, restarted whenever the peer takes some of it;
    /// a peer that reads nothing must not hold the close forever.
    closing_write_deadline: Option<(Pin<Box<Sleep>>, usize)>,
    /// That deadline passed: the output left will never be written, and a
    /// write still waiting for it fails instead of waiting forever.
    output_abandoned: bool,
    /// The first error a write met (the peer gone: broken pipe, reset):
    /// every later write fails at once with it ([`failed_again`]), the
    /// stream untouched.
    write_failed: Option<Arc<io::Error>>,
    /// `next` reported that error (once: it reads on after it).
    write_failure_reported: bool,
    /// A read before a deadline's handling failed
    /// ([`read_waiting`](Self::read_waiting)): reported once the events
    /// in hand are out, as a read's error always is.
    read_failed: Option<io::Error>,
    /// The task last polling for events: it writes output the writer left.
    reader: Option<Waker>,
    /// A `Sink`'s `poll_ready` found room: its `start_send` takes the
    /// message even if an automatic pong filled the output in between.
    #[cfg(feature = "futures")]
    pub(crate) room_promised: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Core<S> {
    /// Wraps `conn` and starts its clocks.
    pub(crate) fn new(io: S, mut conn: Connection) -> Self {
        conn.handle_timeout(Instant::now().into_std());
        let write_wakers = Arc::<WriteWakers>::default();
        Self {
            io,
            conn,
            timer: None,
            write_waker: Waker::from(Arc::clone(&write_wakers)),
            write_wakers,
            unflushed: false,
            eof: false,
            cut_reported: false,
            shut_down: false,
            closing: None,
            closing_write_deadline: None,
            output_abandoned: false,
            write_failed: None,
            write_failure_reported: false,
            read_failed: None,
            reader: None,
            #[cfg(feature = "futures")]
            room_promised: false,
        }
    }

    /// Writes pending output until at most `keep` bytes are left, then
    /// (when all is written) flushes. Partial writes are consumed as they
    /// happen, so a dropped caller loses nothing.
    #[inline(always)]
    pub(crate) fn poll_write_output(
        &mut self,
        cx: &mut Context<'_>,
        side: Side,
        keep: usize,
    ) -> Poll<io::Result<()>> {
        let must_write = self.conn.output_len() > keep;
        let must_flush = self.unflushed && !self.conn.has_output();
        if !must_write && !must_flush {
            // Nothing touches the stream: the echo loop asks this several
            // times per message, so this check is inlined and cheap, and
            // the writing is out of line (inlined whole, the function was
            // not, and each call that wrote nothing paid its prologue).
            return Poll::Ready(Ok(()));
        }
        self.poll_write_pending(cx, side, keep)
    }

    /// [`poll_write_output`](Self::poll_write_output) with something to
    /// write or flush.
    #[inline(never)]
    fn poll_write_pending(
        &mut self,
        cx: &mut Context<'_>,
        side: Side,
        keep: usize,
    ) -> Poll<io::Result<()>> {
        if self.output_abandoned {
            return Poll::Ready(Err(abandoned_output()));
        }
        if let Some(first) = &self.write_failed {
            return Poll::Ready(Err(failed_again(first)));
        }
        // The caller's waker is registered only when the stream is not
        // ready, and the stream is then polled again: a wakeup between
        // the two finds the waker in place, and a write that goes through
        // at once (nearly all) takes no lock.
        // (One call site of `write_output`, inlined: the loop's second
        // round is the rare one.)
        let mut registered = false;
        let written = loop {
            match self.write_output(keep) {
                Poll::Pending if !registered => {
                    self.write_wakers.register(side, cx.waker());
                    registered = true;
                }
                written => break written,
            }
        };
        if let Poll::Ready(Err(err)) = written {
            // Kept whole for the later writes; this one reports it as they
            // do.
            let first = Arc::new(err);
            let reported = failed_again(&first);
            self.write_failed = Some(first);
            return Poll::Ready(Err(reported));
        }
        written
    }

    /// [`poll_write_output`](Self::poll_write_output)'s writes, polled
    /// with the waker that wakes whichever halves registered.
    #[inline(always)]
    fn write_output(&mut self, keep: usize) -> Poll<io::Result<()>> {
        let Self {
            io,
            conn,
            write_waker,
            unflushed,
            ..
        } = self;
        let mut cx = Context::from_waker(write_waker);
        while conn.output_len() > keep {
            let written = ready!(poll_write_some(io, conn, &mut cx))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            conn.consume_output(written);
            *unflushed = true;
        }
        if *unflushed && !conn.has_output() {
            ready!(Pin::new(io).poll_flush(&mut cx))?;
            *unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    /// Ready once the output is under
    /// [`Config::max_output_buffer`](crate::Config::max_output_buffer),
    /// writing to get there; at once when the connection is not open (the
    /// send is then refused, and must not wait for room that a peer reading
    /// nothing would never make).
    pub(crate) fn poll_room(&mut self, cx: &mut Context<'_>, side: Side) -> Poll<io::Result<()>> {
        if self.conn.state() != State::Open {
            return Poll::Ready(Ok(()));
        }
        let limit = self.conn.output_limit();
        self.poll_write_output(cx, side, limit.saturating_sub(1))
    }

    /// Asks the task polling for events to write what is queued.
    pub(crate) fn wake_reader(&self) {
        if let Some(reader) = &self.reader {
            reader.wake_by_ref();
        }
    }

    /// Whether the close frame's write has made no progress for
    /// [`Config::close_timeout`](crate::Config::close_timeout) (never,
    /// when it is `None`).
    fn closing_write_expired(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(limit) = self.conn.config().close_timeout() else {
            return false;
        };
        let left = self.conn.output_len();
        let (deadline, left_then) = self
            .closing_write_deadline
            .get_or_insert_with(|| (Box::pin(sleep(limit)), left));
        if *left_then != left {
            deadline.as_mut().reset(Instant::now() + limit);
            *left_then = left;
        }
        deadline.as_mut().poll(cx).is_ready()
    }

    /// Gives up the output a peer reading nothing left unwritten: writes
    /// still waiting for it fail (with [`abandoned_output`]'s error) instead
    /// of waiting forever.
    pub(crate) fn abandon_output(&mut self) {
        self.output_abandoned = true;
        self.write_waker.wake_by_ref();
    }

    /// Whether a close frame's write stalled past
    /// [`closing_write_expired`](Self::closing_write_expired): given up
    /// then, as the reader gives it up.
    #[cfg(feature = "futures")]
    pub(crate) fn close_write_given_up(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.closing_write_expired(cx) {
            return false;
        }
        self.abandon_output();
        true
    }

    /// Sleeps until the connection's next deadline, and handles what ran
    /// out (keepalive ping, idle or close timeout). A read's error, met on
    /// the way (see [`read_waiting`](Self::read_waiting)), is kept for
    /// `next` to report after the events in hand.
    fn poll_timer(&mut self, cx: &mut Context<'_>) {
        // Each round either arms the sleep or moves a deadline forward; a
        // few rounds cover a ping and a timeout due at once.
        for _ in 0..4 {
            let Some(deadline) = self.conn.poll_timeout() else {
                self.timer = None;
                return;
            };
            let deadline = Instant::from_std(deadline);
            match &mut self.timer {
                Some(timer) if timer.deadline() == deadline => {}
                Some(timer) => timer.as_mut().reset(deadline),
                None => self.timer = Some(Box::pin(sleep_until(deadline))),
            }
            let Some(timer) = &mut self.timer else {
                return;
            };
            if timer.as_mut().poll(cx).is_pending() {
                return;
            }
            self.read_waiting(cx);
            self.conn.handle_timeout(Instant::now().into_std());
            if self.conn.state() == State::Closed {
                // The idle timeout: its close frame goes now, so that the
                // peer learns of it while the caller still takes the
                // events in hand (a write error shows with the close).
                let _ = self.poll_write_output(cx, Side::Reader, 0);
            }
        }
    }

    /// Reads what the stream holds already, without waiting, before a
    /// deadline that has passed is handled: while the caller was busy
    /// elsewhere (not polling `next`), the peer's bytes may have arrived
    /// and waited unread, and they were received by now: the idle clock
    /// restarts at them, and a close among them is in time. One read: a
    /// peer that floods does not hold the clocks off (the close timeout
    /// then decides once the bytes in hand are read). A read's error ends
    /// the stream as in `poll_next`, and is kept to be reported after the
    /// events in hand (the idle timeout's close among them).
    fn read_waiting(&mut self, cx: &mut Context<'_>) {
        if self.eof || self.conn.state() == State::Closed {
            return;
        }
        let limit = self.conn.prepare_read(READ_CHUNK);
        let buf = &mut self.conn.read_buf().limit(limit);
        match poll_read_buf(Pin::new(&mut self.io), cx, buf) {
            Poll::Pending | Poll::Ready(Ok(1..)) => {}
            Poll::Ready(Ok(0)) => self.eof = true,
            Poll::Ready(Err(err)) => {
                self.eof = true;
                self.cut_reported = true;
                self.read_failed = Some(err);
            }
        }
    }

    /// The next event, reading as needed; `None` once the connection is
    /// closed (after its [`Event::Closed`]) or the peer hung up.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Event, Error>>> {
        if !self
            .reader
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            self.reader = Some(cx.waker().clone());
        }
        loop {
            if self.closing.is_some() {
                // The close frame (ours, or the reply) goes out before the
                // close is reported; a server then shuts its write side
                // (§7.1.1: the server closes TCP first).
                // A write error (the peer gone) is no reason to withhold
                // the close: it is reported all the same, and so is a write
                // that a peer reading nothing stalls for the close timeout.
                // The shutdown (which may write: TLS's close_notify) is
                // held to the same bound.
                let written = self.poll_write_output(cx, Side::Reader, 0).is_ready();
                let server = self.conn.role() == Role::Server;
                // Best effort: the peer may already be gone, and an error
                // ends the shutdown as well as success.
                let shut = !server
                    || self.shut_down
                    || (written && Pin::new(&mut self.io).poll_shutdown(cx).is_ready());
                if !written || !shut {
                    if !self.closing_write_expired(cx) {
                        return Poll::Pending;
                    }
                    if !written {
                        self.abandon_output();
                    }
                }
                // Given up or done: dropping the stream ends a stalled one.
                self.shut_down |= server;
                return Poll::Ready(self.closing.take().map(Ok));
            }
            self.poll_timer(cx);
            if let Some(event) = self.conn.next_event() {
                if matches!(event, Event::Closed(_)) {
                    self.closing = Some(event);
                    // A writer waiting for room is refused now, not when a
                    // peer that reads nothing makes room.
                    self.write_waker.wake_by_ref();
                    // A read that failed before a deadline's handling
                    // comes after the events in hand, as any read's error
                    // does, and before the close: the close is the last
                    // event, whichever it is (the idle timeout's, decided
                    // after the read failed, or one that was in hand).
                    if let Some(err) = self.read_failed.take() {
                        return Poll::Ready(Some(Err(err.into())));
                    }
                    continue;
                }
                // With no other event in hand, pongs and what was fed
                // start on their way now; what the stream does not take
                // stays queued for the next poll (a write error shows again
                // there). With more in hand, the next polls return it first
                // and write once, before they read: one write per batch. The
                // start of a frame that the read cut is no event: the caller
                // may work on this one for long before it polls again. A
                // compressed message's held input is no batch but up to a
                // thousand times its length of pieces: what is queued goes
                // now, not after them.
                if self.conn.buffered_len() == 0
                    || !self.conn.event_in_hand()
                    || self.conn.holds_streamed_input()
                {
                    let _ = self.poll_write_output(cx, Side::Reader, 0);
                }
                return Poll::Ready(Some(Ok(event)));
            }
            if let Some(err) = self.read_failed.take() {
                return Poll::Ready(Some(Err(err.into())));
            }
            if self.conn.state() == State::Closed || self.eof {
                // A hang-up inside a frame or a message cut it, or left our
                // close unanswered: said once, unless a failed write (the
                // peer gone) already said the connection ended.
                if self.eof
                    && !self.write_failure_reported
                    && !std::mem::replace(&mut self.cut_reported, true)
                {
                    if let Some(cut) = super::hang_up_cut(&self.conn) {
                        return Poll::Ready(Some(Err(cut)));
                    }
                }
                return Poll::Ready(None);
            }
            match self.poll_write_output(cx, Side::Reader, 0) {
                // Said once; then reading goes on (what the peer sent
                // before it went, its hang-up), the output left unwritten.
                Poll::Ready(Err(err)) if !self.write_failure_reported => {
                    self.write_failure_reported = true;
                    return Poll::Ready(Some(Err(err.into())));
                }
                // Our close frame waits behind a peer that reads nothing:
                // the write's stall clock runs from now, so the close
                // timeout's close finds it stalled as long and gives it up
                // at once (`close` ends at the close timeout, not twice it).
                Poll::Pending if self.conn.state() == State::CloseSent => {
                    let _ = self.closing_write_expired(cx);
                }
                _ => {}
            }
            // Room as the connection asks for it: the rest of a large
            // frame is read straight into the room it will be handed out
            // from, reserved once, and ends the read; a drained buffer
            // starts over at its front (see `Connection::prepare_read`).
            let limit = self.conn.prepare_read(READ_CHUNK);
            let buf = &mut self.conn.read_buf().limit(limit);
            match ready!(poll_read_buf(Pin::new(&mut self.io), cx, buf)) {
                Ok(0) => self.eof = true,
                // Restarts the idle clock at this read; with no clock
                // running (none configured for the state) there is nothing
                // to restart, and the clock is not read.
                Ok(_) if self.conn.poll_timeout().is_some() => {
                    self.conn.handle_timeout(Instant::now().into_std());
                }
                Ok(_) => {}
                // A failed read ends the stream as a hang-up does, said
                // once (as `Framed` does): a stream may fail every read
                // after it (TLS after a hang-up without close_notify), and
                // `next` must not return that error at every call.
                Err(err) => {
                    self.eof = true;
                    self.cut_reported = true;
                    return Poll::Ready(Some(Err(err.into())));
                }
            }
        }
    }
}

/// One write of `conn`'s output: its first run with a plain write when
/// that is all of it (small messages: no vector to fill, and `write`
/// spares the kernel `writev`'s vector copy) or the stream has no vectored
/// writes, else vectored (headers and a large payload held by reference go
/// out together, the payload not copied).
fn poll_write_some<S: AsyncWrite + Unpin>(
    io: &mut S,
    conn: &Connection,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    let io = Pin::new(io);
    let first = conn.pending_output();
    if first.len() == conn.output_len() || !io.is_write_vectored() {
        io.poll_write(cx, first)
    } else {
        let mut slices = [IoSlice::new(&[]); WRITE_SLICES];
        let n = conn.pending_output_vectored(&mut slices);
        io.poll_write_vectored(cx, &slices[..n])
    }
}

/// Access to a [`Core`], owned or shared by the halves; the async methods
/// are written once over it, and a shared core is locked only inside a
/// poll, never across an `.await`.
pub(crate) trait WithCore<S> {
    fn with<R>(&mut self, f: impl FnOnce(&mut Core<S>) -> R) -> R;
}

impl<S> WithCore<S> for Core<S> {
    #[inline(always)]
    fn with<R>(&mut self, f: impl FnOnce(&mut Core<S>) -> R) -> R {
        f(self)
    }
}

impl<S> WithCore<S> for Arc<Mutex<Core<S>>> {
    fn with<R>(&mut self, f: impl FnOnce(&mut Core<S>) -> R) -> R {
        f(&mut self.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Awaits room, queues with `queue`, and writes the output out.
///
/// A plain function returning the poll function's future, not an `async
/// fn` around it: the send is then one future, not one inside another.
pub(crate) fn queue_and_flush<'a, S, C, Q>(
    core: &'a mut C,
    side: Side,
    queue: Q,
) -> impl Future<Output = Result<(), Error>> + use<'a, S, C, Q>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: WithCore<S>,
    Q: FnOnce(&mut Connection) -> Result<(), crate::SendError>,
{
    // `queue_when_room`, then `flush`, in one poll function: one future
    // and one lock a poll, not two of each (the echo's send is most of
    // its polls); nothing differs in what is written or when.
    let mut queue = Some(queue);
    poll_fn(move |cx| {
        core.with(|core| {
            if queue.is_some() {
                ready!(core.poll_room(cx, side))?;
                let queue = queue.take().expect("taken once, when queued");
                queue(&mut core.conn)?;
            }
            core.poll_write_output(cx, side, 0).map_err(Error::from)
        })
    })
}

/// Queues with `queue` once there is room (below
/// [`Config::max_output_buffer`](crate::Config::max_output_buffer)),
/// writing nothing more than making that room takes.
pub(crate) async fn queue_when_room<S, C>(
    core: &mut C,
    side: Side,
    queue: impl FnOnce(&mut Connection) -> Result<(), crate::SendError>,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: WithCore<S>,
{
    // Room found and used under one lock: a split reader could otherwise
    // queue an automatic pong in between, and the send be refused.
    let mut queue = Some(queue);
    poll_fn(|cx| {
        core.with(|core| {
            ready!(core.poll_room(cx, side))?;
            let queue = queue.take().expect("not polled after it completed");
            Poll::Ready(queue(&mut core.conn).map_err(Error::from))
        })
    })
    .await
}

/// Writes all queued output and flushes the stream.
pub(crate) async fn flush<S, C>(core: &mut C, side: Side) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: WithCore<S>,
{
    poll_fn(|cx| core.with(|core| core.poll_write_output(cx, side, 0))).await?;
    Ok(())
}

/// Sends a whole message.
pub(crate) fn send<'a, S, C>(
    core: &'a mut C,
    side: Side,
    message: Message,
) -> impl Future<Output = Result<(), Error>> + use<'a, S, C>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: WithCore<S>,
{
    queue_and_flush(core, side, move |conn| conn.send(message))
}

/// Queues our close frame (unless one was sent: a cancelled close resumes).
pub(crate) fn queue_close<S, C>(core: &mut C, code: CloseCode, reason: &str) -> Result<(), Error>
where
    C: WithCore<S>,
{
    core.with(|core| match core.conn.state() {
        State::Open => core.conn.close(code, reason),
        State::CloseSent => Ok(()),
        // Closed, its event not yet returned: a close dropped after the
        // answer (or the timeout) came resumes to return it.
        State::Closed if core.closing.is_some() => Ok(()),
        State::Closed => Err(crate::SendError::Closed),
    })?;
    Ok(())
}

/// Queues our close frame (see [`queue_close`]) and writes it out.
pub(crate) async fn start_close<S, C>(
    core: &mut C,
    side: Side,
    code: CloseCode,
    reason: &str,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: WithCore<S>,
{
    queue_close(core, code, reason)?;
    flush(core, side).await
}

/// Reads until the close handshake ends; the events in between (the
/// peer's pings, pongs; the core reads no data after our close) are
/// dropped.
pub(crate) async fn await_close<S, C>(core: &mut C) -> Result<Closed, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: WithCore<S>,
{
    loop {
        match poll_fn(|cx| core.with(|core| core.poll_next(cx))).await {
            Some(Ok(Event::Closed(closed))) => {
                return match *closed {
                    // Only the close timeout closes with 1006 on our side.
                    Closed {
                        code: CloseCode::ABNORMAL,
                        initiator: Initiator::Local,
                        ..
                    } => Err(Error::Timeout),
                    closed => Ok(closed),
                };
            }
            Some(Ok(_)) => {}
            Some(Err(err)) => return Err(err),
            None => return Err(Error::Io(io::ErrorKind::UnexpectedEof.into())),
        }
    }
}

/// The error reporting the stream's first failed write, `first`, to each
/// write (the failing one included): `io::Error` is no `Clone`, so an OS
/// error (broken pipe, reset), which its code describes whole, is made
/// anew from that code; any other error is reported with its kind, and
/// holds `first` itself (an `Arc<io::Error>`, which
/// [`get_ref`](io::Error::get_ref) gives back): its text, and its source
/// as the source, so a chain printer shows the message once.
fn failed_again(first: &Arc<io::Error>) -> io::Error {
    match first.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(first.kind(), Arc::clone(first)),
    }
}

/// The error of a write whose output was given up: the peer read nothing
/// for the close timeout.
pub(crate) fn abandoned_output() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "the connection closed with output unwritten: the peer read nothing \
         for the close timeout (Config::close_timeout)",
    )
}
