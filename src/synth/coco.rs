//! Data-set writer: `DIR/images/NNNNNN.jpg` plus `DIR/annotations.json` in COCO
//! person-keypoints format, generated on all cores and identical for a given seed.
//!
//! Annotation conventions (also in the CLI help):
//! - keypoints are in pixel-index coordinates (the centre of pixel (i, j) is (i, j)), rounded to
//!   1/100 px; v = 0 (outside the image, x = y = 0), 1 (hidden behind a nearer figure or the
//!   far side of the head), 2 (visible);
//! - `area` is the visible silhouette area in pixels (the person's pixels not covered by a
//!   nearer person), `segmentation` is that silhouette as uncompressed RLE;
//! - `bbox` covers the whole silhouette, hidden parts included, and every labelled keypoint.

use super::figure::NUM_KEYPOINTS;
use super::scene::{PersonTruth, SceneConfig};
use super::{generate, SynthError};
use image::codecs::jpeg::JpegEncoder;
use serde::Serialize;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// COCO keypoint names, in COCO order (the decoder crate's table).
pub const KEYPOINT_NAMES: [&str; NUM_KEYPOINTS] = edgepose_decoder::skeleton::COCO17_NAMES;

/// The COCO person skeleton with 1-based keypoint indices, as COCO files write it: the
/// decoder crate's 0-based `COCO17_SKELETON` shifted by one.
pub const SKELETON: [[u8; 2]; 19] = {
    let edges = edgepose_decoder::skeleton::COCO17_SKELETON;
    let mut out = [[0u8; 2]; 19];
    let mut i = 0;
    while i < out.len() {
        out[i] = [edges[i].0 + 1, edges[i].1 + 1];
        i += 1;
    }
    out
};

/// Default JPEG quality: high enough that compression artefacts stay below the sensor noise.
pub const DEFAULT_JPEG_QUALITY: u8 = 90;

/// What to write.
#[derive(Clone, Debug)]
pub struct DatasetSpec {
    pub out: PathBuf,
    pub count: u64,
    pub seed: u64,
    pub scene: SceneConfig,
    pub jpeg_quality: u8,
    /// Worker threads; 0 = all cores.
    pub threads: usize,
}

/// What was written.
#[derive(Clone, Debug)]
pub struct DatasetSummary {
    pub images: u64,
    pub persons: u64,
    pub elapsed: Duration,
}

impl DatasetSummary {
    pub fn images_per_second(&self) -> f64 {
        self.images as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

#[derive(Serialize)]
struct CocoFile<'a> {
    info: Info,
    images: Vec<ImageEntry>,
    annotations: Vec<Annotation>,
    categories: [Category<'a>; 1],
}

#[derive(Serialize)]
struct Info {
    description: String,
    version: &'static str,
    seed: u64,
}

#[derive(Serialize)]
struct ImageEntry {
    id: u64,
    file_name: String,
    width: u32,
    height: u32,
}

#[derive(Serialize)]
struct Segmentation {
    counts: Vec<u32>,
    size: [u32; 2],
}

#[derive(Serialize)]
struct Annotation {
    id: u64,
    image_id: u64,
    category_id: u32,
    keypoints: Vec<f64>,
    num_keypoints: usize,
    bbox: [f64; 4],
    area: u32,
    iscrowd: u8,
    segmentation: Segmentation,
}

#[derive(Serialize)]
struct Category<'a> {
    id: u32,
    name: &'a str,
    supercategory: &'a str,
    keypoints: [&'a str; NUM_KEYPOINTS],
    skeleton: [[u8; 2]; 19],
}

/// Round to 1/100 so the JSON stays compact (far below annotation precision).
fn r2(v: f32) -> f64 {
    (f64::from(v) * 100.0).round() / 100.0
}

/// File name of image `index`.
pub fn image_file_name(index: u64) -> String {
    format!("{index:06}.jpg")
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> SynthError {
    let context = context.into();
    move |source| SynthError::Io { context, source }
}

fn write_jpeg(path: &Path, img: &image::RgbImage, quality: u8) -> Result<(), SynthError> {
    let file =
        std::fs::File::create(path).map_err(io_err(format!("creating {}", path.display())))?;
    let mut w = BufWriter::new(file);
    JpegEncoder::new_with_quality(&mut w, quality)
        .encode_image(img)
        .map_err(|source| SynthError::Encode {
            path: path.display().to_string(),
            source,
        })?;
    w.flush()
        .map_err(io_err(format!("writing {}", path.display())))
}

/// Generate the data set described by `spec` on all requested threads.
pub fn write_dataset(spec: &DatasetSpec) -> Result<DatasetSummary, SynthError> {
    spec.scene.validate()?;
    if spec.count == 0 {
        return Err(SynthError::Config("count must be at least 1".into()));
    }
    if !(1..=100).contains(&spec.jpeg_quality) {
        return Err(SynthError::Config(format!(
            "JPEG quality {} is outside 1..=100",
            spec.jpeg_quality
        )));
    }
    let start = Instant::now();
    let img_dir = spec.out.join("images");
    std::fs::create_dir_all(&img_dir).map_err(io_err(format!("creating {}", img_dir.display())))?;
    let threads = if spec.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        spec.threads
    }
    .min(usize::try_from(spec.count).unwrap_or(usize::MAX))
    .max(1);

    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let first_error: Mutex<Option<SynthError>> = Mutex::new(None);
    let results: Mutex<Vec<(u64, Vec<PersonTruth>)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut local = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= spec.count {
                        break;
                    }
                    let res = generate(&spec.scene, spec.seed, i).and_then(|r| {
                        write_jpeg(
                            &img_dir.join(image_file_name(i)),
                            &r.image,
                            spec.jpeg_quality,
                        )?;
                        Ok(r.persons)
                    });
                    match res {
                        Ok(p) => local.push((i, p)),
                        Err(e) => {
                            stop.store(true, Ordering::Relaxed);
                            if let Ok(mut slot) = first_error.lock() {
                                slot.get_or_insert(e);
                            }
                            break;
                        }
                    }
                }
                if let Ok(mut all) = results.lock() {
                    all.append(&mut local);
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|r| r.0);
    if results.len() as u64 != spec.count {
        return Err(SynthError::Layout(format!(
            "generated {} of {} images",
            results.len(),
            spec.count
        )));
    }

    let (w, h) = (spec.scene.width, spec.scene.height);
    let mut images = Vec::with_capacity(results.len());
    let mut annotations = Vec::new();
    for (i, persons) in &results {
        images.push(ImageEntry {
            id: *i,
            file_name: image_file_name(*i),
            width: w,
            height: h,
        });
        for p in persons {
            annotations.push(Annotation {
                id: annotations.len() as u64 + 1,
                image_id: *i,
                category_id: 1,
                keypoints: p
                    .keypoints
                    .iter()
                    .flat_map(|k| [r2(k[0]), r2(k[1]), f64::from(k[2])])
                    .collect(),
                num_keypoints: p.num_keypoints(),
                bbox: [r2(p.bbox[0]), r2(p.bbox[1]), r2(p.bbox[2]), r2(p.bbox[3])],
                area: p.area,
                iscrowd: 0,
                segmentation: Segmentation {
                    counts: p.mask_rle.clone(),
                    size: [h, w],
                },
            });
        }
    }
    let persons = annotations.len() as u64;
    let file = CocoFile {
        info: Info {
            description: format!(
                "edgepose synthetic people, {} images {}x{}, {}..={} people per image",
                spec.count, w, h, spec.scene.min_people, spec.scene.max_people
            ),
            version: env!("CARGO_PKG_VERSION"),
            seed: spec.seed,
        },
        images,
        annotations,
        categories: [Category {
            id: 1,
            name: "person",
            supercategory: "person",
            keypoints: KEYPOINT_NAMES,
            skeleton: SKELETON,
        }],
    };
    // Write to a temporary name and rename, so a reader never sees half a file.
    let final_path = spec.out.join("annotations.json");
    let tmp_path = spec.out.join("annotations.json.tmp");
    let f = std::fs::File::create(&tmp_path)
        .map_err(io_err(format!("creating {}", tmp_path.display())))?;
    let mut wtr = BufWriter::new(f);
    serde_json::to_writer(&mut wtr, &file).map_err(|e| SynthError::Io {
        context: format!("writing {}", tmp_path.display()),
        source: e.into(),
    })?;
    wtr.flush()
        .map_err(io_err(format!("writing {}", tmp_path.display())))?;
    drop(wtr);
    std::fs::rename(&tmp_path, &final_path).map_err(io_err(format!(
        "renaming {} to {}",
        tmp_path.display(),
        final_path.display()
    )))?;
    Ok(DatasetSummary {
        images: spec.count,
        persons,
        elapsed: start.elapsed(),
    })
}
