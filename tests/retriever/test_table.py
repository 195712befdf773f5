"""The lesion table: columns, paths, locations and the errors a user gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from anatloc.ontology.errors import DataError
from anatloc.retriever.table import read_lesion_table

HEADER = "case_id,ct,pet,mask,mask_label,center_x,center_y,center_z,size_x,size_y,size_z,locations"


@pytest.fixture
def images(tmp_path) -> Path:
    (tmp_path / "scans").mkdir()
    for name in ("p1_ct.nii.gz", "p1_pet.nii.gz", "p1_mask.nii.gz", "p2_pet.nii.gz"):
        (tmp_path / "scans" / name).write_bytes(b"")
    return tmp_path


def write(folder: Path, *rows: str, header: str = HEADER, name: str = "lesions.csv") -> Path:
    p = folder / name
    p.write_text("\n".join([header, *rows]) + "\n")
    return p


def test_reads_masks_boxes_labels_and_curies(images, shipped):
    s7 = shipped.get("Liver S7")
    p = write(
        images,
        "p1,scans/p1_ct.nii.gz,scans/p1_pet.nii.gz,scans/p1_mask.nii.gz,2,,,,,,,Liver S7|Liver S8",
        f"p2,,scans/p2_pet.nii.gz,,,1.5,-2,30,10,12,8,{s7.curie}",
        "p2,,scans/p2_pet.nii.gz,,,1.5,-2,60,10,12,8,",
    )
    recs = read_lesion_table(p, shipped)
    a, b, c = recs
    assert a.lesion_id == "p1:2" and a.mask_label == 2 and a.ct == images / "scans/p1_ct.nii.gz"
    assert a.locations == (s7.curie, shipped.get("Liver S8").curie)
    assert b.lesion_id == "p2:2" and b.ct is None and b.center == (1.5, -2.0, 30.0)
    assert b.size == (10.0, 12.0, 8.0) and b.locations == (s7.curie,)
    assert c.locations == () and c.line == 4
    assert a.row["locations"] == "Liver S7|Liver S8"  # echoed into predictions
    assert a.images_key != b.images_key and b.images_key == c.images_key


def test_optional_lesion_id_and_tsv(images, shipped):
    p = write(
        images,
        "p2\tscans/p2_pet.nii.gz\t0\t0\t0\t5\t5\t5\tBrain\tmy-lesion",
        header="case_id\tpet\tcenter_x\tcenter_y\tcenter_z\tsize_x\tsize_y\tsize_z\tlocations\tlesion_id",
        name="lesions.tsv",
    )
    (r,) = read_lesion_table(p, shipped)
    assert r.lesion_id == "my-lesion" and r.ct is None


def test_missing_column(images, shipped):
    p = write(images, "p1,scans/p1_ct.nii.gz,,,", header="case_id,ct,mask,mask_label,locations")
    with pytest.raises(DataError, match=r"lesions.csv: missing column\(s\) pet"):
        read_lesion_table(p, shipped)
    p = write(images, "p1,scans/p1_pet.nii.gz,1,2", header="case_id,pet,center_x,center_y")
    with pytest.raises(DataError, match="either mask \\+ mask_label or center_x"):
        read_lesion_table(p, shipped)


def test_unknown_label_suggests_the_closest(images, shipped):
    p = write(images, "p2,,scans/p2_pet.nii.gz,,,0,0,0,5,5,5,Livr S7")
    with pytest.raises(DataError) as e:
        read_lesion_table(p, shipped)
    msg = str(e.value)
    assert "lesions.csv line 2" in msg and "'locations'" in msg and "Livr S7" in msg
    assert "did you mean" in msg and "Liver S7" in msg


def test_coarse_only_location_is_explained(images, shipped):
    p = write(images, "p2,,scans/p2_pet.nii.gz,,,0,0,0,5,5,5,Liver")
    with pytest.raises(DataError, match="'Liver' is a coarse location; the table needs fine"):
        read_lesion_table(p, shipped)


def test_unresolved_relative_path_names_where_it_looked(images, shipped):
    p = write(images, "p1,,scans/nope.nii.gz,,,0,0,0,5,5,5,Brain")
    with pytest.raises(DataError) as e:
        read_lesion_table(p, shipped)
    assert "line 2, column 'pet'" in str(e.value) and str(images / "scans/nope.nii.gz") in str(
        e.value
    )
    assert read_lesion_table(p, shipped, check_files=False)[0].pet.name == "nope.nii.gz"


def test_duplicate_lesion_id(images, shipped):
    row = "p1,scans/p1_ct.nii.gz,scans/p1_pet.nii.gz,scans/p1_mask.nii.gz,1,,,,,,,Brain"
    p = write(images, row, row)
    with pytest.raises(
        DataError,
        match="line 3, column 'lesion_id': duplicate lesion id 'p1:1' \\(first on line 2\\)",
    ):
        read_lesion_table(p, shipped)


def test_empty_file_and_header_only(images, shipped):
    (images / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty.csv is empty; expected a header line"):
        read_lesion_table(images / "empty.csv", shipped)
    p = write(images, header=HEADER)
    with pytest.raises(DataError, match="has a header but no lesion rows"):
        read_lesion_table(p, shipped)
    with pytest.raises(DataError, match="does not exist"):
        read_lesion_table(images / "missing.csv", shipped)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "p2,,scans/p2_pet.nii.gz,,,0,zero,0,5,5,5,Brain",
            "column 'center_y': 'zero' is not a number",
        ),
        (
            "p2,,scans/p2_pet.nii.gz,,,0,0,0,5,-5,5,Brain",
            "column 'size_y': '-5': a size must be positive",
        ),
        ("p2,,scans/p2_pet.nii.gz,,,0,0,,5,5,5,Brain", "column 'center_z': empty"),
        (
            "p1,,scans/p1_pet.nii.gz,scans/p1_mask.nii.gz,x,,,,,,,Brain",
            "'mask_label': 'x' is not a lesion id",
        ),
        (",,scans/p2_pet.nii.gz,,,0,0,0,5,5,5,Brain", "column 'case_id': empty"),
        ("p2,,scans/p2_pet.nii.gz,,,,,,,,,Brain", "no lesion position"),
        ("p2,,scans/p2_pet.nii.gz,,,0,0,0,5,5,5,Brain,extra", "13 fields, the header has 12"),
    ],
)
def test_bad_cells_name_line_column_and_value(images, shipped, row, message):
    p = write(images, row)
    with pytest.raises(DataError, match=message):
        read_lesion_table(p, shipped)


def test_training_needs_locations(images, shipped):
    p = write(images, "p2,,scans/p2_pet.nii.gz,,,0,0,0,5,5,5,")
    with pytest.raises(
        DataError, match="line 2, column 'locations': empty; training and evaluation"
    ):
        read_lesion_table(p, shipped, require_locations=True)
