//! Synthetic people: the training-data generator (`edgepose synth`) and the renderer behind
//! the simulation camera (`source::synthetic`, the layer above).
//!
//! People are articulated 3-D stick-and-capsule figures posed from a [`pose_prior`], projected
//! orthographically and drawn as shaded, outlined, anti-aliased shapes ([`figure`],
//! [`render`]) over cluttered procedural backgrounds. Ground truth (COCO-17 keypoints with
//! visibility, boxes, silhouette masks) comes from the same geometry ([`scene`]), so it is
//! exact. Everything is driven by a seeded ChaCha8 stream per image: the same seed and index
//! give the same image on every run and with any number of threads.

pub mod coco;
pub mod figure;
pub mod pose_prior;
pub mod render;
pub mod scene;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use scene::{PersonTruth, Rendered, SceneConfig};

/// Errors of the synthetic generator.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// The requested configuration is unusable.
    #[error("invalid synth configuration: {0}")]
    Config(String),
    /// The people could not be placed (image far too small for the requested count).
    #[error("scene layout failed: {0}")]
    Layout(String),
    /// Writing the data set failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Encoding an image failed.
    #[error("encoding {path}: {source}")]
    Encode {
        path: String,
        #[source]
        source: image::ImageError,
    },
}

/// The random stream of image `index` of data set `seed`: independent per image, so images
/// can be generated in any order on any number of threads.
pub fn image_rng(seed: u64, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    rng
}

/// Generate image `index` of the data set `seed`.
pub fn generate(cfg: &SceneConfig, seed: u64, index: u64) -> Result<Rendered, SynthError> {
    scene::random_scene(&mut image_rng(seed, index), cfg)
}
