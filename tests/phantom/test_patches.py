"""Patch mode agrees with volume mode; patches turn about their centre."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from anatloc.phantom.cases import make_case
from anatloc.phantom.lesions import Lesion
from anatloc.phantom.patches import (
    blurred_sphere,
    patch_affine,
    patch_points,
    render_patch,
    rotation_of,
)
from anatloc.phantom.profiles import get_profile
from anatloc.phantom.render import patch_pet_sigma_mm


@pytest.fixture(scope="module")
def case(toy_model):
    prof = get_profile("internal").with_spacing(4.0)
    prof = dataclasses.replace(prof, pet=dataclasses.replace(prof.pet, spacing_mm=(6.0, 6.0, 6.0)))
    return make_case(toy_model, prof, 11, 0, lesions_per_case=5, noise=False)


def _cut(case, row, n=16):
    """A patch aligned with the CT voxels around a lesion, and the same block of the volumes."""
    g = case.volumes.ct_grid
    ctr = np.array([row["center_x"], row["center_y"], row["center_z"]])
    c0 = np.clip(
        np.rint((ctr - g.origin) / g.spacing).astype(int) - n // 2, 0, np.asarray(g.shape) - n
    )
    centre = g.origin + (c0 + (n - 1) / 2) * g.spacing
    patch = render_patch(case.scene, centre, n, g.spacing, target=row["lesion_id"])
    sl = tuple(slice(a, a + n) for a in c0)
    return patch, sl, c0


def test_patch_labels_and_mask_equal_the_volume(case):
    assert case.rows
    for row in case.rows:
        p, sl, _ = _cut(case, row)
        assert np.array_equal(p["labels"], case.volumes.labels[sl])
        assert np.array_equal(
            p["mask"], (case.volumes.lesion_mask[sl] == row["lesion_id"]).astype(np.uint8)
        )
        assert p["mask"].sum() > 0


def test_patch_intensities_agree_with_the_volume_without_noise(case):
    v = case.volumes
    g, pg = v.ct_grid, v.pet_grid
    n = 16
    border = int(np.ceil(3 * patch_pet_sigma_mm(case.scene.profile).max() / g.spacing.min()))
    inner = (slice(border, n - border),) * 3
    for row in case.rows:
        p, sl, c0 = _cut(case, row, n)
        # CT: the same voxels, up to the int16 rounding of the volume
        assert np.abs(p["ct"] - v.ct[sl])[1:-1, 1:-1, 1:-1].max() <= 1.0
        # PET: the volume is on a coarser grid; sample it at the patch's voxel centres
        ijk = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).reshape(-1, 3) + c0
        pts = ijk * g.spacing + g.origin
        ref = ndimage.map_coordinates(
            v.pet, ((pts - pg.origin) / pg.spacing).T, order=1, mode="nearest"
        )
        ref = ref.reshape(n, n, n)[inner]
        got = p["pet"][inner]
        scale = max(float(ref.max()), 1.0)
        assert np.median(np.abs(got - ref)) <= 0.05 * scale
        assert np.abs(got - ref).max() <= 0.35 * scale
        assert abs(float(got.max()) - float(ref.max())) <= 0.25 * scale


def test_noise_is_seeded(case):
    row = case.rows[0]
    g = case.volumes.ct_grid
    centre = [row["center_x"], row["center_y"], row["center_z"]]
    a = render_patch(case.scene, centre, 12, g.spacing, rng=np.random.default_rng(3))
    b = render_patch(case.scene, centre, 12, g.spacing, rng=np.random.default_rng(3))
    c = render_patch(case.scene, centre, 12, g.spacing)
    assert np.array_equal(a["ct"], b["ct"]) and np.array_equal(a["pet"], b["pet"])
    assert not np.array_equal(a["ct"], c["ct"])


def test_rotation_turns_about_the_patch_centre(case):
    row = case.rows[0]
    centre = np.array([row["center_x"], row["center_y"], row["center_z"]])
    pts0, shape = patch_points(centre, 15, 3.0)
    pts1, _ = patch_points(centre, 15, 3.0, rotation=(0.0, 0.0, 30.0))
    mid = np.ravel_multi_index((7, 7, 7), shape)
    assert np.allclose(pts0[mid], centre) and np.allclose(pts1[mid], centre)
    assert np.allclose(pts0.mean(0), centre) and np.allclose(pts1.mean(0), centre)
    a = patch_affine(centre, 15, 3.0, rotation=(0.0, 0.0, 30.0))
    assert np.allclose(np.linalg.det(a[:3, :3]), 27.0)
    r0 = render_patch(case.scene, centre, 15, 3.0)
    r1 = render_patch(case.scene, centre, 15, 3.0, rotation=(0.0, 0.0, 30.0))
    assert r0["labels"][7, 7, 7] == r1["labels"][7, 7, 7]


def test_coarse_patches_keep_small_lesions_visible(case):
    """A 12 mm context patch adds lesions as blurred spheres, so they do not vanish."""
    row = min(case.rows, key=lambda r: r["volume_ml"])
    centre = [row["center_x"], row["center_y"], row["center_z"]]
    p = render_patch(case.scene, centre, 8, 12.0, target=row["lesion_id"], mask_supersample=3)
    les = next(x for x in case.scene.lesions if x.lesion_id == row["lesion_id"])
    host = float(case.scene.looks.suv[case.scene.model.index_of(row["locations"].split("|")[0])])
    assert p["pet"].max() > host
    assert 0 < p["mask_soft"].sum() <= 8**3
    assert les.suv_peak > 0


def test_blurred_sphere_profile():
    r = np.linspace(0, 60, 601)
    f = blurred_sphere(r, 10.0, 3.0)
    assert 0.95 < f[0] <= 1.0 and f[-1] < 1e-6
    # the blur preserves the ball's volume: integral of f over space = 4/3 pi a^3
    vol = np.trapezoid(4 * np.pi * r**2 * f, r)
    assert abs(vol - 4 / 3 * np.pi * 10.0**3) / (4 / 3 * np.pi * 10.0**3) < 0.01


def test_field_patches_approximate_exact_ones(case):
    """The fast path (a subject field at 3 mm) gives nearly the exact labels and values."""
    from anatloc.phantom.field import SubjectField

    field = SubjectField(case.scene, 3.0)
    for row in case.rows[:3]:
        centre = [row["center_x"], row["center_y"], row["center_z"]]
        e = render_patch(case.scene, centre, 16, 4.0, target=row["lesion_id"])
        f = render_patch(case.scene, centre, 16, 4.0, target=row["lesion_id"], field=field)
        assert np.array_equal(e["mask"], f["mask"])
        assert (e["labels"] == f["labels"]).mean() > 0.8
        assert np.median(np.abs(e["ct"] - f["ct"])) < 20
        assert np.abs(e["pet"] - f["pet"]).mean() < 0.1 * max(float(e["pet"].max()), 1.0)
        c = render_patch(
            case.scene, centre, 8, 12.0, target=row["lesion_id"], field=field, supersample=6
        )
        assert c["mask_soft"].sum() > 0 and c["pet"].max() > 0


def _euler_by_hand(rx, ry, rz) -> np.ndarray:
    """R = Rz @ Ry @ Rx from extrinsic angles in degrees, written out (the atlas's rule)."""
    cx, sx = np.cos(np.radians(rx)), np.sin(np.radians(rx))
    cy, sy = np.cos(np.radians(ry)), np.sin(np.radians(ry))
    cz, sz = np.cos(np.radians(rz)), np.sin(np.radians(rz))
    rxm = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    rym = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rzm = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rzm @ rym @ rxm


def test_euler_angles_give_the_hand_written_rotation():
    # patches and lesions turn by scipy's Rotation; it must be the matrix they used to build
    angles = np.random.default_rng(4).uniform(-180, 180, (200, 3))
    for a in [*angles, (0, 0, 10), (90, 0, 0), (0, 0, 0)]:
        want = _euler_by_hand(*a)
        assert np.allclose(rotation_of(tuple(a)), want, rtol=0, atol=1e-12)
        les = Lesion(1, (0.0, 0.0, 0.0), (4.0, 5.0, 6.0), tuple(float(v) for v in a), "ellipsoid")
        assert np.allclose(les.rot, want, rtol=0, atol=1e-12)
    assert np.array_equal(rotation_of(None), np.eye(3))
