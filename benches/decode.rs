//! Time per frame of the Simple Pose decoder on the conformance fixtures (single thread).
//! Fixtures that are missing (no ../shared) are skipped with a message.
//!
//! `cargo bench --bench decode`; goal: ≤ 0.5 ms per frame on two_people_noisy.

use criterion::{criterion_group, criterion_main, Criterion};
use edgepose_decoder::smpr::SMPR_OFFSET_CHANNELS;
use edgepose_decoder::{
    decode_simplepose, decode_smpr, DecoderConfig, Geometry, Layout, Letterbox, MapView,
    SmprConfig, SmprLevel, SmprWorkspace, Workspace,
};
use std::hint::black_box;
use std::path::Path;

const CASES: [&str; 4] = [
    "two_people",
    "two_people_noisy",
    "crowd_overlap",
    "branches",
];
const IMAGE_SIZE: f32 = 512.0;

fn load(path: &Path) -> Option<(Vec<f32>, [usize; 3])> {
    let bytes = std::fs::read(path).ok()?;
    let npy = npyz::NpyFile::new(&bytes[..]).ok()?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let [c, h, w] = shape[..] else { return None };
    Some((npy.into_vec::<f32>().ok()?, [c, h, w]))
}

fn bench_decode(c: &mut Criterion) {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/simplepose"
    ));
    let mut group = c.benchmark_group("decode_simplepose");
    let mut ws = Box::new(Workspace::new());
    let cfg = DecoderConfig::default();
    let geom = Geometry::simplepose(Letterbox::IDENTITY, IMAGE_SIZE, IMAGE_SIZE);
    for case in CASES {
        let path = dir.join(format!("{case}.npy"));
        let Some((data, [ch, h, w])) = load(&path) else {
            eprintln!("skipped {case}: {} not found or unreadable", path.display());
            continue;
        };
        let Ok(map) = MapView::new(&data, ch, h, w, Layout::Chw) else {
            eprintln!("skipped {case}: bad shape");
            continue;
        };
        group.bench_function(case, |b| {
            b.iter(|| {
                let out = decode_simplepose(black_box(&map), &geom, &cfg, &mut ws);
                black_box(out.map(|(p, _)| p.len()).unwrap_or(0))
            })
        });
    }
    group.finish();
}

/// SMPR at a 512x512 input: five FPN levels (strides 8..128), ten persons each seen by a
/// 3x3 block of locations on the two finest levels, the rest background.
/// One level's (stride, cls, rescore, offsets) buffers.
type LevelData = (usize, Vec<f32>, Vec<f32>, Vec<f32>);

fn bench_smpr(c: &mut Criterion) {
    const INPUT: usize = 512;
    let strides = [8usize, 16, 32, 64, 128];
    let levels: Vec<LevelData> = strides
        .iter()
        .map(|&s| {
            let n = INPUT / s;
            let mut cls = vec![-6.0f32; n * n];
            let re = vec![1.0f32; n * n];
            let mut off = vec![0.0f32; SMPR_OFFSET_CHANNELS * n * n];
            for (i, v) in off.iter_mut().enumerate() {
                *v = ((i * 37) % 61) as f32 - 30.0;
            }
            if s <= 16 {
                for p in 0..10 {
                    let (cx, cy) = ((p * 5 + 3) % n, (p * 7 + 5) % n);
                    for y in cy.saturating_sub(1)..(cy + 2).min(n) {
                        for x in cx.saturating_sub(1)..(cx + 2).min(n) {
                            cls[y * n + x] = 2.0;
                        }
                    }
                }
            }
            (s, cls, re, off)
        })
        .collect();
    let views: Vec<SmprLevel> = levels
        .iter()
        .filter_map(|(s, cls, re, off)| {
            let n = INPUT / s;
            Some(SmprLevel {
                cls: MapView::new(cls, 1, n, n, Layout::Chw).ok()?,
                offsets: MapView::new(off, SMPR_OFFSET_CHANNELS, n, n, Layout::Chw).ok()?,
                rescore: MapView::new(re, 1, n, n, Layout::Chw).ok()?,
                stride: *s as u32,
            })
        })
        .collect();
    let mut ws = Box::new(SmprWorkspace::new());
    let cfg = SmprConfig::default();
    c.bench_function("decode_smpr/512x512", |b| {
        b.iter(|| {
            let out = decode_smpr(
                black_box(&views),
                512.0,
                512.0,
                &Letterbox::IDENTITY,
                &cfg,
                &mut ws,
            );
            black_box(out.map(|(p, _)| p.len()).unwrap_or(0))
        })
    });
}

criterion_group!(benches, bench_decode, bench_smpr);
criterion_main!(benches);
