"""Training targets (spec simple-pose.md §3): what a perfect network outputs.

All coordinates are input-image pixels with pixel centres on integers; output cell ``c``
of a stride-``s`` map looks at input pixel ``s*c + (s-1)/2`` (1.5 for stride 4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skeleton import (
    COCO_LEFT_SHOULDER,
    COCO_OF_KEYPOINT,
    COCO_RIGHT_SHOULDER,
    KEYPOINT_OFFSET,
    MASK_CHANNEL,
    MAX_CHANNEL,
    NECK,
    NUM_CHANNELS,
    NUM_KEYPOINTS,
    PART_OFFSET,
    PARTS,
)

#: Reference σ values at a 512-pixel input; an edge build scales them with its input size.
REFERENCE_SIGMA_KEYPOINT = 9.0
REFERENCE_SIGMA_PART = 7.0
REFERENCE_INPUT = 512.0
#: Body-part maps live only inside the endpoints' box enlarged by this many pixels.
PART_BOX_PAD = 4.0
#: Inside that box, values at or below FLOOR_THRESHOLD are set to FLOOR_VALUE (reference).
FLOOR_THRESHOLD = 0.015
FLOOR_VALUE = 0.01


@dataclass
class TargetConfig:
    stride: int = 4
    sigma_keypoint: float = REFERENCE_SIGMA_KEYPOINT
    sigma_part: float = REFERENCE_SIGMA_PART
    part_box_pad: float = PART_BOX_PAD
    #: Number of coarser scales produced by 2x2 average pooling (4 -> strides 8..64).
    pooled_scales: int = 4

    @classmethod
    def for_input(cls, input_size: int, **kw) -> "TargetConfig":
        """σ scaled from the reference's 512-pixel values to ``input_size``."""
        f = input_size / REFERENCE_INPUT
        return cls(
            sigma_keypoint=REFERENCE_SIGMA_KEYPOINT * f, sigma_part=REFERENCE_SIGMA_PART * f, **kw
        )


def coco17_to_18(kps17: np.ndarray) -> np.ndarray:
    """(17,3) COCO [x, y, v] -> (18,3) network order; neck = shoulder midpoint if both exist."""
    kps17 = np.asarray(kps17, dtype=np.float64).reshape(17, 3)
    out = np.zeros((NUM_KEYPOINTS, 3), dtype=np.float64)
    for k, c in enumerate(COCO_OF_KEYPOINT):
        if c is not None:
            out[k] = kps17[c]
    ls, rs = kps17[COCO_LEFT_SHOULDER], kps17[COCO_RIGHT_SHOULDER]
    if ls[2] > 0 and rs[2] > 0:
        out[NECK, :2] = (ls[:2] + rs[:2]) / 2.0
        out[NECK, 2] = min(ls[2], rs[2])
    return out


def cell_centres(n: int, stride: int) -> np.ndarray:
    """Input-pixel position of each of ``n`` output cells."""
    return stride * np.arange(n, dtype=np.float64) + (stride - 1) / 2.0


def keypoint_maps(persons: list[np.ndarray], out_h: int, out_w: int, cfg: TargetConfig) -> np.ndarray:
    """(18, h, w) unnormalised Gaussians; people combine by max."""
    maps = np.zeros((NUM_KEYPOINTS, out_h, out_w), dtype=np.float64)
    gy = cell_centres(out_h, cfg.stride)[:, None]
    gx = cell_centres(out_w, cfg.stride)[None, :]
    inv = 1.0 / (2.0 * cfg.sigma_keypoint**2)
    for kps in persons:
        for k in range(NUM_KEYPOINTS):
            x, y, v = kps[k]
            if v <= 0:
                continue
            g = np.exp(-((gx - x) ** 2 + (gy - y) ** 2) * inv)
            np.maximum(maps[k], g, out=maps[k])
    return maps


def part_maps(persons: list[np.ndarray], out_h: int, out_w: int, cfg: TargetConfig) -> np.ndarray:
    """(30, h, w) Gaussians of the distance to each limb's line, averaged over instances."""
    sums = np.zeros((len(PARTS), out_h, out_w), dtype=np.float64)
    counts = np.zeros((len(PARTS), out_h, out_w), dtype=np.float64)
    gy = cell_centres(out_h, cfg.stride)[:, None]
    gx = cell_centres(out_w, cfg.stride)[None, :]
    inv = 1.0 / (2.0 * cfg.sigma_part**2)
    pad = cfg.part_box_pad
    for kps in persons:
        for p, (a, b) in enumerate(PARTS):
            ax, ay, av = kps[a]
            bx, by, bv = kps[b]
            if av <= 0 or bv <= 0:
                continue
            dx, dy = bx - ax, by - ay
            length = np.hypot(dx, dy)
            if length <= 0:
                continue
            # Perpendicular distance to the infinite line through a and b.
            dist = np.abs((gx - ax) * dy - (gy - ay) * dx) / length
            val = np.exp(-(dist**2) * inv)
            inside = (
                (gx >= min(ax, bx) - pad)
                & (gx <= max(ax, bx) + pad)
                & (gy >= min(ay, by) - pad)
                & (gy <= max(ay, by) + pad)
            )
            val = np.where(val <= FLOOR_THRESHOLD, FLOOR_VALUE, val)
            sums[p] += np.where(inside, val, 0.0)
            counts[p] += inside
    return np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)


def stride4_targets(persons: list[np.ndarray], out_h: int, out_w: int, cfg: TargetConfig) -> np.ndarray:
    """(50, h, w) float32 targets at the finest scale, channel layout of §2, clipped to [0, 1].

    The person mask channel is the union (max) of all part and keypoint maps: synthetic
    scenes carry no silhouettes, and the channel is only a training aid.
    """
    out = np.zeros((NUM_CHANNELS, out_h, out_w), dtype=np.float64)
    out[PART_OFFSET : PART_OFFSET + len(PARTS)] = part_maps(persons, out_h, out_w, cfg)
    out[KEYPOINT_OFFSET : KEYPOINT_OFFSET + NUM_KEYPOINTS] = keypoint_maps(
        persons, out_h, out_w, cfg
    )
    out[MASK_CHANNEL] = out[:MASK_CHANNEL].max(axis=0)
    out[MAX_CHANNEL] = out[KEYPOINT_OFFSET : KEYPOINT_OFFSET + NUM_KEYPOINTS].max(axis=0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def avg_pool2(x: np.ndarray) -> np.ndarray:
    """2x2 average pooling over the last two axes (sizes must be even)."""
    *lead, h, w = x.shape
    if h % 2 or w % 2:
        raise ValueError(f"cannot 2x2-pool a {h}x{w} map")
    return x.reshape(*lead, h // 2, 2, w // 2, 2).mean(axis=(-3, -1))


def multiscale(x: np.ndarray, pooled_scales: int) -> list[np.ndarray]:
    """[stride-4 map, then each coarser scale by average pooling]."""
    out = [x]
    for _ in range(pooled_scales):
        out.append(avg_pool2(out[-1]).astype(x.dtype))
    return out


def build_targets(
    persons: list[np.ndarray], in_h: int, in_w: int, cfg: TargetConfig
) -> list[np.ndarray]:
    """Targets at all scales for people given as (18,3) arrays in input pixels."""
    if in_h % cfg.stride or in_w % cfg.stride:
        raise ValueError(f"input {in_w}x{in_h} is not a multiple of stride {cfg.stride}")
    base = stride4_targets(persons, in_h // cfg.stride, in_w // cfg.stride, cfg)
    return multiscale(base, cfg.pooled_scales)
