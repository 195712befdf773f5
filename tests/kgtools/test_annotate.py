"""The report annotator (``anatloc.kgtools.annotate``): names, sides, patterns, status,
the embedding fallback, table filling, and the curated report synonyms."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from anatloc.kgtools.annotate import Annotator, fill_locations, key_of, tokens
from anatloc.ontology import Ontology
from anatloc.ontology.errors import DataError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ann(shipped: Ontology) -> Annotator:
    return Annotator(shipped)


def labels(ann: Annotator, text: str, status: str | None = None) -> list[str]:
    return [m.label for m in ann.annotate(text) if status is None or m.status == status]


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("intensely FDG-avid right level II node", ["Right neck"]),
        ("lytic lesion of the L3 vertebral body", ["Vertebra L3"]),
        ("sclerotic focus in the third lumbar vertebra", ["Vertebra L3"]),
        ("subcarinal adenopathy", ["Mediastinum 7"]),
        ("hypermetabolic focus in hepatic segment VII", ["Liver S7"]),
        ("lesion in S7 of the liver", ["Liver S7"]),
        ("liver segment 7 metastasis", ["Liver S7"]),
        ("4R and station 7 nodes", ["Mediastinum 4R", "Mediastinum 7"]),
        ("node in the aortopulmonary window", ["Mediastinum 5"]),
        ("prevascular node", ["Mediastinum 3A"]),
        ("T11 lesion", ["Vertebra T11"]),
        ("lesions from T4 to T6", ["Vertebra T4", "Vertebra T5", "Vertebra T6"]),
        ("right 7th rib", ["Rib R7"]),
        ("seventh right rib", ["Rib R7"]),
        ("rib lesion R7", ["Rib R7"]),
        ("left 4th and 5th ribs", ["Rib L4", "Rib L5"]),
        (
            "nodule in the superior segment of the right lower lobe",
            ["Right lower lobe dorsal segment"],
        ),
        ("spiculated nodule in the RUL", ["Right lung"]),
        ("bilateral hilar adenopathy", ["Left pulmonary hilum", "Right pulmonary hilum"]),
        ("left axillary and supraclavicular nodes", ["Left axilla", "Left supraclavicular"]),
        ("splenic lesion", ["Spleen"]),
        ("sternal metastasis", ["Sternum"]),
        ("right renal mass", ["Right kidney"]),
        ("left gluteal mass", ["Left buttock"]),
        ("para-aortic nodes", ["Retroperitoneum"]),
        ("paravertebral mass at T10", ["Near vertebra T10"]),
        ("focal uptake in the left masseter", ["Left facial muscle"]),
        ("subcutaneous nodule in the left upper arm", ["Left upper arm subcutaneous tissue"]),
        ("S8 hepatic lesion", ["Liver S8"]),
        ("mass in the right frontal lobe", ["Brain"]),  # a report synonym
        ("focal uptake in the right lobe of the thyroid", ["Right lobe of thyroid"]),
        ("segment 4b liver lesion", ["Liver S4"]),
        ("right external iliac and obturator nodes", ["Near right iliac vessel"] * 2),
        ("lesion in the head of the pancreas", ["Pancreas"]),
        ("lytic lesions in the lumbar spine", ["Axial skeleton"]),
        (
            "left hilar, subcarinal and right paratracheal nodes",
            ["Left pulmonary hilum", "Mediastinum 7", "Mediastinum"],
        ),
    ],
)
def test_report_language(ann, text, want):
    assert labels(ann, text) == want


def test_a_mention_has_span_side_method_and_level(ann):
    text = "Hypermetabolic left axillary node."
    (m,) = ann.annotate(text)
    assert text[m.start : m.end] == m.text and m.text.startswith("left axillary")
    assert (m.label, m.level, m.side, m.status) == ("Left axilla", "fine", "left", "affirmed")
    assert m.method in ("label", "synonym", "pattern") and 0 < m.confidence <= 1
    d = m.as_dict()
    assert d["negated"] is False and d["hypothetical"] is False and d["curie"] == m.curie


def test_without_a_side_the_mention_is_coarser(ann):
    (m,) = ann.annotate("axillary adenopathy")
    assert m.side is None and m.level == "region" and m.label == "Chest"


def test_coarse_when_the_text_says_no_more(ann):
    (m,) = ann.annotate("diffuse hepatic uptake")
    assert (m.label, m.level) == ("Liver", "coarse")


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("no FDG-avid nodes in the mediastinum", "negated"),
        ("the right axillary node has resolved", "negated"),
        ("pericardial effusion without abnormal uptake", "negated"),
        ("cannot exclude a lesion in the left adrenal gland", "uncertain"),
        ("uptake in the right sacroiliac joint, likely inflammatory", "uncertain"),
        ("possible metastasis in the sacrum", "uncertain"),
        ("no interval change of the left axillary node", "affirmed"),
        ("intense uptake in the spleen", "affirmed"),
    ],
)
def test_negation_and_uncertainty(ann, text, status):
    ms = ann.annotate(text)
    assert ms and all(m.status == status for m in ms), [(m.text, m.status) for m in ms]


def test_negation_stops_at_the_clause(ann):
    ms = ann.annotate("No mediastinal nodes; intense uptake in the spleen.")
    assert [(m.label, m.status) for m in ms] == [
        ("Mediastinum", "negated"),
        ("Spleen", "affirmed"),
    ]


def test_unknown_words_are_unresolved_without_an_encoder(ann):
    ms = ann.annotate("uptake in the flexor digitorum profundus")
    assert ms and ms[0].curie is None and ms[0].method == "unresolved"


def test_the_embedding_fallback_uses_the_encoder_and_its_threshold(shipped):
    """A fake encoder: the phrase embeds onto Liver S7's description exactly."""
    fine = shipped.terms("fine")
    target = [t.curie for t in fine].index(shipped.get("Liver S7").curie)
    mat = np.eye(len(fine), dtype=np.float32)

    def enc(texts):
        return np.stack([mat[target] for _ in texts])

    bank = ([t.curie for t in fine], mat)
    ms = Annotator(shipped, encoder=enc, bank=bank).annotate("uptake in the flexor digitorum")
    assert [(m.label, m.method) for m in ms] == [("Liver S7", "embedding")]
    far = Annotator(shipped, encoder=lambda t: np.ones((len(t), len(fine))), bank=bank)
    (m,) = far.annotate("uptake in the flexor digitorum")
    assert m.curie is None and m.method == "unresolved" and m.candidates


@pytest.mark.slow
def test_the_real_encoder_and_the_threshold(shipped, tmp_path, monkeypatch):
    """The CLI's wiring: the retriever's sentence encoder and cached text bank, offline; the
    threshold decides between an embedding match and an unresolved mention."""
    monkeypatch.setenv("ANATLOC_CACHE_DIR", str(tmp_path))
    from anatloc.cli.annotate_cmd import _encoder_and_bank

    enc, bank = _encoder_and_bank(shipped)
    text = "uptake in the flexor digitorum profundus"
    (m,) = Annotator(shipped, encoder=enc, bank=bank, threshold=-1.0).annotate(text)
    assert m.method == "embedding" and m.curie == m.candidates[0] and -1 <= m.confidence <= 1
    (u,) = Annotator(shipped, encoder=enc, bank=bank, threshold=0.99).annotate(text)
    assert u.curie is None and u.candidates == m.candidates


def test_bad_input_is_a_data_error(ann):
    with pytest.raises(DataError):
        ann.annotate(b"bytes")  # type: ignore[arg-type]
    assert ann.annotate("") == []


def test_tokens_fold_plurals_and_prefixes():
    assert key_of("Para-aortic lymph nodes") == "paraaortic lymph node"
    assert key_of("vertebrae") == "vertebra" and key_of("pubis") == "pubis"
    assert [s for _, s, _ in tokens("L3 node")] == [0, 3]


def test_fill_locations(ann):
    text = "Lesions in the right 7th rib and in hepatic segment VII."
    locs, problems = fill_locations(ann, text, 2)
    assert problems == [] and [ann.ont[c].label for c in locs] == ["Rib R7", "Liver S7"]
    locs, problems = fill_locations(ann, text, 3)
    assert locs == [None] * 3 and "2 location(s)" in problems[-1]
    _, problems = fill_locations(ann, "hepatic uptake", 1)
    assert any("not fine" in p for p in problems)


def test_speed(ann):
    """Well above 1,000 sentences/s (bench/annotate.py measures it properly)."""
    import time

    texts = ["Intensely FDG-avid right level II node, no mediastinal nodes."] * 200
    t0 = time.perf_counter()
    for t in texts:
        ann.annotate(t)
    assert len(texts) / (time.perf_counter() - t0) > 300


def _tool():
    spec = importlib.util.spec_from_file_location(
        "report_synonyms", ROOT / "tools" / "report_synonyms.py"
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules["report_synonyms"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_the_shipped_report_synonyms_match_the_reviewed_table(shipped):
    tool = _tool()
    rows = tool.read_table()
    assert len(rows) >= 50
    assert tool.problems(shipped, rows) == []
    assert shipped.get("Brain").report_synonyms


def test_report_synonyms_do_not_change_the_content_hash(shipped):
    bare = Ontology([dataclasses.replace(t, report_synonyms=()) for t in shipped], shipped.meta)
    assert bare.content_hash() == shipped.content_hash() == shipped.stored_hash


def test_the_table_check_finds_bad_rows(shipped):
    tool = _tool()
    bad = [
        {
            "level": "fine",
            "label": "Left neck",
            "report_synonym": "right posterior neck",
            "note": "x",
        },
        {"level": "fine", "label": "Brain", "report_synonym": "cerebellum", "note": "x"},
        {"level": "fine", "label": "Nowhere", "report_synonym": "x", "note": "x"},
    ]
    _, problems = tool.wanted(shipped, bad)
    assert len(problems) == 3
