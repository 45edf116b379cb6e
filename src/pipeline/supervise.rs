//! Supervision of the stage threads: each runs under `catch_unwind` and reports a panic with
//! its name; each marks when it is busy so that a stage stuck on one item is noticed; the
//! systemd watchdog is pinged only while frames flow.
//!
//! A failed stage stops the whole pipeline and the daemon exits non-zero, so systemd's
//! `Restart=on-failure` brings it back; threads that do not stop in time are left behind
//! (the process exits anyway) instead of hanging the exit.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Environment variable of the test-only fault hook (see [`Fault`]). Not for production use.
pub const FAULT_ENV: &str = "EDGEPOSE_TEST_FAULT";

/// A processing stage (inference, decode, output) busy on one item for this long is stuck:
/// the daemon exits non-zero. Generous because an emulated board (qemu-user) takes tens of
/// seconds per inference.
pub const STAGE_STALL_LIMIT: Duration = Duration::from_secs(120);

/// Faults the tests inject through [`FAULT_ENV`] (test-only; the daemon never sets it):
/// - `panic:<stage>` panics in the named stage on its first item (`capture`, `infer`,
///   `decode`, `output`);
/// - `stall:<after>:<ms>` makes the first camera's source hang for `ms` milliseconds before
///   delivering frame number `after` (counting from 0), like a camera that stops sending.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fault {
    pub panic_stage: Option<String>,
    pub stall: Option<(u64, Duration)>,
}

impl Fault {
    /// Reads [`FAULT_ENV`]; unset or unparsable means no fault (a warning says which).
    pub fn from_env() -> Fault {
        let Ok(spec) = std::env::var(FAULT_ENV) else {
            return Fault::default();
        };
        let parsed = Fault::parse(&spec);
        if parsed == Fault::default() {
            tracing::warn!("{FAULT_ENV}={spec:?} is not a fault this build knows; ignored");
        } else {
            tracing::warn!("{FAULT_ENV}={spec:?}: test-only fault injection is active");
        }
        parsed
    }

    fn parse(spec: &str) -> Fault {
        let mut f = Fault::default();
        let parts: Vec<&str> = spec.split(':').collect();
        match parts.as_slice() {
            ["panic", stage] => f.panic_stage = Some((*stage).to_owned()),
            ["stall", after, ms] => {
                if let (Ok(a), Ok(m)) = (after.parse(), ms.parse()) {
                    f.stall = Some((a, Duration::from_millis(m)));
                }
            }
            _ => {}
        }
        f
    }

    /// Panics if the fault names `stage` (the stage's family: "infer" for "infer-1").
    pub fn maybe_panic(&self, stage: &str) {
        if let Some(s) = &self.panic_stage {
            if stage == s || stage.split('-').next() == Some(s.as_str()) {
                panic!("test fault: {FAULT_ENV} asked stage '{stage}' to panic");
            }
        }
    }
}

/// Marks when a stage started its current item (µs since the pipeline's start; 0 = idle).
#[derive(Default)]
pub struct Beat {
    busy_since_us: AtomicU64,
}

impl Beat {
    pub fn busy(&self, epoch: Instant) {
        let us = epoch.elapsed().as_micros().min(u64::MAX as u128) as u64;
        self.busy_since_us.store(us.max(1), Ordering::Relaxed);
    }

    pub fn idle(&self) {
        self.busy_since_us.store(0, Ordering::Relaxed);
    }

    /// How long the current item has taken, `None` when idle.
    pub fn busy_for(&self, epoch: Instant) -> Option<Duration> {
        let since = self.busy_since_us.load(Ordering::Relaxed);
        (since != 0).then(|| epoch.elapsed().saturating_sub(Duration::from_micros(since)))
    }
}

/// The first failure of any stage; later ones are only logged.
#[derive(Default)]
pub struct Failure {
    first: Mutex<Option<String>>,
    failed: AtomicBool,
}

impl Failure {
    pub fn set(&self, message: String) {
        tracing::error!("{message}");
        let mut g = self.first.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_none() {
            *g = Some(message);
        }
        self.failed.store(true, Ordering::Release);
    }

    pub fn get(&self) -> Option<String> {
        if !self.failed.load(Ordering::Acquire) {
            return None;
        }
        self.first.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A running stage thread.
pub struct Stage {
    pub name: String,
    pub beat: Arc<Beat>,
    /// Whether a busy item counts against [`STAGE_STALL_LIMIT`] (not for sources: a stalled
    /// source is the watchdog's business, not a reason to exit).
    pub supervised: bool,
    handle: Option<JoinHandle<()>>,
    done: mpsc::Receiver<()>,
    finished: bool,
}

impl Stage {
    /// Starts `body` on a thread named `name`; a panic is reported to `failure` with the name.
    pub fn spawn(
        name: &str,
        supervised: bool,
        failure: &Arc<Failure>,
        body: impl FnOnce(&Beat) + Send + 'static,
    ) -> std::io::Result<Stage> {
        let beat = Arc::new(Beat::default());
        let (tx, done) = mpsc::channel();
        let (thread_beat, failure, stage) =
            (Arc::clone(&beat), Arc::clone(failure), name.to_owned());
        let handle = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let result = std::panic::catch_unwind(AssertUnwindSafe(|| body(&thread_beat)));
                if let Err(payload) = result {
                    let what = payload
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".to_owned());
                    failure.set(format!("pipeline stage '{stage}' panicked: {what}"));
                }
                let _ = tx.send(());
            })?;
        Ok(Stage {
            name: name.to_owned(),
            beat,
            supervised,
            handle: Some(handle),
            done,
            finished: false,
        })
    }

    /// Whether the thread has ended (without blocking).
    pub fn is_finished(&mut self) -> bool {
        if !self.finished {
            self.finished = !matches!(self.done.try_recv(), Err(mpsc::TryRecvError::Empty));
        }
        self.finished
    }

    /// Waits until `deadline` for the thread to end; `false` if it is still running (it is
    /// then left behind).
    pub fn join_until(&mut self, deadline: Instant) -> bool {
        if !self.finished {
            let left = deadline.saturating_duration_since(Instant::now());
            self.finished = !matches!(
                self.done.recv_timeout(left),
                Err(mpsc::RecvTimeoutError::Timeout)
            );
        }
        if self.finished {
            if let Some(h) = self.handle.take() {
                let _ = h.join();
            }
        }
        self.finished
    }
}

/// Sends notify-protocol states to systemd (no-op outside systemd: NOTIFY_SOCKET unset).
pub fn notify_systemd(states: &[sd_notify::NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!("sd_notify: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_and_only_their_stage_panics() {
        assert_eq!(Fault::parse("nonsense"), Fault::default());
        let f = Fault::parse("stall:5:1500");
        assert_eq!(f.stall, Some((5, Duration::from_millis(1500))));
        let f = Fault::parse("panic:infer");
        f.maybe_panic("decode-front");
        let r = std::panic::catch_unwind(|| f.maybe_panic("infer-1"));
        assert!(r.is_err());
    }

    #[test]
    fn a_panicking_stage_is_reported_with_its_name() {
        let failure = Arc::new(Failure::default());
        let mut s = Stage::spawn("decode-rear", true, &failure, |_| panic!("boom")).expect("spawn");
        assert!(s.join_until(Instant::now() + Duration::from_secs(5)));
        let m = failure.get().expect("failure recorded");
        assert!(m.contains("decode-rear") && m.contains("boom"), "{m}");
    }

    #[test]
    fn a_stuck_stage_is_left_behind_at_the_deadline() {
        let failure = Arc::new(Failure::default());
        let release = Arc::new(AtomicBool::new(false));
        let r = Arc::clone(&release);
        let epoch = Instant::now();
        let mut s = Stage::spawn("capture-x", false, &failure, move |beat| {
            beat.busy(epoch);
            while !r.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
            }
        })
        .expect("spawn");
        std::thread::sleep(Duration::from_millis(30));
        assert!(s
            .beat
            .busy_for(epoch)
            .is_some_and(|d| d >= Duration::from_millis(20)));
        assert!(!s.join_until(Instant::now() + Duration::from_millis(20)));
        assert!(!s.is_finished());
        release.store(true, Ordering::Relaxed);
        assert!(s.join_until(Instant::now() + Duration::from_secs(5)));
        assert!(failure.get().is_none());
    }
}
