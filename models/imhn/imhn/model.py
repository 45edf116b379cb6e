"""Identity Mapping Hourglass Network (IMHN), spec simple-pose.md §4.

The reference configuration is 4 stacks, inp_dim 256, increase 128, head 256. Every width
here is a parameter so an edge build can shrink it; the stem widths follow inp_dim
(stem = inp_dim/4 -> inp_dim/2, two branches concatenated to inp_dim) as in the reference.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
import torch.nn.functional as F

from .skeleton import NUM_CHANNELS

#: Negative slope of every LeakyReLU in the network (reference value).
LEAKY_SLOPE = 0.01
#: SE bottleneck reduction (reference: c -> c/16 -> c).
SE_REDUCTION = 16
#: Dilations of the stem's six 3x3 convs (enlarge the receptive field cheaply).
STEM_DILATIONS = (3, 3, 4, 4, 5, 5)
#: Number of supervised scales (strides 4, 8, 16, 32, 64).
NUM_SCALES = 5
#: Stride of the finest output relative to the input.
OUTPUT_STRIDE = 4

#: Where the identity mappings between stacks go (``ImhnConfig.merge_into``):
#: ``pooled``: scale 0 into the next stack's input, scales 1-4 added to the next hourglass's
#: pooled inputs (this package's original design, the shipped edge model);
#: ``outputs``: scale 0 into the next stack's input *and*, like scales 1-4, added to the next
#: hourglass's outputs before its heads (the reference implementation, Improved-Body-Parts).
MERGE_INTO = ("pooled", "outputs")
#: What the feature half of a merge reads (``ImhnConfig.merge_from``): ``hourglass`` its
#: per-scale outputs (c_j -> c_j, ours) or ``head`` the head's features after SE
#: (head_dim -> c_j, the reference).
MERGE_FROM = ("hourglass", "head")


@dataclass
class ImhnConfig:
    """Architecture hyper-parameters (defaults are the reference configuration)."""

    stacks: int = 4
    inp_dim: int = 256
    increase: int = 128
    head_dim: int = 256
    out_channels: int = NUM_CHANNELS
    #: Hourglass order: number of poolings inside one hourglass (scales = order + 1).
    order: int = NUM_SCALES - 1
    input_width: int = 512
    input_height: int = 512
    #: Identity mappings between stacks: see ``MERGE_INTO`` / ``MERGE_FROM``. The defaults
    #: keep checkpoints written before these options loadable; the paper's released weights
    #: need ``outputs`` / ``head`` (``imhn.import_reference`` sets them).
    merge_into: str = "pooled"
    merge_from: str = "hourglass"

    def __post_init__(self) -> None:
        if self.merge_into not in MERGE_INTO:
            raise ValueError(f"merge_into must be one of {MERGE_INTO}, got {self.merge_into!r}")
        if self.merge_from not in MERGE_FROM:
            raise ValueError(f"merge_from must be one of {MERGE_FROM}, got {self.merge_from!r}")
        if self.stacks < 1:
            raise ValueError(f"stacks must be >= 1, got {self.stacks}")
        if self.inp_dim < 8 or self.inp_dim % 4:
            raise ValueError(f"inp_dim must be a multiple of 4 and >= 8, got {self.inp_dim}")
        if self.increase < 0:
            raise ValueError(f"increase must be >= 0, got {self.increase}")
        if self.head_dim < SE_REDUCTION:
            raise ValueError(f"head_dim must be >= {SE_REDUCTION}, got {self.head_dim}")
        multiple = self.size_multiple
        for name, v in (("input_width", self.input_width), ("input_height", self.input_height)):
            if v <= 0 or v % multiple:
                raise ValueError(f"{name} must be a positive multiple of {multiple}, got {v}")

    @property
    def size_multiple(self) -> int:
        """Input sizes must divide by the coarsest stride."""
        return OUTPUT_STRIDE * 2**self.order

    def level_channels(self, level: int) -> int:
        return self.inp_dim + level * self.increase

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ImhnConfig":
        return cls(**d)


class ConvBnAct(nn.Module):
    """conv (no bias) + BN + LeakyReLU."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1):
        super().__init__()
        pad = dilation * (k - 1) // 2
        self.conv = nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.LeakyReLU(LEAKY_SLOPE, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Residual(nn.Module):
    """Bottleneck residual 1x1(c->c/2), 3x3, 1x1(->c') with a 1x1+BN skip when c != c'."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        mid = max(cout // 2, 1)
        self.body = nn.Sequential(
            ConvBnAct(cin, mid, 1),
            ConvBnAct(mid, mid, 3),
            nn.Conv2d(mid, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.skip = (
            nn.Identity()
            if cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        )
        self.act = nn.LeakyReLU(LEAKY_SLOPE, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.skip(x))


class SqueezeExcite(nn.Module):
    """Channel attention: GAP, FC(c->c/16), LeakyReLU, FC(c/16->c), sigmoid, multiply."""

    def __init__(self, c: int):
        super().__init__()
        hidden = max(c // SE_REDUCTION, 1)
        self.fc1 = nn.Conv2d(c, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, c, 1)
        self.act = nn.LeakyReLU(LEAKY_SLOPE, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = F.adaptive_avg_pool2d(x, 1)
        w = torch.sigmoid(self.fc2(self.act(self.fc1(w))))
        return x * w


class Stem(nn.Module):
    """Stride-4 stem: 7x7/2 conv, residuals, maxpool, then a dilated branch concatenated."""

    def __init__(self, inp_dim: int):
        super().__init__()
        c1, c2 = inp_dim // 4, inp_dim // 2
        self.pre = nn.Sequential(
            ConvBnAct(3, c1, 7, stride=2),
            Residual(c1, c2),
            nn.MaxPool2d(2, 2),
            Residual(c2, c2),
        )
        self.dilated = nn.Sequential(*[ConvBnAct(c2, c2, 3, dilation=d) for d in STEM_DILATIONS])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pre(x)
        return torch.cat([x, self.dilated(x)], dim=1)


class Hourglass(nn.Module):
    """One hourglass level; recursive. Returns its output and one feature map per scale.

    ``skips`` (optional) are the identity mappings from the previous stack, one per
    coarser scale, added to this level's pooled input.
    """

    def __init__(self, cfg: ImhnConfig, level: int = 0):
        super().__init__()
        c, c_next = cfg.level_channels(level), cfg.level_channels(level + 1)
        self.innermost = level == cfg.order - 1
        self.up = Residual(c, c)
        self.low = Residual(c, c_next)
        self.inner: nn.Module = (
            Residual(c_next, c_next) if self.innermost else Hourglass(cfg, level + 1)
        )
        self.back = Residual(c_next, c)
        self.up_conv = ConvBnAct(c, c, 3)

    def forward(
        self, x: torch.Tensor, skips: list[torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        up = self.up(x)
        low = self.low(F.max_pool2d(x, 2, 2))
        if skips:
            low = low + skips[0]
            rest = skips[1:]
        else:
            rest = None
        if self.innermost:
            low_out = self.inner(low)
            feats = [low_out]
        else:
            low_out, feats = self.inner(low, rest)
        back = self.back(low_out)
        out = up + self.up_conv(F.interpolate(back, scale_factor=2.0, mode="nearest"))
        return out, [out] + feats


class Head(nn.Module):
    """Per-scale prediction head: two 3x3 convs, SE, then a 1x1 conv to the output maps."""

    def __init__(self, cin: int, head_dim: int, out_channels: int):
        super().__init__()
        self.body = nn.Sequential(
            ConvBnAct(cin, head_dim, 3), ConvBnAct(head_dim, head_dim, 3), SqueezeExcite(head_dim)
        )
        self.out = nn.Conv2d(head_dim, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))


def _conv1x1_bn(cin: int, cout: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))


class IMHN(nn.Module):
    """Stacked IMHN. ``forward`` returns ``[stack][scale]`` predictions (fine to coarse)."""

    def __init__(self, cfg: ImhnConfig):
        super().__init__()
        self.cfg = cfg
        scales = cfg.order + 1
        chans = [cfg.level_channels(s) for s in range(scales)]
        self.stem = Stem(cfg.inp_dim)
        self.hourglasses = nn.ModuleList([Hourglass(cfg) for _ in range(cfg.stacks)])
        self.heads = nn.ModuleList(
            [
                nn.ModuleList([Head(c, cfg.head_dim, cfg.out_channels) for c in chans])
                for _ in range(cfg.stacks)
            ]
        )
        # Identity mappings between stacks: prediction and features -> next stack, per scale.
        self.merge_preds = nn.ModuleList(
            [
                nn.ModuleList([_conv1x1_bn(cfg.out_channels, c) for c in chans])
                for _ in range(cfg.stacks - 1)
            ]
        )
        feat_in = [cfg.head_dim] * scales if cfg.merge_from == "head" else chans
        self.merge_feats = nn.ModuleList(
            [
                nn.ModuleList([_conv1x1_bn(ci, c) for ci, c in zip(feat_in, chans)])
                for _ in range(cfg.stacks - 1)
            ]
        )

    def forward(self, image: torch.Tensor) -> list[list[torch.Tensor]]:
        cfg = self.cfg
        x = self.stem(image)
        skips: list[torch.Tensor] | None = None  # merge_into == "pooled"
        carry: list[torch.Tensor] | None = None  # merge_into == "outputs"
        outputs: list[list[torch.Tensor]] = []
        for s in range(cfg.stacks):
            _, feats = self.hourglasses[s](x, skips)
            if carry is not None:
                feats = [f + c for f, c in zip(feats, carry)]
            bodies = [head.body(f) for head, f in zip(self.heads[s], feats)]
            preds = [head.out(b) for head, b in zip(self.heads[s], bodies)]
            outputs.append(preds)
            if s + 1 < cfg.stacks:
                src = bodies if cfg.merge_from == "head" else feats
                merged = [
                    mp(p) + mf(f)
                    for mp, mf, p, f in zip(self.merge_preds[s], self.merge_feats[s], preds, src)
                ]
                x = x + merged[0]
                if cfg.merge_into == "outputs":
                    carry = merged
                else:
                    skips = merged[1:]
        return outputs


class InferenceWrapper(nn.Module):
    """What is exported: the last stack's stride-4 maps only."""

    def __init__(self, net: IMHN):
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image)[-1][0]


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def count_macs(net: nn.Module, height: int, width: int) -> int:
    """Multiply-accumulates of one forward pass (convolutions and linear layers)."""
    total = 0

    def conv_hook(mod: nn.Conv2d, _inp, out: torch.Tensor) -> None:
        nonlocal total
        kh, kw = mod.kernel_size
        total += out.numel() * (mod.in_channels // mod.groups) * kh * kw

    def linear_hook(mod: nn.Linear, _inp, out: torch.Tensor) -> None:
        nonlocal total
        total += out.numel() * mod.in_features

    handles = []
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            net(torch.zeros(1, 3, height, width))
    finally:
        for h in handles:
            h.remove()
        net.train(was_training)
    return total
