//! Model cards: the shipped cards parse; SMPR cards (whose decoder lives in the
//! `edgepose-decoder` crate only, no shipped model runs it) are rejected with the reason.

use std::path::PathBuf;

use edgepose::infer::model::ModelCard;

/// The default model (MoveNet cut after its heads) and its full graph.
const HEADS: &str = "movenet-multipose-lightning";
const INGRAPH: &str = "movenet-multipose-lightning-ingraph";

fn card(id: &str) -> ModelCard {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(format!("{id}.toml"));
    ModelCard::from_path(&path).unwrap_or_else(|e| panic!("{id}: {e}"))
}

fn card_text(family: &str, extra: &str) -> String {
    format!(
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
name = "out"
layout = "nchw"
stride = 8
offset = 0.0
{extra}"#,
        "0".repeat(64)
    )
}

fn load(text: &str) -> Result<ModelCard, String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("smpr-test.toml");
    std::fs::write(&path, text).expect("write card");
    ModelCard::from_path(&path).map_err(|e| format!("{e:#}"))
}

#[test]
fn a_card_of_another_family_loads() {
    let card = load(&card_text("paf", "")).expect("a PAF card parses");
    assert_eq!(card.output.name, "out");
}

#[test]
fn smpr_cards_are_rejected_with_the_reason() {
    let err = load(&card_text("smpr", "")).expect_err("family smpr");
    assert!(err.contains("smpr"), "{err}");
    let levels = "\n[[output.levels]]\ncls = \"cls_p3\"\noffsets = \"offsets_refined_p3\"\nrescore = \"rescore_p3\"\nstride = 8\n";
    let err = load(&card_text("paf", levels)).expect_err("output.levels");
    assert!(err.contains("levels"), "{err}");
}

#[test]
fn shipped_cards_still_parse() {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/models"));
    let cards = edgepose::infer::model::cards_in(&dir);
    assert!(!cards.is_empty());
    for c in cards {
        let c = c.expect("shipped card parses");
        assert!(!c.output.name.is_empty());
        assert!(!c.tta.flip && c.tta.scales == vec![1.0]);
    }
}

#[test]
fn cards_name_the_same_network_and_size_rules() {
    let (h, g) = (card(HEADS), card(INGRAPH));
    assert_eq!(h.wire_id, 2, "the default model keeps its wire id");
    assert_ne!(h.wire_id, g.wire_id);
    assert_eq!(h.input.width, g.input.width);
    assert_eq!(h.input.height, g.input.height);
    assert_eq!(h.input.multiple_of, g.input.multiple_of);
    assert!(h.verify_checksum().is_ok() && g.verify_checksum().is_ok());
}
