//! SMPR model cards (`family = "smpr"`, five `[[output.levels]]`) and the decoder the card
//! selects, run on constructed tensors (no SMPR weights exist).

use std::path::PathBuf;

use edgepose::decode::{for_card, FrameGeometry, Smpr};
use edgepose::decoder::smpr::SMPR_OFFSET_CHANNELS;
use edgepose::decoder::Letterbox;
use edgepose::model::{Family, ModelCard};

const STRIDES: [u32; 5] = [8, 16, 32, 64, 128];

fn card_text(levels: &[u32], family: &str) -> String {
    let mut t = format!(
        r#"id = "smpr-test"
wire_id = 9
family = "{family}"
file = "smpr.onnx"
sha256 = "{}"
license = "Apache-2.0"
provenance = "constructed for tests"

[input]
name = "input"
layout = "nchw"
dtype = "f32"
color = "rgb"
scale = 1.0
mean = [0.0, 0.0, 0.0]
width = 512
height = 512
multiple_of = 128
fixed_size = false
pad_value = 0

[output]
layout = "nchw"
stride = 8
offset = 0.0
"#,
        "0".repeat(64)
    );
    for (i, s) in levels.iter().enumerate() {
        t.push_str(&format!(
            "\n[[output.levels]]\ncls = \"cls_p{l}\"\noffsets = \"offsets_refined_p{l}\"\nrescore = \"rescore_p{l}\"\nstride = {s}\n",
            l = i + 3
        ));
    }
    t
}

fn write_card(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("smpr-test.toml");
    std::fs::write(&path, text).expect("write card");
    (dir, path)
}

#[test]
fn smpr_card_parses_levels_in_order() {
    let (_dir, path) = write_card(&card_text(&STRIDES, "smpr"));
    let card = ModelCard::from_path(&path).expect("SMPR card parses");
    assert_eq!(card.family, Family::Smpr);
    let strides: Vec<u32> = card.output.levels.iter().map(|l| l.stride).collect();
    assert_eq!(strides, STRIDES);
    assert_eq!(card.output.levels[0].cls, "cls_p3");
    assert_eq!(card.output.levels[4].offsets, "offsets_refined_p7");
    assert_eq!(card.output.levels[2].rescore, "rescore_p5");
}

#[test]
fn bad_smpr_cards_are_rejected_with_the_reason() {
    let cases: [(String, &str); 4] = [
        (card_text(&STRIDES[..4], "smpr"), "needs 5"),
        (card_text(&[8, 16, 16, 64, 128], "smpr"), "increase"),
        (card_text(&STRIDES, "paf"), "only for family smpr"),
        (
            card_text(&STRIDES, "smpr").replace("stride = 128", "stride = 0"),
            "stride` must be > 0",
        ),
    ];
    for (text, want) in cases {
        let (_dir, path) = write_card(&text);
        let err = ModelCard::from_path(&path).expect_err(want).to_string();
        assert!(err.contains(want), "'{err}' lacks '{want}'");
    }
}

#[test]
fn shipped_cards_still_parse() {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/models"));
    let cards = edgepose::model::cards_in(&dir);
    assert!(!cards.is_empty());
    for c in cards {
        let c = c.expect("shipped card parses");
        assert!(c.output.levels.is_empty());
        assert!(!c.tta.flip && c.tta.scales == vec![1.0]);
    }
}

/// Concatenated outputs (card order: per level cls, offsets, rescore), all background except
/// one confident location on level 0 whose offsets place keypoint k at (anchor + 2k, anchor).
fn constructed_output(w: u32, h: u32) -> (Vec<f32>, (f32, f32)) {
    let mut out = Vec::new();
    let mut anchor = (0.0, 0.0);
    for (li, &s) in STRIDES.iter().enumerate() {
        let (lw, lh) = (w.div_ceil(s) as usize, h.div_ceil(s) as usize);
        let n = lw * lh;
        let mut cls = vec![-10.0f32; n];
        let mut off = vec![0.0f32; SMPR_OFFSET_CHANNELS * n];
        let re = vec![3.0f32; n];
        if li == 0 {
            let (x, y) = (20usize, 30usize);
            cls[y * lw + x] = 4.0;
            for k in 0..SMPR_OFFSET_CHANNELS / 2 {
                off[(2 * k) * n + y * lw + x] = 2.0 * k as f32;
                off[(2 * k + 1) * n + y * lw + x] = 0.0;
            }
            anchor = ((x as u32 * s + s / 2) as f32, (y as u32 * s + s / 2) as f32);
        }
        out.extend(cls);
        out.extend(off);
        out.extend(re);
    }
    (out, anchor)
}

#[test]
fn smpr_card_selects_the_smpr_decoder() {
    let (_dir, path) = write_card(&card_text(&STRIDES, "smpr"));
    let card = ModelCard::from_path(&path).expect("card parses");
    let mut decoder = for_card(&card);
    let (w, h) = (512u32, 512u32);
    let (out, (ax, ay)) = constructed_output(w, h);
    assert_eq!(out.len(), Smpr::output_len(&STRIDES, w, h));
    let lb = Letterbox {
        scale: 0.5,
        pad_x: 0.0,
        pad_y: 64.0,
    };
    let g = FrameGeometry {
        input_width: w,
        input_height: h,
        image_width: 1024,
        image_height: 768,
        letterbox: lb,
    };
    let (persons, _) = decoder
        .decode(&out, &[out.len()], &g)
        .expect("SMPR decodes");
    assert_eq!(persons.len(), 1, "one confident location, one person");
    let p = &persons[0];
    for (k, kp) in p.keypoints.iter().enumerate() {
        let (ex, ey) = lb.to_source(ax + 2.0 * k as f32, ay);
        assert!(
            (kp.x - ex).abs() < 1e-2 && (kp.y - ey).abs() < 1e-2,
            "keypoint {k}: ({}, {}) vs ({ex}, {ey})",
            kp.x,
            kp.y
        );
    }
    // A buffer of the wrong size is an error naming the problem, not a panic.
    let err = decoder
        .decode(&out[1..], &[out.len() - 1], &g)
        .expect_err("short buffer")
        .to_string();
    assert!(err.contains("expected"), "{err}");
}
