//! `edgepose eval`: COCO keypoint metrics of a results file against a COCO ground truth.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use crate::eval;

/// Arguments of `edgepose eval`.
///
/// Detections come from exactly one source, the `detections` group: today `--results`; a
/// model run over `--images` can join the group as another member.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("detections").required(true).args(["results"])))]
pub struct Args {
    /// COCO keypoint results json: a list of {image_id, category_id, keypoints, score}.
    #[arg(long, value_name = "DET.json")]
    pub results: Option<PathBuf>,
    /// COCO ground-truth json (person_keypoints_*.json).
    #[arg(long, value_name = "COCO.json")]
    pub annotations: PathBuf,
    /// Print the metrics as one json object instead of the pycocotools table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let gt = eval::load_ground_truth(&args.annotations)?;
    let Some(results_path) = args.results.as_deref() else {
        anyhow::bail!("eval: no detections given (use --results DET.json)");
    };
    let dets = eval::load_results(results_path)?;
    let metrics = eval::evaluate(&gt, &dets).with_context(|| {
        format!(
            "evaluating {} against {}",
            results_path.display(),
            args.annotations.display()
        )
    })?;
    print_metrics(&metrics, args.json)
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
