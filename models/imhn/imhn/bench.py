"""onnxruntime latency of ONNX models (median of N single-image runs, fixed threads).

    python -m imhn.bench models/imhn-edge-fp32.onnx models/imhn-edge-int8.onnx --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np


def median_ms(path: str, threads: int, runs: int, warmup: int = 3) -> float:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    x = np.random.default_rng(0).random([int(d) for d in inp.shape], dtype=np.float32)
    for _ in range(warmup):
        sess.run(None, {inp.name: x})
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(None, {inp.name: x})
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("models", nargs="+")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=20)
    a = p.parse_args(argv)
    for m in a.models:
        print(f"{m}: {median_ms(m, a.threads, a.runs):.1f} ms (onnxruntime, {a.threads} thread(s), median of {a.runs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
