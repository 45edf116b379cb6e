#!/usr/bin/env bash
# One-way layers (CI runs this): a library module may only use modules listed before it in
# LAYERS (the data flow), and the inference submodules only those before them in INFER. The
# command line (src/main.rs, src/cli/) is the binary's and may use anything; the library must
# not declare it. A new top-level module goes into LAYERS at its place in the data flow.
set -euo pipefail
cd "$(dirname "$0")/.."

LAYERS=(util pose tap synth source infer track sink display eval config pipeline http recorder)
INFER=(model backend preprocess decode tta detector)

rank() { # name, list...
    local name=$1 i=0
    shift
    for m in "$@"; do
        [ "$m" = "$name" ] && { echo "$i"; return; }
        i=$((i + 1))
    done
    echo -1
}

fail=0
if grep -qE '^\s*(pub\s+)?mod\s+cli\b' src/lib.rs; then
    echo "layers: src/lib.rs declares the cli module; it belongs to the binary (src/main.rs)" >&2
    fail=1
fi

while IFS= read -r f; do
    rel=${f#src/}
    top=${rel%%/*}
    top=${top%.rs}
    [ "$top" = lib ] && continue
    r=$(rank "$top" "${LAYERS[@]}")
    if [ "$r" -lt 0 ]; then
        echo "layers: src/$top is not in LAYERS of scripts/check-layers.sh; add it at its place in the data flow" >&2
        fail=1
        continue
    fi
    sub=""
    if [ "$top" = infer ]; then
        sub=${rel#infer/}
        sub=${sub%%/*}
        sub=${sub%.rs}
    fi
    # Code lines only (comment lines are left out), every crate:: path.
    while IFS= read -r hit; do
        path=${hit#crate::}
        dep=${path%%::*}
        [ "$dep" = "$top" ] && {
            if [ -n "$sub" ] && [ "$sub" != mod ] && [[ "$path" == infer::* ]]; then
                dsub=${path#infer::}
                dsub=${dsub%%::*}
                [ "$dsub" = "$sub" ] && continue
                rs=$(rank "$sub" "${INFER[@]}")
                rd=$(rank "$dsub" "${INFER[@]}")
                if [ "$rd" -lt 0 ] || [ "$rs" -lt 0 ] || [ "$rd" -gt "$rs" ]; then
                    echo "layers: $f uses infer::$dsub, which comes after infer::$sub" >&2
                    fail=1
                fi
            fi
            continue
        }
        # The decoder and wire crates (re-exported as crate::decoder, crate::wire) are below all.
        case "$dep" in decoder | wire) continue ;; esac
        rd=$(rank "$dep" "${LAYERS[@]}")
        if [ "$rd" -lt 0 ] || [ "$rd" -gt "$r" ]; then
            echo "layers: $f uses crate::$dep, which is not below $top" >&2
            fail=1
        fi
    done < <(grep -vE '^\s*//' "$f" | grep -oE 'crate::[a-z_]+(::[a-z_]+)?' || true)
done < <(find src -name '*.rs' ! -path 'src/cli/*' ! -name main.rs | sort)

if [ "$fail" -ne 0 ]; then
    echo "layers: FAILED (order: ${LAYERS[*]}; infer: ${INFER[*]})" >&2
    exit 1
fi
echo "layers: ok (${LAYERS[*]}; infer: ${INFER[*]})"
