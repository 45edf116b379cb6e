"""Model cards (models/<id>.toml) in the project's card format.

Written by hand-rolled TOML (the stdlib only reads TOML); ``tomllib`` reads it back in the
tests, so a formatting slip fails there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tomllib
from pathlib import Path

#: Wire ids fixed by the project (tfpose=1, movenet=2, imhn fp32=3, int8=4, movenet in-graph=5).
WIRE_IDS = {"fp32": 3, "int8": 4}
LICENSE = "MIT OR Apache-2.0"  # the project's own license (root Cargo.toml)


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def render_card(
    model_id: str, variant: str, onnx_file: Path, width: int, height: int,
    provenance: str, description: str, facts: dict, *, wire_id: int | None = None,
    fixed_size: bool = True, tta_flip: bool = False, license: str = LICENSE,
) -> str:
    """Card text; ``wire_id`` defaults to the edge model's id for ``variant``."""
    lines = [
        f"id = {_value(model_id)}",
        f"wire_id = {WIRE_IDS[variant] if wire_id is None else wire_id}",
        'family = "simplepose"',
        f"file = {_value(onnx_file.name)}",
        f"sha256 = {_value(sha256_of(onnx_file))}",
        f"license = {_value(license)}",
        f"provenance = {_value(provenance)}",
        f"description = {_value(description)}",
        "",
        "[input]",
        'name = "image"',
        'layout = "nchw"',
        'dtype = "f32"',
        'color = "rgb"',
        "scale = 0.00392156862745098",
        "mean = [0.0, 0.0, 0.0]",
        f"width = {width}",
        f"height = {height}",
        "multiple_of = 64",
        f"fixed_size = {_value(fixed_size)}",
        "pad_value = 128",
        "",
        "[output]",
        'name = "maps"',
        'layout = "nchw"',
        "stride = 4",
        "offset = 1.5",
        "",
    ]
    if tta_flip:
        lines += ["[tta]", "flip = true", "scales = [1.0]", ""]
    lines += [
        "[card]",
    ]
    lines += [f"{k} = {_value(v)}" for k, v in facts.items()]
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # fail here, not in the daemon
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--onnx", required=True)
    p.add_argument("--variant", choices=sorted(WIRE_IDS), required=True)
    p.add_argument("--id", required=True)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--provenance", required=True)
    p.add_argument("--description", required=True)
    p.add_argument("--facts", required=True, help="json object of [card] facts")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    text = render_card(a.id, a.variant, Path(a.onnx), a.size, a.size, a.provenance, a.description,
                       json.loads(a.facts))
    Path(a.out).write_text(text, encoding="utf-8")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
