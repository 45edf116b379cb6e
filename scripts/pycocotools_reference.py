#!/usr/bin/env python3
"""Reference COCO keypoint metrics from pycocotools, pinned by the Rust tests in tests/eval_*.rs.

Writes tests/fixtures/eval/expected.json with the ten `COCOeval.stats` values for two cases:

- "fixture": tests/fixtures/eval/gt.json + dt.json, a small hand-made case (crowds, a person
  without keypoints, small/medium/large persons, an area of exactly 96², duplicates, misses,
  low-score false positives, score ties across images, more than 20 detections in one image,
  an extra category);
- "coco_sample_jitter": the real sample ground truth ../shared/data/coco-sample/test_coco.json
  with its keypoints jittered into detections by the rule in `jittered_sample_detections`,
  which tests/models/cocoeval.rs mirrors exactly (offsets are multiples of 0.5 and scores are
  float32 so both sides see bit-identical inputs).

Re-run after changing the fixtures (from the repository root):

    python3 -m venv /tmp/venv-eval && /tmp/venv-eval/bin/pip install pycocotools numpy
    /tmp/venv-eval/bin/python scripts/pycocotools_reference.py

and commit the new tests/fixtures/eval/expected.json.
"""

import contextlib
import importlib.metadata
import io
import json
import sys
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "eval"
SAMPLE_GT = REPO.parent / "shared" / "data" / "coco-sample" / "test_coco.json"
NAMES = ["AP", "AP50", "AP75", "APM", "APL", "AR", "AR50", "AR75", "ARM", "ARL"]

# The jitter rule (mirrored in tests/models/cocoeval.rs).
MISS_EVERY = 6  # annotation j is missed when j % 6 == 5
DUPLICATE_EVERY = 4  # annotation j gets a second, worse detection when j % 4 == 1
PRESENT_KEYPOINT_SCORE = np.float32(0.5)
FALSE_POSITIVE_SCORE = np.float32(0.3)
FALSE_POSITIVE_KEYPOINTS = 12  # the false positive has keypoints 0..11 only


def jitter(j, k, scale):
    """Offset (dx, dy) of keypoint k of annotation j: multiples of 0.5, exact in float32."""
    dx = ((j * 7 + k * 3) % 9 - 4) * 0.5 * scale
    dy = ((j * 5 + k * 11) % 9 - 4) * 0.5 * scale
    return dx, dy


def person(gt_keypoints, j, scale, score):
    kps = []
    for k in range(17):
        x, y, v = gt_keypoints[3 * k : 3 * k + 3]
        if v > 0:
            dx, dy = jitter(j, k, scale)
            kps += [float(np.float32(x + dx)), float(np.float32(y + dy)), float(PRESENT_KEYPOINT_SCORE)]
        else:
            kps += [0.0, 0.0, 0.0]
    return kps, float(score)


def jittered_sample_detections(gt):
    """Detections per image, images in file order, persons in annotation order."""
    per_image = {img["id"]: [] for img in gt["images"]}
    for j, ann in enumerate(gt["annotations"]):
        if ann["num_keypoints"] == 0 or ann.get("iscrowd", 0) or j % MISS_EVERY == MISS_EVERY - 1:
            continue
        scale = j % 3 + 1
        score = np.float32(20 - j) / np.float32(20)
        per_image[ann["image_id"]].append(person(ann["keypoints"], j, scale, score))
        if j % DUPLICATE_EVERY == 1:
            per_image[ann["image_id"]].append(person(ann["keypoints"], j, scale * 4, score * np.float32(0.5)))
    dets = []
    for i, img in enumerate(gt["images"]):
        persons = per_image[img["id"]]
        # One false positive per image: a small figure near the top-left corner.
        kps = []
        for k in range(17):
            if k < FALSE_POSITIVE_KEYPOINTS:
                kps += [float(10 + 3 * k + i), float(12 + 4 * k), float(PRESENT_KEYPOINT_SCORE)]
            else:
                kps += [0.0, 0.0, 0.0]
        persons.append((kps, float(FALSE_POSITIVE_SCORE)))
        for kps, score in persons:
            dets.append({"image_id": img["id"], "category_id": 1, "keypoints": kps, "score": score})
    return dets


def evaluate(gt_path, dets):
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(gt_path))
        coco_dt = coco_gt.loadRes(dets)
        ev = COCOeval(coco_gt, coco_dt, "keypoints")
        ev.evaluate()
        ev.accumulate()
    ev.summarize()
    return {name: float(v) for name, v in zip(NAMES, ev.stats)}


def main():
    cases = {}
    with open(FIXTURES / "dt.json") as f:
        fixture_dets = json.load(f)
    print("== fixture")
    cases["fixture"] = evaluate(FIXTURES / "gt.json", fixture_dets)

    if not SAMPLE_GT.exists():
        sys.exit(f"error: {SAMPLE_GT} not found (the coco_sample_jitter case needs ../shared)")
    with open(SAMPLE_GT) as f:
        sample = json.load(f)
    print("== coco_sample_jitter")
    cases["coco_sample_jitter"] = evaluate(SAMPLE_GT, jittered_sample_detections(sample))

    out = {
        "generated_by": "scripts/pycocotools_reference.py",
        "pycocotools": importlib.metadata.version("pycocotools"),
        "numpy": np.__version__,
        "cases": cases,
    }
    with open(FIXTURES / "expected.json", "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    print(f"wrote {FIXTURES / 'expected.json'}")


if __name__ == "__main__":
    main()
