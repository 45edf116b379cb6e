//! `edgepose detect`: run a model on image files and print the persons.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use edgepose::infer::backend::BackendConfig;
use edgepose::infer::detector::Detector;
use edgepose::pose::JsonPerson;
use edgepose::source::images::read_image;
use edgepose::util::Size;

/// Arguments of `edgepose detect`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model name (a card in models/) or path to a card (.toml) or to a network (.onnx) whose
    /// card sits next to it.
    #[arg(long, default_value = edgepose::infer::model::DEFAULT_MODEL)]
    pub model: String,
    /// Image files (JPEG or PNG).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Print one JSON object per image instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write the image with the skeletons drawn (with several images, `_<n>` is added).
    #[arg(long, value_name = "OUT.png")]
    pub draw: Option<PathBuf>,
    /// Inference threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Network input size WxH (default: the model card's).
    #[arg(long, value_parser = Size::parse)]
    pub input_size: Option<Size>,
    /// Test-time augmentation (heatmap models): also run the mirrored image and average.
    #[arg(long)]
    pub tta_flip: bool,
    /// Test-time input scales, e.g. `1,1.5` (must include 1; heatmap models).
    #[arg(long, value_name = "S,S..", value_parser = super::parse_scale_list)]
    pub tta_scales: Option<super::ScaleList>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = BackendConfig {
        threads: args.threads.max(1),
        ..Default::default()
    };
    let mut detector = Detector::load(&args.model, &config, args.input_size)?;
    super::apply_tta_flags(&mut detector, args.tta_flip, args.tta_scales.as_ref())?;
    let mut failures = 0usize;
    let many = args.images.len() > 1;
    for (n, path) in args.images.iter().enumerate() {
        let result = read_image(path)
            .map_err(anyhow::Error::from)
            .and_then(|img| {
                let (persons, stats, times) = detector.detect(&img)?;
                Ok((img, persons, stats, times))
            });
        let (img, persons, stats, times) = match result {
            Ok(r) => r,
            Err(e) => {
                failures += 1;
                eprintln!("error: {e:#}");
                continue;
            }
        };
        if args.json {
            let line = serde_json::json!({
                "image": path.display().to_string(),
                "width": img.width(),
                "height": img.height(),
                "model": detector.card.id,
                "persons": JsonPerson::list(&persons),
                "stats": {
                    "peaks_dropped": stats.peaks_dropped,
                    "pairs_dropped": stats.pairs_dropped,
                    "persons_dropped": stats.persons_dropped,
                    "non_finite": stats.non_finite,
                },
                "ms": {
                    "preprocess": times.preprocess.as_secs_f64() * 1e3,
                    "inference": times.inference.as_secs_f64() * 1e3,
                    "decode": times.decode.as_secs_f64() * 1e3,
                },
            });
            println!("{line}");
        } else {
            println!(
                "{}: {} persons ({}x{}, {:.1} ms: pre {:.1}, infer {:.1}, decode {:.2})",
                path.display(),
                persons.len(),
                img.width(),
                img.height(),
                times.total().as_secs_f64() * 1e3,
                times.preprocess.as_secs_f64() * 1e3,
                times.inference.as_secs_f64() * 1e3,
                times.decode.as_secs_f64() * 1e3,
            );
            for (i, p) in persons.iter().enumerate() {
                println!(
                    "  person {i}: score {:.3}, {} keypoints",
                    p.score,
                    p.num_present()
                );
            }
        }
        if let Some(out) = &args.draw {
            let out = if many { numbered(out, n) } else { out.clone() };
            if let Err(e) = draw_on_image(&img, &persons, &out) {
                failures += 1;
                eprintln!("error: {}: {e:#}", out.display());
            }
        }
    }
    if failures > 0 {
        anyhow::bail!("{failures} of {} images failed", args.images.len());
    }
    Ok(())
}

fn numbered(path: &Path, n: usize) -> PathBuf {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("out");
    let ext = path.extension().and_then(|s| s.to_str()).unwrap_or("png");
    path.with_file_name(format!("{stem}_{n}.{ext}"))
}

/// Writes `image` with the persons' skeletons drawn over it, with the display renderer
/// (the same drawing as on a robot's screen) at the image's own resolution.
fn draw_on_image(
    image: &image::RgbImage,
    persons: &[edgepose::decoder::Person],
    out: &Path,
) -> anyhow::Result<()> {
    use edgepose::display::{Framebuffer, RenderOptions, Renderer};
    use embedded_graphics::pixelcolor::{Rgb565, RgbColor};

    let mut fb = Framebuffer::new(image.width(), image.height(), Rgb565::BLACK);
    let mut frame = edgepose::pose::FramePoses {
        width: image.width(),
        height: image.height(),
        ..Default::default()
    };
    frame.persons.extend(persons.iter().copied());
    let status = edgepose::display::Status {
        fps: 0.0,
        model: String::new(),
    };
    let options = RenderOptions {
        status_line: false,
        ..Default::default()
    };
    // The framebuffer's error type is Infallible.
    let _ = Renderer::new(options).render(&mut fb, &frame, Some(image), &status);
    fb.to_rgb_image()
        .save(out)
        .with_context(|| format!("{}: cannot write", out.display()))?;
    Ok(())
}
