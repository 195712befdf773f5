"""Profiles, appearance tables, lesions and the body model."""

from __future__ import annotations

import re

import numpy as np
import pytest

from anatloc.ontology.errors import DataError, UsageError
from anatloc.ontology.vocab import TISSUES
from anatloc.phantom.appearance import OVERRIDES, TISSUE_LOOKS, Texture, case_looks, look_for
from anatloc.phantom.body import atlas_for, body_model
from anatloc.phantom.lesions import Lesion, make_lesion, warp_points
from anatloc.phantom.profiles import PROFILES, get_profile, parse_spacing


def test_profiles_are_named_and_differ():
    assert set(PROFILES) == {"internal", "external", "severe"}
    i, e, s = (get_profile(n) for n in ("internal", "external", "severe"))
    assert e.pet.spacing_mm != i.pet.spacing_mm and e.pet.fwhm_mm < i.pet.fwhm_mm
    assert e.pet.noise_cv > i.pet.noise_cv and e.ct.spacing_mm != i.ct.spacing_mm
    assert e.ct.kernel_fwhm_mm != i.ct.kernel_fwhm_mm
    assert e.population.p_arms_up > i.population.p_arms_up
    assert s.lesions.per_case[0] > i.lesions.per_case[1] and s.lesions.p_deform > 0
    with pytest.raises(UsageError, match="unknown profile 'nope'; expected one of internal"):
        get_profile("nope")


def test_spacing_override():
    p = get_profile("internal").with_spacing(parse_spacing("6"))
    assert p.ct.spacing_mm == (6.0, 6.0, 6.0) and p.pet.spacing_mm == (6.0, 6.0, 6.0)
    p = get_profile("internal").with_spacing(parse_spacing("1,1,2"))
    assert p.ct.spacing_mm == (1.0, 1.0, 2.0) and p.pet.spacing_mm == (4.0, 4.0, 4.0)
    assert parse_spacing(None) is None
    for bad in ("a", "1,2", "0", "100"):
        with pytest.raises(UsageError, match="--spacing"):
            parse_spacing(bad)


def test_every_tissue_kind_has_a_look():
    assert set(TISSUES) <= set(TISSUE_LOOKS)
    assert look_for("A new location", "muscle") == TISSUE_LOOKS["muscle"]


def test_every_override_names_a_shipped_location(shipped):
    labels = [t.label for t in shipped.terms("fine")]
    for pattern, _ in OVERRIDES:
        assert any(re.fullmatch(pattern, lab) for lab in labels), pattern


def test_shipped_uptake_is_specific(shipped):
    def suv(label):
        t = shipped.get(label, "fine")
        return look_for(t.label, t.tissue).suv

    assert (
        suv("Brain")
        > suv("Liver S7")
        > suv("Left thigh muscle")
        > suv("Left abdominal subcutaneous tissue")
    )
    assert suv("Bladder") > suv("Brain") and suv("Left kidney") > suv("Liver S7")
    assert suv("Vertebra L3") > suv("Left femur")
    bone = look_for("Rib L7", "bone")
    assert 700 <= bone.rim_hu <= 1200 and 200 <= bone.hu <= 300 and bone.rim_mm > 0


def test_case_looks_vary_by_group(toy_model):
    a = case_looks(toy_model.labels, toy_model.tissues, np.random.default_rng(0))
    b = case_looks(toy_model.labels, toy_model.tissues, np.random.default_rng(1))
    fixed = case_looks(toy_model.labels, toy_model.tissues, None)
    assert not np.allclose(a.suv, b.suv)
    lk, rk = toy_model.index_of("Left kidney"), toy_model.index_of("Right kidney")
    assert a.suv[lk] == a.suv[rk]  # one factor per group
    assert fixed.suv[toy_model.index_of("Brain")] == TISSUE_LOOKS["brain"].suv
    assert a.hu[0] == -1000 and a.suv[0] == 0


def test_texture_grid_equals_points():
    t = Texture.draw(np.random.default_rng(0))
    xs, ys, zs = np.arange(5.0) * 2 + 1, np.arange(4.0) * 3 - 7, np.arange(6.0) * 2.5 + 1600
    g = t.on_grid(xs, ys, zs)
    pts = np.stack(np.meshgrid(xs, ys, zs, indexing="ij"), -1).reshape(-1, 3)
    a, b = t.at(pts)
    assert np.abs(g[0].ravel() - a).max() < 1e-3 and np.abs(g[1].ravel() - b).max() < 1e-3
    assert 0.3 < float(np.std(t.at(np.random.default_rng(1).uniform(0, 1000, (4000, 3)))[0])) < 1.5


def test_lesion_shapes_and_warp():
    rng = np.random.default_rng(0)
    model = get_profile("severe").lesions
    for shape in ("sphere", "ellipsoid", "blob"):
        les = make_lesion(rng, 1, (0, 0, 0), 30.0, model, "solid_organ", 2.0, shape=shape)
        assert les.inside(np.zeros((1, 3)))[0]
        lo, hi = les.bbox()
        far = np.array([[hi[0] + 1, 0, 0], [0, lo[1] - 1, 0]])
        assert not les.inside(far).any()
        assert les.suv_peak >= model.min_contrast * 2.0
    les = Lesion(1, (0.0, 0.0, 0.0), (10.0, 10.0, 10.0), deform=0.5)
    r = np.linspace(0, 60, 200)[:, None] * np.array([[1.0, 0, 0]])
    src = warp_points([les], r)[:, 0]
    assert np.all(np.diff(src) > 0)  # monotone: never folds
    assert src[50] < r[50, 0]  # tissue is pushed outwards
    assert np.allclose(warp_points([les], np.array([[50.0, 0, 0]])), [[50.0, 0, 0]])


def test_lesion_roundtrip():
    les = make_lesion(
        np.random.default_rng(2),
        3,
        (1, 2, 3),
        20.0,
        get_profile("internal").lesions,
        "bone",
        1.0,
        shape="blob",
    )
    again = Lesion.from_dict(les.as_dict())
    pts = np.random.default_rng(0).uniform(-15, 15, (500, 3)) + np.array([1.0, 2.0, 3.0])
    assert np.array_equal(les.q(pts), again.q(pts))


def test_body_model_tables(toy_ont, toy_model):
    m = toy_model
    assert m.n == len(toy_ont.terms("fine")) and m.labels[0] == "background"
    assert m.tissues[m.outside] == "outside_body"
    fine = toy_ont.curies("fine")
    coarse = toy_ont.curies("coarse")
    for i in range(1, m.n + 1):
        assert fine[m.fine_index[i]] == m.curies[i]
        assert coarse[m.coarse_index[i]] == toy_ont[m.curies[i]].parent
    assert list(atlas_for(toy_ont).keys) == list(m.curies[1:])
    assert body_model(toy_ont) is m


def test_an_ontology_without_geometry_is_explained(tiny):
    with pytest.raises(DataError, match="no atlas geometry"):
        body_model(tiny)
