#!/usr/bin/env python3
"""Writes two_people.npy: what a perfect Simple Pose network outputs for two known people.

The maps follow the training-target rules of spec simple-pose.md §3 for a 384x384 input:
float32 (50, 96, 96) at stride 4, channel layout of §2 (30 body parts, 18 keypoints, person
mask, keypoint max). Output cell c lies at input pixel 4c + 1.5.

    python3 models/examples/make_demo.py            # writes models/examples/two_people.npy
    edgepose decode --family simplepose --maps models/examples/two_people.npy

Needs numpy only.
"""
import os
import sys

import numpy as np

SIZE = 384
STRIDE = 4
CELLS = SIZE // STRIDE
KEYPOINT_SIGMA = 7.0  # px at a 368/384 input (§3)
PART_SIGMA = 7.0  # px, perpendicular distance to the limb line
PART_BOX_MARGIN = 4.0  # px the endpoints' box is enlarged by
PART_FLOOR_BELOW = 0.015  # inside the box, values at or below this ...
PART_FLOOR = 0.01  # ... are raised to this

# Body parts (from, to) in the 18-keypoint order, §1.
PARTS = [
    (1, 0), (1, 14), (1, 15), (1, 16), (1, 17), (0, 14), (0, 15), (14, 16), (15, 17), (1, 2),
    (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12),
    (12, 13), (0, 2), (0, 5), (2, 8), (8, 12), (5, 11), (11, 9), (16, 2), (17, 5), (8, 11),
]

# COCO-17 joints (x, y) in input pixels of the two people (nose, eyes, ears, shoulders,
# elbows, wrists, hips, knees, ankles; COCO left/right order).
PEOPLE_COCO = [
    [(110, 70), (115, 64), (105, 64), (122, 68), (98, 68), (135, 100), (85, 100),
     (142, 140), (78, 140), (146, 178), (72, 176), (125, 190), (95, 190), (127, 250),
     (93, 250), (128, 310), (92, 310)],
    [(270, 90), (276, 84), (264, 84), (283, 88), (257, 88), (298, 122), (242, 122),
     (318, 158), (228, 162), (330, 196), (222, 200), (288, 210), (252, 210), (292, 270),
     (248, 272), (294, 330), (246, 332)],
]

# 18-keypoint index -> COCO-17 index (neck = None).
COCO_FROM_18 = [0, None, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3]


def to_18(coco):
    """18-keypoint joints; the neck is the midpoint of the two shoulders."""
    out = []
    for c in COCO_FROM_18:
        if c is None:
            (lx, ly), (rx, ry) = coco[5], coco[6]
            out.append(((lx + rx) / 2.0, (ly + ry) / 2.0))
        else:
            out.append(coco[c])
    return np.array(out, dtype=np.float64)


def main(path):
    grid = np.arange(CELLS) * STRIDE + STRIDE / 2.0 - 0.5  # 4c + 1.5
    gx, gy = np.meshgrid(grid, grid)
    maps = np.zeros((50, CELLS, CELLS), dtype=np.float64)
    people = [to_18(p) for p in PEOPLE_COCO]

    # Keypoints: unnormalised Gaussians, several people combine by max.
    for joints in people:
        for k, (x, y) in enumerate(joints):
            g = np.exp(-((gx - x) ** 2 + (gy - y) ** 2) / (2 * KEYPOINT_SIGMA**2))
            maps[30 + k] = np.maximum(maps[30 + k], g)

    # Body parts: Gaussian of the distance to the limb line inside the enlarged box;
    # several instances average where they overlap.
    for k, (a, b) in enumerate(PARTS):
        acc = np.zeros((CELLS, CELLS))
        count = np.zeros((CELLS, CELLS))
        for joints in people:
            (ax, ay), (bx, by) = joints[a], joints[b]
            length = np.hypot(bx - ax, by - ay)
            dist = np.abs((gx - ax) * (by - ay) - (gy - ay) * (bx - ax)) / length
            v = np.exp(-dist**2 / (2 * PART_SIGMA**2))
            box = (
                (gx >= min(ax, bx) - PART_BOX_MARGIN) & (gx <= max(ax, bx) + PART_BOX_MARGIN)
                & (gy >= min(ay, by) - PART_BOX_MARGIN) & (gy <= max(ay, by) + PART_BOX_MARGIN)
            )
            v = np.where(v <= PART_FLOOR_BELOW, PART_FLOOR, v)
            acc += np.where(box, v, 0.0)
            count += box
        maps[k] = np.where(count > 0, acc / np.maximum(count, 1), 0.0)

    # Person mask (training aid): 1 inside each person's joint box.
    for joints in people:
        x0, y0 = joints.min(axis=0) - 10
        x1, y1 = joints.max(axis=0) + 10
        maps[48] = np.maximum(maps[48], ((gx >= x0) & (gx <= x1) & (gy >= y0) & (gy <= y1)))
    maps[49] = maps[30:48].max(axis=0)

    np.save(path, np.clip(maps, 0.0, 1.0).astype(np.float32))
    print(f"wrote {path}: float32 {maps.shape}, {len(people)} people, {SIZE}x{SIZE} input")


if __name__ == "__main__":
    default = os.path.join(os.path.dirname(os.path.abspath(__file__)), "two_people.npy")
    main(sys.argv[1] if len(sys.argv) > 1 else default)
