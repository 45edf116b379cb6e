"""Stick-figure scenes in COCO person-keypoints format.

A stand-in for ``edgepose synth`` when it is not available: tests use it for tiny
datasets, and ``python -m imhn.stickfig --out DIR --count N --size S --seed K`` writes a
training set (DIR/images/*.png + DIR/annotations.json). Figures are drawn from their own
keypoints, so the annotations are exact.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

# Standing pose, COCO-17 order, unit height (0 = top of head, 1 = feet), x around 0.
_TEMPLATE = np.array([
    [0.0, 0.08], [-0.03, 0.06], [0.03, 0.06], [-0.06, 0.08], [0.06, 0.08],   # face
    [-0.12, 0.2], [0.12, 0.2], [-0.16, 0.38], [0.16, 0.38], [-0.17, 0.54], [0.17, 0.54],
    [-0.08, 0.55], [0.08, 0.55], [-0.09, 0.77], [0.09, 0.77], [-0.09, 0.98], [0.09, 0.98],
])
_BONES = [(5, 7), (7, 9), (6, 8), (8, 10), (5, 6), (11, 12), (5, 11), (6, 12), (11, 13),
          (13, 15), (12, 14), (14, 16), (0, 5), (0, 6)]


#: (root, joint, child) chains of the limbs: arms from the shoulders, legs from the hips.
_CHAINS = [(5, 7, 9), (6, 8, 10), (11, 13, 15), (12, 14, 16)]
#: Max rotation (radians) of the upper / lower segment of an arm and a leg.
_ARM_SWING = (1.6, 1.2)
_LEG_SWING = (0.5, 0.6)


def _rot(v: np.ndarray, a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def random_pose(rng: random.Random) -> np.ndarray:
    """Template with the limbs swung at random (unit height, x around 0)."""
    pose = _TEMPLATE.copy()
    for n, (a, b, c) in enumerate(_CHAINS):
        up, low = _ARM_SWING if n < 2 else _LEG_SWING
        a1 = rng.uniform(-up, up)
        a2 = a1 + rng.uniform(-low, low)
        upper, lower = pose[b] - pose[a], pose[c] - pose[b]
        pose[b] = pose[a] + _rot(upper, a1)
        pose[c] = pose[b] + _rot(lower, a2)
    return pose


def make_coco(
    root: Path, count: int, size: int = 64, seed: int = 0, people=(1, 2), separate: bool = False
) -> Path:
    """Write root/images/*.png and root/annotations.json; returns the json path.

    ``separate`` puts each person in its own column (no overlap, no grouping ambiguity).
    """
    rng = random.Random(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    for i in range(count):
        img = Image.new("RGB", (size, size), tuple(rng.randrange(40, 90) for _ in range(3)))
        draw = ImageDraw.Draw(img)
        n = rng.randint(*people)
        for j in range(n):
            h = rng.uniform(0.5, 0.85) * size
            cx = rng.uniform(0.25, 0.75) * size
            if separate:
                h = min(h, 2.2 * size / n)
                cx = (j + 0.5) * size / n
            top = rng.uniform(0.02, 0.98 * size - h) if size - h > 2 else 0
            pose = random_pose(rng)
            pts = np.stack([cx + pose[:, 0] * h, top + pose[:, 1] * h], axis=1)
            col = tuple(rng.randrange(150, 255) for _ in range(3))
            for a, b in _BONES:
                draw.line([tuple(pts[a]), tuple(pts[b])], fill=col, width=max(1, size // 32))
            draw.ellipse([cx - 0.07 * h, top, cx + 0.07 * h, top + 0.15 * h], fill=col)
            kps = np.concatenate([pts, np.full((17, 1), 2.0)], axis=1)
            x0, y0 = pts.min(axis=0)
            x1, y1 = pts.max(axis=0)
            anns.append({
                "id": len(anns) + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
                "keypoints": [round(float(v), 2) for v in kps.reshape(-1)], "num_keypoints": 17,
                "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                "area": float((x1 - x0) * (y1 - y0)),
            })
        name = f"{i:06d}.png"
        img.save(root / "images" / name)
        images.append({"id": i + 1, "file_name": name, "width": size, "height": size})
    path = root / "annotations.json"
    path.write_text(json.dumps({
        "images": images, "annotations": anns,
        "categories": [{"id": 1, "name": "person", "supercategory": "person"}],
    }))
    return path




def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-people", type=int, default=3)
    a = p.parse_args(argv)
    path = make_coco(Path(a.out), a.count, a.size, a.seed, people=(1, a.max_people))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
