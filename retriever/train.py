"""Training: the loop behind ``anatloc train``.

* device: CUDA with bf16 autocast when present, else CPU (``device="auto"``);
* seeds: ``TrainConfig.seed`` (+ rank) for torch, numpy and Python;
* AdamW (no weight decay on biases, norms and the temperature), warm-up then cosine (or
  one-cycle, or constant) over the planned steps;
* each step: a batch from a :class:`~anatloc.retriever.data.SampleSource`, one random text
  per term per level (paraphrase augmentation), the loss at both levels over the whole
  vocabulary with the walker's bands (:mod:`.loss`, :mod:`.negatives`), weighted sum
  (``negatives="random"``, the ablation: no bands, every other term an equal negative);
* validation after every epoch (coarse-to-fine retrieval with the pooled texts, as at
  prediction time); the best checkpoint by validation fine top-1 is written to ``out``;
  early stopping after ``patience`` epochs without improvement; a wall-clock budget
  (``max_minutes``);
* a "last" checkpoint with optimizer, scheduler and RNG states (``<out stem>.last.pt``)
  every ``checkpoint_minutes`` and at the end; ``resume`` continues from one (a plain
  checkpoint warm-starts the weights);
* Ctrl-C (SIGINT) and SIGTERM only set a flag (:class:`StopSignals`); the loop looks at it
  between steps (every rank stops at the same step), shuts the batch worker down, writes a
  usable last checkpoint (``training.stopped == "interrupted"``; and ``out`` when none was
  written yet) and raises :class:`TrainingInterrupted`, a ``KeyboardInterrupt``.  A second
  Ctrl-C raises ``KeyboardInterrupt`` at once and writes nothing.  The handlers are set in
  the main thread only, and only while the loop runs;
* DistributedDataParallel when launched by ``torchrun`` (``WORLD_SIZE`` > 1): gloo on CPU,
  nccl on CUDA; each rank reads its share of the data, only rank 0 writes and reports.

Progress goes to a callback (``progress(dict)``); the library prints nothing.

A run is a :class:`Trainer`: its state (model, optimizer, schedule, :class:`RunState`,
history, best metrics, clock) lives in attributes and its parts are methods (set-up, epoch,
step, end of epoch, checkpoints, progress), so each can be read and tested alone;
:func:`train` is the public entry point and only builds one and runs it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from anatloc.ontology.describe import GENERATOR
from anatloc.ontology.errors import DataError, UsageError

from .checkpoint import read_checkpoint, save_checkpoint
from .config import Preset
from .data import Sample, SampleSource
from .hierarchy import fine_to_coarse_table, flat_retrieve, retrieve
from .infer import resolve_device
from .loss import contrastive_loss
from .model import Retriever, count_parameters
from .negatives import NegativeBands
from .text import TextBank

log = logging.getLogger(__name__)

Progress = Callable[[dict[str, Any]], None]


@dataclass
class TrainResult:
    out: Path
    last: Path
    metrics: dict[str, float]
    epochs: int
    steps: int
    stopped: str  # "done" | "early" | "time"
    seconds: float
    parameters: int
    history: list[dict[str, Any]] = field(default_factory=list)


def last_path(out: str | os.PathLike) -> Path:
    """Where the resumable "last" checkpoint of ``out`` goes: ``model.pt`` → ``model.last.pt``."""
    p = Path(out)
    return p.with_name(p.stem + ".last" + (p.suffix or ".pt"))


# -- distributed ---------------------------------------------------------------------------------
@dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    initialized_here: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: torch.device) -> Dist:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    here = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        here = True
    return Dist(rank, world, local, here)


def _all_reduce(t: torch.Tensor, d: Dist, op=None) -> torch.Tensor:
    if d.world_size > 1:
        dist.all_reduce(t, op=op or dist.ReduceOp.SUM)
    return t


# -- stopping -----------------------------------------------------------------------------------
class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on Ctrl-C (SIGINT) or SIGTERM after writing a usable, resumable
    checkpoint to ``last``.  A :class:`KeyboardInterrupt`, so a caller that does not look
    for it still stops."""

    def __init__(self, last: Path, signal_name: str = "SIGINT"):
        super().__init__(f"training interrupted ({signal_name}); a usable checkpoint is in {last}")
        self.last = Path(last)
        self.signal_name = signal_name


class StopSignals:
    """While training, SIGINT and SIGTERM only ask the loop to stop; it looks between steps.

    A ``KeyboardInterrupt`` raised asynchronously can land anywhere: in a ``__del__`` (the
    DataLoader iterator's, which joins its worker at every epoch end; Python reports and
    *swallows* an exception there, so training just went on), inside a queue's lock, half
    way through an optimizer step.  Here the handler sets a flag and nothing else; the loop
    then leaves the orderly way.  The first signal also puts the previous handlers back, so a
    second Ctrl-C raises ``KeyboardInterrupt`` at once (nobody is ever stuck in a slow stop).

    ``notify`` (optional) is called with the signal's name when the first one arrives, from
    the handler itself: it must not write through a buffered stream that the interrupted
    code may be in the middle of using (write to the file descriptor instead).

    Handlers are set only in the main thread (elsewhere Python does not allow it, and no
    signal arrives there anyway) and only for signals not ignored (``SIG_IGN``, as in a
    background job).  Leaving the ``with`` block puts the previous handlers back; a signal
    the loop did not act on (:meth:`acknowledge`) is then delivered again, to them.
    """

    NAMES = ("SIGINT", "SIGTERM")

    def __init__(self, notify: Callable[[str], None] | None = None) -> None:
        self.notify = notify
        self.received: int | None = None
        self._acknowledged = False
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.received is not None

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.received).name if self.received is not None else ""

    def acknowledge(self) -> None:
        """The loop stopped because of the signal: do not deliver it again on exit."""
        self._acknowledged = True

    def _handle(self, signum: int, _frame: Any) -> None:
        first = self.received is None
        if first:
            self.received = signum
        self._restore()
        if first and self.notify is not None:
            try:
                self.notify(signal.Signals(signum).name)
            except Exception:  # a notice must never break the orderly stop
                pass

    def _restore(self) -> None:
        while self._previous:
            sig, prev = self._previous.popitem()
            signal.signal(sig, prev)

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        for name in self.NAMES:
            sig = getattr(signal, name, None)
            if sig is None:
                continue
            prev = signal.getsignal(sig)
            if prev is None or prev == signal.SIG_IGN:  # not set from Python, or ignored
                continue
            try:
                signal.signal(sig, self._handle)
            except (ValueError, OSError):  # not allowed here (an embedded interpreter)
                continue
            self._previous[sig] = prev
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._restore()
        if exc_type is None and self.received is not None and not self._acknowledged:
            signal.raise_signal(self.received)


def _agree(flags: list[bool], d: Dist, device: torch.device) -> list[bool]:
    """Each flag true on any rank (an all-reduce with MAX): every rank decides alike."""
    if d.world_size <= 1:
        return flags
    t = torch.tensor([1.0 if f else 0.0 for f in flags], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


# -- batches ------------------------------------------------------------------------------------
def collate(samples: list[Sample], f2c: np.ndarray) -> dict[str, torch.Tensor]:
    """Stack samples; positives padded with −1: fine (B, P) and their coarse parents."""
    B = len(samples)
    local = torch.stack([torch.as_tensor(s.local, dtype=torch.float32) for s in samples])
    context = torch.stack([torch.as_tensor(s.context, dtype=torch.float32) for s in samples])
    P = max(len(s.fine) for s in samples)
    fine = np.full((B, P), -1, dtype=np.int64)
    coarse_lists = []
    for b, s in enumerate(samples):
        fine[b, : len(s.fine)] = s.fine
        cs = [int(s.coarse)] + [int(f2c[f]) for f in s.fine if int(f2c[f]) != int(s.coarse)]
        coarse_lists.append(list(dict.fromkeys(cs)))
    Pc = max(len(c) for c in coarse_lists)
    coarse = np.full((B, Pc), -1, dtype=np.int64)
    for b, cs in enumerate(coarse_lists):
        coarse[b, : len(cs)] = cs
    return {
        "local": local,
        "context": context,
        "fine": torch.from_numpy(fine),
        "coarse": torch.from_numpy(coarse),
    }


def _take(it: Iterator[Sample], n: int) -> list[Sample]:
    out = []
    for s in it:
        out.append(s)
        if len(out) == n:
            break
    return out


class _Batches(torch.utils.data.IterableDataset):
    """One epoch of collated training batches, made in a worker process.

    Cutting and augmenting patches costs as much CPU as the network step; with the batches
    made by :class:`torch.utils.data.DataLoader` workers the two run side by side.
    """

    def __init__(self, source, epoch: int, rank: int, world: int, batch: int, steps: int, f2c):
        super().__init__()
        self.source, self.epoch, self.rank, self.world = source, epoch, rank, world
        self.batch, self.steps, self.f2c = batch, steps, f2c

    def __iter__(self):
        it = self.source.samples(
            epoch=self.epoch, rank=self.rank, world_size=self.world, train=True
        )
        for _ in range(self.steps):
            batch = _take(it, self.batch)
            if not batch:
                return
            yield collate(batch, self.f2c)


def _worker_init(_worker_id: int) -> None:
    torch.set_num_threads(1)
    # A Ctrl-C on a terminal reaches the whole process group. The worker must not die (or
    # stop) in the middle of handing a batch over: the main process decides when to stop and
    # then shuts the worker down. SIGTERM gets its default back: a forked worker inherits the
    # trainer's stop-flag handler, and the loader's own clean-up terminates a worker that
    # does not exit in time with SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def close_batches(batches: Iterator[dict] | None) -> None:
    """Stop the worker process behind ``batches`` (from :func:`epoch_batches`) now, rather
    than whenever the iterator is garbage-collected; nothing for in-process batches."""
    shutdown = getattr(batches, "_shutdown_workers", None)
    if shutdown is not None:
        shutdown()


def epoch_batches(source, epoch: int, rank: int, world: int, tc, steps: int, f2c) -> Iterator[dict]:
    """The training batches of one epoch, from ``tc.loader_workers`` background processes
    (0: made in this process)."""
    ds = _Batches(source, epoch, rank, world, tc.batch_size, steps, f2c)
    if tc.loader_workers <= 0:
        return iter(ds)
    loader = torch.utils.data.DataLoader(
        ds,
        batch_size=None,
        num_workers=1,  # one stream: the order of samples stays that of the source
        prefetch_factor=4,
        worker_init_fn=_worker_init,
        multiprocessing_context="fork" if hasattr(os, "fork") else None,
        # its own generator: the loader must not draw from the global RNG that the
        # training step uses, or runs with and without workers would differ
        generator=torch.Generator().manual_seed(epoch),
    )
    return iter(loader)


# -- text ---------------------------------------------------------------------------------------
class TextSide:
    """Frozen text embeddings on the device: random text per term (training) or pooled."""

    def __init__(self, bank: TextBank, device: torch.device, pool: str):
        self.emb = {lvl: torch.from_numpy(bank[lvl].emb).to(device) for lvl in ("coarse", "fine")}
        self.mask = {lvl: torch.from_numpy(bank[lvl].mask).to(device) for lvl in ("coarse", "fine")}
        self.pooled = {
            lvl: torch.from_numpy(bank[lvl].pooled(pool)).to(device) for lvl in ("coarse", "fine")
        }

    def sample(self, level: str, gen: torch.Generator | None = None) -> torch.Tensor:
        """(N, dim): one of each term's texts, uniformly (paraphrase augmentation)."""
        m = self.mask[level].float()
        idx = torch.multinomial(m.cpu(), 1, generator=gen).to(m.device)[:, 0]
        return self.emb[level][torch.arange(m.shape[0], device=m.device), idx]

    def targets(self, level: str, how: str, gen: torch.Generator | None = None) -> torch.Tensor:
        """(N, dim) training targets: sampled paraphrases or the retrieval embeddings."""
        return self.pooled[level] if how == "pooled" else self.sample(level, gen)


# -- checkpoint payload --------------------------------------------------------------------------
def checkpoint_payload(
    model: Retriever,
    preset: Preset,
    ont,
    bank: TextBank,
    text_model_path: str,
    *,
    training: dict[str, Any],
    metrics: dict[str, Any],
    resume: dict[str, Any] | None = None,
) -> dict[str, Any]:
    pool = preset.model.text_pool
    coarse, fine = ont.terms("coarse"), ont.terms("fine")
    payload = {
        "preset": preset.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "ontology_hash": ont.content_hash(),
        "coarse_curies": [t.curie for t in coarse],
        "coarse_labels": [t.label for t in coarse],
        "fine_curies": [t.curie for t in fine],
        "fine_labels": [t.label for t in fine],
        "fine_parents": [t.parent for t in fine],
        "text_model": bank.text_model,
        "text_model_path": text_model_path,
        "text_mode": bank.mode,
        "generator": GENERATOR,
        "text_coarse": torch.from_numpy(bank["coarse"].pooled(pool)).to(torch.float16),
        "text_fine": torch.from_numpy(bank["fine"].pooled(pool)).to(torch.float16),
        "training": training,
        "metrics": metrics,
    }
    if resume is not None:
        payload["resume"] = resume
    return payload


# -- validation ---------------------------------------------------------------------------------
@torch.no_grad()
def validate(
    model: Retriever,
    source: SampleSource,
    text: TextSide,
    f2c: torch.Tensor,
    preset: Preset,
    device: torch.device,
    d: Dist,
    batch_size: int,
) -> dict[str, float]:
    """fine top-1/top-3 and coarse top-1 of coarse-to-fine retrieval on ``source``."""
    was = model.training
    model.eval()
    txt = {lvl: model.encode_text(lvl, text.pooled[lvl]) for lvl in ("coarse", "fine")}
    scale = model.scale().float()
    counts = torch.zeros(4, dtype=torch.float64)
    it = source.samples(epoch=0, rank=d.rank, world_size=d.world_size, train=False)
    f2c_np = f2c.cpu().numpy()
    while True:
        batch = _take(it, batch_size)
        if not batch:
            break
        b = collate(batch, f2c_np)
        with torch.autocast(
            device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"
        ):
            img = model.encode_image(b["local"].to(device), b["context"].to(device))
        if preset.model.hierarchical:
            ret = retrieve(
                img.coarse.float() @ txt["coarse"].T,
                img.fine.float() @ txt["fine"].T,
                scale,
                f2c,
                top_k=preset.model.top_k,
            )
        else:
            ret = flat_retrieve(img.fine.float() @ txt["fine"].T, scale, f2c)
        fine = b["fine"].to(device)
        valid = fine >= 0
        hit1 = ((fine == ret.fine[:, None]) & valid).any(1) & ~ret.abstained
        hit3 = ((fine[:, :, None] == ret.fine_top[:, None, :]) & valid[:, :, None]).any(2).any(1)
        coarse = b["coarse"].to(device)
        hitc = ((coarse == ret.coarse[:, None]) & (coarse >= 0)).any(1)
        counts += torch.tensor(
            [len(batch), hit1.sum().item(), hit3.sum().item(), hitc.sum().item()],
            dtype=torch.float64,
        )
    # nccl reduces only tensors on the GPU; gloo takes either
    counts = _all_reduce(counts.to(device), d).cpu()
    model.train(was)
    n = max(1.0, float(counts[0]))
    return {
        "n": int(counts[0]),
        "fine_top1": float(counts[1]) / n,
        "fine_top3": float(counts[2]) / n,
        "coarse_top1": float(counts[3]) / n,
    }


# -- the loop -----------------------------------------------------------------------------------
def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or name.endswith("logit_scale") else decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def _schedule(opt, preset: Preset, total: int, budget_used: Callable[[], float] | None = None):
    """Warm-up, then cosine (or constant / one-cycle) decay over ``total`` steps.

    With a wall-clock budget, ``budget_used()`` (0..1) is the share of it spent: the cosine
    then anneals by whichever runs out first, steps or time, so a run stopped by
    ``--max-minutes`` still ends with a small learning rate.
    """
    tc = preset.train
    if tc.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=tc.lr, total_steps=max(1, total), pct_start=max(0.01, tc.warmup_frac)
        )
    warm = max(1, int(tc.warmup_frac * total))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if tc.schedule == "constant":
            return 1.0
        t = min(1.0, (step - warm) / max(1, total - warm))
        if budget_used is not None:
            t = max(t, min(1.0, budget_used()))
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


@dataclass
class RunState:
    """Where a run stands: what a "last" checkpoint saves and a resume restores
    (``resume["state"]``, a dict with these keys)."""

    epoch: int = 0  # epochs finished
    step: int = 0  # optimizer steps taken
    best: float = -1.0  # the best validation score so far
    bad_epochs: int = 0  # epochs since it last improved
    seconds: float = 0.0  # training time before this process (a resumed run)
    samples: int = 0  # lesions seen, all ranks together

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def restore(self, saved: dict[str, Any]) -> None:
        for f in dataclasses.fields(self):
            if f.name in saved:
                setattr(self, f.name, saved[f.name])


class Trainer:
    """One training run, its state held in attributes rather than in closures.

    ``__init__`` sets everything up in a fixed order (device and process group, seeds, text
    bank, negatives, model, optimizer, schedule, then the checkpoint to resume), so a seed
    gives the same run; :meth:`run` trains and returns a :class:`TrainResult`.  The parts
    of a run are methods: :meth:`run_epoch` (the steps of one epoch and the checks between
    them), :meth:`step` (one optimisation step), :meth:`end_of_epoch` (validation, the best
    checkpoint, patience), :meth:`write` / :meth:`write_final` (checkpoints),
    :meth:`report` (progress) and :meth:`elapsed` (the wall-clock budget).
    """

    def __init__(
        self,
        preset: Preset,
        source: SampleSource,
        ont,
        out: str | os.PathLike,
        *,
        val_source: SampleSource | None = None,
        text_bank: TextBank | None = None,
        text_encoder=None,
        resume: str | os.PathLike | None = None,
        device: str | torch.device = "auto",
        progress: Progress | None = None,
        data_info: dict[str, Any] | None = None,
        on_stop_request: Callable[[str], None] | None = None,
    ) -> None:
        self.preset, self.tc = preset, preset.train
        self.source, self.val_source, self.ont = source, val_source, ont
        self.out = Path(out)
        self.last = last_path(self.out)
        if not self.out.parent.is_dir():
            raise DataError(f"cannot write {self.out}: folder {self.out.parent} does not exist")
        self.progress, self.data_info, self.on_stop_request = progress, data_info, on_stop_request
        self._setup_device(device)
        self._setup_text(text_bank, text_encoder)
        self._setup_model()
        self.state = RunState()
        self.history: list[dict[str, Any]] = []
        self.best_metrics: dict[str, Any] = {}
        if resume is not None:
            self._resume(resume)
        self.net: torch.nn.Module = self.model
        if self.d.world_size > 1:
            self.net = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.dev.index] if self.dev.type == "cuda" else None
            )
        self.use_amp = self.dev.type == "cuda"
        # a resumed run continues the clock (and the budget) where it stopped
        self.t_start = time.monotonic() - self.state.seconds
        self.t_last_ck = time.monotonic()
        self.loss_ema: float | None = None
        self.batches: Iterator[dict] | None = None

    # -- set-up ---------------------------------------------------------------------------------
    def _setup_device(self, device: str | torch.device) -> None:
        dev = resolve_device(device)
        self.d = setup_distributed(dev)
        if dev.type == "cuda":
            dev = torch.device("cuda", self.d.local_rank)
            torch.cuda.set_device(dev)
        self.dev = dev
        seed = self.tc.seed + self.d.rank
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        self.gen = torch.Generator().manual_seed(seed)

    def _setup_text(self, text_bank: TextBank | None, text_encoder) -> None:
        mc = self.preset.model

        def text_progress(done: int, total: int) -> None:
            # only when the bank is not in the cache (an edited ontology)
            self.report(event="text", done=done, total=total)

        bank = text_bank or TextBank.build(
            self.ont,
            text_encoder,
            text_model=mc.text_model,
            mode=mc.text_mode,
            progress=text_progress,
        )
        if bank.mode != mc.text_mode:
            raise UsageError(
                f"the text bank holds {bank.mode!r} texts but the preset asks for "
                f"{mc.text_mode!r} (text_mode); build it with mode={mc.text_mode!r}"
            )
        self.bank = bank
        self.text = TextSide(bank, self.dev, mc.text_pool)
        fine_curies = self.ont.curies("fine")
        self.f2c = fine_to_coarse_table(self.ont, fine_curies, self.ont.curies("coarse")).to(
            self.dev
        )
        self.f2c_np = self.f2c.cpu().numpy()
        # "random" negatives (the ablation): no walker, no exclusions, no semi-hard band
        tc = self.tc
        self.bands = (
            NegativeBands(self.ont, exclude=tc.exclude_ambiguous)
            if tc.negatives == "walker"
            else None
        )
        self.negatives_from = "random" if self.bands is None else self.bands.source
        if self.bands is not None and not self.bands.exclude:
            self.negatives_from += " without exclusions"

    def _setup_model(self) -> None:
        tc = self.tc
        self.model = Retriever.from_preset(self.preset).to(self.dev)
        self.n_params = count_parameters(self.model)
        self.opt = torch.optim.AdamW(_param_groups(self.model, tc.weight_decay), lr=tc.lr)
        per_epoch = tc.samples_per_epoch or len(self.source)
        self.steps_per_epoch = max(1, math.ceil(per_epoch / (tc.batch_size * self.d.world_size)))
        self.budget = tc.max_minutes * 60.0 if tc.max_minutes > 0 else math.inf
        self.t_start = time.monotonic()  # set again once a resume says how long it ran
        self.sched = _schedule(
            self.opt,
            self.preset,
            self.steps_per_epoch * tc.epochs,
            self._budget_used if tc.max_minutes > 0 else None,
        )

    def _budget_used(self) -> float:
        return self.elapsed() / self.budget

    def _resume(self, resume: str | os.PathLike) -> None:
        ck = read_checkpoint(resume)
        try:
            self.model.load_state_dict(ck["state_dict"])
        except RuntimeError as exc:
            raise UsageError(
                f"cannot resume from {resume}: its model does not match the preset "
                f"({str(exc).splitlines()[0]}); resume with the same preset"
            ) from None
        r = ck.get("resume")
        if r is not None:
            self.opt.load_state_dict(r["optimizer"])
            self.sched.load_state_dict(r["scheduler"])
            self.state.restore(r["state"])
            self.history = list(r.get("history", []))
            self.best_metrics = dict(ck.get("metrics", {}).get("best", {}))
            torch.set_rng_state(r["rng"]["torch"])
        self.report(event="resumed", path=str(resume), epoch=self.state.epoch, full=r is not None)

    # -- time, progress, checkpoints --------------------------------------------------------------
    def elapsed(self) -> float:
        return time.monotonic() - self.t_start

    def report(self, **event: Any) -> None:
        if self.progress is not None and self.d.main:
            self.progress(event)

    def training_meta(self, stopped: str = "") -> dict[str, Any]:
        s = self.state
        return {
            "epochs": s.epoch,
            "steps": s.step,
            "samples": s.samples,
            "seconds": round(self.elapsed(), 1),
            "seed": self.tc.seed,
            "device": self.dev.type,
            "precision": "bf16" if self.use_amp else "fp32",
            "world_size": self.d.world_size,
            "parameters": self.n_params,
            "stopped": stopped,
            "data": self.data_info or {},
            "negatives": self.negatives_from,
            "torch": str(torch.__version__),
        }

    def resume_state(self) -> dict[str, Any]:
        s = self.state.as_dict()
        s["seconds"] = self.elapsed()
        return {
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "state": s,
            "history": self.history,
            "rng": {"torch": torch.get_rng_state()},
        }

    def write(
        self, path: Path, *, with_resume: bool, metrics: dict[str, Any], stopped: str = ""
    ) -> None:
        """A checkpoint (rank 0 only); ``with_resume`` adds what a full resume needs."""
        if not self.d.main:
            return
        save_checkpoint(
            path,
            checkpoint_payload(
                self.model,
                self.preset,
                self.ont,
                self.bank,
                self.preset.model.text_model,
                training=self.training_meta(stopped),
                metrics=metrics,
                resume=self.resume_state() if with_resume else None,
            ),
        )

    def _metrics(self) -> dict[str, Any]:
        return {"best": self.best_metrics, "history": self.history}

    def write_final(self, how: str) -> None:
        """The last checkpoint, and ``out`` too when an interrupted run has none yet."""
        self.write(self.last, with_resume=True, metrics=self._metrics(), stopped=how)
        if how == "interrupted" and not self.out.exists():
            self.write(self.out, with_resume=False, metrics=self._metrics(), stopped=how)

    def _checkpoint_when_due(self) -> None:
        """The "last" checkpoint every ``checkpoint_minutes``."""
        minutes = self.tc.checkpoint_minutes
        if minutes > 0 and time.monotonic() - self.t_last_ck > minutes * 60:
            self.write(self.last, with_resume=True, metrics=self._metrics())
            self.t_last_ck = time.monotonic()

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        """Train until the epochs, the patience or the budget run out, or a signal comes."""
        self.model.train()
        self.report(
            event="start",
            parameters=self.n_params,
            steps_per_epoch=self.steps_per_epoch,
            epochs=self.tc.epochs,
            device=self.dev.type,
            world_size=self.d.world_size,
            negatives=self.negatives_from,
        )
        stop = StopSignals(self.on_stop_request if self.d.main else None)
        with stop:
            try:
                stopped = self.run_epochs(stop)
            except KeyboardInterrupt:
                close_batches(self.batches)
                if stop.requested:  # the second Ctrl-C: out at once
                    raise
                # an interrupt raised by other code (a source, a callback): keep what there is
                self.write_final("interrupted")
                raise TrainingInterrupted(self.last) from None
            except BaseException:
                close_batches(self.batches)
                raise
            if stopped == "interrupted":
                stop.acknowledge()
            self.write_final(stopped)
            if self.d.world_size > 1:
                dist.barrier()
                if self.d.initialized_here:
                    dist.destroy_process_group()
        # the handlers are back; a signal that came after the last look was delivered to them
        if stopped == "interrupted":
            raise TrainingInterrupted(self.last, stop.signal_name)
        return TrainResult(
            out=self.out,
            last=self.last,
            metrics=self.best_metrics.get("val", {}) if self.best_metrics else {},
            epochs=self.state.epoch,
            steps=self.state.step,
            stopped=stopped,
            seconds=self.elapsed(),
            parameters=self.n_params,
            history=self.history,
        )

    def run_epochs(self, stop: StopSignals) -> str:
        """The epochs left; how training stopped: done, early, time or interrupted."""
        while self.state.epoch < self.tc.epochs:
            stopped = self.run_epoch(stop)
            if stopped == "interrupted":
                return stopped  # mid-epoch: a resume runs this epoch again
            self.state.epoch += 1
            early = self.end_of_epoch()
            if _agree([stop.requested], self.d, self.dev)[0]:  # a signal during the validation
                return "interrupted"
            if stopped == "time":
                return stopped
            if early:
                return "early"
        return "done"

    def run_epoch(self, stop: StopSignals) -> str:
        """The steps of one epoch; "interrupted" or "time" when it stopped early, else ""."""
        d = self.d
        self.batches = epoch_batches(
            self.source,
            self.state.epoch,
            d.rank,
            d.world_size,
            self.tc,
            self.steps_per_epoch,
            self.f2c_np,
        )
        stopped = ""
        for step_in_epoch in range(self.steps_per_epoch):
            b = next(self.batches, None)
            if b is None:
                raise DataError("the training source gave no samples")
            self.step(b, step_in_epoch)
            # between steps: a signal or the time budget stops every rank at this step
            halt, over = _agree([stop.requested, self.elapsed() > self.budget], d, self.dev)
            if halt or over:
                stopped = "interrupted" if halt else "time"
                break
            self._checkpoint_when_due()
        close_batches(self.batches)
        return stopped

    def _masks(self, b: dict[str, torch.Tensor]) -> dict[str, tuple[Any, Any]]:
        """The walker's excluded and semi-hard negatives of the batch, at both levels."""
        masks: dict[str, tuple[Any, Any]] = {"fine": (None, None), "coarse": (None, None)}
        if self.bands is not None:
            for lvl in masks:
                exc, semi = self.bands.masks(lvl, b[lvl].numpy())
                masks[lvl] = (
                    torch.from_numpy(exc).to(self.dev),
                    torch.from_numpy(semi).to(self.dev),
                )
        return masks

    def _level_loss(self, outp, b, masks, lvl: str) -> dict[str, torch.Tensor]:
        """The contrastive loss of one level (``fine`` or ``coarse``) of the batch."""
        tc = self.tc
        return contrastive_loss(
            outp[f"image_{lvl}"],
            outp[f"text_{lvl}"],
            outp["logit_scale"],
            b[lvl].to(self.dev),
            *masks[lvl],
            label_smoothing=tc.label_smoothing,
            semi_hard_weight=tc.semi_hard_weight,
            margin=tc.margin,
        )

    def step(self, b: dict[str, torch.Tensor], step_in_epoch: int) -> None:
        """One optimisation step on batch ``b``, then its progress event."""
        tc, dev, model = self.tc, self.dev, self.model
        masks = self._masks(b)
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=self.use_amp):
            outp = self.net(
                b["local"].to(dev, non_blocking=True),
                b["context"].to(dev, non_blocking=True),
                self.text.targets("coarse", tc.text_targets, self.gen),
                self.text.targets("fine", tc.text_targets, self.gen),
            )
        lf, lc = (
            self._level_loss(outp, b, masks, "fine"),
            self._level_loss(outp, b, masks, "coarse"),
        )
        loss = tc.fine_weight * lf["loss"] + tc.coarse_weight * lc["loss"]
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"the loss became {loss.item()} at step {self.state.step}; lower --lr"
            )
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if tc.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        self.opt.step()
        self.sched.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0.0, model.max_log_scale)
        self.state.step += 1
        self.state.samples += int(b["local"].shape[0]) * self.d.world_size
        lv = float(loss.detach())
        self.loss_ema = lv if self.loss_ema is None else 0.95 * self.loss_ema + 0.05 * lv
        history = self.history
        self.report(
            event="step",
            epoch=self.state.epoch,
            epochs=tc.epochs,
            step=step_in_epoch + 1,
            steps=self.steps_per_epoch,
            loss=self.loss_ema,
            acc_fine=float(lf["acc"]),
            acc_coarse=float(lc["acc"]),
            lr=self.sched.get_last_lr()[0],
            scale=float(outp["logit_scale"].detach()),
            seconds=self.elapsed(),
            # the last validation; {} when there is none (no validation data)
            val=history[-1] if history and "fine_top1" in history[-1] else {},
        )

    def end_of_epoch(self) -> bool:
        """Validate, keep the best; True when patience is exhausted."""
        tc, s = self.tc, self.state
        m: dict[str, Any] = {}
        if self.val_source is not None:
            m = validate(
                self.model,
                self.val_source,
                self.text,
                self.f2c,
                self.preset,
                self.dev,
                self.d,
                tc.batch_size,
            )
        rec = {"epoch": s.epoch, "step": s.step, "seconds": round(self.elapsed(), 1), **m}
        self.history.append(rec)
        score = m.get("fine_top1", -1.0) + 1e-3 * m.get("coarse_top1", 0.0) if m else None
        improved = score is None or score > s.best
        if improved:
            s.best = score if score is not None else s.best
            s.bad_epochs = 0
            self.best_metrics = {"val": m, "epoch": s.epoch}
            self.write(self.out, with_resume=False, metrics=self._metrics())
        else:
            s.bad_epochs += 1
        self.report(event="epoch", epoch=s.epoch, epochs=tc.epochs, val=m, improved=improved)
        return tc.patience > 0 and s.bad_epochs >= tc.patience


def train(
    preset: Preset,
    source: SampleSource,
    ont,
    out: str | os.PathLike,
    *,
    val_source: SampleSource | None = None,
    text_bank: TextBank | None = None,
    text_encoder=None,
    resume: str | os.PathLike | None = None,
    device: str | torch.device = "auto",
    progress: Progress | None = None,
    data_info: dict[str, Any] | None = None,
    on_stop_request: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train a retriever on ``source`` and write the best checkpoint to ``out``
    (a :class:`Trainer`'s run).

    SIGINT / SIGTERM stop the run after the current step (see :class:`StopSignals`);
    ``on_stop_request(signal_name)`` is told at once, from the signal handler."""
    return Trainer(
        preset,
        source,
        ont,
        out,
        val_source=val_source,
        text_bank=text_bank,
        text_encoder=text_encoder,
        resume=resume,
        device=device,
        progress=progress,
        data_info=data_info,
        on_stop_request=on_stop_request,
    ).run()


def split_records(records, fraction: float, seed: int = 0):
    """(train, validation) records, split by case; ``fraction`` of the cases (at least one
    when there are two or more) are held out."""
    if fraction <= 0:
        return list(records), []
    cases = sorted({r.case_id for r in records})
    if len(cases) < 2:
        return list(records), []
    rng = random.Random(seed)
    rng.shuffle(cases)
    n_val = max(1, round(len(cases) * fraction))
    n_val = min(n_val, len(cases) - 1)
    val_cases = set(cases[:n_val])
    return [r for r in records if r.case_id not in val_cases], [
        r for r in records if r.case_id in val_cases
    ]


def merged_preset(base: Preset, checkpoint_preset: dict[str, Any] | None, **overrides) -> Preset:
    """On resume the checkpoint's settings with the given overrides (fields of any section,
    e.g. ``fov_prob`` or ``epochs``); without one, ``base`` with them."""
    from .config import apply_overrides

    if checkpoint_preset is None:
        return apply_overrides(base, **overrides)
    ck = Preset.from_dict(checkpoint_preset)
    return apply_overrides(dataclasses.replace(ck, name=ck.name), **overrides)
