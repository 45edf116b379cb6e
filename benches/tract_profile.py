#!/usr/bin/env python3
"""Per-op profile of a shipped model in tract (the same tract version as the daemon, through
its Python wheel): time per op type and the slowest nodes, at the card's input size.

    models/.venv/bin/python benches/tract_profile.py movenet-multipose-lightning
"""
import argparse
import collections
import json
import tomllib
from pathlib import Path

import numpy as np
import tract

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("model", help="card id in models/")
    p.add_argument("--top", type=int, default=10)
    a = p.parse_args()
    card_path = ROOT / "models" / f"{a.model}.toml"
    card = tomllib.loads(card_path.read_text())
    inp = card["input"]
    w, h = inp["width"], inp["height"]
    shape = (1, 3, h, w) if inp["layout"] == "nchw" else (1, h, w, 3)
    dtype = {"f32": np.float32, "i32": np.int32, "u8": np.uint8}[inp["dtype"]]
    model = tract.onnx().load(str(card_path.parent / card["file"]))
    model.set_input_fact(0, ",".join(map(str, shape)) + "," + inp["dtype"])
    runnable = model.into_model().into_runnable()
    x = np.random.default_rng(0).integers(0, 255, shape).astype(dtype)
    if dtype == np.float32:
        x = x * np.float32(inp["scale"])
    prof = json.loads(runnable.profile_json([x]))
    total = prof["profiling_info"]["secs_per_iter"]
    by_op, count = collections.Counter(), collections.Counter()
    for n in prof["nodes"]:
        by_op[n["op_name"]] += n.get("secs_per_iter", 0.0)
        count[n["op_name"]] += 1
    print(f"{a.model} {w}x{h}: {1000 * total:.1f} ms per run, {len(prof['nodes'])} nodes (tract {tract.version()})")
    print("| op | nodes | ms | share |")
    print("|---|---|---|---|")
    for op, s in by_op.most_common(a.top):
        print(f"| {op} | {count[op]} | {1000 * s:.2f} | {100 * s / total:.1f} % |")
    print("slowest nodes:")
    for n in sorted(prof["nodes"], key=lambda n: -n.get("secs_per_iter", 0.0))[: a.top]:
        print(f"  {1000 * n['secs_per_iter']:6.2f} ms  {n['op_name']:<20} {n['node_name'][-80:]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
