"""Report words (``anatloc.retriever.report``) and the MIP picture (``anatloc.imaging.mip``)."""

from __future__ import annotations

import io
import math
import re
from html.parser import HTMLParser

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from anatloc.imaging import mip
from anatloc.retriever import predict
from anatloc.retriever.infer import Prediction
from anatloc.retriever.predict import CaseInput, LesionFacts, predict_case, render_case_mip
from anatloc.retriever.report import ReportCase, sentence, term_words, write_report


def pred(ont, name: str, *, abstained: bool = False) -> Prediction:
    t = ont.get(name, level="fine")
    c = ont.coarse_of(t)
    return Prediction(
        lesion_id="c:1",
        case_id="c",
        location=c.label if abstained else t.label,
        curie=c.curie if abstained else t.curie,
        coarse=c.label,
        coarse_curie=c.curie,
        region=ont.region_of(c).label,
        score=0.7,
        top3=[t.label],
        top3_curies=[t.curie],
        abstained=abstained,
    )


FACTS = LesionFacts(8.34, 5.1, 4.2, 21.0, 16.2, 25.0)


def test_sentence_from_the_ontology(ont):
    assert (
        sentence(ont, pred(ont, "Liver S7"), FACTS)
        == "Intensely FDG-avid lesion in liver segment S7, SUVmax 8.3, 2.1 × 1.6 cm, 4.20 ml."
    )
    s = sentence(ont, pred(ont, "Liver S7", abstained=True), FACTS)
    assert s.startswith("Intensely FDG-avid lesion in the liver, fine location uncertain")
    assert "S7" not in s
    unknown_suv = LesionFacts(math.nan, math.nan, 1.0, 9.0, 7.0, 12.0)
    assert (
        sentence(ont, pred(ont, "Liver S7"), unknown_suv)
        == "Lesion in liver segment S7, 0.9 × 0.7 cm, 1.00 ml."
    )


@pytest.mark.parametrize(
    ("suv", "words"),
    [
        (0.72, "Lesion in the left humerus, no FDG avidity above blood pool, SUVmax 0.7"),
        (1.8, "Lesion in the left humerus, no FDG avidity above blood pool, SUVmax 1.8"),
        (2.2, "Mildly FDG-avid lesion in the left humerus, SUVmax 2.2"),
        (4.0, "Moderately FDG-avid lesion in the left humerus, SUVmax 4.0"),
        (24.0, "Intensely FDG-avid lesion in the left humerus, SUVmax 24.0"),
    ],
)
def test_uptake_is_graded_against_blood_pool_and_liver(ont, suv, words):
    from anatloc.retriever.uptake import INTENSE_LIVER_MULTIPLE, TYPICAL_REFERENCE, grade

    assert TYPICAL_REFERENCE.blood_pool < TYPICAL_REFERENCE.liver
    assert grade(INTENSE_LIVER_MULTIPLE * TYPICAL_REFERENCE.liver + 0.01) == "intense"
    f = LesionFacts(suv, suv / 2, 0.15, 7.5, 6.0, 9.0)
    assert sentence(ont, pred(ont, "Left humerus"), f).startswith(words)


def test_the_sentence_and_the_table_round_once(ont, tmp_path):
    """7.45 mm was 0.7 cm in the sentence and 0.8 cm in the table (rounded twice)."""
    from types import SimpleNamespace

    from anatloc.retriever.report import _rows
    from anatloc.retriever.uptake import shown

    f = LesionFacts(0.7449, 0.6, 0.1449, 7.45, 5.55, 9.3)
    p = pred(ont, "Left humerus")
    s = sentence(ont, p, f)
    assert "SUVmax 0.7, 0.7 × 0.6 cm, 0.14 ml" in s
    les = SimpleNamespace(number="1", prediction=p, facts=f, sentence=s)
    cols, rows = _rows(ReportCase(SimpleNamespace(lesions=[les])))
    row = dict(zip(cols, rows[0], strict=True))
    assert row["SUVmax"] == "0.7" and row["long × short axis cm"] == "0.7 × 0.6"
    assert row["volume ml"] == "0.14"
    d = f.as_dict()
    assert d["long_axis_mm"] == 7 and d["short_axis_mm"] == 6  # whole mm: cm = mm / 10
    assert shown(f)["long_cm"] == f"{d['long_axis_mm'] / 10:.1f}"


def test_an_edited_ontology_changes_the_sentence(ont):
    edited = ont.copy()
    c = ont.get("Liver S7").curie
    edited.update("Liver S7", preferred_synonym="")
    assert term_words(edited, c, "x") == "Liver S7"
    edited.update("Liver S7", report_phrase="in hepatic segment VII")
    assert sentence(edited, pred(ont, "Liver S7"), FACTS).startswith(
        "Intensely FDG-avid lesion in hepatic segment VII, SUVmax"
    )
    edited.update("Liver S7", report_phrase="")  # none: generated from the label
    edited.rename("Liver S7", "Liver segment 7")
    assert "in the liver segment 7," in sentence(edited, pred(ont, "Liver S7"), FACTS)


def test_predict_over_an_edited_ontology(model, ont, case_dir):
    """End to end: the model was trained on the shipped ontology; over a copy whose preferred
    synonyms changed (accepted with allow_ontology_change), the sentences say the new words."""
    from anatloc.retriever.checkpoint import OntologyMismatchError
    from anatloc.retriever.infer import Localizer
    from anatloc.retriever.text import text_model_id
    from tests.retriever.synth import FakeEncoder

    edited = ont.copy()
    for t in edited.terms("fine"):
        edited.update(t, preferred_synonym="", report_phrase=f"at {t.label.lower()}")
    with pytest.raises(OntologyMismatchError, match="allow-ontology-change"):
        Localizer.from_checkpoint(model, device="cpu", ontology=edited)
    enc = FakeEncoder()
    enc.model_id = text_model_id("")
    loc = Localizer.from_checkpoint(
        model,
        device="cpu",
        ontology=edited,
        allow_ontology_change=True,
        text_encoder=enc,
        cache=False,
    )
    res = predict_case(
        loc, CaseInput.from_files(case_dir / "pet.nii.gz", lesions=case_dir / "lesions.nii.gz")
    )
    for les in res.lesions:
        if not les.prediction.abstained:
            where = f" lesion at {les.prediction.location.lower()}, "
            assert where in les.sentence.replace("Lesion at", " lesion at")


def test_mip_png_of_the_expected_size(localizer, case_dir, tmp_path):
    res = predict_case(
        localizer,
        CaseInput.from_files(
            case_dir / "pet.nii.gz", ct=case_dir / "ct.nii.gz", lesions=case_dir / "lesions.nii.gz"
        ),
    )
    out = tmp_path / "mip.png"
    data, (w, h) = render_case_mip(res, out, height=800)
    assert out.read_bytes() == data and data[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(io.BytesIO(data))
    assert img.size == (w, h) and h == 800
    both = [res.views["coronal"], res.views["sagittal"]]
    lesions = predict.mip_lesions(res)
    views = [p.view for p in mip.panels(both, lesions=lesions)]
    legend = mip.legend_width_for(lesions)
    assert 200 <= legend <= 420
    assert (w, h) == mip.figure_size(views, 800, 210, legend)[:2]
    px = np.asarray(img.convert("RGB")).astype(int)
    assert (px.min(axis=2) > 245).mean() > 0.5  # inverted grey: mostly white
    coloured = (np.abs(px[..., 0] - px[..., 2]) > 80).sum()  # the red/blue outlines, labels
    assert coloured > 50


def test_projection_is_orientation_independent():
    rng = np.random.default_rng(0)
    data = rng.random((6, 5, 8)).astype(np.float32)
    aff = np.diag([2.0, 3.0, 4.0, 1.0])
    aff[:3, 3] = (10.0, -20.0, 100.0)
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    flip[:2, 3] = (5, 4)
    a = mip.project(data, aff)
    b = mip.project(data[::-1, ::-1, :], aff @ flip)
    for name in ("coronal", "sagittal"):
        np.testing.assert_array_equal(a[name].image, b[name].image)
        assert a[name].extent == pytest.approx(b[name].extent)
    assert a["coronal"].image.shape == (6, 8)  # (x, z): the maximum along y
    np.testing.assert_array_equal(a["coronal"].image, data.max(axis=1))
    assert a["coronal"].extent == pytest.approx((9.0, 21.0, 98.0, 130.0))
    assert a["sagittal"].image.shape == (5, 8)


def test_outlines():
    pts = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 2.0], [2.0, 0.0, 2.0]])
    ol = mip.outline_mask("coronal", points=pts, spacing=2.0)
    assert ol.mask.sum() == 4
    assert ol.hs[np.nonzero(ol.mask)[0]].min() == pytest.approx(0.0)  # on the voxel centres
    el = mip.outline_mask("sagittal", ellipsoid=((0.0, 10.0, 50.0), (4.0, 20.0, 10.0)))
    hs, vs = el.hs[np.nonzero(el.mask)[0]], el.vs[np.nonzero(el.mask)[1]]
    assert hs.min() >= 0.0 - 1e-9 and hs.max() <= 20.0 + 1e-9
    assert vs.min() >= 45.0 - 1e-9 and vs.max() <= 55.0 + 1e-9
    assert mip.outline_mask("coronal", points=np.zeros((0, 3))) is None


class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("src", "href") and v:
                self.refs.append(v)


def test_report_files(localizer, case_dir, tmp_path):
    res = predict_case(
        localizer,
        CaseInput.from_files(case_dir / "pet.nii.gz", lesions=case_dir / "lesions.nii.gz"),
    )
    png, _ = render_case_mip(res)
    truth = {les.prediction.lesion_id: ("Spleen", les.number == "1") for les in res.lesions}
    md, ht = write_report(
        tmp_path, [ReportCase(res, png, "mip.png", truth)], title="t", about=["about <me>"]
    )
    text = md.read_text()
    for les in res.lesions:
        assert les.sentence in text
    assert "![PET MIP" in text and "(mip.png)" in text and "CT: none (PET only)" in text
    page = ht.read_text()
    parser = _Assets()
    parser.feed(page)
    assert parser.refs and all(r.startswith("data:image/png;base64,") for r in parser.refs)
    assert "about &lt;me&gt;" in page and "✓" in page and "✗" in page
    assert not re.search(r"https?://", page.replace("https://creativecommons", ""))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.md"]


def test_phantom_show_uses_the_same_renderer(case_dir, tmp_path):
    from anatloc.phantom.show import render_mip

    out = render_mip(case_dir, tmp_path / "show.png")
    with Image.open(out) as img:
        assert img.format == "PNG" and img.size[1] > 500
    assert nib.load(str(case_dir / "pet.nii.gz")).shape  # the case is intact


def test_the_report_shows_the_study_identifiers_that_the_input_carries():
    """DICOM input: the patient ID, accession number and study come first, under the case;
    NIfTI input (no such columns): no identifier rows at all."""
    from types import SimpleNamespace

    from anatloc.retriever.report import identifiers

    images = {
        "pet_series_uid": "1.2.3",
        "study_uid": "1.2",
        "patient_id": "P001",
        "study_date": "20240305",
        "suv_units": "BQML",
    }
    res = SimpleNamespace(lesions=[SimpleNamespace(images=images)])
    rows = identifiers(res)
    assert [k for k, _ in rows][:4] == ["Patient ID", "Study date", "Study UID", "PET series UID"]
    assert ("Patient ID", "P001") in rows and ("suv units", "BQML") in rows
    assert identifiers(SimpleNamespace(lesions=[SimpleNamespace(images={})])) == []


def test_a_given_reference_changes_the_words_and_is_checked(ont):
    from anatloc.ontology.errors import UsageError
    from anatloc.retriever.uptake import TYPICAL_REFERENCE, given_reference

    p = pred(ont, "Left humerus")
    f = LesionFacts(3.0, 2.0, 1.0, 12.0, 9.0, 14.0)
    assert sentence(ont, p, f).startswith("Moderately FDG-avid")  # typical liver 2.4
    ref = given_reference(liver=3.5)
    assert ref.blood_pool == TYPICAL_REFERENCE.blood_pool and "liver given" in ref.source
    assert sentence(ont, p, f, ref).startswith("Mildly FDG-avid")
    assert given_reference() is TYPICAL_REFERENCE
    with pytest.raises(UsageError, match="not below"):
        given_reference(blood_pool=2.5, liver=2.5)
