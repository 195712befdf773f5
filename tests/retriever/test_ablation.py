"""The ablation switches (text_mode, negatives, use_context, hierarchical) and the study."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import anatloc.retriever.train as train_module
from anatloc.ontology.errors import UsageError
from anatloc.retriever.checkpoint import read_checkpoint, save_checkpoint
from anatloc.retriever.config import get_preset
from anatloc.retriever.hierarchy import fine_to_coarse_table, flat_retrieve, retrieve
from anatloc.retriever.infer import Localizer
from anatloc.retriever.model import Retriever, count_parameters
from anatloc.retriever.text import TextBank

from .synth import FakeEncoder
from .test_train import SMALL, Stream

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ont():
    from anatloc.ontology import load_ontology, shipped_path

    return load_ontology(shipped_path())


@pytest.fixture(scope="module")
def banks(ont):
    enc = FakeEncoder()
    return {
        "descriptions": TextBank.build(ont, enc, cache=False),
        "labels": TextBank.for_labels(ont, enc, cache=False),
    }


def test_defaults_are_the_full_method_and_bad_values_are_refused():
    p = get_preset("cpu-small")
    assert (p.model.text_mode, p.train.negatives) == ("descriptions", "walker")
    assert p.model.use_context and p.model.hierarchical
    with pytest.raises(
        UsageError, match="unknown negatives 'hard'; expected one of walker, random"
    ):
        get_preset("cpu-small", negatives="hard")
    with pytest.raises(UsageError, match="text_mode must be one of"):
        get_preset("cpu-small", text_mode="words")


def test_bare_labels_bank_holds_the_labels(ont, banks, tmp_path):
    lab = banks["labels"]
    assert lab.mode == "labels"
    for level in ("coarse", "fine"):
        lt = lab[level]
        assert lt.texts == [[t.label] for t in ont.terms(level)]
        assert lt.mask.sum(1).tolist() == [1] * len(lt)
    assert banks["descriptions"]["fine"].mask.sum() > len(ont.terms("fine"))  # paraphrases
    p = get_preset("cpu-small", **SMALL, epochs=1, text_mode="labels")
    r = train_module.train(p, Stream(), ont, tmp_path / "l.pt", text_bank=lab, device="cpu")
    ck = read_checkpoint(r.out)
    assert ck["text_mode"] == "labels" and ck["preset"]["model"]["text_mode"] == "labels"
    with pytest.raises(UsageError, match="holds 'descriptions' texts but the preset asks for"):
        train_module.train(
            p, Stream(), ont, tmp_path / "x.pt", text_bank=banks["descriptions"], device="cpu"
        )


def _record_loss_masks(monkeypatch) -> list:
    seen = []
    real = train_module.contrastive_loss

    def spy(img, txt, scale, positives, excluded=None, semi_hard=None, **kw):
        seen.append((excluded, semi_hard, kw["label_smoothing"]))
        return real(img, txt, scale, positives, excluded, semi_hard, **kw)

    monkeypatch.setattr(train_module, "contrastive_loss", spy)
    return seen


def test_random_negatives_pass_no_masks_to_the_loss(ont, banks, tmp_path, monkeypatch):
    seen = _record_loss_masks(monkeypatch)
    bank = banks["descriptions"]
    p = get_preset("cpu-small", **SMALL, epochs=1, negatives="random")
    r = train_module.train(p, Stream(), ont, tmp_path / "r.pt", text_bank=bank, device="cpu")
    assert len(seen) == 2 * r.steps and all(e is None and s is None for e, s, _ in seen)
    assert {eps for _, _, eps in seen} == {0.1}  # only the negatives change
    assert read_checkpoint(r.last)["training"]["negatives"] == "random"
    seen.clear()
    p = get_preset("cpu-small", **SMALL, epochs=1)
    train_module.train(p, Stream(), ont, tmp_path / "w.pt", text_bank=bank, device="cpu")
    assert seen and all(e is not None and s is not None for e, s, _ in seen)
    assert any(bool(s.any()) for _, s, _ in seen)


def test_no_context_model_has_no_context_encoder_and_trains_and_predicts(
    ont, banks, tmp_path, synth_table
):
    full = Retriever.from_preset(get_preset("cpu-small", local_size=16, context_size=16))
    cfg = get_preset("cpu-small", **SMALL, epochs=1, use_context=False, coarse_from="fused")
    net = Retriever.from_preset(cfg)
    assert net.context_encoder is None and net.context_proj is None
    assert not any(n.startswith("context_") for n, _ in net.named_parameters())
    assert count_parameters(net) < count_parameters(full)
    C = cfg.data.in_channels
    x = torch.randn(2, C, 16, 16, 16)
    a = net.eval().encode_image(x, None)
    b = net.encode_image(x, torch.randn(2, C, 16, 16, 16))  # the context is not looked at
    assert torch.allclose(a.fine, b.fine) and a.fine.shape == (2, 256)
    r = train_module.train(
        cfg, Stream(), ont, tmp_path / "n.pt", text_bank=banks["descriptions"], device="cpu"
    )
    loc = Localizer.from_checkpoint(r.out, device="cpu", ontology=ont)
    assert loc.model.context_encoder is None
    preds = loc.predict(synth_table)
    assert len(preds) == 12 and all(p.location for p in preds)


def test_flat_retrieval_can_pick_any_fine_term(ont):
    fine, coarse = ont.curies("fine"), ont.curies("coarse")
    f2c = fine_to_coarse_table(ont, fine, coarse)
    n = len(fine)
    cs = torch.zeros(n, len(coarse))
    cs[:, 0] = 1.0  # the coarse stage is sure of the first coarse location
    fs = torch.eye(n) * 0.9  # each row's best fine term is a different one
    flat = flat_retrieve(fs, 20.0, f2c)
    assert flat.fine.tolist() == list(range(n))  # every fine term can be the answer
    assert torch.equal(flat.coarse, f2c) and not flat.abstained.any()
    hier = retrieve(cs, fs, 20.0, f2c, top_k=1)
    assert set(f2c[hier.fine].tolist()) == {0}  # the hierarchy only searches its children
    big = flat_retrieve(fs[:2], 20.0, f2c, large=torch.tensor([True, False]))
    assert big.abstained.tolist() == [True, False] and torch.equal(big.coarse, f2c[:2])


def test_localizer_and_evaluate_honour_hierarchical(tiny_model, synth_table, ont, fake_text_cache):
    from anatloc.cli.main import app

    loc = Localizer.from_checkpoint(tiny_model, device="cpu", ontology=ont)
    x = torch.randn(3, loc.preset.data.in_channels, 16, 16, 16)
    ret = loc.retrieve_patches(x, x, hierarchical=False)
    text = loc.text_embeddings()
    with torch.inference_mode():
        img = loc.model.encode_image(x, x)
        want = flat_retrieve(img.fine @ text["fine"].T, loc.model.scale(), loc.f2c)
    assert torch.equal(ret.fine, want.fine)
    flat = [p.location for p in loc.predict(synth_table, hierarchical=False)]
    assert len(flat) == 12
    r = CliRunner().invoke(
        app,
        ["evaluate", "--model", str(tiny_model), "--data", str(synth_table), "--flat", "--json"],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["n"] == 12 and json.loads(r.stdout)["abstain_rate"] == 0.0


def test_old_checkpoints_without_the_fields_load_with_defaults(tiny_model, tmp_path, ont):
    ck = read_checkpoint(tiny_model)
    for key in ("use_context", "hierarchical", "text_mode"):
        ck["preset"]["model"].pop(key)
    ck["preset"]["train"].pop("negatives")
    ck.pop("text_mode")
    old = tmp_path / "old.pt"
    save_checkpoint(old, ck)
    loc = Localizer.from_checkpoint(old, device="cpu", ontology=ont)
    m = loc.preset.model
    assert m.use_context and m.hierarchical and m.text_mode == "descriptions"
    assert loc.preset.train.negatives == "walker" and loc.model.context_encoder is not None


@pytest.mark.slow
def test_the_ablation_script_runs_end_to_end_quick(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "ablation.py"),
            "--quick",
            "--json",
            "--threads",
            "1",
            "--work",
            str(tmp_path),
            "--results",
            str(tmp_path / "results.md"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout)
    assert list(out["variants"]) == [
        "full",
        "flat",
        "labels",
        "random",
        "no-context",
        "segmentation",
    ]
    for name, v in out["variants"].items():
        for test_set in ("internal", "external"):
            m = v[test_set]
            assert set(m) >= {"fine_top1", "fine_top3", "coarse_top1", "n", "per_region"}, name
            assert m["n"] == out["config"]["test_sets"][test_set]["lesions"] > 0
    assert (
        out["variants"]["no-context"]["train"]["parameters"]
        < out["variants"]["full"]["train"]["parameters"]
    )
    assert out["variants"]["random"]["train"]["negatives"] == "random"
    text = (tmp_path / "results.md").read_text()
    assert text.count("<!-- ablation:begin -->") == 1 and "| segmentation |" in text
    # a rerun reuses the trained models and the test sets, and replaces the table
    r2 = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ablation.py"), "--quick", "--json", "--threads", "1",
         "--work", str(tmp_path), "--results", str(tmp_path / "results.md")],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert r2.returncode == 0 and "reusing" in r2.stderr and "rendering" not in r2.stderr
    assert (tmp_path / "results.md").read_text().count("<!-- ablation:begin -->") == 1


def test_the_table_shows_each_trained_variants_validation_figure():
    sys.path.insert(0, str(ROOT / "bench"))
    import ablation

    m = {"fine_top1": 0.5, "coarse_top1": 0.75, "fine_top3": 0.9, "n": 4}
    val = {"n": 774, "fine_top1": 0.8152}
    result = {
        "variants": {
            "full": {"train": {"minutes": 1.0, "val": val}, "internal": m, "external": m},
            "flat": {"train": {"minutes": 1.0, "val": val}, "internal": m, "external": m},
            "segmentation": {"train": {"minutes": None}, "internal": m, "external": m},
        },
        "config": {
            "test_sets": {k: {"lesions": 4, "cases": 1, "seed": 1} for k in ("internal", "external")},
            "samples": 8, "epochs": 1, "budget_minutes": 1.0, "seed": 0, "preset": "cpu-small",
            "threads": 1, "device": "cpu", "date": "2026-12-05", "total_minutes": 1.0,
        },
    }  # fmt: skip
    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.split("|")[1:-1]]
        for line in ablation.table_markdown(result).splitlines()
        if line.startswith("| ") and "---" not in line
    }
    assert "validation fine top-1 (774)" in rows["variant"]
    col = rows["variant"].index("validation fine top-1 (774)")
    assert rows["full"][col] == "81.5"
    assert rows["flat"][col] == "–" and rows["segmentation"][col] == "–"


def test_optional_variants_run_only_when_named(capsys):
    sys.path.insert(0, str(ROOT / "bench"))
    import ablation

    assert "no-semi-hard" in ablation.OPTIONAL and "no-semi-hard" not in ablation.VARIANTS
    preset = get_preset("cpu-small", **ablation.OVERRIDES["no-semi-hard"])
    assert preset.train.semi_hard_weight == 1.0 and preset.train.negatives == "walker"
    preset = get_preset("cpu-small", **ablation.OVERRIDES["no-exclusions"])
    assert not preset.train.exclude_ambiguous and preset.train.semi_hard_weight == 2.0
    with pytest.raises(SystemExit):
        ablation.main(["--variants", "full,bogus", "--no-results"])
    err = capsys.readouterr().err
    assert "unknown variant(s) bogus" in err and "no-semi-hard" in err


def test_a_saved_model_is_reused_across_new_settings_with_old_defaults(tmp_path):
    """A configuration field added after a model was trained, at its default, is no reason
    to train it again (it was: the rerun overwrote a finished 43-minute model)."""
    sys.path.insert(0, str(ROOT / "bench"))
    import ablation

    preset = get_preset("cpu-small", negatives="random")
    old = preset.to_dict()
    del old["train"]["exclude_ambiguous"]  # a checkpoint from before the field existed
    info = {"samples": 8}
    done = {"data": info, "stopped": "done"}
    assert ablation._differs({"preset": old}, done, preset, info) is None
    why = ablation._differs({"preset": old}, done, get_preset("cpu-small"), info)
    assert why == "other settings: train.negatives"
    assert ablation._differs({"preset": old}, {**done, "stopped": None}, preset, info)
    assert ablation._differs({"preset": old}, done, preset, {"samples": 9}) == "other training data"


def test_a_model_set_aside_twice_keeps_both_earlier_models(tmp_path):
    """Each rerun that retrains a variant moves the finished model to a free name; the
    second one used to overwrite the first one's NAME.previous.pt."""
    sys.path.insert(0, str(ROOT / "bench"))
    import ablation

    out, last = tmp_path / "random.pt", tmp_path / "random.last.pt"
    for run in ("first", "second"):
        out.write_text(run)
        last.write_text(run + " last")
        ablation._set_aside(out, last)
        assert not out.exists() and not last.exists()
    assert (tmp_path / "random.previous.pt").read_text() == "first"
    assert (tmp_path / "random.previous.last.pt").read_text() == "first last"
    assert (tmp_path / "random.previous-2.pt").read_text() == "second"
    assert (tmp_path / "random.previous-2.last.pt").read_text() == "second last"
