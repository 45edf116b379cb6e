//! The MoveNet heads card (graph cut after the heads, post-processing in the decoder crate)
//! against the full graph (`movenet-multipose-lightning-ingraph`, post-processing in tract):
//! on every real COCO-sample image, at the default 288x288 and a non-square 256x320 input,
//! both give the same output rows and the same persons.

use std::path::Path;

use edgepose::decoder::movenet_heads::{movenet_heads_rows, MOVENET_HEADS_OUTPUT};
use edgepose::decoder::single::MOVENET_ROW;
use edgepose::decoder::{Layout, MapView, Persons, NUM_COCO_KEYPOINTS};
use edgepose::infer::backend::{self, BackendConfig};
use edgepose::infer::detector::Detector;
use edgepose::infer::model::ModelCard;
use edgepose::infer::preprocess::Preprocessor;

const HEADS: &str = "movenet-multipose-lightning";
const INGRAPH: &str = "movenet-multipose-lightning-ingraph";

/// Input sizes (width, height): the card's default and a non-square one.
const SIZES: [(u32, u32); 2] = [(288, 288), (256, 320)];

/// Row values (normalised coordinates, scores, boxes) agree within this. Measured: at most
/// 6.0e-8 (one float32 ulp near 0.5) on all 4 images at both sizes, including the empty
/// slots. Both runs compute the same convolutions in tract; what remains is the Rust
/// Gaussian (separable, libm's expf) against tract's Exp, and summation order. A keypoint
/// whose arg-max flipped between two near-equal cells would move by a whole cell (1/72 of
/// the input here), far above this bound: none does.
const ROW_TOL: f32 = 1e-5;

/// Persons, in source-image pixels (640 px wide: 1e-5 of it is 0.0064 px) and score units.
const KEYPOINT_PX_TOL: f32 = 0.01;
const SCORE_TOL: f32 = 1e-5;

fn card(id: &str) -> ModelCard {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(format!("{id}.toml"));
    ModelCard::from_path(&path).unwrap_or_else(|e| panic!("{id}: {e}"))
}

fn images(dir: &Path) -> Vec<(String, image::RgbImage)> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("coco-sample is readable")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 4, "expected the 4 COCO-sample images");
    paths
        .iter()
        .map(|p| {
            let img = image::open(p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
                .to_rgb8();
            (p.file_name().unwrap().to_string_lossy().into_owned(), img)
        })
        .collect()
}

/// The graph's `output_0` rows, computed from the heads in Rust, equal tract's in-graph rows.
#[test]
fn heads_rows_match_the_graph_rows() {
    let Some(dir) = crate::support::coco_sample_dir() else {
        return;
    };
    let (hc, gc) = (card(HEADS), card(INGRAPH));
    let cfg = BackendConfig::default();
    let mut compared_people = 0;
    for (w, h) in SIZES {
        let mut heads = backend::open(&hc, &cfg, w, h).expect("heads model loads");
        let mut graph = backend::open(&gc, &cfg, w, h).expect("full model loads");
        assert_eq!(
            heads.output_shape(),
            &[1, 90, h as usize / 4, w as usize / 4]
        );
        assert_eq!(graph.output_shape(), &[1, 6, MOVENET_ROW]);
        let mut pre = Preprocessor::new(&hc, w, h);
        for (name, img) in images(&dir) {
            pre.run(&img, heads.input()).expect("preprocess");
            pre.run(&img, graph.input()).expect("preprocess");
            let want = graph.run().expect("full graph runs").to_vec();
            let out = heads.run().expect("heads run");
            let map = MapView::new(out, 90, h as usize / 4, w as usize / 4, Layout::Chw)
                .expect("heads shape");
            let mut got = [0.0f32; MOVENET_HEADS_OUTPUT];
            let non_finite = movenet_heads_rows(&map, &mut got).expect("decodes");
            assert_eq!(non_finite, 0);
            let max = want
                .iter()
                .zip(&got)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            eprintln!("{name} {w}x{h}: max |rows diff| {max:.2e}");
            for (i, (a, b)) in want
                .chunks_exact(MOVENET_ROW)
                .zip(got.chunks_exact(MOVENET_ROW))
                .enumerate()
            {
                for (j, (x, y)) in a.iter().zip(b).enumerate() {
                    assert!(
                        (x - y).abs() <= ROW_TOL,
                        "{name} {w}x{h} instance {i} value {j} ({}): graph {x}, heads {y}",
                        describe(j)
                    );
                }
                if a[MOVENET_ROW - 1] >= 0.2 {
                    compared_people += 1;
                }
            }
        }
    }
    assert!(
        compared_people >= 8,
        "only {compared_people} persons: the comparison proves little"
    );
}

fn describe(j: usize) -> String {
    let k = NUM_COCO_KEYPOINTS * 3;
    match j {
        _ if j < k => format!("keypoint {} {}", j / 3, ["y", "x", "score"][j % 3]),
        _ if j < MOVENET_ROW - 1 => format!("box {}", ["ymin", "xmin", "ymax", "xmax"][j - k]),
        _ => "instance score".into(),
    }
}

fn assert_same_persons(label: &str, a: &Persons, b: &Persons) {
    assert_eq!(a.len(), b.len(), "{label}: person counts differ");
    for (i, (p, q)) in a.iter().zip(b.iter()).enumerate() {
        assert!(
            (p.score - q.score).abs() <= SCORE_TOL,
            "{label} person {i}: score {} vs {}",
            p.score,
            q.score
        );
        for (k, (s, t)) in p.keypoints.iter().zip(&q.keypoints).enumerate() {
            assert!(
                (s.x - t.x).abs() <= KEYPOINT_PX_TOL
                    && (s.y - t.y).abs() <= KEYPOINT_PX_TOL
                    && (s.score - t.score).abs() <= SCORE_TOL,
                "{label} person {i} keypoint {k}: {s:?} vs {t:?}"
            );
        }
    }
}

/// Through the whole detector (pre-processing, tract, decoder, thresholds, OKS NMS).
#[test]
fn heads_persons_match_the_graph_persons() {
    let Some(dir) = crate::support::coco_sample_dir() else {
        return;
    };
    let cfg = BackendConfig::default();
    let mut total = 0;
    for size in SIZES {
        let mut heads = Detector::from_card(card(HEADS), &cfg, Some(size.into())).expect("heads");
        let mut graph = Detector::from_card(card(INGRAPH), &cfg, Some(size.into())).expect("full");
        for (name, img) in images(&dir) {
            let (a, _, _) = graph.detect(&img).expect("full graph detects");
            let (b, stats, _) = heads.detect(&img).expect("heads detect");
            assert_eq!(stats.non_finite, 0);
            eprintln!("{name} {}x{}: {} persons", size.0, size.1, a.len());
            assert_same_persons(&format!("{name} {}x{}", size.0, size.1), &a, &b);
            total += a.len();
        }
    }
    assert!(
        total >= 8,
        "only {total} persons: the comparison proves little"
    );
}
