//! Decode stage: network output → persons in source-image pixels. One [`Decoder`] per model
//! family, all backed by the fixed-memory engine of the `edgepose-decoder` crate.

use edgepose_decoder::{
    decode_movenet, decode_movenet_heads, decode_paf, decode_simplepose, oks_nms, DecodeStats,
    DecoderConfig, Geometry, Layout, Letterbox, MapView, Persons, SingleStageConfig, Workspace,
    MOVENET_HEADS_CHANNELS,
};

use crate::infer::model::{Family, ModelCard, TensorLayout};

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

/// The map dimensions of a batch-1 network output: the one parser of output shapes, shared
/// by the decoders and test-time augmentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapDims {
    pub layout: Layout,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl MapDims {
    /// `shape` is `[1, a, b, c]` or `[a, b, c]`, read as CHW for an NCHW card and HWC
    /// otherwise; `None` for any other rank or batch.
    pub fn of(layout: TensorLayout, shape: &[usize]) -> Option<MapDims> {
        let [a, b, c] = match shape {
            [1, a, b, c] | [a, b, c] => [*a, *b, *c],
            _ => return None,
        };
        Some(match layout {
            TensorLayout::Nchw => MapDims {
                layout: Layout::Chw,
                channels: a,
                height: b,
                width: c,
            },
            _ => MapDims {
                layout: Layout::Hwc,
                channels: c,
                height: a,
                width: b,
            },
        })
    }

    /// `data` as a map of these dimensions (fails when its length does not match).
    pub fn view<'a>(&self, data: &'a [f32]) -> Result<MapView<'a>, edgepose_decoder::MapError> {
        MapView::new(data, self.channels, self.height, self.width, self.layout)
    }
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
        let dims = MapDims::of(self.layout, shape)
            .ok_or_else(|| err("expected rank 3 or 4 with batch 1".into()))?;
        let map = dims.view(output).map_err(|e| err(e.to_string()))?;
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
        let dims = MapDims::of(self.layout, shape)
            .ok_or_else(|| err("expected rank 3 or 4 with batch 1".into()))?;
        if dims.channels != MOVENET_HEADS_CHANNELS {
            return Err(err(format!(
                "{} channels, the MoveNet heads have {MOVENET_HEADS_CHANNELS}",
                dims.channels
            )));
        }
        let map = dims.view(output).map_err(|e| err(e.to_string()))?;
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
