import pytest
import torch

from imhn.model import IMHN, ImhnConfig, InferenceWrapper, count_macs, count_parameters

TINY = dict(inp_dim=16, increase=8, head_dim=16, input_width=64, input_height=64)


@pytest.mark.parametrize("stacks", [1, 2])
def test_tiny_config_outputs_all_five_scales(stacks):
    net = IMHN(ImhnConfig(stacks=stacks, **TINY)).eval()
    with torch.no_grad():
        outs = net(torch.rand(2, 3, 64, 128))
    assert len(outs) == stacks
    for stack in outs:
        assert [tuple(o.shape) for o in stack] == [
            (2, 50, 16, 32), (2, 50, 8, 16), (2, 50, 4, 8), (2, 50, 2, 4), (2, 50, 1, 2)
        ]
    wrapped = InferenceWrapper(net)(torch.rand(1, 3, 64, 64))
    assert wrapped.shape == (1, 50, 16, 16)


def test_second_stack_depends_on_first_through_identity_mappings():
    torch.manual_seed(0)
    net = IMHN(ImhnConfig(stacks=2, **TINY)).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        base = net(x)[1][0].clone()
        # Zeroing the first stack's coarse-scale merge changes the second stack's output.
        for p in net.merge_preds[0][3].parameters():
            p.zero_()
        for p in net.merge_feats[0][3].parameters():
            p.zero_()
        assert not torch.allclose(net(x)[1][0], base)


def test_widths_scale_parameters_and_macs():
    small = IMHN(ImhnConfig(stacks=1, **TINY))
    big = IMHN(ImhnConfig(stacks=1, inp_dim=32, increase=16, head_dim=32, input_width=64, input_height=64))
    assert count_parameters(big) > 3 * count_parameters(small)
    assert count_macs(big, 64, 64) > 3 * count_macs(small, 64, 64)
    # MACs scale with the input area.
    assert count_macs(small, 128, 128) == pytest.approx(4 * count_macs(small, 64, 64), rel=0.01)


def test_uses_leaky_relu_bn_and_se():
    net = IMHN(ImhnConfig(stacks=1, **TINY))
    kinds = {type(m).__name__ for m in net.modules()}
    assert {"LeakyReLU", "BatchNorm2d", "SqueezeExcite"} <= kinds
    assert "ReLU" not in kinds
    slopes = {m.negative_slope for m in net.modules() if isinstance(m, torch.nn.LeakyReLU)}
    assert slopes == {0.01}


@pytest.mark.parametrize(
    "kw,msg",
    [(dict(stacks=0), "stacks"), (dict(inp_dim=18), "inp_dim"), (dict(input_width=100), "multiple of 64")],
)
def test_bad_config_is_rejected(kw, msg):
    with pytest.raises(ValueError, match=msg):
        ImhnConfig(**{**TINY, **kw})


def test_reference_identity_mappings_option():
    """merge_into="outputs"/merge_from="head": the reference's layout (imhn.import_reference)."""
    torch.manual_seed(0)
    cfg = ImhnConfig(stacks=2, **{**TINY, "head_dim": 24}, merge_into="outputs", merge_from="head")
    net = IMHN(cfg).eval()
    assert net.merge_feats[0][2][0].in_channels == 24  # reads the head features (head_dim)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        base = [o.clone() for o in net(x)[1]]
        for p in net.merge_feats[0][4].parameters():
            p.zero_()
        for p in net.merge_preds[0][4].parameters():
            p.zero_()
        after = net(x)[1]
    # The coarsest merge is added to the next stack's coarsest output, not fed into its
    # hourglass: only that scale changes.
    assert not torch.allclose(after[4], base[4])
    assert all(torch.equal(a, b) for a, b in zip(after[:4], base[:4]))
    with pytest.raises(ValueError, match="merge_into"):
        ImhnConfig(**TINY, merge_into="inside")
