//! `edgepose eval`: COCO keypoint metrics of a results file against a COCO ground truth.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use edgepose::eval;
use edgepose::util::Size;

/// Arguments of `edgepose eval`.
///
/// Detections come from exactly one source, the `detections` group: today `--results`; a
/// model run over `--images` can join the group as another member.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("detections").required(true).args(["results", "model"])))]
pub struct Args {
    /// COCO keypoint results json: a list of {image_id, category_id, keypoints, score}.
    #[arg(long, value_name = "DET.json")]
    pub results: Option<PathBuf>,
    /// Run this model (name or path) over the ground truth's images instead of reading results.
    #[arg(long, requires = "images")]
    pub model: Option<String>,
    /// Directory holding the ground truth's image files (with --model).
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
    /// Inference threads (with --model).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Backend and tract settings (with --model).
    #[command(flatten)]
    pub backend: super::bench::BackendArgs,
    /// Network input size WxH (with --model; default: the model card's).
    #[arg(long, value_parser = Size::parse)]
    pub input_size: Option<Size>,
    /// Test-time augmentation (heatmap models): also run the mirrored image and average.
    #[arg(long)]
    pub tta_flip: bool,
    /// Test-time input scales, e.g. `1,1.5` (must include 1; heatmap models).
    #[arg(long, value_name = "S,S..", value_parser = super::parse_scale_list)]
    pub tta_scales: Option<super::ScaleList>,
    /// Also write the model's detections as a COCO results file (with --model).
    #[arg(long, value_name = "DET.json")]
    pub save_results: Option<PathBuf>,
    /// COCO ground-truth json (person_keypoints_*.json).
    #[arg(long, value_name = "COCO.json")]
    pub annotations: PathBuf,
    /// Print the metrics as one json object instead of the pycocotools table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let gt = eval::load_ground_truth(&args.annotations)?;
    let mut failed = 0usize;
    let (dets, source) = match (&args.results, &args.model, &args.images) {
        (Some(path), _, _) => (eval::load_results(path)?, path.display().to_string()),
        (None, Some(model), Some(images)) => {
            let config = args.backend.config(args.threads);
            let mut det =
                edgepose::infer::detector::Detector::load(model, &config, args.input_size)?;
            super::apply_tta_flags(&mut det, args.tta_flip, args.tta_scales.as_ref())?;
            let (dets, failures) = eval::detect_coco(&mut det, &gt, images);
            for f in &failures {
                eprintln!("error: {f}");
            }
            failed = failures.len();
            if let Some(out) = &args.save_results {
                eval::save_results(out, &dets)?;
            }
            (dets, format!("model {}", det.card.id))
        }
        _ => anyhow::bail!(
            "eval: no detections given (use --results DET.json or --model NAME --images DIR)"
        ),
    };
    let metrics = eval::evaluate(&gt, &dets)
        .with_context(|| format!("evaluating {source} against {}", args.annotations.display()))?;
    print_metrics(&metrics, args.json)?;
    // The metrics of a partial run are printed (they say something), but they are not the
    // model's: a script must not take them for a clean evaluation.
    if failed > 0 {
        anyhow::bail!(
            "{failed} of {} images could not be evaluated (listed above): the metrics cover only the rest",
            gt.images.len()
        );
    }
    Ok(())
}

/// Prints metrics as the pycocotools table or as json (`{"AP": .., "AP50": .., ...}`).
pub fn print_metrics(metrics: &eval::Metrics, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, metrics).context("writing metrics json")?;
        writeln!(out).context("writing to stdout")?;
    } else {
        write!(out, "{metrics}").context("writing to stdout")?;
    }
    Ok(())
}
