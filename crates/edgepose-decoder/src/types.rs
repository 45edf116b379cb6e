//! The decoder's output types, shared by every model family and every consumer
//! (tracking, wire format, display, evaluation).

/// Number of COCO-17 keypoints every decoder reports.
pub const NUM_COCO_KEYPOINTS: usize = 17;

/// Most persons one frame can hold. Further persons are dropped (lowest score first) and counted.
pub const MAX_PERSONS: usize = 32;

/// One keypoint in source-image pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Keypoint {
    pub x: f32,
    pub y: f32,
    /// Confidence in [0, 1] as the model family defines it (peak value, keypoint score).
    pub score: f32,
    /// `false` when the decoder found no such keypoint for this person; x, y, score are 0 then,
    /// except for single-stage models, which keep their low-confidence guess.
    pub present: bool,
}

impl Keypoint {
    /// The marker for a keypoint that was not found.
    pub const ABSENT: Keypoint = Keypoint {
        x: 0.0,
        y: 0.0,
        score: 0.0,
        present: false,
    };

    pub const fn new(x: f32, y: f32, score: f32) -> Self {
        Keypoint {
            x,
            y,
            score,
            present: true,
        }
    }
}

/// One decoded person: COCO-17 keypoints in source-image pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Person {
    pub keypoints: [Keypoint; NUM_COCO_KEYPOINTS],
    /// Person confidence in [0, 1].
    pub score: f32,
    /// Number of body parts (limbs) that connected this person (0 for single-stage models).
    pub num_parts: u8,
    /// Tracking id assigned by the tracker; 0 = not tracked.
    pub track_id: u32,
}

impl Default for Person {
    fn default() -> Self {
        Person {
            keypoints: [Keypoint::ABSENT; NUM_COCO_KEYPOINTS],
            score: 0.0,
            num_parts: 0,
            track_id: 0,
        }
    }
}

impl Person {
    /// Number of present keypoints.
    pub fn num_present(&self) -> usize {
        self.keypoints.iter().filter(|k| k.present).count()
    }

    /// Bounding box (x0, y0, x1, y1) of the present keypoints, `None` when none is present.
    pub fn bbox(&self) -> Option<(f32, f32, f32, f32)> {
        let mut it = self.keypoints.iter().filter(|k| k.present);
        let first = it.next()?;
        let init = (first.x, first.y, first.x, first.y);
        Some(it.fold(init, |(x0, y0, x1, y1), k| {
            (x0.min(k.x), y0.min(k.y), x1.max(k.x), y1.max(k.y))
        }))
    }
}

/// The persons of one frame, fixed capacity.
pub type Persons = heapless::Vec<Person, MAX_PERSONS>;

/// Mapping from model-input pixels back to source-image pixels: the input was made by scaling
/// the source by `scale` and shifting it by (`pad_x`, `pad_y`) (letterbox).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Letterbox {
    pub scale: f32,
    pub pad_x: f32,
    pub pad_y: f32,
}

impl Letterbox {
    /// The identity mapping (input pixels are source pixels).
    pub const IDENTITY: Letterbox = Letterbox {
        scale: 1.0,
        pad_x: 0.0,
        pad_y: 0.0,
    };

    /// Source-image pixel of a model-input pixel.
    #[inline]
    pub fn to_source(&self, x: f32, y: f32) -> (f32, f32) {
        ((x - self.pad_x) / self.scale, (y - self.pad_y) / self.scale)
    }

    /// Model-input pixel of a source-image pixel.
    #[inline]
    pub fn to_input(&self, x: f32, y: f32) -> (f32, f32) {
        (x * self.scale + self.pad_x, y * self.scale + self.pad_y)
    }
}

/// What a decode call had to drop or repair; every bound in the decoder reports here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Peaks beyond the per-type capacity (the weakest are dropped).
    pub peaks_dropped: u32,
    /// Candidate connections beyond the per-part capacity.
    pub pairs_dropped: u32,
    /// Persons beyond [`MAX_PERSONS`] (or the grouping capacity), or suppressed by pose NMS.
    pub persons_dropped: u32,
    /// Non-finite (NaN/Inf) map values that were treated as 0.
    pub non_finite: u32,
}
