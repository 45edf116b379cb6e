//! `edgepose synth`: write a synthetic COCO person-keypoints training set.

use anyhow::Context;
use edgepose::synth::coco::{write_dataset, DatasetSpec, DEFAULT_JPEG_QUALITY};
use edgepose::synth::SceneConfig;
use edgepose::util::Size;
use std::path::PathBuf;

/// Arguments of `edgepose synth`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Writes DIR/images/NNNNNN.jpg and DIR/annotations.json (COCO person \
keypoints). Keypoints use pixel-index coordinates (pixel (i, j) has its centre at (i, j)); \
v = 0 outside the image, 1 hidden (behind a nearer person or the far side of the head), \
2 visible. `area` is the visible silhouette pixel count, `segmentation` that silhouette as \
uncompressed RLE, `bbox` the whole figure. The same seed gives byte-identical output."
)]
pub struct Args {
    /// Output directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of images.
    #[arg(long, default_value_t = 1000)]
    pub count: u64,
    /// Image size WIDTHxHEIGHT.
    #[arg(long, default_value = "256x256", value_parser = Size::parse)]
    pub size: Size,
    /// Random seed: the data set is a pure function of the seed and the other options.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Fewest people per image.
    #[arg(long, default_value_t = 1)]
    pub min_people: usize,
    /// Most people per image.
    #[arg(long, default_value_t = 6)]
    pub max_people: usize,
    /// JPEG quality (1-100).
    #[arg(long, default_value_t = DEFAULT_JPEG_QUALITY)]
    pub quality: u8,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let spec = DatasetSpec {
        out: args.out.clone(),
        count: args.count,
        seed: args.seed,
        scene: SceneConfig {
            width: args.size.width,
            height: args.size.height,
            min_people: args.min_people,
            max_people: args.max_people,
        },
        jpeg_quality: args.quality,
        threads: args.threads,
    };
    let summary = write_dataset(&spec)
        .with_context(|| format!("generating synthetic data in {}", args.out.display()))?;
    tracing::info!(
        images = summary.images,
        persons = summary.persons,
        seconds = summary.elapsed.as_secs_f64(),
        images_per_second = summary.images_per_second(),
        "wrote {}",
        args.out.display()
    );
    Ok(())
}
