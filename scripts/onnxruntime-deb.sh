#!/usr/bin/env bash
# Builds edgepose-onnxruntime_<version>_arm64.deb: libonnxruntime for the `ort` backend, taken
# unmodified from the official onnxruntime wheel on PyPI (manylinux_2_28_aarch64), installed as
# /usr/lib/edgepose/libonnxruntime.so.<version>, where `model.backend.kind = "auto"` finds it.
#
# Its own package, not inside edgepose_*.deb: the library is 25.3 MB installed (6.9 MB in the
# .deb, xz), more than the daemon binary; the main package only Recommends it, so a Pi Zero 2 W
# (512 MB RAM, tract is its backend) installs with --no-install-recommends and keeps the space,
# and onnxruntime's licence and notices ship beside it in its own doc directory.
#
# Usage: scripts/onnxruntime-deb.sh OUT_DIR [WHEEL_OR_UNPACKED_DIR]
#   Without the second argument the wheel of models/imhn/requirements.txt's onnxruntime
#   version is downloaded with pip (project venv's pip when present).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: $0 OUT_DIR [WHEEL_OR_UNPACKED_DIR]}"
src="${2:-}"
version=$(sed -nE 's/^onnxruntime==([0-9.]+).*/\1/p' models/imhn/requirements.txt)
[ -n "$version" ] || { echo "no onnxruntime==X pin in models/imhn/requirements.txt" >&2; exit 1; }
platform=manylinux_2_28_aarch64
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -z "$src" ]; then
    py=python3
    [ -x "${EDGEPOSE_VENV:-models/.venv}/bin/python" ] && py="${EDGEPOSE_VENV:-models/.venv}/bin/python"
    "$py" -m pip download --quiet --no-deps --only-binary=:all: --platform "$platform" \
        --python-version 3.11 -d "$work/wheel" "onnxruntime==$version"
    src=$(ls "$work"/wheel/onnxruntime-*.whl)
fi
if [ -f "$src" ]; then
    wheel_name=$(basename "$src")
    wheel_sha=$(sha256sum "$src" | cut -d' ' -f1)
    python3 -m zipfile -e "$src" "$work/unpacked"
    src="$work/unpacked"
else
    wheel_name="onnxruntime-$version (unpacked wheel at $src)"
    wheel_sha="(not recorded: unpacked)"
fi
lib=$(ls "$src"/onnxruntime/capi/libonnxruntime.so.* | head -n1)
[ -f "$lib" ] || { echo "no libonnxruntime.so.* in $src/onnxruntime/capi" >&2; exit 1; }
libver=${lib##*/libonnxruntime.so.}

pkg="$work/pkg"
mkdir -p "$pkg/DEBIAN" "$pkg/usr/lib/edgepose" "$pkg/usr/share/doc/edgepose-onnxruntime"
install -m 644 "$lib" "$pkg/usr/lib/edgepose/"
install -m 644 "$src/onnxruntime/LICENSE" "$pkg/usr/share/doc/edgepose-onnxruntime/copyright"
install -m 644 "$src/onnxruntime/ThirdPartyNotices.txt" "$pkg/usr/share/doc/edgepose-onnxruntime/"
cat >"$pkg/usr/share/doc/edgepose-onnxruntime/NOTICE" <<EOF
libonnxruntime.so.$libver
  sha256 $(sha256sum "$lib" | cut -d' ' -f1) ($(stat -c %s "$lib") bytes)
  Origin: ONNX Runtime $version by Microsoft, the official PyPI wheel
          $wheel_name (sha256 $wheel_sha),
          file onnxruntime/capi/libonnxruntime.so.$libver, copied unmodified.
  License: MIT (copyright file beside this one); third-party components and their licences
          in ThirdPartyNotices.txt (from the same wheel).
  Source: https://github.com/microsoft/onnxruntime (tag v$version)
EOF
size_kb=$(du -sk "$pkg/usr" | cut -f1)
cat >"$pkg/DEBIAN/control" <<EOF
Package: edgepose-onnxruntime
Version: $version
Architecture: arm64
Maintainer: edgepose maintainers <edgepose@example.invalid>
Section: libs
Priority: optional
Installed-Size: $size_kb
Depends: libc6 (>= 2.28), libstdc++6, libgcc-s1
Description: ONNX Runtime $version for the edgepose daemon (CPU)
 The libonnxruntime of the official onnxruntime wheel from PyPI, unmodified, in
 /usr/lib/edgepose where edgepose's backend "auto" finds it (about 3x faster than
 tract on MoveNet). Licence and provenance in /usr/share/doc/edgepose-onnxruntime.
EOF
mkdir -p "$out"
deb="$out/edgepose-onnxruntime_${version}_arm64.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "$deb: $(stat -c %s "$deb") bytes ($size_kb KiB installed)"
