"""ONNX export of the last stack's stride-4 head with a static input size.

Contract (the model card's [input]/[output]): input ``image`` float32 NCHW [1,3,H,W], RGB,
pixel/255, no mean/std; output ``maps`` float32 NCHW [1,50,H/4,W/4] (spec §2 layout).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from .model import IMHN, InferenceWrapper
from .train import load_model

INPUT_NAME = "image"
OUTPUT_NAME = "maps"
#: Opset 13: QuantizeLinear/DequantizeLinear per-channel, supported by tract and onnxruntime.
OPSET = 13


def export_onnx(net: IMHN, path: str | Path, height: int, width: int) -> Path:
    """Write the inference graph; returns the path. The model is put in eval mode."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = InferenceWrapper(net).eval()
    dummy = torch.zeros(1, 3, height, width)
    with torch.no_grad():
        torch.onnx.export(
            wrapper, (dummy,), str(path), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            opset_version=OPSET, do_constant_folding=True, dynamo=False,
        )
    return path


def run_onnx(path: str | Path, image: np.ndarray) -> np.ndarray:
    """Run an exported model with onnxruntime (single thread, deterministic)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return sess.run([OUTPUT_NAME], {INPUT_NAME: image.astype(np.float32)})[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    net, ck = load_model(args.checkpoint)
    cfg = net.cfg
    export_onnx(net, args.out, cfg.input_height, cfg.input_width)
    x = np.random.default_rng(0).random((1, 3, cfg.input_height, cfg.input_width), dtype=np.float32)
    with torch.no_grad():
        ref = InferenceWrapper(net)(torch.from_numpy(x)).numpy()
    got = run_onnx(args.out, x)
    err = float(np.abs(ref - got).max())
    print(f"exported {args.out}: output {got.shape}, max |onnx - torch| = {err:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
