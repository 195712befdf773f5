"""The DICOM reader and SUV from PET headers, on small series written by the tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from anatloc.ontology.errors import DataError, UsageError
from anatloc.retriever.dicom import nifti_bytes, read_dicom, scan_folder
from anatloc.retriever.nifti import load_volume
from anatloc.retriever.suv import SuvOverrides, parse_clock

from .dicomsynth import F18_HALF_LIFE, PetFields, write_series

SHAPE = (12, 10, 8)


def _volume(seed: int = 0) -> np.ndarray:
    """A smooth PET-like volume in Bq/ml (a warm body, one hot spot)."""
    i, j, k = np.meshgrid(*[np.arange(n) for n in SHAPE], indexing="ij")
    body = 5000.0 * np.exp(-((i - 6) ** 2 + (j - 5) ** 2) / 40.0)
    spot = 40000.0 * np.exp(-((i - 3) ** 2 + (j - 4) ** 2 + (k - 5) ** 2) / 2.0)
    rng = np.random.default_rng(seed)
    return (body + spot + rng.uniform(0, 50, SHAPE)).astype(np.float32)


def _affine(spacing=(4.0, 4.0, 3.0), origin=(-20.0, -30.0, 100.0)) -> np.ndarray:
    a = np.diag([*spacing, 1.0])
    a[:3, 3] = origin
    return a


def _hand_factor(weight_kg: float, dose_bq: float, minutes: float) -> float:
    """SUV(bw) = weight (g) / (dose decayed over ``minutes`` of F-18)."""
    decayed = dose_bq * 0.5 ** (minutes * 60.0 / F18_HALF_LIFE)
    return weight_kg * 1000.0 / decayed


def _pet(tmp_path: Path, fields: PetFields | None = None, **kw) -> tuple[Path, np.ndarray]:
    folder = tmp_path / "pet"
    held = write_series(folder, _volume(), _affine(), pet=fields or PetFields(), **kw)
    return folder, held


def test_bqml_start_gives_the_hand_computed_suv_and_the_nifti_geometry(tmp_path):
    folder, held = _pet(tmp_path)
    img = read_dicom(folder, "pet")
    want = _hand_factor(75.0, 350e6, 60.0)  # injected 09:30, series 10:30
    assert abs(img.suv.factor / want - 1.0) < 1e-3
    assert img.suv.units == "BQML" and img.suv.method == "BQML decay START"
    np.testing.assert_allclose(img.volume.affine, _affine(), atol=1e-5)
    np.testing.assert_allclose(img.volume.data, held * want, rtol=1e-3)
    # the same volume written as NIfTI and read by the NIfTI path
    out = tmp_path / "pet.nii.gz"
    out.write_bytes(nifti_bytes(img.volume, gz=True))
    nii = load_volume(out, "pet")
    np.testing.assert_array_equal(nii.data, img.volume.data)
    np.testing.assert_allclose(nii.affine, img.volume.affine, atol=1e-5)
    cols = img.columns("pet")
    assert cols["suv_weight_kg"] == 75.0 and cols["suv_dose_mbq"] == 350.0
    assert cols["suv_injection"] == "2024-03-05T09:30:00"
    assert cols["suv_reference_time"] == "2024-03-05T10:30:00"
    assert cols["pet_series_uid"] == img.series.uid
    # the study's identifiers travel with the PET (an empty AccessionNumber is left out)
    assert cols["patient_id"] == "P001" and cols["study_date"] == "20240305"
    assert cols["study_uid"] and "accession_number" not in cols


def test_injection_datetime_admin_and_already_suv(tmp_path):
    inj = dt.datetime(2024, 3, 5, 9, 45)
    f, _ = _pet(tmp_path / "a", PetFields(injection=inj, injection_as_datetime=True))
    assert abs(read_dicom(f, "pet").suv.factor / _hand_factor(75.0, 350e6, 45.0) - 1) < 1e-3
    f, _ = _pet(tmp_path / "b", PetFields(decay_correction="ADMIN"))
    assert read_dicom(f, "pet").suv.factor == pytest.approx(75e3 / 350e6, rel=1e-6)
    f, _ = _pet(tmp_path / "b2", PetFields(decay_correction="ADMIN", injection=None))
    img = read_dicom(f, "pet")  # the injection time is not needed: no decay to apply
    assert img.suv.factor == pytest.approx(75e3 / 350e6, rel=1e-6) and img.suv.injection is None
    f, held = _pet(tmp_path / "c", PetFields(units="GML"))
    img = read_dicom(f, "pet")
    assert img.suv.factor == 1.0 and img.suv.method == "already SUV"
    np.testing.assert_allclose(img.volume.data, held, rtol=1e-6)


def test_a_retimed_series_uses_the_earliest_acquisition(tmp_path):
    # the series time is 11:00, the slices were acquired at 10:30: 60 min after injection
    fields = PetFields(series=dt.datetime(2024, 3, 5, 11, 0), acquisition_offset_s=-1800.0)
    f, _ = _pet(tmp_path, fields)
    img = read_dicom(f, "pet")
    assert abs(img.suv.factor / _hand_factor(75.0, 350e6, 60.0) - 1) < 1e-3
    assert img.suv.reference == dt.datetime(2024, 3, 5, 10, 30)


def test_philips_cnts(tmp_path):
    fields = PetFields(units="CNTS", philips_suv=0.00123, philips_bqml=2.5)
    f, held = _pet(tmp_path, fields)
    img = read_dicom(f, "pet")
    assert img.suv.factor == pytest.approx(0.00123, rel=1e-9)
    assert "7053,1000" in img.suv.method
    np.testing.assert_allclose(img.volume.data, held * 0.00123, rtol=1e-5)
    # a weight given by hand: counts → Bq/ml by (7053,1009), then the BQML recipe
    img = read_dicom(f, "pet", suv=SuvOverrides(weight_kg=80.0))
    assert abs(img.suv.factor / (2.5 * _hand_factor(80.0, 350e6, 60.0)) - 1) < 1e-3
    assert img.suv.overridden == ("weight",)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        (PetFields(weight_kg=0.0), "PatientWeight (0010,1030) is 0 kg"),
        (PetFields(weight_kg=None), "PatientWeight (0010,1030) is missing"),
        (PetFields(weight_kg=350.0), "not a plausible body weight"),
        (PetFields(dose_bq=0.0), "RadionuclideTotalDose (0018,1074) is 0 Bq"),
        (PetFields(half_life_s=None), "RadionuclideHalfLife (0018,1075) is missing"),
        (PetFields(injection=dt.datetime(2024, 3, 5, 11, 0)), "after the scan start"),
        (PetFields(injection=None), "RadiopharmaceuticalStartTime"),
        (PetFields(decay_correction="NONE"), "DecayCorrection (0054,1102) is 'NONE'"),
        (PetFields(units="PROPCPS"), "Units (0054,1001) is 'PROPCPS'"),
        (PetFields(units="CNTS"), "Philips SUV scale factor (7053,1000) is missing"),
    ],
)
def test_missing_or_implausible_fields_are_named(tmp_path, fields, words):
    f, _ = _pet(tmp_path, fields)
    with pytest.raises(DataError, match="PT series .* in ") as err:
        read_dicom(f, "pet")
    assert words in str(err.value) and "\n" not in str(err.value)


def test_overrides_replace_bad_fields(tmp_path):
    f, _ = _pet(tmp_path, PetFields(weight_kg=0.0, dose_bq=0.0, injection=None))
    over = SuvOverrides(weight_kg=70.0, dose_mbq=300.0, injection_time=parse_clock("09:40:00"))
    img = read_dicom(f, "pet", suv=over)
    assert abs(img.suv.factor / _hand_factor(70.0, 300e6, 50.0) - 1) < 1e-3
    assert img.suv.overridden == ("weight", "dose", "injection-time")
    with pytest.raises(UsageError, match="HH:MM:SS"):
        parse_clock("9h40")


def test_head_first_and_feet_first_place_the_same_values_at_the_same_points(tmp_path):
    data = _volume()
    a = _affine()
    held = write_series(tmp_path / "hf", data, a, pet=PetFields(units="GML"))
    # feet first: the same body stored with x and the slice order reversed
    flip = np.diag([-1.0, 1.0, -1.0, 1.0])
    flip[:3, 3] = [SHAPE[0] - 1, 0, SHAPE[2] - 1]
    write_series(tmp_path / "ff", data[::-1, :, ::-1], a @ flip, pet=PetFields(units="GML"))
    hf, ff = read_dicom(tmp_path / "hf", "pet").volume, read_dicom(tmp_path / "ff", "pet").volume
    np.testing.assert_allclose(hf.data, held, rtol=1e-6)
    m = np.rint(np.linalg.inv(hf.affine) @ ff.affine).astype(int)  # ff voxel → hf voxel
    ijk = np.argwhere(np.ones(ff.shape, bool))
    there = ijk @ m[:3, :3].T + m[:3, 3]
    np.testing.assert_allclose(ff.data[tuple(ijk.T)], hf.data[tuple(there.T)], rtol=1e-6)
    assert not np.allclose(hf.affine, ff.affine)  # stored differently, placed the same


def test_ct_in_hounsfield_units_and_jpeg2000_lossless(tmp_path):
    hu = np.clip(_volume() / 10.0 - 1000.0, -1024, 3000).astype(np.float32)
    held = write_series(tmp_path / "ct", hu, _affine((1.5, 1.5, 2.0)), modality="CT")
    img = read_dicom(tmp_path / "ct", "ct")
    assert img.suv is None and img.columns("ct") == {"ct_series_uid": img.series.uid}
    np.testing.assert_array_equal(img.volume.data, held)
    big = np.tile(hu, (6, 6, 1))[:, :, :3]  # openjpeg needs planes of some size
    held = write_series(tmp_path / "j2k", big, _affine(), modality="CT", jpeg2000=True)
    np.testing.assert_array_equal(read_dicom(tmp_path / "j2k", "ct").volume.data, held)
    import pydicom
    from pydicom.uid import JPEG2000Lossless

    first = next((tmp_path / "j2k").iterdir())
    assert pydicom.dcmread(first).file_meta.TransferSyntaxUID == JPEG2000Lossless


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"skip": (4,)}, "1 missing slice(s) between"),
        ({"duplicate": (2,)}, "duplicate slices at"),
        ({"tilt_mm_per_slice": 0.8}, "gantry tilt of about"),
    ],
)
def test_bad_stacks_are_refused_with_the_series_named(tmp_path, kw, words):
    f, _ = _pet(tmp_path, **kw)
    with pytest.raises(DataError) as err:
        read_dicom(f, "pet")
    assert words in str(err.value) and str(f) in str(err.value)


def test_uneven_spacing_is_refused(tmp_path):
    from anatloc.retriever.dicom import geometry

    f, _ = _pet(tmp_path)
    import pydicom

    files = sorted(f.iterdir())
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in files]
    for h in headers:
        if int(h.InstanceNumber) > 5:  # the last slices 0.5 mm further apart
            h.ImagePositionPatient[2] = float(h.ImagePositionPatient[2]) + 0.5 * (
                int(h.InstanceNumber) - 5
            )
    with pytest.raises(DataError, match="uneven slice spacing"):
        geometry(headers, files, "the series")


def test_folders_study_and_patients(tmp_path):
    study = tmp_path / "study"
    with pytest.raises(DataError, match="no DICOM image series"):
        scan_folder(tmp_path, "pet")
    (study / "notes").mkdir(parents=True)
    (study / "notes" / "readme.txt").write_text("not DICOM")
    ac = write_series(study / "ac", _volume(), _affine(), description="PET AC")
    write_series(study / "nac", _volume(1), _affine(), description="PET NAC")
    write_series(study / "ct", _volume() / 10 - 1000, _affine(), modality="CT")
    with pytest.raises(
        UsageError, match="holds 2 PT series, choose one with --pet-series UID"
    ) as e:
        read_dicom(study, "pet")
    assert "'PET AC' (8 slices)" in str(e.value) and "'PET NAC' (8 slices)" in str(e.value)
    uid = next(s.uid for s in scan_folder(study) if s.description == "PET AC")
    img = read_dicom(study, "pet", series_uid=uid)
    np.testing.assert_allclose(img.volume.data, ac * img.suv.factor, rtol=1e-5)
    assert read_dicom(study, "ct").series.modality == "CT"  # the only CT: no choice needed
    with pytest.raises(UsageError, match="no such series"):
        read_dicom(study, "pet", series_uid="1.2.3")
    write_series(study / "other", _volume(), _affine(), patient="P002")
    with pytest.raises(DataError, match="images of 2 patients"):
        read_dicom(study, "ct")


def test_summary_fields_are_json_ready(tmp_path):
    import json

    f, _ = _pet(tmp_path)
    cols = read_dicom(f, "pet").columns("pet")
    assert json.loads(json.dumps(cols)) == cols
    assert dataclasses.is_dataclass(SuvOverrides())
