"""``build_sources``: the training and validation sources of ``anatloc train`` from Python."""

from __future__ import annotations

import pytest

from anatloc.ontology import load_ontology, shipped_path
from anatloc.ontology.errors import UsageError
from anatloc.retriever.config import get_preset
from anatloc.retriever.data import MixedSource, TableSource
from anatloc.retriever.sources import build_sources
from anatloc.retriever.train import split_records

SMALL = dict(local_size=16, context_size=16)


@pytest.fixture(scope="module")
def ont():
    return load_ontology(shipped_path())


def test_a_table_is_split_by_case_as_the_command_does(ont, synth_table):
    preset = get_preset("cpu-small", **SMALL)
    src = build_sources(ont, preset, data=synth_table)
    assert isinstance(src.train, TableSource) and isinstance(src.val, TableSource)
    train_recs, val_recs = src.train.records, src.val.records
    assert len(train_recs) + len(val_recs) == 12 and not src.warnings
    assert not {r.case_id for r in train_recs} & {r.case_id for r in val_recs}
    from anatloc.retriever.table import read_lesion_table

    records = read_lesion_table(synth_table, ont, require_locations=True)
    want = split_records(records, preset.train.val_fraction, preset.train.seed)
    assert [r.lesion_id for r in train_recs] == [r.lesion_id for r in want[0]]
    assert src.info == {
        "table": str(synth_table.resolve()),
        "train_lesions": len(train_recs),
        "val_lesions": len(val_recs),
        "val_table": "split",
    }
    # a validation table of its own: the whole table trains
    both = build_sources(ont, preset, data=synth_table, val_data=synth_table)
    assert len(both.train) == len(both.val) == 12
    assert both.info["val_table"] == str(synth_table.resolve())


def test_a_table_of_one_case_trains_without_validation_and_warns(ont, tmp_path):
    from .synth import make_table

    table = make_table(tmp_path, n_cases=1)
    told: list[str] = []
    src = build_sources(ont, get_preset("cpu-small", **SMALL), data=table, warn=told.append)
    assert src.val is None and len(src.train) == 3
    assert src.warnings == told and len(told) == 1
    assert "has 1 case, too few to hold one out for validation" in told[0]


def test_the_phantom_mixes_with_a_table_whose_validation_comes_first(ont, synth_table, monkeypatch):
    import anatloc.retriever.phantom_source as ps

    class Fake:
        per_body = 64

        def __init__(self, n):
            self.n = n

        def __len__(self):
            return self.n

    calls = []

    def fake_sources(profile, ont_, cfg, n, cache, workers, cache_progress, per_subject=None):
        calls.append((profile, n, cache, workers, per_subject))
        told = cache_progress("rendering phantom train lesions")  # None: nobody listens
        if told is not None:
            told(1, 2)
        return Fake(40), Fake(10)

    monkeypatch.setattr(ps, "phantom_sources", fake_sources)
    preset = get_preset("cpu-small", **SMALL)
    seen = []
    src = build_sources(
        ont, preset, data=synth_table, phantom="internal", phantom_samples=40,
        phantom_cache="c", phantom_per_body=64, workers=2,
        progress=lambda *a: seen.append(a),
    )  # fmt: skip
    assert calls == [("internal", 40, "c", 2, 64)]
    assert seen == [("rendering phantom train lesions", 1, 2)]
    assert isinstance(src.train, MixedSource) and len(src.train) == 40 + src.info["train_lesions"]
    assert isinstance(src.val, TableSource)  # the table's held-out cases, not the phantom's
    assert src.info["phantom"] == "internal" and src.info["phantom_val"] == 10
    alone = build_sources(ont, preset, phantom="internal")
    assert isinstance(alone.train, Fake) and len(alone.val) == 10 and not alone.warnings
    assert "table" not in alone.info


def test_nothing_to_train_on_is_a_usage_error(ont):
    with pytest.raises(UsageError, match="give a lesion table"):
        build_sources(ont, get_preset("cpu-small"))
