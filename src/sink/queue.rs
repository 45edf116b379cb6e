//! The bounded hand-off between the daemon's sink thread and a sink's writer thread.
//!
//! Besides dropping the oldest item when full, the queue enforces freshness: an item that
//! waited longer than the configured maximum age is dropped (counted as stale) when the writer
//! gets to it, so a robot never receives a burst of old poses after an outage.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A bounded FIFO that drops its oldest item when full: memory stays bounded however long the
/// device is gone, and what is delivered afterwards is the newest data.
pub(crate) struct DropOldestQueue<T> {
    state: Mutex<State<T>>,
    changed: Condvar,
    capacity: usize,
    /// Items older than this are dropped instead of popped; `None`: no limit.
    max_age: Option<Duration>,
}

struct State<T> {
    /// Items with the instant they were pushed.
    items: VecDeque<(Instant, T)>,
    closed: bool,
    dropped: u64,
    /// Items dropped because they were older than `max_age`.
    stale: u64,
    /// When the last popped item was pushed (a requeued item keeps its age; one consumer).
    popped_at: Option<Instant>,
    /// Items popped but not yet reported done by the writer (so `wait_idle` covers them).
    in_flight: usize,
}

impl<T> DropOldestQueue<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        DropOldestQueue {
            state: Mutex::new(State {
                items: VecDeque::with_capacity(capacity),
                closed: false,
                dropped: 0,
                stale: 0,
                popped_at: None,
                in_flight: 0,
            }),
            changed: Condvar::new(),
            capacity,
            max_age: None,
        }
    }

    /// Drops items that waited longer than `max_age` (`Duration::ZERO`: no limit).
    pub(crate) fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = (!max_age.is_zero()).then_some(max_age);
        self
    }

    /// A poisoned lock only means another thread panicked while holding it; the queue's own
    /// invariants hold after every statement, so carrying on is safe.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an item, dropping the oldest when full. Returns `false` when the queue is closed.
    pub(crate) fn push(&self, item: T) -> bool {
        let mut s = self.lock();
        if s.closed {
            return false;
        }
        if s.items.len() >= self.capacity {
            s.items.pop_front();
            s.dropped += 1;
        }
        s.items.push_back((Instant::now(), item));
        drop(s);
        self.changed.notify_all();
        true
    }

    /// Puts an item that could not be delivered back at the front, unless newer items already
    /// fill the queue (then it is the oldest and is dropped).
    pub(crate) fn requeue(&self, item: T) {
        let mut s = self.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        if s.items.len() >= self.capacity || s.closed {
            s.dropped += 1;
        } else {
            let at = s.popped_at.unwrap_or_else(Instant::now);
            s.items.push_front((at, item));
        }
        drop(s);
        self.changed.notify_all();
    }

    /// Takes the oldest item that is not too old, waiting up to `timeout`. `None` on timeout
    /// or when closed and empty. The caller reports the item with [`Self::done`] or
    /// [`Self::requeue`].
    pub(crate) fn pop(&self, timeout: Duration) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut s = self.lock();
        loop {
            let mut went_stale = false;
            while let Some((at, item)) = s.items.pop_front() {
                if self.max_age.is_some_and(|max| at.elapsed() > max) {
                    s.stale += 1;
                    went_stale = true;
                    continue;
                }
                s.in_flight += 1;
                s.popped_at = Some(at);
                return Some(item);
            }
            if went_stale {
                // Stale items were all there was: the queue is idle now.
                self.changed.notify_all();
            }
            if s.closed {
                return None;
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            s = self
                .changed
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Marks a popped item as handled (written or given up).
    pub(crate) fn done(&self) {
        let mut s = self.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        drop(s);
        self.changed.notify_all();
    }

    /// Waits until nothing is queued or in flight; `false` on timeout.
    pub(crate) fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut s = self.lock();
        while !s.items.is_empty() || s.in_flight > 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            s = self
                .changed
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Sleeps up to `timeout`, waking early when the queue is closed. Returns `true` if closed.
    pub(crate) fn sleep_unless_closed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut s = self.lock();
        while !s.closed {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            s = self
                .changed
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Stops accepting items and wakes every waiter; queued items can still be popped.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Discards everything queued (counted as dropped).
    pub(crate) fn clear(&self) {
        let mut s = self.lock();
        let n = s.items.len() as u64;
        s.items.clear();
        s.dropped += n;
        drop(s);
        self.changed.notify_all();
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Items dropped for being older than the maximum age.
    pub(crate) fn stale(&self) -> u64 {
        self.lock().stale
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn drops_oldest_when_full_and_counts() {
        let q = DropOldestQueue::new(3);
        for i in 0..10 {
            assert!(q.push(i));
        }
        assert_eq!(q.len(), 3);
        assert_eq!(q.dropped(), 7);
        let got: Vec<i32> = std::iter::from_fn(|| q.pop(Duration::ZERO)).collect();
        assert_eq!(got, vec![7, 8, 9]);
    }

    #[test]
    fn requeue_keeps_order_or_drops_when_full() {
        let q = DropOldestQueue::new(2);
        q.push(1);
        q.push(2);
        let first = q.pop(Duration::ZERO);
        assert_eq!(first, Some(1));
        q.requeue(1);
        assert_eq!(q.pop(Duration::ZERO), Some(1));
        q.push(3); // queue: 2, 3 (full)
        q.requeue(1);
        assert_eq!(q.dropped(), 1);
        assert_eq!(q.pop(Duration::ZERO), Some(2));
    }

    #[test]
    fn close_wakes_a_blocked_pop_and_rejects_pushes() {
        let q = Arc::new(DropOldestQueue::<u8>::new(2));
        let q2 = Arc::clone(&q);
        let t = std::thread::spawn(move || q2.pop(Duration::from_secs(30)));
        std::thread::sleep(Duration::from_millis(50));
        q.close();
        assert_eq!(t.join().ok(), Some(None));
        assert!(!q.push(1));
        assert!(q.sleep_unless_closed(Duration::from_secs(30)));
    }

    #[test]
    fn items_older_than_the_max_age_are_dropped_as_stale() {
        let q = DropOldestQueue::new(8).with_max_age(Duration::from_millis(30));
        q.push(1);
        q.push(2);
        std::thread::sleep(Duration::from_millis(60));
        q.push(3);
        assert_eq!(q.pop(Duration::ZERO), Some(3), "the fresh one comes out");
        assert_eq!((q.stale(), q.dropped()), (2, 0));
        // A requeued item keeps its age: it goes stale too.
        q.requeue(3);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(q.pop(Duration::ZERO), None);
        assert_eq!(q.stale(), 3);
        // No limit: nothing goes stale.
        let q = DropOldestQueue::new(2).with_max_age(Duration::ZERO);
        q.push(1);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(q.pop(Duration::ZERO), Some(1));
    }

    #[test]
    fn wait_idle_covers_in_flight_items() {
        let q = DropOldestQueue::new(2);
        q.push(5);
        let _item = q.pop(Duration::ZERO);
        assert!(!q.wait_idle(Duration::from_millis(20)));
        q.done();
        assert!(q.wait_idle(Duration::ZERO));
    }
}
