"""Prediction records and the evaluation metrics."""

from __future__ import annotations

import pytest

from anatloc.ontology.errors import DataError
from anatloc.retriever.evaluate import confusion_figure, confusion_matrix, evaluate
from anatloc.retriever.infer import PREDICTION_COLUMNS, Localizer, Prediction
from anatloc.retriever.table import LesionRecord, read_lesion_table

from .conftest import EVALUATE_KEYS


def test_predictions_carry_the_design_columns(tiny_model, synth_table, shipped):
    loc = Localizer.from_checkpoint(tiny_model, device="cpu", ontology=shipped)
    preds = loc.predict(synth_table)
    assert len(preds) == 12
    row = preds[0].as_row()
    assert set(PREDICTION_COLUMNS) <= set(row) and row["case_id"] == "case0"
    assert row["mask_label"] == "1"  # the lesion's own columns are echoed
    for p in preds:
        t = shipped[p.curie]
        assert p.abstained or t.level == "fine"
        assert p.coarse_curie == (t.parent if t.level == "fine" else t.curie)
        assert p.region == shipped.region_of(p.coarse_curie).label
        assert 0 <= p.score <= 1 and 1 <= len(p.top3) <= 3
    assert loc.last_timing["lesions"] == 12 and loc.last_timing["model_ms_per_lesion"] > 0
    # abstention by threshold: every prediction backs off to its coarse location
    again = loc.predict(synth_table, abstain_threshold=0.999)
    assert all(p.abstained and p.curie == p.coarse_curie for p in again)


def _pred(ont, lesion_id, fine, top3=(), abstained=False):
    t = ont.get(fine)
    c = ont.coarse_of(t)
    name, curie = (c.label, c.curie) if abstained else (t.label, t.curie)
    tops = [ont.get(x) for x in (top3 or [fine])]
    return Prediction(
        lesion_id,
        "c",
        name,
        curie,
        c.label,
        c.curie,
        ont.region_of(c).label,
        0.5,
        [x.label for x in tops],
        [x.curie for x in tops],
        abstained,
    )


def _rec(ont, lesion_id, *names):
    return LesionRecord(lesion_id, "c", pet=None, locations=tuple(ont.get(n).curie for n in names))  # type: ignore[arg-type]


def test_metrics_count_acceptable_sets_and_abstentions(shipped, tmp_path):
    recs = [
        _rec(shipped, "a", "Liver S7", "Liver S8"),  # second acceptable label predicted
        _rec(shipped, "b", "Liver S7"),  # wrong segment, right organ, right in top-3
        _rec(shipped, "c", "Rib L7"),  # abstained on the right coarse location
        _rec(shipped, "d", "Brain"),  # wrong everywhere
    ]
    preds = [
        _pred(shipped, "a", "Liver S8"),
        _pred(shipped, "b", "Liver S6", top3=("Liver S6", "Liver S7")),
        _pred(shipped, "c", "Rib L7", abstained=True),
        _pred(shipped, "d", "Rib R7"),
    ]
    m = evaluate(preds, recs, shipped)
    assert set(m) == EVALUATE_KEYS
    assert m["n"] == 4 and m["fine_top1"] == 0.25 and m["fine_top3"] == 0.75
    assert m["coarse_top1"] == 0.75 and m["abstain_rate"] == 0.25
    assert m["per_region"]["Abdomen"] == {"n": 2, "fine_top1": 0.5, "coarse_top1": 1.0}
    assert next(iter(m["per_region"])) == "Head"  # ontology order
    labels, counts = confusion_matrix(preds, recs, shipped)
    assert "Liver" in labels and counts.sum() == 4
    files = confusion_figure(preds, recs, shipped, tmp_path / "figs")
    assert files[0].read_bytes()[:4] == b"\x89PNG" and files[1].read_text().startswith("true")
    # b: another segment of the same organ (a sibling); d: a far miss; c: abstained
    assert m["errors_by_band"] == {"excluded": 0, "semi-hard": 1, "easy": 1, "coarse": 1}
    with pytest.raises(DataError, match="no prediction for lesion"):
        evaluate(preds[:3], recs, shipped)
    with pytest.raises(DataError, match="no lesion has locations"):
        evaluate(preds, [_rec(shipped, "a")], shipped)


def test_records_without_locations_are_predicted_not_evaluated(tiny_model, synth_table, shipped):
    recs = read_lesion_table(synth_table, shipped)
    loc = Localizer.from_checkpoint(tiny_model, device="cpu", ontology=shipped)
    preds = loc.predict(recs[:3])
    assert [p.lesion_id for p in preds] == [r.lesion_id for r in recs[:3]]
    assert evaluate(preds, recs[:3], shipped)["n"] == 3


def test_precision_follows_the_training_and_the_hardware(monkeypatch):
    """auto: bf16 on CUDA; on a CPU only for models trained in bf16 (GPU runs) and only where
    the CPU computes bf16 natively; an explicit bf16 that would be emulated is refused."""
    import torch

    from anatloc.ontology.errors import UsageError
    from anatloc.retriever import infer

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    for native in (True, False):
        monkeypatch.setattr(
            infer, "native_bf16", lambda d, native=native: native or d.type == "cuda"
        )
        assert infer.resolve_precision("fp32", cuda) == "fp32"
        assert infer.resolve_precision("auto", cuda) == "bf16"
        assert infer.resolve_precision("auto", cpu, "fp32") == "fp32"
        assert infer.resolve_precision("auto", cpu, None) == "fp32"
        assert infer.resolve_precision("auto", cpu, "bf16") == ("bf16" if native else "fp32")
        if native:
            assert infer.resolve_precision("bf16", cpu) == "bf16"
        else:
            with pytest.raises(UsageError, match="AVX512-BF16 or AMX"):
                infer.resolve_precision("bf16", cpu)
    with pytest.raises(UsageError, match="unknown precision 'half'"):
        infer.resolve_precision("half", cpu)
    tp = infer.trained_precision
    assert tp({"training": {"precision": "bf16", "device": "cpu"}}) == "bf16"
    assert tp({"training": {"device": "cuda"}}) == "bf16"  # checkpoints from before the field
    assert tp({"training": {"device": "cpu"}}) == "fp32"
    assert tp(None) is None and tp({}) is None


def test_a_cpu_checkpoint_records_fp32_and_predicts_in_fp32(tiny_model, synth_table, shipped):
    import torch

    from anatloc.retriever.infer import Localizer

    ck = torch.load(tiny_model, map_location="cpu", weights_only=False)
    assert ck["training"]["precision"] == "fp32"
    loc = Localizer.from_checkpoint(tiny_model, device="cpu", ontology=shipped)
    assert loc.precision == "fp32"


def test_bf16_inference_names_the_same_locations(tiny_model, synth_table, shipped):
    """Where the CPU has native bf16, the encoders under bf16 autocast give the fp32 answers
    on the synthetic cases (the scores move by well under a percentage point)."""
    from anatloc.retriever.infer import Localizer, native_bf16, resolve_device

    if not native_bf16(resolve_device("cpu")):
        pytest.skip("this CPU has no native bf16")
    f32 = Localizer.from_checkpoint(tiny_model, device="cpu", ontology=shipped, precision="fp32")
    b16 = Localizer.from_checkpoint(tiny_model, device="cpu", ontology=shipped, precision="bf16")
    a, b = f32.predict(synth_table), b16.predict(synth_table)
    assert [p.curie for p in a] == [p.curie for p in b]
    assert max(abs(p.score - q.score) for p, q in zip(a, b, strict=True)) < 0.05


def test_wrong_answers_are_told_apart_by_the_walker_band(shipped):
    recs = [
        _rec(shipped, "a", "Vertebra T7"),
        _rec(shipped, "b", "Rib L7"),
        _rec(shipped, "c", "Rib L7"),
        _rec(shipped, "d", "Liver S7"),
    ]
    preds = [
        _pred(shipped, "a", "Near vertebra T7"),  # the "Near" partner: the walker excludes it
        _pred(shipped, "b", "Rib L8"),  # the next level: semi-hard
        _pred(shipped, "c", "Rib L7"),  # right
        _pred(shipped, "d", "Brain"),  # far
    ]
    m = evaluate(preds, recs, shipped)
    assert m["errors_by_band"] == {"excluded": 1, "semi-hard": 1, "easy": 1, "coarse": 0}


def test_the_confusion_picture_has_a_colour_bar_and_counts():
    import matplotlib.pyplot as plt
    import numpy as np

    from anatloc.retriever.evaluate import confusion_plot

    m = np.array([[3, 1, 0], [0, 2, 0], [0, 0, 0]])
    fig = confusion_plot(["Liver", "Spleen", "Brain"], m)
    try:
        assert len(fig.axes) == 2  # the matrix and its colour bar
        ax, bar = fig.axes
        assert "share of the true location's lesions" in bar.get_ylabel()
        assert sorted(t.get_text() for t in ax.texts) == ["1", "2", "3"]  # non-empty cells
        assert [t.get_text() for t in ax.get_yticklabels()] == [
            "Liver (4)",
            "Spleen (2)",
            "Brain (0)",
        ]
    finally:
        plt.close(fig)


def test_evaluate_says_the_wrong_answers_in_a_readers_words(tiny_model, synth_table):
    from typer.testing import CliRunner

    from anatloc.cli.main import app
    from anatloc.retriever.evaluate import ERROR_BAND_WORDS, ERROR_BANDS

    assert set(ERROR_BAND_WORDS) == set(ERROR_BANDS)
    args = ["evaluate", "--model", str(tiny_model), "--data", str(synth_table)]
    r = CliRunner().invoke(app, [*args, "--device", "cpu"], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    assert "wrong fine answers" in r.stdout and "Near vertebra T7 for Vertebra T7" in r.stdout
    for internal in ("semi-hard", "excluded", "easy"):
        assert internal not in r.stdout
