#!/usr/bin/env bash
# tract's multi-threading gates side by side (not part of the test run): for each model and
# thread count, `edgepose bench` (tract) with tract's default gates and with each setting of
# GATES (`--tract-gates PANELS,ELEMENTS,MACS`, an empty field keeps the default; see README
# "tract settings"), ROUNDS alternating rounds so that load from other processes hits every
# setting alike. Prints the median of the rounds' medians, their range and the change against
# the defaults. With 1 thread tract runs single-threaded and never reads the gates: those rows
# are a control for the machine's noise.
#
#   scripts/tract-gates.sh [IMAGE]
#   GATES="16,8192, 0,0," THREADS="2" ROUNDS=3 FRAMES=15 scripts/tract-gates.sh
set -euo pipefail
cd "$(dirname "$0")/.."
image="${1:-../shared/data/coco-sample/000000000785.jpg}"
rounds="${ROUNDS:-3}"
frames="${FRAMES:-15}"
threads="${THREADS:-1 2}"
models="${MODELS:-movenet-multipose-lightning tfpose-mobilenet-thin imhn-edge-fp32}"
gates="${GATES:-16,8192, 0,0, 256,131072,}"
bin="${EDGEPOSE_BIN:-target/release/edgepose}"
[ -x "$bin" ] || cargo build --release --quiet
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for r in $(seq "$rounds"); do
    for model in $models; do
        for t in $threads; do
            for g in default $gates; do
                flag=()
                [ "$g" = default ] || flag=(--tract-gates "$g")
                "$bin" bench --json --model "$model" --image "$image" --threads "$t" \
                    --frames "$frames" --backend tract "${flag[@]}" |
                    sed "s/^{/{\"gates\":\"$g\",\"round\":$r,/" >>"$out"
            done
        done
    done
done

python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cell, order = {}, []
for r in rows:
    cell.setdefault((r["model"], r["threads"], r["gates"]), []).append(r["inference_ms"])
    if r["gates"] not in order:
        order.append(r["gates"])
print(f"tract inference ms, median of {sys.argv[2]} alternating rounds (range); "
      "gates PANELS,ELEMENTS,MACS (empty = tract's default 64 / 32768 / 2^21)")
print()
print("| model | threads | " + " | ".join(order) + " |")
print("|---|---|" + "---|" * len(order))
for model, threads in sorted({(k[0], k[1]) for k in cell}):
    base = statistics.median(cell[(model, threads, "default")])
    cells = []
    for g in order:
        v = cell.get((model, threads, g), [])
        if not v:
            cells.append("n/a")
            continue
        m = statistics.median(v)
        rel = "" if g == "default" else f" {100 * (m - base) / base:+.0f} %"
        cells.append(f"{m:.1f} ({min(v):.1f}-{max(v):.1f}){rel}")
    print(f"| {model} | {threads} | " + " | ".join(cells) + " |")
PY
