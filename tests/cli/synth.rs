//! `edgepose synth` end to end: files, COCO structure, byte-identical reruns, bad input.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn synth(out: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_edgepose"))
        .arg("synth")
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("run edgepose")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn writes_a_valid_coco_keypoint_set_deterministically() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    let args = [
        "--count",
        "6",
        "--size",
        "96x64",
        "--seed",
        "3",
        "--max-people",
        "4",
    ];
    let o = synth(&a, &[&args[..], &["--threads", "1"]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = synth(&b, &[&args[..], &["--threads", "3"]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // Same seed: byte-identical, whatever the thread count.
    assert_eq!(
        read(&a.join("annotations.json")),
        read(&b.join("annotations.json"))
    );
    for i in 0..6 {
        let name = format!("images/{i:06}.jpg");
        assert_eq!(read(&a.join(&name)), read(&b.join(&name)), "{name}");
    }
    // Another seed: different data.
    let o = synth(&c, &["--count", "6", "--size", "96x64", "--seed", "4"]);
    assert!(o.status.success());
    assert_ne!(
        read(&a.join("annotations.json")),
        read(&c.join("annotations.json"))
    );

    let coco: Value = serde_json::from_slice(&read(&a.join("annotations.json"))).unwrap();
    let images = coco["images"].as_array().unwrap();
    assert_eq!(images.len(), 6);
    for img in images {
        assert_eq!(
            (img["width"].as_u64(), img["height"].as_u64()),
            (Some(96), Some(64))
        );
        let file = a.join("images").join(img["file_name"].as_str().unwrap());
        let decoded = image::open(&file).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (96, 64));
    }
    let cat = &coco["categories"][0];
    assert_eq!(cat["id"], 1);
    assert_eq!(cat["name"], "person");
    assert_eq!(cat["keypoints"].as_array().unwrap().len(), 17);
    assert_eq!(cat["keypoints"][0], "nose");
    assert_eq!(cat["keypoints"][16], "right_ankle");
    assert_eq!(cat["skeleton"].as_array().unwrap().len(), 19);

    let anns = coco["annotations"].as_array().unwrap();
    let mut ids = std::collections::BTreeSet::new();
    let mut per_image = std::collections::BTreeMap::new();
    for ann in anns {
        assert!(
            ids.insert(ann["id"].as_u64().unwrap()),
            "duplicate annotation id"
        );
        *per_image
            .entry(ann["image_id"].as_u64().unwrap())
            .or_insert(0) += 1;
        assert_eq!(ann["category_id"], 1);
        assert_eq!(ann["iscrowd"], 0);
        let kps: Vec<f64> = ann["keypoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(kps.len(), 51);
        let labelled = kps.chunks(3).filter(|k| k[2] > 0.0).count();
        assert_eq!(ann["num_keypoints"].as_u64(), Some(labelled as u64));
        let bbox: Vec<f64> = ann["bbox"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        for k in kps.chunks(3).filter(|k| k[2] > 0.0) {
            assert!(k[0] >= bbox[0] && k[0] <= bbox[0] + bbox[2]);
            assert!(k[1] >= bbox[1] && k[1] <= bbox[1] + bbox[3]);
        }
        let area = ann["area"].as_f64().unwrap();
        assert!(area > 0.0 && area <= bbox[2] * bbox[3]);
        let seg = &ann["segmentation"];
        assert_eq!(seg["size"], serde_json::json!([64, 96]));
        let total: u64 = seg["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(total, 96 * 64);
    }
    assert_eq!(per_image.len(), 6, "every image has people");
    assert!(per_image.values().all(|n| (1..=4).contains(n)));
}

#[test]
fn bad_arguments_fail_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (vec!["--size", "10"], "WIDTHxHEIGHT"),
        (vec!["--size", "8x8"], "8x8"),
        (vec!["--min-people", "4", "--max-people", "2"], "people"),
        (vec!["--count", "0"], "count"),
        (vec!["--quality", "0"], "quality"),
    ] {
        let o = synth(&tmp.path().join("x"), &args);
        assert!(!o.status.success(), "{args:?} accepted");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // An output path that cannot be a directory.
    let file = tmp.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let o = synth(&file, &["--count", "1", "--size", "32x32"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("file"));
}
