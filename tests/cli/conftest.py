"""Fixtures the CLI tests of prediction share (predict, DICOM, SR): one tiny trained model and
one phantom case per module, and torch kept to one thread while they run."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from anatloc.cli.main import app
from tests.predict import fixtures
from tests.retriever.dicomsynth import F18_HALF_LIFE, PetFields, write_series

runner = CliRunner()

#: the PET fields of the phantom case's DICOM series: 70 kg, 300 MBq, scanned 60 min after the
#: injection; HAND is the SUV factor they give, computed by hand
FIELDS = PetFields(weight_kg=70.0, dose_bq=300e6)
HAND = 70.0 * 1000.0 / (300e6 * 0.5 ** (60 * 60.0 / F18_HALF_LIFE))


def run(*args):
    """``anatloc ARGS`` in-process (arguments made strings)."""
    return runner.invoke(app, [str(a) for a in args])


def one_error_line(r) -> str:
    """The single ``error: …`` line a refused command writes on stderr (and no traceback)."""
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.output
    return lines[0]


def write_study(case: Path, out: Path) -> tuple:
    """The phantom case ``case`` as a DICOM study under ``out/study`` (PET in Bq/ml, BQML +
    START with :data:`FIELDS`; CT in HU); returns (PET volume, CT volume, the PET values the
    files hold, the CT values they hold)."""
    from anatloc.retriever.nifti import load_volume

    pet = load_volume(case / "pet.nii.gz", "pet")
    ct = load_volume(case / "ct.nii.gz", "ct")
    held_pet = write_series(out / "study" / "pet", pet.data / HAND, pet.affine, pet=FIELDS)
    held_ct = write_series(out / "study" / "ct", ct.data, ct.affine, modality="CT")
    return pet, ct, held_pet, held_ct


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return fixtures.tiny_model(tmp_path_factory)


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> Path:
    return fixtures.case_dirs(fixtures.phantom_cases(tmp_path_factory))[0]
