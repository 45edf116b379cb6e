//! A failing display never stops the pose stream: errors are counted, the device is reopened
//! with backoff. Exercised with the real PNG display on a real directory that disappears, and
//! with the hardware drivers on device nodes that do not exist here.

use std::time::{Duration, Instant};

use edgepose::display::demo::demo_frame;
use edgepose::display::{Display, DisplayConfig, PngConfig, PngDisplay, Resilient, Status};
use edgepose::util::Backoff;

fn status() -> Status {
    Status {
        fps: 10.0,
        model: "test".into(),
    }
}

#[test]
fn png_display_recovers_after_its_directory_is_replaced() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("frames");
    let cfg = PngConfig::new(&dir);
    let backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(400));
    let connect_cfg = cfg.clone();
    let mut d = Resilient::new("png", move || PngDisplay::new(&connect_cfg), backoff);
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);

    d.show_at(ms(0), &demo_frame(1), None, &status());
    assert!(d.is_open());
    assert!(dir.join("frame_0000000001.png").is_file());

    // The output directory becomes a plain file: writes and reopens fail.
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::write(&dir, b"not a directory").unwrap();
    d.show_at(ms(10), &demo_frame(2), None, &status());
    let s = d.stats().unwrap();
    assert_eq!((s.errors, s.frames_shown, s.opens), (1, 1, 1));
    assert!(!d.is_open());

    // Within the backoff: skipped without trying.
    d.show_at(ms(50), &demo_frame(3), None, &status());
    assert_eq!(d.stats().unwrap().errors, 1);
    assert_eq!(d.stats().unwrap().frames_skipped, 1);

    // After it: one reopen attempt, which fails, and the delay doubles (200 ms).
    d.show_at(ms(120), &demo_frame(4), None, &status());
    assert_eq!(d.stats().unwrap().errors, 2);
    d.show_at(ms(250), &demo_frame(5), None, &status());
    assert_eq!(
        d.stats().unwrap().errors,
        2,
        "retried before the doubled backoff"
    );

    // The directory comes back: the next attempt reopens and frames flow again.
    std::fs::remove_file(&dir).unwrap();
    d.show_at(ms(330), &demo_frame(6), None, &status());
    let s = d.stats().unwrap();
    assert!(d.is_open());
    assert_eq!((s.opens, s.frames_shown, s.errors), (2, 2, 2));
    assert!(dir.join("frame_0000000006.png").is_file());
    assert_eq!(s.frames_skipped, 3);
}

#[test]
fn backoff_is_capped() {
    let backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(300));
    let mut attempts = 0u32;
    let connect = || -> Result<PngDisplay, edgepose::display::DisplayError> {
        Err(edgepose::display::DisplayError::Config(
            "always fails".into(),
        ))
    };
    let mut d = Resilient::new("failing", connect, backoff);
    let t0 = Instant::now();
    // Try every 10 ms for 3 s: attempts at 0, 100, 300, then every 300 ms.
    for i in 0..300u64 {
        let before = d.stats().unwrap().errors;
        d.show_at(
            t0 + Duration::from_millis(i * 10),
            &demo_frame(i),
            None,
            &status(),
        );
        if d.stats().unwrap().errors > before {
            attempts += 1;
        }
    }
    // 0, 100, 300, 600, 900, ..., 2700 → 3 + 8 = 11 attempts (bounded by the cap).
    assert_eq!(attempts, 11);
    assert_eq!(d.stats().unwrap().frames_shown, 0);
}

#[test]
fn open_rejects_bad_config_but_not_missing_hardware() {
    let e = edgepose::display::open(&"png:/tmp/x,every=0".parse().unwrap())
        .err()
        .expect("every=0 must be rejected");
    assert!(e.to_string().contains("every"), "{e}");
    assert!(edgepose::display::open(&DisplayConfig::None)
        .unwrap()
        .is_none());
}

#[cfg(all(feature = "hw-display", target_os = "linux"))]
mod hw {
    use super::*;
    use edgepose::display::hw::{Ssd1306Display, St7789Display};

    #[test]
    fn missing_i2c_bus_is_named_and_does_not_stop_frames() {
        let cfg: DisplayConfig = "ssd1306:/dev/i2c-edgepose-missing".parse().unwrap();
        let DisplayConfig::Ssd1306(c) = &cfg else {
            panic!("{cfg:?}")
        };
        let e = Ssd1306Display::open(c).err().expect("no such bus here");
        assert!(e.to_string().contains("/dev/i2c-edgepose-missing"), "{e}");

        let mut d = edgepose::display::open(&cfg).unwrap().expect("a display");
        for seq in 0..5 {
            d.show(&demo_frame(seq), None, &status())
                .expect("show never fails");
        }
        let s = d.stats().unwrap();
        // First attempt fails; the rest fall inside the 500 ms default backoff.
        assert_eq!((s.errors, s.frames_shown, s.frames_skipped), (1, 0, 5));
    }

    #[test]
    fn missing_spidev_is_named() {
        let cfg: DisplayConfig = "st7789:/dev/spidev-edgepose-missing,dc=25,rst=27"
            .parse()
            .unwrap();
        let DisplayConfig::St7789(c) = &cfg else {
            panic!("{cfg:?}")
        };
        let e = St7789Display::open(c).err().expect("no such device here");
        assert!(
            e.to_string().contains("/dev/spidev-edgepose-missing"),
            "{e}"
        );
    }
}
