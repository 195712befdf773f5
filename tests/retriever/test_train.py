"""The training loop: stopping rules, Ctrl-C, resume, sources, negatives."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
import torch

from anatloc.ontology.errors import UsageError
from anatloc.retriever.checkpoint import read_checkpoint
from anatloc.retriever.config import get_preset
from anatloc.retriever.data import MixedSource, Sample, SampleSource, TableSource
from anatloc.retriever.hierarchy import fine_to_coarse_table
from anatloc.retriever.negatives import NegativeBands
from anatloc.retriever.table import read_lesion_table
from anatloc.retriever.text import TextBank
from anatloc.retriever.train import (
    StopSignals,
    TrainingInterrupted,
    collate,
    last_path,
    split_records,
    train,
)

from .conftest import default_id_encoder

SMALL = dict(local_size=16, context_size=16, batch_size=4, checkpoint_minutes=0, max_minutes=0)
#: the input channels of the presets' models
CHANNELS = get_preset("cpu-small").data.in_channels


@pytest.fixture(scope="module")
def parts(synth_table):
    from anatloc.ontology import load_ontology, shipped_path

    ont = load_ontology(shipped_path())
    recs = read_lesion_table(synth_table, ont, require_locations=True)
    f2c = fine_to_coarse_table(ont, ont.curies("fine"), ont.curies("coarse")).numpy()
    bank = TextBank.build(ont, default_id_encoder(), cache=False)
    return ont, recs, f2c, bank


class Stream:
    """A synthetic stream source (like the phantom's): random patches, fixed labels."""

    def __init__(self, n=8, size=16, interrupt_after=None):
        self.n, self.size, self.interrupt_after, self.given = n, size, interrupt_after, 0

    def __len__(self):
        return self.n

    def samples(self, *, epoch, rank=0, world_size=1, train=True):
        g = torch.Generator().manual_seed(epoch * 100 + rank)
        for i in range(10**9 if train else self.n):
            if self.interrupt_after is not None and self.given >= self.interrupt_after:
                raise KeyboardInterrupt
            self.given += 1
            x = torch.randn(CHANNELS, self.size, self.size, self.size, generator=g)
            yield Sample(x, x.clone(), [i % 3, 5], 0)


def test_table_source_is_a_sample_source(parts):
    ont, recs, f2c, _ = parts
    cfg = get_preset("cpu-small", **SMALL).data
    src = TableSource(recs, ont.curies("fine"), f2c, cfg)
    assert isinstance(src, SampleSource) and len(src) == 12
    it = src.samples(epoch=0)
    s = next(it)
    assert s.local.shape == (CHANNELS, 16, 16, 16) and s.context.shape == (CHANNELS, 16, 16, 16)
    assert s.coarse == int(f2c[s.fine[0]])
    val = list(src.samples(epoch=0, train=False))
    assert len(val) == 12 and [v.fine for v in val] == src.fine
    again = list(src.samples(epoch=5, train=False))
    assert torch.equal(torch.as_tensor(val[3].local), torch.as_tensor(again[3].local))
    # PET-only case (the last one): the CT flag is 0 for its lesions
    assert float(torch.as_tensor(val[-1].local)[1].max()) == 0.0
    shares = [src._share(r, 2) for r in range(2)]
    assert sorted(shares[0] + shares[1]) == list(range(12)) and not set(shares[0]) & set(shares[1])
    mixed = MixedSource([src, Stream()], seed=1)
    assert len(mixed) == 20 and next(mixed.samples(epoch=0)).local.shape[0] == CHANNELS


def test_collate_pads_positives_and_adds_coarse_parents(parts):
    ont, _, f2c, _ = parts
    x = torch.zeros(4, 8, 8, 8)
    fine = ont.curies("fine")
    s7, rib = fine.index(ont.get("Liver S7").curie), fine.index(ont.get("Rib L7").curie)
    b = collate([Sample(x, x, [s7, rib], int(f2c[s7])), Sample(x, x, [rib], int(f2c[rib]))], f2c)
    assert b["fine"].tolist() == [[s7, rib], [rib, -1]]
    assert b["coarse"].tolist() == [[int(f2c[s7]), int(f2c[rib])], [int(f2c[rib]), -1]]


def test_negative_bands_never_exclude_positives(parts):
    ont = parts[0]
    nb = NegativeBands(ont)
    fine = ont.curies("fine")
    i, j = fine.index(ont.get("Rib L7").curie), fine.index(ont.get("Rib L8").curie)
    exc, semi = nb.masks("fine", np.array([[i, j], [i, -1]]))
    assert exc.shape == (2, 387) and not exc[0, i] and not exc[0, j] and not semi[0, j]
    assert semi[1, j]  # the next rib is a semi-hard negative of Rib L7
    assert not (exc & semi).any()
    plain = NegativeBands(ont, use_walker=False)
    assert plain.source == "hierarchy"
    s7 = fine.index(ont.get("Liver S7").curie)
    _, semi = plain.masks("fine", np.array([[s7]]))
    assert {ont[fine[k]].parent for k in np.flatnonzero(semi[0])} == {ont[fine[s7]].parent}
    assert semi[0].sum() == 9  # the other liver locations


def test_bands_without_exclusions_keep_the_semi_hard_band(parts):
    ont = parts[0]
    fine = ont.curies("fine")
    t7 = fine.index(ont.get("Vertebra T7").curie)
    pos = np.array([[t7, -1], [t7, fine.index(ont.get("Rib L7").curie)]])
    exc, semi = NegativeBands(ont).masks("fine", pos)
    assert exc[0].any()  # the walker excludes something around Vertebra T7 ("Near vertebra T7")
    exc2, semi2 = NegativeBands(ont, exclude=False).masks("fine", pos)
    assert not exc2.any() and (semi2 == semi).all()
    p = get_preset("cpu-small", exclude_ambiguous=False)
    assert p.train.exclude_ambiguous is False and get_preset("cpu-small").train.exclude_ambiguous


def test_time_budget_and_early_stopping(parts, tmp_path, monkeypatch):
    ont, recs, f2c, bank = parts
    p = get_preset("cpu-small", **{**SMALL, "max_minutes": 1e-6}, epochs=3)
    src = TableSource(recs, ont.curies("fine"), f2c, p.data)
    r = train(p, src, ont, tmp_path / "t.pt", text_bank=bank, device="cpu")
    assert r.stopped == "time" and r.steps == 1 and (tmp_path / "t.pt").exists()
    import anatloc.retriever.train as train_module

    flat = {"n": 12, "fine_top1": 0.5, "fine_top3": 0.5, "coarse_top1": 0.5}
    monkeypatch.setattr(train_module, "validate", lambda *a, **k: dict(flat))  # never improves
    p = get_preset("cpu-small", **SMALL, epochs=6, patience=2)
    r = train(p, src, ont, tmp_path / "e.pt", val_source=src, text_bank=bank, device="cpu")
    assert r.stopped == "early" and r.epochs == 3 and len(r.history) == 3
    assert read_checkpoint(tmp_path / "e.pt")["metrics"]["best"]["epoch"] == 1


def test_ctrl_c_saves_a_usable_checkpoint_and_resume_continues(parts, tmp_path):
    ont, _, _, bank = parts
    # the stream raises the interrupt itself, so it must run in this process
    p = get_preset("cpu-small", **SMALL, epochs=3, loader_workers=0)
    out = tmp_path / "m.pt"
    with pytest.raises(KeyboardInterrupt):
        train(p, Stream(interrupt_after=10), ont, out, text_bank=bank, device="cpu")
    last = read_checkpoint(last_path(out))
    assert last["training"]["stopped"] == "interrupted" and last["resume"]["state"]["step"] == 2
    assert out.exists()  # a usable model even before the first epoch ended
    r = train(p, Stream(), ont, out, text_bank=bank, device="cpu", resume=last_path(out))
    # interrupted in epoch 2 of 3 after 2 steps: epochs 2 and 3 run again (2 steps each)
    assert r.epochs == 3 and r.steps == 2 + 2 * 2
    assert [h["epoch"] for h in r.history] == [1, 2, 3]
    warm = train(
        get_preset("cpu-small", **SMALL, epochs=1, loader_workers=0),
        Stream(),
        ont,
        tmp_path / "w.pt",
        text_bank=bank,
        device="cpu",
        resume=out,
    )
    assert warm.steps == 2  # weights only: a fresh schedule
    with pytest.raises(UsageError, match="does not match the preset"):
        train(
            get_preset("cpu-small", **SMALL, embed_dim=64, loader_workers=0),
            Stream(),
            ont,
            tmp_path / "x.pt",
            text_bank=bank,
            device="cpu",
            resume=out,
        )


def test_ctrl_c_only_asks_the_loop_to_stop_and_the_worker_ignores_it(parts, tmp_path):
    """SIGINT while training sets a flag; the loop stops after the step, shuts the batch
    worker down and writes a checkpoint that says "interrupted"; the worker process, which
    a terminal's Ctrl-C reaches too, ignores it; the handlers are put back."""
    import multiprocessing

    ont, _, _, bank = parts
    p = get_preset("cpu-small", **SMALL, epochs=3, loader_workers=1)  # 2 steps per epoch
    out = tmp_path / "m.pt"
    seen = {}

    def progress(ev):
        if ev.get("event") != "step":
            return
        seen["steps"] = seen.get("steps", 0) + 1
        if seen["steps"] == 2:  # the worker first: it must live on and make epoch 2's batches
            workers = multiprocessing.active_children()
            assert workers
            for w in workers:
                os.kill(w.pid, signal.SIGINT)
            time.sleep(0.5)  # a worker that took it would be gone by now
            seen["alive"] = [w.is_alive() for w in workers]
        if seen["steps"] == 3:  # epoch 2, step 1
            signal.raise_signal(signal.SIGINT)
            seen["handled"] = True  # the handler raised nothing

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingInterrupted) as info:
        train(p, Stream(), ont, out, text_bank=bank, device="cpu", progress=progress)
    assert seen["handled"] and seen["steps"] == 3  # stopped after the step it came in
    assert info.value.last == last_path(out) and info.value.signal_name == "SIGINT"
    ck = read_checkpoint(last_path(out))
    assert ck["training"]["stopped"] == "interrupted"
    assert ck["resume"]["state"]["step"] == 3 and ck["resume"]["state"]["epoch"] == 1
    assert out.exists()
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert seen["alive"] == [True]
    assert not multiprocessing.active_children()  # the last worker is shut down too


def test_ctrl_c_during_validation_stops_at_the_end_of_the_epoch(parts, tmp_path):
    ont, _, _, bank = parts
    p = get_preset("cpu-small", **SMALL, epochs=3, loader_workers=0)
    out = tmp_path / "m.pt"

    told = []

    def progress(ev):
        if ev.get("event") == "epoch":  # reported at the end of end-of-epoch validation
            signal.raise_signal(signal.SIGINT)
            assert told == ["SIGINT"]  # at once, from the handler: not after the epoch

    with pytest.raises(TrainingInterrupted):
        train(
            p,
            Stream(),
            ont,
            out,
            text_bank=bank,
            device="cpu",
            progress=progress,
            on_stop_request=told.append,
        )
    assert told == ["SIGINT"]
    ck = read_checkpoint(last_path(out))
    assert ck["training"]["stopped"] == "interrupted"
    assert ck["resume"]["state"]["epoch"] == 1 and ck["resume"]["state"]["step"] == 2


def test_a_second_ctrl_c_raises_at_once_and_writes_nothing(parts, tmp_path):
    ont, _, _, bank = parts
    p = get_preset("cpu-small", **SMALL, epochs=3, loader_workers=0)
    out = tmp_path / "m.pt"

    def progress(ev):
        if ev.get("event") == "step":
            signal.raise_signal(signal.SIGINT)  # asks to stop
            signal.raise_signal(signal.SIGINT)  # the default again: KeyboardInterrupt here

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt) as info:
        train(p, Stream(), ont, out, text_bank=bank, device="cpu", progress=progress)
    assert not isinstance(info.value, TrainingInterrupted)
    assert not last_path(out).exists() and not out.exists()
    assert signal.getsignal(signal.SIGINT) is before


def test_stop_signals_are_restored_redelivered_and_left_alone_off_the_main_thread():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with StopSignals() as stop:
        assert signal.getsignal(signal.SIGTERM) == stop._handle
        signal.raise_signal(signal.SIGTERM)
        assert stop.requested and stop.signal_name == "SIGTERM"
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
        stop.acknowledge()
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    # a signal the loop did not act on goes to the previous handler on the way out
    with pytest.raises(KeyboardInterrupt), StopSignals():
        signal.raise_signal(signal.SIGINT)
    # an ignored signal stays ignored
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with StopSignals():
            assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, old)
    # other threads cannot set handlers: nothing is set, nothing fails
    errors = []

    def off_main():
        try:
            with StopSignals() as s:
                assert not s.requested
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=off_main)
    t.start()
    t.join()
    assert not errors
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_split_by_case(parts):
    _, recs, _, _ = parts
    tr, va = split_records(recs, 0.25, seed=0)
    assert len(tr) + len(va) == 12 and len(va) == 3
    assert not {r.case_id for r in tr} & {r.case_id for r in va}
    assert split_records(recs[:3], 0.5)[1] == []  # one case: nothing to hold out


def test_background_batches_match_the_in_process_ones(parts, tmp_path):
    """The loader process gives the same training run as making batches in-process."""
    ont, _, _, bank = parts
    runs = []
    for workers in (0, 1):
        p = get_preset("cpu-small", **SMALL, epochs=1, seed=3, loader_workers=workers)
        r = train(p, Stream(), ont, tmp_path / f"m{workers}.pt", text_bank=bank, device="cpu")
        runs.append(read_checkpoint(r.out)["state_dict"])
    for k, v in runs[0].items():
        assert torch.equal(v, runs[1][k]), k


def test_text_targets_pooled_trains_against_the_retrieval_embeddings(parts, tmp_path, monkeypatch):
    """The default trains the images against the embeddings that prediction compares them
    with; "paraphrases" draws one of each term's texts per step instead."""
    import anatloc.retriever.train as tm

    ont, _, _, bank = parts
    seen = []
    real = tm.TextSide.targets

    def spy(self, level, how, gen=None):
        got = real(self, level, how, gen)
        seen.append((level, how, got, self.pooled[level]))
        return got

    monkeypatch.setattr(tm.TextSide, "targets", spy)
    p = get_preset("cpu-small", **SMALL, epochs=1)
    assert p.train.text_targets == "pooled"
    train(p, Stream(), ont, tmp_path / "p.pt", text_bank=bank, device="cpu")
    assert seen and all(how == "pooled" and torch.equal(g, pool) for _, how, g, pool in seen)
    # paraphrase augmentation: the fine targets are not all canonical texts
    seen.clear()
    p = get_preset("cpu-small", **SMALL, epochs=1, text_targets="paraphrases")
    train(p, Stream(), ont, tmp_path / "q.pt", text_bank=bank, device="cpu")
    fine = [g for lvl, how, g, _ in seen if lvl == "fine"]
    assert fine and all(how == "paraphrases" for _, how, _, _ in seen)
    canon = torch.from_numpy(bank["fine"].emb[:, 0])
    assert any(not torch.equal(g, canon) for g in fine)
    # each row is one of its own term's texts
    emb = torch.from_numpy(bank["fine"].emb)
    for g in fine:
        assert torch.all((emb == g[:, None, :]).all(-1).any(-1))
    with pytest.raises(UsageError, match="unknown text_targets 'words'"):
        get_preset("cpu-small", text_targets="words")


def test_a_checkpoint_without_text_targets_was_trained_on_paraphrases():
    from anatloc.retriever.config import Preset

    d = get_preset("cpu-small").to_dict()
    del d["train"]["text_targets"]
    assert Preset.from_dict(d).train.text_targets == "paraphrases"
    assert Preset.from_dict(get_preset("cpu-small").to_dict()).train.text_targets == "pooled"


def test_a_few_training_steps_lower_the_loss_and_beat_chance(parts, tmp_path):
    """A correctness floor for training itself: on the synthetic cases (three kinds of
    lesion), a short run lowers the loss and then names the lesions far above chance
    (1/124 coarse, 1/387 fine) — a loss or a data path that learns nothing fails here."""
    from anatloc.retriever.infer import Localizer

    ont, recs, f2c, bank = parts
    preset = get_preset("cpu-small", epochs=6, lr=3e-3, **{**SMALL, "batch_size": 6})
    src = TableSource(recs, ont.curies("fine"), f2c, preset.data)
    losses: list[float] = []

    def progress(ev):
        if ev.get("event") == "step":
            losses.append(ev["loss"])

    out = tmp_path / "floor.pt"
    train(preset, src, ont, out, val_source=src, text_bank=bank, device="cpu", progress=progress)
    assert len(losses) >= 10 and losses[-1] < 0.8 * losses[0]
    loc = Localizer.from_checkpoint(out, device="cpu", ontology=ont)
    preds = loc.predict(recs)
    truth = [r.locations[0] for r in recs]
    coarse_ok = sum(ont[p.curie].parent == ont[t].parent for p, t in zip(preds, truth, strict=True))
    assert coarse_ok >= len(recs) // 2, [p.location for p in preds]


def test_a_tiny_run_gives_the_same_losses_and_events_for_the_same_seed(parts, tmp_path):
    """Pins a tiny run (two epochs of two steps, validation, seed 7): the reported losses,
    accuracies, learning rates and validation numbers, and the order of the events.  A
    change to how training is organised must not change what it computes."""
    ont, _, _, bank = parts
    p = get_preset("cpu-small", **SMALL, epochs=2, seed=7, loader_workers=0)
    events: list[dict] = []
    r = train(
        p, Stream(), ont, tmp_path / "pin.pt", val_source=Stream(), text_bank=bank,
        device="cpu", progress=events.append,
    )  # fmt: skip
    assert [e["event"] for e in events] == ["start"] + ["step", "step", "epoch"] * 2
    steps = [e for e in events if e["event"] == "step"]
    approx = pytest.approx
    assert [e["loss"] for e in steps] == approx([11.1902, 10.9252, 10.6815, 10.4025], rel=1e-3)
    assert [e["lr"] for e in steps] == approx([2e-3, 1.51e-3, 5.3e-4, 4e-5], rel=1e-6)
    assert [(e["acc_fine"], e["acc_coarse"]) for e in steps] == [
        (0.0, 0.0), (1.0, 1.0), (0.25, 1.0), (0.25, 1.0)
    ]  # fmt: skip
    assert [e["scale"] for e in steps] == approx([14.2857, 14.2572, 14.2767, 14.2702], rel=1e-3)
    assert [e["val"] for e in steps[:2]] == [{}, {}]
    assert steps[2]["val"]["fine_top1"] == 0.375 and steps[2]["val"]["epoch"] == 1
    epochs = [(e["epoch"], e["val"]["fine_top1"], e["improved"]) for e in events[3::3]]
    assert epochs == [(1, 0.375, True), (2, 0.25, False)]
    assert events[0] == {
        "event": "start", "parameters": 2249121, "steps_per_epoch": 2, "epochs": 2,
        "device": "cpu", "world_size": 1, "negatives": "walker",
    }  # fmt: skip
    assert (r.stopped, r.epochs, r.steps, r.parameters) == ("done", 2, 4, 2249121)
    assert r.metrics == {"n": 8, "fine_top1": 0.375, "fine_top3": 1.0, "coarse_top1": 1.0}
    assert [h["epoch"] for h in r.history] == [1, 2]
    ck = read_checkpoint(tmp_path / "pin.pt")
    assert ck["metrics"]["best"]["epoch"] == 1 and ck["training"]["steps"] == 2
    assert read_checkpoint(r.last)["resume"]["state"]["step"] == 4
