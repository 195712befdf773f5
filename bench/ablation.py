"""The ablation study: what each part of the method is worth, on the phantom's test sets.

    python bench/ablation.py --json                       # the full study (~2 h on 2 cores)
    python bench/ablation.py --quick --json               # a smoke run (a few minutes)

Variants (``docs/results.md`` says what each changes):

==============  ================================================================================
``full``        the method: descriptions, walker negatives with semi-hard selection, two scales,
                coarse-to-fine retrieval
``flat``        the ``full`` model's weights, retrieved flat over all 387 fine locations
``labels``      bare labels instead of the augmented descriptions (``text_mode="labels"``)
``random``      random negatives: no walker exclusions, no semi-hard band (``negatives="random"``)
``no-context``  no context scale: no context encoder (``use_context=False``, ``coarse_from="fused"``)
``segmentation`` the segmentation baseline (``anatloc baseline segmentation``)
==============  ================================================================================

Optional variants, run only when named in ``--variants`` (a rerun with the default ones
reuses their trained models):

==============  ================================================================================
``no-semi-hard`` walker exclusions kept, semi-hard band not up-weighted (``semi_hard_weight=1``)
``no-exclusions`` semi-hard band kept, nothing excluded (``exclude_ambiguous=False``)
==============  ================================================================================

Every trained variant gets the same data (one cached phantom training set, ``--cache``), the
same seed, the same number of epochs and the same wall-clock cap (``--budget-minutes``);
the best checkpoint by validation fine top-1 is kept.  The test sets are phantom volumes
rendered once into ``--test-dir`` — internal (seed 100) and external (seed 123), never
seen in training (the training cache is drawn with seed 0, its validation split with seed 1,
by the patch stream) — and every variant is scored through the real NIfTI lesion-table path
(:mod:`anatloc.retriever.infer`, :mod:`anatloc.retriever.evaluate`).

Trained models are kept in ``--work``/models and reused by a rerun with the same settings
(``--retrain`` trains them again), so an interrupted study resumes where it stopped.  A model
whose settings differ from the variant's (the log names the fields) is moved aside to
``NAME.previous.pt`` (or the first free ``NAME.previous-K.pt``) before the variant is
trained again.
The table is written between ``<!-- ablation:begin -->`` and ``<!-- ablation:end -->`` in
``--results`` (default ``docs/results.md``; not written by ``--quick`` unless asked).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("full", "flat", "labels", "random", "no-context", "segmentation")
#: variants run only when asked for by name
OPTIONAL = ("no-semi-hard", "no-exclusions")
ALL = VARIANTS + OPTIONAL
#: what each trained variant overrides in the preset
OVERRIDES: dict[str, dict[str, Any]] = {
    "full": {},
    "labels": {"text_mode": "labels"},
    "random": {"negatives": "random"},
    "no-context": {"use_context": False, "coarse_from": "fused"},
    "no-semi-hard": {"semi_hard_weight": 1.0},
    "no-exclusions": {"exclude_ambiguous": False},
}
TEST_SETS = {"internal": 100, "external": 123}
BEGIN, END = "<!-- ablation:begin -->", "<!-- ablation:end -->"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- data ---------------------------------------------------------------------------------------
def test_set(ont, name: str, seed: int, cases: int, folder: Path, spacing: float | None) -> Path:
    """The phantom test set ``name`` (volume mode), rendered once and reused."""
    from anatloc.phantom.body import body_model
    from anatloc.phantom.io import generate
    from anatloc.phantom.profiles import get_profile

    prof = get_profile(name).with_spacing(spacing)
    tag = f"{name}-seed{seed}-n{cases}" + (f"-s{spacing:g}" if spacing else "")
    out = folder / tag
    model = body_model(ont)
    run = out / "phantom.json"
    if run.is_file() and (out / "lesions.csv").is_file():
        meta = json.loads(run.read_text(encoding="utf-8"))
        same = meta.get("phantom_key") == model.phantom_key  # descriptions may have changed
        if (same or meta.get("ontology_hash") == model.content_hash) and len(
            meta.get("cases", [])
        ) == cases:
            return out
    log(f"rendering the {name} test set: {cases} cases, seed {seed} → {out}")
    out.mkdir(parents=True, exist_ok=True)
    generate(
        model,
        prof,
        out,
        cases,
        seed,
        force=True,
        progress=lambda done, total: log(f"  {name} test case {done}/{total}"),
    )
    return out


def training_data(args, ont, preset):
    """(training source, validation source or None, description) from the cached phantom."""
    from anatloc.retriever.phantom_source import PhantomSource, phantom_sources

    def cache_progress(what):
        last = [0.0]

        def report(done, total):
            if time.monotonic() - last[0] > 30 or done == total:
                last[0] = time.monotonic()
                log(f"{what}: {done}/{total}")

        return report

    cache = Path(args.cache)
    info = {"profile": "internal", "samples": args.samples, "seed": preset.train.seed}
    if args.quick:  # a tiny cache, no validation split (the best is the last epoch)
        folder = cache / "train"
        src = PhantomSource(
            "internal", ont, preset.data, seed=preset.train.seed, n_samples=args.samples
        )
        if not (folder / "manifest.json").is_file():
            log(f"rendering {args.samples} phantom training lesions → {folder}")
            src.build_cache(folder, args.samples, progress=cache_progress("training lesions"))
        train = PhantomSource(
            "internal", ont, preset.data, seed=preset.train.seed, cache_dir=folder
        )
        return train, None, {**info, "cache": str(cache), "validation": 0}
    train, val = phantom_sources(
        "internal", ont, preset, args.samples, cache, args.workers, cache_progress
    )
    return train, val, {**info, "cache": str(cache), "validation": len(val)}


# -- training -----------------------------------------------------------------------------------
def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _differs(ck: dict, training: dict, preset, info: dict) -> str | None:
    """Why a saved model cannot stand for this variant now, or None if it can.  The saved
    preset is read as the checkpoint loader reads it, so a field added to the configuration
    since (with the default that reproduces the old behaviour) is not a difference."""
    from anatloc.ontology.errors import AnatlocError
    from anatloc.retriever.config import Preset

    try:
        saved = Preset.from_dict(ck.get("preset") or {}).to_dict()
    except (AnatlocError, KeyError, TypeError, ValueError) as exc:
        return f"its settings cannot be read ({exc})"
    if not _same(saved, preset.to_dict()):
        a, b = _flat(saved), _flat(preset.to_dict())
        keys = sorted(k for k in a.keys() | b.keys() if not _same(a.get(k), b.get(k)))
        return "other settings: " + ", ".join(keys)
    if not _same(training.get("data"), info):
        return "other training data"
    if training.get("stopped") not in ("done", "time", "early"):
        return "its training did not finish"
    return None


def _set_aside(out: Path, last: Path) -> Path:
    """Move a saved model (``NAME.pt`` and its ``NAME.last.pt``) to the first free
    ``NAME.previous[-K].pt`` before it is trained again, so that no rerun loses a finished
    model, not even one set aside by an earlier rerun; returns the model's new path."""
    from anatloc.retriever.train import last_path

    stem = out.name[: -len(".pt")]
    k = 1
    while True:
        tag = "previous" if k == 1 else f"previous-{k}"
        moved = out.with_name(f"{stem}.{tag}.pt")
        moved_last = last_path(moved)
        if not moved.exists() and not moved_last.exists():
            break
        k += 1
    for src, dst in ((out, moved), (last, moved_last)):
        if src.exists():
            src.replace(dst)
    return moved


def train_variant(name, preset, source, val, ont, bank, info, args) -> tuple[Path, dict]:
    """Train one variant (or reuse its finished model); (checkpoint, training summary)."""
    from anatloc.retriever.checkpoint import read_checkpoint
    from anatloc.retriever.train import last_path, train

    out = Path(args.work) / "models" / f"{name}.pt"
    out.parent.mkdir(parents=True, exist_ok=True)
    last = last_path(out)
    if out.is_file() and last.is_file() and not args.retrain:
        ck, lk = read_checkpoint(out), read_checkpoint(last)
        t = lk.get("training", {})
        why = _differs(ck, t, preset, info)
        if why is None:
            log(f"{name}: reusing {out} (trained {t.get('seconds', 0) / 60:.1f} min)")
            return out, _summary(t, ck)
        kept = _set_aside(out, last)
        log(f"{name}: {why}; retraining (the old model is kept as {kept.name})")

    def progress(ev):
        if ev.get("event") == "epoch":
            v = ev.get("val") or {}
            log(
                f"{name}: epoch {ev['epoch']}/{ev['epochs']}"
                + (f" val fine {v['fine_top1']:.3f} coarse {v['coarse_top1']:.3f}" if v else "")
            )
        elif ev.get("event") == "start":
            log(
                f"{name}: {ev['parameters'] / 1e6:.2f} M parameters, {ev['epochs']} epochs of "
                f"{ev['steps_per_epoch']} steps, negatives: {ev['negatives']}"
            )

    log(f"training {name}")
    res = train(
        preset,
        source,
        ont,
        out,
        val_source=val,
        text_bank=bank,
        device=args.device,
        progress=progress,
        data_info=info,
    )
    lk = read_checkpoint(res.last)
    return out, _summary(lk.get("training", {}), read_checkpoint(out))


def _summary(training: dict, ck: dict) -> dict:
    best = (ck.get("metrics") or {}).get("best") or {}
    return {
        "minutes": round(float(training.get("seconds", 0.0)) / 60.0, 2),
        "epochs": training.get("epochs"),
        "steps": training.get("steps"),
        "stopped": training.get("stopped"),
        "parameters": training.get("parameters"),
        "negatives": training.get("negatives"),
        "best_epoch": best.get("epoch"),
        "val": best.get("val", {}),
    }


# -- evaluation ---------------------------------------------------------------------------------
def evaluate_model(path: Path, ont, records, device: str, hierarchical: bool | None) -> dict:
    from anatloc.retriever.evaluate import evaluate
    from anatloc.retriever.infer import Localizer

    loc = Localizer.from_checkpoint(path, device=device, ontology=ont)
    preds = loc.predict(records, hierarchical=hierarchical)
    return evaluate(preds, records, ont)


def evaluate_baseline(ont, records, table: Path) -> dict:
    from anatloc.retriever.baseline import segmentation_baseline
    from anatloc.retriever.evaluate import evaluate

    run = segmentation_baseline(records, ont, table=table)
    m = evaluate(run.predictions, records, ont)
    log(f"  segmentation: {run.how}, {run.degraded} lesions under-segmented")
    return m


# -- the table ----------------------------------------------------------------------------------
def _pct(m: dict | None, key: str) -> str:
    return f"{100 * m[key]:.1f}" if m else "–"


def table_markdown(result: dict) -> str:
    cfg = result["config"]
    val_n = max(
        (
            int((v.get("train") or {}).get("val", {}).get("n", 0))
            for v in result["variants"].values()
        ),
        default=0,
    )
    lines = [
        BEGIN,
        "",
        f"Phantom test sets: internal {cfg['test_sets']['internal']['lesions']} lesions "
        f"({cfg['test_sets']['internal']['cases']} cases, seed "
        f"{cfg['test_sets']['internal']['seed']}), external "
        f"{cfg['test_sets']['external']['lesions']} lesions "
        f"({cfg['test_sets']['external']['cases']} cases, seed "
        f"{cfg['test_sets']['external']['seed']}). Training: {cfg['samples']} cached phantom "
        f"lesions, {cfg['epochs']} epochs or {cfg['budget_minutes']:g} min per variant, seed "
        f"{cfg['seed']}, preset {cfg['preset']}, {cfg['threads']} threads on {cfg['device']}. "
        f"Run {cfg['date']}, {cfg['total_minutes']:.0f} min in all. Accuracies in %.",
        "",
        "| variant | internal fine top-1 | external fine top-1 | internal coarse top-1 | "
        "external coarse top-1 | internal fine top-3 | external fine top-3 | n (int / ext) | "
        f"validation fine top-1 ({val_n}) | training minutes |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, v in result["variants"].items():
        i, e = v.get("internal"), v.get("external")
        n = f"{i['n'] if i else '–'} / {e['n'] if e else '–'}"
        minutes = v.get("train", {}).get("minutes")
        if minutes is not None and name == "flat":
            minutes = f"{minutes} (the full model)"
        val = v.get("train", {}).get("val") or None
        if name == "flat":
            val = None  # the full model's validation used coarse-to-fine retrieval
        lines.append(
            f"| {name} | {_pct(i, 'fine_top1')} | {_pct(e, 'fine_top1')} | "
            f"{_pct(i, 'coarse_top1')} | {_pct(e, 'coarse_top1')} | {_pct(i, 'fine_top3')} | "
            f"{_pct(e, 'fine_top3')} | {n} | {_pct(val, 'fine_top1')} | "
            f"{'–' if minutes is None else minutes} |"
        )
    lines += ["", END]
    return "\n".join(lines)


def write_results(path: Path, block: str) -> None:
    from anatloc.ontology.fileio import atomic_write

    text = path.read_text(encoding="utf-8") if path.is_file() else "# Results\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n## Ablations\n\n" + block + "\n"
    atomic_write(path, text)


# -- main ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    ap.add_argument("--quick", action="store_true", help="a smoke run: tiny data and budgets")
    ap.add_argument("--budget-minutes", type=float, default=None, help="wall-clock cap per variant")
    ap.add_argument("--epochs", type=int, default=None, help="epochs per variant")
    ap.add_argument("--samples", type=int, default=None, help="cached phantom training lesions")
    ap.add_argument("--test-cases", type=int, default=None, help="cases per test set")
    ap.add_argument(
        "--work", type=Path, default=None, help="models and caches (default runs/ablation)"
    )
    ap.add_argument("--cache", type=Path, default=None, help="phantom training cache folder")
    ap.add_argument("--test-dir", type=Path, default=None, help="phantom test sets folder")
    ap.add_argument("--results", type=Path, default=None, help="markdown file for the table")
    ap.add_argument("--no-results", action="store_true", help="do not write the table")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset")
    ap.add_argument("--workers", type=int, default=2, help="processes rendering the cache")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--retrain", action="store_true", help="train again even if a model exists")
    args = ap.parse_args(argv)

    import torch

    from anatloc.ontology import load_ontology
    from anatloc.retriever.config import get_preset
    from anatloc.retriever.table import read_lesion_table
    from anatloc.retriever.text import TextBank

    q = args.quick
    args.budget_minutes = (
        args.budget_minutes if args.budget_minutes is not None else (1.0 if q else 30.0)
    )
    args.epochs = args.epochs or (2 if q else 12)
    args.samples = args.samples or (64 if q else 8000)
    args.test_cases = args.test_cases or (2 if q else 20)
    args.work = args.work or ROOT / "runs" / ("ablation-quick" if q else "ablation")
    args.cache = args.cache or args.work / f"ph-internal-{args.samples}"
    args.test_dir = args.test_dir or args.work / "tests"
    results = (
        None if args.no_results else (args.results or (None if q else ROOT / "docs" / "results.md"))
    )
    wanted = [v.strip() for v in args.variants.split(",") if v.strip()]
    bad = [v for v in wanted if v not in ALL]
    if bad:
        ap.error(f"unknown variant(s) {', '.join(bad)}; expected {', '.join(ALL)}")
    torch.set_num_threads(args.threads)
    t0 = time.monotonic()
    ont = load_ontology()

    common: dict[str, Any] = dict(
        epochs=args.epochs,
        max_minutes=args.budget_minutes,
        patience=0,
        seed=args.seed,
        checkpoint_minutes=0 if q else 10.0,
    )
    if q:  # small patches (same extents) and batches so that the smoke run takes minutes
        common.update(local_size=16, local_spacing=6.0, context_size=16, context_spacing=24.0)
        common.update(batch_size=8)
    spacing = 6.0 if q else None

    # test sets first: they are cheap to reuse and a bad ontology fails early
    sets = {}
    for name, seed in TEST_SETS.items():
        folder = test_set(ont, name, seed, args.test_cases, args.test_dir, spacing)
        table = folder / "lesions.csv"
        sets[name] = (table, read_lesion_table(table, ont, require_locations=True))

    variants: dict[str, dict] = {}
    trained: dict[str, Path] = {}
    summaries: dict[str, dict] = {}
    need = [v for v in OVERRIDES if v in wanted or (v == "full" and "flat" in wanted)]
    if need:
        base = get_preset("cpu-small", **common)
        source, val, info = training_data(args, ont, base)
        banks: dict[str, TextBank] = {}
        for name in need:
            preset = get_preset("cpu-small", **common, **OVERRIDES[name])
            mode = preset.model.text_mode
            if mode not in banks:
                banks[mode] = (
                    TextBank.for_labels(ont) if mode == "labels" else TextBank.build(ont, mode=mode)
                )
            path, summary = train_variant(name, preset, source, val, ont, banks[mode], info, args)
            trained[name] = path
            summaries[name] = summary
            if name in wanted:
                variants[name] = {"train": summary, "overrides": OVERRIDES[name]}
        if "flat" in wanted:
            variants["flat"] = {
                "train": {**summaries["full"], "note": "the full model's weights"},
                "overrides": {"hierarchical": False},
            }
    if "segmentation" in wanted:
        variants["segmentation"] = {"train": {"minutes": None}, "overrides": {}}

    ordered = {v: variants[v] for v in ALL if v in variants}
    for set_name, (table, records) in sets.items():
        log(f"evaluating on the {set_name} test set ({len(records)} lesions)")
        for name, v in ordered.items():
            if name == "segmentation":
                v[set_name] = evaluate_baseline(ont, records, table)
            else:
                model = trained["full" if name == "flat" else name]
                v[set_name] = evaluate_model(
                    model, ont, records, args.device, False if name == "flat" else None
                )
            m = v[set_name]
            log(
                f"  {name}: fine top-1 {m['fine_top1']:.3f}, coarse top-1 {m['coarse_top1']:.3f}, "
                f"fine top-3 {m['fine_top3']:.3f}"
            )

    result = {
        "variants": ordered,
        "config": {
            "quick": q,
            "preset": "cpu-small",
            "overrides": common,
            "samples": args.samples,
            "epochs": args.epochs,
            "budget_minutes": args.budget_minutes,
            "seed": args.seed,
            "threads": args.threads,
            "device": args.device,
            "cache": str(args.cache),
            "test_sets": {
                name: {
                    "seed": TEST_SETS[name],
                    "cases": args.test_cases,
                    "lesions": len(records),
                    "table": str(table),
                    "spacing_mm": spacing,
                }
                for name, (table, records) in sets.items()
            },
            "date": time.strftime("%Y-%m-%d"),
            "total_minutes": round((time.monotonic() - t0) / 60.0, 1),
            "machine": machine(),
        },
    }
    if results is not None:
        write_results(Path(results), table_markdown(result))
        log(f"wrote the table into {results}")
    if args.json:
        print(json.dumps(result, indent=2, default=_jsonable))
    else:
        print(table_markdown(result))
    return result


def _jsonable(x):
    if dataclasses.is_dataclass(x):
        return dataclasses.asdict(x)
    if isinstance(x, Path):
        return str(x)
    return str(x)


if __name__ == "__main__":
    main()
