#!/usr/bin/env python3
"""Times the same ONNX models in onnxruntime (CPU) for comparison with `edgepose bench`.

Same model files, same input size, same thread counts (intra-op threads; inter-op 1),
median of N runs after warm-up, inference only (the figure to set against tract's
"infer ms" column).

    python3 -m venv /tmp/ortvenv && /tmp/ortvenv/bin/pip install onnxruntime numpy
    /tmp/ortvenv/bin/python benches/ort_compare.py --frames 20
"""
import argparse
import json
import statistics
import time
import tomllib
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parent.parent


def input_array(card, w, h):
    rng = np.random.default_rng(0)
    pix = rng.integers(0, 256, size=(h, w, 3)).astype(np.float32)
    inp = card["input"]
    if inp["dtype"] == "i32":
        arr = pix.astype(np.int32)
    else:
        arr = ((pix - np.array(inp["mean"], np.float32)) * inp["scale"]).astype(np.float32)
    if inp["layout"] == "nchw":
        arr = arr.transpose(2, 0, 1)
    return arr[None]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="*", default=[
        "movenet-multipose-lightning", "movenet-multipose-lightning-ingraph",
        "tfpose-mobilenet-thin", "imhn-edge-fp32", "imhn-edge-int8"])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--input-size", help="WxH instead of each card's default")
    ap.add_argument("--spin", action="store_true",
                    help="let idle worker threads spin (onnxruntime's default; edgepose's "
                         "`ort` backend turns spinning off, and so does this script unless set)")
    ap.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    args = ap.parse_args()
    if not args.json:
        print(f"{'model':<36} {'input':>9} {'threads':>7} {'ort ms':>9}")
    for name in args.models:
        card_path = ROOT / "models" / f"{name}.toml"
        if not card_path.exists():
            print(f"{name}: no card, skipped")
            continue
        card = tomllib.loads(card_path.read_text())
        w, h = card["input"]["width"], card["input"]["height"]
        if args.input_size:
            w, h = (int(v) for v in args.input_size.lower().split("x"))
        x = input_array(card, w, h)
        for t in [int(v) for v in args.threads.split(",")]:
            so = ort.SessionOptions()
            so.intra_op_num_threads = t
            so.inter_op_num_threads = 1
            if not args.spin:
                so.add_session_config_entry("session.intra_op.allow_spinning", "0")
            sess = ort.InferenceSession(str(card_path.parent / card["file"]), so,
                                        providers=["CPUExecutionProvider"])
            feed = {card["input"]["name"]: x}
            for _ in range(3):
                sess.run([card["output"]["name"]], feed)
            times = []
            for _ in range(args.frames):
                t0 = time.perf_counter()
                sess.run([card["output"]["name"]], feed)
                times.append((time.perf_counter() - t0) * 1e3)
            med = statistics.median(times)
            if args.json:
                print(json.dumps({"model": card["id"], "input": f"{w}x{h}", "threads": t,
                                  "backend": "onnxruntime-python " + ort.__version__,
                                  "frames": len(times), "inference_ms": med}))
            else:
                print(f"{card['id']:<36} {f'{w}x{h}':>9} {t:>7} {med:>9.2f}")


if __name__ == "__main__":
    main()
