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
}

impl Timers {
    /// Bytes came from the peer: the idle and keepalive clocks restart.
    pub(crate) fn on_received(&mut self) {
        self.received = true;
    }

    /// Our close frame was queued: the close clock starts.
    pub(crate) fn on_close_sent(&mut self) {
        self.close_queued = true;
    }

    /// The next instant at which [`expire`](Self::expire) has work, if any.
    pub(crate) fn deadline(&self, config: &Config, state: State) -> Option<Instant> {
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
        match state {
            State::Open if reached(self.idle_deadline(config)) => Expired::Idle,
            State::Open if reached(self.ping_deadline(config)) => {
                self.last_ping = Some(now);
                Expired::Ping
            }
            State::CloseSent if reached(self.close_deadline(config)) => Expired::Close,
            _ => Expired::Nothing,
        }
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
