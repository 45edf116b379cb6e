#!/usr/bin/env bash
# Registers qemu-user-static with the kernel's binfmt_misc for aarch64 and armv7 ELF files.
#
# Why: cargo runs test binaries through the explicit runner in .cargo/config.toml, but several
# integration tests spawn the cross-built `edgepose` executable themselves (CLI tests); without
# a binfmt_misc handler the kernel refuses that with "Exec format error". Containers and VMs
# often have binfmt_misc unmounted, so this mounts it first.
#
# Needs root (uses sudo when not root) and Debian's qemu-user-static, which ships the handler
# definitions in /usr/lib/binfmt.d. Idempotent: already registered handlers are left alone.
set -euo pipefail

BINFMT=/proc/sys/fs/binfmt_misc
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "cross-binfmt: needs root or sudo" >&2; exit 1; }
    SUDO="sudo"
fi

if [ ! -e "$BINFMT/register" ]; then
    echo "cross-binfmt: mounting binfmt_misc on $BINFMT"
    $SUDO mount -t binfmt_misc binfmt_misc "$BINFMT" || {
        echo "cross-binfmt: cannot mount binfmt_misc (no privilege in this container?)" >&2
        exit 1
    }
fi

# --force re-registers: with the F flag the kernel keeps the interpreter file it opened at
# registration, so after upgrading qemu (7.2 → backports' 10) children would still run under
# the old, deleted binary until the handler is registered again.
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

for arch in aarch64 arm; do
    conf="/usr/lib/binfmt.d/qemu-$arch.conf"
    if [ -e "$BINFMT/qemu-$arch" ]; then
        if [ "$FORCE" = "1" ]; then
            $SUDO sh -c "echo -1 > '$BINFMT/qemu-$arch'"
            echo "cross-binfmt: qemu-$arch unregistered (--force)"
        else
            echo "cross-binfmt: qemu-$arch already registered"
            continue
        fi
    fi
    [ -r "$conf" ] || { echo "cross-binfmt: $conf missing: apt-get install qemu-user-static" >&2; exit 1; }
    # The F flag opens the interpreter now, so it also works inside other mount namespaces.
    $SUDO sh -c "cat '$conf' > '$BINFMT/register'"
    echo "cross-binfmt: registered qemu-$arch"
done
