import pytest
import torch

from imhn.loss import (
    KEYPOINT_WEIGHT, SCALE_WEIGHTS, focal_factor, multiscale_loss, pixel_loss, scale_loss,
)


def test_focal_factor_downweights_easy_pixels():
    t_fg, t_bg = torch.tensor(0.9), torch.tensor(0.0)
    easy_fg = focal_factor(torch.tensor(0.85), t_fg)
    hard_fg = focal_factor(torch.tensor(0.1), t_fg)
    easy_bg = focal_factor(torch.tensor(0.02), t_bg)
    hard_bg = focal_factor(torch.tensor(0.8), t_bg)
    assert easy_fg < 0.05 and hard_fg > 0.8
    assert easy_bg < 0.01 and hard_bg > 0.6
    # Eq. 3-4 with gamma 2: s_t = s on foreground, 1 - s on background.
    assert easy_fg.item() == pytest.approx((1 - 0.85) ** 2)
    assert hard_bg.item() == pytest.approx(0.8**2)


def test_focal_factor_clamps_out_of_range_predictions():
    assert focal_factor(torch.tensor(1.3), torch.tensor(1.0)).item() == 0.0
    assert focal_factor(torch.tensor(-0.2), torch.tensor(1.0)).item() == 1.0


def test_focal_loss_is_below_l2_and_zero_when_perfect():
    torch.manual_seed(0)
    t = torch.rand(2, 50, 4, 4)
    p = t + 0.1 * torch.randn_like(t)
    m = torch.ones(2, 1, 4, 4)
    assert scale_loss(p, t, m, focal=True) < scale_loss(p, t, m, focal=False)
    assert scale_loss(t, t, m, focal=True).item() == 0.0


def test_mask_removes_pixels():
    t = torch.zeros(1, 50, 2, 2)
    p = torch.ones(1, 50, 2, 2)
    m = torch.ones(1, 1, 2, 2)
    full = scale_loss(p, t, m, focal=False)
    m[..., 0, :] = 0
    assert scale_loss(p, t, m, focal=False).item() == pytest.approx(full.item() / 2)
    assert scale_loss(p, t, torch.zeros_like(m), focal=False).item() == 0.0


def test_keypoint_channels_weigh_three_times():
    t = torch.zeros(1, 50, 1, 1)
    p = torch.ones(1, 50, 1, 1)
    e = pixel_loss(p, t, torch.ones(1, 1, 1, 1), focal=False).flatten()
    assert e[0] == 1.0 and e[30] == KEYPOINT_WEIGHT and e[47] == KEYPOINT_WEIGHT and e[48] == 1.0


def test_scale_weights_and_stacks():
    sizes = [8, 4, 2, 1, 1]
    targets = [torch.zeros(1, 50, s, s) for s in sizes]
    masks = [torch.ones(1, 1, s, s) for s in sizes]
    # Error only at the coarsest scale: the total is its weight times its loss.
    outs = [torch.zeros(1, 50, s, s) for s in sizes]
    outs[4] = torch.full((1, 50, 1, 1), 0.5)
    total, per_scale = multiscale_loss([outs], targets, masks, focal=False)
    expect = 0.25 * (30 + 18 * 3 + 2)
    assert per_scale[4] == pytest.approx(expect)
    assert total.item() == pytest.approx(SCALE_WEIGHTS[4] * expect)
    total2, _ = multiscale_loss([outs, outs], targets, masks, focal=False)
    assert total2.item() == pytest.approx(2 * total.item())


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="prediction"):
        scale_loss(torch.zeros(1, 50, 2, 2), torch.zeros(1, 50, 4, 4), torch.ones(1, 1, 2, 2), True)
    with pytest.raises(ValueError, match="scales"):
        multiscale_loss([[torch.zeros(1, 50, 2, 2)]], [torch.zeros(1, 50, 2, 2)], [torch.ones(1, 1, 2, 2)])
