"""Writing volume-mode cases: NIfTI files with RAS affines, byte-identical for the same seed.

Each case goes to its own folder ``OUT/<case_id>/``: ``ct.nii.gz`` (int16 HU),
``pet.nii.gz`` (float32 SUV, on the PET grid), ``labels.nii.gz`` (int16 location index,
CT grid), ``labels.json`` (``{"<index>": {"curie", "label"}}``, 0 = background),
``lesions.nii.gz`` (lesion instance ids, CT grid) and ``case.json`` (the subject and the
lesion parameters).  The files are written into a hidden temporary folder that is renamed
into place, so a case folder is either complete or absent.  ``OUT/lesions.csv`` lists every
lesion of the run in the design's lesion-table format and is written atomically at the end.

Determinism: headers are filled explicitly and the gzip stream carries no time stamp or
file name (``mtime=0``), so the same seed gives the same bytes.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gzip
import io
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from anatloc.ontology.errors import DataError, RefusedError
from anatloc.ontology.fileio import atomic_write

from .body import BodyModel
from .cases import Case, fmt, make_case
from .profiles import Profile

TABLE_COLUMNS = [
    "case_id",
    "lesion_id",
    "ct",
    "pet",
    "mask",
    "mask_label",
    "center_x",
    "center_y",
    "center_z",
    "size_x",
    "size_y",
    "size_z",
    "locations",
    "curies",
    "profile",
    "phantom_suv_max",
    "volume_ml",
    "shape",
    "ct_appearance",
    "deform",
]
COMPRESSLEVEL = 1


def nifti_bytes(
    data: np.ndarray, affine: np.ndarray, description: str = "anatloc phantom"
) -> bytes:
    """A gzipped single-file NIfTI-1 image with a fixed header (sform = qform = affine, code 1)."""
    import nibabel as nib

    img = nib.Nifti1Image(np.asarray(data), np.asarray(affine, float))
    hdr = img.header
    hdr.set_data_dtype(data.dtype)
    hdr.set_xyzt_units("mm", "sec")
    img.set_sform(affine, code=1)
    img.set_qform(affine, code=1)
    hdr["descrip"] = description.encode("ascii")[:79]
    hdr["aux_file"] = b""
    hdr.set_slope_inter(1.0, 0.0)
    raw = img.to_bytes()
    return gzip.compress(raw, compresslevel=COMPRESSLEVEL, mtime=0)


def labels_json(model: BodyModel) -> str:
    d = {
        str(i): {"curie": model.curies[i], "label": model.labels[i]} for i in range(1, model.n + 1)
    }
    return json.dumps(d, indent=1, ensure_ascii=False) + "\n"


def case_files(case: Case) -> dict[str, bytes]:
    """The files of one case folder, name -> bytes."""
    v = case.volumes
    return {
        "ct.nii.gz": nifti_bytes(v.ct, v.ct_grid.affine, "anatloc phantom CT (HU)"),
        "pet.nii.gz": nifti_bytes(v.pet, v.pet_grid.affine, "anatloc phantom PET (SUV)"),
        "labels.nii.gz": nifti_bytes(v.labels, v.ct_grid.affine, "anatloc phantom location index"),
        "lesions.nii.gz": nifti_bytes(
            v.lesion_mask, v.ct_grid.affine, "anatloc phantom lesion ids"
        ),
        "labels.json": labels_json(case.scene.model).encode("utf-8"),
        "case.json": (json.dumps(case.meta(), indent=1, ensure_ascii=False) + "\n").encode("utf-8"),
    }


def write_case_folder(out: Path, case_id: str, files: dict[str, bytes]) -> Path:
    """Write the files into ``out/.<case_id>.tmp`` and rename it to ``out/<case_id>``."""
    tmp = out / f".{case_id}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        for name, data in files.items():
            with open(tmp / name, "wb") as fh:
                fh.write(data)
        final = out / case_id
        old = None
        if final.exists():
            old = out / f".{case_id}.old-{os.getpid()}"
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def table_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(TABLE_COLUMNS)
    for r in rows:
        # the table's lesion id is unique over the run (a case's rows number its lesions
        # 1, 2, … like the mask); it is the lesion table's default id, <case_id>:<mask_label>
        r = {**r, "lesion_id": f"{r['case_id']}:{r['lesion_id']}"}
        w.writerow([fmt(r.get(c, "")) for c in TABLE_COLUMNS])
    return buf.getvalue()


def prepare_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} exists and is not a folder")
    if (out / "lesions.csv").exists() and not force:
        raise RefusedError(
            f"{out} holds a phantom run already (lesions.csv); use --force to overwrite it"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {out}: {exc.strerror}") from None


_CASE_WORKER: dict = {}


def _init_case_worker(model: BodyModel, profile: Profile, out: Path, seed: int) -> None:
    _CASE_WORKER.update(model=model, profile=profile, out=out, seed=seed)


def _render_case(
    model: BodyModel, profile: Profile, out: Path, seed: int, args
) -> tuple[int, str, list[dict]]:
    """Render and write case ``i`` of ``args = (i, lesions_per_case, noise)``: (i, its id,
    its lesion rows)."""
    i, lesions_per_case, noise = args
    case = make_case(model, profile, seed, i, lesions_per_case, noise=noise)
    write_case_folder(out, case.case_id, case_files(case))
    return i, case.case_id, case.rows


def _case_job(args) -> tuple[int, str, list[dict]]:
    """:func:`_render_case` in a worker process set up by :func:`_init_case_worker`."""
    return _render_case(**_CASE_WORKER, args=args)


def generate(
    model: BodyModel,
    profile: Profile,
    out: str | os.PathLike,
    cases: int,
    seed: int,
    *,
    lesions_per_case: int | None = None,
    force: bool = False,
    noise: bool = True,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> list[dict]:
    """Render and write ``cases`` cases; returns the lesion table rows.

    ``workers`` > 1 renders cases in that many processes (each case depends on its seed and
    index alone, so the files are the same bytes as a serial run's; each process needs the
    memory of one case, see docs/benchmarks.md).  ``progress(done, total)`` after each case.
    """
    out = Path(out)
    prepare_out(out, force)
    per_case: list[tuple[str, list[dict]]] = [("", [])] * cases
    args = [(i, lesions_per_case, noise) for i in range(cases)]
    workers = max(1, min(int(workers), cases))
    with contextlib.ExitStack() as stack:
        if workers > 1:
            import multiprocessing as mp

            pool = stack.enter_context(
                mp.get_context("fork").Pool(
                    workers, initializer=_init_case_worker, initargs=(model, profile, out, seed)
                )
            )
            results = pool.imap_unordered(_case_job, args)
        else:
            results = map(functools.partial(_render_case, model, profile, out, seed), args)
        for done, (i, case_id, case_rows) in enumerate(results, 1):
            per_case[i] = (case_id, case_rows)
            if progress is not None:
                progress(done, cases)
    ids = [case_id for case_id, _ in per_case]
    rows = [r for _, case_rows in per_case for r in case_rows]
    atomic_write(out / "lesions.csv", table_text(rows))
    run = {
        "generator": "anatloc phantom",
        "profile": profile.as_dict(),
        "seed": seed,
        "cases": ids,
        "lesions_per_case": lesions_per_case,
        "ontology_hash": model.content_hash,
        "phantom_key": model.phantom_key,
    }
    atomic_write(out / "phantom.json", json.dumps(run, indent=1) + "\n")
    return rows
