//! The newest-value slot: one mailbox per camera that keeps only the newest item. A slow
//! consumer never makes latency build up; it makes older items drop (the caller counts them).

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// What [`Latest::take`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Take<T> {
    Item(T),
    /// Nothing arrived within the timeout.
    Empty,
    /// Every key closed and drained: no value will come.
    Closed,
}

/// A taken value with the key (camera) it was put under and its ticket: the number of values
/// taken from that key before it, so tickets count 0, 1, 2, ... per key in capture order.
#[derive(Debug, PartialEq, Eq)]
pub struct Taken<T> {
    pub key: usize,
    pub ticket: u64,
    pub value: T,
}

struct Slot<T> {
    value: Option<T>,
    closed: bool,
    taken: u64,
    dropped: u64,
}

struct State<T> {
    slots: Vec<Slot<T>>,
    /// Where the next [`Latest::take`] starts looking: the key after the last one served,
    /// so a camera with a value always ready cannot starve the others.
    cursor: usize,
}

/// One newest-value mailbox per key (camera); `put` over an unread value replaces it.
/// Consumers take from whichever key has a value, in turn.
pub struct Latest<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

impl<T> Latest<T> {
    /// `keys` mailboxes (at least one).
    pub fn new(keys: usize) -> Self {
        Latest {
            state: Mutex::new(State {
                slots: (0..keys.max(1))
                    .map(|_| Slot {
                        value: None,
                        closed: false,
                        taken: 0,
                        dropped: 0,
                    })
                    .collect(),
                cursor: 0,
            }),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores `value` under `key`, replacing an unread one, which is handed back so that its
    /// buffers can be reused (and counted by the caller). A key out of range is ignored.
    #[must_use = "a replaced value may hold buffers to recycle; drop it explicitly"]
    pub fn put(&self, key: usize, value: T) -> Option<T> {
        let mut g = self.lock();
        let slot = g.slots.get_mut(key)?;
        let replaced = slot.value.replace(value);
        if replaced.is_some() {
            slot.dropped += 1;
        }
        drop(g);
        self.ready.notify_all();
        replaced
    }

    /// Waits up to `timeout` for a value of any key, taking keys in turn.
    pub fn take(&self, timeout: Duration) -> Take<Taken<T>> {
        let g = self.lock();
        let (mut g, _) = self
            .ready
            .wait_timeout_while(g, timeout, |s| {
                s.slots.iter().all(|k| k.value.is_none()) && !s.slots.iter().all(|k| k.closed)
            })
            .unwrap_or_else(|p| p.into_inner());
        let n = g.slots.len();
        for i in 0..n {
            let key = (g.cursor + i) % n;
            let slot = &mut g.slots[key];
            if let Some(value) = slot.value.take() {
                let ticket = slot.taken;
                slot.taken += 1;
                g.cursor = (key + 1) % n;
                drop(g);
                // Wake a producer waiting in `wait_empty`.
                self.ready.notify_all();
                return Take::Item(Taken { key, ticket, value });
            }
        }
        if g.slots.iter().all(|k| k.closed) {
            Take::Closed
        } else {
            Take::Empty
        }
    }

    /// No more values will come under `key`; a pending one can still be taken.
    pub fn close(&self, key: usize) {
        if let Some(slot) = self.lock().slots.get_mut(key) {
            slot.closed = true;
        }
        self.ready.notify_all();
    }

    /// Closes every key.
    pub fn close_all(&self) {
        for slot in self.lock().slots.iter_mut() {
            slot.closed = true;
        }
        self.ready.notify_all();
    }

    /// Waits up to `timeout` until `key`'s mailbox is empty (a consumer took the last value).
    pub fn wait_empty(&self, key: usize, timeout: Duration) -> bool {
        let g = self.lock();
        let (g, _) = self
            .ready
            .wait_timeout_while(g, timeout, |s| {
                s.slots.get(key).is_some_and(|k| k.value.is_some())
            })
            .unwrap_or_else(|p| p.into_inner());
        g.slots.get(key).is_none_or(|k| k.value.is_none())
    }

    /// Values of `key` replaced before they were read.
    pub fn dropped(&self, key: usize) -> u64 {
        self.lock().slots.get(key).map_or(0, |k| k.dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item<T>(t: Take<Taken<T>>) -> Option<(usize, u64, T)> {
        match t {
            Take::Item(Taken { key, ticket, value }) => Some((key, ticket, value)),
            _ => None,
        }
    }

    #[test]
    fn keeps_the_newest_and_counts_drops() {
        let l = Latest::new(1);
        assert_eq!(l.put(0, 1), None);
        // The replaced value comes back (its buffers get recycled).
        assert_eq!(l.put(0, 2), Some(1));
        assert_eq!(l.put(0, 3), Some(2));
        assert_eq!(item(l.take(Duration::ZERO)), Some((0, 0, 3)));
        assert_eq!(l.dropped(0), 2);
        assert_eq!(l.take(Duration::from_millis(1)), Take::Empty);
        assert_eq!(l.put(0, 4), None);
        l.close(0);
        assert_eq!(item(l.take(Duration::ZERO)), Some((0, 1, 4)));
        assert_eq!(l.take(Duration::ZERO), Take::Closed);
    }

    #[test]
    fn keys_are_served_in_turn_and_close_together() {
        let l = Latest::new(3);
        // Key 0 always has a value ready: keys 1 and 2 still get their turns.
        let mut served = Vec::new();
        for round in 0..3u64 {
            let _ = l.put(0, round);
            let _ = l.put(1, round);
            let _ = l.put(2, round);
            for _ in 0..3 {
                let (key, ticket, v) = item(l.take(Duration::ZERO)).expect("a value");
                assert_eq!((ticket, v), (round, round));
                served.push(key);
            }
        }
        assert_eq!(served, [0, 1, 2, 0, 1, 2, 0, 1, 2]);
        l.close(0);
        l.close(1);
        assert_eq!(l.take(Duration::ZERO), Take::Empty, "key 2 is still open");
        l.close(2);
        assert_eq!(l.take(Duration::ZERO), Take::Closed);
        assert!(l.wait_empty(1, Duration::ZERO));
    }
}
