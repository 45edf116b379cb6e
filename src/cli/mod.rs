//! One module per subcommand: its clap `Args` and its `run`.

pub mod bench;
pub mod config;
pub mod decode;
pub mod detect;
pub mod doctor;
pub mod eval;
pub mod listen;
pub mod run;
pub mod synth;

use anyhow::Context as _;
use edgepose::infer::detector::Detector;
use edgepose::infer::tta::{parse_scales, TtaSettings};

/// A scale list from the command line (`--tta-scales 1,1.5`), validated.
#[derive(Clone, Debug, PartialEq)]
pub struct ScaleList(pub Vec<f32>);

/// clap value parser for [`ScaleList`].
pub fn parse_scale_list(text: &str) -> Result<ScaleList, String> {
    parse_scales(text).map(ScaleList)
}

/// Applies `--tta-flip` / `--tta-scales` to a loaded detector (nothing when neither is given).
pub fn apply_tta_flags(
    detector: &mut Detector,
    flip: bool,
    scales: Option<&ScaleList>,
) -> anyhow::Result<()> {
    if !flip && scales.is_none() {
        return Ok(());
    }
    let settings = TtaSettings::from_card(&detector.card)
        .with_overrides(flip.then_some(true), scales.map(|s| s.0.as_slice()));
    detector
        .set_tta(&settings)
        .context("--tta-flip / --tta-scales")
}
