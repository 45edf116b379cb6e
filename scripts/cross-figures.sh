#!/usr/bin/env bash
# Size and start-up figures of the aarch64 release binary, measured under qemu-user
# (EMULATED: an x86_64 host translating aarch64 code; real boards differ, see the labels).
#
#   scripts/cross-figures.sh [BINARY] [IMAGE]
#
# BINARY defaults to ${CARGO_TARGET_DIR:-target}/aarch64-unknown-linux-gnu/release/edgepose
# (built by `cargo zigbuild --release --target aarch64-unknown-linux-gnu.2.31`, see .ci/cross);
# IMAGE defaults to a COCO sample from ../shared. Prints Markdown on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${1:-${CARGO_TARGET_DIR:-target}/aarch64-unknown-linux-gnu/release/edgepose}"
IMAGE="${2:-../shared/data/coco-sample/000000000785.jpg}"
RUNS="${EDGEPOSE_FIGURE_RUNS:-5}"
QEMU=(qemu-aarch64-static -L /usr/aarch64-linux-gnu)

for f in "$BIN" "$IMAGE"; do
    [ -e "$f" ] || { echo "cross-figures: $f not found" >&2; exit 2; }
done
command -v qemu-aarch64-static >/dev/null || { echo "cross-figures: qemu-aarch64-static not found" >&2; exit 2; }

# Median wall time in ms of RUNS runs of "$@".
median_ms() {
    local times=() t0 t1
    for _ in $(seq "$RUNS"); do
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1
        t1=$(date +%s%N)
        times+=($(( (t1 - t0) / 1000000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"
}

size=$(stat -c %s "$BIN")
stripped=$(mktemp)
trap 'rm -f "$stripped"' EXIT
aarch64-linux-gnu-strip -o "$stripped" "$BIN"
glibc=$(aarch64-linux-gnu-objdump -T "$BIN" | grep -o 'GLIBC_[0-9][0-9.]*' | sort -Vu | tail -n1)
version_ms=$(median_ms "${QEMU[@]}" "$BIN" --version)
detect_ms=$(median_ms "${QEMU[@]}" "$BIN" detect "$IMAGE")
infer_line=$("${QEMU[@]}" "$BIN" detect "$IMAGE" 2>&1 | sed -n 1p)

cat <<MD
| Figure (aarch64 release, \`$(basename "$BIN")\`) | Value |
|---|---|
| Binary size | $size bytes ($(( size / 1024 / 1024 )) MiB) |
| Size after \`strip\` | $(stat -c %s "$stripped") bytes |
| Highest GLIBC_ symbol | $glibc |
| \`edgepose --version\`, **emulated** (qemu-user on x86_64), median of $RUNS | $version_ms ms |
| \`edgepose detect IMAGE\` (load + optimise MoveNet, 1 inference), **emulated**, median of $RUNS | $detect_ms ms |
| One detect run's own report, **emulated** | \`$infer_line\` |

Host: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg); $("${QEMU[@]}" --version | head -n1).
MD
