#!/usr/bin/env bash
# Soak test (not part of the default test run): runs the daemon for a given time and reports
# its resident memory (RSS) at start and end, plus its peak, so leaks show up as growth.
#
#   scripts/soak.sh [SECONDS] [extra `edgepose run` args...]
#   scripts/soak.sh 600 --set source.realtime=true
#
# Uses target/release/edgepose (built if missing). Output: a line every 30 s and a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-600}"
shift || true
bin=target/release/edgepose
[ -x "$bin" ] || cargo build --release --quiet
out=$(mktemp -d)
"$bin" run --set daemon.stats_interval_s=30 --set "sinks.jsonl.path=\"$out/poses.jsonl\"" "$@" \
    2>"$out/daemon.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0; }
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0; }
sleep 10  # model loaded, first frames through
start_rss=$(rss)
echo "t=10s rss=${start_rss} kB"
t=10
while [ "$t" -lt "$secs" ]; do
    sleep 30
    t=$((t + 30))
    kill -0 "$pid" 2>/dev/null || { echo "daemon exited early"; tail -5 "$out/daemon.log"; exit 1; }
    echo "t=${t}s rss=$(rss) kB frames=$(wc -l <"$out/poses.jsonl")"
done
end_rss=$(rss)
peak=$(hwm)
frames=$(wc -l <"$out/poses.jsonl")
kill -TERM "$pid"
wait "$pid" || true
trap - EXIT
echo "soak: ${secs}s, ${frames} frames, rss start ${start_rss} kB, end ${end_rss} kB, peak ${peak} kB"
tail -2 "$out/daemon.log"
rm -rf "$out"
