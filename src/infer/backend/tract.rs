//! tract CPU backend: the model is loaded once, typed for the fixed input shape, optimised,
//! and run through one reused state and one reused input tensor. Worker threads share the
//! optimised plan (weights included) behind an `Arc`; each gets its own state ([`Backend::fork`]).

use std::sync::Arc;

use tract_linalg::multithread::Executor;
use tract_onnx::prelude::*;

use super::{input_shape, Backend, BackendError, InputBuffer, TractConfig};
use crate::infer::model::{DType, ModelCard};

pub struct TractBackend {
    name: String,
    /// The optimised plan with the weights, shared by every worker's backend.
    plan: Arc<TypedRunnableModel>,
    state: TypedSimpleState,
    /// Shared with tract only during `run`; exclusively ours in between, so it is refilled in place.
    input: Arc<Tensor>,
    /// The graph runs in f16 (`TractConfig::fp16`): the f32 input and output are converted.
    fp16: bool,
    input_shape: Vec<usize>,
    output_shape: Vec<usize>,
    output: Vec<f32>,
}

/// A card's ONNX graph, checked against the card and typed for a fixed input shape: the part
/// of loading shared by the CPU backend and tract's GPU runtime (`super::cuda`).
pub(super) struct CheckedGraph {
    pub model: InferenceModel,
    pub shape: Vec<usize>,
    pub dt: DatumType,
    pub path: String,
}

impl CheckedGraph {
    /// Reads `card`'s network, checks its single input and named output against the card and
    /// fixes the input to `width` x `height`.
    pub fn load(card: &ModelCard, width: u32, height: u32) -> Result<Self, BackendError> {
        let path = card.model_path();
        let path_s = path.display().to_string();
        if !path.is_file() {
            return Err(BackendError::Load {
                path: path_s,
                message: "file not found".into(),
            });
        }
        let mut g = CheckedGraph {
            model: InferenceModel::default(),
            shape: input_shape(card, width, height),
            dt: match card.input.dtype {
                DType::F32 => f32::datum_type(),
                DType::I32 => i32::datum_type(),
                DType::U8 => u8::datum_type(),
            },
            path: path_s,
        };
        g.model = tract_onnx::onnx()
            .model_for_path(&path)
            .map_err(|e| g.load_err(e))?;
        let inputs = g.model.input_outlets().map_err(|e| g.load_err(e))?.to_vec();
        if inputs.len() != 1 {
            return Err(g.mismatch(format!("expected 1 input, the graph has {}", inputs.len())));
        }
        let graph_input = g.model.node(inputs[0].node).name.clone();
        if graph_input != card.input.name && format!("{graph_input}:0") != card.input.name {
            return Err(g.mismatch(format!(
                "card input '{}', graph input '{graph_input}'",
                card.input.name
            )));
        }
        let fact = InferenceFact::dt_shape(g.dt, g.shape.clone());
        if let Err(e) = g.model.set_input_fact(0, fact) {
            return Err(g.mismatch(format!("input {:?} {:?}: {e:#}", g.shape, g.dt)));
        }
        if let Err(e) = g.model.select_outputs_by_name([card.output.name.as_str()]) {
            return Err(g.mismatch(format!("output '{}' not found: {e:#}", card.output.name)));
        }
        Ok(g)
    }

    pub fn load_err(&self, e: anyhow::Error) -> BackendError {
        BackendError::Load {
            path: self.path.clone(),
            message: format!("{e:#}"),
        }
    }

    pub fn mismatch(&self, message: String) -> BackendError {
        BackendError::CardMismatch {
            path: self.path.clone(),
            message,
        }
    }

    /// The error for a graph that does not type (or optimise) at this input shape.
    pub fn untyped(&self, e: anyhow::Error) -> BackendError {
        self.mismatch(format!(
            "cannot type the graph for input {:?}: {e:#}",
            self.shape
        ))
    }

    /// Run options with `threads` inference threads.
    pub fn run_options(threads: usize) -> RunOptions {
        RunOptions {
            executor: Some(if threads > 1 {
                Executor::multithread(threads)
            } else {
                Executor::SingleThread
            }),
            ..Default::default()
        }
    }

    /// The fixed output shape of an output fact, or the card-mismatch error.
    pub fn fixed_shape(&self, fact: Option<&TypedFact>) -> Result<Vec<usize>, BackendError> {
        fact.and_then(|f| f.shape.as_concrete().map(|s| s.to_vec()))
            .ok_or_else(|| self.mismatch("output shape is not fixed for this input size".into()))
    }
}

/// The input tensor as the typed buffer pre-processing fills.
pub(super) fn input_buffer(input: &mut Arc<Tensor>) -> InputBuffer<'_> {
    // tract drops its handle on the input when a run ends, so this is normally a no-op
    // borrow; make_mut only copies if a reference somehow survived.
    let tensor = Arc::make_mut(input);
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

/// Copies the graph's first output into the reused `output` buffer.
pub(super) fn copy_output(
    outputs: &TVec<TValue>,
    output: &mut [f32],
    shape: &[usize],
) -> Result<(), BackendError> {
    let out = outputs
        .first()
        .ok_or_else(|| BackendError::Run("the graph produced no output".into()))?;
    let view = out
        .try_as_plain_ram()
        .map_err(|e| BackendError::Run(format!("{e:#}")))?;
    let data = view
        .as_slice::<f32>()
        .map_err(|e| BackendError::Run(format!("output is not f32: {e:#}")))?;
    if data.len() != output.len() {
        return Err(BackendError::Run(format!(
            "output has {} values, expected {} ({shape:?})",
            data.len(),
            output.len()
        )));
    }
    output.copy_from_slice(data);
    Ok(())
}

impl TractBackend {
    /// Loads `card`'s network for a `width` x `height` input with `threads` inference threads.
    pub fn load(
        card: &ModelCard,
        threads: usize,
        tuning: &TractConfig,
        width: u32,
        height: u32,
    ) -> Result<Self, BackendError> {
        apply_threading_gates(tuning);
        let mut g = CheckedGraph::load(card, width, height)?;
        // Each step consumes the previous graph, so the ONNX-level model and the decluttered
        // one are freed as soon as the next exists: only the optimised plan stays.
        let typed = std::mem::take(&mut g.model)
            .into_typed()
            .and_then(|m| m.into_decluttered())
            .map_err(|e| g.untyped(e))?;
        let typed = if tuning.fp16 {
            to_f16(typed).map_err(|e| g.untyped(e))?
        } else {
            typed
        };
        let typed = typed.into_optimized().map_err(|e| g.untyped(e))?;
        let output_shape = g.fixed_shape(typed.output_fact(0).ok())?;
        let plan = typed
            .into_runnable_with_options(&CheckedGraph::run_options(threads))
            .map_err(|e| g.load_err(e))?;
        let state = TypedSimpleState::new(&plan).map_err(|e| g.load_err(e))?;
        let input = Tensor::zero_dt(g.dt, &g.shape).map_err(|e| g.load_err(e))?;
        let output = vec![0.0; output_shape.iter().product()];
        Ok(TractBackend {
            name: format!(
                "tract-cpu{} x{}",
                if tuning.fp16 { "-f16" } else { "" },
                threads.max(1)
            ),
            plan,
            state,
            input: Arc::new(input),
            fp16: tuning.fp16,
            input_shape: g.shape,
            output_shape,
            output,
        })
    }
}

/// Sets tract's process-wide multi-threading gates that `tuning` names.
fn apply_threading_gates(tuning: &TractConfig) {
    use tract_linalg::multithread as mt;
    if let Some(v) = tuning.panel_threshold {
        mt::set_threading_panel_threshold(v);
    }
    if let Some(v) = tuning.element_threshold {
        mt::set_threading_element_threshold(v);
    }
    if let Some(v) = tuning.mac_threshold {
        mt::set_threading_mac_threshold(v);
    }
}

/// tract's f32-to-f16 transform: weights and activations in half precision. The graph's f32
/// input and output become f16 too; `run` converts at both ends.
fn to_f16(mut typed: TypedModel) -> TractResult<TypedModel> {
    let translator = tract_onnx::tract_core::floats::FloatPrecisionTranslator::new(
        f32::datum_type(),
        f16::datum_type(),
    );
    typed.transform(&translator)?;
    Ok(typed)
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
        input_buffer(&mut self.input)
    }

    fn run(&mut self) -> Result<&[f32], BackendError> {
        let run_err = |e: anyhow::Error| BackendError::Run(format!("{e:#}"));
        let input = if self.fp16 && self.input.datum_type() == f32::datum_type() {
            TValue::from(self.input.cast_to::<f16>().map_err(run_err)?.into_owned())
        } else {
            TValue::from_const(Arc::clone(&self.input))
        };
        let outputs = self.state.run(tvec![input]).map_err(run_err)?;
        if self.fp16 {
            let out = outputs
                .first()
                .ok_or_else(|| BackendError::Run("the graph produced no output".into()))?
                .cast_to::<f32>()
                .map_err(run_err)?
                .into_owned();
            copy_output(
                &tvec![out.into_tvalue()],
                &mut self.output,
                &self.output_shape,
            )?;
        } else {
            copy_output(&outputs, &mut self.output, &self.output_shape)?;
        }
        Ok(&self.output)
    }

    fn fork(&self) -> Option<Result<Box<dyn Backend>, BackendError>> {
        let fork = || -> TractResult<TractBackend> {
            let input = Tensor::zero_dt(self.input.datum_type(), &self.input_shape)?;
            Ok(TractBackend {
                name: self.name.clone(),
                plan: Arc::clone(&self.plan),
                state: TypedSimpleState::new(&self.plan)?,
                input: Arc::new(input),
                fp16: self.fp16,
                input_shape: self.input_shape.clone(),
                output_shape: self.output_shape.clone(),
                output: vec![0.0; self.output.len()],
            })
        };
        Some(
            fork()
                .map(|b| Box::new(b) as Box<dyn Backend>)
                .map_err(|e| BackendError::Run(format!("cannot start another worker: {e:#}"))),
        )
    }
}
