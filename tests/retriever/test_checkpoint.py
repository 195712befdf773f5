"""The checkpoint: round trip, refusal of non-checkpoints, ontology changes explained."""

from __future__ import annotations

import pytest
import torch

from anatloc.ontology import load_ontology, shipped_path
from anatloc.ontology.errors import DataError
from anatloc.retriever.checkpoint import (
    FORMAT_VERSION,
    OntologyMismatchError,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from anatloc.retriever.config import Preset
from anatloc.retriever.infer import Localizer
from anatloc.retriever.table import read_lesion_table

from .conftest import default_id_encoder


def test_contents_of_a_checkpoint(tiny_model, shipped):
    ck = read_checkpoint(tiny_model)
    assert ck["format_version"] == FORMAT_VERSION
    assert ck["ontology_hash"] == shipped.content_hash()
    assert ck["fine_curies"] == shipped.curies("fine") and len(ck["coarse_labels"]) == 124
    assert ck["text_fine"].shape == (387, 384) and ck["text_fine"].dtype == torch.float16
    assert "all-MiniLM-L6-v2" in ck["text_model"] and ck["generator"].startswith("anatloc-describe")
    assert ck["training"]["epochs"] >= 1 and ck["training"]["negatives"] in ("walker", "hierarchy")
    assert "val" in ck["metrics"]["best"] and "resume" not in ck
    assert Preset.from_dict(ck["preset"]).data.local.size == 16
    last = read_checkpoint(tiny_model.with_name("tiny.last.pt"))
    assert {"optimizer", "scheduler", "state"} <= set(last["resume"])


def test_round_trip_predicts_the_same_batched_or_not(tiny_model, synth_table, shipped):
    recs = read_lesion_table(synth_table, shipped)
    a = Localizer.from_checkpoint(tiny_model, device="cpu", ontology=shipped)
    b = Localizer.from_checkpoint(tiny_model, device="cpu", ontology=shipped)
    pa = a.predict(recs, batch_size=64)
    pb = b.predict(recs, batch_size=1)
    assert [p.curie for p in pa] == [p.curie for p in pb]
    # oneDNN may sum in another order for another batch size: equal up to rounding
    assert [p.score for p in pa] == pytest.approx([p.score for p in pb], abs=1e-3)


def test_not_a_checkpoint_and_newer_format(tmp_path, tiny_model):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"hello")
    with pytest.raises(DataError, match="junk.pt is not an anatloc checkpoint"):
        read_checkpoint(junk)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(DataError, match="not an anatloc checkpoint \\(no 'anatloc-retriever'"):
        read_checkpoint(other)
    with pytest.raises(DataError, match="does not exist"):
        read_checkpoint(tmp_path / "missing.pt")
    ck = read_checkpoint(tiny_model)
    ck.pop("format")
    newer = tmp_path / "newer.pt"
    save_checkpoint(newer, ck)
    raw = torch.load(newer, weights_only=True)
    raw["format_version"] = FORMAT_VERSION + 1
    torch.save(raw, newer)
    with pytest.raises(DataError, match="newer anatloc"):
        read_checkpoint(newer)


def test_changed_ontology_is_explained_and_refused(tiny_model, tmp_path):
    ont = load_ontology(shipped_path())
    ont.add("Liver S9", "Liver", definition="A hypothetical extra segment.")
    ont.rename("Liver S8", "Liver segment 8")
    gone = ont.get("Around the liver")
    ont.remove(gone)
    with pytest.raises(OntologyMismatchError) as e:
        load_checkpoint(tiny_model, ont)
    msg = str(e.value)
    assert "1 added" in msg and "'Liver S9'" in msg
    assert "1 renamed" in msg and "'Liver S8' → 'Liver segment 8'" in msg
    assert "1 removed" in msg and "'Around the liver'" in msg
    assert "--allow-ontology-change" in msg
    described = load_ontology(shipped_path())
    described.set_definition("Liver S7", "Changed words only.")
    with pytest.raises(OntologyMismatchError, match="the same terms, but descriptions"):
        load_checkpoint(tiny_model, described)


def test_allowed_change_predicts_over_the_current_ontology(tiny_model, synth_table, tmp_path):
    ont = load_ontology(shipped_path())
    s9 = ont.add("Liver S9", "Liver", definition="A hypothetical extra segment.")
    loc = Localizer.from_checkpoint(
        tiny_model,
        device="cpu",
        ontology=ont,
        allow_ontology_change=True,
        text_encoder=default_id_encoder(),
        cache=tmp_path,
    )
    assert len(loc.fine_terms) == 388 and s9.curie in [t.curie for t in loc.fine_terms]
    assert [c[1] for c in loc.diff.added] == [s9.curie]
    text = loc.text_embeddings()
    assert text["fine"].shape == (388, 256)
    preds = loc.predict(read_lesion_table(synth_table, ont))
    assert len(preds) == 12 and all(p.curie in ont for p in preds)
    wrong = default_id_encoder()
    wrong.model_id = "another-model"
    with pytest.raises(DataError, match="trained with the text model"):
        Localizer.from_checkpoint(
            tiny_model, device="cpu", ontology=ont, allow_ontology_change=True, text_encoder=wrong
        )
