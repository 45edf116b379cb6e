//! Animate the demo scene on any configured display, no camera or model needed.
//!
//!     cargo run --example display_demo -- png:target/display-demo,every=5,size=320x240
//!     cargo run --example display_demo -- ssd1306:/dev/i2c-1,address=0x3c
//!     cargo run --example display_demo -- st7789:/dev/spidev0.0,dc=25,rst=27,backlight=18,preview=true
//!
//! Display errors (e.g. no device attached) are logged and retried; the loop keeps going.

use std::time::{Duration, Instant};

use anyhow::Context;
use edgepose::display::demo::{demo_frame, demo_preview};
use edgepose::display::{DisplayConfig, Status};

/// Frames to show, at about 30 per second.
const FRAMES: u64 = 150;
const FRAME_PERIOD: Duration = Duration::from_millis(33);

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let spec = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "png:target/display-demo,every=10".into());
    let config: DisplayConfig = spec.parse().context("display spec")?;
    let mut display = edgepose::display::open(&config)
        .context("opening display")?
        .context("display is `none`: nothing to show")?;
    let preview = demo_preview();
    let start = Instant::now();
    for seq in 0..FRAMES {
        let status = Status {
            fps: seq as f32 / start.elapsed().as_secs_f32().max(1e-3),
            model: "demo".into(),
        };
        // Never fails: errors are logged and counted by the display itself.
        display.show(&demo_frame(seq), Some(&preview), &status)?;
        std::thread::sleep(FRAME_PERIOD);
    }
    if let Some(s) = display.stats() {
        eprintln!(
            "shown {} frames, skipped {}, errors {}, opens {}",
            s.frames_shown, s.frames_skipped, s.errors, s.opens
        );
    }
    Ok(())
}
