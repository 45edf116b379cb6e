"""Keypoint and body-part tables of Simple Pose (spec simple-pose.md §1–§2).

The network sees 18 keypoints (COCO-17 plus a synthetic neck) and 30 body parts.
Everything else in the package indexes channels through these tables so the layout
lives in one place.
"""

from __future__ import annotations

NUM_KEYPOINTS = 18
NUM_PARTS = 30
#: Output channels: 30 part maps, 18 keypoint maps, person mask, max-of-keypoints.
NUM_CHANNELS = 50
PART_OFFSET = 0
KEYPOINT_OFFSET = 30
MASK_CHANNEL = 48
MAX_CHANNEL = 49

KEYPOINT_NAMES = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
    "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
    "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear",
)

#: COCO-17 index of each network keypoint; ``None`` for the synthetic neck.
COCO_OF_KEYPOINT = (0, None, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3)
NECK = 1
COCO_LEFT_SHOULDER = 5
COCO_RIGHT_SHOULDER = 6

#: Body parts as (from, to) network keypoint indices, in processing order.
PARTS = (
    (1, 0), (1, 14), (1, 15), (1, 16), (1, 17), (0, 14), (0, 15), (14, 16), (15, 17), (1, 2),
    (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12),
    (12, 13), (0, 2), (0, 5), (2, 8), (8, 12), (5, 11), (11, 9), (16, 2), (17, 5), (8, 11),
)

#: Horizontal-flip permutation of the keypoint block (20 entries: 18 keypoints + 2 extras).
FLIP_KEYPOINTS = (0, 1, 5, 6, 7, 2, 3, 4, 11, 12, 13, 8, 9, 10, 15, 14, 17, 16, 18, 19)
#: Horizontal-flip permutation of the body-part block.
FLIP_PARTS = (
    0, 2, 1, 4, 3, 6, 5, 8, 7, 12, 13, 14, 9, 10, 11, 18, 19, 20, 15, 16, 17, 22, 21, 25,
    26, 23, 24, 28, 27, 29,
)

#: COCO-17 horizontal-flip permutation (left <-> right), used to flip annotations.
FLIP_COCO17 = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)


def flip_channel_permutation() -> list[int]:
    """Permutation of all 50 output channels under a horizontal flip."""
    perm = [PART_OFFSET + p for p in FLIP_PARTS]
    perm += [KEYPOINT_OFFSET + k for k in FLIP_KEYPOINTS]
    return perm
