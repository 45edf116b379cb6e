//! The worker pool's two shared pieces: [`Ordered`], which lets results leave the pool in
//! capture order per camera, and [`BufferPool`], the recycled network-output buffers.
//!
//! Workers take frames from the cameras' newest-value slots ([`super::slot::Latest`], which
//! numbers them per camera with a ticket), infer them in parallel, and hand each result to its
//! camera's [`Ordered`] under that ticket. The camera's decode thread takes results in ticket
//! order only. A result that is ready but waits behind a slower, older frame for longer than
//! one frame period gives up on the older one: it goes out, and the older frame is dropped
//! (counted as late) when it finishes. Nothing ever leaves out of order.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::slot::Take;

/// Frame period assumed until the camera's capture interval is measured.
pub const DEFAULT_FRAME_PERIOD: Duration = Duration::from_millis(100);

enum Entry<T> {
    Done(T, Instant),
    /// The worker failed on this ticket: nothing will come, do not wait for it.
    Abandoned,
}

struct State<T> {
    /// First ticket not yet released or given up.
    next: u64,
    pending: BTreeMap<u64, Entry<T>>,
    closed: bool,
}

/// What [`Ordered::take`] dropped on the way (the caller counts them and recycles buffers).
pub enum Dropped<T> {
    /// Released in order together with a newer result: only the newest goes on.
    Superseded(T),
}

/// A reorder buffer for one camera: results go in under their ticket in any order and come out
/// in ticket order.
pub struct Ordered<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
    /// How long a finished result may wait behind an older one (µs): one frame period.
    period_us: AtomicU64,
}

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Ordered {
            state: Mutex::new(State {
                next: 0,
                pending: BTreeMap::new(),
                closed: false,
            }),
            ready: Condvar::new(),
            period_us: AtomicU64::new(DEFAULT_FRAME_PERIOD.as_micros() as u64),
        }
    }
}

impl<T> Ordered<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the frame period (the camera's measured capture interval).
    pub fn set_period(&self, period: Duration) {
        self.period_us.store(
            period.as_micros().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }

    fn period(&self) -> Duration {
        Duration::from_micros(self.period_us.load(Ordering::Relaxed))
    }

    /// Hands in the result of `ticket`. `Err` gives it back when it is too late: a newer
    /// result already went out (the caller counts it as a late drop and recycles it).
    pub fn put(&self, ticket: u64, value: T) -> Result<(), T> {
        let mut g = self.lock();
        if ticket < g.next {
            return Err(value);
        }
        g.pending.insert(ticket, Entry::Done(value, Instant::now()));
        drop(g);
        self.ready.notify_all();
        Ok(())
    }

    /// Nothing will come for `ticket` (its inference failed).
    pub fn abandon(&self, ticket: u64) {
        let mut g = self.lock();
        if ticket >= g.next {
            g.pending.insert(ticket, Entry::Abandoned);
        }
        drop(g);
        self.ready.notify_all();
    }

    /// No more results will come (every worker stopped): pending ones are released without
    /// waiting for missing tickets.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// Waits up to `timeout` for the next result in ticket order. When several consecutive
    /// results are ready, the newest is returned and the older ones are passed to `dropped`.
    pub fn take(&self, timeout: Duration, mut dropped: impl FnMut(Dropped<T>)) -> Take<T> {
        let deadline = Instant::now() + timeout;
        let mut g = self.lock();
        loop {
            // The run of consecutive tickets that is complete.
            let mut newest = None;
            loop {
                let next = g.next;
                let Some(entry) = g.pending.remove(&next) else {
                    break;
                };
                g.next += 1;
                if let Entry::Done(v, _) = entry {
                    if let Some(older) = newest.replace(v) {
                        dropped(Dropped::Superseded(older));
                    }
                }
            }
            if let Some(v) = newest {
                return Take::Item(v);
            }
            // Nothing at `next`: results after a gap wait for the missing (slower) ones, but
            // no longer than one frame period, or not at all once the workers stopped.
            let oldest_ready = g.pending.iter().find_map(|(t, e)| match e {
                Entry::Done(_, at) => Some((*t, *at)),
                Entry::Abandoned => None,
            });
            if let Some((ticket, ready_at)) = oldest_ready {
                let waited = ready_at.elapsed();
                let period = self.period();
                if g.closed || waited >= period {
                    // Give up on the tickets before it; they are dropped when they arrive.
                    g.next = ticket;
                    continue;
                }
                let now = Instant::now();
                if now >= deadline {
                    return Take::Empty;
                }
                let wait = (period - waited).min(deadline - now);
                g = self
                    .ready
                    .wait_timeout(g, wait)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
                continue;
            }
            if g.closed {
                return Take::Closed;
            }
            let now = Instant::now();
            if now >= deadline {
                return Take::Empty;
            }
            g = self
                .ready
                .wait_timeout(g, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// Network-output buffers handed from the workers to the decode threads and back, so that the
/// hand-over allocates nothing per frame. Allocations are counted ([`BufferPool::allocated`]);
/// a healthy run stays within [`output_buffer_bound`].
pub struct BufferPool {
    spare: Mutex<Vec<Vec<f32>>>,
    allocated: AtomicU64,
    len: usize,
    keep: usize,
}

/// Output buffers a run with `workers` workers and `cameras` cameras needs at most: one being
/// filled per worker, one waiting for an older frame per worker (in the reorder buffer), one
/// being decoded per camera.
pub fn output_buffer_bound(workers: usize, cameras: usize) -> usize {
    2 * workers + cameras
}

impl BufferPool {
    /// Buffers of `len` values; at most `keep` spares are kept.
    pub fn new(len: usize, keep: usize) -> Self {
        BufferPool {
            spare: Mutex::new(Vec::with_capacity(keep)),
            allocated: AtomicU64::new(0),
            len,
            keep,
        }
    }

    /// A spare buffer, or a new one (counted).
    pub fn get(&self) -> Vec<f32> {
        let spare = self.spare.lock().unwrap_or_else(|p| p.into_inner()).pop();
        spare.unwrap_or_else(|| {
            self.allocated.fetch_add(1, Ordering::Relaxed);
            Vec::with_capacity(self.len)
        })
    }

    /// Returns a buffer for reuse (dropped beyond `keep` spares).
    pub fn put(&self, buf: Vec<f32>) {
        let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        if spare.len() < self.keep {
            spare.push(buf);
        }
    }

    /// Buffers allocated so far.
    pub fn allocated(&self) -> u64 {
        self.allocated.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn take_now(o: &Ordered<u64>) -> (Take<u64>, Vec<u64>) {
        let mut superseded = Vec::new();
        let t = o.take(Duration::ZERO, |Dropped::Superseded(v)| superseded.push(v));
        (t, superseded)
    }

    #[test]
    fn releases_in_ticket_order_and_the_newest_of_a_run() {
        let o = Ordered::default();
        o.set_period(Duration::from_secs(60));
        assert_eq!(o.put(1, 1), Ok(()));
        assert_eq!(take_now(&o).0, Take::Empty, "ticket 0 is still running");
        assert_eq!(o.put(0, 0), Ok(()));
        // 0 and 1 are both ready: 1 goes on, 0 is superseded (newest value wins).
        assert_eq!(take_now(&o), (Take::Item(1), vec![0]));
        o.abandon(2);
        assert_eq!(o.put(3, 3), Ok(()));
        assert_eq!(
            take_now(&o),
            (Take::Item(3), vec![]),
            "abandoned tickets do not block"
        );
        o.close();
        assert_eq!(take_now(&o).0, Take::Closed);
    }

    #[test]
    fn a_slow_frame_is_given_up_after_one_period_and_dropped_when_it_arrives() {
        let o = Ordered::default();
        o.set_period(Duration::from_millis(30));
        assert_eq!(o.put(1, 1), Ok(()));
        let t0 = Instant::now();
        let (t, _) = (o.take(Duration::from_secs(5), |_| ()), ());
        assert_eq!(t, Take::Item(1));
        let waited = t0.elapsed();
        assert!(
            (Duration::from_millis(25)..Duration::from_secs(2)).contains(&waited),
            "{waited:?}"
        );
        assert_eq!(o.put(0, 0), Err(0), "ticket 0 finished too late");
    }

    proptest! {
        // Several workers finish frames of several cameras after random delays: every camera's
        // results come out in strictly increasing capture order, and every frame is either
        // delivered, superseded by a newer one, or dropped as late: none is lost or repeated.
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn order_is_preserved_per_camera_under_random_worker_delays(
            delays in proptest::collection::vec(0u64..6, 24..60),
            workers in 1usize..5,
            cameras in 1usize..4,
        ) {
            use super::super::slot::{Latest, Taken};
            let frames: Arc<Latest<u64>> = Arc::new(Latest::new(cameras));
            let out: Arc<Vec<Ordered<u64>>> =
                Arc::new((0..cameras).map(|_| Ordered::default()).collect());
            for o in out.iter() {
                o.set_period(Duration::from_millis(3));
            }
            let late = Arc::new(AtomicU64::new(0));
            let delays = Arc::new(delays);
            let n = delays.len() as u64;
            std::thread::scope(|s| {
                let mut pool = Vec::new();
                for _ in 0..workers {
                    let (frames, out, late, delays) = (&frames, &out, &late, &delays);
                    pool.push(s.spawn(move || loop {
                        match frames.take(Duration::from_millis(20)) {
                            Take::Item(Taken { key, ticket, value }) => {
                                let d = delays[value as usize % delays.len()];
                                std::thread::sleep(Duration::from_millis(d));
                                if out[key].put(ticket, value).is_err() {
                                    late.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            Take::Empty => continue,
                            Take::Closed => break,
                        }
                    }));
                }
                let consumers: Vec<_> = (0..cameras)
                    .map(|c| {
                        let out = &out;
                        s.spawn(move || {
                            let mut got = Vec::new();
                            let mut superseded = 0u64;
                            loop {
                                match out[c].take(Duration::from_millis(20), |_| superseded += 1) {
                                    Take::Item(v) => got.push(v),
                                    Take::Empty => continue,
                                    Take::Closed => break,
                                }
                            }
                            (got, superseded)
                        })
                    })
                    .collect();
                // Producer: frame values increase with capture time for every camera.
                let mut replaced = 0u64;
                for v in 0..n {
                    let cam = (v as usize) % cameras;
                    if frames.put(cam, v).is_some() {
                        replaced += 1;
                    }
                    std::thread::sleep(Duration::from_micros(700));
                }
                frames.close_all();
                // Workers end when the frames are drained; then the reorder buffers close.
                for w in pool {
                    w.join().expect("worker");
                }
                for o in out.iter() {
                    o.close();
                }
                let mut delivered = 0u64;
                let mut superseded = 0u64;
                for (c, h) in consumers.into_iter().enumerate() {
                    let (got, sup) = h.join().expect("consumer");
                    prop_assert!(
                        got.windows(2).all(|w| w[0] < w[1]),
                        "camera {c} out of order: {got:?}"
                    );
                    prop_assert!(got.iter().all(|v| (*v as usize) % cameras == c));
                    delivered += got.len() as u64;
                    superseded += sup;
                }
                let late = late.load(Ordering::Relaxed);
                prop_assert!(delivered > 0);
                prop_assert_eq!(
                    delivered + superseded + late + replaced,
                    n,
                    "delivered + superseded + late + replaced"
                );
                Ok(())
            })?;
        }
    }

    #[test]
    fn buffers_are_recycled() {
        let p = BufferPool::new(16, 2);
        let a = p.get();
        let b = p.get();
        assert_eq!(p.allocated(), 2);
        p.put(a);
        p.put(b);
        let _c = p.get();
        let _d = p.get();
        assert_eq!(p.allocated(), 2, "spares are reused");
    }
}
