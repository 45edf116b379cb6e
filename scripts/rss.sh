#!/usr/bin/env bash
# Resident memory of the daemon per model (not part of the test run): starts `edgepose run` on
# the looped COCO sample images (one inference thread unless THREADS says otherwise), waits
# until FRAMES frames are published, then reads /proc/PID/status: VmRSS (steady state, after
# loading) and VmHWM (peak, usually while the model loads). Prints a Markdown table.
#
#   scripts/rss.sh [IMAGES] [FRAMES]
#   MODELS="movenet-multipose-lightning" EDGEPOSE_BIN=target/debug/edgepose scripts/rss.sh
#   EXTRA="--set model.backend.kind=\"ort\"" scripts/rss.sh     # another backend
set -euo pipefail
cd "$(dirname "$0")/.."
images="${1:-../shared/data/coco-sample}"
frames="${2:-20}"
models="${MODELS:-movenet-multipose-lightning tfpose-mobilenet-thin imhn-edge-fp32 imhn-edge-int8}"
threads="${THREADS:-1}"
bin="${EDGEPOSE_BIN:-target/release/edgepose}"
[ -x "$bin" ] || cargo build --release --quiet
[ -e "$images" ] || { echo "no images at $images" >&2; exit 2; }
out=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; rm -rf "$out"' EXIT
cat >"$out/rss.toml" <<EOF
[daemon]
stats_interval_s = 0.0

[source]
kind = "images"
path = "$images"
loop = true

[sinks.jsonl]
path = "$out/poses.jsonl"
EOF

echo "| model | backend | threads | steady RSS MB | peak RSS MB |"
echo "|---|---|---|---|---|"
for model in $models; do
    rm -f "$out/poses.jsonl"
    # shellcheck disable=SC2086
    "$bin" run --config "$out/rss.toml" --model "$model" --set "model.backend.threads=$threads" \
        ${EXTRA:-} 2>"$out/log" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        n=0
        [ -f "$out/poses.jsonl" ] && n=$(wc -l <"$out/poses.jsonl")
        [ "$n" -ge "$frames" ] && break
        sleep 0.2
    done
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "| $model | failed: $(tail -1 "$out/log") |"
        pid=""
        continue
    fi
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
    kill -TERM "$pid"
    wait "$pid" || true
    pid=""
    backend=$(grep -o 'backend="[^"]*"' "$out/log" | head -n1 | cut -d'"' -f2)
    awk -v m="$model" -v b="$backend" -v t="$threads" -v r="$rss" -v h="$hwm" \
        'BEGIN { printf "| %s | %s | %s | %.1f | %.1f |\n", m, b, t, r / 1024, h / 1024 }'
done
