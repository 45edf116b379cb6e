#!/usr/bin/env bash
# End-to-end benchmark of the daemon (not part of the test run): for each model and each
# configuration WORKERSxTHREADS (inference workers x inference threads per worker), runs
# `edgepose run` on the image source (looped, unpaced) into a JSON-lines file and reports
#   - FPS from the frames' capture timestamps (model loading excluded),
#   - capture-to-publish latency p50/p99 and inference p50 from the daemon's final stats line,
#   - pipeline overhead: (frame period x workers - inference p50) / inference p50,
#   - peak RSS of the whole process (GNU time).
# The configurations run alternately, ROUNDS times each (one row per run), so that load from
# other processes hits them alike. Prints a Markdown table.
#
# CAMERAS=2 adds a second table: one camera against two cameras at once (two image sources
# looping the same images), FPS per camera, with the first configuration of CONFIGS.
#
#   scripts/bench-e2e.sh [IMAGES] [FRAMES]
#   MODELS="movenet-multipose-lightning" CONFIGS="1x1 1x2 2x1" ROUNDS=3 CAMERAS=2 scripts/bench-e2e.sh
#   THREADS="1 2" scripts/bench-e2e.sh      # the former form: one worker, these thread counts
#   EXTRA='--set model.backend.kind="tract"' scripts/bench-e2e.sh   # more daemon options
#
# The daemon's default backend is `auto`: in a build with `ort` and an onnxruntime library in
# reach (models/.venv counts) that is onnxruntime; EXTRA above pins tract.
#
# IMAGES defaults to ../shared/data/coco-sample (real COCO photos, 5 images).
set -euo pipefail
cd "$(dirname "$0")/.."
images="${1:-../shared/data/coco-sample}"
frames="${2:-60}"
models="${MODELS:-movenet-multipose-lightning tfpose-mobilenet-thin imhn-edge-fp32 imhn-edge-int8}"
if [ -n "${CONFIGS:-}" ]; then
    configs="$CONFIGS"
else
    configs=""
    for t in ${THREADS:-1 2}; do configs="$configs 1x$t"; done
fi
rounds="${ROUNDS:-1}"
cameras="${CAMERAS:-1}"
bin="${EDGEPOSE_BIN:-target/release/edgepose}"
[ -x "$bin" ] || cargo build --release --quiet
[ -e "$images" ] || { echo "no images at $images (give a directory or glob)" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "needs GNU time: apt-get install -y time" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cat >"$out/bench.toml" <<EOT
[daemon]
stats_interval_s = 0.0

[source]
kind = "images"
path = "$images"
loop = true

[sinks.jsonl]
path = "$out/poses.jsonl"
EOT
cat >"$out/two.toml" <<EOT
[daemon]
stats_interval_s = 0.0

[sources.a]
kind = "images"
path = "$images"
loop = true

[sources.b]
kind = "images"
path = "$images"
loop = true

[sinks.jsonl]
path = "$out/poses.jsonl"
EOT

# One run: config file, model, workers, threads, frames; leaves poses.jsonl, log and rss.
run() {
    rm -f "$out/poses.jsonl"
    # shellcheck disable=SC2086
    /usr/bin/time -f '%M' -o "$out/rss" "$bin" run --config "$1" --model "$2" --frames "$5" \
        --set "model.workers=$3" --set "model.backend.threads=$4" ${EXTRA:-} 2>"$out/log"
}

echo "| model | workers | threads | FPS | latency p50 / p99 ms | inference p50 ms | overhead | peak RSS MB |"
echo "|---|---|---|---|---|---|---|---|"
for model in $models; do
    for round in $(seq "$rounds"); do
        for c in $configs; do
            w=${c%x*}
            t=${c#*x}
            run "$out/bench.toml" "$model" "$w" "$t" "$frames" || {
                echo "| $model | $w | $t | failed: $(tail -1 "$out/log") |"
                continue
            }
            python3 - "$model" "$w" "$t" "$out/poses.jsonl" "$out/log" "$out/rss" <<'EOT'
import json, re, sys
model, workers, threads, poses, log, rss = sys.argv[1:]
stamps = [json.loads(l)["timestamp_us"] for l in open(poses) if l.strip()]
fps = (len(stamps) - 1) / ((stamps[-1] - stamps[0]) / 1e6) if len(stamps) > 1 else float("nan")
line = [l for l in open(log) if " fps | frames " in l][-1]
infer = float(re.search(r"infer p50 ([0-9.]+) ms", line).group(1))
p50, p99 = map(float, re.search(r"latency p50 ([0-9.]+) p99 ([0-9.]+) ms", line).groups())
# With W workers a frame leaves every period, each worker busy W periods per frame.
busy = 1000.0 / fps * int(workers)
peak_mb = int(open(rss).read().split()[-1]) / 1024
print(f"| {model} | {workers} | {threads} | {fps:.1f} | {p50:.1f} / {p99:.1f} | {infer:.1f} | "
      f"{100 * (busy - infer) / infer:+.0f} % | {peak_mb:.0f} |")
EOT
        done
    done
done

[ "$cameras" = 2 ] || exit 0
c=${configs%% *}
c=${c## }
w=${c%x*}
t=${c#*x}
echo
echo "One camera against two at once ($w workers x $t threads; FPS per camera from capture timestamps):"
echo
echo "| model | cameras | FPS per camera | latency p50 ms (per camera) | peak RSS MB |"
echo "|---|---|---|---|---|"
for model in $models; do
    for round in $(seq "$rounds"); do
        for conf in bench two; do
            n=$frames
            [ "$conf" = two ] && n=$((2 * frames))
            run "$out/$conf.toml" "$model" "$w" "$t" "$n" || {
                echo "| $model | $conf | failed: $(tail -1 "$out/log") |"
                continue
            }
            python3 - "$model" "$out/poses.jsonl" "$out/log" "$out/rss" <<'EOT'
import collections, json, re, sys
model, poses, log, rss = sys.argv[1:]
stamps = collections.defaultdict(list)
for l in open(poses):
    if l.strip():
        f = json.loads(l)
        stamps[f.get("camera", "source")].append(f["timestamp_us"])
fps = {c: (len(s) - 1) / ((s[-1] - s[0]) / 1e6) for c, s in sorted(stamps.items()) if len(s) > 1}
lat = [float(m.group(1)) for m in re.finditer(r"latency p50 ([0-9.]+) p99", open(log).read())]
lat = lat[-len(stamps):]
peak_mb = int(open(rss).read().split()[-1]) / 1024
print(f"| {model} | {len(stamps)} | {' / '.join(f'{v:.1f}' for v in fps.values())} | "
      f"{' / '.join(f'{v:.1f}' for v in lat)} | {peak_mb:.0f} |")
EOT
        done
    done
done
