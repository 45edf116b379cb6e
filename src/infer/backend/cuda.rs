//! tract on the GPU (cargo feature `tract-cuda`): the same graph as the CPU backend, prepared
//! by tract's runtime registry under the name "gpu-or-cpu", which picks the CUDA runtime when
//! a driver and the CUDA libraries load (tract-cuda dlopens them, so the build needs no CUDA)
//! and tract's CPU runtime otherwise.

use std::sync::Arc;

// The facade links tract-cuda, whose runtime registers itself with tract-core's registry.
use tract as _;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::runtime::{runtime_for_name, State};

use super::tract::{copy_output, input_buffer, CheckedGraph};
use super::{Backend, BackendError, InputBuffer};
use crate::infer::model::ModelCard;

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
        let mut g = CheckedGraph::load(card, width, height)?;
        let typed = std::mem::take(&mut g.model)
            .into_typed()
            .and_then(|m| m.into_decluttered())
            .map_err(|e| g.untyped(e))?;
        let runtime = runtime_for_name(GPU_RUNTIME)
            .map_err(|e| g.load_err(e))?
            .ok_or_else(|| BackendError::Unavailable(format!("tract runtime '{GPU_RUNTIME}'")))?;
        let runnable = runtime
            .prepare_with_options(typed, &CheckedGraph::run_options(threads))
            .map_err(|e| g.load_err(e))?;
        let output_shape = g.fixed_shape(runnable.output_fact(0).ok())?;
        let state = runnable.spawn().map_err(|e| g.load_err(e))?;
        tracing::info!(
            "tract: model '{}' runs on runtime '{}'",
            card.id,
            runtime.name()
        );
        Ok(TractGpuBackend {
            name: format!("tract-{} x{}", runtime.name(), threads.max(1)),
            state,
            input: Arc::new(Tensor::zero_dt(g.dt, &g.shape).map_err(|e| g.load_err(e))?),
            input_shape: g.shape,
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
        input_buffer(&mut self.input)
    }

    fn run(&mut self) -> Result<&[f32], BackendError> {
        let input = TValue::from_const(Arc::clone(&self.input));
        let outputs = self
            .state
            .run(tvec![input])
            .map_err(|e| BackendError::Run(format!("{e:#}")))?;
        copy_output(&outputs, &mut self.output, &self.output_shape)?;
        Ok(&self.output)
    }
}
