"""The published Simple Pose checkpoint's importer, against ../shared/fixtures/imhn-reference.

The fixture holds outputs of the reference implementation (hellojialee/Improved-Body-Parts)
for a small 2-stack checkpoint in the released file's format; its README advises an absolute
tolerance of 1e-2 (fp32 noise <= 9e-4, the smallest deliberate mistake tried 0.26).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from imhn import import_reference as ir
from imhn.card import sha256_of
from imhn.model import IMHN, count_parameters

FIXTURE = Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "imhn-reference"
#: Fixture README §6: absolute tolerance on every output.
ATOL = 1e-2
#: Fixture inputs (NCHW, B,G,R, pixel/255) and their output-name prefix in outputs.npz.
INPUTS = (("input.npy", ""), ("input_nonsquare.npy", "nonsquare_"))


def fixture_dir() -> Path:
    """The fixture folder; skips on a machine without ../shared, fails under CI=true."""
    if (FIXTURE / "small.pth.gz").is_file():
        return FIXTURE
    if os.environ.get("CI") == "true":
        pytest.fail(f"{FIXTURE} is missing under CI=true")
    pytest.skip(f"skipped: {FIXTURE} not found (tests that need ../shared run in CI)")


def rgb(x: np.ndarray) -> np.ndarray:
    """The fixture's B,G,R input in the imported network's R,G,B order."""
    return np.ascontiguousarray(x[:, ::-1])


@pytest.fixture(scope="module")
def small():
    d = fixture_dir()
    sd = ir.read_checkpoint(d / "small.pth.gz")
    return sd, ir.build_imported(sd), np.load(d / "outputs.npz")


def test_small_checkpoint_imports_every_tensor_with_config_from_shapes(small):
    sd, net, _ = small
    cfg = net.cfg
    spec = json.loads((FIXTURE / "small-config.json").read_text())["constructor"]
    assert (cfg.stacks, cfg.inp_dim, cfg.increase, cfg.out_channels, cfg.order) == (
        spec["nstack"], spec["inp_dim"], spec["increase"], spec["oup_dim"], spec["hourglass_depth"])
    assert (cfg.merge_into, cfg.merge_from) == ("outputs", "head")
    assert count_parameters(net) == 28_298_260
    ours = net.state_dict()
    assert len(sd) == len(ours) == 936
    pairs = ir.map_state_dict({k: tuple(v.shape) for k, v in sd.items()},
                              {k: tuple(v.shape) for k, v in ours.items()}, cfg.order)
    for ref, key in pairs:
        want = sd[ref].reshape(ours[key].shape)
        if key == "stem.pre.0.conv.weight":  # B,G,R folded into conv1
            want = want.flip(1)
        assert torch.equal(ours[key], want), (ref, key)


def test_pytorch_reproduces_all_ten_reference_outputs_on_both_inputs(small):
    _, net, ref = small
    for name, prefix in INPUTS:
        x = torch.from_numpy(rgb(np.load(FIXTURE / name)))
        with torch.no_grad():
            out = net(x)
        for i in range(2):
            for j in range(5):
                want = ref[f"{prefix}stack{i}_scale{j}"]
                got = out[i][j].numpy()
                assert got.shape == want.shape
                err = np.abs(got - want).max()
                assert err < ATOL, f"{prefix}stack{i}_scale{j}: max |diff| {err}"


def _tract_run(path: Path, x: np.ndarray) -> list[np.ndarray]:
    try:
        import tract
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("python module tract missing (pip install -r requirements.txt)")
        pytest.skip("skipped: python module tract not installed")
    model = tract.onnx().load(str(path))
    model.set_input_fact(0, ",".join(map(str, x.shape)) + ",f32")
    return [t.to_numpy() for t in model.into_model().into_runnable().run([x])]


def _ort_run(path: Path, x: np.ndarray) -> list[np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"]).run(None, {"image": x})


def test_onnx_in_tract_and_onnxruntime_reproduces_all_ten_outputs(small, tmp_path):
    _, net, ref = small
    path = ir.export_dynamic(net, tmp_path / "all.onnx", all_outputs=True)
    names = ir.all_output_names(net.cfg)
    for name, prefix in INPUTS:
        x = rgb(np.load(FIXTURE / name))
        for b in range(x.shape[0]):  # the graph's batch is 1, like the daemon's
            xb = x[b : b + 1]
            for runtime, outs in (("onnxruntime", _ort_run(path, xb)), ("tract", _tract_run(path, xb))):
                assert len(outs) == 10
                for n, got in zip(names, outs):
                    want = ref[prefix + n][b : b + 1]
                    assert got.shape == want.shape, (runtime, n)
                    err = np.abs(got - want).max()
                    assert err < ATOL, f"{runtime} {prefix}{n}[{b}]: max |diff| {err}"


def test_cli_writes_onnx_and_card_the_daemon_reads(tmp_path, capsys):
    d = fixture_dir()
    assert ir.main([str(d / "small.pth.gz"), "--out", str(tmp_path)]) == 0
    assert "imported 936 tensors" in capsys.readouterr().out
    onnx_path, card_path = tmp_path / "imhn-reference.onnx", tmp_path / "imhn-reference.toml"
    card = tomllib.loads(card_path.read_text())
    assert card["id"] == "imhn-reference" and card["family"] == "simplepose"
    assert card["file"] == onnx_path.name and card["sha256"] == sha256_of(onnx_path)
    inp = card["input"]
    assert (inp["layout"], inp["color"], inp["mean"], inp["fixed_size"], inp["multiple_of"]) == (
        "nchw", "rgb", [0.0, 0.0, 0.0], False, 64)
    assert abs(inp["scale"] - 1 / 255) < 1e-9
    assert (inp["height"], card["tta"]["flip"]) == (640, True)  # reference single-scale eval
    # The deployed graph's single output is the one inference uses: the last stack, stride 4.
    ref = np.load(d / "outputs.npz")
    x = rgb(np.load(d / "input_nonsquare.npy"))
    want = ref["nonsquare_stack1_scale0"]
    for runtime, run in (("onnxruntime", _ort_run), ("tract", _tract_run)):
        (got,) = run(onnx_path, x)
        err = np.abs(got - want).max()
        assert got.shape == want.shape and err < ATOL, f"{runtime}: {err}"


def test_default_configuration_key_list_maps_completely_shapes_only():
    d = fixture_dir()
    spec = json.loads((d / "keys-default.json").read_text())
    keys = spec["keys"]
    assert len(keys) == spec["n_keys"] == 1848
    shapes = {ir._strip_prefix(k["key"]): tuple(k["shape"]) for k in keys}
    cfg = ir.config_from_shapes(shapes)
    c = spec["constructor"]
    assert (cfg.stacks, cfg.inp_dim, cfg.increase, cfg.order) == (
        c["nstack"], c["inp_dim"], c["increase"], c["hourglass_depth"])
    with torch.device("meta"):  # shapes only: no 516 MB of weights
        net = IMHN(cfg)
    assert count_parameters(net) == spec["n_parameters"] == 128_998_760
    ours = net.state_dict()
    pairs = ir.map_state_dict(shapes, {k: tuple(v.shape) for k, v in ours.items()}, cfg.order)
    assert len(pairs) == len(ours) == 1848
    dtypes = {ir._strip_prefix(k["key"]): k["dtype"] for k in keys}
    for ref, key in pairs:
        assert str(ours[key].dtype) == f"torch.{dtypes[ref]}", (ref, key)


def _raw_small() -> bytes:
    return gzip.decompress((fixture_dir() / "small.pth.gz").read_bytes())


@pytest.mark.parametrize("damage", ["truncated", "garbage", "truncated_gzip", "empty"])
def test_corrupt_or_truncated_checkpoint_gives_one_clear_error(tmp_path, capsys, damage):
    raw = _raw_small()
    data = {
        "truncated": raw[: len(raw) // 2],
        "garbage": bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
        "truncated_gzip": gzip.compress(raw[:1 << 20])[:50_000],
        "empty": b"",
    }[damage]
    bad = tmp_path / "bad.pth"
    bad.write_bytes(data)
    with pytest.raises(ir.CheckpointError) as e:
        ir.read_checkpoint(bad)
    assert str(bad) in str(e.value)
    assert ir.main([str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and str(bad) in err[0], err
    assert not (tmp_path / "out" / "imhn-reference.onnx").exists()


def _small_state() -> dict[str, torch.Tensor]:
    return torch.load(io.BytesIO(_raw_small()), map_location="cpu", weights_only=True)["weights"]


def test_renamed_missing_or_misshapen_key_is_named():
    sd = {ir._strip_prefix(k): v for k, v in _small_state().items()}
    renamed = dict(sd)
    renamed["hourglass.1.hg.2.0.convBlock.9.weight"] = renamed.pop("hourglass.1.hg.2.0.convBlock.6.weight")
    with pytest.raises(ir.CheckpointError, match=r"'posenet\.hourglass\.1\.hg\.2\.0\.convBlock\.9\.weight'"):
        ir.build_imported(renamed)
    missing = dict(sd)
    del missing["merge_preds.0.3.conv.bn.running_var"]
    with pytest.raises(ir.CheckpointError, match=r"lacks a tensor for the IMHN's 'merge_preds\.0\.3\.1\.running_var'"):
        ir.build_imported(missing)
    shaped = dict(sd)
    shaped["features.1.before_regress.4.2.fc.0.weight"] = torch.zeros(16, 255)
    with pytest.raises(ir.CheckpointError, match=r"'posenet\.features\.1\.before_regress\.4\.2\.fc\.0\.weight' has shape \[16, 255\]"):
        ir.build_imported(shaped)
    nan = dict(sd)
    nan["outs.1.0.conv.bias"] = torch.full_like(sd["outs.1.0.conv.bias"], float("nan"))
    with pytest.raises(ir.CheckpointError, match=r"'posenet\.outs\.1\.0\.conv\.bias' holds NaN"):
        ir.build_imported(nan)


def test_bare_state_dict_and_prefixes_are_accepted(tmp_path):
    sd = _small_state()
    bare = tmp_path / "bare.pth"
    torch.save({"module." + k: v for k, v in sd.items()}, bare)
    got = ir.read_checkpoint(bare)
    assert set(got) == {ir._strip_prefix(k) for k in sd}
    other = tmp_path / "other.pth"
    torch.save({"model": 1, "epoch": 3}, other)
    with pytest.raises(ir.CheckpointError, match="neither a 'weights' entry nor a bare state dict"):
        ir.read_checkpoint(other)


def test_reference_key_layout_is_the_fixtures_in_order():
    """``reference_state_dict`` writes the reference's exact key list (both fixture configs)."""
    d = fixture_dir()
    for name in ("keys-default.json", "keys-small.json"):
        keys = json.loads((d / name).read_text())["keys"]
        shapes = {ir._strip_prefix(k["key"]): tuple(k["shape"]) for k in keys}
        assert ir._reference_keys(ir.config_from_shapes(shapes)) == list(shapes), name


def test_round_trip_through_the_released_layout(tmp_path):
    """Our net -> legacy checkpoint in the reference layout -> importer: the same network."""
    from imhn.model import ImhnConfig

    torch.manual_seed(0)
    cfg = ImhnConfig(stacks=2, inp_dim=16, increase=8, head_dim=16, input_width=64, input_height=64,
                     merge_into="outputs", merge_from="head")
    net = IMHN(cfg)
    net.train()
    with torch.no_grad():
        net(torch.rand(2, 3, 64, 64))
    net.eval()
    ckpt = ir.save_reference_checkpoint(net, tmp_path / "tiny.pth")
    assert ckpt.read_bytes()[:2] != b"PK"  # legacy format, not zip
    back = ir.build_imported(ir.read_checkpoint(ckpt))
    x = torch.rand(1, 3, 64, 128)
    with torch.no_grad():
        for a, b in zip(net(x), back(x)):
            for p, q in zip(a, b):
                torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_int8_qdq_of_the_imported_fixture_network(tmp_path):
    """--int8 on the user's images: QDQ graph, own card, close to fp32 on unseen scenes."""
    from imhn.images import synthetic_images
    from imhn.quantize import op_types
    from imhn.stickfig import make_coco

    d = fixture_dir()
    make_coco(tmp_path / "calib", count=4, size=128, seed=3, people=(1, 3))
    out = tmp_path / "out"
    assert ir.main([str(d / "small.pth.gz"), "--out", str(out), "--int8", "--calib-images",
                    str(tmp_path / "calib" / "images"), "--calib-size", "128x128"]) == 0
    q, card = out / "imhn-reference-int8.onnx", out / "imhn-reference-int8.toml"
    ops = op_types(q)
    assert ops.get("QuantizeLinear", 0) > 100 and not any(k.startswith("com.microsoft") for k in ops), ops
    c = tomllib.loads(card.read_text())
    assert (c["id"], c["wire_id"], c["sha256"]) == ("imhn-reference-int8", ir.WIRE_ID_INT8, sha256_of(q))
    assert "user images" in c["card"]["calibration"]
    scenes = synthetic_images(2, 128, 128, 77, tmp_path / "eval")
    for x in scenes:
        (a,), (b,) = _ort_run(out / "imhn-reference.onnx", x[None]), _ort_run(q, x[None])
        # Random-weight fixture network: int8 tracks fp32 (measured corr ~0.96, README).
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9
        assert np.abs(a - b).mean() < 0.4 * a.std()
