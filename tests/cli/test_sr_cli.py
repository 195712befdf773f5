"""``anatloc predict … --sr OUT.dcm``: a TID 1500 measurement report that highdicom, pydicom
and dcmtk read back, with SNOMED CT and anatloc finding sites; refused inputs write nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from anatloc.ontology import load_ontology, shipped_path
from anatloc.retriever.dicom import scan_folder
from tests.cli.conftest import one_error_line, run, write_study

COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"


def _predict_sr(model, pet, lesions, sr, *extra):
    return run("predict", "--pet", pet, "--ct", pet, "--lesions", lesions, "--model", model,
               "--device", "cpu", "--json", "--sr", sr, *extra)  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def dicom_case(case, tmp_path_factory) -> Path:
    """The phantom case as a DICOM study (PET in Bq/ml, BQML + START; CT in HU) and its PET
    as NIfTI in SUV (as in test_dicom_cli)."""
    out = tmp_path_factory.mktemp("sr-dicom-case")
    write_study(case, out)
    (out / "pet.nii.gz").write_bytes((case / "pet.nii.gz").read_bytes())
    return out


@pytest.fixture(scope="module")
def ont():
    return load_ontology(shipped_path())


@pytest.fixture(scope="module")
def seg_case(case, dicom_case, tmp_path_factory):
    """The phantom case's lesions as a SEG of the PET series, and the SEG of another series."""
    from tests.retriever.dicomsynth import write_seg

    out = tmp_path_factory.mktemp("sr-seg")
    mask = nib.load(case / "lesions.nii.gz")
    ids = np.asanyarray(mask.dataobj).astype(int)
    labels = {n: f"lesion {n}" for n in range(1, 5)}
    write_seg(out / "seg.dcm", dicom_case / "study" / "pet", ids, mask.affine, labels)
    write_seg(out / "other.dcm", dicom_case / "study" / "pet", ids, mask.affine, labels,
              referenced_series="1.2.3.4")  # fmt: skip
    ct_uid = next(s.uid for s in scan_folder(dicom_case / "study") if s.modality == "CT")
    write_seg(out / "on-ct.dcm", dicom_case / "study" / "pet", ids, mask.affine, labels,
              referenced_series=ct_uid)  # fmt: skip
    return out


@pytest.fixture(scope="module")
def with_mask(case, dicom_case, model, tmp_path_factory):
    """(SR path, predictions) of the DICOM study with the NIfTI lesion mask."""
    sr = tmp_path_factory.mktemp("sr-mask") / "report.dcm"
    r = _predict_sr(model, dicom_case / "study", case / "lesions.nii.gz", sr)
    assert r.exit_code == 0, r.output
    return sr, json.loads(r.stdout)["predictions"]


def _groups(path: Path):
    import highdicom as hd

    sr = hd.sr.srread(path)
    return sr, sr.content.get_volumetric_roi_measurement_groups()


def _sites(group) -> dict[str, tuple[str, str]]:
    return {
        s.value.scheme_designator: (s.value.value, s.value.meaning) for s in group.finding_sites
    }


def test_sr_holds_one_group_per_lesion_with_codes_and_values(with_mask, dicom_case, ont):
    path, preds = with_mask
    ds = pydicom.dcmread(path)
    assert ds.Modality == "SR" and ds.SOPClassUID == COMPREHENSIVE_3D_SR
    pet_uid = next(s.uid for s in scan_folder(dicom_case / "study") if s.modality == "PT")
    refs = {
        s.SeriesInstanceUID
        for study in ds.CurrentRequestedProcedureEvidenceSequence
        for s in study.ReferencedSeriesSequence
    }
    assert refs == {pet_uid}
    assert ds.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == "ANATLOC"
    _, groups = _groups(path)
    assert len(groups) == len(preds) == 4
    for g, p in zip(groups, preds, strict=True):
        term = ont[p["curie"]]
        sites = _sites(g)
        assert sites["ANATLOC"] == (p["curie"].split(":")[1], term.label)
        codes = term.codes("exact") or term.codes("broad")
        if codes:
            assert sites["SCT"][0] == codes[0].split(":")[1]
        else:
            assert "SCT" not in sites
        values = {}
        for m in g.get_measurements():
            key = m.name.meaning if m.derivation is None else m.derivation.meaning
            values[key] = (m.value, m.unit.value)
        assert values["Maximum"][0] == pytest.approx(p["suv_max"], rel=1e-4)
        assert values["Mean"][0] == pytest.approx(p["suv_mean"], rel=1e-4)
        assert values["Maximum"][1] == "g/ml{SUVbw}"
        assert values["Volume"] == (pytest.approx(p["volume_ml"], rel=1e-4), "cm3")
        assert g.tracking_identifier == f"lesion {preds.index(p) + 1}"
        # no SEG: the region is the lesion's centre, a point on the PET's frame (LPS)
        assert g.referenced_segment is None and g.roi.graphic_type.value == "POINT"
        centre = [-p["center_x"], -p["center_y"], p["center_z"]]
        assert np.ravel(g.roi.graphic_data) == pytest.approx(centre, abs=0.01)
        assert g.roi.source_series_for_segmentation.value == pet_uid


def test_sr_with_a_seg_references_its_segments(seg_case, dicom_case, model, tmp_path):
    sr = tmp_path / "seg-report.dcm"
    r = _predict_sr(model, dicom_case / "study", seg_case / "seg.dcm", sr)
    assert r.exit_code == 0, r.output
    seg = pydicom.dcmread(seg_case / "seg.dcm", stop_before_pixels=True)
    ds, groups = _groups(sr)
    evidence = {
        i.ReferencedSOPInstanceUID
        for study in ds.CurrentRequestedProcedureEvidenceSequence
        for s in study.ReferencedSeriesSequence
        for i in s.ReferencedSOPSequence
    }
    assert seg.SOPInstanceUID in evidence
    numbers = [g.referenced_segment.referenced_segment_numbers[0] for g in groups]
    assert numbers == [1, 2, 3, 4]
    assert groups[0].tracking_identifier == "lesion 1 (lesion 1)"
    # a SEG that names the CT as its source: the CT series is evidence too
    r = _predict_sr(model, dicom_case / "study", seg_case / "on-ct.dcm", sr)
    assert r.exit_code == 0, r.output
    ds, groups = _groups(sr)
    found = {s.uid: s.modality for s in scan_folder(dicom_case / "study")}
    series = {
        s.SeriesInstanceUID
        for study in ds.CurrentRequestedProcedureEvidenceSequence
        for s in study.ReferencedSeriesSequence
    }
    assert {found.get(u, "SEG") for u in series} == {"PT", "CT", "SEG"}
    ct_uid = next(u for u, m in found.items() if m == "CT")
    assert groups[0].referenced_segment.source_series_for_segmentation.value == ct_uid


def test_sr_refusals_write_nothing(case, dicom_case, seg_case, model, tmp_path):
    sr = tmp_path / "no.dcm"
    r = _predict_sr(model, dicom_case / "pet.nii.gz", case / "lesions.nii.gz", sr)
    assert r.exit_code == 2 and "is not a DICOM folder" in one_error_line(r)
    r = _predict_sr(model, dicom_case / "study", seg_case / "other.dcm", sr)
    assert r.exit_code == 3 and "the SEG" in one_error_line(r) and "1.2.3.4" in r.stderr
    table = tmp_path / "t.csv"
    table.write_text(f"case_id,pet,mask,mask_label\nc,{dicom_case / 'study'},{case / 'x'},1\n")
    r = run("predict", "--table", table, "--model", model, "--sr", sr)
    assert r.exit_code == 2 and "--sr writes the report of one case" in one_error_line(r)
    assert sorted(tmp_path.iterdir()) == [table]


@pytest.mark.skipif(shutil.which("dsrdump") is None, reason="dcmtk's dsrdump is not installed")
def test_dcmtk_dsrdump_reads_the_sr(with_mask):
    path, _ = with_mask
    # strict by default: dsrdump stops at the first invalid content item; -v adds warnings
    r = subprocess.run(["dsrdump", "-v", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert not [ln for ln in r.stderr.splitlines() if ln.startswith(("W:", "E:", "F:"))], r.stderr
    assert "Comprehensive 3D SR Document" in r.stdout
    assert '(0000238,ANATLOC,"Thoracic aorta")' in r.stdout or "ANATLOC," in r.stdout
    assert r.stdout.count('"Measurement Group"') == 4


def test_sr_of_boxes_places_each_box_centre(with_mask, dicom_case, model, tmp_path):
    _, preds = with_mask
    p = preds[1]
    boxes = tmp_path / "boxes.csv"
    boxes.write_text(
        "lesion_id,center_x,center_y,center_z,size_x,size_y,size_z\n"
        f"b1,{p['center_x']},{p['center_y']},{p['center_z']},20,20,20\n"
    )
    sr = tmp_path / "boxes.dcm"
    r = run("predict", "--pet", dicom_case / "study", "--boxes", boxes, "--model", model,
            "--device", "cpu", "--json", "--sr", sr)  # fmt: skip
    assert r.exit_code == 0, r.output
    (q,) = json.loads(r.stdout)["predictions"]
    _, (g,) = _groups(sr)
    assert np.ravel(g.roi.graphic_data) == pytest.approx(
        [-p["center_x"], -p["center_y"], p["center_z"]], abs=0.01
    )
    volume = next(m for m in g.get_measurements() if m.name.meaning == "Volume")
    assert volume.value == pytest.approx(q["volume_ml"], rel=1e-4)
