"""bench/errors.py: accuracy and the wrong answers by walker band, on a sample source and on
lesion tables."""

from __future__ import annotations

import sys
from pathlib import Path

from anatloc.ontology import load_ontology, shipped_path
from anatloc.retriever.data import TableSource
from anatloc.retriever.infer import Localizer
from anatloc.retriever.negatives import NegativeBands
from anatloc.retriever.table import read_lesion_table

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import errors  # noqa: E402


def test_every_wrong_answer_lands_in_one_band(tiny_model, synth_table):
    ont = load_ontology(shipped_path())
    loc = Localizer.from_checkpoint(tiny_model, device="cpu", ontology=ont)
    recs = read_lesion_table(synth_table, ont, require_locations=True)
    src = TableSource(recs, ont.curies("fine"), loc.f2c.numpy(), loc.preset.data)
    got = errors.validation(loc, NegativeBands(ont), src, batch=5)
    assert got["n"] == len(recs)
    wrong = round(got["n"] * (1 - got["fine_top1"]))
    assert sum(got["errors_by_band"].values()) == wrong
    assert 0 <= got["coarse_top1"] <= 1


def test_tables_are_scored_as_anatloc_evaluate_scores_them(tiny_model, synth_table, capsys):
    out = errors.main(["--model", str(tiny_model), "--data", str(synth_table), "--json"])
    res = out["models"][str(tiny_model)][str(synth_table)]
    assert set(res) == {"n", "fine_top1", "coarse_top1", "errors_by_band"}
    assert set(res["errors_by_band"]) == {"excluded", "semi-hard", "easy", "coarse"}
    assert '"errors_by_band"' in capsys.readouterr().out
