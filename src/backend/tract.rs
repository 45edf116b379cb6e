//! tract CPU backend: the model is loaded once, typed for the fixed input shape, optimised,
//! and run through one reused state and one reused input tensor.

use std::sync::Arc;

use tract_linalg::multithread::Executor;
use tract_onnx::prelude::*;

use super::{input_shape, Backend, BackendError, InputBuffer};
use crate::model::{DType, ModelCard};

pub struct TractBackend {
    name: String,
    state: TypedSimpleState,
    /// Shared with tract only during `run`; exclusively ours in between, so it is refilled in place.
    input: Arc<Tensor>,
    input_shape: Vec<usize>,
    output_shape: Vec<usize>,
    output: Vec<f32>,
}

impl TractBackend {
    /// Loads `card`'s network for a `width` x `height` input with `threads` inference threads.
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

        let inputs = model.input_outlets().map_err(load_err)?.to_vec();
        if inputs.len() != 1 {
            return Err(mismatch(format!(
                "expected 1 input, the graph has {}",
                inputs.len()
            )));
        }
        let graph_input = model.node(inputs[0].node).name.clone();
        if graph_input != card.input.name && format!("{graph_input}:0") != card.input.name {
            return Err(mismatch(format!(
                "card input '{}', graph input '{graph_input}'",
                card.input.name
            )));
        }
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
            .into_optimized()
            .map_err(|e| mismatch(format!("cannot type the graph for input {shape:?}: {e:#}")))?;
        let output_shape: Vec<usize> = typed
            .output_fact(0)
            .ok()
            .and_then(|f| f.shape.as_concrete().map(|s| s.to_vec()))
            .ok_or_else(|| mismatch("output shape is not fixed for this input size".into()))?;
        let executor = if threads > 1 {
            Executor::multithread(threads)
        } else {
            Executor::SingleThread
        };
        let options = RunOptions {
            executor: Some(executor),
            ..Default::default()
        };
        let plan = typed
            .into_runnable_with_options(&options)
            .map_err(load_err)?;
        let state = TypedSimpleState::new(&plan).map_err(load_err)?;
        let input = Tensor::zero_dt(dt, &shape).map_err(load_err)?;
        let output = vec![0.0; output_shape.iter().product()];
        Ok(TractBackend {
            name: format!("tract-cpu x{}", threads.max(1)),
            state,
            input: Arc::new(input),
            input_shape: shape,
            output_shape,
            output,
        })
    }
}

impl Backend for TractBackend {
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
        // tract drops its handle on the input when a run ends, so this is normally a no-op
        // borrow; make_mut only copies if a reference somehow survived.
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
        // A tensor made by Tensor::zero_dt is always plain and contiguous.
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
                "output has {} values, expected {} ({:?})",
                data.len(),
                self.output.len(),
                self.output_shape
            )));
        }
        self.output.copy_from_slice(data);
        Ok(&self.output)
    }
}
