//! Interleaved rounds, for a machine shared with other tenants: each round
//! runs every contender once, in turn, so that a burst of load hits them
//! all alike instead of one contender's whole sample (criterion's order).

use std::time::{Duration, Instant};

/// One contender's times over the rounds.
#[derive(Copy, Clone, Debug)]
pub struct Times {
    /// The median run.
    pub median: Duration,
    /// The fastest run: noise only ever adds time, so this is the steady
    /// figure.
    pub fastest: Duration,
}

impl Times {
    /// `(median, fastest)` as throughputs: `bytes` over each time, in units
    /// of `unit` bytes per second.
    pub fn throughput(&self, bytes: usize, unit: f64) -> (f64, f64) {
        let per_second = |t: Duration| bytes as f64 / unit / t.as_secs_f64();
        (per_second(self.median), per_second(self.fastest))
    }
}

/// Runs each of `runs` once a round, in turn, for `rounds` rounds (each run
/// checks its own result); returns each one's [`Times`], in order.
///
/// # Panics
///
/// If `rounds` is 0.
pub fn run(runs: &[&dyn Fn()], rounds: usize) -> Vec<Times> {
    assert!(rounds > 0, "at least one round");
    let mut times = vec![Vec::with_capacity(rounds); runs.len()];
    for _ in 0..rounds {
        for (run, times) in runs.iter().zip(&mut times) {
            let start = Instant::now();
            run();
            times.push(start.elapsed());
        }
    }
    times
        .into_iter()
        .map(|mut times| {
            times.sort();
            Times {
                median: times[times.len() / 2],
                fastest: times[0],
            }
        })
        .collect()
}
