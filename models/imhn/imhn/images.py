"""Unlabelled images for calibration and distillation: folders, files, MCAP recordings.

An edgepose MCAP recording holds the camera frames as Foxglove ``CompressedImage`` messages
(JSON or protobuf encoded); every such frame counts as one image. Frames go through the
daemon's preprocessing: top-left letterbox, pad 128, R,G,B, pixel/255, NCHW.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from .data import DataError, letterbox_matrix, warp_image

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm"})
MCAP_EXTENSION = ".mcap"
#: Schema names of camera frames in a recording (Foxglove's; ROS 2's is CDR, not read here).
COMPRESSED_IMAGE_SCHEMAS = frozenset({"foxglove.CompressedImage"})


def letterbox_chw(img: Image.Image, width: int, height: int) -> np.ndarray:
    """float32 [3,H,W] R,G,B in 0..1, top-left letterbox padded with 128 (the daemon's)."""
    m = letterbox_matrix(img.width, img.height, width, height)
    return (np.asarray(warp_image(img, m, width, height), dtype=np.float32) / 255.0).transpose(2, 0, 1).copy()


def _decode(name: str, data: bytes) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception as e:  # PIL raises OSError, SyntaxError, ValueError for damaged files
        raise DataError(f"{name}: not a readable image ({e})") from e
    return img.convert("RGB")


def _protobuf_class(schema):
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fds = descriptor_pb2.FileDescriptorSet.FromString(schema.data)
    pool = descriptor_pool.DescriptorPool()
    for f in fds.file:
        pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(schema.name))


def mcap_frames(path: Path) -> Iterator[tuple[str, Image.Image]]:
    """Camera frames of an MCAP recording (``CompressedImage`` messages, JSON or protobuf)."""
    try:
        from mcap.reader import make_reader
    except ImportError as e:
        raise DataError(f"{path}: reading MCAP needs the python package mcap (pip install mcap)") from e
    classes: dict[int, object] = {}
    n = 0
    try:
        with open(path, "rb") as f:
            for schema, channel, message in make_reader(f).iter_messages():
                if schema is None or schema.name not in COMPRESSED_IMAGE_SCHEMAS:
                    continue
                enc = channel.message_encoding
                if enc == "json":
                    payload = base64.b64decode(json.loads(message.data)["data"])
                elif enc == "protobuf":
                    if schema.id not in classes:
                        classes[schema.id] = _protobuf_class(schema)
                    payload = classes[schema.id].FromString(message.data).data
                else:
                    raise DataError(f"{path}: channel {channel.topic} has encoding {enc!r}; json and protobuf are read")
                n += 1
                yield f"{path.name}#{channel.topic}@{message.log_time}", _decode(f"{path}:{channel.topic}", payload)
    except DataError:
        raise
    except Exception as e:  # mcap raises its own errors for truncated or invalid files
        raise DataError(f"{path}: damaged MCAP recording after {n} frames ({type(e).__name__}: {e})") from e


def iter_images(sources: list[str | Path]) -> Iterator[tuple[str, Image.Image]]:
    """(name, RGB image) for every image file under each source (folders recursively, sorted)
    and every camera frame of each ``.mcap`` recording."""
    for src in map(Path, sources):
        if src.is_dir():
            files = sorted(p for p in src.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS | {MCAP_EXTENSION})
        elif src.is_file():
            files = [src]
        else:
            raise DataError(f"{src}: no such file or folder")
        for p in files:
            if p.suffix.lower() == MCAP_EXTENSION:
                yield from mcap_frames(p)
            else:
                yield str(p), _decode(str(p), p.read_bytes())


def load_images(sources: list[str | Path], width: int, height: int, limit: int | None = None) -> np.ndarray:
    """Up to ``limit`` letterboxed images as float32 [N,3,H,W]; ``DataError`` when there are none."""
    out = []
    for _, img in iter_images(sources):
        out.append(letterbox_chw(img, width, height))
        if limit is not None and len(out) >= limit:
            break
    if not out:
        raise DataError(f"no images in {', '.join(map(str, sources))} (looked for {sorted(IMAGE_EXTENSIONS)} and .mcap)")
    return np.stack(out)


def synthetic_images(count: int, width: int, height: int, seed: int, workdir: Path) -> np.ndarray:
    """Stick-figure scenes (``imhn.stickfig``), letterboxed like real frames."""
    from .stickfig import make_coco

    size = max(width, height)
    make_coco(workdir, count=count, size=size, seed=seed, people=(1, 4))
    return load_images([workdir / "images"], width, height)
