"""Import the published Simple Pose checkpoint (hellojialee/Improved-Body-Parts) into this IMHN.

    python -m imhn.import_reference PoseNet_52_epoch.pth --out models
    edgepose run --model imhn-reference ...

Reads the released file (legacy or zip ``torch.save``, optionally gzip-compressed): a dict
holding ``weights`` (the trainer's layout; ``optimizer_weight``, ``epoch``, ``train_loss`` are
ignored) or a bare state dict, keys prefixed ``posenet.`` (``module.posenet.`` and no prefix
are accepted too). The architecture is read from the tensor shapes, every tensor is mapped
onto an ``IMHN`` built with ``merge_into="outputs"``, ``merge_from="head"`` (the reference's
identity mappings), and nothing may be missing or left over: the first mismatching key is
named in the error.

Input convention of the exported ONNX: **edgepose's**, not the reference's. The reference
feeds NHWC B,G,R pixel/255; the ONNX takes ``image`` float32 NCHW [1,3,H,W] R,G,B pixel/255
(no mean/std), H and W any multiples of 64 (dynamic axes). The B,G,R order is folded into
the first convolution at import (its three input-channel slices are reversed, which is exact),
so the card says ``color = "rgb"`` truthfully. Output ``maps`` is the last stack's stride-4
output, the one the reference's inference uses (``output[-1][0]``), 50 channels in the
reference layout (the same as edgepose's Simple Pose layout; channel 48 is the reference's
background map, 49 its "reverse keypoint" map; edgepose's decoder reads neither).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import sys
import warnings
from pathlib import Path

import torch

from .model import IMHN, ImhnConfig, count_parameters
from .skeleton import NUM_CHANNELS

#: Prefixes a released state dict may carry (the first is the trainer's; ``module.`` appears
#: only when a DDP-wrapped model was saved whole).
KEY_PREFIXES = ("module.posenet.", "posenet.", "module.")
#: gzip magic bytes (the fixture ships its checkpoint gzip-compressed).
GZIP_MAGIC = b"\x1f\x8b"
#: The reference stem ignores its width argument: conv1 -> 64, residuals -> 128, concat 256.
REFERENCE_STEM_WIDTHS = (64, 128)
#: Model id, file stem and wire ids of the imported network (ours: 1-5 are taken).
MODEL_ID = "imhn-reference"
WIRE_ID_FP32 = 6
WIRE_ID_INT8 = 7
#: The reference's single-scale evaluation (utils/config: boxsize 640, scale_search [1]): the
#: image is resized to height 640, padded right/bottom with 128 to a multiple of 64, and run
#: with its mirror (flip averaging). 896 x 640 holds a 4:3 frame at height 640 (853 -> 896).
CARD_HEIGHT = 640
CARD_WIDTH = 896
CARD_FLIP = True
#: Input sizes must be multiples of this (stem stride 4, four poolings).
SIZE_MULTIPLE = 64
#: Size used to check the exported graph against PyTorch after export.
CHECK_SIZE = (128, 192)
#: Largest |onnx - torch| accepted at that check (fixture README: fp32 noise <= 9e-4).
CHECK_TOLERANCE = 1e-2


class CheckpointError(Exception):
    """The checkpoint cannot be imported; the message names the file and the problem."""


# ---------------------------------------------------------------------------------------------
# Reading


def read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """The reference state dict (prefix stripped, tensors on the CPU), or ``CheckpointError``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e.strerror or e}") from e
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise CheckpointError(f"checkpoint {path} is a damaged gzip file: {e}") from e
    if not raw:
        raise CheckpointError(f"checkpoint {path} is empty")
    try:
        obj = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises pickle, EOF, Runtime and zip errors alike
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"checkpoint {path} is truncated or corrupt ({len(raw):,} bytes; torch.load: "
            f"{type(e).__name__}: {first[:200]})"
        ) from e
    return _state_dict_of(obj, path)


def _state_dict_of(obj, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, dict) and "weights" in obj:
        sd = obj["weights"]
    elif isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        sd = obj
    else:
        top = sorted(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(
            f"checkpoint {path} holds neither a 'weights' entry nor a bare state dict (top level: {top})"
        )
    if not isinstance(sd, dict) or not sd:
        raise CheckpointError(f"checkpoint {path}: 'weights' is not a non-empty state dict")
    out: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            raise CheckpointError(f"checkpoint {path}: entry {k!r} is a {type(v).__name__}, not a tensor")
        out[_strip_prefix(str(k))] = v
    return out


def _strip_prefix(key: str) -> str:
    for p in KEY_PREFIXES:
        if key.startswith(p):
            return key[len(p):]
    return key


# ---------------------------------------------------------------------------------------------
# Configuration from shapes


def config_from_shapes(shapes: dict[str, tuple[int, ...]]) -> ImhnConfig:
    """Our ``ImhnConfig`` for a reference state dict, from its key names and shapes only."""

    def shape(key: str) -> tuple[int, ...]:
        if key not in shapes:
            raise CheckpointError(f"checkpoint has no key 'posenet.{key}', needed to read the configuration")
        return tuple(shapes[key])

    stacks = 1 + max((int(m.group(1)) for k in shapes if (m := re.match(r"hourglass\.(\d+)\.", k))), default=-1)
    if stacks < 1:
        raise CheckpointError("checkpoint has no 'posenet.hourglass.*' keys: not a Simple Pose (Improved-Body-Parts) network")
    order = 1 + max(int(m.group(1)) for k in shapes if (m := re.match(r"hourglass\.0\.hg\.(\d+)\.", k)))
    out_channels, head_dim = shape("outs.0.0.conv.weight")[:2]
    c0 = shape("hourglass.0.hg.0.0.convBlock.6.weight")[0]
    c1 = shape("hourglass.0.hg.0.1.convBlock.6.weight")[0]
    stem = (shape("pre.conv1.weight")[0], shape("pre.res2.convBlock.6.weight")[0])
    if stem != (c0 // 4, c0 // 2):
        raise CheckpointError(
            f"stem widths {stem} do not fit hourglass width {c0} (our stem is inp_dim/4, inp_dim/2; "
            f"the reference's is fixed at {REFERENCE_STEM_WIDTHS}, so only inp_dim 256 exists)"
        )
    if out_channels != NUM_CHANNELS:
        raise CheckpointError(
            f"'posenet.outs.0.0.conv.weight' has {out_channels} output maps; edgepose's Simple Pose decoder reads {NUM_CHANNELS}"
        )
    return ImhnConfig(
        stacks=stacks, inp_dim=c0, increase=c1 - c0, head_dim=head_dim, out_channels=out_channels,
        order=order, input_width=CARD_WIDTH, input_height=CARD_HEIGHT,
        merge_into="outputs", merge_from="head",
    )


# ---------------------------------------------------------------------------------------------
# Key mapping (reference name -> our name)

_RESIDUAL = {
    "convBlock.0": "body.0.conv", "convBlock.1": "body.0.bn",
    "convBlock.3": "body.1.conv", "convBlock.4": "body.1.bn",
    "convBlock.6": "body.2", "convBlock.7": "body.3",
    "skipConv.0": "skip.0", "skipConv.1": "skip.1",
}
_RESIDUAL_RE = r"(convBlock\.[0-9]|skipConv\.[01])\.(.+)"


def _residual(prefix: str, rest: str) -> str | None:
    m = re.fullmatch(_RESIDUAL_RE, rest)
    return f"{prefix}.{_RESIDUAL[m.group(1)]}.{m.group(2)}" if m and m.group(1) in _RESIDUAL else None


def map_key(ref: str, order: int) -> str | None:
    """Our state-dict name for a reference key (prefix stripped), or ``None`` if unknown."""
    if m := re.fullmatch(r"pre\.(conv1|bn1)\.(.+)", ref):
        return f"stem.pre.0.{'conv' if m.group(1) == 'conv1' else 'bn'}.{m.group(2)}"
    if m := re.fullmatch(r"pre\.res([12])\.(.+)", ref):
        return _residual(f"stem.pre.{1 if m.group(1) == '1' else 3}", m.group(2))
    if m := re.fullmatch(r"pre\.dilation\.(\d+)\.(conv|bn)\.(.+)", ref):
        return f"stem.dilated.{m.group(1)}.{m.group(2)}.{m.group(3)}"
    if m := re.fullmatch(r"hourglass\.(\d+)\.hg\.(\d+)\.(\d+)\.(.+)", ref):
        s, level, k, rest = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)
        if level >= order:
            return None
        base = f"hourglasses.{s}" + ".inner" * level
        if k == 3:
            m3 = re.fullmatch(r"(conv|bn)\.(.+)", rest)
            return f"{base}.up_conv.{m3.group(1)}.{m3.group(2)}" if m3 else None
        if k == 4 and level == order - 1:
            return _residual(f"{base}.inner", rest)
        names = {0: "up", 1: "low", 2: "back"}
        return _residual(f"{base}.{names[k]}", rest) if k in names else None
    if m := re.fullmatch(r"features\.(\d+)\.before_regress\.(\d+)\.([01])\.(conv|bn)\.(.+)", ref):
        s, j, i, what, rest = m.groups()
        return f"heads.{s}.{j}.body.{i}.{what}.{rest}"
    if m := re.fullmatch(r"features\.(\d+)\.before_regress\.(\d+)\.2\.fc\.([02])\.(weight|bias)", ref):
        s, j, i, what = m.groups()
        return f"heads.{s}.{j}.body.2.fc{1 if i == '0' else 2}.{what}"
    if m := re.fullmatch(r"outs\.(\d+)\.(\d+)\.conv\.(weight|bias)", ref):
        return f"heads.{m.group(1)}.{m.group(2)}.out.{m.group(3)}"
    if m := re.fullmatch(r"merge_(features|preds)\.(\d+)\.(\d+)\.conv\.(conv|bn)\.(.+)", ref):
        kind, s, j, what, rest = m.groups()
        ours = "merge_feats" if kind == "features" else "merge_preds"
        return f"{ours}.{s}.{j}.{0 if what == 'conv' else 1}.{rest}"
    return None


def map_state_dict(
    ref_shapes: dict[str, tuple[int, ...]], our_shapes: dict[str, tuple[int, ...]], order: int
) -> list[tuple[str, str]]:
    """Pairs (reference key, our key) covering both sides exactly, checked on shapes.

    The SE layers are ``Linear`` in the reference and 1x1 ``Conv2d`` here: same numbers, so a
    (out, in) weight matches an (out, in, 1, 1) one. Raises ``CheckpointError`` naming the first
    reference key that has no counterpart or the wrong shape, or the first of ours left unset.
    """
    pairs, used = [], set()
    for ref, rshape in ref_shapes.items():
        ours = map_key(ref, order)
        if ours is None or ours not in our_shapes:
            raise CheckpointError(
                f"checkpoint key 'posenet.{ref}' {list(rshape)} has no counterpart in the IMHN "
                f"(expected name: {ours or 'none: not a reference layer'})"
            )
        oshape = tuple(our_shapes[ours])
        if tuple(rshape) != oshape and not (len(rshape) == 2 and oshape == (*rshape, 1, 1)):
            raise CheckpointError(
                f"checkpoint key 'posenet.{ref}' has shape {list(rshape)}, the IMHN's '{ours}' needs {list(oshape)}"
            )
        if ours in used:
            raise CheckpointError(f"checkpoint key 'posenet.{ref}' maps onto '{ours}' a second time")
        used.add(ours)
        pairs.append((ref, ours))
    missing = [k for k in our_shapes if k not in used]
    if missing:
        raise CheckpointError(
            f"checkpoint lacks a tensor for the IMHN's '{missing[0]}' ({len(missing)} missing in all)"
        )
    return pairs


def build_imported(sd: dict[str, torch.Tensor], rgb_input: bool = True) -> IMHN:
    """Our IMHN (eval mode) holding every tensor of the reference state dict.

    ``rgb_input`` reverses the first convolution's input channels, so the network takes R,G,B
    where the reference took B,G,R (exact: a permutation of a sum).
    """
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    cfg = config_from_shapes(shapes)
    net = IMHN(cfg)
    ours = net.state_dict()
    pairs = map_state_dict(shapes, {k: tuple(v.shape) for k, v in ours.items()}, cfg.order)
    new = {}
    for ref, key in pairs:
        t = sd[ref]
        if t.dtype != ours[key].dtype:
            raise CheckpointError(f"checkpoint key 'posenet.{ref}' is {t.dtype}, expected {ours[key].dtype}")
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"checkpoint key 'posenet.{ref}' holds NaN or infinite values")
        new[key] = t.reshape(ours[key].shape).clone()
    if rgb_input:
        new["stem.pre.0.conv.weight"] = new["stem.pre.0.conv.weight"].flip(1).contiguous()
    net.load_state_dict(new, strict=True)
    return net.eval()


def reference_state_dict(net: IMHN, rgb_input: bool = True) -> dict[str, torch.Tensor]:
    """The inverse of ``build_imported``: ``net``'s tensors under the reference's names and
    shapes (``posenet.`` prefix), as the released file holds them. Benchmarks and round-trip
    tests use it to make checkpoints of any configuration without the reference code."""
    ours = net.state_dict()
    out: dict[str, torch.Tensor] = {}
    for ref in _reference_keys(net.cfg):
        key = map_key(ref, net.cfg.order)
        t = ours[key]
        if key == "stem.pre.0.conv.weight" and rgb_input:
            t = t.flip(1)
        if ".fc." in ref and ref.endswith("weight"):
            t = t.reshape(t.shape[:2])
        out["posenet." + ref] = t.detach().clone().contiguous()
    if len(out) != len(ours):
        raise AssertionError(f"reference layout has {len(out)} tensors, the IMHN {len(ours)}")
    return out


def _bn(prefix: str) -> list[str]:
    return [f"{prefix}.{n}" for n in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")]


def _residual_keys(prefix: str, cin: int, cout: int) -> list[str]:
    keys = []
    for conv, bn in (("0", "1"), ("3", "4"), ("6", "7")):
        keys += [f"{prefix}.convBlock.{conv}.weight"] + _bn(f"{prefix}.convBlock.{bn}")
    if cin != cout:
        keys += [f"{prefix}.skipConv.0.weight"] + _bn(f"{prefix}.skipConv.1")
    return keys


def _reference_keys(cfg: ImhnConfig) -> list[str]:
    """Every key of the reference PoseNet for ``cfg`` (prefix stripped), in state-dict order."""
    c1, c2 = cfg.inp_dim // 4, cfg.inp_dim // 2
    keys = ["pre.conv1.weight"] + _bn("pre.bn1")
    keys += _residual_keys("pre.res1", c1, c2) + _residual_keys("pre.res2", c2, c2)
    for d in range(6):
        keys += [f"pre.dilation.{d}.conv.weight"] + _bn(f"pre.dilation.{d}.bn")
    for s in range(cfg.stacks):
        for lv in range(cfg.order):
            c, cn = cfg.level_channels(lv), cfg.level_channels(lv + 1)
            base = f"hourglass.{s}.hg.{lv}"
            keys += _residual_keys(f"{base}.0", c, c) + _residual_keys(f"{base}.1", c, cn)
            keys += _residual_keys(f"{base}.2", cn, c)
            keys += [f"{base}.3.conv.weight"] + _bn(f"{base}.3.bn")
            if lv == cfg.order - 1:
                keys += _residual_keys(f"{base}.4", cn, cn)
    for s in range(cfg.stacks):
        for j in range(cfg.order + 1):
            base = f"features.{s}.before_regress.{j}"
            for i in ("0", "1"):
                keys += [f"{base}.{i}.conv.weight"] + _bn(f"{base}.{i}.bn")
            keys += [f"{base}.2.fc.{i}.{w}" for i in ("0", "2") for w in ("weight", "bias")]
    for s in range(cfg.stacks):
        for j in range(cfg.order + 1):
            keys += [f"outs.{s}.{j}.conv.weight", f"outs.{s}.{j}.conv.bias"]
    for kind in ("merge_features", "merge_preds"):
        for s in range(cfg.stacks - 1):
            for j in range(cfg.order + 1):
                keys += [f"{kind}.{s}.{j}.conv.conv.weight"] + _bn(f"{kind}.{s}.{j}.conv.bn")
    return keys


def save_reference_checkpoint(net: IMHN, path: Path) -> Path:
    """Write ``net`` as the released file is laid out: legacy torch.save format, a dict with
    ``weights`` (``posenet.*``), ``optimizer_weight``, ``train_loss``, ``epoch``."""
    torch.save(
        {"weights": reference_state_dict(net), "optimizer_weight": {"state": {}, "param_groups": []},
         "train_loss": 0.0, "epoch": 52},
        path, _use_new_zipfile_serialization=False,
    )
    return path


# ---------------------------------------------------------------------------------------------
# Export and card


class AllOutputs(torch.nn.Module):
    """Every stack's every scale as separate outputs (verification graphs only)."""

    def __init__(self, net: IMHN):
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(p for stack in self.net(image) for p in stack)


def all_output_names(cfg: ImhnConfig) -> list[str]:
    """``stack{i}_scale{j}``, the fixture's names, in ``AllOutputs`` order."""
    return [f"stack{i}_scale{j}" for i in range(cfg.stacks) for j in range(cfg.order + 1)]


def export_dynamic(net: IMHN, path: Path, all_outputs: bool = False) -> Path:
    """ONNX (fp32, opset 13), H and W dynamic, batch 1: the last stack's stride-4 ``maps``
    (the deployed graph), or with ``all_outputs`` every stack and scale (for verification)."""
    from .export import INPUT_NAME, OPSET, OUTPUT_NAME
    from .model import InferenceWrapper

    path.parent.mkdir(parents=True, exist_ok=True)
    if all_outputs:
        wrapper: torch.nn.Module = AllOutputs(net).eval()
        names = all_output_names(net.cfg)
    else:
        wrapper, names = InferenceWrapper(net).eval(), [OUTPUT_NAME]
    axes = {INPUT_NAME: {2: "height", 3: "width"}}
    axes.update({n: {2: f"{n}_rows", 3: f"{n}_cols"} for n in names})
    dummy = torch.zeros(1, 3, SIZE_MULTIPLE * 2, SIZE_MULTIPLE * 2)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter is the tested one
        torch.onnx.export(
            wrapper, (dummy,), str(path), input_names=[INPUT_NAME], output_names=names,
            opset_version=OPSET, do_constant_folding=True, dynamo=False, dynamic_axes=axes,
        )
    return path


def check_export(net: IMHN, onnx_path: Path) -> float:
    """Max |onnxruntime - torch| on a random non-square input; raises if above tolerance."""
    import numpy as np

    from .export import run_onnx
    from .model import InferenceWrapper

    h, w = CHECK_SIZE
    x = np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32)
    with torch.no_grad():
        ref = InferenceWrapper(net)(torch.from_numpy(x)).numpy()
    err = float(np.abs(run_onnx(onnx_path, x) - ref).max())
    if not err <= CHECK_TOLERANCE:
        raise CheckpointError(f"exported {onnx_path} differs from PyTorch by {err:.3g} (> {CHECK_TOLERANCE})")
    return err


def card_text(onnx_path: Path, model_id: str, wire_id: int, source: str, facts: dict, variant: str) -> str:
    from .card import render_card

    return render_card(
        model_id, variant, onnx_path, CARD_WIDTH, CARD_HEIGHT,
        provenance=(
            f"Imported by edgepose from the Simple Pose authors' released checkpoint ({source}); "
            "hellojialee/Improved-Body-Parts, AAAI 2020, epoch 52, 68.5 AP on COCO test-dev (paper). "
            "The weights are the authors', downloaded by the user; edgepose ships none of them."
        ),
        description=(
            f"IMHN (Simple Pose) reference network, {variant}, imported; NCHW RGB pixel/255 "
            f"(the reference's BGR order is folded into conv1), any size that is a multiple of 64."
        ),
        facts=facts, wire_id=wire_id, fixed_size=False, tta_flip=CARD_FLIP,
        license="as published by the Improved-Body-Parts authors (see their repository)",
    )


def write_outputs(net: IMHN, out: Path, source: str, model_id: str = MODEL_ID) -> tuple[Path, Path, float]:
    """ONNX + card into ``out``; returns their paths and the export check's error."""
    onnx_path = export_dynamic(net, out / f"{model_id}.onnx")
    err = check_export(net, onnx_path)
    cfg = net.cfg
    facts = {
        "status": "the paper's own weights, imported; outputs verified against the reference implementation "
                  "on the fixture network (shared/fixtures/imhn-reference) to 1e-2",
        "architecture": (
            f"IMHN (Simple Pose), {cfg.stacks} stacks, inp_dim {cfg.inp_dim}, increase {cfg.increase}, "
            f"head_dim {cfg.head_dim}, order-{cfg.order} hourglass, SE heads, identity mappings into the "
            f"next stack's outputs (reference layout)"
        ),
        "params": count_parameters(net),
        "imhn_config": json.dumps(cfg.to_dict(), sort_keys=True),
        "input_convention": "NCHW, R,G,B, pixel/255, no mean/std, pad 128 right/bottom; the reference feeds "
                            "NHWC B,G,R and the importer reverses conv1's input channels to match",
        "reference_eval": "height 640 (boxsize 640, scale 1), padded to a multiple of 64, flip averaged; the "
                          "card's 896x640 default holds a 4:3 frame at that scale",
        "onnx_vs_torch_max_abs": float(f"{err:.3g}"),
        "channels_48_49": "reference: 48 background (person mask), 49 reverse keypoint; unused by the decoder",
    }
    card = out / f"{model_id}.toml"
    card.write_text(card_text(onnx_path, model_id, WIRE_ID_FP32, source, facts, "fp32"), encoding="utf-8")
    return onnx_path, card, err


def quantize_imported(fp32_onnx: Path, calib: "np.ndarray", model_id: str = MODEL_ID, source: str = "") -> tuple[Path, Path]:
    """int8 QDQ of the imported graph for onnxruntime (per-channel int8 weights, uint8
    activations, MinMax over ``calib`` [N,3,H,W]) and its card, next to the fp32 file."""
    from .quantize import quantize

    out = fp32_onnx.with_name(f"{model_id}-int8.onnx")
    quantize(fp32_onnx, out, list(calib), "qdq")
    facts = {
        "status": "int8 QDQ of the imported reference weights, for onnxruntime (tract runs QDQ as fake-quant "
                  "in f32: use the fp32 file there)",
        "calibration": f"MinMax over {len(calib)} images at {calib.shape[3]}x{calib.shape[2]}{' (' + source + ')' if source else ''}",
        "fp32_model": fp32_onnx.name,
    }
    card = fp32_onnx.with_name(f"{model_id}-int8.toml")
    card.write_text(card_text(out, f"{model_id}-int8", WIRE_ID_INT8, source or "imported checkpoint", facts, "int8"),
                    encoding="utf-8")
    return out, card


def calibration_set(images: list[str] | None, count: int, width: int, height: int, seed: int = 0) -> tuple["np.ndarray", str]:
    """The user's images (folders, files, MCAP recordings) or, without any, synthetic scenes."""
    import tempfile

    from .images import load_images, synthetic_images

    if images:
        return load_images(images, width, height, limit=count), f"user images: {', '.join(images)}"
    with tempfile.TemporaryDirectory() as tmp:
        return (synthetic_images(count, width, height, seed, Path(tmp)),
                f"synthetic stick-figure scenes, seed {seed} (no images given)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="PoseNet_52_epoch.pth (or any checkpoint of the same layout; .gz accepted)")
    p.add_argument("--out", required=True, help="folder for imhn-reference.onnx + .toml (e.g. models)")
    p.add_argument("--id", default=MODEL_ID, help="model id and file stem (default %(default)s)")
    p.add_argument("--int8", action="store_true", help="also write <id>-int8.onnx (QDQ, onnxruntime) + card")
    p.add_argument("--calib-images", nargs="+", metavar="PATH",
                   help="calibration images: folders, image files, edgepose MCAP recordings (default: synthetic scenes)")
    p.add_argument("--calib-count", type=int, default=16)
    p.add_argument("--calib-size", default="512x512", help="WxH, multiples of 64 (default %(default)s)")
    args = p.parse_args(argv)
    from .data import DataError

    try:
        sd = read_checkpoint(args.checkpoint)
        net = build_imported(sd)
        onnx_path, card, err = write_outputs(net, Path(args.out), Path(args.checkpoint).name, args.id)
        if args.int8:
            w, _, h = args.calib_size.partition("x")
            w, h = int(w), int(h or w)
            if w % SIZE_MULTIPLE or h % SIZE_MULTIPLE:
                raise CheckpointError(f"--calib-size {args.calib_size}: width and height must be multiples of {SIZE_MULTIPLE}")
            calib, what = calibration_set(args.calib_images, args.calib_count, w, h)
            q, qcard = quantize_imported(onnx_path, calib, args.id, what)
            print(f"wrote {q} and {qcard} (calibration: {what})")
    except (CheckpointError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cfg = net.cfg
    print(
        f"imported {len(sd)} tensors ({count_parameters(net):,} parameters): {cfg.stacks} stacks, "
        f"inp_dim {cfg.inp_dim}, increase {cfg.increase}\n"
        f"wrote {onnx_path} (max |onnx - torch| {err:.2e}) and {card}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
