//! The per-frame chain pre-process → inference → decode for one model, shared by
//! `edgepose detect`, `edgepose eval`, the benchmarks and the daemon's inference thread.

use std::time::{Duration, Instant};

use image::RgbImage;

use crate::decoder::{DecodeStats, Persons};
use crate::infer::backend::{self, Backend, BackendConfig};
use crate::infer::decode::{self, Decoder, FrameGeometry};
use crate::infer::model::ModelCard;
use crate::infer::preprocess::Preprocessor;
use crate::util::Size;

/// Time spent in each stage for one frame.
#[derive(Clone, Copy, Debug, Default)]
pub struct StageTimes {
    pub preprocess: Duration,
    pub inference: Duration,
    pub decode: Duration,
}

impl StageTimes {
    pub fn total(&self) -> Duration {
        self.preprocess + self.inference + self.decode
    }
}

/// A loaded model ready to turn images into persons.
pub struct Detector {
    pub card: ModelCard,
    backend: Box<dyn Backend>,
    preprocessor: Preprocessor,
    decoder: Box<dyn Decoder>,
    output_shape: Vec<usize>,
    /// Test-time augmentation passes, when the card or [`Detector::set_tta`] asks for them.
    tta: Option<crate::infer::tta::Tta>,
    backend_config: BackendConfig,
    /// Which runtime runs and why (`auto` resolved).
    backend_choice: backend::Choice,
}

impl Detector {
    /// Loads a model by name or path (see [`ModelCard::load`]) at its default or a requested
    /// input size.
    pub fn load(
        model: &str,
        config: &BackendConfig,
        input_size: Option<Size>,
    ) -> anyhow::Result<Detector> {
        let card = ModelCard::load(model)?;
        Self::from_card(card, config, input_size)
    }

    pub fn from_card(
        card: ModelCard,
        config: &BackendConfig,
        input_size: Option<Size>,
    ) -> anyhow::Result<Detector> {
        use anyhow::Context as _;
        card.verify_checksum()?;
        let (w, h) = card.input_size(input_size).map_err(anyhow::Error::msg)?;
        let (backend, backend_choice) = backend::open_chosen(&card, config, w, h)
            .with_context(|| format!("loading model '{}' at {w}x{h}", card.id))?;
        let preprocessor = Preprocessor::new(&card, w, h);
        let decoder = decode::for_card(&card);
        let output_shape = backend.output_shape().to_vec();
        let tta = crate::infer::tta::Tta::new(
            &card,
            config,
            (w, h),
            &output_shape,
            &crate::infer::tta::TtaSettings::from_card(&card),
        )?;
        Ok(Detector {
            card,
            backend,
            preprocessor,
            decoder,
            output_shape,
            tta,
            backend_config: config.clone(),
            backend_choice,
        })
    }

    /// Replaces the card's test-time augmentation with `settings` (loads one backend per
    /// extra scale).
    pub fn set_tta(&mut self, settings: &crate::infer::tta::TtaSettings) -> anyhow::Result<()> {
        self.tta = crate::infer::tta::Tta::new(
            &self.card,
            &self.backend_config,
            self.preprocessor.input_size(),
            &self.output_shape,
            settings,
        )?;
        Ok(())
    }

    /// A second detector for another worker thread: the weights are shared where the backend
    /// allows it ([`Backend::fork`]), otherwise loaded again; pre-processing, test-time
    /// augmentation buffers and decoder scratch are the new detector's own.
    pub fn fork(&self) -> anyhow::Result<Detector> {
        use anyhow::Context as _;
        let (w, h) = self.preprocessor.input_size();
        // The runtime the first worker ended up with (`auto` resolved), not a new choice.
        let resolved = BackendConfig {
            kind: self.backend_choice.kind,
            ..self.backend_config.clone()
        };
        let backend = backend::fork_or_open(&*self.backend, &self.card, &resolved, w, h)
            .with_context(|| format!("loading model '{}' for another worker", self.card.id))?;
        let tta = match &self.tta {
            Some(t) => Some(t.fork(&self.card, &self.backend_config)?),
            None => None,
        };
        Ok(Detector {
            card: self.card.clone(),
            backend,
            preprocessor: Preprocessor::new(&self.card, w, h),
            decoder: decode::for_card(&self.card),
            output_shape: self.output_shape.clone(),
            tta,
            backend_config: self.backend_config.clone(),
            backend_choice: self.backend_choice.clone(),
        })
    }

    /// Inference passes per frame (1 without test-time augmentation).
    pub fn passes(&self) -> usize {
        self.tta.as_ref().map_or(1, |t| t.passes())
    }

    /// Name of the inference runtime.
    pub fn backend_name(&self) -> &str {
        self.backend.name()
    }

    /// Which runtime runs and why (the configured kind, or what `auto` found).
    pub fn backend_choice(&self) -> &backend::Choice {
        &self.backend_choice
    }

    /// Network input size.
    pub fn input_size(&self) -> (u32, u32) {
        self.preprocessor.input_size()
    }

    /// Runs one image through the model.
    pub fn detect(
        &mut self,
        image: &RgbImage,
    ) -> anyhow::Result<(Persons, DecodeStats, StageTimes)> {
        let (output, geometry, mut times) = infer(
            &mut self.tta,
            &mut *self.backend,
            &mut self.preprocessor,
            image,
        )?;
        let t = Instant::now();
        let (persons, stats) = self.decoder.decode(output, &self.output_shape, &geometry)?;
        times.decode = t.elapsed();
        Ok((persons, stats, times))
    }

    /// Pre-processing and inference only: the network output is copied into `out` (cleared
    /// first; it stops growing once it has held one output) so that decoding can run on
    /// another thread while the next frame is inferred. Decode it with a [`DecodeStage`].
    pub fn infer_into(
        &mut self,
        image: &RgbImage,
        out: &mut Vec<f32>,
    ) -> anyhow::Result<(FrameGeometry, StageTimes)> {
        let (output, geometry, times) = infer(
            &mut self.tta,
            &mut *self.backend,
            &mut self.preprocessor,
            image,
        )?;
        out.clear();
        out.extend_from_slice(output);
        Ok((geometry, times))
    }

    /// Values in one network output (the size of the buffers [`Detector::infer_into`] fills).
    pub fn output_len(&self) -> usize {
        self.output_shape.iter().product()
    }

    /// A decoder for this model's outputs that can live on another thread (its own scratch
    /// memory, the card's thresholds).
    pub fn decode_stage(&self) -> DecodeStage {
        DecodeStage {
            decoder: decode::for_card(&self.card),
            output_shape: self.output_shape.clone(),
        }
    }
}

/// The decode step of a [`Detector`], split off for the daemon's decode thread.
pub struct DecodeStage {
    decoder: Box<dyn Decoder>,
    output_shape: Vec<usize>,
}

impl DecodeStage {
    /// Decodes one output filled by [`Detector::infer_into`].
    pub fn decode(
        &mut self,
        output: &[f32],
        geometry: &FrameGeometry,
    ) -> Result<(Persons, DecodeStats), decode::DecodeError> {
        self.decoder.decode(output, &self.output_shape, geometry)
    }
}

/// Pre-processing + inference (all passes with test-time augmentation); the output borrows
/// the backend's buffer. Split from [`Detector`] so callers can borrow its decoder at the same
/// time.
fn infer<'a>(
    tta: &'a mut Option<crate::infer::tta::Tta>,
    backend: &'a mut dyn Backend,
    preprocessor: &mut Preprocessor,
    image: &RgbImage,
) -> anyhow::Result<(&'a [f32], FrameGeometry, StageTimes)> {
    let mut times = StageTimes::default();
    let t0 = Instant::now();
    let (letterbox, output) = if let Some(tta) = tta.as_mut() {
        // All passes; TTA reports its pre-processing share, the rest counts as inference.
        let (letterbox, output, pre) = tta.run(image, backend, preprocessor)?;
        times.preprocess = pre;
        times.inference = t0.elapsed().saturating_sub(pre);
        (letterbox, output)
    } else {
        let letterbox = preprocessor.run(image, backend.input())?;
        let t1 = Instant::now();
        times.preprocess = t1 - t0;
        let output = backend.run()?;
        times.inference = t1.elapsed();
        (letterbox, output)
    };
    let (input_width, input_height) = preprocessor.input_size();
    let geometry = FrameGeometry {
        input_width,
        input_height,
        image_width: image.width(),
        image_height: image.height(),
        letterbox,
    };
    Ok((output, geometry, times))
}
