import numpy as np
import onnx
import pytest
import torch

from imhn.export import export_onnx, run_onnx
from imhn.model import IMHN, ImhnConfig, InferenceWrapper
from imhn.quantize import op_types, quantize

TINY = dict(stacks=2, inp_dim=16, increase=8, head_dim=16, input_width=64, input_height=64)


def trained_like(cfg: ImhnConfig) -> IMHN:
    """A net with non-trivial BN statistics (fresh BN would make export folding trivial)."""
    torch.manual_seed(0)
    net = IMHN(cfg)
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.rand(4, 3, cfg.input_height, cfg.input_width))
    return net.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    cfg = ImhnConfig(**TINY)
    net = trained_like(cfg)
    path = export_onnx(net, tmp_path_factory.mktemp("onnx") / "tiny.onnx", 64, 64)
    return net, path


def test_onnx_round_trip_matches_torch(exported):
    net, path = exported
    x = np.random.default_rng(1).random((1, 3, 64, 64), dtype=np.float32)
    with torch.no_grad():
        ref = InferenceWrapper(net)(torch.from_numpy(x)).numpy()
    got = run_onnx(path, x)
    assert got.shape == (1, 50, 16, 16)
    np.testing.assert_allclose(got, ref, atol=1e-4, rtol=1e-4)


def test_onnx_interface_is_static_image_to_maps(exported):
    _, path = exported
    m = onnx.load(str(path))
    onnx.checker.check_model(m)
    (inp,), (out,) = m.graph.input, m.graph.output
    assert inp.name == "image" and out.name == "maps"
    dims = lambda v: [d.dim_value for d in v.type.tensor_type.shape.dim]
    assert dims(inp) == [1, 3, 64, 64] and dims(out) == [1, 50, 16, 16]
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT


@pytest.mark.parametrize("fmt", ["qdq", "qlinearconv"])
def test_int8_variants_have_no_contrib_ops_and_stay_close(exported, tmp_path, fmt):
    net, path = exported
    rng = np.random.default_rng(2)
    calib = [rng.random((3, 64, 64), dtype=np.float32) for _ in range(8)]
    q = quantize(path, tmp_path / f"{fmt}.onnx", calib, fmt)
    ops = op_types(q)
    assert not any(k.startswith("com.microsoft") for k in ops), ops
    if fmt == "qdq":
        assert ops.get("QuantizeLinear", 0) > 0 and ops.get("DequantizeLinear", 0) > 0
        assert "QLinearConv" not in ops
    else:
        assert ops.get("QLinearConv", 0) > 0 and "Conv" not in ops
    x = calib[0][None]
    ref = run_onnx(path, x)
    got = run_onnx(q, x)
    assert got.shape == ref.shape
    # int8 error is small compared with the output's spread.
    assert np.abs(got - ref).mean() < 0.1 * ref.std() + 1e-3


def test_quantize_rejects_bad_input(exported, tmp_path):
    _, path = exported
    with pytest.raises(ValueError, match="format"):
        quantize(path, tmp_path / "x.onnx", [np.zeros((3, 64, 64), np.float32)], "qoperator")
    with pytest.raises(ValueError, match="calibration"):
        quantize(path, tmp_path / "x.onnx", [], "qdq")


def _tract():
    """The tract Python bindings (same engine and version as the daemon's tract-onnx)."""
    import os

    try:
        import tract
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("python module tract missing (pip install -r requirements.txt)")
        pytest.skip("skipped: python module tract not installed")
    return tract


def _run_tract(tract, path, x):
    runnable = tract.onnx().load(str(path)).into_model().into_runnable()
    return runnable.run([x])[0].to_numpy()


def test_fp32_and_both_int8_variants_load_and_run_in_tract(exported, tmp_path):
    tract = _tract()
    _, path = exported
    x = np.random.default_rng(3).random((1, 3, 64, 64), dtype=np.float32)
    np.testing.assert_allclose(_run_tract(tract, path, x), run_onnx(path, x), atol=1e-4, rtol=1e-4)
    calib = [np.random.default_rng(4).random((3, 64, 64), dtype=np.float32) for _ in range(4)]
    for fmt in ("qdq", "qlinearconv"):
        q = quantize(path, tmp_path / f"{fmt}.onnx", calib, fmt)
        got = _run_tract(tract, q, x)
        ref = run_onnx(path, x)
        assert got.shape == (1, 50, 16, 16)
        assert np.abs(got - ref).mean() < 0.1 * ref.std() + 1e-3, fmt
