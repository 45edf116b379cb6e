"""Focal L2 and plain L2 losses (paper eq. 2-4), masked, multi-scale, multi-stack."""

from __future__ import annotations

import torch

from .skeleton import KEYPOINT_OFFSET, NUM_CHANNELS, NUM_KEYPOINTS

#: Per-scale weights, fine (stride 4) to coarse (stride 64), as in the reference.
SCALE_WEIGHTS = (0.1, 0.2, 0.4, 1.6, 6.4)
#: Keypoint maps count this many times more than body-part maps.
KEYPOINT_WEIGHT = 3.0
#: A target at or above this is "foreground" for the focal weighting (eq. 3).
FOCAL_THRESHOLD = 0.01
FOCAL_GAMMA = 2.0


def channel_weights(num_channels: int = NUM_CHANNELS, device=None) -> torch.Tensor:
    """(C,1,1) weights: keypoint channels KEYPOINT_WEIGHT, all others 1."""
    w = torch.ones(num_channels, device=device)
    w[KEYPOINT_OFFSET : KEYPOINT_OFFSET + NUM_KEYPOINTS] = KEYPOINT_WEIGHT
    return w.view(-1, 1, 1)


def focal_factor(
    pred: torch.Tensor, target: torch.Tensor, gamma: float = FOCAL_GAMMA,
    threshold: float = FOCAL_THRESHOLD,
) -> torch.Tensor:
    """(1 - s_t)^gamma with s_t = s where s* >= thr, else 1 - s (eq. 3), clamped to [0, 1].

    Easy foreground (prediction already high on a high target) and easy background
    (prediction already low on a low target) get small factors; hard pixels get ~1.
    """
    st = torch.where(target >= threshold, pred, 1.0 - pred).clamp(0.0, 1.0)
    return (1.0 - st) ** gamma


def pixel_loss(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, focal: bool,
    gamma: float = FOCAL_GAMMA,
) -> torch.Tensor:
    """Weighted, masked squared error per element (same shape as ``pred``)."""
    err = (pred - target) ** 2
    if focal:
        err = err * focal_factor(pred, target, gamma)
    return err * mask * channel_weights(pred.shape[1], pred.device)


def scale_loss(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, focal: bool,
    gamma: float = FOCAL_GAMMA,
) -> torch.Tensor:
    """Sum over channels and pixels, mean over the batch (the reference's normalisation)."""
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} vs target {tuple(target.shape)}")
    return pixel_loss(pred, target, mask, focal, gamma).sum() / pred.shape[0]


def multiscale_loss(
    outputs: list[list[torch.Tensor]],
    targets: list[torch.Tensor],
    masks: list[torch.Tensor],
    focal: bool = True,
    scale_weights: tuple[float, ...] = SCALE_WEIGHTS,
    gamma: float = FOCAL_GAMMA,
) -> tuple[torch.Tensor, list[float]]:
    """Total loss over stacks and scales, plus per-scale values of the last stack (for logs)."""
    if len(targets) != len(scale_weights) or len(masks) != len(scale_weights):
        raise ValueError(
            f"expected {len(scale_weights)} scales, got {len(targets)} targets, {len(masks)} masks"
        )
    total = targets[0].new_zeros(())
    last: list[float] = []
    for stack in outputs:
        if len(stack) != len(scale_weights):
            raise ValueError(f"expected {len(scale_weights)} outputs per stack, got {len(stack)}")
        last = []
        for w, p, t, m in zip(scale_weights, stack, targets, masks):
            v = scale_loss(p, t, m, focal, gamma)
            total = total + w * v
            last.append(float(v.detach()))
    return total, last
