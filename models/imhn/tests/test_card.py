import hashlib
import tomllib

import pytest

from imhn.bench import median_ms
from imhn.card import render_card
from imhn.export import export_onnx
from imhn.model import IMHN, ImhnConfig


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory):
    net = IMHN(ImhnConfig(stacks=1, inp_dim=16, increase=8, head_dim=16, input_width=64, input_height=64))
    return export_onnx(net.eval(), tmp_path_factory.mktemp("card") / "m.onnx", 64, 64)


def test_card_is_valid_toml_in_the_project_format(onnx_file):
    text = render_card("imhn-test-int8", "int8", onnx_file, 64, 64, 'trained "here"', "desc",
                       {"params": 123, "gflops": 0.5, "trained_on": "synthetic scenes only"})
    card = tomllib.loads(text)
    assert card["id"] == "imhn-test-int8" and card["wire_id"] == 4
    assert card["family"] == "simplepose" and card["file"] == "m.onnx"
    assert card["sha256"] == hashlib.sha256(onnx_file.read_bytes()).hexdigest()
    assert card["provenance"] == 'trained "here"'
    assert card["input"] == {
        "name": "image", "layout": "nchw", "dtype": "f32", "color": "rgb",
        "scale": 1 / 255, "mean": [0.0, 0.0, 0.0], "width": 64, "height": 64,
        "multiple_of": 64, "fixed_size": True, "pad_value": 128,
    }
    assert card["output"] == {"name": "maps", "layout": "nchw", "stride": 4, "offset": 1.5}
    assert card["card"]["params"] == 123


def test_card_rejects_unknown_values(onnx_file):
    with pytest.raises(TypeError):
        render_card("x", "fp32", onnx_file, 64, 64, "p", "d", {"bad": object()})
    with pytest.raises(KeyError):
        render_card("x", "fp16", onnx_file, 64, 64, "p", "d", {})


def test_bench_measures_a_positive_latency(onnx_file):
    assert median_ms(str(onnx_file), threads=1, runs=3, warmup=1) > 0
