//! Capture latency and CPU per frame of the command source's MJPEG and I420 paths at 640x480.
//!
//!     cargo run --release --example capture_cost [-- FRAMES]
//!
//! A camera stand-in (ffmpeg rendering `testsrc2` at 30 fps in real time, encoding MJPEG at
//! quality 4 — about what a webcam sends — or writing raw I420) feeds the command source,
//! which reads, splits and converts each frame to RGB8 as the daemon's capture thread does.
//! Reported per path:
//! * latency: from the moment the frame's last byte was read from the pipe to the RGB image
//!   being returned by `next_frame` (splitting, hand-over, JPEG decoding or YUV conversion);
//! * CPU per frame: this process's user+system time (reader, stderr and calling threads)
//!   divided by the frames delivered; the producer's CPU (the camera's work) is not counted.
//!
//! The paths run one after the other in one invocation, so they share the machine's state.

use std::time::{Duration, Instant};

use edgepose::source::command::{CommandConfig, CommandSource};
use edgepose::source::convert::PixelFormat;
use edgepose::source::Source;

const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;
const DEFAULT_FRAMES: usize = 150;
/// Frames read before measuring (ffmpeg start-up, first allocations).
const WARM_UP: usize = 10;

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    #[cfg(target_os = "linux")]
    {
        let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is always valid.
        let ok = unsafe { libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr()) } == 0;
        if ok {
            // SAFETY: initialised by the successful call above.
            let ru = unsafe { ru.assume_init() };
            let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
            return Duration::from_micros(us(ru.ru_utime) + us(ru.ru_stime));
        }
    }
    Duration::ZERO
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn run(name: &str, encode: &[&str], format: PixelFormat, frames: usize) -> anyhow::Result<()> {
    let mut argv = vec![
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-re",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x480:rate=30",
    ];
    argv.extend_from_slice(encode);
    argv.push("-");
    let mut cfg = CommandConfig::new(&argv, format);
    cfg.width = Some(WIDTH);
    cfg.height = Some(HEIGHT);
    let mut src = CommandSource::open(&cfg)?;
    for _ in 0..WARM_UP {
        src.next_frame()?;
    }
    let (cpu0, t0) = (cpu_time(), Instant::now());
    let mut latencies = Vec::with_capacity(frames);
    while latencies.len() < frames {
        match src.next_frame() {
            Ok(Some(f)) => latencies.push(now_us().saturating_sub(f.timestamp_us) as f64 / 1e3),
            Ok(None) => anyhow::bail!("{name}: the stream ended"),
            Err(e) => eprintln!("{name}: {e}"),
        }
    }
    let (cpu, wall) = (cpu_time() - cpu0, t0.elapsed());
    latencies.sort_by(f64::total_cmp);
    let mean = latencies.iter().sum::<f64>() / latencies.len() as f64;
    println!(
        "{name:5} 640x480: latency mean {mean:.2} ms, p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms; \
         CPU {:.2} ms/frame ({:.1} % of a core at {:.1} fps); replaced {}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95),
        latencies[latencies.len() - 1],
        cpu.as_secs_f64() * 1e3 / frames as f64,
        cpu.as_secs_f64() / wall.as_secs_f64() * 100.0,
        frames as f64 / wall.as_secs_f64(),
        src.stats().replaced
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let frames = std::env::args()
        .nth(1)
        .map(|a| a.parse::<usize>())
        .transpose()?
        .unwrap_or(DEFAULT_FRAMES)
        .max(1);
    run(
        "mjpeg",
        &["-c:v", "mjpeg", "-q:v", "4", "-f", "mjpeg"],
        PixelFormat::Mjpeg,
        frames,
    )?;
    run(
        "i420",
        &["-f", "rawvideo", "-pix_fmt", "yuv420p"],
        PixelFormat::I420,
        frames,
    )?;
    Ok(())
}
