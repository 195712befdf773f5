"""Fixtures of the retriever tests: synthetic cases, a fake text bank, a tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest

from anatloc.ontology import load_ontology, shipped_path
from anatloc.retriever.text import TextBank, text_model_id

from .synth import FakeEncoder, make_table

#: the keys of ``evaluate``'s metrics, the JSON of ``anatloc evaluate`` and of the baseline
EVALUATE_KEYS = {
    "fine_top1",
    "fine_top3",
    "coarse_top1",
    "abstain_rate",
    "n",
    "per_region",
    "errors_by_band",
}


def default_id_encoder() -> FakeEncoder:
    """The fake encoder under the default model's id: a cache filled with it is what the
    commands find, so they never load the real (slow) encoder in fast tests."""
    enc = FakeEncoder()
    enc.model_id = text_model_id("")
    return enc


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread(one_torch_thread):
    """Every test here runs with one torch thread (see the root conftest)."""


@pytest.fixture(scope="session")
def synth_table(tmp_path_factory) -> Path:
    """Four synthetic cases (the last one PET-only with boxes), three lesions each."""
    return make_table(tmp_path_factory.mktemp("cases"), n_cases=4)


@pytest.fixture(scope="session")
def _fake_cache(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("textcache")
    TextBank.build(load_ontology(shipped_path()), default_id_encoder(), cache=folder)
    return folder


@pytest.fixture
def fake_text_cache(_fake_cache, monkeypatch) -> Path:
    """$ANATLOC_CACHE_DIR pointing at a text bank of the shipped ontology made by the fake
    encoder under the default model's id."""
    monkeypatch.setenv("ANATLOC_CACHE_DIR", str(_fake_cache))
    return _fake_cache


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, synth_table) -> Path:
    """A cpu-small model with 16³ patches trained for two short epochs (library call)."""
    from anatloc.retriever.config import get_preset
    from anatloc.retriever.data import TableSource
    from anatloc.retriever.hierarchy import fine_to_coarse_table
    from anatloc.retriever.table import read_lesion_table
    from anatloc.retriever.train import train

    ont = load_ontology(shipped_path())
    preset = get_preset(
        "cpu-small", local_size=16, context_size=16, epochs=2, batch_size=6, checkpoint_minutes=0
    )
    recs = read_lesion_table(synth_table, ont, require_locations=True)
    f2c = fine_to_coarse_table(ont, ont.curies("fine"), ont.curies("coarse")).numpy()
    src = TableSource(recs, ont.curies("fine"), f2c, preset.data)
    out = tmp_path_factory.mktemp("model") / "tiny.pt"
    bank = TextBank.build(ont, default_id_encoder(), cache=False)
    train(preset, src, ont, out, val_source=src, text_bank=bank, device="cpu")
    return out
