"""The text bank: contents, the cache key, warm starts, the real encoder (slow)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from anatloc.ontology.describe import description_texts
from anatloc.retriever.text import TextBank, text_model_id

from .synth import FakeEncoder


def test_bank_holds_every_term_with_its_paraphrases(shipped, tmp_path):
    enc = FakeEncoder()
    bank = TextBank.build(shipped, enc, cache=tmp_path)
    fine = bank["fine"]
    assert len(fine) == 387 and len(bank["coarse"]) == 124
    assert fine.curies == shipped.curies("fine")
    T = fine.emb.shape[1]
    assert fine.emb.shape == (387, T, 384) and fine.mask.sum(1).min() >= 5
    t = shipped.get("Rib L7")
    i = fine.curies.index(t.curie)
    canonical, paraphrases = description_texts(shipped, t)
    assert fine.texts[i] == [canonical, *paraphrases]
    assert np.allclose(fine.emb[i, 0], enc([canonical])[0])
    assert np.allclose(np.linalg.norm(fine.pooled("canonical"), axis=1), 1)
    assert fine.pooled("mean").shape == (387, 384)


def test_warm_start_reads_the_cache_fast(shipped, tmp_path):
    enc = FakeEncoder()
    cold = TextBank.build(shipped, enc, cache=tmp_path)
    assert enc.calls == 2 and not cold.from_cache
    files = list(tmp_path.glob("textbank-*.npz"))
    assert len(files) == 1 and cold.key in files[0].name
    t = time.perf_counter()
    warm = TextBank.build(shipped, enc, cache=tmp_path)
    took = time.perf_counter() - t
    assert warm.from_cache and enc.calls == 2 and took < 0.2
    assert np.array_equal(warm["fine"].emb, cold["fine"].emb)
    assert warm["fine"].texts == cold["fine"].texts


def test_cache_key_changes_with_ontology_model_and_mode(shipped, tmp_path):
    enc = FakeEncoder()
    a = TextBank.build(shipped, enc, cache=tmp_path)
    edited = shipped.copy()
    edited.set_definition("Liver S7", "A changed definition.")
    b = TextBank.build(edited, enc, cache=tmp_path)
    assert b.key != a.key and not b.from_cache
    other = FakeEncoder()
    other.model_id = "another-model/2"
    c = TextBank.build(shipped, other, cache=tmp_path)
    assert c.key not in (a.key, b.key)
    labels = TextBank.for_labels(shipped, enc, cache=tmp_path)
    assert labels.key != a.key and labels["fine"].emb.shape[1] == 1
    assert labels["fine"].texts[0] == [shipped.terms("fine")[0].label]
    assert len(list(tmp_path.glob("textbank-*.npz"))) == 4


def test_damaged_cache_is_rebuilt_and_no_cache_writes_nothing(shipped, tmp_path, monkeypatch):
    enc = FakeEncoder()
    a = TextBank.build(shipped, enc, cache=tmp_path)
    (tmp_path / f"textbank-{a.key}.npz").write_bytes(b"garbage")
    b = TextBank.build(shipped, enc, cache=tmp_path)
    assert not b.from_cache and enc.calls == 4
    assert TextBank.build(shipped, enc, cache=tmp_path).from_cache
    default = tmp_path / "default"  # where the bank would go with cache=None
    monkeypatch.setenv("ANATLOC_CACHE_DIR", str(default))
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    c = TextBank.build(shipped, enc, cache=False)
    assert not c.from_cache and enc.calls == 6  # embedded anew, not read from any cache
    assert sorted(tmp_path.rglob("*")) == before and not default.exists()


def test_default_cache_folder_from_the_environment(shipped, tmp_path, monkeypatch):
    monkeypatch.setenv("ANATLOC_CACHE_DIR", str(tmp_path / "c"))
    TextBank.build(shipped, FakeEncoder())
    assert len(list((tmp_path / "c").glob("textbank-*.npz"))) == 1


def test_text_model_id_of_a_local_folder(tmp_path):
    from anatloc.ontology.errors import DataError

    with pytest.raises(DataError, match="not a folder"):
        text_model_id(tmp_path / "missing")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    a = text_model_id(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text('{"x": 1}')
    assert text_model_id(tmp_path / "m") != a and a.startswith("m@")
    assert "all-MiniLM-L6-v2" in text_model_id("")


@pytest.mark.slow
def test_real_encoder_offline_separates_sides(shipped, tmp_path):
    """The shipped sentence encoder, offline: descriptions tell left from right better than
    bare labels do."""
    bank = TextBank.build(shipped, cache=tmp_path)
    labels = TextBank.for_labels(shipped, cache=tmp_path)
    assert bank["fine"].emb.shape[2] == 384 and "all-MiniLM-L6-v2" in bank.text_model
    fine = bank["fine"].curies
    i, j = fine.index(shipped.get("Rib L7").curie), fine.index(shipped.get("Rib R7").curie)
    d = bank["fine"].pooled("mean")
    lab = labels["fine"].pooled("canonical")
    assert float(d[i] @ d[j]) < float(lab[i] @ lab[j])
    t = time.perf_counter()
    assert TextBank.build(shipped, cache=tmp_path).from_cache
    assert time.perf_counter() - t < 0.2


def test_a_rebuild_reports_its_progress_and_a_cached_bank_says_nothing(shipped, tmp_path):
    calls = []
    plain = TextBank.build(shipped, FakeEncoder(), cache=False)
    bank = TextBank.build(
        shipped, FakeEncoder(), cache=tmp_path, progress=lambda d, t: calls.append((d, t))
    )
    total = calls[0][1]
    assert calls[0] == (0, total) and calls[-1] == (total, total) and len(calls) > 3
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    for level in ("coarse", "fine"):  # chunked, the same vectors as one call
        assert np.allclose(bank[level].emb, plain[level].emb)
    calls.clear()
    again = TextBank.build(
        shipped, FakeEncoder(), cache=tmp_path, progress=lambda d, t: calls.append((d, t))
    )
    assert again.from_cache
    assert calls == []


def test_the_cli_says_why_the_text_bank_is_rebuilt():
    import io

    from rich.console import Console

    from anatloc.cli.common import text_bank_progress

    log = io.StringIO()
    with text_bank_progress(Console(file=log, force_terminal=False, width=300)) as progress:
        for done in (0, 128, 256, 300):
            progress(done, 300)
    lines = log.getvalue().splitlines()
    assert len(lines) == 2, lines  # a log gets a line at the start and one at the end
    assert "the edited ontology" in lines[0] and "300 texts" in lines[0]
    assert lines[1].startswith("text bank ready: 300 texts in ")
    log = io.StringIO()
    with text_bank_progress(Console(file=log, force_terminal=False)):
        pass  # nothing to embed: nothing said
    assert log.getvalue() == ""


def test_predicting_over_an_edited_ontology_follows_the_rebuild(tiny_model, shipped, tmp_path):
    from anatloc.ontology import load_ontology, shipped_path
    from anatloc.retriever.infer import Localizer

    from .conftest import default_id_encoder

    edited = load_ontology(shipped_path())
    edited.add("Liver S9", "Liver")
    calls = []
    Localizer.from_checkpoint(
        tiny_model, device="cpu", ontology=edited, allow_ontology_change=True,
        text_encoder=default_id_encoder(), cache=tmp_path,
        text_progress=lambda d, t: calls.append((d, t)),
    )  # fmt: skip
    assert calls and calls[-1][0] == calls[-1][1] > 0
