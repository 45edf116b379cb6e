//! `edgepose bench`: per-stage timing of a model (pre-processing, inference, decoding, total)
//! at one or more thread counts, on a real image.

use std::path::PathBuf;
use std::time::Duration;

use edgepose::infer::backend::BackendConfig;
use edgepose::infer::detector::{Detector, StageTimes};
use edgepose::util::Size;

/// Arguments of `edgepose bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Models to measure (names or paths).
    #[arg(long = "model", required = true)]
    pub models: Vec<String>,
    /// Image to run on (JPEG/PNG).
    #[arg(long)]
    pub image: PathBuf,
    /// Thread counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub threads: Vec<usize>,
    /// Timed frames per configuration (after 3 warm-up frames).
    #[arg(long, default_value_t = 20)]
    pub frames: usize,
    /// Network input size WxH (default: each card's).
    #[arg(long, value_parser = Size::parse)]
    pub input_size: Option<Size>,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Backend choice and tract settings of the one-shot commands (`bench`, `eval`).
#[derive(clap::Args, Debug, Clone)]
pub struct BackendArgs {
    /// Inference backend: tract, ort (feature `ort`), tract-gpu (feature `tract-cuda`) or auto.
    #[arg(long, default_value = "tract", value_parser = parse_backend)]
    pub backend: edgepose::infer::backend::BackendKind,
    /// tract: run in half precision (the `f32_to_f16` transform; `model.backend.tract.fp16`).
    #[arg(long)]
    pub fp16: bool,
    /// tract: multi-threading gates PANELS,ELEMENTS,MACS (`model.backend.tract.*_threshold`;
    /// an empty field keeps tract's default), e.g. `16,,` or `64,32768,2097152`.
    #[arg(long, value_parser = parse_gates)]
    pub tract_gates: Option<[Option<usize>; 3]>,
}

impl BackendArgs {
    /// The backend configuration these flags ask for, with `threads` inference threads.
    pub fn config(&self, threads: usize) -> BackendConfig {
        let [panel, element, mac] = self.tract_gates.unwrap_or_default();
        BackendConfig {
            kind: self.backend,
            threads: threads.max(1),
            tract: edgepose::infer::backend::TractConfig {
                fp16: self.fp16,
                panel_threshold: panel,
                element_threshold: element,
                mac_threshold: mac,
            },
            ..Default::default()
        }
    }
}

fn parse_backend(s: &str) -> Result<edgepose::infer::backend::BackendKind, String> {
    serde::Deserialize::deserialize(
        serde::de::value::StrDeserializer::<serde::de::value::Error>::new(s),
    )
    .map_err(|e| format!("{e} (tract, ort, tract-gpu, auto)"))
}

fn parse_gates(s: &str) -> Result<[Option<usize>; 3], String> {
    let fields: Vec<&str> = s.split(',').collect();
    let [p, e, m] = fields[..] else {
        return Err(format!("'{s}': expected PANELS,ELEMENTS,MACS"));
    };
    let num = |f: &str| -> Result<Option<usize>, String> {
        let f = f.trim();
        if f.is_empty() {
            return Ok(None);
        }
        f.parse()
            .map(Some)
            .map_err(|_| format!("'{f}' in '{s}' is not a count"))
    };
    Ok([num(p)?, num(e)?, num(m)?])
}

/// Warm-up frames before timing (first runs pay for lazy allocations and cold caches).
const WARMUP_FRAMES: usize = 3;

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v.get(v.len() / 2)
        .map(|d| d.as_secs_f64() * 1e3)
        .unwrap_or(f64::NAN)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let image = edgepose::source::images::read_image(&args.image)?;
    if !args.json {
        println!(
            "{:<30} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9}",
            "model", "input", "threads", "pre ms", "infer ms", "decode ms", "total ms"
        );
    }
    for model in &args.models {
        for &threads in &args.threads {
            let config = args.backend.config(threads);
            let mut det = Detector::load(model, &config, args.input_size)?;
            for _ in 0..WARMUP_FRAMES {
                det.detect(&image)?;
            }
            let mut all: Vec<StageTimes> = Vec::with_capacity(args.frames);
            for _ in 0..args.frames.max(1) {
                all.push(det.detect(&image)?.2);
            }
            let pre = median(all.iter().map(|t| t.preprocess).collect());
            let inf = median(all.iter().map(|t| t.inference).collect());
            let dec = median(all.iter().map(|t| t.decode).collect());
            let tot = median(all.iter().map(|t| t.total()).collect());
            let (w, h) = det.input_size();
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"model": det.card.id, "input": format!("{w}x{h}"), "threads": threads,
                        "backend": det.backend_name(), "frames": all.len(),
                        "preprocess_ms": pre, "inference_ms": inf, "decode_ms": dec, "total_ms": tot})
                );
            } else {
                println!(
                    "{:<30} {:>9} {:>7} {:>9.2} {:>9.2} {:>9.3} {:>9.2}",
                    det.card.id,
                    format!("{w}x{h}"),
                    threads,
                    pre,
                    inf,
                    dec,
                    tot
                );
            }
        }
    }
    Ok(())
}
