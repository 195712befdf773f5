"""The separable patch cutter gives ``predict_case`` the grid sampler's patches and answers."""

from __future__ import annotations

import functools

import pytest
import torch

from anatloc.retriever import data as retriever_data
from anatloc.retriever.patches import cut_raw
from anatloc.retriever.predict import CaseInput, predict_case


@pytest.fixture
def grid_sampler(monkeypatch):
    """Cut patches the former way: a k³-supersampled grid per lesion (``grid_sample``)."""
    monkeypatch.setattr(retriever_data, "cut_raw", functools.partial(cut_raw, separable=False))


def _run(localizer, case_dir, captured):
    case = CaseInput.from_files(
        case_dir / "pet.nii.gz", ct=case_dir / "ct.nii.gz", lesions=case_dir / "lesions.nii.gz"
    )
    inner = localizer.retrieve_patches

    def spy(local, context, *a, **kw):
        captured.append((local.clone(), context.clone()))
        return inner(local, context, *a, **kw)

    localizer.retrieve_patches = spy
    try:
        return predict_case(localizer, case, views=())
    finally:
        del localizer.retrieve_patches


def test_fast_cut_equals_the_grid_path(localizer, case_dir, request):
    fast_in: list = []
    fast = _run(localizer, case_dir, fast_in)
    request.getfixturevalue("grid_sampler")
    grid_in: list = []
    grid = _run(localizer, case_dir, grid_in)
    for (fl, fc), (gl, gc) in zip(fast_in, grid_in, strict=True):
        # network inputs: CT scaled by ct_scale (HU / 1000 or so), PET by suv_scale
        torch.testing.assert_close(fl, gl, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(fc, gc, rtol=1e-4, atol=1e-4)
    assert [r.as_row()["curie"] for r in fast.lesions] == [
        r.as_row()["curie"] for r in grid.lesions
    ]


def test_two_cutting_workers_give_the_same_inputs(localizer, case_dir):
    """With two torch threads the mask lesions are cut by two workers: same inputs."""
    one: list = []
    _run(localizer, case_dir, one)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        two: list = []
        _run(localizer, case_dir, two)
        assert torch.get_num_threads() == 2  # restored after the cutting
    finally:
        torch.set_num_threads(before)
    for (a, b), (c, d) in zip(one, two, strict=True):
        assert torch.equal(a, c) and torch.equal(b, d)
