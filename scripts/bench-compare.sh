#!/usr/bin/env bash
# Side-by-side inference benchmark (not part of the test run): in one go and alternating, for
# each model and thread count, `edgepose bench` with tract (its best settings, see README
# "tract tuning"), `edgepose bench --backend ort` and onnxruntime's own Python API
# (benches/ort_compare.py, same .onnx file, input size and threads, spinning off like the `ort`
# backend). ROUNDS rounds of the three, so load changes on a shared machine hit all three
# alike; prints the median of the rounds' medians, their range, and the ratios.
#
#   scripts/bench-compare.sh [IMAGE]
#   ROUNDS=5 FRAMES=20 THREADS="1 2" MODELS="movenet-multipose-lightning" scripts/bench-compare.sh
#
# Needs a build with `--features ort` (EDGEPOSE_BIN, default target/release/edgepose) and
# models/.venv with onnxruntime (its libonnxruntime is the `ort` backend's library too).
set -euo pipefail
cd "$(dirname "$0")/.."
image="${1:-../shared/data/coco-sample/000000000785.jpg}"
rounds="${ROUNDS:-3}"
frames="${FRAMES:-20}"
threads="${THREADS:-1 2}"
models="${MODELS:-movenet-multipose-lightning tfpose-mobilenet-thin imhn-edge-fp32}"
# tract's best settings measured here (README, "tract tuning"); empty = tract's defaults.
tract_args="${TRACT_ARGS:-}"
bin="${EDGEPOSE_BIN:-target/release/edgepose}"
py="${EDGEPOSE_VENV:-models/.venv}/bin/python"
[ -x "$bin" ] || cargo build --release --quiet --features ort
[ -x "$py" ] || { echo "no $py (pip install -r models/imhn/requirements.txt)" >&2; exit 2; }
if [ -z "${ORT_DYLIB_PATH:-}" ]; then
    ORT_DYLIB_PATH=$(ls "$PWD"/"${EDGEPOSE_VENV:-models/.venv}"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so* | head -n1)
    export ORT_DYLIB_PATH
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for r in $(seq "$rounds"); do
    for model in $models; do
        for t in $threads; do
            # shellcheck disable=SC2086
            "$bin" bench --json --model "$model" --image "$image" --threads "$t" \
                --frames "$frames" --backend tract $tract_args |
                sed "s/^{/{\"runtime\":\"tract\",\"round\":$r,/" >>"$out"
            "$bin" bench --json --model "$model" --image "$image" --threads "$t" \
                --frames "$frames" --backend ort |
                sed "s/^{/{\"runtime\":\"ort backend\",\"round\":$r,/" >>"$out"
            "$py" benches/ort_compare.py --json --models "$model" --threads "$t" \
                --frames "$frames" | sed "s/^{/{\"runtime\":\"onnxruntime python\",\"round\":$r,/" >>"$out"
        done
    done
done

python3 - "$out" "$rounds" "$tract_args" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rounds, tract_args = sys.argv[2], sys.argv[3] or "defaults"
cell = {}
for r in rows:
    cell.setdefault((r["model"], r["threads"], r["runtime"]), []).append(r["inference_ms"])
def fmt(k):
    v = cell.get(k)
    if not v:
        return "n/a", float("nan")
    m = statistics.median(v)
    return f"{m:.1f} ({min(v):.1f}-{max(v):.1f})", m
print(f"inference ms, median of {rounds} alternating rounds (range); tract settings: {tract_args}")
print()
print("| model | threads | tract | ort backend | onnxruntime python | tract / ort backend | ort backend / python |")
print("|---|---|---|---|---|---|---|")
for model, threads in sorted({(k[0], k[1]) for k in cell}):
    (ts, tm), (os_, om), (ps, pm) = (fmt((model, threads, n)) for n in
                                     ("tract", "ort backend", "onnxruntime python"))
    print(f"| {model} | {threads} | {ts} | {os_} | {ps} | {tm / om:.2f}x | {om / pm:.2f}x |")
EOF
