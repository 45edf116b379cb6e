//! Inference stage: a [`Backend`] owns a loaded network and its reused input/output buffers.
//!
//! Callers never see the runtime: pre-processing writes into [`Backend::input`], decoding
//! reads the slice [`Backend::run`] returns. A second runtime (onnxruntime) plugs in behind
//! the same trait.

#[cfg(feature = "tract-cuda")]
pub mod cuda;
#[cfg(feature = "ort")]
pub mod ort;
pub mod tract;

use serde::Deserialize;

use crate::infer::model::{DType, ModelCard};

/// Mutable view of a backend's input buffer, in the element type the model card names.
pub enum InputBuffer<'a> {
    F32(&'a mut [f32]),
    I32(&'a mut [i32]),
    U8(&'a mut [u8]),
}

impl InputBuffer<'_> {
    pub fn len(&self) -> usize {
        match self {
            InputBuffer::F32(b) => b.len(),
            InputBuffer::I32(b) => b.len(),
            InputBuffer::U8(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn dtype(&self) -> DType {
        match self {
            InputBuffer::F32(_) => DType::F32,
            InputBuffer::I32(_) => DType::I32,
            InputBuffer::U8(_) => DType::U8,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("cannot load model {path}: {message}")]
    Load { path: String, message: String },
    #[error("model {path} disagrees with its card: {message}")]
    CardMismatch { path: String, message: String },
    #[error("inference failed: {0}")]
    Run(String),
    #[error("backend '{0}' is not available in this build")]
    Unavailable(String),
}

/// Which runtime runs the network.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// tract on the CPU: pure Rust, every target (x86_64, aarch64, armv7).
    #[default]
    Tract,
    /// onnxruntime through a libonnxruntime.so found at run time (cargo feature `ort`).
    Ort,
    /// tract on the GPU through its CUDA runtime, falling back to the CPU (feature `tract-cuda`).
    TractGpu,
}

/// Backend settings from the configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackendConfig {
    pub kind: BackendKind,
    /// Inference threads (1 = single-threaded; the pipeline's other stages use other cores).
    pub threads: usize,
    /// onnxruntime library to load (`kind = "ort"`); unset: `$ORT_DYLIB_PATH`, then the usual places.
    pub ort_library: Option<std::path::PathBuf>,
    /// onnxruntime execution providers in order of preference ("tensorrt", "cuda", "cpu");
    /// those the loaded library lacks are skipped, the CPU always remains as the fallback.
    pub providers: Vec<String>,
    /// Where the TensorRT provider caches its built engines (building one takes minutes).
    pub trt_cache_dir: Option<std::path::PathBuf>,
}

impl Default for BackendConfig {
    fn default() -> Self {
        BackendConfig {
            kind: BackendKind::Tract,
            threads: 1,
            ort_library: None,
            providers: vec!["cpu".to_owned()],
            trt_cache_dir: None,
        }
    }
}

/// A loaded, optimised network with fixed input and output shapes.
pub trait Backend: Send {
    /// Runtime name for logs ("tract-cpu").
    fn name(&self) -> &str;
    /// Input tensor shape (batch 1, as the card's layout says).
    fn input_shape(&self) -> &[usize];
    /// Output tensor shape.
    fn output_shape(&self) -> &[usize];
    /// The reused input buffer: pre-processing writes the next frame here.
    fn input(&mut self) -> InputBuffer<'_>;
    /// Runs the network on the current input. The slice stays valid until the next call.
    fn run(&mut self) -> Result<&[f32], BackendError>;
    /// Another instance for a second worker thread that shares this one's loaded, optimised
    /// weights (its own input, output and run state). `None` when the runtime cannot share
    /// them: the caller then loads another copy with [`open`].
    fn fork(&self) -> Option<Result<Box<dyn Backend>, BackendError>> {
        None
    }
}

/// Loads the card's network into the configured backend at input size `width` x `height`.
pub fn open(
    card: &ModelCard,
    config: &BackendConfig,
    width: u32,
    height: u32,
) -> Result<Box<dyn Backend>, BackendError> {
    match config.kind {
        BackendKind::Tract => Ok(Box::new(tract::TractBackend::load(
            card,
            config.threads,
            width,
            height,
        )?)),
        #[cfg(feature = "ort")]
        BackendKind::Ort => Ok(Box::new(ort::OrtBackend::load(
            card, config, width, height,
        )?)),
        #[cfg(not(feature = "ort"))]
        BackendKind::Ort => Err(BackendError::Unavailable(
            "ort: rebuild with `--features ort` to use onnxruntime".into(),
        )),
        #[cfg(feature = "tract-cuda")]
        BackendKind::TractGpu => Ok(Box::new(cuda::TractGpuBackend::load(
            card,
            config.threads,
            width,
            height,
        )?)),
        #[cfg(not(feature = "tract-cuda"))]
        BackendKind::TractGpu => Err(BackendError::Unavailable(
            "tract-gpu: rebuild with `--features tract-cuda` to use tract's CUDA runtime".into(),
        )),
    }
}

/// Another instance of `backend` for a second worker: sharing its weights where the runtime
/// allows it ([`Backend::fork`]), else a second copy loaded from the card.
pub fn fork_or_open(
    backend: &dyn Backend,
    card: &ModelCard,
    config: &BackendConfig,
    width: u32,
    height: u32,
) -> Result<Box<dyn Backend>, BackendError> {
    match backend.fork() {
        Some(b) => b,
        None => open(card, config, width, height),
    }
}

/// The input tensor shape for a card's layout at `width` x `height`.
pub fn input_shape(card: &ModelCard, width: u32, height: u32) -> Vec<usize> {
    let (w, h) = (width as usize, height as usize);
    match card.input.layout {
        crate::infer::model::TensorLayout::Nchw => vec![1, 3, h, w],
        _ => vec![1, h, w, 3],
    }
}
