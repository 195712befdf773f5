"""A whole case from NIfTI files to predictions, with stage timings and peak memory.

    python bench/e2e.py [--json] [--threads 2] [--lesions 20]

A cached phantom case (``internal`` profile: CT 258×192×631 at 2×2×3 mm, PET 4 mm, an
instance mask with ``--lesions`` lesions) is predicted by
:func:`anatloc.retriever.predict.predict_case` — reading the PET, the mask and the CT over
the lesions' patch extents, cutting the patches in world space, the network and the
coarse-to-fine retrieval, the lesion facts, sentences, outlines and PET projections for
the picture — and the predictions are written as CSV.

The measurement runs in a child process so that ``peak_rss_mb`` (``ru_maxrss``) is the
run's own.  ``import_s``: importing torch and anatloc; ``model_s``: building the localizer
(the shipped ``cpu-small`` checkpoint when there is one, else random weights: ``weights``);
``first``: the first case of the process (includes lazy imports and one-off set-up),
``again``: the same case a second time (steady state).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cases import phantom_case
from _common import emit, machine


def _peak_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def child(threads: int, lesions: int) -> dict:
    t0 = time.perf_counter()
    import torch

    from anatloc.ontology import load_ontology
    from anatloc.retriever.predict import CaseInput, csv_text, predict_case

    torch.set_num_threads(threads)
    out: dict = {"import_s": round(time.perf_counter() - t0, 2)}
    files = phantom_case(lesions, seed=0)
    from _cases import localizer

    t0 = time.perf_counter()
    ont = load_ontology()
    loc, weights = localizer("cpu-small", ont)
    out["model_s"] = round(time.perf_counter() - t0, 2)
    out["weights"] = weights
    case = CaseInput.from_files(files["pet"], ct=files["ct"], lesions=files["mask"])
    with tempfile.TemporaryDirectory() as tmp:
        for run in ("first", "again"):
            t0 = time.perf_counter()
            res = predict_case(loc, case)
            t1 = time.perf_counter()
            Path(tmp, "predictions.csv").write_text(csv_text([res]))
            t2 = time.perf_counter()
            stages = {k: round(v, 3) for k, v in res.timing.items()}
            stages["write_s"] = round(t2 - t1, 3)
            out[run] = {
                "total_s": round(t2 - t0, 3),
                "stages_s": stages,
                "lesions": len(res.lesions),
                "ms_per_lesion": round(1000 * (t2 - t0) / len(res.lesions), 1),
            }
    out["peak_rss_mb"] = _peak_mb()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lesions", type=int, default=20)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.threads, args.lesions)))
        return
    files = phantom_case(args.lesions, seed=0)  # rendered here, outside the measurement
    cmd = [sys.executable, __file__, "--child", "--threads", str(args.threads)]
    cmd += ["--lesions", str(args.lesions)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
    if r.returncode != 0:
        sys.exit(f"the measurement failed:\n{r.stderr}")
    out = {"machine": machine(), "threads": args.threads, "case": str(files["dir"])}
    out.update(json.loads(r.stdout.strip().splitlines()[-1]))
    out["total_s"] = out["first"]["total_s"]
    emit(out, args.json)


if __name__ == "__main__":
    main()
