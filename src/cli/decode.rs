//! `edgepose decode`: decode a saved network output (.npy) into persons.

use anyhow::{bail, Context};
use edgepose::pose::JsonPerson;
use edgepose::util::Size;
use edgepose_decoder::skeleton::{COCO17_NAMES, OPENPOSE_NUM_CHANNELS, SIMPLEPOSE_NUM_CHANNELS};
use edgepose_decoder::{
    decode_paf, decode_simplepose, DecodeStats, DecoderConfig, Geometry, Layout, Letterbox,
    MapView, Persons, Workspace,
};
use serde::Serialize;
use std::path::PathBuf;

/// Model family of the saved output.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Simple Pose: 50 channels at stride 4 (30 body parts, 18 keypoints, 2 training aids).
    Simplepose,
    /// OpenPose / tf-pose: 57 channels at stride 8 (18 heatmaps, background, 19 PAFs).
    Paf,
}

impl Family {
    fn channels(self) -> usize {
        match self {
            Family::Simplepose => SIMPLEPOSE_NUM_CHANNELS,
            Family::Paf => OPENPOSE_NUM_CHANNELS,
        }
    }
    fn stride(self) -> usize {
        match self {
            Family::Simplepose => 4,
            Family::Paf => 8,
        }
    }
}

/// Tensor layout on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutArg {
    Chw,
    Hwc,
}

/// Arguments of `edgepose decode`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model family that produced the maps.
    #[arg(long, value_enum)]
    pub family: Family,
    /// float32 .npy file: (C,H,W) or (H,W,C), optionally with a leading batch dimension of 1.
    #[arg(long)]
    pub maps: PathBuf,
    /// Tensor layout; guessed from the channel count when omitted.
    #[arg(long, value_enum)]
    pub layout: Option<LayoutArg>,
    /// Source image size WxH (default: stride × map size). The model input is taken to be
    /// the image scaled uniformly to fit and padded bottom/right.
    #[arg(long, value_name = "WxH", value_parser = Size::parse)]
    pub image_size: Option<Size>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// A loaded output tensor: data plus (channels, height, width, layout).
struct Maps {
    data: Vec<f32>,
    channels: usize,
    height: usize,
    width: usize,
    layout: Layout,
}

fn load_maps(args: &Args) -> anyhow::Result<Maps> {
    let path = &args.maps;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let npy = npyz::NpyFile::new(&bytes[..])
        .with_context(|| format!("{} is not a valid .npy file", path.display()))?;
    if npy.order() == npyz::Order::Fortran {
        bail!("{}: Fortran-order arrays are not supported", path.display());
    }
    let dtype = npy.dtype();
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let dims: [usize; 3] = match shape[..] {
        [a, b, c] => [a, b, c],
        [1, a, b, c] => [a, b, c],
        _ => bail!(
            "{}: expected shape (C,H,W) or (H,W,C) with an optional batch of 1, got {shape:?}",
            path.display()
        ),
    };
    let reader = npy.data::<f32>().map_err(|_| {
        anyhow::anyhow!(
            "{}: expected dtype float32, got {}",
            path.display(),
            dtype.descr()
        )
    })?;
    let data: Vec<f32> = reader
        .collect::<Result<_, _>>()
        .with_context(|| format!("{}: truncated data", path.display()))?;
    let want = args.family.channels();
    let layout = match args.layout {
        Some(LayoutArg::Chw) => Layout::Chw,
        Some(LayoutArg::Hwc) => Layout::Hwc,
        None if dims[0] == want => Layout::Chw,
        None if dims[2] == want => Layout::Hwc,
        None => bail!(
            "{}: shape {shape:?} has no axis of {want} channels for family {:?}",
            path.display(),
            args.family
        ),
    };
    let (channels, height, width) = match layout {
        Layout::Chw => (dims[0], dims[1], dims[2]),
        Layout::Hwc => (dims[2], dims[0], dims[1]),
    };
    if channels != want {
        bail!(
            "{}: {channels} channels, family {:?} needs {want}",
            path.display(),
            args.family
        );
    }
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        let bad = data.iter().filter(|v| !v.is_finite()).count();
        bail!(
            "{}: {bad} non-finite values (NaN/Inf), first at flat index {i}",
            path.display()
        );
    }
    Ok(Maps {
        data,
        channels,
        height,
        width,
        layout,
    })
}

#[derive(Serialize)]
struct JsonStats {
    peaks_dropped: u32,
    pairs_dropped: u32,
    persons_dropped: u32,
    non_finite: u32,
}

#[derive(Serialize)]
struct JsonOutput {
    persons: Vec<JsonPerson>,
    stats: JsonStats,
}

fn to_json(persons: &Persons, stats: &DecodeStats) -> JsonOutput {
    JsonOutput {
        persons: JsonPerson::list(persons),
        stats: JsonStats {
            peaks_dropped: stats.peaks_dropped,
            pairs_dropped: stats.pairs_dropped,
            persons_dropped: stats.persons_dropped,
            non_finite: stats.non_finite,
        },
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let maps = load_maps(&args)?;
    let map = MapView::new(
        &maps.data,
        maps.channels,
        maps.height,
        maps.width,
        maps.layout,
    )
    .with_context(|| format!("{}", args.maps.display()))?;
    let stride = args.family.stride();
    let input_w = (stride * maps.width) as f32;
    let input_h = (stride * maps.height) as f32;
    let (img_w, img_h) = match args.image_size {
        Some(s) => (s.width as f32, s.height as f32),
        None => (input_w, input_h),
    };
    // Uniform scale, padding bottom/right (the reference's preprocessing).
    let letterbox = Letterbox {
        scale: (input_w / img_w).min(input_h / img_h),
        pad_x: 0.0,
        pad_y: 0.0,
    };
    let mut ws = Box::new(Workspace::new());
    let (persons, stats) = match args.family {
        Family::Simplepose => decode_simplepose(
            &map,
            &Geometry::simplepose(letterbox, img_w, img_h),
            &DecoderConfig::default(),
            &mut ws,
        ),
        Family::Paf => decode_paf(
            &map,
            &Geometry::tfpose(letterbox, img_w, img_h),
            &DecoderConfig::openpose(),
            &mut ws,
        ),
    }
    .context("decode failed")?;
    if args.json {
        let out = serde_json::to_string_pretty(&to_json(&persons, &stats))?;
        println!("{out}");
        return Ok(());
    }
    println!(
        "{} person(s) in a {}x{} image ({:?}, {}x{} maps)",
        persons.len(),
        img_w,
        img_h,
        args.family,
        maps.width,
        maps.height
    );
    for (i, p) in persons.iter().enumerate() {
        println!(
            "person {i}: score {:.3}, {} parts, {} keypoints",
            p.score,
            p.num_parts,
            p.num_present()
        );
        for (name, k) in COCO17_NAMES.iter().zip(p.keypoints.iter()) {
            if k.present {
                println!("  {name:<15} {:>8.1} {:>8.1}  {:.2}", k.x, k.y, k.score);
            }
        }
    }
    println!(
        "stats: peaks_dropped {}, pairs_dropped {}, persons_dropped {}, non_finite {}",
        stats.peaks_dropped, stats.pairs_dropped, stats.persons_dropped, stats.non_finite
    );
    Ok(())
}
