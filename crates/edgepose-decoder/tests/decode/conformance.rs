//! Conformance with the Simple Pose reference decoder on its own perfect-network fixtures
//! (../shared/fixtures/simplepose), with the tolerance of simple-pose.md §6.

use edgepose_decoder::{
    decode_simplepose, DecoderConfig, Geometry, Layout, Letterbox, MapView, Person, Workspace,
};
use std::path::Path;

/// A reference keypoint present in both results must be this close (image pixels).
const MAX_KEYPOINT_DIST: f32 = 3.0;
/// Keypoint sets may differ by this many keypoints.
const MAX_SET_DIFF: usize = 1;
/// Matched person scores may differ by this much.
const MAX_SCORE_DIFF: f32 = 0.05;
/// Reference persons that must be found: at least this many parts ...
const MIN_PARTS: f64 = 4.0;
/// ... and at least this score.
const MIN_SCORE: f64 = 0.5;

struct RefPerson {
    /// COCO-17 keypoints, `None` when missing.
    kps: [Option<(f32, f32)>; 17],
    score: f64,
    num_parts: f64,
}

fn load_ref(path: &Path) -> (Vec<RefPerson>, (f32, f32)) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: serde_json::Value = serde_json::from_str(&text).expect("reference json");
    let hw = &v["image_hw"];
    let size = (
        hw[1].as_f64().expect("image width") as f32,
        hw[0].as_f64().expect("image height") as f32,
    );
    let persons = v["persons"]
        .as_array()
        .expect("persons array")
        .iter()
        .map(|p| {
            let mut kps = [None; 17];
            for (i, k) in p["keypoints_coco17"]
                .as_array()
                .expect("kps")
                .iter()
                .enumerate()
            {
                let x = k[0].as_f64().expect("x") as f32;
                let y = k[1].as_f64().expect("y") as f32;
                // (0, 0) marks a missing keypoint in the reference output.
                if !(x == 0.0 && y == 0.0) {
                    kps[i] = Some((x, y));
                }
            }
            RefPerson {
                kps,
                score: p["score"].as_f64().expect("score"),
                num_parts: p["num_parts"].as_f64().expect("num_parts"),
            }
        })
        .collect();
    (persons, size)
}

fn load_npy(path: &Path) -> (Vec<f32>, Vec<u64>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).expect("npy header");
    let shape = npy.shape().to_vec();
    (npy.into_vec::<f32>().expect("f32 data"), shape)
}

/// §6: present keypoints within 3 px and keypoint sets differing by at most one.
fn same_person(r: &RefPerson, o: &Person) -> bool {
    let mut diff = 0;
    for (rk, ok) in r.kps.iter().zip(o.keypoints.iter()) {
        match (rk, ok.present) {
            (Some((x, y)), true) => {
                if (ok.x - x).hypot(ok.y - y) > MAX_KEYPOINT_DIST {
                    return false;
                }
            }
            (None, false) => {}
            _ => diff += 1,
        }
    }
    diff <= MAX_SET_DIFF
}

fn check_case(dir: &Path, case: &str, ws: &mut Workspace) -> Result<(), String> {
    let (refs, (w, h)) = load_ref(&dir.join(format!("{case}.ref.json")));
    let (data, shape) = load_npy(&dir.join(format!("{case}.npy")));
    let [c, mh, mw] = shape[..] else {
        return Err(format!("{case}: unexpected shape {shape:?}"));
    };
    let map = MapView::new(&data, c as usize, mh as usize, mw as usize, Layout::Chw)
        .map_err(|e| e.to_string())?;
    let geom = Geometry::simplepose(Letterbox::IDENTITY, w, h);
    let (ours, stats) =
        decode_simplepose(&map, &geom, &DecoderConfig::default(), ws).map_err(|e| e.to_string())?;
    let describe = |p: &Person| {
        format!(
            "score {:.3} parts {} kps {:?}",
            p.score,
            p.num_parts,
            p.keypoints
                .iter()
                .map(|k| if k.present {
                    (k.x.round(), k.y.round())
                } else {
                    (-1.0, -1.0)
                })
                .collect::<Vec<_>>()
        )
    };
    let mut errors = Vec::new();
    for (ri, r) in refs.iter().enumerate() {
        if r.num_parts < MIN_PARTS || r.score < MIN_SCORE {
            continue;
        }
        let matches: Vec<&Person> = ours.iter().filter(|o| same_person(r, o)).collect();
        match matches.as_slice() {
            [o] => {
                if (o.score as f64 - r.score).abs() > MAX_SCORE_DIFF as f64 {
                    errors.push(format!(
                        "ref person {ri}: score {:.3} vs ours {:.3}",
                        r.score, o.score
                    ));
                }
            }
            m => errors.push(format!(
                "ref person {ri} (score {:.3}, {} parts, kps {:?}) matched by {} of ours",
                r.score,
                r.num_parts,
                r.kps,
                m.len()
            )),
        }
    }
    for o in ours.iter().filter(|o| o.num_parts >= MIN_PARTS as u8) {
        if !refs.iter().any(|r| same_person(r, o)) {
            errors.push(format!("unmatched person of ours: {}", describe(o)));
        }
    }
    eprintln!(
        "{case}: {} reference persons, {} of ours, stats {stats:?}",
        refs.len(),
        ours.len()
    );
    if errors.is_empty() {
        Ok(())
    } else {
        let ours_desc: Vec<String> = ours.iter().map(describe).collect();
        Err(format!(
            "{case}:\n  {}\n  ours:\n  {}",
            errors.join("\n  "),
            ours_desc.join("\n  ")
        ))
    }
}

#[test]
fn matches_reference_on_all_fixtures() {
    let Some(dir) = crate::skip::shared("fixtures/simplepose") else {
        return;
    };
    let mut cases: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".ref.json"))
                .map(str::to_owned)
        })
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no fixtures in {}", dir.display());
    let mut ws = Box::new(Workspace::new());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| check_case(&dir, c, &mut ws).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
