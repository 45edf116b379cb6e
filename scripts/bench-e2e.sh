#!/usr/bin/env bash
# End-to-end benchmark of the daemon (not part of the test run): for each model and inference
# thread count, runs `edgepose run` on the image source (looped, unpaced) into a JSON-lines
# file and reports
#   - FPS from the frames' capture timestamps (model loading excluded),
#   - capture-to-publish latency p50/p99 and inference p50 from the daemon's final stats line,
#   - pipeline overhead: (frame period - inference p50) / inference p50,
#   - peak RSS of the whole process (GNU time).
# Prints a Markdown table. Run it on a quiet machine: other load skews every figure.
#
#   scripts/bench-e2e.sh [IMAGES] [FRAMES]
#   MODELS="movenet-multipose-lightning" THREADS="1 2" scripts/bench-e2e.sh
#
# IMAGES defaults to ../shared/data/coco-sample (real COCO photos, 5 images).
set -euo pipefail
cd "$(dirname "$0")/.."
images="${1:-../shared/data/coco-sample}"
frames="${2:-60}"
models="${MODELS:-movenet-multipose-lightning tfpose-mobilenet-thin imhn-edge-fp32 imhn-edge-int8}"
threads="${THREADS:-1 2}"
bin="${EDGEPOSE_BIN:-target/release/edgepose}"
[ -x "$bin" ] || cargo build --release --quiet
[ -e "$images" ] || { echo "no images at $images (give a directory or glob)" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "needs GNU time: apt-get install -y time" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cat >"$out/bench.toml" <<EOF
[daemon]
stats_interval_s = 0.0

[source]
kind = "images"
path = "$images"
loop = true

[sinks.jsonl]
path = "$out/poses.jsonl"
EOF

echo "| model | threads | FPS | latency p50 / p99 ms | inference p50 ms | overhead | peak RSS MB |"
echo "|---|---|---|---|---|---|---|"
for model in $models; do
    for t in $threads; do
        rm -f "$out/poses.jsonl"
        /usr/bin/time -f '%M' -o "$out/rss" "$bin" run --config "$out/bench.toml" \
            --model "$model" --frames "$frames" --set "model.backend.threads=$t" 2>"$out/log" || {
            echo "| $model | $t | failed: $(tail -1 "$out/log") |"
            continue
        }
        python3 - "$model" "$t" "$out/poses.jsonl" "$out/log" "$out/rss" <<'EOF'
import json, re, sys
model, threads, poses, log, rss = sys.argv[1:]
stamps = [json.loads(l)["timestamp_us"] for l in open(poses) if l.strip()]
fps = (len(stamps) - 1) / ((stamps[-1] - stamps[0]) / 1e6) if len(stamps) > 1 else float("nan")
line = [l for l in open(log) if " fps | frames " in l][-1]
infer = float(re.search(r"infer p50 ([0-9.]+) ms", line).group(1))
p50, p99 = map(float, re.search(r"latency p50 ([0-9.]+) p99 ([0-9.]+) ms", line).groups())
period = 1000.0 / fps
peak_mb = int(open(rss).read().split()[-1]) / 1024
print(f"| {model} | {threads} | {fps:.1f} | {p50:.1f} / {p99:.1f} | {infer:.1f} | "
      f"{100 * (period - infer) / infer:+.0f} % | {peak_mb:.0f} |")
EOF
    done
done
