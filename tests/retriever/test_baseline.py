"""The segmentation baseline: the mapping tables, phantom organ maps, degradation, assignment."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from anatloc.ontology.errors import DataError
from anatloc.retriever.baseline import (
    NO_DEGRADATION,
    ClassMap,
    Degradation,
    class_table,
    degrade,
    organ_map_from_labels,
    phantom_class_table,
    phantom_lookup,
    read_classes_file,
    segmentation_baseline,
)
from anatloc.retriever.evaluate import evaluate
from anatloc.retriever.table import read_lesion_table

from .conftest import EVALUATE_KEYS
from .segcase import TS, make_phantom_case, make_seg_case

#: every lesion of 10 mm or more is under-segmented
ALWAYS = Degradation(max_probability=1.0, full_diameter_mm=10.001)


@pytest.fixture(scope="module")
def toy_case(tmp_path_factory):
    """One case of the phantom's toy atlas at 8 mm, in volume mode."""
    from anatloc.phantom.body import body_model
    from anatloc.phantom.io import generate
    from anatloc.phantom.profiles import get_profile

    from ..phantom.toy import toy_ontology

    ont = toy_ontology()
    out = tmp_path_factory.mktemp("toyphantom")
    generate(body_model(ont), get_profile("internal").with_spacing(8.0), out, 1, 0)
    return ont, out / "internal-0-0000"


def test_every_row_of_the_mapping_table_resolves(shipped):
    rows = class_table()
    assert [r.index for r in rows] == list(range(1, 118))  # v2 "total", in its order
    assert len({r.name for r in rows}) == 117
    for r in rows:
        if r.term:
            t = shipped.get(r.term, level=r.level)
            assert t.level == r.level, r
        else:
            assert r.level == "" and r.note, r  # an unmapped class says why
    cm = ClassMap.build(shipped)
    assert cm.unknown == [] and cm.unresolved == [] and len(cm.curies) == 109

    def term(name):
        return shipped[cm.curies[cm.index_of(name)]]

    assert (term("vertebrae_T7").label, term("vertebrae_T7").level) == ("Vertebra T7", "fine")
    assert (term("rib_left_7").label, term("rib_left_7").level) == ("Rib L7", "fine")
    assert (term("liver").label, term("liver").level) == ("Liver", "coarse")
    assert (term("lung_upper_lobe_left").label, term("lung_upper_lobe_left").level) == (
        "Left lung",
        "coarse",
    )
    assert (term("kidney_left").label, term("kidney_left").level) == ("Left kidney", "fine")
    assert cm.index_of("liver") == TS["liver"] and cm.index_of("rib_left_7") == TS["rib_left_7"]


def test_the_phantom_table_maps_fine_locations_to_classes(shipped):
    table = phantom_class_table()
    names = {r.name for r in class_table()}
    for label, cls in table.items():
        assert shipped.get(label, level="fine").level == "fine"
        assert cls in names
    assert {table[f"Liver S{i}"] for i in range(1, 9)} == {"liver"}
    assert table["Porta hepatis"] == "liver"
    assert table["Vertebra T7"] == table["Spinous process of vertebra T7"] == "vertebrae_T7"
    for background in ("Mediastinum 4R", "Left supraclavicular", "Near vertebra T7", "Left axilla"):
        assert background not in table


def test_organ_map_of_a_phantom_case(shipped, tmp_path):
    table = make_phantom_case(tmp_path, shipped)
    case = table.parent / "toy-0-0000"
    labels = np.asarray(nib.load(case / "labels.nii.gz").dataobj)
    lut = phantom_lookup(
        shipped, json.loads((case / "labels.json").read_text()), ClassMap.build(shipped)
    )
    organ = organ_map_from_labels(labels, lut)
    for fine, cls in ((1, "liver"), (2, "vertebrae_T7"), (3, "rib_left_7")):
        assert (organ[labels == fine] == TS[cls]).all()
    assert (organ[labels == 4] == 0).all() and (organ[labels == 0] == 0).all()


def test_organ_map_of_a_generated_toy_phantom_case(toy_case):
    from anatloc.retriever.baseline import load_labels

    ont, case = toy_case
    labels = load_labels(case / "labels.nii.gz").data
    meta = json.loads((case / "labels.json").read_text())
    organ = organ_map_from_labels(labels, phantom_lookup(ont, meta, ClassMap.build(ont)))
    by_label = {v["label"]: int(k) for k, v in meta.items()}
    expect = {
        "Liver S7": "liver",
        "Vertebra L1": "vertebrae_L1",
        "Rib L7": "rib_left_7",
        "Left kidney": "kidney_left",
        "Abdominal aorta": "aorta",
        "Abdominal cavity": None,
        "Left thigh muscle": None,
    }
    cm = ClassMap.build(ont)
    for label, cls in expect.items():
        inside = labels == by_label[label]
        assert inside.any(), label
        want = 0 if cls is None else cm.index_of(cls)
        assert (organ[inside] == want).all(), label


def test_the_baseline_on_an_undegraded_case(shipped, tmp_path):
    table = make_phantom_case(tmp_path, shipped)
    recs = read_lesion_table(table, shipped)
    run = segmentation_baseline(recs, shipped, table=table, degradation=NO_DEGRADATION)
    got = {p.lesion_id.split(":")[1]: p for p in run.predictions}
    assert (got["1"].location, got["1"].coarse, got["1"].abstained) == ("Liver", "Liver", True)
    assert got["1"].how == "overlap" and got["1"].score == 1.0 and got["1"].seg_class == "liver"
    assert (got["2"].location, got["2"].abstained) == ("Vertebra T7", False)
    assert got["3"].location == "Rib L7"
    assert got["4"].how == "none" and got["4"].location == "" and got["4"].abstained
    assert got["5"].how == "nearest" and got["5"].location == "Vertebra T7"
    assert run.how == {"overlap": 3, "nearest": 1, "none": 1} and run.degraded == 0
    m = evaluate(run.predictions, recs, shipped)
    assert set(m) == EVALUATE_KEYS
    assert (m["n"], m["fine_top1"], m["coarse_top1"], m["abstain_rate"]) == (5, 0.4, 0.8, 0.4)
    # the node beside the vertebra is named "Vertebra T7", its "Near" partner; 1 and 4 abstain
    assert m["errors_by_band"] == {"excluded": 1, "semi-hard": 0, "easy": 0, "coarse": 2}
    # without the back-off the node beside the vertebra gets no answer
    run0 = segmentation_baseline(
        recs, shipped, table=table, degradation=NO_DEGRADATION, max_distance_mm=0
    )
    assert run0.how == {"overlap": 3, "nearest": 0, "none": 2}


def test_the_baseline_is_degraded_where_lesions_are(shipped, tmp_path):
    table = make_phantom_case(tmp_path, shipped)
    recs = read_lesion_table(table, shipped)
    run = segmentation_baseline(recs, shipped, table=table, degradation=ALWAYS)
    got = {p.lesion_id.split(":")[1]: p for p in run.predictions}
    # the 28 mm liver lesion loses its organ (rim 14 mm > the 10 mm back-off); small ones stay
    assert got["1"].how == "none" and got["1"].location == ""
    assert got["2"].location == "Vertebra T7" and got["3"].location == "Rib L7"
    assert run.degraded == 1
    # the default model: deterministic, and probability 0.8 × (28 − 10) / 30 ≈ 0.48 for it
    a = segmentation_baseline(recs, shipped, table=table, seed=3)
    b = segmentation_baseline(recs, shipped, table=table, seed=3)
    assert [p.location for p in a.predictions] == [p.location for p in b.predictions]
    outcomes = {
        segmentation_baseline(recs, shipped, table=table, seed=s).predictions[0].how
        for s in range(8)
    }
    assert outcomes == {"overlap", "none"}


def test_degrade_removes_the_host_organ_in_the_lesion_and_its_rim():
    organ = np.zeros((30, 30, 30), np.int16)
    organ[:, :, :15] = 5  # the host organ
    organ[:, :, 15:] = 7  # a neighbour
    les = np.zeros_like(organ, dtype=np.uint8)
    ijk = np.stack(np.meshgrid(*[np.arange(30)] * 3, indexing="ij"), -1)
    les[np.linalg.norm(ijk - [15, 15, 7], axis=-1) <= 5] = 1  # d ≈ 21 mm at 2 mm voxels
    out, rep = degrade(organ, les, (2.0, 2.0, 2.0), ALWAYS, seed=0, case_id="c")
    (r,) = rep
    assert 19 < r["diameter_mm"] < 21 and r["degraded"] and r["removed"] == [5]
    assert r["rim_mm"] == pytest.approx(0.5 * r["diameter_mm"], abs=0.1)
    d = np.linalg.norm(ijk - [15, 15, 7], axis=-1) * 2.0  # mm from the centre
    assert (out[les == 1] == 0).all()
    assert (out[(d > 10 + r["rim_mm"] + 2) & (organ == 5)] == 5).all()  # beyond the rim: kept
    assert (out[(d < 10 + r["rim_mm"] - 2) & (organ == 5)] == 0).all()  # within it: removed
    assert (out[organ == 7] == 7).all()  # the neighbour is never touched
    kept, _ = degrade(organ, les, (2.0, 2.0, 2.0), NO_DEGRADATION)
    assert np.array_equal(kept, organ)
    assert Degradation().probability(9.0) == 0.0 and Degradation().probability(80.0) == 0.8


def test_user_organ_maps_through_the_seg_column(shipped, tmp_path):
    table = make_seg_case(tmp_path / "v2")
    recs = read_lesion_table(table, shipped)
    run = segmentation_baseline(recs, shipped, table=table)
    assert [p.location for p in run.predictions] == ["Liver", "Vertebra T7", "Rib L7"]
    assert run.sources == {"phantom": 0, "seg": 1} and run.how["overlap"] == 3
    # another numbering, given by a classes file
    own = {"liver": 1, "vertebrae_T7": 2, "rib_left_7": 3}
    table = make_seg_case(tmp_path / "own", own)
    names = tmp_path / "classes.json"
    names.write_text(json.dumps({str(v): k for k, v in own.items()}))
    recs = read_lesion_table(table, shipped)
    run = segmentation_baseline(recs, shipped, table=table, classes=read_classes_file(names))
    assert [p.location for p in run.predictions] == ["Liver", "Vertebra T7", "Rib L7"]
    tsv = tmp_path / "classes.tsv"
    tsv.write_text("index\tclass\n1\tliver\n2\tvertebrae_T7\n3\tnot_a_class\n")
    cm = ClassMap.build(shipped, read_classes_file(tsv))
    assert cm.unknown == ["not_a_class"] and sorted(cm.curies) == [1, 2]
    # read with the default v2 order instead, the values mean spleen, right kidney, left kidney
    run = segmentation_baseline(recs, shipped, table=table)
    assert [p.location for p in run.predictions] == ["Spleen", "Right kidney", "Left kidney"]


def test_bad_inputs_say_what_is_wrong(shipped, tmp_path):
    table = make_seg_case(tmp_path)
    recs = read_lesion_table(table, shipped)
    (tmp_path / "seg.nii.gz").unlink()
    with pytest.raises(DataError, match=r"lesions.csv line 2, column 'seg': file 'seg.nii.gz'"):
        segmentation_baseline(recs, shipped, table=table)
    text = table.read_text().replace(",seg,", ",other,")
    table.write_text(text)
    recs = read_lesion_table(table, shipped)
    with pytest.raises(DataError, match="no organ label map for case 'u1'"):
        segmentation_baseline(recs, shipped, table=table)
    bad = tmp_path / "c.json"
    bad.write_text("[1, 2]")
    with pytest.raises(DataError, match="expected a JSON object"):
        read_classes_file(bad)
    bad.write_text('{"x": "liver"}')
    with pytest.raises(DataError, match="'x' is not a voxel value"):
        read_classes_file(bad)
    with pytest.raises(DataError, match="does not exist"):
        read_classes_file(tmp_path / "none.json")
