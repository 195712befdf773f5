"""The realism battery: the model on phantom test sets that each depart from the training
profile in one named way, and on the real development cases when they are present.

    python bench/realism.py [--json] [--model PATH ...] [--n 96] [--shifts a,b,...]
                            [--real-dev DIR] [--sets DIR] [--quick]

Shifts (``anatloc.phantom.realism.SHIFTS``): fields of view (vertex–thigh, skull base–thigh,
chest–abdomen–pelvis, abdomen–pelvis, a 195–225 mm cube, an edge within 2 cm), bodies (arms
down, arms up, heavy, child), disease (nodes of one drainage basin, bulky nodes, bone and
liver metastases, SUVmax 15–60, necrotic centres) and scanners (PET only; PET voxels of 2,
4 and 5.5 mm at 4, 6 and 8 mm resolution; low counts; contrast CT; 5 mm CT slices; metal
streaks), and ``reference`` (no departure); and three *scenarios* that combine departures
the way the real scans that broke earlier models did (PET only with bulky neck nodes in a
heavy body, a contrast abdomen-pelvis CT, a large thigh tumour at the field's edge).  Each
is ``--n`` lesions of seed 7919, rendered once into ``--sets`` (default ``runs/realism``) and reused by later runs.

For each model and shift: n, fine top-1, fine top-3, coarse top-1 and the worst three
confusions (coarse truth → coarse answer); ``summary``: how many of the single shifts
(scenarios apart) reach the targets of coarse top-1 ≥ 90 % and fine top-1 ≥ 75 %, and
their means.  ``real_dev``: the same on
``../shared/realdata-dev/head-neck-crops/lesions.csv`` (through the NIfTI path, as
``anatloc evaluate`` reads it) when that folder exists, with each lesion's answer.
With one ``--model``, ``--json`` prints ``{"shifts": {NAME: {...}}, "real_dev": {...}}``;
with several, ``{"models": {PATH: {"shifts": ..., "real_dev": ...}}}``.  ``--quick``: 8
lesions of three shifts (checks that the battery runs; its figures mean nothing).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine

REAL_DEV = Path(__file__).resolve().parents[2] / "shared" / "realdata-dev" / "head-neck-crops"
QUICK_SHIFTS = ("reference", "fov-cube", "scanner-pet-only")


def load_sets(names, ont, data, n: int, folder: Path, log) -> dict:
    """The rendered sets of ``names`` for ``data``'s patch geometry (rendered when missing)."""
    from anatloc.phantom.body import body_model
    from anatloc.phantom.realism import get_shift
    from anatloc.retriever.battery import BATTERY_SEED, ShiftSet, render_shift, shift_key

    folder.mkdir(parents=True, exist_ok=True)
    key_model = body_model(ont).phantom_key
    sets, subjects, last_body = {}, {}, None
    # shifts with the same bodies next to each other, so that each body is built once
    order = sorted(names, key=lambda s: repr(_body(get_shift(s))))
    for name in order:
        shift = get_shift(name)
        key = shift_key(shift, data, n, BATTERY_SEED, key_model)
        tag = f"{name}-{data.local.size}x{data.local.spacing:g}-{data.context.size}x{data.context.spacing:g}-n{n}"
        path, meta = folder / f"{tag}.npz", folder / f"{tag}.json"
        if path.is_file() and meta.is_file() and json.loads(meta.read_text()) == key:
            sets[name] = ShiftSet.load(path)
            continue
        if _body(shift) != last_body:
            subjects.clear()
            last_body = _body(shift)
        t0 = time.perf_counter()
        s = render_shift(shift, ont, data, n, subjects=subjects)
        s.save(path)
        meta.write_text(json.dumps(key, indent=1) + "\n")
        log(f"rendered {name}: {len(s)} lesions in {time.perf_counter() - t0:.0f} s")
        sets[name] = s
    return {name: sets[name] for name in names}


def _body(shift):
    v = shift.variation
    return (v.height_mm, v.girth, v.p_arms_up, v.uptake_spread, v.contrast_prob)


def real_dev(loc, folder: Path) -> dict | None:
    """The real development cases through the NIfTI path, with each lesion's answer."""
    table = folder / "lesions.csv"
    if not table.is_file():
        return None
    from anatloc.retriever.evaluate import evaluate
    from anatloc.retriever.table import read_lesion_table

    records = read_lesion_table(table, loc.ont)
    preds = loc.predict(records)
    m = evaluate(preds, records, loc.ont)
    return {
        "n": m["n"],
        "fine_top1": m["fine_top1"],
        "fine_top3": m["fine_top3"],
        "coarse_top1": m["coarse_top1"],
        "answers": {p.case_id: p.location for p in preds},
    }


def run_model(path: str | None, names, args, log) -> dict:
    from anatloc.ontology import load_ontology
    from anatloc.phantom.realism import SHIFTS
    from anatloc.retriever.battery import evaluate_shift
    from anatloc.retriever.infer import Localizer
    from anatloc.retriever.predict import shipped_model_path

    model = Path(path) if path else shipped_model_path()
    loc = Localizer.from_checkpoint(model, device="cpu", ontology=load_ontology())
    sets = load_sets(names, loc.ont, loc.preset.data, args.n, Path(args.sets), log)
    out = {"model": str(model), "shifts": {}}
    for name, s in sets.items():
        out["shifts"][name] = {
            "description": SHIFTS[name].description,
            **evaluate_shift(loc, s),
        }
    out["summary"] = summary(out["shifts"])
    if args.real_dev and Path(args.real_dev).is_dir():
        out["real_dev"] = real_dev(loc, Path(args.real_dev))
    return out


def summary(shifts: dict) -> dict:
    """The single shifts (not the scenarios) against the targets of coarse top-1 ≥ 0.90 and
    fine top-1 ≥ 0.75, and their mean top-1s."""
    from anatloc.phantom.realism import SHIFTS

    single = {k: v for k, v in shifts.items() if not SHIFTS[k].is_scenario}
    if not single:
        return {"single_shifts": 0}
    n = len(single)
    return {
        "single_shifts": n,
        "coarse_top1_ge_0.90": sum(v["coarse_top1"] >= 0.9 for v in single.values()),
        "fine_top1_ge_0.75": sum(v["fine_top1"] >= 0.75 for v in single.values()),
        "mean_coarse_top1": sum(v["coarse_top1"] for v in single.values()) / n,
        "mean_fine_top1": sum(v["fine_top1"] for v in single.values()) / n,
    }


def table(res: dict) -> str:
    lines = [
        f"model: {res['model']}",
        "shift                            n  fine@1  fine@3  coarse@1  worst confusions",
    ]
    for name, m in res["shifts"].items():
        worst = "; ".join(f"{c['truth']}→{c['answer']} ×{c['n']}" for c in m["worst_confusions"])
        lines.append(
            f"{name:30s} {m['n']:4d}  {m['fine_top1']:6.3f}  {m['fine_top3']:6.3f}  "
            f"{m['coarse_top1']:8.3f}  {worst}"
        )
    sm = res.get("summary", {})
    if sm.get("single_shifts"):
        lines.append(
            f"single shifts: {sm['coarse_top1_ge_0.90']} of {sm['single_shifts']} at coarse@1 ≥ 0.90, "
            f"{sm['fine_top1_ge_0.75']} at fine@1 ≥ 0.75; mean coarse@1 "
            f"{sm['mean_coarse_top1']:.3f}, fine@1 {sm['mean_fine_top1']:.3f}"
        )
    rd = res.get("real_dev")
    if rd:
        lines.append(
            f"real_dev                       {rd['n']:4d}  {rd['fine_top1']:6.3f}  {rd['fine_top3']:6.3f}  "
            f"{rd['coarse_top1']:8.3f}  " + "; ".join(f"{k}: {v}" for k, v in rd["answers"].items())
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--model", action="append", help="checkpoint (repeatable; default: shipped)")
    ap.add_argument("--n", type=int, default=96, help="lesions per shift")
    ap.add_argument("--shifts", help="comma-separated shift names (default: all)")
    ap.add_argument("--real-dev", default=str(REAL_DEV), help="folder with lesions.csv")
    ap.add_argument("--sets", default="runs/realism", help="where rendered sets are kept")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)

    import torch

    from anatloc.phantom.realism import SHIFTS

    if args.threads:
        torch.set_num_threads(args.threads)
    names = list(SHIFTS) if not args.shifts else [s.strip() for s in args.shifts.split(",")]
    if args.quick:
        names, args.n = [s for s in names if s in QUICK_SHIFTS] or list(QUICK_SHIFTS), 8
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    results = [run_model(m, names, args, log) for m in (args.model or [None])]
    if args.json:
        if len(results) == 1:
            out = {"machine": machine(), **results[0]}
        else:
            out = {"machine": machine(), "models": {r["model"]: r for r in results}}
        print(json.dumps(out, indent=1))
    else:
        print("\n\n".join(table(r) for r in results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
