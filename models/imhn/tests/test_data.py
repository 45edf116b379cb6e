import json
import random

import numpy as np
import pytest
from PIL import Image

from imhn.targets import TargetConfig
from imhn.data import AugmentConfig, CocoKeypoints, DataError, augment_matrix, transform_keypoints, warp_image


def test_warp_moves_pixels_with_their_keypoints():
    """A bright dot drawn at a keypoint lands where the keypoint is transformed to."""
    rng = random.Random(3)
    for _ in range(10):
        img = Image.new("RGB", (80, 60), (0, 0, 0))
        x, y = rng.randint(20, 59), rng.randint(15, 44)
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                img.putpixel((x + dx, y + dy), (255, 255, 255))
        m, flipped = augment_matrix(80, 60, 64, 64, AugmentConfig(flip_prob=0.5, max_shift=0.05), rng)
        out = np.asarray(warp_image(img, m, 64, 64), dtype=np.float64)[..., 0]
        kps = np.zeros((17, 3))
        kps[0] = (x, y, 2)  # nose: not permuted by a flip
        px, py = transform_keypoints(kps, m, flipped)[0, :2]
        yy, xx = np.mgrid[0:64, 0:64]
        # Weight only what is brighter than the pad fill (128) and the black background.
        w = np.clip(out - 130, 0, None)
        cx, cy = (w * xx).sum() / w.sum(), (w * yy).sum() / w.sum()
        assert abs(cx - px) < 0.6 and abs(cy - py) < 0.6


def test_flip_swaps_left_and_right():
    m = np.array([[-1.0, 0, 63], [0, 1, 0], [0, 0, 1]])
    kps = np.zeros((17, 3))
    kps[9] = (10, 20, 2)   # left wrist on the image's left
    kps[10] = (50, 20, 2)  # right wrist
    out = transform_keypoints(kps, m, flipped=True)
    assert out[10].tolist() == [53, 20, 2]  # old left wrist, mirrored, is now the right wrist
    assert out[9].tolist() == [13, 20, 2]


def test_dataset_sample_shapes_and_person_peaks(tiny_coco):
    ds = CocoKeypoints(tiny_coco, input_size=(64, 64), target_cfg=TargetConfig(sigma_keypoint=4.0))
    image, targets, masks, meta = ds.sample(0)
    assert image.shape == (3, 64, 64) and image.dtype == np.float32
    assert 0 <= image.min() and image.max() <= 1
    assert [t.shape for t in targets] == [(50, 16, 16), (50, 8, 8), (50, 4, 4), (50, 2, 2), (50, 1, 1)]
    assert [m.shape for m in masks] == [(1, 16, 16), (1, 8, 8), (1, 4, 4), (1, 2, 2), (1, 1, 1)]
    assert np.all(masks[0] == 1)
    coco = json.loads(tiny_coco.read_text())
    n = sum(a["image_id"] == meta["image_id"] for a in coco["annotations"])
    # Each annotated nose is a peak in the nose channel: with sigma 4 even a nose midway
    # between cells (2 px off on both axes) gives exp(-8/32) = 0.78.
    assert (targets[0][30] > 0.6).sum() >= n


def test_unannotated_people_are_masked(tmp_path, tiny_coco):
    coco = json.loads(tiny_coco.read_text())
    coco["annotations"].append({"id": 99, "image_id": 1, "category_id": 1, "iscrowd": 0,
                                "num_keypoints": 0, "keypoints": [0] * 51,
                                "bbox": [0, 0, 32, 32], "area": 1024})
    p = tmp_path / "a.json"
    p.write_text(json.dumps(coco))
    ds = CocoKeypoints(p, images=tiny_coco.parent / "images", input_size=(64, 64))
    _, _, masks, _ = ds.sample(0)
    assert masks[0][0, :8, :8].max() == 0.0
    assert masks[0][0, 9:, 9:].min() == 1.0


def test_augmentation_is_reproducible_per_epoch(tiny_coco):
    ds = CocoKeypoints(tiny_coco, input_size=(64, 64), augment=AugmentConfig(), seed=5)
    a = ds[1][0]
    assert np.array_equal(a, ds[1][0])
    ds.set_epoch(1)
    assert not np.array_equal(a, ds[1][0])


def test_bad_inputs_give_clear_errors(tmp_path):
    with pytest.raises(DataError, match="cannot read annotations"):
        CocoKeypoints(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        CocoKeypoints(bad)
    bad.write_text(json.dumps({"images": []}))
    with pytest.raises(DataError, match="annotations"):
        CocoKeypoints(bad)
    bad.write_text(json.dumps({"images": [{"id": 1, "file_name": "x.png"}], "annotations": []}))
    with pytest.raises(DataError, match="no image has an annotated person"):
        CocoKeypoints(bad)
    bad.write_text(json.dumps({"images": [{"id": 1, "file_name": "x.png"}], "annotations": [
        {"image_id": 1, "num_keypoints": 1, "keypoints": [1, 1, 2] + [0] * 48}]}))
    with pytest.raises(DataError, match="cannot read image"):
        CocoKeypoints(bad).sample(0)
