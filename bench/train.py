"""Training throughput: the data side and the model step measured apart, so that one can
see which limits.

    python bench/train.py [--json] [--threads 2] [--preset cpu-small] [--samples 32] [--quick]

* ``model_step``: one optimisation step on a batch of random network inputs (the preset's
  batch size): forward of both towers, both contrastive losses with the walker's negative
  bands, backward, AdamW — what ``anatloc train`` does per step (without gradient clipping
  and the schedule, which are negligible); patches/s = batch / step time;
* ``phantom_stream``: :class:`PhantomSource` rendering samples on the fly (lesion placement,
  acceptable locations, both scales with augmentation and the channel scaling), one
  process, after the subject's field is built (``field_build_s``, once per
  ``samples_per_subject`` = 128 samples; ``amortised`` includes it);
* ``cached``: the same source served from a cache written by ``build_cache`` (decoding the
  stored blocks, augmentation by ``augment_blocks``, channels), one process;
* ``collate``: stacking a batch (``anatloc.retriever.train.collate``);
* ``limit``: which side is slower.  ``anatloc train`` makes batches in one background
  process (``loader_workers=1``) while the main process steps, so a step costs about
  max(data, model) per batch on two cores — when they do not share one core.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
import torch
from _common import emit, machine, timeit

from anatloc.ontology import load_ontology


def make_step(preset, ont, device: torch.device, *, amp: bool = False, batch: int | None = None):
    """(step function, batch size): one training step on random inputs on ``device``."""
    from anatloc.retriever.data import Sample
    from anatloc.retriever.hierarchy import fine_to_coarse_table
    from anatloc.retriever.loss import contrastive_loss
    from anatloc.retriever.model import Retriever
    from anatloc.retriever.negatives import NegativeBands
    from anatloc.retriever.train import collate

    B = batch or preset.train.batch_size
    S, S2 = preset.data.local.size, preset.data.context.size
    C = preset.data.in_channels
    f2c = fine_to_coarse_table(ont, ont.curies("fine"), ont.curies("coarse")).numpy()
    bands = NegativeBands(ont)
    rng = np.random.default_rng(0)
    samples = [
        Sample(torch.randn(C, S, S, S), torch.randn(C, S2, S2, S2), [int(i)], int(f2c[i]))
        for i in rng.integers(0, len(f2c), B)
    ]
    b = collate(samples, f2c)
    masks = {}
    for lvl in ("fine", "coarse"):
        exc, semi = bands.masks(lvl, b[lvl].numpy())
        masks[lvl] = (torch.from_numpy(exc).to(device), torch.from_numpy(semi).to(device))
    torch.manual_seed(0)
    model = Retriever.from_preset(preset).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    tc = torch.randn(len(ont.terms("coarse")), 384, device=device)
    tf = torch.randn(len(f2c), 384, device=device)
    local, context = b["local"].to(device), b["context"].to(device)
    pos = {lvl: b[lvl].to(device) for lvl in ("fine", "coarse")}

    def step():
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
            o = model(local, context, tc, tf)
        loss = sum(
            contrastive_loss(
                o[f"image_{lvl}"], o[f"text_{lvl}"], o["logit_scale"], pos[lvl], *masks[lvl]
            )["loss"]
            for lvl in ("fine", "coarse")
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    return step, B


def stream_rate(src, n: int) -> dict:
    it = src.samples(epoch=0, train=True)
    t0 = time.perf_counter()
    next(it)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(n):
        next(it)
    dt = time.perf_counter() - t0
    return {"first_sample_s": round(first, 2), "samples_per_s": round(n / dt, 1), "n": n}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--preset", default="cpu-small")
    ap.add_argument("--samples", type=int, default=32, help="samples timed per data path")
    ap.add_argument("--repeat", type=int, default=3, help="model steps timed")
    ap.add_argument("--quick", action="store_true", help="16 samples, 2 steps")
    args = ap.parse_args()
    if args.quick:
        args.samples, args.repeat = 16, 2
    torch.set_num_threads(args.threads)
    from anatloc.retriever.config import get_preset
    from anatloc.retriever.phantom_source import PhantomSource
    from anatloc.retriever.train import collate

    preset = get_preset(args.preset)
    ont = load_ontology()
    out: dict = {"machine": machine(), "threads": args.threads, "preset": preset.name}

    # -- the model step ------------------------------------------------------------------------
    step, B = make_step(preset, ont, torch.device("cpu"))
    t = timeit(step, repeat=args.repeat, warmup=1)
    model_rate = B / (t["median_ms"] / 1000)
    out["model_step"] = {
        "batch": B,
        "step_ms": t["median_ms"],
        "patches_per_s": round(model_rate, 1),
        "repeat": args.repeat,
    }

    # -- the data side -------------------------------------------------------------------------
    n = args.samples
    src = PhantomSource("internal", ont, preset.data, seed=0, samples_per_subject=n + 2)
    s = stream_rate(src, n)
    per = 1 / s["samples_per_s"]
    amort = 1 / (per + s["first_sample_s"] / 128)  # a new subject every 128 samples
    out["phantom_stream"] = dict(s, field_build_s=s["first_sample_s"], amortised=round(amort, 1))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        src.build_cache(tmp, n=n, shard_size=n)
        build = time.perf_counter() - t0
        cached = PhantomSource("internal", ont, preset.data, seed=0, cache_dir=tmp)
        c = stream_rate(cached, n)
        out["cached"] = dict(c, build_s=round(build, 1))
        batch = [next(cached.samples(epoch=0, train=True)) for _ in range(B)]
    from anatloc.retriever.hierarchy import fine_to_coarse_table

    f2c = fine_to_coarse_table(ont, ont.curies("fine"), ont.curies("coarse")).numpy()
    tcol = timeit(lambda: collate(batch, f2c), repeat=5)
    out["collate_ms_per_batch"] = tcol["median_ms"]

    rates = {
        "model step": model_rate,
        "phantom stream": amort,
        "cached": c["samples_per_s"],
    }
    out["patches_per_s"] = {k: round(v, 1) for k, v in rates.items()}
    out["limit"] = {
        "phantom stream": "data" if amort < model_rate else "model",
        "cached": "data" if c["samples_per_s"] < model_rate else "model",
    }
    emit(out, args.json)


if __name__ == "__main__":
    main()
