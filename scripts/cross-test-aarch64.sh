#!/usr/bin/env bash
# Cross-builds the workspace for aarch64 (Raspberry Pi 4/5/Zero 2 W 64-bit, Jetson) and runs the
# whole test suite under qemu-user, through the runner in .cargo/config.toml.
#
# Installs nothing: it checks the prerequisites and says what to install (.ci/cross installs
# them on CI). Extra arguments go to `cargo test`, e.g. `scripts/cross-test-aarch64.sh --test
# cli` or `... -- --nocapture`.
#
# Under emulation EDGEPOSE_QEMU=1 is set (by the runner and here): the serial pseudo-terminal
# tests skip themselves because qemu-user does not translate the TCGETS2 ioctl. Every other test
# runs the same assertions, with the same tolerances, as on x86_64.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=aarch64-unknown-linux-gnu
SYSROOT=/usr/aarch64-linux-gnu
problems=()

need_cmd() { # command, how to get it
    command -v "$1" >/dev/null 2>&1 || problems+=("$1 not found: $2")
}

need_cmd cargo "install Rust with rustup (https://rustup.rs)"
need_cmd aarch64-linux-gnu-gcc "apt-get install gcc-aarch64-linux-gnu"
need_cmd qemu-aarch64-static "apt-get install qemu-user-static"

if command -v rustc >/dev/null 2>&1; then
    if [ ! -d "$(rustc --print sysroot)/lib/rustlib/$TARGET" ]; then
        problems+=("Rust standard library for $TARGET missing: rustup target add $TARGET")
    fi
fi
if [ ! -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ]; then
    problems+=("aarch64 C library missing ($SYSROOT/lib/ld-linux-aarch64.so.1): apt-get install libc6-dev-arm64-cross")
fi
# The default feature v4l2 runs bindgen, which loads the host's libclang.
if ! compgen -G "/usr/lib/llvm-*/lib/libclang*.so*" >/dev/null \
    && ! compgen -G "/usr/lib/*/libclang*.so*" >/dev/null \
    && [ -z "${LIBCLANG_PATH:-}" ]; then
    problems+=("libclang not found (bindgen for the v4l2 feature): apt-get install libclang-dev, or set LIBCLANG_PATH")
fi
# CLI tests spawn the cross-built edgepose executable; only binfmt_misc lets the kernel run it.
if ! grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64; then
    problems+=("no binfmt_misc handler for aarch64 (CLI tests exec the aarch64 edgepose binary): run scripts/cross-binfmt.sh as root")
fi

if [ ${#problems[@]} -gt 0 ]; then
    echo "cross-test-aarch64: missing prerequisites:" >&2
    printf '  - %s\n' "${problems[@]}" >&2
    exit 2
fi

# Also set here (the runner sets them too) so that anything started outside the runner agrees.
export EDGEPOSE_QEMU=1
export QEMU_LD_PREFIX="$SYSROOT"

# Emulate the boards' CPU (Cortex-A72: Raspberry Pi 4; no SVE, like every supported board)
# rather than qemu's default "max" CPU, whose SVE kernels no board would run. Inherited by
# children that binfmt_misc hands to qemu.
export QEMU_CPU="${QEMU_CPU:-cortex-a72}"

# Quick mode (CI): under emulation a tract inference is 100-250x slower than native (IMHN
# 18 ms → ~5 s), so the whole-model sweeps alone take over half an hour. They are one test
# binary (tests/sweeps.rs) behind the default feature `sweeps`, which quick mode leaves out
# (the other default, hw-display, stays on); everything else runs, including the IMHN int8
# ort-vs-tract pose check and the decoder conformance fixtures. The full suite: run this
# script without the variable.
#
# Quick mode also leaves out the tests whose outcome cannot depend on the CPU architecture
# but that run a model for minutes emulated: thread orchestration (qemu-user runs the guest's
# threads with the x86 host's strong memory order, so an aarch64 ordering bug would not show
# there anyway), multi-frame tracking simulations and the synthetic scene generator (plain
# integer/f32 arithmetic, no FMA contraction in Rust), and daemon runs on an ffmpeg stand-in
# camera. The model numerics (tests/models), the decoder fixtures, the wire format, the CLI
# and one daemon end-to-end run stay in. Measured on 2 cores: the emulated run goes from
# ~14 to ~5 minutes.
QUICK_SKIP=(
    daemon::pool::
    daemon::track::
    sources::scene::annotations_are_valid_over_many_scenes
    sources::command::daemon_
)
MODE_ARGS=()
FILTER_ARGS=()
if [ "${EDGEPOSE_CROSS_QUICK:-0}" = "1" ]; then
    MODE_ARGS=(--no-default-features --features hw-display)
    for t in "${QUICK_SKIP[@]}"; do FILTER_ARGS+=(--skip "$t"); done
    echo "cross-test-aarch64: quick mode, without the sweeps test binary (${MODE_ARGS[*]}) and without: ${QUICK_SKIP[*]}"
fi

# Extra arguments before a `--` go to cargo, after it to the test binaries (with the filters).
CARGO_ARGS=()
TEST_ARGS=()
seen_dashes=0
for a in "$@"; do
    if [ "$seen_dashes" = 0 ] && [ "$a" = "--" ]; then seen_dashes=1; continue; fi
    if [ "$seen_dashes" = 0 ]; then CARGO_ARGS+=("$a"); else TEST_ARGS+=("$a"); fi
done

echo "cross-test-aarch64: cargo test --workspace --target $TARGET ${MODE_ARGS[*]} ${CARGO_ARGS[*]} (tests run under $(qemu-aarch64-static --version | head -n1), cpu $QEMU_CPU)"
start=$(date +%s)
cargo test --workspace --target "$TARGET" "${MODE_ARGS[@]}" "${CARGO_ARGS[@]}" -- \
    "${FILTER_ARGS[@]}" "${TEST_ARGS[@]}"
echo "cross-test-aarch64: passed in $(( $(date +%s) - start )) s (build + emulated tests)"
