"""Unlabelled image sources for calibration and distillation: folders and MCAP recordings."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from imhn.data import DataError
from imhn.images import iter_images, letterbox_chw, load_images


def _jpeg(colour, size=(40, 20)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _compressed_image_descriptor() -> bytes:
    """FileDescriptorSet of foxglove.CompressedImage (field numbers as Foxglove's schema)."""
    from google.protobuf import descriptor_pb2

    fds = descriptor_pb2.FileDescriptorSet()
    f = fds.file.add(name="foxglove/CompressedImage.proto", package="foxglove", syntax="proto3")
    m = f.message_type.add(name="CompressedImage")
    T = descriptor_pb2.FieldDescriptorProto
    m.field.add(name="frame_id", number=4, type=T.TYPE_STRING, label=T.LABEL_OPTIONAL)
    m.field.add(name="data", number=2, type=T.TYPE_BYTES, label=T.LABEL_OPTIONAL)
    m.field.add(name="format", number=3, type=T.TYPE_STRING, label=T.LABEL_OPTIONAL)
    return fds.SerializeToString()


def _write_mcap(path, frames_json, frames_pb):
    from google.protobuf import descriptor_pool, message_factory, descriptor_pb2
    from mcap.writer import Writer

    desc = _compressed_image_descriptor()
    pool = descriptor_pool.DescriptorPool()
    for fd in descriptor_pb2.FileDescriptorSet.FromString(desc).file:
        pool.Add(fd)
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName("foxglove.CompressedImage"))
    with open(path, "wb") as f:
        w = Writer(f)
        w.start()
        sj = w.register_schema(name="foxglove.CompressedImage", encoding="jsonschema", data=b"{}")
        sp = w.register_schema(name="foxglove.CompressedImage", encoding="protobuf", data=desc)
        so = w.register_schema(name="edgepose.PoseFrame", encoding="jsonschema", data=b"{}")
        cj = w.register_channel(topic="/camera/json", message_encoding="json", schema_id=sj)
        cp = w.register_channel(topic="/camera/pb", message_encoding="protobuf", schema_id=sp)
        co = w.register_channel(topic="/poses", message_encoding="json", schema_id=so)
        t = 1
        for jpg in frames_json:
            msg = {"frame_id": "cam", "format": "jpeg", "data": base64.b64encode(jpg).decode()}
            w.add_message(cj, log_time=t, publish_time=t, data=json.dumps(msg).encode())
            w.add_message(co, log_time=t, publish_time=t, data=b'{"persons": []}')
            t += 1
        for jpg in frames_pb:
            w.add_message(cp, log_time=t, publish_time=t, data=cls(frame_id="cam", data=jpg, format="jpeg").SerializeToString())
            t += 1
        w.finish()


def test_folder_and_mcap_recording_frames_are_read(tmp_path):
    (tmp_path / "imgs" / "sub").mkdir(parents=True)
    (tmp_path / "imgs" / "a.jpg").write_bytes(_jpeg((255, 0, 0)))
    (tmp_path / "imgs" / "sub" / "b.png").write_bytes(_jpeg((0, 255, 0)))  # content decides, not suffix
    (tmp_path / "imgs" / "notes.txt").write_text("not an image")
    _write_mcap(tmp_path / "rec.mcap", [_jpeg((0, 0, 255)), _jpeg((255, 255, 0))], [_jpeg((0, 255, 255))])
    got = list(iter_images([tmp_path / "imgs", tmp_path / "rec.mcap"]))
    assert len(got) == 5  # 2 files + 3 camera frames; the pose channel and the txt are skipped
    means = [np.asarray(img).reshape(-1, 3).mean(axis=0) for _, img in got]
    want = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]
    for m, w in zip(means, want):
        assert np.abs(m - np.array(w)).max() < 8, (m, w)
    x = load_images([tmp_path / "rec.mcap"], 64, 64)
    assert x.shape == (3, 3, 64, 64) and x.dtype == np.float32
    # 40x20 frame letterboxed top-left into 64x64: rows below 32 are padding (128).
    assert np.allclose(x[0, :, 40:, :], 128 / 255, atol=1e-6)


def test_bad_sources_give_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        load_images([tmp_path / "missing"], 64, 64)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images in"):
        load_images([tmp_path / "empty"], 64, 64)
    (tmp_path / "bad.jpg").write_bytes(_jpeg((1, 2, 3))[:100])
    with pytest.raises(DataError, match="bad.jpg: not a readable image"):
        load_images([tmp_path / "bad.jpg"], 64, 64)
    _write_mcap(tmp_path / "rec.mcap", [_jpeg((9, 9, 9))] * 3, [])
    raw = (tmp_path / "rec.mcap").read_bytes()
    (tmp_path / "cut.mcap").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="cut.mcap"):
        load_images([tmp_path / "cut.mcap"], 64, 64)


def test_letterbox_matches_the_daemon_convention():
    img = Image.new("RGB", (100, 50), (10, 20, 30))
    x = letterbox_chw(img, 64, 64)
    assert x.shape == (3, 64, 64)
    assert np.allclose(x[:, 5, 5], np.array([10, 20, 30]) / 255, atol=1e-6)
    assert np.allclose(x[:, 60, 5], 128 / 255, atol=1e-6)
