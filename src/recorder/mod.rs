//! MCAP recordings (`[recorder]`): the camera image as Foxglove `CompressedImage`, the
//! skeletons as Foxglove `ImageAnnotations`, the pose frames (the JSON-lines schema) and the
//! statistics, JSON-encoded with JSON schemas, so Foxglove shows the video with the skeletons
//! on it, and the `mcap` source plays a recording back through the pipeline.
//!
//! The recorder follows the pipeline's [`Tap`] on its own thread; if it falls behind (slow
//! disk) it skips frames and counts them: the pipeline never waits for it. Memory is the
//! tap's ring plus one MCAP chunk. Files rotate by size and duration.

pub mod foxglove;

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use crate::config::{ImageFormat, RecorderConfig};
use crate::pipeline::Stats;
use crate::pose::JsonFrame;
use crate::tap::{Tap, TapFrame, TapNext};

/// Topics written (and read back by the `mcap` source).
pub const TOPIC_IMAGE: &str = crate::source::mcap_replay::IMAGE_TOPIC;
pub const TOPIC_ANNOTATIONS: &str = "/camera/annotations";
pub const TOPIC_POSES: &str = "/poses";
pub const TOPIC_STATS: &str = "/stats";
/// How often blocked waits look at the stop flag.
const POLL: Duration = Duration::from_millis(100);
/// Interval of the `/stats` messages.
const STATS_INTERVAL: Duration = Duration::from_secs(1);
/// After a write error the recorder waits this long before opening a new file.
const RETRY_DELAY: Duration = Duration::from_secs(5);
/// MCAP chunk size: the writer's in-memory buffer.
const CHUNK_BYTES: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    #[error("recorder: {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("recorder: cannot start its thread: {0}")]
    Thread(std::io::Error),
}

/// What the recorder did, for logs and tests.
#[derive(Debug, Default)]
pub struct RecorderStats {
    pub frames: AtomicU64,
    pub images: AtomicU64,
    /// Frames that left the tap before the recorder wrote them.
    pub dropped: AtomicU64,
    pub write_errors: AtomicU64,
    pub files: AtomicU64,
}

/// A running recorder; [`Recorder::join`] after the tap was closed.
pub struct Recorder {
    thread: JoinHandle<()>,
    pub stats: Arc<RecorderStats>,
}

/// Everything the recorder thread needs.
pub struct RecorderInputs {
    pub tap: Arc<Tap>,
    pub stats: Arc<Stats>,
    pub device_id: u32,
    pub model: String,
}

impl Recorder {
    /// Checks that the first file can be created, then records on a thread of its own until
    /// the tap closes.
    pub fn start(
        config: RecorderConfig,
        inputs: RecorderInputs,
    ) -> Result<Recorder, RecorderError> {
        let first = next_free(&config);
        let segment = Segment::create(&config, &first, &inputs.model)?;
        let stats = Arc::new(RecorderStats::default());
        stats.files.fetch_add(1, Ordering::Relaxed);
        tracing::info!("recording to {}", first.display());
        let thread = {
            let stats = Arc::clone(&stats);
            std::thread::Builder::new()
                .name("recorder".into())
                .spawn(move || run(config, inputs, segment, first, &stats))
                .map_err(RecorderError::Thread)?
        };
        Ok(Recorder { thread, stats })
    }

    /// Waits until the recorder has written what the tap held and closed its file.
    pub fn join(self) -> Arc<RecorderStats> {
        let _ = self.thread.join();
        self.stats
    }
}

/// The first file number not in use (a restart does not overwrite the last recording).
fn next_free(config: &RecorderConfig) -> PathBuf {
    if !config.rotates() {
        return config.path.clone();
    }
    (0..)
        .map(|n| config.file_name(n))
        .find(|p| !p.exists())
        .unwrap_or_else(|| config.file_name(0))
}

/// One open MCAP file.
struct Segment {
    writer: mcap::Writer<BufWriter<File>>,
    path: PathBuf,
    image: u16,
    annotations: u16,
    poses: u16,
    stats: u16,
    opened: Instant,
    bytes: u64,
    sequence: u32,
}

impl Segment {
    fn create(config: &RecorderConfig, path: &Path, model: &str) -> Result<Segment, RecorderError> {
        let err = |message: String| RecorderError::File {
            path: path.to_owned(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(format!("creating the folder: {e}")))?;
        }
        let file = File::create(path).map_err(|e| err(format!("creating: {e}")))?;
        let options = mcap::WriteOptions::new()
            .compression(None)
            .profile("")
            .chunk_size(Some(CHUNK_BYTES));
        let mut writer = options
            .create(BufWriter::new(file))
            .map_err(|e| err(e.to_string()))?;
        let mut channel = |topic: &str, schema: &str, data: &str| -> Result<u16, RecorderError> {
            let schema_id = writer
                .add_schema(schema, "jsonschema", data.as_bytes())
                .map_err(|e| err(e.to_string()))?;
            let mut metadata = std::collections::BTreeMap::new();
            metadata.insert("model".to_owned(), model.to_owned());
            writer
                .add_channel(schema_id, topic, "json", &metadata)
                .map_err(|e| err(e.to_string()))
        };
        let image = if config.images {
            channel(
                TOPIC_IMAGE,
                "foxglove.CompressedImage",
                foxglove::COMPRESSED_IMAGE_SCHEMA,
            )?
        } else {
            0
        };
        let annotations = if config.annotations {
            channel(
                TOPIC_ANNOTATIONS,
                "foxglove.ImageAnnotations",
                foxglove::IMAGE_ANNOTATIONS_SCHEMA,
            )?
        } else {
            0
        };
        let poses = if config.poses {
            channel(
                TOPIC_POSES,
                "edgepose.PoseFrame",
                foxglove::POSE_FRAME_SCHEMA,
            )?
        } else {
            0
        };
        let stats = if config.stats {
            channel(TOPIC_STATS, "edgepose.Stats", foxglove::STATS_SCHEMA)?
        } else {
            0
        };
        Ok(Segment {
            writer,
            path: path.to_owned(),
            image,
            annotations,
            poses,
            stats,
            opened: Instant::now(),
            bytes: 0,
            sequence: 0,
        })
    }

    fn write(
        &mut self,
        channel: u16,
        sequence: u32,
        time_ns: u64,
        data: &[u8],
    ) -> mcap::McapResult<()> {
        if channel == 0 {
            return Ok(());
        }
        self.writer.write_to_known_channel(
            &mcap::records::MessageHeader {
                channel_id: channel,
                sequence,
                log_time: time_ns,
                publish_time: time_ns,
            },
            data,
        )?;
        self.bytes += data.len() as u64;
        Ok(())
    }

    fn finish(mut self) -> Result<PathBuf, (PathBuf, mcap::McapError)> {
        match self.writer.finish() {
            Ok(_) => Ok(self.path),
            Err(e) => Err((self.path, e)),
        }
    }
}

fn run(
    config: RecorderConfig,
    inputs: RecorderInputs,
    first: Segment,
    first_path: PathBuf,
    stats: &RecorderStats,
) {
    let RecorderInputs {
        tap,
        stats: pipeline_stats,
        device_id,
        model,
    } = inputs;
    if config.images {
        tap.want_images(true);
    }
    let mut files: std::collections::VecDeque<PathBuf> = [first_path].into();
    let mut segment = Some(first);
    let mut failed_at: Option<Instant> = None;
    let mut cursor = tap.cursor_at_end();
    let image_period =
        (config.image_max_fps > 0.0).then(|| Duration::from_secs_f64(1.0 / config.image_max_fps));
    let mut last_image: Option<Instant> = None;
    let mut last_stats = Instant::now();
    let max_bytes = config.max_mb.saturating_mul(1 << 20);
    let max_duration =
        (config.max_duration_s > 0.0).then(|| Duration::from_secs_f64(config.max_duration_s));
    loop {
        let before = cursor.missed;
        let frame = match tap.next(&mut cursor, POLL) {
            TapNext::Frame(f) => Some(f),
            TapNext::Timeout => None,
            TapNext::Closed => break,
        };
        stats
            .dropped
            .fetch_add(cursor.missed - before, Ordering::Relaxed);
        // Rotation, or a new file after a failed one.
        let full = segment.as_ref().is_some_and(|s| {
            (max_bytes > 0 && s.bytes >= max_bytes)
                || max_duration.is_some_and(|d| s.opened.elapsed() >= d)
        });
        if full {
            if let Some(s) = segment.take() {
                close(s, stats);
            }
        }
        if segment.is_none() && failed_at.is_none_or(|t| t.elapsed() >= RETRY_DELAY) {
            let path = next_free(&config);
            match Segment::create(&config, &path, &model) {
                Ok(s) => {
                    tracing::info!("recording to {}", path.display());
                    stats.files.fetch_add(1, Ordering::Relaxed);
                    files.push_back(path);
                    segment = Some(s);
                    failed_at = None;
                    while config.max_files > 0 && files.len() > config.max_files {
                        if let Some(old) = files.pop_front() {
                            if let Err(e) = std::fs::remove_file(&old) {
                                tracing::warn!("recorder: deleting {}: {e}", old.display());
                            }
                        }
                    }
                }
                Err(e) => {
                    stats.write_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("{e}; retrying in {} s", RETRY_DELAY.as_secs());
                    failed_at = Some(Instant::now());
                }
            }
        }
        let Some(s) = segment.as_mut() else {
            continue;
        };
        let mut result = Ok(());
        if let Some(f) = &frame {
            let image_due = image_period
                .is_none_or(|p| last_image.is_none_or(|t| f.published.duration_since(t) >= p));
            result = write_frame(s, &config, f, device_id, image_due, stats);
            if image_due && f.image.is_some() {
                last_image = Some(f.published);
            }
        }
        if result.is_ok() && config.stats && last_stats.elapsed() >= STATS_INTERVAL {
            last_stats = Instant::now();
            let text = foxglove::stats_json(&pipeline_stats, tap.rate_hz(), &model).to_string();
            let seq = s.sequence;
            result = s.write(s.stats, seq, now_ns(), text.as_bytes());
        }
        if let Err(e) = result {
            stats.write_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "recorder: writing {}: {e}; retrying with a new file in {} s",
                s.path.display(),
                RETRY_DELAY.as_secs()
            );
            if let Some(s) = segment.take() {
                close(s, stats);
            }
            failed_at = Some(Instant::now());
        }
    }
    if let Some(s) = segment.take() {
        close(s, stats);
    }
    if config.images {
        tap.want_images(false);
    }
}

fn close(s: Segment, stats: &RecorderStats) {
    match s.finish() {
        Ok(path) => tracing::info!("recording {} closed", path.display()),
        Err((path, e)) => {
            stats.write_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("recorder: closing {}: {e}", path.display());
        }
    }
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Writes one frame's messages; all carry the capture time, and the frame's `seq` (low 32
/// bits) as MCAP sequence so a replay keeps the live sequence numbers.
fn write_frame(
    s: &mut Segment,
    config: &RecorderConfig,
    f: &TapFrame,
    device_id: u32,
    image_due: bool,
    stats: &RecorderStats,
) -> mcap::McapResult<()> {
    let time_ns = f.poses.timestamp_us.saturating_mul(1000);
    let seq = f.poses.seq as u32;
    s.sequence = seq;
    if config.images && image_due {
        if let Some(image) = &f.image {
            match foxglove::compressed_image(
                image,
                time_ns,
                config.image_format,
                config.jpeg_quality,
            ) {
                Ok(msg) => {
                    s.write(s.image, seq, time_ns, msg.as_bytes())?;
                    stats.images.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => tracing::warn!("recorder: encoding frame {}: {e}", f.poses.seq),
            }
        }
    }
    if config.annotations {
        let msg = foxglove::image_annotations(&f.poses, time_ns).to_string();
        s.write(s.annotations, seq, time_ns, msg.as_bytes())?;
    }
    if config.poses {
        let msg = serde_json::to_string(&JsonFrame::from_poses(&f.poses, device_id))
            .map_err(|e| mcap::McapError::Io(std::io::Error::other(e)))?;
        s.write(s.poses, seq, time_ns, msg.as_bytes())?;
    }
    stats.frames.fetch_add(1, Ordering::Relaxed);
    Ok(())
}
