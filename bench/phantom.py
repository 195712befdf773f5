"""Phantom speed and memory: a whole-body case per profile, patch mode, the training stream,
coverage.

    python bench/phantom.py [--json] [--quick]

Every measurement runs in a child process pinned to one thread (``OMP_NUM_THREADS=1`` …), so
``peak_rss_mb`` is that measurement's own peak (``resource.getrusage`` maxrss).

* ``case.<profile>``: one case (``make_case``, seed 0, case 0) with its stages — ``labels``
  (the atlas's ``rasterize``, mass effect included), ``tissue`` (HU and SUV of every voxel,
  rims and cores), ``lesions`` (placement and painting), ``ct`` (kernel and noise), ``pet``
  (integration, PSF, resampling, noise) — and ``writing`` (NIfTI bytes, gzip, the folder);
* ``patches``: ``render_patch`` of 32³ at 3 mm and 32³ at 12 mm (the retriever's ``cpu-small``
  scales) around random points of one subject with a 20 mm lesion, noise on, rotated;
  ``exact`` evaluates the atlas at every voxel, ``field`` looks the tissue up in the
  subject's 3 mm field (built once: ``field_build_s``); patches/s;
* ``stream``: ``PhantomSource`` samples/s (lesion placement, the acceptable locations, both
  scales with augmentation and the retriever's channel scaling), with the subject's field
  built;
* ``coverage``: ``anatloc phantom coverage`` on the internal profile.

``--quick`` skips the external and severe cases and the coverage.
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
from _common import emit, machine

ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def _peak_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def _model():
    from anatloc.ontology import load_ontology
    from anatloc.phantom.body import body_model

    return body_model(load_ontology())


def run_case(profile: str) -> dict:
    import numpy as np

    from anatloc.phantom.cases import make_case
    from anatloc.phantom.io import case_files, write_case_folder
    from anatloc.phantom.profiles import get_profile

    model = _model()
    prof = get_profile(profile)
    t0 = time.perf_counter()
    case = make_case(model, prof, 0, 0)
    t_render = time.perf_counter() - t0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        write_case_folder(Path(tmp), case.case_id, case_files(case))
        size = sum(p.stat().st_size for p in Path(tmp, case.case_id).iterdir())
    t_write = time.perf_counter() - t0
    stages = {k: round(v, 2) for k, v in case.volumes.timings.items()}
    stages["writing"] = round(t_write, 2)
    return {
        "wall_s": round(t_render + t_write, 2),
        "stages_s": stages,
        "ct_shape": list(case.volumes.ct.shape),
        "ct_voxels_m": round(float(np.prod(case.volumes.ct.shape)) / 1e6, 1),
        "pet_shape": list(case.volumes.pet.shape),
        "lesions": len(case.rows),
        "arms": case.scene.subject.arms,
        "files_mb": round(size / 1e6, 1),
        "peak_rss_mb": _peak_mb(),
    }


def run_patches(n: int) -> dict:
    import numpy as np

    from anatloc.phantom.field import SubjectField
    from anatloc.phantom.lesions import make_lesion
    from anatloc.phantom.patches import render_patch
    from anatloc.phantom.profiles import get_profile
    from anatloc.phantom.render import new_scene

    model = _model()
    prof = get_profile("internal")
    rng = np.random.default_rng(0)
    base = new_scene(model, prof, rng)
    t0 = time.perf_counter()
    field = SubjectField(base, 3.0)
    out: dict = {
        "field_build_s": round(time.perf_counter() - t0, 2),
        "field_mb": round(field.nbytes / 1e6, 1),
    }
    lo, hi = model.atlas.body_bounds(base.subject)
    centres = []
    while len(centres) < n:  # random points inside the body
        p = rng.uniform(lo, hi, (64, 3))
        lab = base.labels_at(p)
        centres += [q for q, v in zip(p, lab, strict=True) if v > 0 and v != model.outside]
    scenes = [
        base.with_lesions([make_lesion(rng, 1, c, 20.0, prof.lesions, "solid_organ", 2.0)])
        for c in centres[:n]
    ]
    for mode, fld, count in (("exact", None, max(4, n // 10)), ("field", field, n)):
        for size, spacing in ((32, 3.0), (32, 12.0)):
            render_patch(
                scenes[0], centres[0], size, spacing, rng=rng, target=1, field=fld
            )  # warm-up
            t0 = time.perf_counter()
            for sc, c in zip(scenes[:count], centres[:count], strict=True):
                render_patch(
                    sc,
                    c,
                    size,
                    spacing,
                    rotation=rng.uniform(-10, 10, 3),
                    rng=rng,
                    target=1,
                    field=fld,
                )
            dt = time.perf_counter() - t0
            out[f"{mode} {size}^3@{spacing:g}mm"] = {
                "patches_per_s": round(count / dt, 1),
                "ms_per_patch": round(1000 * dt / count, 2),
            }
    out["peak_rss_mb"] = _peak_mb()
    return out


def run_stream(n: int) -> dict:
    from anatloc.ontology import load_ontology
    from anatloc.retriever.config import get_preset
    from anatloc.retriever.phantom_source import PhantomSource

    src = PhantomSource(
        "internal", load_ontology(), get_preset("cpu-small").data, seed=0, samples_per_subject=n + 1
    )
    it = src.samples(epoch=0, train=True)
    t0 = time.perf_counter()
    next(it)  # builds the first subject's field
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(n):
        next(it)
    dt = time.perf_counter() - t0
    return {
        "first_sample_s": round(first, 2),
        "samples_per_s": round(n / dt, 1),
        "ms_per_sample": round(1000 * dt / n, 1),
        "note": "samples after the subject's field is built; a new subject (field) every samples_per_subject (default 128)",
        "peak_rss_mb": _peak_mb(),
    }


def run_coverage() -> dict:
    from anatloc.phantom.coverage import coverage
    from anatloc.phantom.profiles import get_profile

    model = _model()
    t0 = time.perf_counter()
    res = coverage(model, get_profile("internal"), seed=0)
    return {
        "wall_s": round(time.perf_counter() - t0, 2),
        "locations": res["locations"],
        "correct": res["correct"],
        "failed": [f["label"] for f in res["failed"]],
        "peak_rss_mb": _peak_mb(),
    }


def child(what: str, arg: str) -> dict:
    env = dict(os.environ, **ONE_THREAD)
    cmd = [sys.executable, __file__, "--child", what, arg]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        return {
            "error": r.stderr.strip().splitlines()[-1]
            if r.stderr.strip()
            else f"exit {r.returncode}"
        }
    return json.loads(r.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true", help="internal case, patches and stream only")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        what, arg = args.child
        fn = {
            "case": run_case,
            "patches": lambda a: run_patches(int(a)),
            "stream": lambda a: run_stream(int(a)),
            "coverage": lambda a: run_coverage(),
        }[what]
        print(json.dumps(fn(arg)))
        return
    out: dict = {"machine": dict(machine(), threads=1)}
    profiles = ["internal"] if args.quick else ["internal", "external", "severe"]
    out["case"] = {p: child("case", p) for p in profiles}
    out["patches"] = child("patches", "100")
    out["stream"] = child("stream", "40")
    if not args.quick:
        out["coverage"] = child("coverage", "-")
    emit(out, args.json)


if __name__ == "__main__":
    main()
