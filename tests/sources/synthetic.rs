//! The simulation camera: identities persist, motion is smooth, frames are deterministic.

use edgepose::source::synthetic::{SyntheticConfig, SyntheticSource};
use edgepose::source::Source;
use std::collections::BTreeSet;

fn config(people: usize) -> SyntheticConfig {
    SyntheticConfig {
        people,
        width: 192,
        height: 144,
        fps: 30.0,
        seed: 4,
        realtime: false,
    }
}

/// Walkers are at most 0.6 frame heights tall and no body part of a walking person moves
/// faster than 3 body heights per second; at 30 fps that bounds a keypoint's step per frame.
const MAX_STEP_FRAC_OF_FRAME_HEIGHT: f32 = 0.6 * 3.0 / 30.0;

#[test]
fn identities_persist_and_motion_is_smooth() {
    let cfg = config(4);
    let mut src = SyntheticSource::open(&cfg).unwrap();
    let max_step = MAX_STEP_FRAC_OF_FRAME_HEIGHT * cfg.height as f32;
    let mut prev: Option<Vec<[[f32; 3]; 17]>> = None;
    let mut first_hips = Vec::new();
    let mut last_hips = Vec::new();
    let mut largest_step = 0.0f32;
    for i in 0..150u64 {
        let f = src.next_frame().unwrap().expect("endless source");
        assert_eq!(f.seq, i);
        assert_eq!(f.image.dimensions(), (cfg.width, cfg.height));
        let gt = src.ground_truth();
        let ids: BTreeSet<u32> = gt.iter().map(|p| p.id).collect();
        assert_eq!(ids, (1..=4).collect(), "frame {i}");
        let kps: Vec<_> = gt.iter().map(|p| p.keypoints).collect();
        if let Some(prev) = &prev {
            for (a, b) in prev.iter().zip(&kps) {
                for (ka, kb) in a.iter().zip(b) {
                    if ka[2] > 0.0 && kb[2] > 0.0 {
                        let d = ((ka[0] - kb[0]).powi(2) + (ka[1] - kb[1]).powi(2)).sqrt();
                        largest_step = largest_step.max(d);
                        assert!(d <= max_step, "frame {i}: a keypoint jumped {d} px");
                    }
                }
            }
        }
        let hips: Vec<f32> = gt
            .iter()
            .map(|p| p.keypoints[11][0] + p.keypoints[12][0])
            .collect();
        if i == 0 {
            first_hips = hips.clone();
        }
        last_hips = hips;
        prev = Some(kps);
    }
    // People really walk: each moved noticeably over 5 seconds.
    for (a, b) in first_hips.iter().zip(&last_hips) {
        assert!((a - b).abs() > 5.0, "a walker barely moved: {a} -> {b}");
    }
    eprintln!("largest keypoint step {largest_step:.2} px, bound {max_step:.2} px");
    assert!(largest_step > 0.5, "nothing moved between frames");
}

#[test]
fn same_config_same_frames_and_truth() {
    let mut a = SyntheticSource::open(&config(3)).unwrap();
    let mut b = SyntheticSource::open(&config(3)).unwrap();
    for _ in 0..20 {
        let fa = a.next_frame().unwrap().unwrap();
        let fb = b.next_frame().unwrap().unwrap();
        assert_eq!(fa.image.as_raw(), fb.image.as_raw());
        assert_eq!(a.ground_truth(), b.ground_truth());
    }
    let mut c = SyntheticSource::open(&SyntheticConfig {
        seed: 5,
        ..config(3)
    })
    .unwrap();
    let fc = c.next_frame().unwrap().unwrap();
    let mut a2 = SyntheticSource::open(&config(3)).unwrap();
    let fa = a2.next_frame().unwrap().unwrap();
    assert_ne!(fa.image.as_raw(), fc.image.as_raw());
}

#[test]
fn timestamps_follow_the_frame_rate() {
    let mut src = SyntheticSource::open(&SyntheticConfig {
        fps: 10.0,
        ..config(1)
    })
    .unwrap();
    let t0 = src.next_frame().unwrap().unwrap().timestamp_us;
    let t1 = src.next_frame().unwrap().unwrap().timestamp_us;
    assert_eq!(t1 - t0, 100_000);
}

#[test]
fn realtime_pacing_holds_the_frame_rate() {
    let mut src = SyntheticSource::open(&SyntheticConfig {
        fps: 50.0,
        realtime: true,
        width: 64,
        height: 64,
        ..config(1)
    })
    .unwrap();
    let start = std::time::Instant::now();
    for _ in 0..6 {
        src.next_frame().unwrap().unwrap();
    }
    // Frame 5 is due 100 ms after frame 0.
    assert!(start.elapsed() >= std::time::Duration::from_millis(100));
}

#[test]
fn ground_truth_converts_to_tracked_persons() {
    let mut src = SyntheticSource::open(&config(2)).unwrap();
    src.next_frame().unwrap().unwrap();
    for t in src.ground_truth() {
        let p = t.to_person();
        assert_eq!(p.track_id, t.id);
        assert_eq!(
            p.num_present(),
            t.keypoints.iter().filter(|k| k[2] > 0.0).count()
        );
        assert!(p.num_present() > 0);
    }
}

#[test]
fn config_parses_with_defaults_and_rejects_unknown_fields_and_bad_values() {
    let c: SyntheticConfig = toml::from_str("people = 2\nrealtime = true").unwrap();
    assert_eq!(c.people, 2);
    assert!(c.realtime);
    assert_eq!(c.width, SyntheticConfig::default().width);
    let e = toml::from_str::<SyntheticConfig>("people = 2\ncolour = 1").unwrap_err();
    assert!(e.to_string().contains("colour"), "{e}");
    for (bad, word) in [
        (
            SyntheticConfig {
                fps: 0.0,
                ..config(1)
            },
            "fps",
        ),
        (
            SyntheticConfig {
                width: 8,
                ..config(1)
            },
            "width",
        ),
        (
            SyntheticConfig {
                people: 1000,
                ..config(1)
            },
            "people",
        ),
    ] {
        let e = SyntheticSource::open(&bad)
            .err()
            .expect("bad config accepted");
        assert!(e.to_string().contains(word), "{e}");
    }
    let empty = SyntheticSource::open(&config(0));
    let mut empty = empty.unwrap();
    assert!(empty.next_frame().unwrap().is_some());
    assert!(empty.ground_truth().is_empty());
    assert!(empty.describe().contains("synthetic"));
}
