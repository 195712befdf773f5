"""``anatloc predict`` and ``anatloc convert`` on DICOM folders written by the tests: the same
predictions as the NIfTI path, and one error line with nothing written for bad input."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from anatloc.retriever.dicom import nifti_bytes, scan_folder
from anatloc.retriever.nifti import Volume, load_volume
from anatloc.retriever.predict import RESULT_COLUMNS
from tests.cli.conftest import HAND, one_error_line, run, write_study
from tests.retriever.dicomsynth import PetFields, write_series

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def dicom_case(case, tmp_path_factory) -> Path:
    """The phantom case as DICOM (PET in Bq/ml, BQML + START; CT in HU), and the NIfTI files
    of exactly the values the DICOM files hold: ``pet.nii.gz`` in SUV by the hand factor."""
    out = tmp_path_factory.mktemp("dicom-case")
    pet, ct, held_pet, held_ct = write_study(case, out)
    (out / "pet.nii.gz").write_bytes(nifti_bytes(Volume(held_pet * HAND, pet.affine), gz=True))
    (out / "ct.nii.gz").write_bytes(nifti_bytes(Volume(held_ct, ct.affine), gz=True))
    return out


def _predict(model, out, pet, ct, mask, *extra):
    return run("predict", "--pet", pet, "--ct", ct, "--lesions", mask, "--model", model,
               "--device", "cpu", "--out", out, *extra)  # fmt: skip


def test_dicom_study_gives_the_predictions_of_the_nifti_path(case, dicom_case, model, tmp_path):
    mask = case / "lesions.nii.gz"
    a = _predict(model, tmp_path / "nifti.csv", dicom_case / "pet.nii.gz",
                 dicom_case / "ct.nii.gz", mask, "--case-id", "c")  # fmt: skip
    study = dicom_case / "study"
    b = _predict(model, tmp_path / "dicom.csv", study, study, mask, "--case-id", "c")
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    nifti = list(csv.DictReader(io.StringIO((tmp_path / "nifti.csv").read_text())))
    dicom = list(csv.DictReader(io.StringIO((tmp_path / "dicom.csv").read_text())))
    assert len(nifti) == len(dicom) == 4
    for x, y in zip(nifti, dicom, strict=True):
        for k in ("location", "coarse", "top3", "abstained", "volume_ml", "long_axis_mm"):
            assert x[k] == y[k], k
        for k in ("score", "suv_max", "suv_mean"):
            assert float(y[k]) == pytest.approx(float(x[k]), rel=1e-3, abs=1e-3), k
        assert abs(float(y["suv_factor"]) / HAND - 1) < 1e-3
        assert y["suv_units"] == "BQML" and y["suv_weight_kg"] == "70.0"
        assert y["pet_series_uid"] and y["ct_series_uid"]
        assert y["patient_id"] == "P001" and y["study_date"] == "20240305" and y["study_uid"]
    # the NIfTI output keeps its columns; DICOM adds its own before the result columns
    header_n = (tmp_path / "nifti.csv").read_text().splitlines()[0].split(",")
    header_d = (tmp_path / "dicom.csv").read_text().splitlines()[0].split(",")
    assert not any(h.startswith("suv_") and h not in RESULT_COLUMNS for h in header_n)
    assert header_d[-len(RESULT_COLUMNS) :] == list(RESULT_COLUMNS)
    assert [h for h in header_d if h in header_n] == header_n


def test_predict_json_reports_the_suv_fields(case, dicom_case, model):
    study = dicom_case / "study"
    r = run("predict", "--pet", study, "--lesions", case / "lesions.nii.gz", "--model", model,
            "--device", "cpu", "--json", "--weight", "80")  # fmt: skip
    assert r.exit_code == 0, r.output
    p = json.loads(r.stdout)["predictions"][0]
    assert p["suv_weight_kg"] == 80.0 and p["suv_overrides"] == "weight"
    assert p["suv_factor"] == pytest.approx(HAND * 80 / 70, rel=1e-3) and p["pet_only"] is True


def test_convert_writes_the_nifti_of_the_nifti_path(dicom_case, tmp_path):
    out = tmp_path / "pet.nii.gz"
    r = run("convert", dicom_case / "study" / "pet", out, "--suv", "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["modality"] == "PT" and info["slices"] == 188
    assert abs(info["suv_factor"] / HAND - 1) < 1e-3 and f"wrote {out}" in r.stderr
    got, want = load_volume(out, "pet"), load_volume(dicom_case / "pet.nii.gz", "pet")
    np.testing.assert_allclose(got.affine, want.affine, atol=1e-4)
    np.testing.assert_allclose(got.data, want.data, rtol=1e-4, atol=1e-6)
    ct = tmp_path / "ct.nii"
    uid = next(s.uid for s in scan_folder(dicom_case / "study") if s.modality == "CT")
    r = run("convert", dicom_case / "study", ct, "--series", uid)
    assert r.exit_code == 0, r.output
    assert nib.load(ct).shape == (70, 38, 188) and "wrote" in r.stderr and r.stdout == ""
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _small(folder: Path, **kw) -> Path:
    i, j, k = np.meshgrid(*[np.arange(n) for n in (12, 10, 8)], indexing="ij")
    data = (1000.0 + 10.0 * i + j + k).astype(np.float32)
    a = np.diag([4.0, 4.0, 3.0, 1.0])
    write_series(folder, data, a, **kw)
    return folder


def _bad_inputs(tmp: Path) -> dict[str, tuple[list[str], int, str]]:
    """Name → (command arguments, exit code, words of the error line)."""
    boxes = tmp / "boxes.csv"
    boxes.write_text("center_x,center_y,center_z,size_x,size_y,size_z\n20,-18,10,8,8,8\n")
    empty = tmp / "empty"
    empty.mkdir()
    (empty / "a.txt").write_text("no DICOM here")
    mixed = tmp / "mixed"
    _small(mixed / "a")
    _small(mixed / "b", patient="P002")
    several = tmp / "several"
    _small(several / "ac", description="AC")
    _small(several / "nac", description="NAC")
    nifti = tmp / "pet.nii.gz"
    nifti.write_bytes(nifti_bytes(Volume(np.zeros((4, 4, 4), np.float32), np.eye(4)), gz=True))
    pet = ["predict", "--boxes", str(boxes), "--pet"]
    return {
        "no dicom": ([*pet, str(empty)], 3, "is a folder without DICOM files"),
        "mixed patients": ([*pet, str(mixed)], 3, "images of 2 patients"),
        "missing slice": ([*pet, str(_small(tmp / "gap", skip=(3,)))], 3, "missing slice"),
        "tilt": ([*pet, str(_small(tmp / "tilt", tilt_mm_per_slice=1.0))], 3, "gantry tilt"),
        "several series": ([*pet, str(several)], 2, "choose one with --pet-series UID"),
        "weight 0": (
            [*pet, str(_small(tmp / "w0", pet=PetFields(weight_kg=0.0)))],
            3,
            "PatientWeight (0010,1030) is 0 kg",
        ),
        "weight for nifti": (
            [*pet, str(nifti), "--weight", "70"],
            2,
            "--weight applies to a PET given as a DICOM folder",
        ),
        "convert several": (["convert", str(several), str(tmp / "x.nii.gz")], 2, "holds 2 PT"),
        "convert overrides without suv": (
            ["convert", str(several), str(tmp / "x.nii.gz"), "--dose", "300"],
            2,
            "add --suv",
        ),
    }


def test_bad_dicom_inputs_give_one_line_and_write_nothing(model, tmp_path):
    cases = _bad_inputs(tmp_path)
    before = sorted(p for p in tmp_path.rglob("*"))
    for name, (args, code, words) in cases.items():
        out = tmp_path / "out.csv"
        extra = ["--model", str(model), "--out", str(out)] if args[0] == "predict" else []
        r = run(*args, *extra)
        line = one_error_line(r)
        assert r.exit_code == code, (name, line)
        assert words in line, (name, line)
        assert sorted(p for p in tmp_path.rglob("*")) == before, name


def test_a_lesion_table_names_dicom_folders(case, dicom_case, model, tmp_path):
    table = tmp_path / "lesions.csv"
    study = dicom_case / "study"
    table.write_text(
        "case_id,pet,ct,mask,mask_label\n"
        f"c,{study / 'pet'},{study / 'ct'},{case / 'lesions.nii.gz'},2\n"
    )
    r = run("predict", "--table", table, "--model", model, "--device", "cpu", "--json")
    assert r.exit_code == 0, r.output
    (p,) = json.loads(r.stdout)["predictions"]
    assert p["mask_label"] == 2 and p["suv_units"] == "BQML" and p["ct_series_uid"]
    r = run("predict", "--table", table, "--model", model, "--weight", "70")
    assert r.exit_code == 2 and "with --table give each case" in one_error_line(r)


def test_rtstruct_lesions_give_the_predictions_of_the_mask(case, dicom_case, model, tmp_path):
    from tests.retriever.dicomsynth import voxel_squares, write_rtstruct

    study = dicom_case / "study"
    pet_uid = next(s.uid for s in scan_folder(study) if s.modality == "PT")
    mask = nib.load(case / "lesions.nii.gz")
    ids = np.asanyarray(mask.dataobj).astype(int)
    rois = {n: (f"lesion {n}", voxel_squares(ids, mask.affine, n)) for n in range(1, 5)}
    rs = tmp_path / "rs.dcm"
    write_rtstruct(rs, rois, series_uid=pet_uid)
    a = _predict(model, tmp_path / "mask.csv", study, study, case / "lesions.nii.gz")
    b = _predict(model, tmp_path / "rs.csv", study, study, rs)
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    x = list(csv.DictReader(io.StringIO((tmp_path / "mask.csv").read_text())))
    y = list(csv.DictReader(io.StringIO((tmp_path / "rs.csv").read_text())))
    assert [r["roi_name"] for r in y] == [f"lesion {n}" for n in range(1, 5)]
    for u, v in zip(x, y, strict=True):
        for k in ("lesion_id", "mask_label", "location", "top3", "suv_max", "volume_ml"):
            assert u[k] == v[k], k
        assert float(u["score"]) == pytest.approx(float(v["score"]), abs=1e-4)
    r = run("predict", "--pet", study, "--lesions", rs, "--roi", "lesion 3", "--json",
            "--model", model)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert [p["roi_name"] for p in json.loads(r.stdout)["predictions"]] == ["lesion 3"]
    other = tmp_path / "other.dcm"
    write_rtstruct(other, rois, series_uid="1.2.3.4")
    out = tmp_path / "none.csv"
    r = _predict(model, out, study, study, other)
    assert r.exit_code == 3 and "the RTSTRUCT references series 1.2.3.4" in one_error_line(r)
    table = tmp_path / "rs.csv.table"
    table.write_text(f"case_id,pet,ct,mask,mask_label\nc,{study},{study},{rs},2\n")
    r = run("predict", "--table", table, "--json", "--model", model)
    assert r.exit_code == 0, r.output
    (p,) = json.loads(r.stdout)["predictions"]
    assert p["mask_label"] == 2 and p["location"] == y[1]["location"]
    r = _predict(model, out, study, study, case / "lesions.nii.gz", "--roi", "lesion 1")
    assert r.exit_code == 2 and "--roi picks segments or ROIs" in one_error_line(r)
    assert not out.exists()


def test_seg_lesions_give_the_predictions_of_the_mask(case, dicom_case, model, tmp_path):
    from tests.retriever.dicomsynth import write_seg

    study = dicom_case / "study"
    mask = nib.load(case / "lesions.nii.gz")
    ids = np.asanyarray(mask.dataobj).astype(int)
    labels = {n: f"lesion {n}" for n in range(1, 5)}
    seg = tmp_path / "seg.dcm"
    write_seg(seg, study / "pet", ids, mask.affine, labels)
    a = _predict(model, tmp_path / "mask.csv", study, study, case / "lesions.nii.gz")
    b = _predict(model, tmp_path / "seg.csv", study, study, seg)
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    x = list(csv.DictReader(io.StringIO((tmp_path / "mask.csv").read_text())))
    y = list(csv.DictReader(io.StringIO((tmp_path / "seg.csv").read_text())))
    assert [r["segment_label"] for r in y] == list(labels.values())
    for u, v in zip(x, y, strict=True):
        for k in ("lesion_id", "mask_label", "location", "top3", "suv_max", "volume_ml"):
            assert u[k] == v[k], k
    r = run("predict", "--pet", study, "--lesions", seg, "--roi", "lesion 2", "--json",
            "--model", model)  # fmt: skip
    assert r.exit_code == 0, r.output
    (p,) = json.loads(r.stdout)["predictions"]
    assert p["segment_label"] == "lesion 2" and p["mask_label"] == 2
    other = tmp_path / "other.dcm"
    write_seg(other, study / "pet", ids, mask.affine, labels, referenced_series="1.2.3.4")
    out = tmp_path / "none.csv"
    r = _predict(model, out, study, study, other)
    assert r.exit_code == 3 and "the SEG references series 1.2.3.4" in one_error_line(r)
    assert not out.exists()
