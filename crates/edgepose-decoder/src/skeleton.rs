//! Keypoint and limb tables of the supported model families.
//!
//! All tables are `const` so they cost nothing at run time and can be shared by display,
//! evaluation and tracking code without pulling in the decoder itself.

/// Keypoints in the 18-keypoint order shared by Simple Pose and OpenPose/tf-pose
/// (COCO-17 plus a synthetic neck at index 1).
pub const NUM_KEYPOINTS_18: usize = 18;

/// Names of the 18 network keypoints, in channel order.
pub const KEYPOINT_NAMES_18: [&str; NUM_KEYPOINTS_18] = [
    "nose",
    "neck",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
    "right_eye",
    "left_eye",
    "right_ear",
    "left_ear",
];

/// COCO-17 index of each of the 18 network keypoints; `None` for the neck, which COCO lacks.
pub const COCO17_FROM_18: [Option<u8>; NUM_KEYPOINTS_18] = [
    Some(0),
    None,
    Some(6),
    Some(8),
    Some(10),
    Some(5),
    Some(7),
    Some(9),
    Some(12),
    Some(14),
    Some(16),
    Some(11),
    Some(13),
    Some(15),
    Some(2),
    Some(1),
    Some(4),
    Some(3),
];

/// Names of the COCO-17 keypoints, in COCO order.
pub const COCO17_NAMES: [&str; 17] = [
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
];

/// Horizontal-flip permutation of the COCO-17 keypoints (left <-> right; its own inverse).
pub const COCO17_FLIP: [u8; 17] = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15];

/// COCO OKS per-keypoint sigmas (pycocotools), COCO-17 order.
pub const COCO_OKS_SIGMAS: [f32; 17] = [
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107,
    0.087, 0.087, 0.089, 0.089,
];

/// Edges to draw between COCO-17 keypoints (0-based): the skeleton COCO's annotation
/// format defines, so every family draws the same figure.
pub const COCO17_SKELETON: [(u8, u8); 19] = [
    (15, 13),
    (13, 11),
    (16, 14),
    (14, 12),
    (11, 12),
    (5, 11),
    (6, 12),
    (5, 6),
    (5, 7),
    (6, 8),
    (7, 9),
    (8, 10),
    (1, 2),
    (0, 1),
    (0, 2),
    (1, 3),
    (2, 4),
    (3, 5),
    (4, 6),
];

/// Simple Pose: number of body-part (limb) channels.
pub const SIMPLEPOSE_NUM_PARTS: usize = 30;
/// Simple Pose: first keypoint channel (after the 30 body-part maps).
pub const SIMPLEPOSE_KEYPOINT_OFFSET: usize = 30;
/// Simple Pose: channels of the network output (30 parts, 18 keypoints, mask, keypoint max).
pub const SIMPLEPOSE_NUM_CHANNELS: usize = 50;
/// Simple Pose: channels the decoder actually reads (the last two are training aids).
pub const SIMPLEPOSE_MIN_CHANNELS: usize = SIMPLEPOSE_KEYPOINT_OFFSET + NUM_KEYPOINTS_18;

/// Simple Pose body parts `(from, to)` as 18-keypoint indices, in processing order.
/// Parts 1..=4 and 21..=28 are redundant connections that make grouping robust.
pub const SIMPLEPOSE_PARTS: [(u8, u8); SIMPLEPOSE_NUM_PARTS] = [
    (1, 0),
    (1, 14),
    (1, 15),
    (1, 16),
    (1, 17),
    (0, 14),
    (0, 15),
    (14, 16),
    (15, 17),
    (1, 2),
    (2, 3),
    (3, 4),
    (1, 5),
    (5, 6),
    (6, 7),
    (1, 8),
    (8, 9),
    (9, 10),
    (1, 11),
    (11, 12),
    (12, 13),
    (0, 2),
    (0, 5),
    (2, 8),
    (8, 12),
    (5, 11),
    (11, 9),
    (16, 2),
    (17, 5),
    (8, 11),
];

/// Simple Pose parts that form the drawn skeleton (the others are redundant).
pub const SIMPLEPOSE_DRAWN_PARTS: [u8; 18] = [
    0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 29,
];

/// Simple Pose horizontal-flip permutation of the keypoint channels (relative to the first
/// keypoint channel, including the two extra channels); its own inverse.
pub const SIMPLEPOSE_FLIP_KEYPOINTS: [u8; 20] = [
    0, 1, 5, 6, 7, 2, 3, 4, 11, 12, 13, 8, 9, 10, 15, 14, 17, 16, 18, 19,
];

/// Simple Pose horizontal-flip permutation of the body-part channels; its own inverse.
pub const SIMPLEPOSE_FLIP_PARTS: [u8; SIMPLEPOSE_NUM_PARTS] = [
    0, 2, 1, 4, 3, 6, 5, 8, 7, 12, 13, 14, 9, 10, 11, 18, 19, 20, 15, 16, 17, 22, 21, 25, 26, 23,
    24, 28, 27, 29,
];

/// OpenPose / tf-pose: number of limbs (PAF pairs).
pub const OPENPOSE_NUM_LIMBS: usize = 19;
/// OpenPose / tf-pose: first PAF channel (after 18 heatmaps and the background).
pub const OPENPOSE_PAF_OFFSET: usize = 19;
/// OpenPose / tf-pose: channels of the network output.
pub const OPENPOSE_NUM_CHANNELS: usize = 57;

/// OpenPose / tf-pose limbs `(from, to)` as 18-keypoint indices, in processing order.
pub const OPENPOSE_LIMBS: [(u8, u8); OPENPOSE_NUM_LIMBS] = [
    (1, 2),
    (1, 5),
    (2, 3),
    (3, 4),
    (5, 6),
    (6, 7),
    (1, 8),
    (8, 9),
    (9, 10),
    (1, 11),
    (11, 12),
    (12, 13),
    (1, 0),
    (0, 14),
    (14, 16),
    (0, 15),
    (15, 17),
    (2, 16),
    (5, 17),
];

/// OpenPose / tf-pose: (x, y) channel offsets of each limb's PAF within the PAF block
/// (add [`OPENPOSE_PAF_OFFSET`] for the absolute channel).
pub const OPENPOSE_PAF_CHANNELS: [(u8, u8); OPENPOSE_NUM_LIMBS] = [
    (12, 13),
    (20, 21),
    (14, 15),
    (16, 17),
    (22, 23),
    (24, 25),
    (0, 1),
    (2, 3),
    (4, 5),
    (6, 7),
    (8, 9),
    (10, 11),
    (28, 29),
    (30, 31),
    (34, 35),
    (32, 33),
    (36, 37),
    (18, 19),
    (26, 27),
];

/// OpenPose limbs that never start a new person: the ear-shoulder extras, which only
/// reinforce persons that already exist.
pub const OPENPOSE_NO_START_LIMBS: [u8; 2] = [17, 18];

#[cfg(test)]
mod tests {
    use super::*;

    fn is_involution(p: &[u8]) -> bool {
        p.iter()
            .enumerate()
            .all(|(i, &j)| p.get(j as usize).copied() == Some(i as u8))
    }

    #[test]
    fn flips_are_involutions() {
        assert!(is_involution(&SIMPLEPOSE_FLIP_KEYPOINTS));
        assert!(is_involution(&SIMPLEPOSE_FLIP_PARTS));
        assert!(is_involution(&COCO17_FLIP));
    }

    #[test]
    fn part_flip_maps_parts_to_mirrored_parts() {
        // Flipping both endpoints of part k must give the endpoints of part flip(k).
        let kp = |i: u8| SIMPLEPOSE_FLIP_KEYPOINTS[i as usize];
        for (k, &(a, b)) in SIMPLEPOSE_PARTS.iter().enumerate() {
            let (fa, fb) = SIMPLEPOSE_PARTS[SIMPLEPOSE_FLIP_PARTS[k] as usize];
            // A part symmetric under the flip (hip-hip) maps onto itself reversed.
            let f = (kp(a), kp(b));
            assert!(f == (fa, fb) || f == (fb, fa), "part {k}");
        }
    }

    #[test]
    fn coco_mapping_is_a_bijection_without_neck() {
        let mut seen = [false; 17];
        for (i, m) in COCO17_FROM_18.iter().enumerate() {
            match m {
                None => assert_eq!(i, 1),
                Some(c) => {
                    assert!(!seen[*c as usize]);
                    seen[*c as usize] = true;
                }
            }
        }
        assert!(seen.iter().all(|&s| s));
        // Names agree through the mapping.
        for (i, m) in COCO17_FROM_18.iter().enumerate() {
            if let Some(c) = m {
                assert_eq!(KEYPOINT_NAMES_18[i], COCO17_NAMES[*c as usize]);
            }
        }
    }

    #[test]
    fn paf_channels_cover_the_block_once() {
        let mut seen = [false; 38];
        for &(x, y) in OPENPOSE_PAF_CHANNELS.iter() {
            for c in [x, y] {
                assert!(!seen[c as usize]);
                seen[c as usize] = true;
            }
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(OPENPOSE_PAF_OFFSET + 38, OPENPOSE_NUM_CHANNELS);
    }
}
