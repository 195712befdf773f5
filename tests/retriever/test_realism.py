"""Realism at training time: fields of view, the field-of-view channels, log SUV, blur and
noise — and the older recipe left exactly as it was."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from anatloc.retriever.config import DataConfig, ScaleConfig, get_preset
from anatloc.retriever.nifti import make_volume
from anatloc.retriever.patches import (
    CHANNELS,
    RAW_CHANNELS,
    Augment,
    CaseImages,
    Targets,
    augment_blocks,
    block_size,
    cut_raw,
    draw_augment,
    to_channels,
)
from anatloc.retriever.realism import (
    FOV_KINDS,
    LANDMARKS,
    Realism,
    degrade,
    fov_box,
    fov_weight,
)

#: heights of the landmarks above a lesion in the upper abdomen (mm)
HEIGHTS = np.array([550.0, 380.0, 200.0, 40.0, -380.0, -500.0])
REAL = DataConfig(fov_channels=True, suv_transform="log", suv_center=1.0, suv_scale=1.0)


def test_every_field_of_view_kind_holds_the_lesion_or_is_refused():
    rng = np.random.default_rng(0)
    for kind in FOV_KINDS:
        for _ in range(50):
            box = fov_box(kind, HEIGHTS, rng.random(4), size_mm=15.0)
            assert box is not None and box.shape == (2, 3)
            assert np.all(box[0] <= 0) and np.all(box[1] >= 0)  # the centre is inside
    # the landmarks decide: a lesion 150 mm above the vertex is in no vertex-thigh scan
    above = HEIGHTS - 700.0
    assert fov_box("vertex-thigh", above, np.full(4, 0.5)) is None
    assert fov_box("vertex-thigh", None, np.full(4, 0.5)) is None  # no landmarks, no kind
    # an abdomen-pelvis scan of an abdominal lesion: its top near the diaphragm, its
    # bottom near the perineum; open sideways
    box = fov_box("abdomen-pelvis", HEIGHTS, np.full(4, 0.5))
    assert box[1, 2] == pytest.approx(40.0) and box[0, 2] == pytest.approx(-390.0)
    assert np.isinf(box[:, :2]).all()
    cube = fov_box("cube", None, np.array([0.5, 0.0, 1.0, 0.5]), size_mm=20.0)
    side = cube[1] - cube[0]
    assert np.allclose(side, 210.0) and np.all(cube[0] <= -20) and np.all(cube[1] >= 20)
    assert len(LANDMARKS) == len(HEIGHTS)


def test_outside_the_field_of_view_is_unknown_not_air():
    """A block cut to a field of view: outside it the raw CT is air and the PET 0, and the
    network sees 0 in every channel (the image channels and their field of view) — the same
    as a patch cut at the edge of a real volume."""
    S = 16
    block = torch.zeros(1, 3, S, S, S)
    block[:, 0] = 40.0  # soft tissue everywhere
    block[:, 1] = 5.0
    block[:, 2, 6:10, 6:10, 6:10] = 1.0
    aug = Augment.identity(1)
    real = Realism.identity(1)
    real.fov[0, 1, 2] = 10.0  # the scan stops 10 mm above the lesion centre
    aug.realism = real
    raw = augment_blocks(block, ScaleConfig(S, 3.0), aug)
    assert raw.shape == (1, len(RAW_CHANNELS), S, S, S)
    z = (torch.arange(S) - (S - 1) / 2) * 3.0  # voxel centres along z (mm)
    above, below = z > 12.0, z < 8.0
    assert torch.all(raw[0, 0][..., above] == -1000) and torch.all(raw[0, 1][..., above] == 0)
    assert torch.all(raw[0, 3][..., above] == 0) and torch.all(raw[0, 4][..., below] == 1)
    x = to_channels(raw, True, REAL)
    assert x.shape == (1, len(CHANNELS), S, S, S)
    assert torch.all(x[0, :4][..., above] == 0)
    assert torch.all(x[0, 1][..., below] == 1) and torch.all(x[0, 3][..., below] == 1)
    # inside, PET on the log scale: ln(1 + 5) − 1
    assert torch.allclose(
        x[0, 2][..., below], torch.tensor(np.log1p(5.0) - 1.0, dtype=torch.float32)
    )


def test_fov_weight_counts_a_voxel_on_the_edge_in_proportion():
    q = torch.tensor([[[0.0, 0.0, -20.0], [0.0, 0.0, 9.0], [0.0, 0.0, 10.5], [0.0, 0.0, 30.0]]])
    fov = torch.tensor([[[-np.inf] * 3, [np.inf, np.inf, 10.0]]])
    w = fov_weight(q, fov, 3.0)[0]
    assert w[0] == 1 and w[3] == 0 and 0 < w[2] < w[1] <= 1


def test_a_volume_edge_is_seen_in_the_field_of_view_channel():
    """cut_raw says where the image ends (both samplers), and that a case without CT has
    no CT field of view."""
    data = np.full((20, 20, 20), 3.0, np.float32)
    pet = make_volume(data, np.diag([4.0, 4.0, 4.0, 1.0]))
    images = CaseImages(pet=pet)
    centre = np.array([[40.0, 40.0, 70.0]])  # the last slice is centred at z = 76 mm
    t = Targets(np.array([0]), centre, np.array([[8.0, 8.0, 8.0]]))
    for separable in (True, False):
        raw = cut_raw(
            images, centre, ScaleConfig(8, 4.0), t, max_supersample=1, separable=separable
        )
        seen = raw[0, 4]
        assert torch.all(seen[:, :, :3] > 0.99)  # below the centre: inside
        assert torch.all(seen[:, :, -2:] < 0.01)  # beyond the last slice: outside
        assert torch.all(raw[0, 3] == 0)  # no CT


def test_the_older_recipe_is_unchanged():
    """DataConfig's defaults are the older models' recipe: four channels with a constant
    CT flag, linear SUV, and no extra random draws (their augmentation stream stays)."""
    old = DataConfig()
    assert old.in_channels == 4 and not old.realistic and old.suv_transform == "linear"
    a = draw_augment(4, old, torch.Generator().manual_seed(3))
    assert a.realism is None
    raw = torch.zeros(2, 5, 4, 4, 4)
    raw[:, 1] = 9.0
    raw[:, 3:] = 0.0  # the field of view is ignored by the older layout
    x = to_channels(raw, torch.tensor([True, False]), old)
    assert x.shape == (2, 4, 4, 4, 4)
    assert torch.all(x[0, 1] == 1) and torch.all(x[1, 1] == 0) and torch.all(x[:, 2] == 2.0)
    # the presets use the new recipe
    small = get_preset("cpu-small").data
    assert small.in_channels == 5 and small.realistic and small.phantom_realism


def test_log_suv_makes_a_gain_a_shift():
    raw = torch.zeros(2, 3, 2, 2, 2)
    raw[0, 1], raw[1, 1] = 10.0, 30.0
    lin = to_channels(raw, True, DataConfig())
    log = to_channels(raw, True, REAL)
    assert float(lin[1, 2, 0, 0, 0] - lin[0, 2, 0, 0, 0]) == pytest.approx(20.0 / 3.0)
    assert float(log[1, 2, 0, 0, 0] - log[0, 2, 0, 0, 0]) == pytest.approx(
        np.log(31.0 / 11.0), rel=1e-5
    )


def test_degrade_blurs_and_adds_noise_inside_the_field_of_view():
    S = 16
    raw = torch.zeros(2, 5, S, S, S)
    raw[:, 1, 8, 8, 8] = 100.0  # a PET spike
    raw[:, 3:, :, :, :8] = 1.0  # the lower half of z is inside the field of view
    r = Realism.identity(2)
    r.pet_fwhm_mm[0] = 6.0
    r.ct_noise_hu[1] = 30.0
    out = degrade(raw.clone(), 3.0, r, torch.Generator().manual_seed(0))
    assert float(out[0, 1].max()) < 50.0 and float(out[0, 1].sum()) == pytest.approx(
        100.0, rel=0.02
    )
    assert torch.equal(out[1, 1], raw[1, 1])  # no blur asked for
    noise = out[1, 0]
    assert float(noise[..., :8].std()) > 10.0 and torch.all(noise[..., 8:] == 0)


def test_training_draws_every_kind_of_field_of_view():
    cfg = dataclasses.replace(get_preset("cpu-small").data, fov_prob=1.0)
    a = draw_augment(400, cfg, torch.Generator().manual_seed(0), np.tile(HEIGHTS, (400, 1)))
    fov = a.realism.fov.numpy()
    assert bool(a.realism.truncated.all())
    cube = np.isfinite(fov).all(axis=(1, 2))
    z_only = np.isfinite(fov[:, :, 2]).all(1) & ~np.isfinite(fov[:, :, :2]).any(axis=(1, 2))
    assert cube.sum() > 40 and z_only.sum() > 100
    assert np.all(fov[:, 0] <= 0) and np.all(fov[:, 1] >= 0)


def test_blocks_hold_what_the_realism_asks_for():
    """block_size covers jitter, rotation and zoom: a realistic batch reads no point
    outside the cached block (a fill value would show as air inside the body)."""
    cfg = get_preset("cpu-small").data
    scale = cfg.local
    Sb = block_size(scale, cfg)
    block = torch.zeros(64, 3, Sb, Sb, Sb)
    block[:, 0] = 40.0
    block[:, 1] = 2.0
    aug = draw_augment(64, cfg, torch.Generator().manual_seed(1))
    aug.realism.fov[:] = torch.tensor([[-np.inf] * 3, [np.inf] * 3])  # no truncation
    aug.realism.ct_noise_hu[:] = 0
    aug.realism.ct_fwhm_mm[:] = 0
    raw = augment_blocks(block, scale, aug, torch.Generator().manual_seed(2))
    assert float(raw[:, 0].min()) > -100  # CT offset ±40 HU only, never air
