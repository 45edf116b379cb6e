//! Exponential back-off between reconnection attempts: cameras, serial ports, MQTT brokers
//! and displays that went away all retry through this one helper.

use std::time::Duration;

/// Delays that double after every failed attempt, from `initial` up to `max`; a success
/// [`reset`](Backoff::reset)s them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// `initial` is raised to 1 ms (a zero delay would spin) and `max` to `initial`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.max(Duration::from_millis(1));
        let max = max.max(initial);
        Backoff {
            initial,
            max,
            next: initial,
        }
    }

    /// The delay before the next attempt; the one after it doubles, up to the maximum.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    /// The delay [`next_delay`](Backoff::next_delay) will return, without advancing.
    pub fn peek(&self) -> Duration {
        self.next
    }

    /// Back to the initial delay (after a successful attempt).
    pub fn reset(&mut self) {
        self.next = self.initial;
    }

    /// The first delay.
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// The longest delay.
    pub fn max(&self) -> Duration {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_max_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let d: Vec<u64> = (0..4).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(d, vec![100, 200, 350, 350]);
        assert_eq!(b.peek(), Duration::from_millis(350));
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
    }

    #[test]
    fn zero_initial_and_small_max_are_raised() {
        let mut b = Backoff::new(Duration::ZERO, Duration::ZERO);
        assert_eq!(b.initial(), Duration::from_millis(1));
        assert_eq!(b.max(), Duration::from_millis(1));
        assert_eq!(b.next_delay(), Duration::from_millis(1));
        assert_eq!(b.next_delay(), Duration::from_millis(1));
    }
}
