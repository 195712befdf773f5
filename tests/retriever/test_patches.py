"""World-space patch sampling: different grids, flipped affines, rotation about the centre."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from anatloc.retriever.config import DataConfig, ScaleConfig
from anatloc.retriever.nifti import make_volume
from anatloc.retriever.patches import (
    CT_FILL,
    Augment,
    CaseImages,
    Targets,
    augment_blocks,
    block_size,
    cut_raw,
    draw_augment,
    grid_points,
    mask_stats,
    random_rotations,
    sample_patches,
    sample_volume,
    to_channels,
)

from .synth import CT_AFFINE, PET_AFFINE, world_grid

CENTRE = np.array([10.0, -14.0, 22.0])


def _oblique_affine() -> np.ndarray:
    """A 3 mm grid rotated 30° about z, stored with x flipped (neither RAS nor LPS)."""
    a = np.radians(30)
    R = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    A = np.eye(4)
    A[:3, :3] = R @ np.diag([-3.0, 3.0, 3.0])
    A[:3, 3] = CENTRE - A[:3, :3] @ np.array([20.0, 20.0, 20.0])
    return A


@pytest.fixture
def cube_case():
    """A bright cube (side 12 mm) at a known world position in a CT on a 4 mm RAS grid, a PET
    on a 6 mm grid stored LPS, and an oblique mask with two lesions."""
    shapes = {"ct": (48, 48, 48), "pet": (32, 32, 32), "mask": (40, 40, 40)}
    ct = np.full(shapes["ct"], -1000.0, np.float32)
    ct[(np.abs(world_grid(CT_AFFINE, shapes["ct"]) - CENTRE) <= 6).all(-1)] = 500
    pet = np.zeros(shapes["pet"], np.float32)
    pet[(np.abs(world_grid(PET_AFFINE, shapes["pet"]) - CENTRE) <= 9).all(-1)] = 10
    A_mask = _oblique_affine()
    wm = world_grid(A_mask, shapes["mask"])
    mask = np.zeros(shapes["mask"], np.float32)
    mask[np.linalg.norm(wm - CENTRE, axis=-1) <= 8] = 1
    mask[np.linalg.norm(wm - (CENTRE + np.array([0, 0, 30])), axis=-1) <= 8] = 2  # another lesion
    return CaseImages(
        pet=make_volume(pet, PET_AFFINE),
        ct=make_volume(ct, CT_AFFINE),
        mask=make_volume(mask, A_mask),
    )


def _centre_of_bright(x: np.ndarray) -> np.ndarray:
    thr = (x.max() + x.min()) / 2
    return np.argwhere(x > thr).mean(axis=0)


def test_cube_is_at_the_patch_centre_in_ct_pet_and_mask(cube_case):
    targets = Targets(np.array([1]), np.full((1, 3), np.nan), np.full((1, 3), np.nan))
    raw = cut_raw(cube_case, CENTRE[None], ScaleConfig(24, 2.0), targets)
    mid = (24 - 1) / 2
    for ch in range(3):
        c = _centre_of_bright(raw[0, ch].numpy())
        # the PET grid is 6 mm: the cube's sampled centre may be off by up to a voxel there
        assert np.allclose(c, mid, atol=1.6), (ch, c)
    ct = raw[0, 0].numpy()
    assert ct.max() == pytest.approx(500, abs=1) and ct.min() == pytest.approx(-1000, abs=1)
    # the other lesion (id 2, 30 mm above) is suppressed in the target-only mask
    assert raw[0, 2, :, :, -1].max() == 0
    other = Targets(np.array([2]), np.full((1, 3), np.nan), np.full((1, 3), np.nan))
    raw2 = cut_raw(cube_case, CENTRE[None], ScaleConfig(24, 2.0), other)
    assert raw2[0, 2].sum() > 0 and raw2[0, 2, :, :, :12].sum() == 0


def test_orientation_of_axes_is_ras(cube_case):
    """A point 8 mm to the right (+x) of the centre lands at a larger x index."""
    off = CENTRE - np.array([8.0, 0.0, 0.0])  # patch centred 8 mm left of the cube
    targets = Targets(np.array([0]), CENTRE[None], np.full((1, 3), 12.0))
    raw = cut_raw(cube_case, off[None], ScaleConfig(24, 2.0), targets)
    for ch in range(3):
        c = _centre_of_bright(raw[0, ch].numpy())
        assert c[0] == pytest.approx((24 - 1) / 2 + 4, abs=1.6)
        assert c[1] == pytest.approx((24 - 1) / 2, abs=1.6)


def test_rotation_turns_about_the_patch_centre(cube_case):
    targets = Targets(np.array([1]), np.full((1, 3), np.nan), np.full((1, 3), np.nan))
    rot = random_rotations(4, 45.0, torch.Generator().manual_seed(0))
    raw = cut_raw(
        cube_case,
        np.repeat(CENTRE[None], 4, 0),
        ScaleConfig(24, 2.0),
        Targets(np.ones(4, int), targets.centers.repeat(4, 0), targets.sizes.repeat(4, 0)),
        transforms=rot,
    )
    for b in range(4):
        assert np.allclose(_centre_of_bright(raw[b, 0].numpy()), 11.5, atol=1.0)


def test_outside_the_image_is_air_for_ct_and_zero_for_pet(cube_case):
    far = CENTRE + np.array([500.0, 0, 0])
    t = Targets(np.array([0]), far[None], np.full((1, 3), 10.0))
    raw = cut_raw(cube_case, far[None], ScaleConfig(8, 4.0), t)
    assert torch.all(raw[0, 0] == CT_FILL) and torch.all(raw[0, 1] == 0)
    # the border blends exactly as if the image were padded with the fill value
    v = make_volume(np.full((10, 10, 10), 100.0, np.float32), np.eye(4))
    pts = torch.tensor([[-0.5, 5, 5], [9.3, 5, 5], [-3.0, 5, 5]], dtype=torch.float64)
    assert sample_volume(v, pts, fill=-1000).tolist() == pytest.approx([-450, -230, -1000])


def test_fast_sampler_matches_the_plain_point_sampler(cube_case):
    c = torch.tensor(CENTRE[None] + 3.3)
    rot = random_rotations(1, 30.0, torch.Generator().manual_seed(3))
    for vol in (cube_case.ct, cube_case.pet):
        fast = sample_patches(vol, c, 12, 5.0, 2, rot, fill=-7.0)
        slow = sample_volume(vol, grid_points(c, 12, 5.0, 2, rot), fill=-7.0)
        torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-2)


def test_ellipsoid_mask_from_a_box(cube_case):
    t = Targets(np.array([0]), CENTRE[None], np.array([[20.0, 10.0, 10.0]]))
    raw = cut_raw(cube_case, CENTRE[None], ScaleConfig(16, 2.0), t, max_supersample=1)
    m = raw[0, 2].numpy()
    extent = [np.ptp(np.argwhere(m > 0.5)[:, a]) + 1 for a in range(3)]
    assert extent[0] == pytest.approx(10, abs=1) and extent[1] == pytest.approx(5, abs=1)
    # a lesion smaller than a context voxel does not vanish (soft occupancy)
    tiny = Targets(np.array([0]), CENTRE[None], np.array([[3.0, 3.0, 3.0]]))
    ctx = cut_raw(cube_case, CENTRE[None], ScaleConfig(8, 12.0), tiny, max_supersample=4)
    assert 0 < ctx[0, 2].sum() < 1


def test_blocks_without_augmentation_equal_direct_patches(cube_case):
    cfg = DataConfig()
    scale = ScaleConfig(16, 3.0)
    t = Targets(np.array([1]), np.full((1, 3), np.nan), np.full((1, 3), np.nan))
    direct = cut_raw(cube_case, CENTRE[None], scale, t)
    sb = block_size(scale, cfg)
    assert sb > 16 and (sb - 16) % 2 == 0
    block = cut_raw(cube_case, CENTRE[None], scale, t, size=sb)
    torch.testing.assert_close(
        augment_blocks(block, scale, Augment.identity(1)), direct, rtol=1e-4, atol=1e-3
    )


def test_augmentation_moves_and_keeps_points_inside_the_block(cube_case):
    cfg = DataConfig(
        jitter_mm=3.0, rotate_deg=10.0, rotate_prob=1.0, zoom_prob=1.0, zoom_range=(1.1, 1.1)
    )
    scale = ScaleConfig(16, 3.0)
    t = Targets(np.array([1, 1]), np.full((2, 3), np.nan), np.full((2, 3), np.nan))
    block = cut_raw(cube_case, np.repeat(CENTRE[None], 2, 0), scale, t, size=block_size(scale, cfg))
    aug = draw_augment(2, cfg, torch.Generator().manual_seed(1))
    out = augment_blocks(block, scale, aug)
    assert out.shape == (2, 5, 16, 16, 16)  # RAW_CHANNELS
    # with the block margin no corner reads the fill value of the block's outside
    far = DataConfig(jitter_mm=0, rotate_prob=0, zoom_prob=0)
    assert block_size(scale, far) == 16
    for b in range(2):
        assert np.allclose(_centre_of_bright(out[b, 1].numpy()), 7.5, atol=1.5)


def test_channels_pet_only_and_ct_dropout():
    cfg = DataConfig()
    raw = torch.zeros(3, 3, 4, 4, 4)
    raw[:, 0] = 40.0 + 200.0 * 0.5  # HU → 0.5
    raw[:, 1] = 9.0  # SUV → 2.0
    raw[:, 2] = 1.0
    x = to_channels(
        raw, torch.tensor([True, False, True]), cfg, drop_ct=torch.tensor([0, 0, 1]).bool()
    )
    assert x.shape == (3, 4, 4, 4, 4)
    assert torch.all(x[0, 0] == 0.5) and torch.all(x[0, 1] == 1)
    for b in (1, 2):  # missing and dropped CT: 0 and flag 0, never water
        assert torch.all(x[b, 0] == 0) and torch.all(x[b, 1] == 0)
    assert torch.all(x[:, 2] == 2.0) and torch.all(x[:, 3] == 1.0)
    hot = raw.clone()
    hot[:, 1] = 1000.0
    assert to_channels(hot, True, cfg)[:, 2].max() == cfg.suv_clip[1]


def test_channels_written_into_rows_of_a_batch_are_the_same_values():
    """``out=``: predict fills each lesion's row of the batch in place; it must give exactly
    what a fresh tensor gets (same operations, same order)."""
    cfg = DataConfig()
    g = torch.Generator().manual_seed(0)
    raw = torch.empty(3, 3, 5, 5, 5)
    raw[:, 0] = torch.rand(3, 5, 5, 5, generator=g) * 2000 - 1000
    raw[:, 1] = torch.rand(3, 5, 5, 5, generator=g) * 30
    raw[:, 2] = torch.rand(3, 5, 5, 5, generator=g) * 1.4 - 0.2
    present = torch.tensor([True, False, True])
    ref = to_channels(raw, present, cfg)
    batch = torch.full((5, 4, 5, 5, 5), float("nan"))
    got = to_channels(raw, present, cfg, out=batch[1:4])
    assert got.data_ptr() == batch[1:4].data_ptr()
    assert torch.equal(batch[1:4], ref)
    assert torch.isnan(batch[0]).all() and torch.isnan(batch[4]).all()


def test_mask_stats_centroid_and_extent(cube_case):
    stats = mask_stats(cube_case.mask, [1, 2])
    centre, size = stats[1]
    assert np.allclose(centre, CENTRE, atol=1.0)
    assert np.all((size > 14) & (size < 24))
    assert set(stats) == {1, 2} and 3 not in mask_stats(cube_case.mask, [3])


@pytest.mark.parametrize("scale", [ScaleConfig(8, 3.0), ScaleConfig(6, 12.0)])
def test_separable_cut_equals_the_sampling_grid(scale):
    """The axis-aligned fast path (no grid) gives the grid path's patches: random images on a
    RAS and an LPS grid, an axis-aligned instance mask, lesions inside, at the border and
    outside the images, with sub-sampling."""
    rng = np.random.default_rng(5)
    ct = make_volume(rng.normal(0, 300, (48, 48, 48)).astype(np.float32), CT_AFFINE)
    pet = make_volume(rng.gamma(2.0, 1.0, (32, 32, 32)).astype(np.float32), PET_AFFINE)
    ids = rng.integers(0, 4, (48, 48, 48)).astype(np.float32)
    nearly = CT_AFFINE.copy()
    nearly[0, 1] = 1e-9  # a stored affine's rounding: still axis-aligned
    case = CaseImages(pet=pet, ct=ct, mask=make_volume(ids, nearly))
    # (off the voxel grid: a nearest-neighbour tie may round either way in float32)
    centres = np.array([CENTRE + 0.37, [80.3, -90.2, 0.1], [300.0, 0.0, 0.0], [1.3, 2.7, -93.1]])
    t = Targets(np.array([1, 2, 3, 0]), centres, np.full((4, 3), 10.0))
    for cap in (1, 3):
        fast = cut_raw(case, centres, scale, t, max_supersample=cap)
        grid = cut_raw(case, centres, scale, t, max_supersample=cap, separable=False)
        torch.testing.assert_close(fast[:, 0], grid[:, 0], rtol=1e-5, atol=0.05)  # HU
        torch.testing.assert_close(fast[:, 1:], grid[:, 1:], rtol=1e-5, atol=1e-4)
    assert torch.all(fast[2, 0] == CT_FILL)


def test_mask_stats_ignores_ids_not_asked_for():
    # ids above and between the wanted ones neither change the boxes nor cost a box each
    data = np.zeros((30, 30, 30), np.float32)
    data[2:5, 2:5, 2:5] = 1
    data[10:12, 10:12, 10:12] = 7
    data[20:22, 20:22, 20:22] = 40_000
    vol = make_volume(data, np.diag([2.0, 2.0, 2.0, 1.0]))
    stats = mask_stats(vol, [1, 7, 9])
    assert sorted(stats) == [1, 7]
    np.testing.assert_allclose(stats[1][0], [6.0, 6.0, 6.0])
    np.testing.assert_allclose(stats[7][1], [4.0, 4.0, 4.0])
