#!/usr/bin/env bash
# MoveNet input-size table (not part of the test run): for each square input size, the AP on
# the COCO sample (`edgepose eval`, tract) and the inference time with tract and with the `ort`
# backend (`edgepose bench`, ROUNDS alternating rounds, median of the rounds' medians).
# The board presets pick their `model.input_size` from this table (README, "Input size").
#
#   scripts/input-sizes.sh [COCO_SAMPLE_DIR]
#   SIZES="192 256" ROUNDS=3 THREADS=1 scripts/input-sizes.sh
#
# Needs a build with `--features ort` (EDGEPOSE_BIN, default target/release/edgepose).
set -euo pipefail
cd "$(dirname "$0")/.."
coco="${1:-../shared/data/coco-sample}"
sizes="${SIZES:-192 224 256 288 320}"
rounds="${ROUNDS:-3}"
frames="${FRAMES:-10}"
threads="${THREADS:-1}"
model="${MODEL:-movenet-multipose-lightning}"
bin="${EDGEPOSE_BIN:-target/release/edgepose}"
[ -x "$bin" ] || cargo build --release --quiet --features ort
if [ -z "${ORT_DYLIB_PATH:-}" ]; then
    ORT_DYLIB_PATH=$(ls "$PWD"/"${EDGEPOSE_VENV:-models/.venv}"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so* 2>/dev/null | head -n1 || true)
    export ORT_DYLIB_PATH
fi
ann="$coco/test_coco.json"
image=$(ls "$coco"/*.jpg | head -n1)
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for s in $sizes; do
    ap=$("$bin" eval --model "$model" --images "$coco" --annotations "$ann" \
        --input-size "${s}x$s" --threads "$threads" --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["AP"])')
    echo "{\"size\":$s,\"ap\":$ap}" >>"$out"
done
for r in $(seq "$rounds"); do
    for s in $sizes; do
        for backend in tract ort; do
            "$bin" bench --json --model "$model" --image "$image" --input-size "${s}x$s" \
                --threads "$threads" --frames "$frames" --backend "$backend" |
                sed "s/^{/{\"size\":$s,\"runtime\":\"$backend\",/" >>"$out"
        done
    done
done

python3 - "$out" "$rounds" "$threads" "$coco" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ap = {r["size"]: r["ap"] for r in rows if "ap" in r}
ms = {}
for r in rows:
    if "runtime" in r:
        ms.setdefault((r["size"], r["runtime"]), []).append(r["inference_ms"])
print(f"AP on {sys.argv[4]} (tract); inference ms: median of {sys.argv[2]} alternating rounds "
      f"(range), {sys.argv[3]} thread(s)")
print()
print("| input | AP | tract ms | ort ms |")
print("|---|---|---|---|")
for s in sorted(ap):
    cells = []
    for rt in ("tract", "ort"):
        v = ms.get((s, rt), [])
        cells.append(f"{statistics.median(v):.1f} ({min(v):.1f}-{max(v):.1f})" if v else "n/a")
    print(f"| {s}x{s} | {ap[s]:.3f} | {cells[0]} | {cells[1]} |")
EOF
