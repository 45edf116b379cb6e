"""Static int8 quantization with calibration images (onnxruntime.quantization).

Two formats, both loadable by tract (which lacks onnxruntime's com.microsoft QLinear*
contrib ops):
- ``qdq``: QuantizeLinear/DequantizeLinear pairs around every quantizable op (standard ONNX);
- ``qlinearconv``: QOperator format restricted to Conv (``op_types_to_quantize=["Conv"]``):
  QLinearConv nodes with explicit Quantize/Dequantize between them.
Weights per-channel int8, activations uint8 (asymmetric), calibration MinMax by default.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .data import AugmentConfig, CocoKeypoints
from .export import INPUT_NAME

FORMATS = ("qdq", "qlinearconv")


class ImageReader:
    """CalibrationDataReader over a list of NCHW float32 images."""

    def __init__(self, images: list[np.ndarray]):
        self._it = iter(images)

    def get_next(self):
        x = next(self._it, None)
        return None if x is None else {INPUT_NAME: x[None].astype(np.float32)}


def calibration_images(annotations: str, images: str | None, size: tuple[int, int], count: int, seed: int) -> list[np.ndarray]:
    """Letterboxed (unaugmented) images from a COCO dataset, evenly spread over it."""
    ds = CocoKeypoints(annotations, images, size, augment=AugmentConfig.none(), seed=seed)
    idx = np.linspace(0, len(ds) - 1, num=min(count, len(ds))).astype(int)
    return [ds.sample(int(i))[0] for i in idx]


def quantize(fp32: str | Path, out: str | Path, calib: list[np.ndarray], fmt: str, method: str = "minmax") -> Path:
    from onnxruntime.quantization import (
        CalibrationMethod, QuantFormat, QuantType, quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    if not calib:
        raise ValueError("no calibration images")
    out = Path(out)
    pre = out.with_suffix(".pre.onnx")
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    kw = dict(
        per_channel=True,
        weight_type=QuantType.QInt8,
        activation_type=QuantType.QUInt8,
        calibrate_method=methods[method],
    )
    if fmt == "qdq":
        quantize_static(str(pre), str(out), ImageReader(calib), quant_format=QuantFormat.QDQ, **kw)
    else:
        quantize_static(
            str(pre), str(out), ImageReader(calib), quant_format=QuantFormat.QOperator,
            op_types_to_quantize=["Conv"], **kw,
        )
    pre.unlink(missing_ok=True)
    return out


def op_types(path: str | Path) -> dict[str, int]:
    """Count of each (domain-qualified) op type in a model."""
    import onnx

    counts: dict[str, int] = {}
    for n in onnx.load(str(path)).graph.node:
        key = f"{n.domain}::{n.op_type}" if n.domain not in ("", "ai.onnx") else n.op_type
        counts[key] = counts.get(key, 0) + 1
    return counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--fp32", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--format", choices=FORMATS, default="qdq")
    p.add_argument("--method", choices=("minmax", "entropy", "percentile"), default="minmax")
    p.add_argument("--annotations", required=True, help="calibration data (COCO json)")
    p.add_argument("--images")
    p.add_argument("--count", type=int, default=64)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    calib = calibration_images(args.annotations, args.images, (args.size, args.size), args.count, args.seed)
    quantize(args.fp32, args.out, calib, args.format, args.method)
    print(f"wrote {args.out}: {op_types(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
