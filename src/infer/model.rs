//! Model cards: a TOML file next to each network says everything the pipeline needs to feed
//! it and read it back (input tensor, colour order, normalisation, output layout, decoder
//! family), plus provenance and licence. Loading a model means reading its card, so adding a
//! model of a known family needs no code.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::util::Size;

/// Directories searched for `<name>.toml` when a model is given by name, after `$EDGEPOSE_MODEL_DIR`.
pub const MODEL_SEARCH_DIRS: &[&str] = &["models", "/usr/share/edgepose/models"];

/// Environment variable naming an extra model directory, searched first.
pub const MODEL_DIR_ENV: &str = "EDGEPOSE_MODEL_DIR";

/// The model used when the configuration names none.
pub const DEFAULT_MODEL: &str = "movenet-multipose-lightning";

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model '{name}' not found: looked for {searched}")]
    NotFound { name: String, searched: String },
    #[error("cannot read model card {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read network file {path} named by model card '{card}': {source}")]
    Network {
        path: PathBuf,
        card: String,
        source: std::io::Error,
    },
    #[error("network {network} has no model card: looked for {expected} and for a card naming it in {dir} (a card says how to feed and decode a network: copy one from models/ and set its `file`)")]
    NoCard {
        network: PathBuf,
        expected: PathBuf,
        dir: String,
    },
    #[error("invalid model card {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("model file {path} is corrupt: sha256 {actual} does not match the card's {expected}")]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
}

/// Decoder family: how the network's output becomes persons.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Simple Pose / IMHN: keypoint heatmaps + body-part maps (50 channels).
    Simplepose,
    /// OpenPose-style: keypoint heatmaps + part affinity fields (tf-pose layout, 57 channels).
    Paf,
    /// MoveNet MultiPose: decoded in-graph, rows of 17 × (y, x, score) + box + score.
    Movenet,
    /// MoveNet MultiPose cut after its head convolutions (one 90-channel stride-4 map): the
    /// graph's CenterNet post-processing runs in the decoder crate instead, which is faster
    /// in tract (`models/tools/movenet_heads.py`).
    #[serde(rename = "movenet-heads")]
    MovenetHeads,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TensorLayout {
    Nchw,
    Nhwc,
    /// Not an image tensor: rows of per-person values (single-stage outputs).
    Rows,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    F32,
    I32,
    U8,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ColorOrder {
    Rgb,
    Bgr,
}

/// The network input as the card describes it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputCard {
    pub name: String,
    pub layout: TensorLayout,
    pub dtype: DType,
    pub color: ColorOrder,
    /// value = (pixel − mean[c]) · scale, pixel in 0..255.
    pub scale: f32,
    pub mean: [f32; 3],
    /// Default input size.
    pub width: u32,
    pub height: u32,
    /// Dynamic graphs: width and height must be multiples of this.
    pub multiple_of: u32,
    /// The graph has a static input size (only `width` x `height` works).
    pub fixed_size: bool,
    /// Letterbox fill, in pixel units (0..255).
    pub pad_value: u8,
}

/// The network output as the card describes it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputCard {
    /// The output tensor.
    pub name: String,
    pub layout: TensorLayout,
    /// Input pixels per output cell.
    pub stride: u32,
    /// Input pixel of output cell c = stride · c + offset.
    pub offset: f32,
}

/// Test-time augmentation of a heatmap model (`[tta]`): off unless the card or the
/// configuration asks, because every extra pass costs a full inference.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TtaCard {
    /// Also run the horizontally mirrored input and average it in.
    pub flip: bool,
    /// Input scales relative to the model's input size (1.0 = the base pass).
    pub scales: Vec<f32>,
}

impl Default for TtaCard {
    fn default() -> Self {
        TtaCard {
            flip: false,
            scales: vec![1.0],
        }
    }
}

/// Per-model decoder thresholds (each optional; the family default applies when absent).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecoderOverrides {
    /// Bottom-up: minimum keypoint heatmap peak.
    pub peak_threshold: Option<f32>,
    /// Bottom-up: part-map / PAF sample threshold (the 80 %-of-samples rule).
    pub sample_threshold: Option<f32>,
    /// Bottom-up: minimum mean score per part of a person.
    pub min_mean_score: Option<f32>,
    /// Bottom-up: minimum number of connected parts of a person.
    pub min_parts: Option<u32>,
    /// Single-stage: minimum person score.
    pub person_threshold: Option<f32>,
    /// Single-stage: keypoints below this are marked absent.
    pub keypoint_threshold: Option<f32>,
    /// OKS above which the weaker of two poses is suppressed: single-stage always (default
    /// from the family), bottom-up only when set (pose NMS after grouping).
    pub nms_oks_threshold: Option<f32>,
}

/// A model card (see `models/*.toml`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    pub id: String,
    /// Model id carried in wire frames.
    pub wire_id: u16,
    pub family: Family,
    /// Network file, relative to the card.
    pub file: PathBuf,
    pub sha256: String,
    pub license: String,
    pub provenance: String,
    #[serde(default)]
    pub description: String,
    pub input: InputCard,
    pub output: OutputCard,
    /// Decoder thresholds for this model, overriding the family defaults.
    #[serde(default)]
    pub decoder: DecoderOverrides,
    /// Test-time augmentation (heatmap families only).
    #[serde(default)]
    pub tta: TtaCard,
    /// Free-form facts for people (architecture, accuracy, training); not used by code.
    #[serde(default)]
    pub card: toml::Table,
    /// Directory the card was read from (set by the loader).
    #[serde(skip)]
    pub dir: PathBuf,
}

impl ModelCard {
    /// Reads a card from a `.toml` path, or an `.onnx` path with a card of the same stem next
    /// to it, or a model name searched in `$EDGEPOSE_MODEL_DIR`, `./models`, the directory of
    /// the executable's `../share/edgepose/models`, and `/usr/share/edgepose/models`.
    pub fn load(name_or_path: &str) -> Result<ModelCard, ModelError> {
        let path = resolve_card_path(name_or_path)?;
        Self::from_path(&path)
    }

    /// Reads and validates the card at `path`.
    pub fn from_path(path: &Path) -> Result<ModelCard, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut card: ModelCard = toml::from_str(&text).map_err(|e| ModelError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        card.dir = path.parent().map(Path::to_owned).unwrap_or_default();
        card.validate().map_err(|message| ModelError::Invalid {
            path: path.to_owned(),
            message,
        })?;
        Ok(card)
    }

    /// Path of the network file.
    pub fn model_path(&self) -> PathBuf {
        self.dir.join(&self.file)
    }

    /// Checks the network file's sha256 against the card (catches truncated or swapped files).
    pub fn verify_checksum(&self) -> Result<(), ModelError> {
        use sha2::Digest;
        let path = self.model_path();
        let bytes = std::fs::read(&path).map_err(|source| ModelError::Network {
            path: path.clone(),
            card: self.id.clone(),
            source,
        })?;
        let actual = hex(&sha2::Sha256::digest(&bytes));
        if !actual.eq_ignore_ascii_case(self.sha256.trim()) {
            return Err(ModelError::Checksum {
                path,
                expected: self.sha256.clone(),
                actual,
            });
        }
        Ok(())
    }

    /// Chooses the network input size: the card's default unless `requested` is given; dynamic
    /// graphs round the request up to `multiple_of`, static graphs refuse another size.
    pub fn input_size(&self, requested: Option<Size>) -> Result<(u32, u32), String> {
        let Some(Size {
            width: w,
            height: h,
        }) = requested
        else {
            return Ok((self.input.width, self.input.height));
        };
        if w == 0 || h == 0 {
            return Err(format!("input size {w}x{h} is empty"));
        }
        if self.input.fixed_size {
            if (w, h) != (self.input.width, self.input.height) {
                return Err(format!(
                    "model {} has a fixed input size {}x{}; {w}x{h} is not possible",
                    self.id, self.input.width, self.input.height
                ));
            }
            return Ok((w, h));
        }
        let m = self.input.multiple_of.max(1);
        Ok((w.div_ceil(m) * m, h.div_ceil(m) * m))
    }

    fn validate(&self) -> Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("`id` is empty".into());
        }
        if self.input.layout == TensorLayout::Rows {
            return Err("`input.layout` must be nchw or nhwc".into());
        }
        if !(self.input.scale.is_finite() && self.input.scale > 0.0) {
            return Err(format!(
                "`input.scale` must be a positive number, got {}",
                self.input.scale
            ));
        }
        if self.input.width == 0 || self.input.height == 0 {
            return Err("`input.width` and `input.height` must be > 0".into());
        }
        if self.output.stride == 0 {
            return Err("`output.stride` must be > 0".into());
        }
        let rows = self.output.layout == TensorLayout::Rows;
        if rows != (self.family == Family::Movenet) {
            return Err(format!(
                "`output.layout` {:?} does not fit family {:?}",
                self.output.layout, self.family
            ));
        }
        if self.output.name.trim().is_empty() {
            return Err("`output.name` is empty".into());
        }
        if (self.tta.flip || self.tta.scales.iter().any(|&s| s != 1.0))
            && !matches!(self.family, Family::Simplepose | Family::Paf)
        {
            return Err(format!(
                "`[tta]` is only supported for the heatmap families, not {:?}",
                self.family
            ));
        }
        validate_scales(&self.tta.scales)?;
        if self.sha256.len() != 64 || !self.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err("`sha256` must be 64 hex digits".into());
        }
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The directories a model name is searched in, in order: `$EDGEPOSE_MODEL_DIR`, `./models`,
/// the source tree's `models/`, the executable's `../share/edgepose/models`, and
/// `/usr/share/edgepose/models`. `edgepose doctor` lists exactly these.
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Ok(d) = std::env::var(MODEL_DIR_ENV) {
        dirs.push(PathBuf::from(d));
    }
    dirs.push(PathBuf::from(MODEL_SEARCH_DIRS[0]));
    dirs.push(PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models"
    )));
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_owned))
    {
        dirs.push(exe_dir.join("../share/edgepose/models"));
    }
    dirs.extend(MODEL_SEARCH_DIRS[1..].iter().map(PathBuf::from));
    dirs
}

/// The card of a network file: `x.toml` next to `x.onnx`, or a card next to it whose `file`
/// names it.
fn card_of_network(network: &Path) -> Result<PathBuf, ModelError> {
    let expected = network.with_extension("toml");
    if expected.is_file() {
        return Ok(expected);
    }
    let dir = network
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let naming_it = network.file_name().and_then(|name| {
        std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .find(|p| ModelCard::from_path(p).is_ok_and(|c| c.file.file_name() == Some(name)))
    });
    naming_it.ok_or_else(|| ModelError::NoCard {
        network: network.to_owned(),
        expected,
        dir: dir.display().to_string(),
    })
}

fn resolve_card_path(name_or_path: &str) -> Result<PathBuf, ModelError> {
    let p = Path::new(name_or_path);
    match p.extension().and_then(|e| e.to_str()) {
        Some("toml") => return Ok(p.to_owned()),
        Some("onnx") | Some("nnef") | Some("tgz") => return card_of_network(p),
        _ => {}
    }
    let file = format!("{name_or_path}.toml");
    let dirs = search_dirs();
    for d in &dirs {
        let candidate = d.join(&file);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    // Cards are named by id; also accept the network file's stem (movenet_multipose_lightning).
    for d in &dirs {
        if let Ok(entries) = std::fs::read_dir(d) {
            for e in entries.flatten() {
                let path = e.path();
                if path.extension().is_some_and(|x| x == "toml") {
                    if let Ok(card) = ModelCard::from_path(&path) {
                        if card.file.file_stem().is_some_and(|s| s == name_or_path) {
                            return Ok(path);
                        }
                    }
                }
            }
        }
    }
    let searched = dirs
        .iter()
        .map(|d| d.join(&file).display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    Err(ModelError::NotFound {
        name: name_or_path.to_owned(),
        searched,
    })
}

/// All cards found in a directory, sorted by id (for `edgepose models` / doctor output).
pub fn cards_in(dir: &Path) -> Vec<Result<ModelCard, ModelError>> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| ModelCard::from_path(&p))
        .collect();
    out.sort_by(|a, b| match (a, b) {
        (Ok(a), Ok(b)) => a.id.cmp(&b.id),
        _ => std::cmp::Ordering::Equal,
    });
    out
}

/// Smallest accepted TTA scale: below this the person is a few output cells tall.
pub const MIN_SCALE: f32 = 0.25;
/// Largest accepted TTA scale: inference cost grows with its square.
pub const MAX_SCALE: f32 = 3.0;
/// Most scales per model (each one is a full inference, twice with flip).
pub const MAX_SCALES: usize = 4;

/// Checks a scale list: 1.0 (the base grid) included, each within
/// [`MIN_SCALE`]..=[`MAX_SCALE`], no duplicates, at most [`MAX_SCALES`].
pub fn validate_scales(scales: &[f32]) -> Result<(), String> {
    if scales.len() > MAX_SCALES {
        return Err(format!(
            "`tta.scales` holds {} scales, at most {MAX_SCALES} are allowed",
            scales.len()
        ));
    }
    if !scales.contains(&1.0) {
        return Err(format!(
            "`tta.scales` {scales:?} must include 1.0 (the base pass whose grid the others are averaged on)"
        ));
    }
    for (i, &s) in scales.iter().enumerate() {
        if !(s.is_finite() && (MIN_SCALE..=MAX_SCALE).contains(&s)) {
            return Err(format!(
                "`tta.scales` value {s} is outside {MIN_SCALE}..={MAX_SCALE}"
            ));
        }
        if scales[..i].contains(&s) {
            return Err(format!("`tta.scales` lists {s} twice"));
        }
    }
    Ok(())
}
