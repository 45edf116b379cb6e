import numpy as np
import pytest

from imhn.skeleton import KEYPOINT_OFFSET, MAX_CHANNEL, NECK, PARTS, flip_channel_permutation
from imhn.targets import (
    FLOOR_VALUE, TargetConfig, avg_pool2, build_targets, cell_centres, coco17_to_18,
    keypoint_maps, part_maps, stride4_targets,
)


def person(points: dict[int, tuple[float, float]]) -> np.ndarray:
    kps = np.zeros((18, 3))
    for k, (x, y) in points.items():
        kps[k] = (x, y, 2)
    return kps


def test_cell_mapping_is_4c_plus_1_5():
    assert cell_centres(3, 4).tolist() == [1.5, 5.5, 9.5]


@pytest.mark.parametrize("cx,cy", [(5, 7), (0, 0), (15, 3)])
def test_keypoint_peak_at_cell_of_4c_plus_1_5(cx, cy):
    cfg = TargetConfig(sigma_keypoint=3.0)
    x, y = 4 * cx + 1.5, 4 * cy + 1.5
    m = keypoint_maps([person({0: (x, y)})], 16, 16, cfg)[0]
    assert m[cy, cx] == pytest.approx(1.0)
    assert np.unravel_index(np.argmax(m), m.shape) == (cy, cx)
    # One cell away the value is the Gaussian of 4 px.
    if cx + 1 < 16:
        assert m[cy, cx + 1] == pytest.approx(np.exp(-16 / 18.0))


def test_keypoint_peak_between_cells_is_symmetric():
    m = keypoint_maps([person({0: (4 * 5 + 1.5 + 2.0, 21.5)})], 16, 16, TargetConfig(sigma_keypoint=3.0))[0]
    assert m[5, 5] == pytest.approx(m[5, 6])
    assert m[5, 5] < 1.0


def test_people_combine_by_max():
    cfg = TargetConfig(sigma_keypoint=3.0)
    a, b = person({0: (21.5, 21.5)}), person({0: (25.5, 21.5)})
    both = keypoint_maps([a, b], 16, 16, cfg)[0]
    one = np.maximum(keypoint_maps([a], 16, 16, cfg)[0], keypoint_maps([b], 16, 16, cfg)[0])
    np.testing.assert_allclose(both, one)
    assert both.max() == pytest.approx(1.0)


def test_unannotated_keypoint_draws_nothing():
    kps = person({0: (21.5, 21.5)})
    kps[0, 2] = 0
    assert keypoint_maps([kps], 16, 16, TargetConfig()).max() == 0


def test_body_part_values_floor_and_box():
    cfg = TargetConfig(sigma_part=3.0, part_box_pad=4.0)
    k = PARTS.index((1, 0))
    # Horizontal limb from neck (x=9.5) to nose (x=41.5) on row y=21.5 (cell row 5).
    maps = part_maps([person({1: (9.5, 21.5), 0: (41.5, 21.5)})], 16, 16, cfg)[k]
    # On the line: 1.0 along the whole limb.
    np.testing.assert_allclose(maps[5, 2:11], 1.0)
    # One cell (4 px) off the line: Gaussian of the perpendicular distance.
    assert maps[4, 6] == pytest.approx(np.exp(-16 / 18.0))
    # Two cells off (8 px): exp(-64/18) = 0.0286 > 0.015, kept... but outside the box (pad 4).
    assert maps[3, 6] == 0.0
    # Outside the box along the line direction: zero.
    assert maps[5, 12] == 0.0 and maps[5, 0] == 0.0
    # Box covers x in [5.5, 45.5]: cell 1 (5.5) is inside, on the line.
    assert maps[5, 1] == pytest.approx(1.0)


def test_body_part_floor_raises_small_values_inside_box():
    cfg = TargetConfig(sigma_part=1.0, part_box_pad=4.0)
    k = PARTS.index((1, 0))
    # Vertical-ish: a diagonal limb so the box is large and holds far-from-line cells.
    maps = part_maps([person({1: (1.5, 1.5), 0: (41.5, 41.5)})], 16, 16, cfg)[k]
    # Cell (row 0, col 10) -> pixel (41.5, 1.5): far from the diagonal, inside the box.
    assert maps[0, 10] == pytest.approx(FLOOR_VALUE)
    assert maps[0, 15] == 0.0  # outside the box (x = 61.5 > 45.5)
    assert maps[3, 3] == pytest.approx(1.0)


def test_overlapping_instances_average():
    cfg = TargetConfig(sigma_part=3.0)
    k = PARTS.index((1, 0))
    a = person({1: (9.5, 21.5), 0: (41.5, 21.5)})
    b = person({1: (9.5, 25.5), 0: (41.5, 25.5)})  # parallel, 4 px lower
    ma = part_maps([a], 16, 16, cfg)[k]
    mb = part_maps([b], 16, 16, cfg)[k]
    both = part_maps([a, b], 16, 16, cfg)[k]
    # Where both boxes cover a cell the result is the mean, not the max or the sum.
    assert both[5, 5] == pytest.approx((ma[5, 5] + mb[5, 5]) / 2)
    assert both[5, 5] < 1.0
    # Where only one box covers it, that instance's value.
    assert both[8, 5] == pytest.approx(mb[8, 5])


def test_targets_clipped_and_extra_channels():
    cfg = TargetConfig(sigma_keypoint=3.0, sigma_part=3.0)
    p = person({2: (21.5, 21.5), 5: (41.5, 21.5), 0: (31.5, 9.5)})
    t = stride4_targets([coco_like(p)], 16, 16, cfg)
    assert t.shape == (50, 16, 16) and t.dtype == np.float32
    assert t.min() >= 0 and t.max() <= 1
    np.testing.assert_allclose(t[MAX_CHANNEL], t[KEYPOINT_OFFSET:KEYPOINT_OFFSET + 18].max(axis=0))
    assert t[48].max() == pytest.approx(1.0)


def coco_like(p):
    return p


def test_neck_is_shoulder_midpoint_only_when_both_present():
    k17 = np.zeros((17, 3))
    k17[5] = (10, 20, 2)
    k17[6] = (30, 24, 1)
    k18 = coco17_to_18(k17)
    assert k18[NECK].tolist() == [20, 22, 1]
    assert k18[5].tolist() == [10, 20, 2] and k18[2].tolist() == [30, 24, 1]
    k17[6, 2] = 0
    assert coco17_to_18(k17)[NECK, 2] == 0


def test_coarser_scales_are_average_pooled():
    cfg = TargetConfig(sigma_keypoint=5.0)
    ts = build_targets([person({0: (30.0, 40.0)})], 64, 64, cfg)
    assert [t.shape for t in ts] == [(50, 16, 16), (50, 8, 8), (50, 4, 4), (50, 2, 2), (50, 1, 1)]
    for fine, coarse in zip(ts, ts[1:]):
        np.testing.assert_allclose(coarse, fine.reshape(50, fine.shape[1] // 2, 2, -1, 2).mean(axis=(2, 4)), rtol=1e-6)
    assert ts[4][30, 0, 0] == pytest.approx(ts[0][30].mean(), rel=1e-5)


def test_pool_rejects_odd_sizes():
    with pytest.raises(ValueError, match="3x4"):
        avg_pool2(np.zeros((3, 4)))


def test_flip_permutation_is_an_involution():
    perm = flip_channel_permutation()
    assert sorted(perm) == list(range(50))
    assert [perm[p] for p in perm] == list(range(50))
