//! tract's CUDA runtime (feature `tract-cuda`) on a machine without a GPU: the build needs no
//! CUDA, `cuda_status` says why CUDA is not usable, and the `tract-gpu` backend falls back to
//! tract's CPU runtime ("gpu-or-cpu") with the same outputs as the plain tract backend.
//! On a machine with a driver the same test compares the GPU against the CPU.
#![cfg(feature = "tract-cuda")]

use edgepose::infer::backend::{self, cuda, BackendConfig, BackendKind};
use edgepose::infer::model::ModelCard;

/// Tolerances relative to the output's largest magnitude (at least 1): heatmaps stay in
/// [0, 1], but raw regression heads (MoveNet's) reach tens of cells.
///
/// CPU fallback: the same kernels on the same graph (tract may fuse differently once the
/// registry prepared it), so only float summation order differs.
const CPU_REL_TOL: f32 = 1e-4;
/// A real GPU (cuDNN/cuBLAS kernels, TF32 off): differences grow with depth, still far below
/// a heatmap cell's contrast.
const GPU_REL_TOL: f32 = 5e-3;

fn card(id: &str) -> ModelCard {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/").to_owned() + id + ".toml";
    ModelCard::load(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A deterministic, image-like input (smooth gradients) in whatever type the card asks for.
fn fill(input: backend::InputBuffer<'_>) {
    let value = |i: usize, n: usize| {
        let t = i as f32 / n.max(1) as f32;
        0.5 + 0.4 * (t * 37.0).sin() * (t * 11.0).cos()
    };
    match input {
        backend::InputBuffer::F32(b) => {
            let n = b.len();
            b.iter_mut().enumerate().for_each(|(i, v)| *v = value(i, n));
        }
        backend::InputBuffer::I32(b) => {
            let n = b.len();
            b.iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = (value(i, n) * 255.0) as i32);
        }
        backend::InputBuffer::U8(b) => {
            let n = b.len();
            b.iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = (value(i, n) * 255.0) as u8);
        }
    }
}

#[test]
fn gpu_or_cpu_matches_tract_cpu() {
    let status = cuda::cuda_status();
    eprintln!("cuda runtime: {status:?}");
    let gpu_cfg = BackendConfig {
        kind: BackendKind::TractGpu,
        ..Default::default()
    };
    for id in ["imhn-edge-fp32", "movenet-multipose-lightning"] {
        let card = card(id);
        let (w, h) = (card.input.width, card.input.height);
        let mut cpu = backend::open(&card, &BackendConfig::default(), w, h).expect("tract loads");
        let mut gpu = backend::open(&card, &gpu_cfg, w, h)
            .unwrap_or_else(|e| panic!("tract-gpu loads {id} (falls back to the CPU): {e}"));
        assert_eq!(gpu.input_shape(), cpu.input_shape(), "{id}");
        assert_eq!(gpu.output_shape(), cpu.output_shape(), "{id}");
        fill(cpu.input());
        fill(gpu.input());
        let a = cpu.run().expect("cpu runs").to_vec();
        let b = gpu.run().expect("gpu-or-cpu runs").to_vec();
        assert_eq!(a.len(), b.len(), "{id}");
        assert!(a.iter().any(|v| v.abs() > 1e-3), "{id}: all-zero output");
        let max = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        let scale = a.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let tol = scale
            * if status.is_ok() {
                GPU_REL_TOL
            } else {
                CPU_REL_TOL
            };
        eprintln!(
            "{id}: backend {} |cpu - gpu-or-cpu| max {max:.2e}",
            gpu.name()
        );
        assert!(max <= tol, "{id}: max abs difference {max} > {tol}");
    }
}

#[test]
fn cuda_status_explains_a_missing_gpu() {
    if let Err(why) = cuda::cuda_status() {
        assert!(!why.trim().is_empty(), "an empty reason helps nobody");
        eprintln!("no CUDA here: {why}");
    }
}
