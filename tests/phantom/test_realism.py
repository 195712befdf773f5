"""The phantom's realism: what a variation draws, the shifts of the battery, and the
patches of a lesion among many others."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from anatloc.phantom.profiles import get_profile
from anatloc.phantom.realism import (
    METAL_HU,
    SHIFTS,
    TRAINING,
    Metal,
    Variation,
    contrast_shares,
    draw_scanner,
    group_of,
    landmark_heights,
    members,
    with_contrast,
)
from anatloc.phantom.render import new_scene
from anatloc.retriever.config import DataConfig, ScaleConfig
from anatloc.retriever.phantom_source import PhantomSource

CFG = DataConfig(local=ScaleConfig(12, 4.0), context=ScaleConfig(10, 16.0))


def test_the_default_variation_changes_nothing():
    prof = get_profile("internal")
    assert Variation().is_default and not TRAINING.is_default
    assert draw_scanner(Variation(), prof, np.random.default_rng(0)) == prof


def test_scanner_draws_stay_in_their_ranges():
    prof = get_profile("internal")
    rng = np.random.default_rng(1)
    for _ in range(30):
        p = draw_scanner(TRAINING, prof, rng)
        assert 2.0 <= p.pet.spacing_mm[0] <= 5.5 and p.pet.spacing_mm[0] == p.pet.spacing_mm[2]
        assert 4.0 <= p.pet.fwhm_mm <= 8.5 and 0.07 <= p.pet.noise_cv <= 0.35
        assert 1.0 <= p.ct.spacing_mm[2] <= 5.0 and p.ct.spacing_mm[:2] == prof.ct.spacing_mm[:2]
        assert p.lesions == prof.lesions and p.population == prof.population


def test_contrast_brightens_the_blood_and_not_the_bones(toy_model):
    rng = np.random.default_rng(0)
    scene = new_scene(toy_model, get_profile("internal"), rng)
    shares = contrast_shares(toy_model.labels)
    aorta = toy_model.index_of("Abdominal aorta")
    kidney = toy_model.index_of("Left kidney")
    bone = toy_model.index_of("Vertebra L1")
    assert shares[aorta] == 1.0 and 0 < shares[kidney] < 1 and shares[bone] == 0
    looks = with_contrast(scene.looks, toy_model.labels, 200.0)
    assert looks.hu[aorta] == pytest.approx(scene.looks.hu[aorta] + 200.0)
    assert looks.hu[bone] == scene.looks.hu[bone]


def test_groups_of_nodal_basins_and_organ_systems(toy_model):
    neck = toy_model.index_of("Left neck")
    liver = toy_model.index_of("Liver S7")
    bones = set(members(toy_model, r"tissue:bone").tolist())
    assert {toy_model.index_of(x) for x in ("Skull", "Left femur", "Rib L7")} <= bones
    assert neck in group_of(toy_model, neck)
    assert set(group_of(toy_model, liver).tolist()) >= bones | {liver}  # liver mets and bone
    assert group_of(toy_model, toy_model.index_of("Bladder")) is None


def test_metal_sits_in_its_ball_and_streaks_its_slices():
    m = Metal((0.0, 0.0, 0.0), 10.0, (0.0, 1.0), (1.0, -1.0), 500.0)
    pts = np.array([[0, 0, 0], [40.0, 0, 0], [40.0, 0, 100.0], [0, 0, 100.0]], float)
    hu = m.hu_change(pts, np.zeros(4, np.float32))
    assert hu[0] == METAL_HU
    assert hu[1] > 100.0  # on the bright streak along x, in the metal's slices
    assert abs(hu[2]) < 1.0 and abs(hu[3]) < 1.0  # 10 cm above: no streak


def test_landmark_heights_go_down_the_body():
    from anatloc.ontology import load_ontology
    from anatloc.phantom.body import body_model

    model = body_model(load_ontology())
    scene = new_scene(model, get_profile("internal"), np.random.default_rng(2))
    h = landmark_heights(scene)
    assert np.all(np.isfinite(h)) and np.all(np.diff(h) < 0)  # vertex first, mid-thigh last
    assert 800 < h[0] - h[-1] < 1400  # vertex to mid-thigh: 1050 mm in the reference body


def test_a_lesion_among_many_is_the_only_one_in_its_mask(toy_ont):
    """Multifocal disease: the images show the other lesions, the mask channel only the
    target — a lesion's inputs never leak the other lesions' masks."""
    var = Variation(
        diameter_mm=(10.0, 30.0),
        multifocal_prob=1.0,
        multifocal_count=(6, 8),
        multifocal_diameter_mm=(10.0, 20.0),
    )
    src = PhantomSource(
        "internal", toy_ont, CFG, seed=5, n_samples=6, field_spacing=6.0, variation=var
    )
    seen_many = False
    for i in range(6):
        case = src.lesion_case(i, train=False)
        lesions = case.scene.lesions
        seen_many |= len(lesions) >= 4
        target = lesions[0]
        loc, _ = src.raw_patches(case.scene, None, 0, np.random.default_rng(i), field=case.field)
        mask = loc[2]
        pts = np.stack(np.meshgrid(*[(np.arange(12) - 5.5) * 4.0] * 3, indexing="ij"), -1).reshape(
            -1, 3
        ) + np.asarray(target.center_mm)
        near_target = np.linalg.norm(pts - target.center_mm, axis=1) <= target.bound_radius + 6
        assert mask.reshape(-1)[~near_target].max(initial=0) == 0
        assert mask.max() > 0
    assert seen_many


def test_cached_samples_carry_the_landmarks(toy_ont, tmp_path):
    var = dataclasses.replace(TRAINING, multifocal_prob=0.0)
    cfg = dataclasses.replace(CFG, fov_channels=True, fov_prob=1.0)
    src = PhantomSource(
        "internal", toy_ont, cfg, seed=2, n_samples=4, field_spacing=6.0, variation=var
    )
    out = src.build_cache(tmp_path / "c", n=4, shard_size=4)
    cached = PhantomSource(
        "internal", toy_ont, cfg, seed=2, cache_dir=out, field_spacing=6.0, variation=var
    )
    sh = cached._load_shard(cached._manifest["shards"][0])
    assert sh["landmarks"].shape == (4, 6)  # NaN: the toy frame has no landmarks
    x = next(cached.samples(epoch=0, train=True))
    assert x.local.shape == (5, 12, 12, 12)
    # another variation is another cache
    from anatloc.ontology.errors import DataError

    with pytest.raises(DataError, match="variation"):
        PhantomSource("internal", toy_ont, cfg, seed=2, cache_dir=out, field_spacing=6.0)


@pytest.mark.slow
def test_every_shift_renders(tmp_path):
    """Each shift of the battery draws its lesions, in its field of view, on the shipped
    ontology (two lesions each)."""
    from anatloc.ontology import load_ontology
    from anatloc.retriever.battery import ShiftSet, render_shift

    ont = load_ontology()
    data = DataConfig(local=ScaleConfig(8, 6.0), context=ScaleConfig(8, 24.0))
    subjects: dict = {}
    for name, shift in SHIFTS.items():
        s = render_shift(shift, ont, data, n=2, subjects=subjects, field_spacing=8.0)
        assert len(s) == 2 and s.local.shape == (2, 3, 8, 8, 8)
        assert np.all(s.fov[:, 0] <= 0) and np.all(s.fov[:, 1] >= 0)
        assert s.ct_present == (not shift.pet_only)
        if shift.fov == "whole-body":
            assert np.isinf(s.fov).all()
        else:
            assert np.isfinite(s.fov).any(axis=(1, 2)).all()
        s.save(tmp_path / f"{name}.npz")
        back = ShiftSet.load(tmp_path / f"{name}.npz")
        assert back.name == name and np.array_equal(back.local, s.local)
    assert torch.get_num_threads() >= 1
