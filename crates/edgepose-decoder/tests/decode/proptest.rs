//! Property tests: random and adversarial maps never panic, never exceed capacities, never
//! yield non-finite coordinates, and count every non-finite input value.

use edgepose_decoder::skeleton::{OPENPOSE_NUM_CHANNELS, SIMPLEPOSE_NUM_CHANNELS};
use edgepose_decoder::{
    decode_paf, decode_simplepose, DecodeStats, DecoderConfig, Geometry, Layout, Letterbox,
    MapView, Persons, Workspace, MAX_PERSONS,
};
use proptest::prelude::*;

#[derive(Clone, Copy, Debug)]
enum Family {
    SimplePose,
    Paf,
}

fn channels(f: Family) -> usize {
    match f {
        Family::SimplePose => SIMPLEPOSE_NUM_CHANNELS,
        Family::Paf => OPENPOSE_NUM_CHANNELS,
    }
}

fn run(f: Family, data: &[f32], h: usize, w: usize, layout: Layout) -> (Persons, DecodeStats) {
    let map = MapView::new(data, channels(f), h, w, layout).expect("valid view");
    let lb = Letterbox {
        scale: 0.75,
        pad_x: 3.0,
        pad_y: 1.0,
    };
    let mut ws = Box::new(Workspace::new());
    let out = match f {
        Family::SimplePose => decode_simplepose(
            &map,
            &Geometry::simplepose(lb, 4.0 * w as f32, 4.0 * h as f32),
            &DecoderConfig::default(),
            &mut ws,
        ),
        Family::Paf => decode_paf(
            &map,
            &Geometry::tfpose(lb, 8.0 * w as f32, 8.0 * h as f32),
            &DecoderConfig::openpose(),
            &mut ws,
        ),
    }
    .expect("decode");
    for t in 0..18 {
        assert!(ws.peaks(t).len() <= edgepose_decoder::peaks::MAX_PEAKS_PER_TYPE);
    }
    out
}

fn check(data: &[f32], persons: &Persons, stats: &DecodeStats) {
    assert!(persons.len() <= MAX_PERSONS);
    let non_finite = data.iter().filter(|v| !v.is_finite()).count();
    assert_eq!(stats.non_finite as usize, non_finite);
    for p in persons {
        assert!(
            p.score.is_finite() && (0.0..=1.0).contains(&p.score),
            "{p:?}"
        );
        for k in &p.keypoints {
            assert!(
                k.x.is_finite() && k.y.is_finite() && k.score.is_finite(),
                "{p:?}"
            );
        }
        assert!(p.num_present() >= 1);
    }
}

fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => 0.0f32..1.2,
        2 => Just(0.5f32),
        1 => Just(1.0f32),
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
        1 => -1.0f32..0.0,
        1 => prop::num::f32::ANY,
    ]
}

fn family() -> impl Strategy<Value = Family> {
    prop_oneof![Just(Family::SimplePose), Just(Family::Paf)]
}

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![Just(Layout::Chw), Just(Layout::Hwc)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_maps_are_safe(
        f in family(),
        layout in layout(),
        (h, w, data) in (1usize..10, 1usize..10).prop_flat_map(|(h, w)| {
            (Just(h), Just(w), prop::collection::vec(value(), h * w * 57))
        }),
    ) {
        let data = &data[..h * w * channels(f)];
        let (p, s) = run(f, data, h, w, layout);
        check(data, &p, &s);
    }

    #[test]
    fn constant_maps_are_safe(f in family(), layout in layout(), v in value(), h in 1usize..24, w in 1usize..24) {
        let data = vec![v; h * w * channels(f)];
        let (p, s) = run(f, &data, h, w, layout);
        check(&data, &p, &s);
    }
}

#[test]
fn tiny_maps() {
    for f in [Family::SimplePose, Family::Paf] {
        for (h, w) in [(1, 1), (1, 2), (2, 1), (2, 2)] {
            for v in [0.0, 0.5, 1.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                let data = vec![v; h * w * channels(f)];
                let (p, s) = run(f, &data, h, w, Layout::Chw);
                check(&data, &p, &s);
            }
        }
    }
}

#[test]
fn all_nan_and_inf_maps_decode_to_nothing() {
    for f in [Family::SimplePose, Family::Paf] {
        for v in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let data = vec![v; 16 * 16 * channels(f)];
            let (p, s) = run(f, &data, 16, 16, Layout::Hwc);
            assert!(p.is_empty());
            assert_eq!(s.non_finite as usize, data.len());
        }
    }
}

#[test]
fn plateau_everywhere_gives_one_peak_per_type() {
    let data = vec![0.7f32; 20 * 20 * SIMPLEPOSE_NUM_CHANNELS];
    let map = MapView::new(&data, SIMPLEPOSE_NUM_CHANNELS, 20, 20, Layout::Chw).expect("view");
    let mut ws = Box::new(Workspace::new());
    let g = Geometry::simplepose(Letterbox::IDENTITY, 80.0, 80.0);
    let (_, s) = decode_simplepose(&map, &g, &DecoderConfig::default(), &mut ws).expect("decode");
    assert_eq!(s.peaks_dropped, 0);
    for t in 0..18 {
        assert_eq!(ws.peaks(t).len(), 1);
    }
}

#[test]
fn thousands_of_peaks_are_bounded_and_counted() {
    // Isolated maxima on every other cell of every other row: 48*48 = 2304 per channel.
    let (h, w) = (96, 96);
    for f in [Family::SimplePose, Family::Paf] {
        let c = channels(f);
        let mut data = vec![0.0f32; h * w * c];
        for ch in 0..c {
            for y in (0..h).step_by(2) {
                for x in (0..w).step_by(2) {
                    data[(ch * h + y) * w + x] = 0.5 + 0.0001 * ((x * 7 + y * 13 + ch) % 97) as f32;
                }
            }
        }
        // Body-part / PAF channels everywhere high so that many pairs are accepted.
        let (p, s) = run(f, &data, h, w, Layout::Chw);
        check(&data, &p, &s);
        assert_eq!(s.peaks_dropped as usize, 18 * (48 * 48 - 32));
    }
}
