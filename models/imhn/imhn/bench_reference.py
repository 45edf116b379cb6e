"""Speed and memory of the paper's full-size IMHN (random weights) in tract and onnxruntime.

    # 1. a random-weight checkpoint in the released file's layout, imported like the real one
    python -m imhn.bench_reference make --out /tmp/imhn-full
    # 2. one process per measurement (peak RSS is per process)
    python -m imhn.bench_reference sweep /tmp/imhn-full/imhn-reference.onnx \\
        --sizes 512x512 --threads 1 2 --runtimes tract onnxruntime --runs 3

Each measurement runs in a fresh Python process: load, one warm-up run (reported as
``first_ms``: tract optimises and plans the graph for the concrete size there), then
``--runs`` timed runs (median). ``peak_rss_mb`` is the process's VmHWM, which includes
Python, numpy and the runtime's library (``base_rss_mb``, measured before loading).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RUNTIMES = ("tract", "onnxruntime")


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make(out: Path, seed: int = 0) -> Path:
    """Random default-configuration IMHN -> legacy checkpoint -> imported ONNX + card."""
    import torch

    from . import import_reference as ir
    from .model import IMHN, ImhnConfig
    from .train import PRESETS

    torch.manual_seed(seed)
    net = IMHN(ImhnConfig(**PRESETS["reference"]))
    # BN statistics from a few small batches, so activations keep a sane scale through four
    # stacks (fresh statistics let them grow towards inf, which is no benchmark).
    net.train()
    with torch.no_grad():
        for _ in range(2):
            net(torch.rand(2, 3, 128, 128))
    net.eval()
    out.mkdir(parents=True, exist_ok=True)
    ckpt = ir.save_reference_checkpoint(net, out / "random_52_epoch.pth")
    del net
    rc = ir.main([str(ckpt), "--out", str(out)])
    if rc:
        raise SystemExit(rc)
    return out / f"{ir.MODEL_ID}.onnx"


def measure(model: str, runtime: str, threads: int, width: int, height: int, runs: int) -> dict:
    base = _status_mb("VmRSS")
    x = np.random.default_rng(0).random((1, 3, height, width), dtype=np.float32)
    t0 = time.perf_counter()
    if runtime == "tract":
        import os

        os.environ.setdefault("TRACT_NUM_THREADS", str(threads))
        import tract

        m = tract.onnx().load(model)
        m.set_input_fact(0, f"1,3,{height},{width},f32")
        runnable = m.into_model().into_runnable()
        run = lambda: runnable.run([x])[0].to_numpy()  # noqa: E731
    elif runtime == "onnxruntime":
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        run = lambda: sess.run(None, {"image": x})[0]  # noqa: E731
    else:
        raise ValueError(f"unknown runtime {runtime!r}")
    load_ms = (time.perf_counter() - t0) * 1000
    t = time.perf_counter()
    y = run()
    first_ms = (time.perf_counter() - t) * 1000
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        run()
        times.append((time.perf_counter() - t) * 1000)
    return {
        "runtime": runtime, "threads": threads, "size": f"{width}x{height}", "runs": runs,
        "median_ms": round(statistics.median(times), 1), "min_ms": round(min(times), 1),
        "first_ms": round(first_ms, 1), "load_ms": round(load_ms, 1),
        "peak_rss_mb": round(_status_mb("VmHWM")), "base_rss_mb": round(base),
        "output_shape": list(y.shape), "output_finite": bool(np.isfinite(y).all()),
    }


def _size(s: str) -> tuple[int, int]:
    w, _, h = s.partition("x")
    return int(w), int(h or w)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make", help="random full-size checkpoint, imported")
    mk.add_argument("--out", required=True)
    mk.add_argument("--seed", type=int, default=0)
    one = sub.add_parser("one", help="one measurement in this process (JSON line)")
    one.add_argument("model")
    one.add_argument("--runtime", choices=RUNTIMES, required=True)
    one.add_argument("--threads", type=int, default=1)
    one.add_argument("--size", default="512x512")
    one.add_argument("--runs", type=int, default=3)
    sw = sub.add_parser("sweep", help="every combination, one process each")
    sw.add_argument("model")
    sw.add_argument("--sizes", nargs="+", default=["512x512"])
    sw.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    sw.add_argument("--runtimes", nargs="+", choices=RUNTIMES, default=list(RUNTIMES))
    sw.add_argument("--runs", type=int, default=3)
    a = p.parse_args(argv)
    if a.cmd == "make":
        print(f"wrote {make(Path(a.out), a.seed)}")
        return 0
    if a.cmd == "one":
        w, h = _size(a.size)
        print(json.dumps(measure(a.model, a.runtime, a.threads, w, h, a.runs)), flush=True)
        return 0
    for size in a.sizes:
        for rt in a.runtimes:
            for th in a.threads:
                cmd = [sys.executable, "-m", "imhn.bench_reference", "one", a.model, "--runtime", rt,
                       "--threads", str(th), "--size", size, "--runs", str(a.runs)]
                r = subprocess.run(cmd, capture_output=True, text=True)
                line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
                print(line if r.returncode == 0 else json.dumps(
                    {"runtime": rt, "threads": th, "size": size, "error": r.stderr.strip()[-300:]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
