//! Keeps a flaky display from ever stopping the pose stream: errors are logged and counted,
//! the device is dropped and reopened after an exponential backoff.

use std::time::{Duration, Instant};

use super::{Display, DisplayError, Status};
use crate::pose::FramePoses;
use crate::util::Backoff;

/// First reopen delay after a failure.
const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_millis(500);
/// Longest reopen delay (a display plugged back in shows up within this).
const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// The reopen delays of a display: from half a second up to half a minute.
pub fn default_backoff() -> Backoff {
    Backoff::new(DEFAULT_BACKOFF_INITIAL, DEFAULT_BACKOFF_MAX)
}

/// Counters of a [`Resilient`] display.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DisplayStats {
    /// Frames the device accepted.
    pub frames_shown: u64,
    /// Frames dropped because the device was closed (waiting for the next reopen).
    pub frames_skipped: u64,
    /// Open failures plus show failures.
    pub errors: u64,
    /// Successful opens (the first one included).
    pub opens: u64,
}

/// Opens a display; implemented by any `FnMut() -> Result<D, DisplayError>`.
pub trait Connect: Send {
    type Output: Display;
    fn connect(&mut self) -> Result<Self::Output, DisplayError>;
}

impl<F, D> Connect for F
where
    F: FnMut() -> Result<D, DisplayError> + Send,
    D: Display,
{
    type Output = D;
    fn connect(&mut self) -> Result<D, DisplayError> {
        self()
    }
}

/// A display that opens its device lazily and reopens it with backoff after any error.
/// Its `show` always returns `Ok`: failures go to the log and to [`DisplayStats`].
pub struct Resilient<C: Connect> {
    name: &'static str,
    connector: C,
    device: Option<C::Output>,
    backoff: Backoff,
    next_attempt: Option<Instant>,
    stats: DisplayStats,
}

impl<C: Connect> Resilient<C> {
    pub fn new(name: &'static str, connector: C, backoff: Backoff) -> Self {
        Resilient {
            name,
            connector,
            device: None,
            backoff,
            next_attempt: None,
            stats: DisplayStats::default(),
        }
    }

    /// Whether the device is open now.
    pub fn is_open(&self) -> bool {
        self.device.is_some()
    }

    /// [`Display::show`] at an explicit time (tests drive the backoff clock with this).
    pub fn show_at(
        &mut self,
        now: Instant,
        frame: &FramePoses,
        preview: Option<&image::RgbImage>,
        status: &Status,
    ) {
        if self.device.is_none() {
            if self.next_attempt.is_some_and(|t| now < t) {
                self.stats.frames_skipped += 1;
                return;
            }
            match self.connector.connect() {
                Ok(d) => {
                    self.stats.opens += 1;
                    if self.stats.opens > 1 {
                        tracing::info!(display = self.name, "display reopened");
                    }
                    self.device = Some(d);
                }
                Err(e) => {
                    self.fail(now, "open", &e);
                    self.stats.frames_skipped += 1;
                    return;
                }
            }
        }
        let Some(device) = self.device.as_mut() else {
            return;
        };
        match device.show(frame, preview, status) {
            Ok(()) => {
                self.stats.frames_shown += 1;
                self.backoff.reset();
                self.next_attempt = None;
            }
            Err(e) => {
                self.device = None;
                self.fail(now, "show", &e);
            }
        }
    }

    fn fail(&mut self, now: Instant, during: &str, e: &DisplayError) {
        self.stats.errors += 1;
        let delay = self.backoff.next_delay();
        tracing::warn!(
            display = self.name,
            during,
            error = %e,
            retry_in_ms = delay.as_millis() as u64,
            errors = self.stats.errors,
            "display error; poses keep flowing, display will be reopened"
        );
        self.next_attempt = Some(now + delay);
    }
}

impl<C: Connect> Display for Resilient<C> {
    fn show(
        &mut self,
        frame: &FramePoses,
        preview: Option<&image::RgbImage>,
        status: &Status,
    ) -> Result<(), DisplayError> {
        self.show_at(Instant::now(), frame, preview, status);
        Ok(())
    }

    fn stats(&self) -> Option<DisplayStats> {
        Some(self.stats)
    }
}
