"""Shared fixtures: a tiny COCO-format keypoint dataset drawn here (stick figures)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

# Standing pose, COCO-17 order, unit height (0 = top of head, 1 = feet), x around 0.
_TEMPLATE = np.array([
    [0.0, 0.08], [-0.03, 0.06], [0.03, 0.06], [-0.06, 0.08], [0.06, 0.08],   # face
    [-0.12, 0.2], [0.12, 0.2], [-0.16, 0.38], [0.16, 0.38], [-0.17, 0.54], [0.17, 0.54],
    [-0.08, 0.55], [0.08, 0.55], [-0.09, 0.77], [0.09, 0.77], [-0.09, 0.98], [0.09, 0.98],
])
_BONES = [(5, 7), (7, 9), (6, 8), (8, 10), (5, 6), (11, 12), (5, 11), (6, 12), (11, 13),
          (13, 15), (12, 14), (14, 16), (0, 5), (0, 6)]


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
            pts = np.stack([cx + _TEMPLATE[:, 0] * h, top + _TEMPLATE[:, 1] * h], axis=1)
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


@pytest.fixture(scope="session")
def tiny_coco(tmp_path_factory) -> Path:
    return make_coco(tmp_path_factory.mktemp("coco"), count=6, size=64, seed=1)
