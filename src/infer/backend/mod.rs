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
    /// onnxruntime when this build has `ort` and a library is found and loads, else tract:
    /// the daemon's default (onnxruntime ran MoveNet 3x faster than tract here).
    Auto,
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
    /// tract's settings (`kind = "tract"`, or `"auto"` when it runs tract).
    pub tract: TractConfig,
}

/// tract settings: half precision and the multi-threading gates of `tract_linalg`. The gates
/// are process-wide in tract (the last model loaded sets them); unset keeps tract's default.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TractConfig {
    /// Run the network in f16 (tract's `f32_to_f16` transform): for ARM CPUs with fp16
    /// arithmetic (Pi 5's Cortex-A76, Jetson Orin's A78AE); elsewhere tract emulates it, slower.
    pub fp16: bool,
    /// Matrix products with fewer panels run on one thread (tract's default 64).
    pub panel_threshold: Option<usize>,
    /// Row-parallel element-wise work below this many elements runs on one thread (32768).
    pub element_threshold: Option<usize>,
    /// Matrix-vector products with at least this many multiply-adds are threaded even with
    /// few panels (2^21).
    pub mac_threshold: Option<usize>,
}

impl Default for BackendConfig {
    fn default() -> Self {
        BackendConfig {
            kind: BackendKind::Tract,
            threads: 1,
            ort_library: None,
            providers: vec!["cpu".to_owned()],
            trt_cache_dir: None,
            tract: TractConfig::default(),
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

impl BackendKind {
    /// The configuration name ("tract", "ort", "tract-gpu", "auto").
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Tract => "tract",
            BackendKind::Auto => "auto",
            BackendKind::Ort => "ort",
            BackendKind::TractGpu => "tract-gpu",
        }
    }
}

/// Which runtime runs and why: `kind = "auto"` resolved, for the start-up log, `doctor` and
/// the metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    /// The runtime that runs (never [`BackendKind::Auto`]).
    pub kind: BackendKind,
    /// One line: "configured", or what `auto` found.
    pub reason: String,
}

/// Set once `auto` has fallen back to tract after a failure: the warning is logged once per
/// process, not once per backend (test-time augmentation opens several).
static AUTO_FALLBACK_WARNED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

fn auto_fallback(reason: String) -> Choice {
    use std::sync::atomic::Ordering;
    if !AUTO_FALLBACK_WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!("backend auto: {reason}; running tract instead");
    } else {
        tracing::debug!("backend auto: {reason}; running tract instead");
    }
    Choice {
        kind: BackendKind::Tract,
        reason: format!("{reason}; tract runs instead"),
    }
}

/// Resolves `config.kind` without loading a model: for `auto`, searches for onnxruntime the
/// way `kind = "ort"` does and loads the library (once per process).
pub fn choose(config: &BackendConfig) -> Choice {
    if config.kind != BackendKind::Auto {
        return Choice {
            kind: config.kind,
            reason: "configured".into(),
        };
    }
    #[cfg(feature = "ort")]
    {
        let Some(path) = ort::find_library(config.ort_library.as_deref()) else {
            return Choice {
                kind: BackendKind::Tract,
                reason: "auto: no libonnxruntime found (model.backend.ort_library, \
                         $ORT_DYLIB_PATH, /usr/lib, /usr/local/lib, models/.venv)"
                    .into(),
            };
        };
        match ort::load_library(config.ort_library.as_deref()) {
            Ok((path, version)) => Choice {
                kind: BackendKind::Ort,
                reason: format!("auto: onnxruntime {version} found at {}", path.display()),
            },
            Err(e) => auto_fallback(format!(
                "onnxruntime at {} failed to load ({e})",
                path.display()
            )),
        }
    }
    #[cfg(not(feature = "ort"))]
    Choice {
        kind: BackendKind::Tract,
        reason: "auto: this build has no onnxruntime (cargo feature `ort`)".into(),
    }
}

/// Loads the card's network into the configured backend at input size `width` x `height`.
pub fn open(
    card: &ModelCard,
    config: &BackendConfig,
    width: u32,
    height: u32,
) -> Result<Box<dyn Backend>, BackendError> {
    open_chosen(card, config, width, height).map(|(backend, _)| backend)
}

/// [`open`], also saying which runtime runs and why. With `auto`, an onnxruntime that cannot
/// load this model falls back to tract (one warning per process).
pub fn open_chosen(
    card: &ModelCard,
    config: &BackendConfig,
    width: u32,
    height: u32,
) -> Result<(Box<dyn Backend>, Choice), BackendError> {
    let choice = choose(config);
    let concrete = BackendConfig {
        kind: choice.kind,
        ..config.clone()
    };
    let opened = open_kind(card, &concrete, width, height);
    release_freed_memory();
    match opened {
        Ok(backend) => Ok((backend, choice)),
        Err(e) if config.kind == BackendKind::Auto && choice.kind != BackendKind::Tract => {
            let choice = auto_fallback(format!(
                "{} could not load model '{}' ({e})",
                choice.kind.as_str(),
                card.id
            ));
            let tract = BackendConfig {
                kind: BackendKind::Tract,
                ..config.clone()
            };
            let backend = open_kind(card, &tract, width, height);
            release_freed_memory();
            Ok((backend?, choice))
        }
        Err(e) => Err(e),
    }
}

fn open_kind(
    card: &ModelCard,
    config: &BackendConfig,
    width: u32,
    height: u32,
) -> Result<Box<dyn Backend>, BackendError> {
    match config.kind {
        BackendKind::Tract | BackendKind::Auto => Ok(Box::new(tract::TractBackend::load(
            card,
            config.threads,
            &config.tract,
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

/// Hands the heap memory freed while loading (the ONNX protobuf, the unoptimised graphs, the
/// loader's scratch copies of the weights) back to the system: glibc keeps freed chunks in its
/// arenas, so without this the daemon's RSS stays at the loading peak (MoveNet: ~2x).
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Allocations from this size up get their own mapping, returned to the system when freed.
/// glibc's default starts at 128 KiB but rises to 32 MiB as big blocks are freed, after which
/// tract's per-frame activations and im2col buffers (several MiB for MoveNet) stay in the
/// heap as fragments: 2x the live memory. A fixed 4 MiB keeps the speed of the default (1 MiB
/// or less cost MoveNet 1.6-2x in page faults here) and most of the saving.
pub const MMAP_THRESHOLD_BYTES: i32 = 4 << 20;
/// One malloc arena for the whole daemon instead of one per thread (per core): frames and
/// network outputs are allocated in one thread and freed in another.
pub const MALLOC_ARENAS: i32 = 1;

/// How the daemon sets up glibc's allocator (`daemon.allocator`): a trade of inference time
/// against resident memory, measured in the README ("Inference workers and two cameras").
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Allocator {
    /// glibc's own settings: the fastest inference (MoveNet in the daemon 1.3-1.7x faster than
    /// `Lean` here, no page faults per frame), 10-30 MB more RSS.
    #[default]
    Glibc,
    /// [`lean_allocator`]: one arena and a fixed mmap threshold, for boards where memory is
    /// the limit (Pi Zero 2 W, 512 MB); every frame's large buffers are mapped afresh.
    Lean,
}

/// Applies `allocator` (see [`Allocator`]); call before any thread starts.
pub fn configure_allocator(allocator: Allocator) {
    match allocator {
        Allocator::Glibc => {}
        Allocator::Lean => lean_allocator(),
    }
}

/// Sets glibc's allocator up for a long-running daemon with a small, steady footprint (see
/// [`MMAP_THRESHOLD_BYTES`]); call before any thread starts. No-op on other C libraries.
pub fn lean_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets glibc's allocator parameters; called before threads start.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
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
