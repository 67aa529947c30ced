//! The connection's clocks, sans-IO (RFC 6455 §5.5.2 keepalive, §7.1.1 and
//! §7.1.2 closing): time comes in as the `now` of
//! [`Connection::handle_timeout`](crate::Connection::handle_timeout), never
//! from a clock read here, so timers are tested with explicit instants.
//!
//! An event that starts a clock (bytes received, our close frame queued)
//! is noted, and the clock starts at the next `now`; until then the
//! deadline is that last `now`, so a caller that sleeps until
//! [`Connection::poll_timeout`](crate::Connection::poll_timeout) comes back
//! at once to start it.
//!
//! The next deadline is computed when something it depends on changes (a
//! `now`, a clock started, the state) and kept: a caller asks for it
//! several times per message, and with no timer configured it is `None`
//! for the life of the connection.

use std::time::Instant;

use crate::{config::Config, connection::State};

/// What ran out at a `now`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expired {
    /// No deadline was reached.
    Nothing,
    /// Nothing was received for the ping interval: send a keepalive ping.
    Ping,
    /// Nothing was received for the idle timeout.
    Idle,
    /// Our close frame was not answered within the close timeout.
    Close,
}

/// The instants the deadlines count from.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    /// The latest `now` given, once one was.
    now: Option<Instant>,
    /// Bytes arrived since the last `now`.
    received: bool,
    /// The `now` at or after which bytes last arrived (or the clocks started).
    last_received: Option<Instant>,
    /// When our last keepalive ping was queued.
    last_ping: Option<Instant>,
    /// Our close frame was queued since the last `now`.
    close_queued: bool,
    /// When our close frame was queued.
    close_sent: Option<Instant>,
    /// [`deadline`](Self::deadline), as of the last change to what it
    /// depends on.
    next: Option<Instant>,
}

impl Timers {
    /// Bytes came from the peer: the idle and keepalive clocks restart.
    pub(crate) fn on_received(&mut self, config: &Config, state: State) {
        if !self.received {
            self.received = true;
            self.refresh(config, state);
        }
    }

    /// Our close frame was queued (the state is now `state`): the close
    /// clock starts.
    pub(crate) fn on_close_sent(&mut self, config: &Config, state: State) {
        self.close_queued = true;
        self.refresh(config, state);
    }

    /// The next instant at which [`expire`](Self::expire) has work, if any
    /// (in the state given with the last change).
    pub(crate) const fn deadline(&self) -> Option<Instant> {
        self.next
    }

    fn refresh(&mut self, config: &Config, state: State) {
        self.next = self.compute_deadline(config, state);
    }

    fn compute_deadline(&self, config: &Config, state: State) -> Option<Instant> {
        let now = self.now?;
        let silence_timed = config.idle_timeout().is_some() || config.ping_interval().is_some();
        if (self.received && silence_timed)
            || (self.close_queued && config.close_timeout().is_some())
        {
            return Some(now);
        }
        match state {
            State::Open => {
                let idle = self.idle_deadline(config);
                let ping = self.ping_deadline(config);
                match (idle, ping) {
                    (Some(idle), Some(ping)) => Some(idle.min(ping)),
                    (idle, ping) => idle.or(ping),
                }
            }
            State::CloseSent => self.close_deadline(config),
            State::Closed => None,
        }
    }

    /// Advances the clock to `now` (never backwards) and says what ran out;
    /// a keepalive ping counts as sent.
    pub(crate) fn expire(&mut self, now: Instant, config: &Config, state: State) -> Expired {
        let now = self.now.map_or(now, |last| last.max(now));
        self.now = Some(now);
        if self.received || self.last_received.is_none() {
            self.received = false;
            self.last_received = Some(now);
        }
        if self.close_queued {
            self.close_queued = false;
            self.close_sent = Some(now);
        }
        let reached = |deadline: Option<Instant>| deadline.is_some_and(|at| at <= now);
        let expired = match state {
            State::Open if reached(self.idle_deadline(config)) => Expired::Idle,
            State::Open if reached(self.ping_deadline(config)) => {
                self.last_ping = Some(now);
                Expired::Ping
            }
            State::CloseSent if reached(self.close_deadline(config)) => Expired::Close,
            _ => Expired::Nothing,
        };
        // What ran out closes the connection or moves a clock on: either
        // way the deadline is recomputed for the clocks as they are now
        // (a closed connection's is not asked for).
        self.refresh(config, state);
        expired
    }

    fn idle_deadline(&self, config: &Config) -> Option<Instant> {
        self.last_received?.checked_add(config.idle_timeout()?)
    }

    /// The interval counts from the later of the last bytes received and
    /// our last ping, so a quiet peer is pinged once per interval.
    fn ping_deadline(&self, config: &Config) -> Option<Instant> {
        let since = self
            .last_received?
            .max(self.last_ping.unwrap_or(self.last_received?));
        since.checked_add(config.ping_interval()?)
    }

    fn close_deadline(&self, config: &Config) -> Option<Instant> {
        self.close_sent?.checked_add(config.close_timeout()?)
    }
}

// Not under Miri: proptest persists failures through the file system,
// which Miri's isolation refuses, and timers hold no unsafe code.
#[cfg(all(test, not(miri)))]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    /// What can happen to the clocks, as the connection drives them.
    #[derive(Clone, Debug)]
    enum Step {
        Received,
        CloseSent,
        /// A `now` this many seconds after the start (it may go backwards).
        Now(u64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => Just(Step::Received),
            1 => Just(Step::CloseSent),
            4 => (0u64..40).prop_map(Step::Now),
        ]
    }

    fn timeout() -> impl Strategy<Value = Option<Duration>> {
        prop::option::of((1u64..10).prop_map(Duration::from_secs))
    }

    proptest! {
        /// The kept deadline is at every step the one computed from the
        /// clocks as they are, while the connection is not closed: no
        /// change to them misses a refresh.
        #[test]
        fn the_kept_deadline_is_always_the_computed_one(
            ping in timeout(),
            idle in timeout(),
            close in timeout(),
            steps in prop::collection::vec(step(), 0..40),
        ) {
            let config = Config::builder()
                .ping_interval(ping)
                .idle_timeout(idle)
                .close_timeout(close)
                .build();
            let start = Instant::now();
            let mut timers = Timers::default();
            let mut state = State::Open;
            for step in steps {
                match step {
                    Step::Received => timers.on_received(&config, state),
                    Step::CloseSent if state == State::Open => {
                        state = State::CloseSent;
                        timers.on_close_sent(&config, state);
                    }
                    Step::CloseSent => {}
                    Step::Now(secs) => {
                        let now = start + Duration::from_secs(secs);
                        match timers.expire(now, &config, state) {
                            Expired::Idle | Expired::Close => state = State::Closed,
                            Expired::Ping | Expired::Nothing => {}
                        }
                    }
                }
                // A closed connection's deadline is not asked for
                // (`Connection::poll_timeout` is `None` then).
                if state != State::Closed {
                    prop_assert_eq!(timers.deadline(), timers.compute_deadline(&config, state));
                }
            }
        }
    }
}
