//! onnxruntime backend (cargo feature `ort`): `ort` with `load-dynamic`, so nothing is
//! downloaded or linked at build time and the same binary runs with whatever
//! libonnxruntime.so the board has (the PyPI wheel's CPU build on a Pi, NVIDIA's CUDA/TensorRT
//! build on a Jetson).
//!
//! The input and output tensors are allocated once and bound to the session with an
//! `IoBinding`: pre-processing writes straight into the bound input, onnxruntime writes into the
//! bound output, and a frame costs no allocation on our side.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;
use ort::ep::{self, ExecutionProvider as _, ExecutionProviderDispatch};
use ort::memory::Allocator;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::session::{IoBinding, Session};
use ort::value::Tensor;

use super::{input_shape, Backend, BackendConfig, BackendError, InputBuffer};
use crate::infer::model::{DType, ModelCard};

/// Environment variable naming the onnxruntime library (the variable `ort` itself reads).
pub const ORT_LIBRARY_ENV: &str = "ORT_DYLIB_PATH";

/// Places searched for libonnxruntime when neither the configuration nor `$ORT_DYLIB_PATH` name
/// one: the board package's own copy (`edgepose-onnxruntime`, scripts/onnxruntime-deb.sh),
/// system installs (JetPack, distribution packages) and the project's Python venv, whose
/// `onnxruntime` wheel carries the library in `onnxruntime/capi/`.
pub const ORT_LIBRARY_SEARCH: &[&str] = &[
    "/usr/lib/edgepose/libonnxruntime.so*",
    "/usr/lib/libonnxruntime.so*",
    "/usr/local/lib/libonnxruntime.so*",
    "/usr/lib/aarch64-linux-gnu/libonnxruntime.so*",
    "/usr/lib/x86_64-linux-gnu/libonnxruntime.so*",
    "models/.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*",
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*"
    ),
];

/// What to install when no library is found (shown in the error and by `edgepose doctor`).
pub const INSTALL_HINT: &str = "install onnxruntime and point `model.backend.ort_library` (or \
$ORT_DYLIB_PATH) at its libonnxruntime.so: on x86_64 and aarch64 `python3 -m venv v && \
v/bin/pip install onnxruntime` puts it in v/lib/python3*/site-packages/onnxruntime/capi/; on a \
Jetson use NVIDIA's JetPack onnxruntime build (CUDA/TensorRT). There is no armv7 wheel.";

/// Provider names accepted in `model.backend.providers`.
pub const PROVIDER_NAMES: &[&str] = &["tensorrt", "cuda", "cpu"];

/// The library loaded into this process: onnxruntime can be loaded once only, so the first
/// successful load wins and later requests for another path are refused with a clear error.
static LOADED: Mutex<Option<PathBuf>> = Mutex::new(None);
static ENVIRONMENT: OnceLock<Environment> = OnceLock::new();

fn load_error(path: &Path, message: impl Into<String>) -> BackendError {
    BackendError::Load {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Finds the onnxruntime library: the configured path, else `$ORT_DYLIB_PATH`, else the first
/// match of [`ORT_LIBRARY_SEARCH`].
pub fn find_library(configured: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = configured {
        return Some(p.to_owned());
    }
    if let Some(p) = std::env::var_os(ORT_LIBRARY_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    ORT_LIBRARY_SEARCH
        .iter()
        .filter_map(|pattern| glob::glob(pattern).ok())
        .flat_map(|paths| paths.flatten())
        .find(|p| p.is_file())
}

/// Loads onnxruntime (once per process) and returns the library path and its version.
pub fn load_library(configured: Option<&Path>) -> Result<(PathBuf, String), BackendError> {
    let mut loaded = LOADED
        .lock()
        .map_err(|_| BackendError::Unavailable("ort: loader lock poisoned".into()))?;
    let wanted = find_library(configured);
    if let Some(current) = loaded.as_ref() {
        if let Some(w) = wanted.as_ref().filter(|w| *w != current) {
            if configured.is_some() {
                return Err(load_error(
                    w,
                    format!(
                        "onnxruntime is already loaded from {}; one process can load only one",
                        current.display()
                    ),
                ));
            }
        }
        return Ok((current.clone(), ort_version()));
    }
    let path = wanted.ok_or_else(|| {
        BackendError::Unavailable(format!("ort: no libonnxruntime found; {INSTALL_HINT}"))
    })?;
    if !path.is_file() {
        return Err(load_error(&path, format!("file not found; {INSTALL_HINT}")));
    }
    let builder = ort::init_from(&path).map_err(|e| load_error(&path, e.to_string()))?;
    if ENVIRONMENT.get().is_none() {
        let env = builder
            .with_name("edgepose")
            .with_telemetry(false)
            .build()
            .map_err(|e| load_error(&path, format!("cannot create the environment: {e}")))?;
        let _ = ENVIRONMENT.set(env);
    }
    *loaded = Some(path.clone());
    Ok((path, ort_version()))
}

/// Version of the loaded onnxruntime (call only after a successful load).
fn ort_version() -> String {
    ort::info()
        .split(',')
        .find_map(|part| part.trim().strip_prefix("git-branch=rel-"))
        .unwrap_or("unknown")
        .to_owned()
}

/// Execution providers compiled into the loaded library, by our names (load it first).
pub fn available_providers() -> Vec<&'static str> {
    let mut out = Vec::new();
    if ep::TensorRT::is_available().unwrap_or(false) {
        out.push("tensorrt");
    }
    if ep::CUDA::is_available().unwrap_or(false) {
        out.push("cuda");
    }
    out.push("cpu");
    out
}

fn provider(name: &str, config: &BackendConfig) -> Option<(ExecutionProviderDispatch, bool)> {
    match name {
        "tensorrt" => {
            let mut trt = ep::TensorRT::default();
            if let Some(dir) = &config.trt_cache_dir {
                trt = trt
                    .with_engine_cache(true)
                    .with_engine_cache_path(dir.display());
            }
            Some((
                trt.build().error_on_failure(),
                ep::TensorRT::is_available().unwrap_or(false),
            ))
        }
        "cuda" => Some((
            ep::CUDA::default().build().error_on_failure(),
            ep::CUDA::is_available().unwrap_or(false),
        )),
        _ => None,
    }
}

/// Registers the configured providers in order; returns the names that registered.
fn register_providers(
    builder: &mut SessionBuilder,
    config: &BackendConfig,
) -> Result<Vec<String>, BackendError> {
    let mut registered = Vec::new();
    for name in &config.providers {
        let name = name.trim().to_ascii_lowercase();
        if name == "cpu" {
            // The CPU provider is always present and takes every node the others leave.
            break;
        }
        let Some((ep, available)) = provider(&name, config) else {
            return Err(BackendError::Unavailable(format!(
                "ort: unknown execution provider '{name}' (known: {})",
                PROVIDER_NAMES.join(", ")
            )));
        };
        if !available {
            tracing::info!("onnxruntime: provider '{name}' is not in the loaded library, skipped");
            continue;
        }
        match ep.register(builder) {
            Ok(()) => registered.push(name),
            Err(e) => tracing::warn!("onnxruntime: provider '{name}' failed to register: {e}"),
        }
    }
    Ok(registered)
}

fn session_builder(
    env: &Environment,
    threads: usize,
    path: &Path,
) -> Result<SessionBuilder, BackendError> {
    let err = |e: ort::Error<SessionBuilder>| load_error(path, e.to_string());
    Session::builder(env)
        .map_err(|e| load_error(path, e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(err)?
        .with_intra_threads(threads.max(1))
        .map_err(err)?
        .with_inter_threads(1)
        .map_err(err)?
        // Busy-waiting worker threads would steal the cores the capture and decode stages use.
        .with_config_entry("session.intra_op.allow_spinning", "0")
        .map_err(err)
}

enum InputTensor {
    F32(Tensor<f32>),
    I32(Tensor<i32>),
    U8(Tensor<u8>),
}

pub struct OrtBackend {
    name: String,
    session: Session,
    binding: IoBinding,
    input: InputTensor,
    output: Tensor<f32>,
    /// Set when the graph's output is NHWC but the card (written for tract, which can stop at
    /// the NCHW node before tf2onnx's final Transpose) says NCHW: the output is transposed
    /// into this buffer, allocated once.
    nhwc_to_nchw: Option<Vec<f32>>,
    input_shape: Vec<usize>,
    output_shape: Vec<usize>,
}

impl OrtBackend {
    /// Loads `card`'s network for a `width` x `height` input with the configured providers.
    pub fn load(
        card: &ModelCard,
        config: &BackendConfig,
        width: u32,
        height: u32,
    ) -> Result<Self, BackendError> {
        load_library(config.ort_library.as_deref())?;
        let env = ENVIRONMENT
            .get()
            .ok_or_else(|| BackendError::Unavailable("ort: no environment".into()))?;
        let path = card.model_path();
        let path_s = path.display().to_string();
        let mismatch = |m: String| BackendError::CardMismatch {
            path: path_s.clone(),
            message: m,
        };
        if !path.is_file() {
            return Err(load_error(&path, "file not found"));
        }

        let mut builder = session_builder(env, config.threads, &path)?;
        let registered = register_providers(&mut builder, config)?;
        let session = match builder.commit_from_file(&path) {
            Ok(s) => s,
            // A provider that registered can still fail at session creation (no GPU, driver
            // mismatch): fall back to the CPU rather than refuse to start.
            Err(e) if !registered.is_empty() => {
                tracing::warn!(
                    "onnxruntime: session with {registered:?} failed ({e}); falling back to cpu"
                );
                session_builder(env, config.threads, &path)?
                    .commit_from_file(&path)
                    .map_err(|e| load_error(&path, e.to_string()))?
            }
            Err(e) => return Err(load_error(&path, e.to_string())),
        };
        let provider = registered.first().map_or("cpu", String::as_str).to_owned();

        if session.inputs().len() != 1 {
            return Err(mismatch(format!(
                "expected 1 input, the graph has {}",
                session.inputs().len()
            )));
        }
        let graph_input = session.inputs()[0].name().to_owned();
        if graph_input != card.input.name && format!("{graph_input}:0") != card.input.name {
            return Err(mismatch(format!(
                "card input '{}', graph input '{graph_input}'",
                card.input.name
            )));
        }
        if !session
            .outputs()
            .iter()
            .any(|o| o.name() == card.output.name)
        {
            return Err(mismatch(format!(
                "output '{}' not found in the graph",
                card.output.name
            )));
        }

        let shape = input_shape(card, width, height);
        let allocator = Allocator::default();
        let tensor_err = |e: ort::Error| mismatch(format!("input {shape:?}: {e}"));
        let input = match card.input.dtype {
            DType::F32 => {
                InputTensor::F32(Tensor::new(&allocator, shape.clone()).map_err(tensor_err)?)
            }
            DType::I32 => {
                InputTensor::I32(Tensor::new(&allocator, shape.clone()).map_err(tensor_err)?)
            }
            DType::U8 => {
                InputTensor::U8(Tensor::new(&allocator, shape.clone()).map_err(tensor_err)?)
            }
        };
        let mut binding = session
            .create_binding()
            .map_err(|e| load_error(&path, e.to_string()))?;
        let bind = match &input {
            InputTensor::F32(t) => binding.bind_input(&graph_input, t),
            InputTensor::I32(t) => binding.bind_input(&graph_input, t),
            InputTensor::U8(t) => binding.bind_input(&graph_input, t),
        };
        bind.map_err(|e| mismatch(format!("cannot bind input: {e}")))?;

        let mut backend = OrtBackend {
            name: format!("ort-{provider} x{}", config.threads.max(1)),
            session,
            binding,
            input,
            output: Tensor::new(&allocator, [1_usize]).map_err(tensor_err)?,
            nhwc_to_nchw: None,
            input_shape: shape,
            output_shape: Vec::new(),
        };
        backend.zero_input();
        backend.bind_output(card)?;
        tracing::info!(
            "onnxruntime: model '{}' runs on provider '{provider}' ({} threads)",
            card.id,
            config.threads.max(1)
        );
        Ok(backend)
    }

    fn zero_input(&mut self) {
        match self.input() {
            InputBuffer::F32(b) => b.fill(0.0),
            InputBuffer::I32(b) => b.fill(0),
            InputBuffer::U8(b) => b.fill(0),
        }
    }

    /// Learns the output shape from one run on the (zeroed) input, then binds a tensor of
    /// that shape so later runs write into it.
    fn bind_output(&mut self, card: &ModelCard) -> Result<(), BackendError> {
        let name = card.output.name.clone();
        let mismatch = |m: String| BackendError::CardMismatch {
            path: card.model_path().display().to_string(),
            message: m,
        };
        let cpu = ort::memory::MemoryInfo::default();
        self.binding
            .bind_output_to_device(&name, &cpu)
            .map_err(|e| mismatch(format!("cannot bind output '{name}': {e}")))?;
        let shape: Vec<usize> = {
            let outputs = self
                .session
                .run_binding(&self.binding)
                .map_err(|e| BackendError::Run(e.to_string()))?;
            let value = outputs
                .get(&name)
                .ok_or_else(|| mismatch(format!("output '{name}' not produced")))?;
            let (shape, _) = value
                .try_extract_tensor::<f32>()
                .map_err(|e| mismatch(format!("output '{name}' is not f32: {e}")))?;
            shape
                .iter()
                .map(|&d| usize::try_from(d).unwrap_or(0))
                .collect()
        };
        self.binding.clear_outputs();
        self.output = Tensor::new(&Allocator::default(), shape.clone())
            .map_err(|e| mismatch(format!("output {shape:?}: {e}")))?;
        self.binding
            .bind_output(&name, &mut self.output)
            .map_err(|e| mismatch(format!("cannot bind output '{name}': {e}")))?;
        self.output_shape = shape;
        if card.output.layout == crate::infer::model::TensorLayout::Nchw {
            if let [n, h, w, c] = self.output_shape[..] {
                // Expected NCHW spatial size from the input and the card's stride.
                let (ih, iw) = match card.input.layout {
                    crate::infer::model::TensorLayout::Nchw => {
                        (self.input_shape[2], self.input_shape[3])
                    }
                    _ => (self.input_shape[1], self.input_shape[2]),
                };
                let s = card.output.stride.max(1) as usize;
                let fits = |a: usize, b: usize| a == ih.div_ceil(s) && b == iw.div_ceil(s);
                if fits(h, w) && !fits(w, c) {
                    self.output_shape = vec![n, c, h, w];
                    self.nhwc_to_nchw = Some(vec![0.0; n * h * w * c]);
                }
            }
        }
        Ok(())
    }
}

impl Backend for OrtBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    fn output_shape(&self) -> &[usize] {
        &self.output_shape
    }

    fn input(&mut self) -> InputBuffer<'_> {
        match &mut self.input {
            InputTensor::F32(t) => InputBuffer::F32(t.extract_tensor_mut().1),
            InputTensor::I32(t) => InputBuffer::I32(t.extract_tensor_mut().1),
            InputTensor::U8(t) => InputBuffer::U8(t.extract_tensor_mut().1),
        }
    }

    fn run(&mut self) -> Result<&[f32], BackendError> {
        drop(
            self.session
                .run_binding(&self.binding)
                .map_err(|e| BackendError::Run(e.to_string()))?,
        );
        let out = self.output.extract_tensor().1;
        let Some(dst) = self.nhwc_to_nchw.as_mut() else {
            return Ok(out);
        };
        let [_, c, h, w] = self.output_shape[..] else {
            return Err(BackendError::Run("output is not 4-D".into()));
        };
        // NHWC [h][w][c] -> NCHW [c][h][w] (batch 1).
        for (i, px) in out.chunks_exact(c).enumerate() {
            let (y, x) = (i / w, i % w);
            for (ch, v) in px.iter().enumerate() {
                dst[(ch * h + y) * w + x] = *v;
            }
        }
        Ok(dst)
    }
}
