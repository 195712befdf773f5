"""Coverage: every location gets a correctly labelled lesion."""

from __future__ import annotations

import numpy as np
import pytest

from anatloc.phantom.body import body_model
from anatloc.phantom.coverage import coverage
from anatloc.phantom.profiles import get_profile


def test_toy_coverage_is_complete(toy_model):
    res = coverage(toy_model, get_profile("internal").with_spacing(6.0), seed=0)
    assert res["locations"] == toy_model.n == 28
    assert res["correct"] == 28 and res["failed"] == []


def test_coverage_reports_failures(toy_model):
    res = coverage(toy_model, get_profile("internal").with_spacing(40.0), seed=0)
    assert res["correct"] < res["locations"]
    assert {"curie", "label", "got", "reason"} <= set(res["failed"][0])


def _shipped_model(shipped):
    return body_model(shipped)


@pytest.mark.slow
def test_shipped_coverage_is_complete(shipped):
    model = _shipped_model(shipped)
    res = coverage(model, get_profile("internal"), seed=0)
    assert res["locations"] == 387
    assert res["failed"] == [] and res["correct"] == 387


def test_shipped_atlas_renders_a_coarse_case(shipped):
    """The full ontology's atlas draws a case (12 mm grid) whose lesions obey the rule."""
    from anatloc.phantom.cases import make_case

    model = _shipped_model(shipped)
    case = make_case(model, get_profile("internal").with_spacing(12.0), 0, 0, lesions_per_case=3)
    v = case.volumes
    assert len(case.rows) == 3
    assert len(set(v.labels.ravel().tolist())) > 150  # most of the body is there
    for r in case.rows:
        c = (
            np.array([r["center_x"], r["center_y"], r["center_z"]]) - v.ct_grid.origin
        ) / v.ct_grid.spacing
        assert (
            model.labels[int(v.labels[tuple(np.rint(c).astype(int))])]
            == r["locations"].split("|")[0]
        )
    brain = model.index_of("Brain")
    assert v.pet[v.pet > 0].mean() < 2.0 < float(case.scene.looks.suv[brain])
