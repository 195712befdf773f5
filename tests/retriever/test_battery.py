"""The realism battery (``bench/realism.py``, ``anatloc.retriever.battery``) and the
correctness floor of the shipped model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from anatloc.phantom.realism import SHIFTS
from anatloc.retriever.battery import ShiftSet, evaluate_shift, render_shift, shift_inputs
from anatloc.retriever.infer import Localizer
from anatloc.retriever.predict import shipped_model_path

ROOT = Path(__file__).resolve().parents[2]
REAL_DEV = ROOT.parent / "shared" / "realdata-dev" / "head-neck-crops"
KEYS = {"n", "fine_top1", "fine_top3", "coarse_top1", "worst_confusions"}


@pytest.fixture(scope="module")
def shipped(ont):
    if not shipped_model_path().is_file():
        pytest.skip("no shipped model")
    return Localizer.from_checkpoint(shipped_model_path(), device="cpu", ontology=ont)


@pytest.fixture(scope="module")
def ont():
    from anatloc.ontology import load_ontology

    return load_ontology()


@pytest.mark.slow
def test_the_shipped_model_is_right_far_above_chance(shipped, ont, tmp_path):
    """A floor, not a benchmark: on 24 phantom lesions that no training run saw (made here,
    seed 4242), the shipped model names the coarse location of at least half and the fine
    location of a third.  Chance is 1/124 and 1/387; a model answering at random, or a
    broken patch or retrieval path, fails.  (The measured figures are in
    docs/model-card.md; this only catches a broken model.)"""
    s = render_shift(SHIFTS["reference"], ont, shipped.preset.data, n=24, seed=4242)
    m = evaluate_shift(shipped, s)
    assert set(m) == KEYS and m["n"] == 24
    assert m["coarse_top1"] >= 0.5 and m["fine_top1"] >= 1 / 3, m
    # the same lesions with a cube field of view and without CT are inputs the model takes
    s.fov[:] = [[-100.0, -100.0, -100.0], [100.0, 100.0, 100.0]]
    loc, ctx = shift_inputs(s, shipped.preset.data, slice(0, 2))
    assert loc.shape[1] == shipped.preset.data.in_channels
    if shipped.preset.data.fov_channels:
        assert float(ctx[:, 3].mean()) < 0.3  # most of the 384 mm context lies outside
    # saved and read back, the set gives the same figures
    s.save(tmp_path / "s.npz")
    again = evaluate_shift(shipped, ShiftSet.load(tmp_path / "s.npz"))
    assert again["n"] == 24


@pytest.mark.slow
def test_the_battery_script_runs_end_to_end_quick(tmp_path):
    if not shipped_model_path().is_file():
        pytest.skip("no shipped model")
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "realism.py"),
        "--quick",
        "--json",
        "--threads",
        "1",
        "--sets",
        str(tmp_path / "sets"),
        "--real-dev",
        str(tmp_path / "no-such-folder"),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout)
    assert list(out["shifts"]) == ["reference", "fov-cube", "scanner-pet-only"]
    for m in out["shifts"].values():
        assert set(m) >= KEYS and m["n"] == 8
        assert 0.0 <= m["coarse_top1"] <= 1.0 and len(m["worst_confusions"]) <= 3
    assert "real_dev" not in out  # the folder is absent: skipped, not an error
    sm = out["summary"]
    assert sm["single_shifts"] == 3
    assert sm["coarse_top1_ge_0.90"] == sum(m["coarse_top1"] >= 0.9 for m in out["shifts"].values())
    assert sorted(p.suffix for p in (tmp_path / "sets").iterdir()).count(".npz") == 3
    # a second run reuses the rendered sets
    r2 = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert r2.returncode == 0 and "rendered" not in r2.stderr
    assert json.loads(r2.stdout)["shifts"] == out["shifts"]


@pytest.mark.slow
@pytest.mark.skipif(not (REAL_DEV / "lesions.csv").is_file(), reason="no real development data")
def test_the_battery_reports_the_real_development_cases(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "realism.py"),
            "--json",
            "--shifts",
            "reference",
            "--n",
            "4",
            "--sets",
            str(tmp_path),
            "--real-dev",
            str(REAL_DEV),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    real = json.loads(r.stdout)["real_dev"]
    assert real["n"] == 5 and len(real["answers"]) == 5
