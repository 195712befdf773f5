"""Retriever speed and size: batched inference, patch cutting, a training step, the text bank.

    python bench/retriever.py [--json] [--threads 2] [--preset cpu-small] [--text]

* ``infer_ms_per_lesion``: patch encoding + coarse-to-fine retrieval of a batch of network
  inputs (the text side computed once beforehand), per lesion, for several batch sizes —
  patch cutting excluded;
* ``patch_ms_per_lesion``: cutting both scales of 32 lesions from a whole-body-sized case
  (CT 512×512×300 at 0.98×0.98×3 mm, PET 200×200×300 at 4×4×3 mm; random intensities);
* ``train_step_ms``: one optimisation step of a batch (forward, both losses with the walker's
  bands, backward, AdamW);
* ``checkpoint_mb`` and ``parameters``;
* ``text_bank_s``: cold (the real sentence encoder, only with ``--text``) and warm (cache).

Weights are random: speed does not depend on them.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
import torch
from _common import emit, machine, timeit

from anatloc.ontology import load_ontology
from anatloc.retriever.config import get_preset
from anatloc.retriever.data import Sample
from anatloc.retriever.hierarchy import fine_to_coarse_table
from anatloc.retriever.infer import Localizer
from anatloc.retriever.loss import contrastive_loss
from anatloc.retriever.model import Retriever, count_parameters
from anatloc.retriever.negatives import NegativeBands
from anatloc.retriever.nifti import make_volume
from anatloc.retriever.patches import CaseImages, Targets, cut_raw, to_channels


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--preset", default="cpu-small")
    ap.add_argument("--text", action="store_true", help="also time a cold text bank (≈ 20 s)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    preset = get_preset(args.preset)
    ont = load_ontology()
    out: dict = {"machine": machine(), "preset": preset.name, "threads": args.threads}

    model = Retriever.from_preset(preset)
    out["parameters"] = count_parameters(model)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    out["weights_mb"] = round(len(buf.getvalue()) / 1e6, 2)

    # -- inference: encode + retrieval ---------------------------------------------------
    loc = Localizer(
        model,
        preset,
        ont,
        torch.randn(124, 384),
        torch.randn(387, 384),
        device=torch.device("cpu"),
    )
    loc.text_embeddings()
    S, S2 = preset.data.local.size, preset.data.context.size
    infer = {}
    for B in (1, 16, 64, 128):
        C = preset.data.in_channels
        x = torch.randn(B, C, S, S, S)
        y = torch.randn(B, C, S2, S2, S2)
        t = timeit(lambda x=x, y=y: loc.retrieve_patches(x, y), repeat=5)
        infer[B] = round(t["median_ms"] / B, 2)
    out["infer_ms_per_lesion"] = infer

    # -- patch cutting from a whole-body-sized case ------------------------------------------
    rng = np.random.default_rng(0)
    ct = make_volume(
        rng.normal(0, 300, (512, 512, 300)).astype(np.float32), np.diag([0.98, 0.98, 3.0, 1])
    )
    pet = make_volume(rng.gamma(2, 1, (200, 200, 300)).astype(np.float32), np.diag([4, 4, 3.0, 1]))
    case = CaseImages(pet=pet, ct=ct)
    n = 32
    centres = rng.uniform(100, 400, (n, 3))
    targets = Targets(np.zeros(n), centres, np.full((n, 3), 15.0))

    def cut():
        for scale in (preset.data.local, preset.data.context):
            raw = cut_raw(
                case, centres, scale, targets, max_supersample=preset.data.max_supersample
            )
            to_channels(raw, True, preset.data)

    t = timeit(cut, repeat=3)
    out["patch_ms_per_lesion"] = round(t["median_ms"] / n, 2)

    # -- one training step ---------------------------------------------------------------------
    from anatloc.retriever.train import collate as collate_batch

    B = preset.train.batch_size
    f2c = fine_to_coarse_table(ont, ont.curies("fine"), ont.curies("coarse")).numpy()
    bands = NegativeBands(ont)
    samples = [
        Sample(torch.randn(C, S, S, S), torch.randn(C, S2, S2, S2), [int(i)], int(f2c[i]))
        for i in rng.integers(0, 387, B)
    ]
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    tc, tf = torch.randn(124, 384), torch.randn(387, 384)

    def step():
        b = collate_batch(samples, f2c)
        ef, sf = bands.masks("fine", b["fine"].numpy())
        ec, sc = bands.masks("coarse", b["coarse"].numpy())
        o = model(b["local"], b["context"], tc, tf)
        loss = contrastive_loss(
            o["image_fine"],
            o["text_fine"],
            o["logit_scale"],
            b["fine"],
            torch.from_numpy(ef),
            torch.from_numpy(sf),
        )["loss"]
        loss = (
            loss
            + contrastive_loss(
                o["image_coarse"],
                o["text_coarse"],
                o["logit_scale"],
                b["coarse"],
                torch.from_numpy(ec),
                torch.from_numpy(sc),
            )["loss"]
        )
        opt.zero_grad()
        loss.backward()
        opt.step()

    out["train_step_ms"] = timeit(step, repeat=5)
    out["train_batch"] = B

    # -- text bank -----------------------------------------------------------------------------
    from anatloc.retriever.text import TextBank

    with tempfile.TemporaryDirectory() as tmp:
        if args.text:
            t0 = time.perf_counter()
            TextBank.build(ont, cache=tmp)
            out["text_bank_cold_s"] = round(time.perf_counter() - t0, 2)
        else:
            from anatloc.retriever.text import text_model_id

            class Fake:
                model_id = text_model_id("")

                def __call__(self, texts):
                    return np.random.default_rng(0).standard_normal((len(texts), 384))

            TextBank.build(ont, Fake(), cache=tmp)
        t0 = time.perf_counter()
        TextBank.build(ont, cache=tmp)
        out["text_bank_warm_s"] = round(time.perf_counter() - t0, 4)
    emit(out, args.json)


if __name__ == "__main__":
    main()
