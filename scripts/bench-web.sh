#!/usr/bin/env bash
# Cost of the web view and the recorder (not part of the test run): runs `edgepose run` on the
# image source (looped, unpaced: the pipeline goes as fast as the model) with the web server
# on, and measures over SECONDS, after the first frames:
#   - published FPS (from /api/status counters),
#   - the daemon's CPU (utime + stime from /proc/PID/stat; 100 % = one core),
# for each configuration: 0, 1 and 5 viewers of /stream.mjpg (curl, output discarded; their
# own CPU is not counted), and the recorder on (no viewer). The configurations run
# alternately, ROUNDS times each (one row per run), so that load from other processes hits
# them alike. Prints a Markdown table.
#
#   scripts/bench-web.sh [IMAGES]
#   SECONDS_PER_RUN=20 ROUNDS=2 CONFIGS="v0 v1 v5 rec" EXTRA="--set http.stream_max_fps=30" scripts/bench-web.sh
#
# IMAGES defaults to ../shared/data/coco-sample (real COCO photos, 5 images).
set -euo pipefail
cd "$(dirname "$0")/.."
images="${1:-../shared/data/coco-sample}"
seconds="${SECONDS_PER_RUN:-20}"
rounds="${ROUNDS:-2}"
configs="${CONFIGS:-v0 v1 v5 rec}"
bin="${EDGEPOSE_BIN:-target/release/edgepose}"
[ -x "$bin" ] || cargo build --release --quiet
[ -e "$images" ] || { echo "no images at $images (give a directory or glob)" >&2; exit 2; }
command -v curl >/dev/null || { echo "needs curl" >&2; exit 2; }
out=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$out"
}
trap cleanup EXIT
hz=$(getconf CLK_TCK)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# The daemon's CPU ticks (user + system).
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
published() {
    curl -s "http://127.0.0.1:$port/api/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"]["published"])'
}

one_run() { # config
    local config=$1 viewers=0 rec=()
    case "$config" in
        v*) viewers=${config#v} ;;
        rec) rec=(--set recorder.enabled=true --set "recorder.path=\"$out/rec.mcap\"") ;;
        *) echo "unknown configuration $config (v<N> or rec)" >&2; exit 2 ;;
    esac
    rm -f "$out"/rec*.mcap
    # shellcheck disable=SC2086
    "$bin" run --set source.kind=\"images\" --set "source.path=\"$images\"" --set source.loop=true \
        --set http.enabled=true --set "http.bind=\"127.0.0.1:$port\"" \
        --set daemon.stats_interval_s=0 --set "sinks.jsonl.path=\"$out/poses.jsonl\"" \
        "${rec[@]}" ${EXTRA:-} 2>"$out/stderr" &
    local daemon=$!
    pids=("$daemon")
    # Until frames flow (model loaded), then a few more seconds of warm-up.
    for _ in $(seq 1 600); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
        sleep 0.2
    done
    for _ in $(seq 1 "$viewers"); do
        curl -s -N "http://127.0.0.1:$port/stream.mjpg" -o /dev/null &
        pids+=("$!")
    done
    sleep 3
    local p0 t0 c0 p1 t1 c1
    p0=$(published); c0=$(ticks "$daemon"); t0=$(date +%s.%N)
    sleep "$seconds"
    p1=$(published); c1=$(ticks "$daemon"); t1=$(date +%s.%N)
    local watched
    watched=$(curl -s "http://127.0.0.1:$port/api/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["http"]["stream_viewers"])')
    for p in "${pids[@]:1}"; do kill "$p" 2>/dev/null || true; done
    kill -TERM "$daemon"
    wait "$daemon" || true
    pids=()
    local mb="-"
    if [ "$config" = rec ]; then
        mb=$(du -cm "$out"/rec*.mcap | tail -1 | cut -f1)
    fi
    python3 - "$config" "$viewers" "$watched" "$p0" "$p1" "$c0" "$c1" "$t0" "$t1" "$hz" "$mb" <<'EOF'
import sys
config, viewers, watched, p0, p1, c0, c1, t0, t1, hz, mb = sys.argv[1:]
dt = float(t1) - float(t0)
fps = (int(p1) - int(p0)) / dt
cpu = (float(c1) - float(c0)) / float(hz) / dt * 100
what = "recorder on, 0 viewers" if config == "rec" else f"{viewers} viewers"
print(f"| {what} | {watched} | {fps:.2f} | {cpu:.0f} % | {mb} |")
EOF
}

echo "load before: $(uptime)"
echo
echo "| configuration | viewers seen by the server | FPS (published) | daemon CPU (100 % = 1 core) | recording MB |"
echo "|---|---|---|---|---|"
for _ in $(seq 1 "$rounds"); do
    for c in $configs; do
        one_run "$c"
    done
done
echo
echo "load after: $(uptime)"
