//! Scenes: random layouts of figures, the shared renderer (background, figures in depth
//! order, camera effects) and the ground truth it implies (COCO visibility, boxes, masks).

use super::figure::{Appearance, Figure, Placement, Proportions, Shape, NUM_KEYPOINTS};
use super::pose_prior::{sample_pose, sample_yaw, Activity};
use super::render::{self, Canvas, Light, PostFx};
use super::SynthError;
use image::RgbImage;
use rand::RngExt;

/// COCO visibility: not labelled (outside the image).
pub const V_UNLABELED: u8 = 0;
/// COCO visibility: labelled but hidden (behind a nearer figure, or the far side of the head).
pub const V_OCCLUDED: u8 = 1;
/// COCO visibility: labelled and visible.
pub const V_VISIBLE: u8 = 2;

/// Smallest person height as a fraction of the image height.
pub const MIN_HEIGHT_FRAC: f32 = 0.25;
/// Largest person height as a fraction of the image height.
pub const MAX_HEIGHT_FRAC: f32 = 0.9;
/// A random person is kept only with at least this many visible (v = 2) keypoints, so every
/// annotated person is actually recognisable in the image.
const MIN_VISIBLE_KEYPOINTS: usize = 5;
/// Placement attempts per person before giving up on that person.
const PLACEMENT_TRIES: usize = 24;

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SceneConfig {
    pub width: u32,
    pub height: u32,
    pub min_people: usize,
    pub max_people: usize,
}

impl Default for SceneConfig {
    fn default() -> Self {
        SceneConfig {
            width: 256,
            height: 256,
            min_people: 1,
            max_people: 6,
        }
    }
}

impl SceneConfig {
    pub fn validate(&self) -> Result<(), SynthError> {
        if self.width < 16 || self.height < 16 || self.width > 8192 || self.height > 8192 {
            return Err(SynthError::Config(format!(
                "image size {}x{} is outside 16x16..8192x8192",
                self.width, self.height
            )));
        }
        if self.min_people == 0 || self.min_people > self.max_people || self.max_people > 32 {
            return Err(SynthError::Config(format!(
                "people range {}..={} must satisfy 1 <= min <= max <= 32",
                self.min_people, self.max_people
            )));
        }
        Ok(())
    }
}

/// One person's ground truth.
#[derive(Clone, Debug, PartialEq)]
pub struct PersonTruth {
    /// (x, y, v) per COCO keypoint; x = y = 0 when v = 0 (COCO convention).
    pub keypoints: [[f32; 3]; NUM_KEYPOINTS],
    /// Box (x, y, w, h) around the whole figure silhouette (hidden parts included) and its
    /// labelled keypoints, clipped to [0, width] x [0, height].
    pub bbox: [f32; 4],
    /// Visible silhouette area in pixels (not covered by nearer figures).
    pub area: u32,
    /// Standing height in pixels.
    pub height_px: f32,
    /// Visible silhouette as COCO uncompressed RLE counts (column-major, starting with 0s).
    pub mask_rle: Vec<u32>,
}

impl PersonTruth {
    /// Number of labelled keypoints (v > 0), COCO's `num_keypoints`.
    pub fn num_keypoints(&self) -> usize {
        self.keypoints.iter().filter(|k| k[2] > 0.0).count()
    }
}

/// A rendered scene.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub image: RgbImage,
    /// Persons in drawing order (back to front).
    pub persons: Vec<PersonTruth>,
}

/// The global painter's list: (figure index, shape), back to front.
pub fn draw_list(figures: &[Figure]) -> Vec<(usize, Shape)> {
    let mut out = Vec::new();
    for (i, f) in figures.iter().enumerate() {
        out.extend(f.shapes().into_iter().map(|s| (i, s)));
    }
    out
}

/// COCO keypoints with visibility for each figure, given the draw order: a keypoint is hidden
/// when a shape drawn after its own shapes (and not part of it) covers its pixel.
pub fn keypoints_with_visibility(
    figures: &[Figure],
    list: &[(usize, Shape)],
    width: u32,
    height: u32,
) -> Vec<[[f32; 3]; NUM_KEYPOINTS]> {
    let (wf, hf) = (width as f32, height as f32);
    figures
        .iter()
        .enumerate()
        .map(|(fi, f)| {
            let pr = f.project();
            let mut out = [[0.0f32; 3]; NUM_KEYPOINTS];
            for (k, slot) in out.iter_mut().enumerate() {
                let p = pr.keypoints[k];
                // Pixel-index convention: the image spans [-0.5, w - 0.5); keep labelled points
                // on real pixels.
                if !(p[0] >= 0.0 && p[1] >= 0.0 && p[0] <= wf - 1.0 && p[1] <= hf - 1.0) {
                    continue;
                }
                let owner = |(i, s): &(usize, Shape)| *i == fi && s.owns & (1u32 << k) != 0;
                let after_own = list.iter().rposition(owner).map_or(0, |i| i + 1);
                let hidden = pr.self_hidden[k]
                    || list[after_own..]
                        .iter()
                        .any(|e| !owner(e) && e.1.geom.sdf(p) < 0.0);
                *slot = [p[0], p[1], if hidden { 1.0 } else { 2.0 }];
            }
            out
        })
        .collect()
}

/// Render `figures` (already in back-to-front order) over `background` and compute the
/// ground truth. `rng` drives only the camera noise.
pub fn render(
    figures: &[Figure],
    background: &Canvas,
    light: &Light,
    post: &PostFx,
    rng: &mut impl RngExt,
) -> Rendered {
    let (w, h) = (background.width, background.height);
    let mut cv = background.clone();
    let list = draw_list(figures);
    let mut mask = vec![0u8; (w * h) as usize];
    let mut extents: Vec<Option<(u32, u32, u32, u32)>> = vec![None; figures.len()];
    for (fi, shape) in &list {
        // Mask ids are figure index + 1; 0 is background. Props (owns == 0) are not the person.
        let id = (*fi + 1).min(255) as u8;
        let m = if shape.owns != 0 {
            Some((mask.as_mut_slice(), id))
        } else {
            None
        };
        render::fill(
            &mut cv,
            &shape.geom,
            &shape.paint,
            light,
            m,
            &mut extents[*fi],
        );
    }
    post.apply(&mut cv, rng);
    let kps = keypoints_with_visibility(figures, &list, w, h);
    let persons = figures
        .iter()
        .enumerate()
        .map(|(fi, f)| {
            let id = (fi + 1).min(255) as u8;
            let keypoints = kps[fi];
            // Box: silhouette extent, grown to include every labelled keypoint.
            let (mut x0, mut y0, mut x1, mut y1) = match extents[fi] {
                Some((a, b, c, d)) => (a as f32, b as f32, c as f32, d as f32),
                None => (f32::MAX, f32::MAX, f32::MIN, f32::MIN),
            };
            for k in keypoints.iter().filter(|k| k[2] > 0.0) {
                x0 = x0.min(k[0]);
                y0 = y0.min(k[1]);
                x1 = x1.max(k[0]);
                y1 = y1.max(k[1]);
            }
            let bbox = if x0 <= x1 {
                // Pixel i spans [i - 0.5, i + 0.5]; keep the box on the image.
                let bx0 = (x0 - 0.5).max(0.0);
                let by0 = (y0 - 0.5).max(0.0);
                let bx1 = (x1 + 0.5).min(w as f32);
                let by1 = (y1 + 0.5).min(h as f32);
                [bx0, by0, bx1 - bx0, by1 - by0]
            } else {
                [0.0; 4]
            };
            let (area, mask_rle) = rle_column_major(&mask, w, h, id);
            PersonTruth {
                keypoints,
                bbox,
                area,
                height_px: f.place.height_px,
                mask_rle,
            }
        })
        .collect();
    Rendered {
        image: cv.to_image(),
        persons,
    }
}

/// COCO uncompressed RLE (column-major runs, first run counts zeros) of `mask == id`, and the
/// number of set pixels.
fn rle_column_major(mask: &[u8], w: u32, h: u32, id: u8) -> (u32, Vec<u32>) {
    let mut counts = Vec::new();
    let mut current = false;
    let mut run = 0u32;
    let mut area = 0u32;
    for x in 0..w as usize {
        for y in 0..h as usize {
            let on = mask[y * w as usize + x] == id;
            area += on as u32;
            if on != current {
                counts.push(run);
                run = 0;
                current = on;
            }
            run += 1;
        }
    }
    counts.push(run);
    (area, counts)
}

/// Sample a random person (pose, body, looks) standing at a random place.
pub fn random_figure(rng: &mut impl RngExt, cfg: &SceneConfig, n_people: usize) -> Figure {
    let (wf, hf) = (cfg.width as f32, cfg.height as f32);
    let (pose, activity) = sample_pose(rng);
    // Crowded scenes favour smaller people so they fit side by side.
    let skew = 1.0 + 0.35 * (n_people.saturating_sub(1)) as f32;
    let u: f32 = rng.random_range(0.0f32..1.0).powf(skew);
    let height_px = hf * (MIN_HEIGHT_FRAC + (MAX_HEIGHT_FRAC - MIN_HEIGHT_FRAC) * u);
    let cx = rng.random_range(-0.05..1.05) * wf;
    // Feet from just below the head-room line to a little below the bottom edge.
    let lo = (height_px * 0.9).min(hf);
    let hi = hf + height_px * 0.12;
    let ground_y = rng.random_range(lo..=hi.max(lo + 1.0));
    Figure {
        pose,
        props: Proportions::sample(rng),
        look: Appearance::sample(rng),
        place: Placement {
            cx,
            ground_y,
            height_px,
            yaw: sample_yaw(rng),
            cam_pitch: rng.random_range(-0.15..0.35),
        },
        seat: activity == Activity::Sitting && rng.random_bool(0.7),
    }
}

/// Sort back to front: feet higher in the image are further away.
pub fn depth_sort(figures: &mut [Figure]) {
    figures.sort_by(|a, b| a.place.ground_y.total_cmp(&b.place.ground_y));
}

/// Sample a scene of `min_people..=max_people` recognisable persons.
pub fn random_layout(rng: &mut impl RngExt, cfg: &SceneConfig) -> Result<Vec<Figure>, SynthError> {
    let target = rng.random_range(cfg.min_people..=cfg.max_people);
    let mut figures: Vec<Figure> = Vec::with_capacity(target);
    // Every placement try of every wanted person, plus room to reach `min_people`.
    let budget = PLACEMENT_TRIES * (target + cfg.min_people) * 2;
    let mut tries = 0;
    let mut failed_people = 0;
    while figures.len() < target && tries < budget {
        let mut placed = false;
        for _ in 0..PLACEMENT_TRIES {
            tries += 1;
            let cand = random_figure(rng, cfg, target);
            let mut trial = figures.clone();
            trial.push(cand);
            depth_sort(&mut trial);
            let list = draw_list(&trial);
            let kps = keypoints_with_visibility(&trial, &list, cfg.width, cfg.height);
            let ok = kps
                .iter()
                .all(|k| k.iter().filter(|p| p[2] == 2.0).count() >= MIN_VISIBLE_KEYPOINTS);
            if ok {
                figures = trial;
                placed = true;
                break;
            }
        }
        if !placed {
            failed_people += 1;
            if figures.len() >= cfg.min_people && failed_people > 2 {
                break;
            }
        }
    }
    if figures.len() < cfg.min_people {
        return Err(SynthError::Layout(format!(
            "could place only {} of at least {} people in {}x{}",
            figures.len(),
            cfg.min_people,
            cfg.width,
            cfg.height
        )));
    }
    Ok(figures)
}

/// Generate a complete random training scene from `rng`.
pub fn random_scene(rng: &mut impl RngExt, cfg: &SceneConfig) -> Result<Rendered, SynthError> {
    cfg.validate()?;
    let light = Light::sample(rng);
    let bg = render::background(rng, cfg.width, cfg.height, &light);
    let figures = random_layout(rng, cfg)?;
    let post = PostFx::sample(rng);
    Ok(render(&figures, &bg, &light, &post, rng))
}
