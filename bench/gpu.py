"""GPU figures for both presets: bf16 training throughput and batched inference latency.

    python bench/gpu.py [--json] [--device cuda] [--presets cpu-small,paper] [--smoke]

Run by ``bench/gpu.sh``.  Per preset (random weights: speed does not depend on them):

* ``train_patches_per_s``: training steps (forward, both contrastive losses with the
  walker's bands, backward, AdamW) under ``torch.autocast(bfloat16)`` on random inputs of
  the preset's batch size (``bench/train.py``'s step);
* ``infer_ms_per_lesion``: :meth:`Localizer.retrieve_patches` (image encoder in bf16
  autocast, coarse-to-fine retrieval over the text bank computed once) on batches of
  random network inputs already on the device, for several batch sizes — patch cutting
  (CPU) excluded: ``bench/latency.py`` measures it.

``--smoke``: tiny batches and one repeat, to check the script on a machine without a GPU
(``--device cpu``); its figures mean nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch
from _cases import localizer
from _common import emit, machine
from train import make_step

from anatloc.ontology import load_ontology
from anatloc.retriever.config import get_preset


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, dev: torch.device, repeat: int, warmup: int) -> float:
    """Median seconds of ``fn`` (device-synchronised)."""
    for _ in range(warmup):
        fn()
    sync(dev)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync(dev)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def run_preset(name: str, ont, dev: torch.device, smoke: bool) -> dict:
    preset = get_preset(name)
    out: dict = {}
    amp = dev.type == "cuda"
    step, B = make_step(preset, ont, dev, amp=amp, batch=2 if smoke else None)
    dt = timed(step, dev, repeat=1 if smoke else 10, warmup=1 if smoke else 3)
    out["train"] = {
        "batch": B,
        "bf16": amp,
        "step_ms": round(1000 * dt, 2),
        "patches_per_s": round(B / dt, 1),
    }
    del step
    if dev.type == "cuda":
        torch.cuda.empty_cache()
    loc, _ = localizer(name, ont, device=str(dev), shipped=False)
    loc.text_embeddings()
    S, S2 = preset.data.local.size, preset.data.context.size
    infer = {}
    for b in (1, 2) if smoke else (1, 64, 256, 1024):
        C = preset.data.in_channels
        x = torch.randn(b, C, S, S, S, device=dev)
        y = torch.randn(b, C, S2, S2, S2, device=dev)
        try:
            dt = timed(
                lambda x=x, y=y: loc.retrieve_patches(x, y),
                dev,
                repeat=1 if smoke else 5,
                warmup=1 if smoke else 2,
            )
        except torch.OutOfMemoryError:
            infer[b] = None
            break
        infer[b] = round(1000 * dt / b, 3)
        del x, y
    out["infer_ms_per_lesion"] = infer
    if dev.type == "cuda":
        out["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
        torch.cuda.reset_peak_memory_stats()
    return out


def table(res: dict) -> str:
    lines = [
        f"{'preset':<10} {'train bf16 patches/s':>21} "
        + " ".join(f"{'B=' + str(b) + ' ms/les':>13}" for b in next(iter(res.values()))["infer"])
    ]
    for name, r in res.items():
        cells = " ".join(f"{('-' if v is None else f'{v:.3f}'):>13}" for v in r["infer"].values())
        lines.append(f"{name:<10} {r['train']:>21.1f} {cells}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--presets", default="cpu-small,paper")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: checks the script only")
    ap.add_argument("--table", action="store_true", help="print the short table at the end")
    ap.add_argument("--out", help="also write the JSON to this file")
    args = ap.parse_args()
    dev = torch.device(args.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    ont = load_ontology()
    out: dict = {"machine": machine(), "device": str(dev), "smoke": args.smoke}
    for name in args.presets.split(","):
        out[name] = run_preset(name, ont, dev, args.smoke)
    if args.json or not args.table:
        emit(out, args.json)
    if args.out:
        import json

        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    if args.table:
        short = {
            n: {"train": out[n]["train"]["patches_per_s"], "infer": out[n]["infer_ms_per_lesion"]}
            for n in args.presets.split(",")
        }
        print(("(smoke run on " + str(dev) + ": not a measurement)\n") * args.smoke + table(short))


if __name__ == "__main__":
    main()
