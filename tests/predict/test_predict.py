"""The case-level pipeline (``anatloc.retriever.predict``): masks, boxes, PET-only, grids,
tables, lesion facts, and agreement with ``Localizer.predict``."""

from __future__ import annotations

import csv
import math
import re
import warnings

import nibabel as nib
import numpy as np
import pytest

from anatloc.ontology.errors import DataError, UsageError
from anatloc.retriever.predict import (
    RESULT_COLUMNS,
    CaseInput,
    axial_diameters,
    box_facts,
    case_id_for,
    cases_from_table,
    csv_text,
    feret_diameter,
    json_data,
    mask_facts,
    predict_case,
    predict_cases,
    read_boxes,
    read_mask,
)

from . import fixtures

SENTENCE = re.compile(
    r"^(Lesion|(Mildly|Moderately|Intensely) FDG-avid lesion) (in|at|on|adjacent to|around|"
    r"between|deep to|outside) .+, SUVmax \d+\.\d, \d+\.\d × \d+\.\d cm, \d+\.\d\d ml\.$"
)


def save(path, data, affine):
    nib.save(nib.Nifti1Image(np.asarray(data), np.asarray(affine, float)), str(path))
    return path


def truth(cases) -> dict[str, dict]:
    with open(cases / "lesions.csv", newline="") as fh:
        return {r["lesion_id"]: r for r in csv.DictReader(fh)}


def test_mask_with_ct(localizer, case_dir, cases):
    case = CaseInput.from_files(
        case_dir / "pet.nii.gz", ct=case_dir / "ct.nii.gz", lesions=case_dir / "lesions.nii.gz"
    )
    assert case.case_id == case_dir.name  # pet.nii.gz: the folder names the case
    res = predict_case(localizer, case)
    assert res.mask_mode == "instance" and not res.pet_only and not res.warnings
    assert [les.number for les in res.lesions] == ["1", "2", "3", "4"]
    known = truth(cases)
    for les in res.lesions:
        row = les.as_row()
        assert list(row)[-len(RESULT_COLUMNS) :] == list(RESULT_COLUMNS)
        assert row["case_id"] == case_dir.name and row["lesion_id"] in known
        assert row["pet_only"] is False and row["ct"].endswith("ct.nii.gz")
        assert SENTENCE.match(row["sentence"]), row["sentence"]
        phrase = localizer.ont[row["curie"]].report_phrase
        assert phrase and (f" {phrase}," in row["sentence"] or row["abstained"])
        t = known[row["lesion_id"]]
        # the facts agree with the phantom's own bookkeeping (same voxels, another rule)
        assert row["volume_ml"] == pytest.approx(float(t["volume_ml"]), rel=1e-3)
        assert 0 < row["suv_mean"] <= row["suv_max"]
        assert row["max_3d_extent_mm"] >= max(float(t[f"size_{a}"]) for a in "xyz") - 1
        assert 0 < row["short_axis_mm"] <= row["long_axis_mm"] <= row["max_3d_extent_mm"]
        assert row["long_axis_mm"] <= math.hypot(float(t["size_x"]), float(t["size_y"])) + 1
        assert float(row["center_z"]) == pytest.approx(float(t["center_z"]), abs=0.1)
    assert set(res.views) == {"coronal", "sagittal"}


def test_agrees_with_the_table_path(localizer, cases):
    """The crops (one per mask lesion, the CT read around the lesions) give the predictions
    that Localizer.predict gives on whole images — for masks and for boxes."""
    from anatloc.retriever.table import read_lesion_table

    recs = read_lesion_table(cases / "lesions.csv", localizer.ont)
    ref = {p.lesion_id: p for p in localizer.predict(recs)}
    got = [
        les.prediction
        for r in predict_cases(localizer, cases_from_table(cases / "lesions.csv"))
        for les in r.lesions
    ]
    assert len(got) == len(ref) == 8
    for p in got:
        q = ref[p.lesion_id]
        assert (p.curie, p.coarse_curie, p.abstained) == (q.curie, q.coarse_curie, q.abstained)
        assert p.score == pytest.approx(q.score, abs=1e-4)
    # boxes: a table without masks
    box_table = cases / "boxes-table.csv"
    with open(cases / "lesions.csv", newline="") as fh, open(box_table, "w", newline="") as out:
        rows = list(csv.DictReader(fh))
        w = csv.DictWriter(
            out, [c for c in rows[0] if c not in ("mask", "mask_label")], extrasaction="ignore"
        )
        w.writeheader()
        w.writerows(rows)
    recs = read_lesion_table(box_table, localizer.ont)
    ref = {p.lesion_id: p for p in localizer.predict(recs)}
    res = predict_cases(localizer, cases_from_table(box_table))
    assert [r.mask_mode for r in res] == ["", ""]
    for p in (les.prediction for r in res for les in r.lesions):
        assert p.curie == ref[p.lesion_id].curie
        assert p.score == pytest.approx(ref[p.lesion_id].score, abs=1e-4)


def test_boxes_file(localizer, case_dir, cases, tmp_path):
    known = [r for r in truth(cases).values() if r["case_id"] == case_dir.name]
    boxes = tmp_path / "boxes.csv"
    with open(boxes, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["lesion_id", "center_x", "center_y", "center_z", "size_x", "size_y", "size_z", "note"]
        )
        for r in known:
            w.writerow(
                [
                    f"b{r['mask_label']}",
                    *(r[f"center_{a}"] for a in "xyz"),
                    *(r[f"size_{a}"] for a in "xyz"),
                    "seen",
                ]
            )
    case = CaseInput.from_files(
        case_dir / "pet.nii.gz", ct=case_dir / "ct.nii.gz", boxes=boxes, case_id="c1"
    )
    res = predict_case(localizer, case)
    rows = [les.as_row() for les in res.lesions]
    assert [r["lesion_id"] for r in rows] == ["b1", "b2", "b3", "b4"]
    assert all(r["note"] == "seen" and r["case_id"] == "c1" for r in rows)
    for r, t in zip(rows, known, strict=True):
        sizes = [float(t[f"size_{a}"]) for a in "xyz"]
        assert r["max_3d_extent_mm"] == round(max(sizes))
        assert r["long_axis_mm"] == round(max(sizes[:2]))
        assert r["short_axis_mm"] == round(min(sizes[:2]))
        assert r["volume_ml"] == pytest.approx(math.pi / 6 * np.prod(sizes) / 1000, rel=1e-3)
        assert r["suv_max"] > 0
    assert all(ol is not None for les in res.lesions for ol in les.outlines.values())


def test_pet_only(localizer, case_dir):
    case = CaseInput.from_files(case_dir / "pet.nii.gz", lesions=case_dir / "lesions.nii.gz")
    res = predict_case(localizer, case)
    assert res.pet_only
    rows = [les.as_row() for les in res.lesions]
    assert all(r["pet_only"] is True and r["ct"] == "" for r in rows)
    data = json_data([res])
    assert set(data) == {"predictions"} and data["predictions"][0]["pet_only"] is True
    assert isinstance(data["predictions"][0]["top3"], list)
    assert isinstance(data["predictions"][0]["center_x"], float)


def test_pet_and_ct_on_other_grids(localizer, case_dir, tmp_path):
    """A PET stored LPS and a CT cut to a sub-block with its own origin: the same world,
    the same answers and facts."""
    pet = nib.load(str(case_dir / "pet.nii.gz"))
    data = np.asarray(pet.dataobj)[::-1, ::-1, :]
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    flip[0, 3] = pet.shape[0] - 1
    flip[1, 3] = pet.shape[1] - 1
    lps = save(tmp_path / "pet_lps.nii.gz", data, pet.affine @ flip)
    assert nib.aff2axcodes(nib.load(str(lps)).affine) == ("L", "P", "S")
    ct = nib.load(str(case_dir / "ct.nii.gz"))
    ct_big = save(  # a CT on a grid twice as fine, shifted by half a voxel: another grid
        tmp_path / "ct_fine.nii.gz",
        np.repeat(np.repeat(np.repeat(np.asarray(ct.dataobj), 2, 0), 2, 1), 2, 2),
        ct.affine
        @ np.array([[0.5, 0, 0, -0.25], [0, 0.5, 0, -0.25], [0, 0, 0.5, -0.25], [0, 0, 0, 1]]),
    )
    base = predict_case(
        localizer,
        CaseInput.from_files(
            case_dir / "pet.nii.gz", ct=case_dir / "ct.nii.gz", lesions=case_dir / "lesions.nii.gz"
        ),
    )
    moved = predict_case(
        localizer,
        CaseInput.from_files(lps, ct=case_dir / "ct.nii.gz", lesions=case_dir / "lesions.nii.gz"),
    )
    for a, b in zip(base.lesions, moved.lesions, strict=True):
        assert a.prediction.curie == b.prediction.curie
        assert a.prediction.score == pytest.approx(b.prediction.score, abs=1e-4)
        assert a.facts.suv_max == pytest.approx(b.facts.suv_max)
        assert a.facts.suv_mean == pytest.approx(b.facts.suv_mean)
    np.testing.assert_allclose(base.views["coronal"].image, moved.views["coronal"].image)
    fine = predict_case(
        localizer,
        CaseInput.from_files(
            case_dir / "pet.nii.gz", ct=ct_big, lesions=case_dir / "lesions.nii.gz"
        ),
    )
    assert len(fine.lesions) == 4 and not fine.pet_only


def test_ct_crop_gives_the_same_patches(case_dir):
    """Reading the CT only around the lesions changes no patch value."""
    import torch

    from anatloc.retriever.config import DataConfig, ScaleConfig
    from anatloc.retriever.inputs import _load_ct_crop
    from anatloc.retriever.nifti import load_volume
    from anatloc.retriever.patches import CaseImages, Targets, cut_raw

    cfg = DataConfig(local=ScaleConfig(12, 3.0), context=ScaleConfig(10, 12.0))
    full = load_volume(case_dir / "ct.nii.gz", "ct")
    pet = load_volume(case_dir / "pet.nii.gz", "pet")
    lo = full.voxel_to_world(np.zeros(3))
    centres = lo + np.array([[40.0, 60.0, 300.0], [120.0, 90.0, 700.0]])
    half = cfg.context.size * cfg.context.spacing / 2.0
    crop = _load_ct_crop(case_dir / "ct.nii.gz", centres, half + 4.0)
    assert crop.data.size < full.data.size
    t = Targets(np.zeros(2, np.int64), centres, np.full((2, 3), 10.0))
    for scale in (cfg.local, cfg.context):
        a = cut_raw(CaseImages(pet, full), centres, scale, t)
        b = cut_raw(CaseImages(pet, crop), centres, scale, t)
        torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-5)


def test_table_of_several_cases(localizer, cases):
    res = predict_cases(localizer, cases_from_table(cases / "lesions.csv"), views=())
    assert [r.case_id for r in res] == [d.name for d in fixtures.case_dirs(cases)]
    assert all(not r.views for r in res)
    text = csv_text(res)
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) == 8 and {r["lesion_id"] for r in rows} == set(truth(cases))
    header = text.splitlines()[0].split(",")
    assert header[-len(RESULT_COLUMNS) :] == list(RESULT_COLUMNS)
    assert "locations" in header  # the table's own columns are echoed


def test_binary_mask_is_split_into_components(tmp_path):
    """26-connectivity: blobs touching at a corner are one lesion; numbered head to toe."""
    m = np.zeros((12, 12, 20), np.uint8)
    m[2:4, 2:4, 2:4] = 1  # low
    m[4, 4, 4] = 1  # touches the first at a corner only: the same lesion
    m[6:9, 6:9, 14:17] = 1  # high
    m[1, 10, 10] = 1  # middle, a single voxel
    path = save(tmp_path / "bin.nii.gz", m, np.diag([2.0, 2.0, 3.0, 1.0]))
    lesions, mode = read_mask(path)
    assert mode == "components" and [les.label for les in lesions] == [1, 2, 3]
    assert [les.n_voxels for les in lesions] == [27, 1, 9]
    # the same mask with 255: still binary; with two ids: an instance mask
    lesions, mode = read_mask(save(tmp_path / "b255.nii.gz", m * 255, np.eye(4)))
    assert mode == "components" and len(lesions) == 3
    inst = m.copy()
    inst[6:9, 6:9, 14:17] = 7
    lesions, mode = read_mask(save(tmp_path / "inst.nii.gz", inst, np.eye(4)))
    assert mode == "instance" and [les.label for les in lesions] == [1, 7]
    # a table names the ids: no splitting, absent ids are left to the caller
    lesions, mode = read_mask(path, labels=[1, 5])
    assert mode == "instance" and [les.label for les in lesions] == [1]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.zeros((4, 4, 4), np.uint8), "is empty: no voxel is non-zero"),
        (np.full((4, 4, 4), -1, np.int16), "negative values"),
        (np.full((4, 4, 4), 0.5, np.float32), "non-integer values"),
        (np.zeros((4, 4, 4, 2), np.uint8), "expected a 3-D image"),
    ],
)
def test_bad_masks(tmp_path, data, message):
    path = save(tmp_path / "m.nii.gz", data, np.eye(4))
    with pytest.raises(DataError, match=message):
        read_mask(path)


def test_lesion_facts_on_known_images():
    from anatloc.retriever.nifti import make_volume
    from anatloc.retriever.predict import MaskLesion

    # PET on a 4 mm grid: SUV 5 in a block, 9 in one voxel of it, 1 elsewhere
    pet_data = np.ones((10, 10, 10), np.float32)
    pet_data[3:7, 3:7, 3:7] = 5.0
    pet_data[4, 4, 4] = 9.0
    pet = make_volume(pet_data, np.diag([4.0, 4.0, 4.0, 1.0]))
    # the lesion on a 2 mm mask grid: the world cube [13, 25) mm holds the centres of PET
    # voxels 4..6 per axis (27 voxels, one of them the 9)
    sub = np.ones((6, 6, 6), bool)
    les = MaskLesion(1, np.array([7, 7, 7]), sub, np.diag([2.0, 2.0, 2.0, 1.0]))
    f = mask_facts(pet, les)
    assert f.suv_max == 9.0 and f.suv_mean == pytest.approx((26 * 5.0 + 9.0) / 27)
    assert f.volume_ml == pytest.approx(216 * 8 / 1000)
    assert f.max_3d_extent_mm == pytest.approx(math.sqrt(3) * 12.0)
    # a 12 mm cube: 12 mm across its widest axial line (the diagonal of its 12 x 12 slice:
    # 10 mm between centres * sqrt(2) + one voxel's width along it, 2 * sqrt(2)) and 12 mm
    # across the perpendicular
    assert f.long_axis_mm == pytest.approx(12.0 * math.sqrt(2))
    assert f.short_axis_mm == pytest.approx(12.0 * math.sqrt(2))
    one = MaskLesion(
        1, np.array([9, 9, 9]), np.ones((1, 1, 1), bool), np.diag([2.0, 2.0, 2.0, 1.0])
    )
    assert feret_diameter(one) == pytest.approx(math.sqrt(12.0))
    # one 2 mm voxel: 2 x 2 mm axially, not the corner-to-corner 3.5 mm
    assert axial_diameters(one) == pytest.approx((2.0, 2.0))
    f1 = mask_facts(pet, one)  # smaller than a PET voxel: the voxel holding its centre
    assert f1.suv_max == 9.0 and f1.volume_ml == pytest.approx(0.008)
    rod = MaskLesion(
        1, np.array([0, 0, 0]), np.ones((10, 1, 1), bool), np.diag([2.0, 2.0, 2.0, 1.0])
    )
    assert feret_diameter(rod) == pytest.approx(math.sqrt(20.0**2 + 2 * 2.0**2))
    assert axial_diameters(rod) == pytest.approx((20.0, 2.0))  # along x, 1 voxel wide
    disc = np.hypot(*np.meshgrid(np.arange(-10, 11), np.arange(-10, 11))) <= 10.2  # d = 21 vox
    flat = MaskLesion(1, np.array([0, 0, 0]), disc[:, :, None], np.diag([1.0, 1.0, 5.0, 1.0]))
    long, short = axial_diameters(flat)
    assert long == pytest.approx(21.0, abs=0.6) and short == pytest.approx(21.0, abs=0.6)
    tall = MaskLesion(1, np.array([0, 0, 0]), np.ones((2, 3, 20), bool), np.eye(4))
    long, short = axial_diameters(tall)  # 20 mm tall, 2 x 3 mm across: axial sizes only
    assert long == pytest.approx(math.sqrt(5) + 3 / math.sqrt(5)) and short < long < 4
    b = box_facts(pet, (18.0, 18.0, 18.0), (10.0, 10.0, 12.0))
    assert (b.long_axis_mm, b.short_axis_mm, b.max_3d_extent_mm) == (10.0, 10.0, 12.0)
    assert b.volume_ml == pytest.approx(math.pi / 6 * 1.2)
    assert b.suv_max == 9.0
    far = box_facts(pet, (500.0, 0.0, 0.0), (5.0, 5.0, 5.0))  # outside the PET
    assert math.isnan(far.suv_max) and far.as_dict()["suv_max"] is None


def test_boxes_file_errors(tmp_path):
    def boxes(text):
        p = tmp_path / "b.csv"
        p.write_text(text)
        return p

    pet = tmp_path / "pet.nii.gz"
    with pytest.raises(DataError, match="missing column.*size_z"):
        read_boxes(boxes("center_x,center_y,center_z,size_x,size_y\n1,2,3,4,5\n"), "c", pet)
    with pytest.raises(DataError, match=r"line 2, column 'size_x': '-4': a size must be positive"):
        read_boxes(
            boxes("center_x,center_y,center_z,size_x,size_y,size_z\n1,2,3,-4,5,6\n"), "c", pet
        )
    with pytest.raises(DataError, match=r"line 2, column 'center_y': 'a' is not a number"):
        read_boxes(
            boxes("center_x,center_y,center_z,size_x,size_y,size_z\n1,a,3,4,5,6\n"), "c", pet
        )
    with pytest.raises(DataError, match="duplicate lesion id 'x'"):
        read_boxes(
            boxes(
                "lesion_id,center_x,center_y,center_z,size_x,size_y,size_z\nx,1,2,3,4,5,6\nx,1,2,3,4,5,6\n"
            ),
            "c",
            pet,
        )
    with pytest.raises(DataError, match="has a header but no boxes"):
        read_boxes(boxes("center_x,center_y,center_z,size_x,size_y,size_z\n"), "c", pet)
    with pytest.raises(DataError, match="does not exist"):
        read_boxes(tmp_path / "nope.csv", "c", pet)


def test_boxes_file_is_read_as_a_lesion_table_is(tmp_path):
    """One reader of lesion rows: a boxes file named ``*.TSV`` is tab-separated (as a table
    is), and quoting is checked strictly in both, the message naming the line at fault."""
    pet = tmp_path / "pet.nii.gz"
    p = tmp_path / "B.TSV"
    p.write_text(
        "center_x\tcenter_y\tcenter_z\tsize_x\tsize_y\tsize_z\tnote\n1\t2\t3\t4\t5\t6\ta,b\n"
    )
    (rec,) = read_boxes(p, "c", pet)
    assert rec.center == (1.0, 2.0, 3.0) and rec.row["note"] == "a,b"
    p = tmp_path / "b.csv"
    p.write_text('center_x,center_y,center_z,size_x,size_y,size_z\n1,2,3,4,5,"6"x\n')
    with pytest.raises(DataError, match=r"b.csv line 2: malformed CSV"):
        read_boxes(p, "c", pet)


def test_inputs(tmp_path, case_dir):
    assert case_id_for("scans/p007_SUV.nii.gz") == "p007_SUV"
    assert case_id_for(case_dir / "pet.nii.gz") == case_dir.name
    with pytest.raises(UsageError, match="exactly one of a mask"):
        CaseInput.from_files(case_dir / "pet.nii.gz")
    with pytest.raises(DataError, match="pet image .* does not exist"):
        CaseInput.from_files(tmp_path / "nope.nii.gz", lesions=case_dir / "lesions.nii.gz")
    with pytest.raises(DataError, match="is a folder"):
        CaseInput.from_files(
            case_dir / "pet.nii.gz", ct=tmp_path, lesions=case_dir / "lesions.nii.gz"
        )


def test_a_pet_in_bq_per_ml_warns_once(localizer, case_dir, tmp_path):
    pet = nib.load(str(case_dir / "pet.nii.gz"))
    bq = save(tmp_path / "bq.nii.gz", np.asarray(pet.dataobj) * 5000.0, pet.affine)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = predict_case(localizer, CaseInput.from_files(bq, lesions=case_dir / "lesions.nii.gz"))
    assert len(res.warnings) == 1 and "Bq/ml" in res.warnings[0]


def test_table_mask_label_missing_from_the_mask(localizer, cases):
    text = (cases / "lesions.csv").read_text().replace(",4,", ",9,", 1)
    (cases / "bad-label.csv").write_text(text)
    tables = cases_from_table(cases / "bad-label.csv")
    bad = [c for c in tables if any(r.mask_label == 9 for r in c.records)]
    with pytest.raises(DataError, match="lesion id 9 .* does not occur in the mask"):
        predict_case(localizer, bad[0])
