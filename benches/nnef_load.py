#!/usr/bin/env python3
"""Start-up cost of each shipped model in tract: ONNX vs a tract NNEF conversion.

For every card in models/: load the ONNX file with the card's fixed input shape and make it
runnable (what the daemon does at start-up), then write the decluttered typed model as an NNEF
tar (tract-core extensions) and time loading that instead. Median of N loads each, same tract
version as the daemon (the `tract` wheel pinned in models/imhn/requirements.txt).

    models/.venv/bin/python benches/nnef_load.py --runs 5
"""
import argparse
import statistics
import tempfile
import time
import tomllib
from pathlib import Path

import tract

ROOT = Path(__file__).resolve().parent.parent


def input_fact(card) -> str:
    inp = card["input"]
    w, h = inp["width"], inp["height"]
    dims = f"1,3,{h},{w}" if inp["layout"] == "nchw" else f"1,{h},{w},3"
    return f"{dims},{inp['dtype']}"


def onnx_model(path: Path, fact: str):
    m = tract.onnx().load(str(path))
    m.set_input_fact(0, fact)
    return m.into_model()


def median_s(f, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runs", type=int, default=5)
    a = p.parse_args()
    print(f"tract {tract.version()}, median of {a.runs} loads")
    print("| model | ONNX size MB | NNEF size MB | ONNX load+optimise ms | NNEF load+optimise ms |")
    print("|---|---|---|---|---|")
    nnef = tract.nnef().with_onnx()
    with tempfile.TemporaryDirectory() as tmp:
        for card_path in sorted((ROOT / "models").glob("*.toml")):
            card = tomllib.loads(card_path.read_text())
            onnx = card_path.parent / card["file"]
            fact = input_fact(card)
            typed = onnx_model(onnx, fact)
            tar = Path(tmp) / f"{card['id']}.nnef.tar"
            t_onnx = median_s(lambda: onnx_model(onnx, fact).into_runnable(), a.runs)
            try:
                nnef.write_model_to_tar(typed, str(tar))
            except tract.TractError as e:
                reason = str(e).splitlines()[0]
                print(f"| {card['id']} | {onnx.stat().st_size / 1e6:.1f} | - | {1000 * t_onnx:.0f} "
                      f"| no NNEF: {reason} |")
                continue
            t_nnef = median_s(lambda: nnef.load(str(tar)).into_runnable(), a.runs)
            print(f"| {card['id']} | {onnx.stat().st_size / 1e6:.1f} | {tar.stat().st_size / 1e6:.1f} "
                  f"| {1000 * t_onnx:.0f} | {1000 * t_nnef:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
