//! tract on the GPU (cargo feature `tract-cuda`): the same graph as the CPU backend, prepared
//! by tract's runtime registry under the name "gpu-or-cpu", which picks the CUDA runtime when
//! a driver and the CUDA libraries load (tract-cuda dlopens them, so the build needs no CUDA)
//! and tract's CPU runtime otherwise.

use std::sync::Arc;

// The facade links tract-cuda, whose runtime registers itself with tract-core's registry.
use tract as _;
use tract_linalg::multithread::Executor;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::runtime::{runtime_for_name, RunOptions, State};

use super::{input_shape, Backend, BackendError, InputBuffer};
use crate::model::{DType, ModelCard};

/// Runtime name asked of tract: CUDA when usable, else the CPU.
pub const GPU_RUNTIME: &str = "gpu-or-cpu";

/// Whether tract's CUDA runtime is usable here: `Ok(())`, or why not (no driver, no libraries).
pub fn cuda_status() -> Result<(), String> {
    match runtime_for_name("cuda") {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err("the cuda runtime is not linked into this build".into()),
        Err(e) => Err(format!("{e:#}")),
    }
}

pub struct TractGpuBackend {
    name: String,
    state: Box<dyn State>,
    input: Arc<Tensor>,
    input_shape: Vec<usize>,
    output_shape: Vec<usize>,
    output: Vec<f32>,
}

impl TractGpuBackend {
    /// Loads `card`'s network for a `width` x `height` input on the GPU if there is one.
    pub fn load(
        card: &ModelCard,
        threads: usize,
        width: u32,
        height: u32,
    ) -> Result<Self, BackendError> {
        let path = card.model_path();
        let path_s = path.display().to_string();
        let load_err = |e: anyhow::Error| BackendError::Load {
            path: path_s.clone(),
            message: format!("{e:#}"),
        };
        let mismatch = |m: String| BackendError::CardMismatch {
            path: path_s.clone(),
            message: m,
        };
        if !path.is_file() {
            return Err(BackendError::Load {
                path: path_s.clone(),
                message: "file not found".into(),
            });
        }
        let mut model = tract_onnx::onnx().model_for_path(&path).map_err(load_err)?;
        let shape = input_shape(card, width, height);
        let dt = match card.input.dtype {
            DType::F32 => f32::datum_type(),
            DType::I32 => i32::datum_type(),
            DType::U8 => u8::datum_type(),
        };
        model
            .set_input_fact(0, InferenceFact::dt_shape(dt, shape.clone()))
            .map_err(|e| mismatch(format!("input {shape:?} {dt:?}: {e:#}")))?;
        model
            .select_outputs_by_name([card.output.name.as_str()])
            .map_err(|e| mismatch(format!("output '{}' not found: {e:#}", card.output.name)))?;
        let typed = model
            .into_typed()
            .and_then(|m| m.into_decluttered())
            .map_err(|e| mismatch(format!("cannot type the graph for input {shape:?}: {e:#}")))?;
        let runtime = runtime_for_name(GPU_RUNTIME)
            .map_err(load_err)?
            .ok_or_else(|| BackendError::Unavailable(format!("tract runtime '{GPU_RUNTIME}'")))?;
        let options = RunOptions {
            executor: Some(if threads > 1 {
                Executor::multithread(threads)
            } else {
                Executor::SingleThread
            }),
            ..Default::default()
        };
        let runnable = runtime
            .prepare_with_options(typed, &options)
            .map_err(load_err)?;
        let output_shape: Vec<usize> = runnable
            .output_fact(0)
            .ok()
            .and_then(|f| f.shape.as_concrete().map(|s| s.to_vec()))
            .ok_or_else(|| mismatch("output shape is not fixed for this input size".into()))?;
        let state = runnable.spawn().map_err(load_err)?;
        tracing::info!(
            "tract: model '{}' runs on runtime '{}'",
            card.id,
            runtime.name()
        );
        Ok(TractGpuBackend {
            name: format!("tract-{} x{}", runtime.name(), threads.max(1)),
            state,
            input: Arc::new(Tensor::zero_dt(dt, &shape).map_err(load_err)?),
            input_shape: shape,
            output: vec![0.0; output_shape.iter().product()],
            output_shape,
        })
    }
}

impl Backend for TractGpuBackend {
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
        let tensor = Arc::make_mut(&mut self.input);
        let dt = tensor.datum_type();
        let buf = if dt == i32::datum_type() {
            tensor
                .to_plain_array_view_mut::<i32>()
                .ok()
                .and_then(|v| v.into_slice())
                .map(InputBuffer::I32)
        } else if dt == u8::datum_type() {
            tensor
                .to_plain_array_view_mut::<u8>()
                .ok()
                .and_then(|v| v.into_slice())
                .map(InputBuffer::U8)
        } else {
            tensor
                .to_plain_array_view_mut::<f32>()
                .ok()
                .and_then(|v| v.into_slice())
                .map(InputBuffer::F32)
        };
        buf.unwrap_or(InputBuffer::F32(&mut []))
    }

    fn run(&mut self) -> Result<&[f32], BackendError> {
        let input = TValue::from_const(Arc::clone(&self.input));
        let outputs = self
            .state
            .run(tvec![input])
            .map_err(|e| BackendError::Run(format!("{e:#}")))?;
        let out = outputs
            .first()
            .ok_or_else(|| BackendError::Run("the graph produced no output".into()))?;
        let view = out
            .try_as_plain_ram()
            .map_err(|e| BackendError::Run(format!("{e:#}")))?;
        let data = view
            .as_slice::<f32>()
            .map_err(|e| BackendError::Run(format!("output is not f32: {e:#}")))?;
        if data.len() != self.output.len() {
            return Err(BackendError::Run(format!(
                "output has {} values, expected {}",
                data.len(),
                self.output.len()
            )));
        }
        self.output.copy_from_slice(data);
        Ok(&self.output)
    }
}
