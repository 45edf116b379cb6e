//! Decode stage: network output → persons in source-image pixels. One [`Decoder`] per model
//! family, all backed by the fixed-memory engine of the `edgepose-decoder` crate.

use edgepose_decoder::{
    decode_movenet, decode_movenet_heads, decode_paf, decode_simplepose, oks_nms, DecodeStats,
    DecoderConfig, Geometry, Layout, Letterbox, MapView, Persons, SingleStageConfig, Workspace,
    MOVENET_HEADS_CHANNELS,
};

use crate::model::{Family, ModelCard, TensorLayout};

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("output tensor {shape:?} does not fit the {family:?} family: {message}")]
    Shape {
        family: Family,
        shape: Vec<usize>,
        message: String,
    },
}

impl DecodeError {
    /// A `Shape` error of `family` for an output of `shape`; `message` says what is wrong.
    fn shape(family: Family, shape: &[usize], message: impl ToString) -> DecodeError {
        DecodeError::Shape {
            family,
            shape: shape.to_vec(),
            message: message.to_string(),
        }
    }
}

/// Where one network output came from: what the decoder needs to map cells back to pixels.
#[derive(Clone, Copy, Debug)]
pub struct FrameGeometry {
    /// Network input size (pixels).
    pub input_width: u32,
    pub input_height: u32,
    /// Source image size (pixels).
    pub image_width: u32,
    pub image_height: u32,
    /// Input → source mapping.
    pub letterbox: Letterbox,
}

/// A decoder for one model family. Holds its scratch memory, reused every frame.
pub trait Decoder: Send {
    fn decode(
        &mut self,
        output: &[f32],
        shape: &[usize],
        geometry: &FrameGeometry,
    ) -> Result<(Persons, DecodeStats), DecodeError>;
}

/// The decoder for a card's family: the family's default thresholds, overridden by the
/// card's `[decoder]` table.
pub fn for_card(card: &ModelCard) -> Box<dyn Decoder> {
    let o = &card.decoder;
    match card.family {
        Family::Simplepose | Family::Paf => {
            let mut config = if card.family == Family::Paf {
                DecoderConfig::openpose()
            } else {
                DecoderConfig::default()
            };
            config.peak_threshold = o.peak_threshold.unwrap_or(config.peak_threshold);
            config.sample_threshold = o.sample_threshold.unwrap_or(config.sample_threshold);
            config.min_mean_score = o.min_mean_score.unwrap_or(config.min_mean_score);
            config.min_parts = o.min_parts.unwrap_or(config.min_parts);
            Box::new(BottomUp {
                family: card.family,
                layout: card.output.layout,
                stride: card.output.stride as f32,
                offset: card.output.offset,
                config,
                nms_oks_threshold: o.nms_oks_threshold,
                workspace: Box::new(Workspace::new()),
            })
        }
        Family::Smpr => Box::new(Smpr::for_card(card)),
        Family::Movenet | Family::MovenetHeads => {
            let d = SingleStageConfig::default();
            let config = SingleStageConfig {
                person_threshold: o.person_threshold.unwrap_or(d.person_threshold),
                keypoint_threshold: o.keypoint_threshold.unwrap_or(d.keypoint_threshold),
                nms_oks_threshold: o.nms_oks_threshold.unwrap_or(d.nms_oks_threshold),
            };
            if card.family == Family::MovenetHeads {
                Box::new(MovenetHeads {
                    layout: card.output.layout,
                    config,
                })
            } else {
                Box::new(SingleStage { config })
            }
        }
    }
}

/// The layout, channels, height and width of a batch-1 image tensor.
fn image_dims(layout: TensorLayout, shape: &[usize]) -> Option<(Layout, usize, usize, usize)> {
    let dims = match shape {
        [1, a, b, c] | [a, b, c] => [*a, *b, *c],
        _ => return None,
    };
    Some(match layout {
        TensorLayout::Nchw => (Layout::Chw, dims[0], dims[1], dims[2]),
        _ => (Layout::Hwc, dims[2], dims[0], dims[1]),
    })
}

/// Heatmap families: peaks + part scoring + greedy grouping.
struct BottomUp {
    family: Family,
    layout: TensorLayout,
    stride: f32,
    offset: f32,
    config: DecoderConfig,
    /// Pose NMS after grouping (off unless the card asks: the Simple Pose reference has none;
    /// a weakly trained model's duplicate peaks make overlapping partial persons).
    nms_oks_threshold: Option<f32>,
    /// ~30 KiB of scratch, boxed once at start-up.
    workspace: Box<Workspace>,
}

impl Decoder for BottomUp {
    fn decode(
        &mut self,
        output: &[f32],
        shape: &[usize],
        g: &FrameGeometry,
    ) -> Result<(Persons, DecodeStats), DecodeError> {
        let err = |message: String| DecodeError::shape(self.family, shape, message);
        let (layout, c, h, w) = image_dims(self.layout, shape)
            .ok_or_else(|| err("expected rank 3 or 4 with batch 1".into()))?;
        let map = MapView::new(output, c, h, w, layout).map_err(|e| err(e.to_string()))?;
        let geometry = Geometry {
            stride: self.stride,
            offset: self.offset,
            letterbox: g.letterbox,
            image_width: g.image_width as f32,
            image_height: g.image_height as f32,
        };
        let result = match self.family {
            Family::Paf => decode_paf(&map, &geometry, &self.config, &mut self.workspace),
            _ => decode_simplepose(&map, &geometry, &self.config, &mut self.workspace),
        };
        let (mut persons, mut stats) = result.map_err(|e| err(e.to_string()))?;
        if let Some(threshold) = self.nms_oks_threshold {
            let removed = oks_nms(&mut persons, threshold);
            stats.persons_dropped = stats.persons_dropped.saturating_add(removed);
        }
        Ok((persons, stats))
    }
}

/// Single-stage models whose graph already decodes persons (MoveNet MultiPose).
struct SingleStage {
    config: SingleStageConfig,
}

impl Decoder for SingleStage {
    fn decode(
        &mut self,
        output: &[f32],
        shape: &[usize],
        g: &FrameGeometry,
    ) -> Result<(Persons, DecodeStats), DecodeError> {
        decode_movenet(
            output,
            g.input_width as f32,
            g.input_height as f32,
            &g.letterbox,
            &self.config,
        )
        .map_err(|e| DecodeError::shape(Family::Movenet, shape, e))
    }
}

/// MoveNet MultiPose from its raw heads (one 90-channel map at stride 4): the graph's
/// post-processing in the decoder crate, then the same thresholds and pose NMS as
/// [`SingleStage`].
struct MovenetHeads {
    layout: TensorLayout,
    config: SingleStageConfig,
}

impl Decoder for MovenetHeads {
    fn decode(
        &mut self,
        output: &[f32],
        shape: &[usize],
        g: &FrameGeometry,
    ) -> Result<(Persons, DecodeStats), DecodeError> {
        let err = |message: String| DecodeError::shape(Family::MovenetHeads, shape, message);
        let (layout, c, h, w) = image_dims(self.layout, shape)
            .ok_or_else(|| err("expected rank 3 or 4 with batch 1".into()))?;
        if c != MOVENET_HEADS_CHANNELS {
            return Err(err(format!(
                "{c} channels, the MoveNet heads have {MOVENET_HEADS_CHANNELS}"
            )));
        }
        let map = MapView::new(output, c, h, w, layout).map_err(|e| err(e.to_string()))?;
        decode_movenet_heads(
            &map,
            g.input_width as f32,
            g.input_height as f32,
            &g.letterbox,
            &self.config,
        )
        .map_err(|e| err(e.to_string()))
    }
}

/// SMPR: five FPN levels of (cls, offsets, rescore) maps.
///
/// The [`crate::backend::Backend`] trait exposes one output tensor, so this decoder takes the
/// levels' outputs *concatenated* in card order (level 0 cls, offsets, rescore, then level 1,
/// ...), each map CHW at `ceil(input / stride)` cells; `shape` is ignored beyond the total
/// length. A multi-output backend (not built: no SMPR weights exist) would fill that buffer.
pub struct Smpr {
    strides: Vec<u32>,
    config: edgepose_decoder::SmprConfig,
    /// ~40 KiB of scratch, boxed once.
    workspace: Box<edgepose_decoder::SmprWorkspace>,
}

impl Smpr {
    /// The decoder for an SMPR card: its level strides; `[decoder]` `person_threshold` is the
    /// class-score threshold and `nms_oks_threshold`, when given, switches to OKS pose NMS.
    pub fn for_card(card: &ModelCard) -> Smpr {
        let mut config = edgepose_decoder::SmprConfig::default();
        let o = &card.decoder;
        config.score_threshold = o.person_threshold.unwrap_or(config.score_threshold);
        if let Some(t) = o.nms_oks_threshold {
            config.nms = edgepose_decoder::SmprNms::Oks(t);
        }
        Smpr {
            strides: card.output.levels.iter().map(|l| l.stride).collect(),
            config,
            workspace: Box::new(edgepose_decoder::SmprWorkspace::new()),
        }
    }

    /// Values the concatenated output must hold for an `input_w` x `input_h` input.
    pub fn output_len(strides: &[u32], input_w: u32, input_h: u32) -> usize {
        strides
            .iter()
            .map(|&s| {
                let s = s.max(1);
                let cells = input_w.div_ceil(s) as usize * input_h.div_ceil(s) as usize;
                cells * (2 + edgepose_decoder::smpr::SMPR_OFFSET_CHANNELS)
            })
            .sum()
    }
}

impl Decoder for Smpr {
    fn decode(
        &mut self,
        output: &[f32],
        shape: &[usize],
        g: &FrameGeometry,
    ) -> Result<(Persons, DecodeStats), DecodeError> {
        use crate::model::SMPR_NUM_LEVELS as MAX_SMPR_LEVELS;
        use edgepose_decoder::smpr::SMPR_OFFSET_CHANNELS;
        use edgepose_decoder::SmprLevel;
        let err = |message: String| DecodeError::shape(Family::Smpr, shape, message);
        if self.strides.len() > MAX_SMPR_LEVELS {
            return Err(err(format!(
                "{} levels, at most {MAX_SMPR_LEVELS} are supported",
                self.strides.len()
            )));
        }
        let expected = Smpr::output_len(&self.strides, g.input_width, g.input_height);
        if output.len() != expected {
            return Err(err(format!(
                "concatenated SMPR output holds {} values, expected {expected} for {} levels at {}x{}",
                output.len(),
                self.strides.len(),
                g.input_width,
                g.input_height
            )));
        }
        let mut levels: heapless::Vec<SmprLevel<'_>, MAX_SMPR_LEVELS> = heapless::Vec::new();
        let mut rest = output;
        for &s in &self.strides {
            let s = s.max(1);
            let (h, w) = (
                g.input_height.div_ceil(s) as usize,
                g.input_width.div_ceil(s) as usize,
            );
            let n = h * w;
            let (cls, r) = rest.split_at(n);
            let (off, r) = r.split_at(n * SMPR_OFFSET_CHANNELS);
            let (re, r) = r.split_at(n);
            rest = r;
            let view = |d, c| MapView::new(d, c, h, w, Layout::Chw).map_err(|e| err(e.to_string()));
            let level = SmprLevel {
                cls: view(cls, 1)?,
                offsets: view(off, SMPR_OFFSET_CHANNELS)?,
                rescore: view(re, 1)?,
                stride: s,
            };
            levels
                .push(level)
                .map_err(|_| err("too many SMPR levels".into()))?;
        }
        edgepose_decoder::decode_smpr(
            &levels,
            g.input_width as f32,
            g.input_height as f32,
            &g.letterbox,
            &self.config,
            &mut self.workspace,
        )
        .map_err(|e| err(e.to_string()))
    }
}
