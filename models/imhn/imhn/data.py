"""COCO person-keypoint data with augmentation -> (image, multi-scale targets, masks).

Reads any COCO-format keypoint json (``edgepose synth`` output or real COCO). Images are
warped by one affine map (letterbox fit, random scale, rotation, shift, horizontal flip)
that is also applied to the keypoints, so targets stay exact. Coordinates use pixel
centres on integers; PIL's sampler uses centres at +0.5, converted in ``_pil_affine``.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .skeleton import FLIP_COCO17
from .targets import TargetConfig, build_targets, coco17_to_18, multiscale

#: Letterbox / out-of-image fill, pixel units (matches the model card's pad_value).
PAD_VALUE = 128


class DataError(Exception):
    """A dataset file is missing or malformed."""


@dataclass
class AugmentConfig:
    flip_prob: float = 0.5
    scale_min: float = 0.75
    scale_max: float = 1.25
    max_rotation_deg: float = 30.0
    #: Maximum shift as a fraction of the input size.
    max_shift: float = 0.1

    @classmethod
    def none(cls) -> "AugmentConfig":
        return cls(flip_prob=0.0, scale_min=1.0, scale_max=1.0, max_rotation_deg=0.0, max_shift=0.0)


def load_coco(annotations: Path) -> dict:
    try:
        with open(annotations, encoding="utf-8") as f:
            coco = json.load(f)
    except OSError as e:
        raise DataError(f"cannot read annotations {annotations}: {e}") from e
    except json.JSONDecodeError as e:
        raise DataError(f"{annotations} is not valid JSON: {e}") from e
    if not isinstance(coco, dict):
        raise DataError(f"{annotations}: expected a COCO object, found {type(coco).__name__}")
    for key in ("images", "annotations"):
        if not isinstance(coco.get(key), list):
            raise DataError(f"{annotations}: missing list '{key}'")
    return coco


def letterbox_matrix(src_w: int, src_h: int, dst_w: int, dst_h: int) -> np.ndarray:
    """Top-left letterbox (resize to fit, pad bottom/right): 3x3 map of pixel centres."""
    s = min(dst_w / src_w, dst_h / src_h)
    off = 0.5 * s - 0.5  # resize maps centre x to (x + 0.5) * s - 0.5
    return np.array([[s, 0.0, off], [0.0, s, off], [0.0, 0.0, 1.0]])


def augment_matrix(
    src_w: int, src_h: int, dst_w: int, dst_h: int, aug: AugmentConfig, rng: random.Random
) -> tuple[np.ndarray, bool]:
    """Random similarity transform (about the image centre) plus optional flip."""
    base = min(dst_w / src_w, dst_h / src_h)
    s = base * rng.uniform(aug.scale_min, aug.scale_max)
    theta = math.radians(rng.uniform(-aug.max_rotation_deg, aug.max_rotation_deg))
    tx = rng.uniform(-aug.max_shift, aug.max_shift) * dst_w
    ty = rng.uniform(-aug.max_shift, aug.max_shift) * dst_h
    c, si = math.cos(theta) * s, math.sin(theta) * s
    to_origin = np.array([[1, 0, -(src_w - 1) / 2], [0, 1, -(src_h - 1) / 2], [0, 0, 1.0]])
    rot = np.array([[c, -si, 0], [si, c, 0], [0, 0, 1.0]])
    to_canvas = np.array([[1, 0, (dst_w - 1) / 2 + tx], [0, 1, (dst_h - 1) / 2 + ty], [0, 0, 1.0]])
    m = to_canvas @ rot @ to_origin
    flip = rng.random() < aug.flip_prob
    if flip:
        m = np.array([[-1, 0, dst_w - 1], [0, 1, 0], [0, 0, 1.0]]) @ m
    return m, flip


def _pil_affine(m: np.ndarray) -> tuple[float, ...]:
    """PIL wants the inverse map (output -> input) in its +0.5-centred coordinates."""
    shift = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1.0]])
    unshift = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1.0]])
    inv = shift @ np.linalg.inv(m) @ unshift
    return tuple(inv[:2].reshape(-1))


def warp_image(img: Image.Image, m: np.ndarray, dst_w: int, dst_h: int) -> Image.Image:
    return img.convert("RGB").transform(
        (dst_w, dst_h), Image.Transform.AFFINE, _pil_affine(m),
        resample=Image.Resampling.BILINEAR, fillcolor=(PAD_VALUE,) * 3,
    )


def transform_keypoints(kps17: np.ndarray, m: np.ndarray, flipped: bool) -> np.ndarray:
    """Apply ``m`` to annotated points; a flip also swaps left/right keypoint identities."""
    out = np.array(kps17, dtype=np.float64).reshape(17, 3).copy()
    xy1 = np.concatenate([out[:, :2], np.ones((17, 1))], axis=1)
    out[:, :2] = (xy1 @ m.T)[:, :2]
    out[out[:, 2] <= 0] = 0.0
    if flipped:
        out = out[list(FLIP_COCO17)]
    return out


def _ignore_mask(anns: list[dict], m: np.ndarray, dst_w: int, dst_h: int) -> np.ndarray:
    """1 where the loss counts, 0 over people that are present but not annotated."""
    canvas = Image.new("L", (dst_w, dst_h), 0)
    draw = ImageDraw.Draw(canvas)
    any_drawn = False
    for a in anns:
        if a.get("num_keypoints", 0) > 0 and not a.get("iscrowd", 0):
            continue
        polys = a.get("segmentation")
        if not isinstance(polys, list) or not polys:
            bx, by, bw, bh = a.get("bbox", (0, 0, 0, 0))
            polys = [[bx, by, bx + bw, by, bx + bw, by + bh, bx, by + bh]]
        for poly in polys:
            pts = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
            if len(pts) < 3:
                continue
            pts = np.concatenate([pts, np.ones((len(pts), 1))], axis=1) @ m.T
            draw.polygon([tuple(p) for p in pts[:, :2]], fill=255)
            any_drawn = True
    if not any_drawn:
        return np.ones((dst_h, dst_w), dtype=np.float32)
    return 1.0 - np.asarray(canvas, dtype=np.float32) / 255.0


def _pool(x: np.ndarray, f: int) -> np.ndarray:
    h, w = x.shape
    return x.reshape(h // f, f, w // f, f).mean(axis=(1, 3))


class CocoKeypoints:
    """Map-style dataset (works with torch DataLoader; no torch import needed here)."""

    def __init__(
        self,
        annotations: str | Path,
        images: str | Path | None = None,
        input_size: tuple[int, int] = (256, 256),
        target_cfg: TargetConfig | None = None,
        augment: AugmentConfig | None = None,
        seed: int = 0,
        max_images: int | None = None,
    ):
        annotations = Path(annotations)
        self.coco = load_coco(annotations)
        self.image_dir = Path(images) if images else annotations.parent / "images"
        self.width, self.height = input_size
        self.target_cfg = target_cfg or TargetConfig.for_input(self.height)
        self.augment = augment or AugmentConfig.none()
        self.seed = seed
        self.epoch = 0
        by_image: dict[int, list[dict]] = {}
        for a in self.coco["annotations"]:
            if a.get("category_id", 1) == 1:
                by_image.setdefault(a["image_id"], []).append(a)
        # Images with at least one annotated person (as the reference's training set).
        self.images = [
            im for im in self.coco["images"]
            if any(a.get("num_keypoints", 0) > 0 for a in by_image.get(im["id"], []))
        ]
        if max_images is not None:
            self.images = self.images[:max_images]
        if not self.images:
            raise DataError(f"{annotations}: no image has an annotated person")
        self.anns = by_image

    def __len__(self) -> int:
        return len(self.images)

    def set_epoch(self, epoch: int) -> None:
        """Different augmentation per epoch, reproducible per (seed, epoch, index)."""
        self.epoch = epoch

    def load_image(self, index: int) -> Image.Image:
        info = self.images[index]
        path = self.image_dir / info["file_name"]
        try:
            with Image.open(path) as im:
                return im.convert("RGB")
        except OSError as e:
            raise DataError(f"cannot read image {path}: {e}") from e

    def sample(self, index: int) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray], dict]:
        info = self.images[index]
        img = self.load_image(index)
        rng = random.Random(self.seed * 1_000_003 + self.epoch * 100_003 + index)
        m, flipped = augment_matrix(img.width, img.height, self.width, self.height, self.augment, rng)
        warped = warp_image(img, m, self.width, self.height)
        anns = self.anns.get(info["id"], [])
        persons = [
            coco17_to_18(transform_keypoints(a["keypoints"], m, flipped))
            for a in anns
            if a.get("num_keypoints", 0) > 0 and not a.get("iscrowd", 0)
        ]
        targets = build_targets(persons, self.height, self.width, self.target_cfg)
        stride = self.target_cfg.stride
        mask = _pool(_ignore_mask(anns, m, self.width, self.height), stride)[None]
        masks = multiscale(mask.astype(np.float32), self.target_cfg.pooled_scales)
        image = np.asarray(warped, dtype=np.float32).transpose(2, 0, 1) / 255.0
        meta = {"image_id": info["id"], "matrix": m, "flipped": flipped}
        return np.ascontiguousarray(image), targets, masks, meta

    def __getitem__(self, index: int):
        image, targets, masks, _ = self.sample(index)
        return image, targets, masks
