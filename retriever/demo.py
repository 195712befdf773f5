"""``anatloc demo``: the main job end to end on a phantom case, offline, in about a minute.

:func:`run_demo` renders one whole-body phantom case (``anatloc.phantom``; its lesion
locations are known), predicts every lesion with the shipped model (or ``model``), and writes
one folder::

    OUT/predictions.csv   the predictions (the columns of ``anatloc predict``)
    OUT/mip.png           coronal and sagittal PET MIPs, lesions outlined, numbered, labelled
    OUT/report.md         the report: findings (one sentence per lesion), a table, the MIP
    OUT/report.html       the same, self-contained (the MIP embedded, no external asset)
    OUT/lesions.csv       the truth as a lesion table (``anatloc predict --table``,
                          ``anatloc evaluate --data`` read it)
    OUT/case/             the case's images: ct.nii.gz, pet.nii.gz, lesions.nii.gz (and
                          labels.nii.gz, labels.json, case.json from the phantom)

Everything is written into a hidden temporary folder beside ``OUT`` first and moved into
place at the end, so a failure leaves ``OUT`` as it was.  A non-empty ``OUT`` is refused
unless ``force``; then the demo's own files in it are replaced and other files are kept.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anatloc.ontology.errors import DataError, RefusedError

#: the demo's default case: the internal profile (what the shipped model is trained on),
#: a seed whose lesions lie in several regions, six lesions
DEMO_PROFILE = "internal"
DEMO_SEED = 3
DEMO_LESIONS = 6
#: what the demo writes into OUT (and replaces there with ``force``)
DEMO_ENTRIES = (
    "predictions.csv",
    "mip.png",
    "report.md",
    "report.html",
    "lesions.csv",
    "case",
)


@dataclass
class DemoResult:
    out: Path
    case_id: str
    files: dict[str, Path]
    result: Any  # predict.CaseResult
    truth: dict[str, tuple[str, bool]]
    timing: dict[str, float] = field(default_factory=dict)
    model: Path | None = None

    @property
    def correct(self) -> int:
        return sum(ok for _, ok in self.truth.values())


def verdict(prediction, names: list[str], curies: list[str]) -> tuple[str, bool]:
    """(the truth and why the answer counts or not, whether it counts) for one lesion whose
    acceptable locations are ``names`` / ``curies`` (the first is the primary one)::

        Vertebra T8 — right
        Spinous process of vertebra T8 — accepted: the truth lists Near vertebra T8 as an
        alternative
        Liver S7 — wrong (the truth also accepts Liver S8)
    """
    p = prediction
    truth = names[0]
    others = names[1:]
    if p.abstained:
        return f"{truth} — not counted: the fine location is uncertain", False
    if p.curie == curies[0]:
        return f"{truth} — right", True
    if p.curie in curies:
        return f"{truth} — accepted: the truth lists {p.location} as an alternative", True
    also = f" (the truth also accepts {', '.join(others)})" if others else ""
    return f"{truth} — wrong{also}", False


def check_out(out: Path, force: bool) -> None:
    """Refuse a non-empty ``out`` without ``force``; ``out`` must be a folder or absent."""
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise RefusedError(
            f"{out} is not empty; use --force to replace the demo's files in it, or choose "
            "another --out"
        )
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise DataError(f"cannot write {out}: folder {parent} does not exist")
    case = out / "case"
    if case.exists() and not (case / "case.json").is_file():
        raise RefusedError(
            f"{case} exists and is not a demo case folder; the demo would replace it — move "
            "it away or choose another --out"
        )


def _move_into_place(tmp: Path, out: Path) -> None:
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        os.replace(tmp, out)
        return
    for name in DEMO_ENTRIES:
        src, dst = tmp / name, out / name
        if not src.exists():
            continue
        old = None
        if dst.is_dir() and not dst.is_symlink():
            old = out / f".{name}.old-{os.getpid()}"
            os.replace(dst, old)
        os.replace(src, dst)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)


def run_demo(
    out: str | os.PathLike,
    *,
    model: str | os.PathLike | None = None,
    ontology=None,
    seed: int = DEMO_SEED,
    lesions: int = DEMO_LESIONS,
    profile: str = DEMO_PROFILE,
    spacing=None,
    device: str = "auto",
    force: bool = False,
    stage: Callable[[str], None] | None = None,
    render_progress: Callable[[int, int, str], None] | None = None,
) -> DemoResult:
    """Generate a phantom case, predict its lesions, write the folder (module docstring).

    ``spacing`` (mm, one value or three) overrides the phantom's CT grid — coarser is faster.
    ``stage(text)`` is told what is being done (for a progress line);
    ``render_progress(done, total, next_step)`` follows the phantom's rendering (for a bar,
    see :func:`anatloc.phantom.cases.make_case`).
    """
    from anatloc.ontology import load_ontology
    from anatloc.phantom.body import body_model
    from anatloc.phantom.cases import make_case
    from anatloc.phantom.io import case_files, table_text, write_case_folder
    from anatloc.phantom.profiles import get_profile

    from .infer import Localizer
    from .predict import CaseInput, csv_text, model_path, predict_case, render_case_mip
    from .report import ReportCase, provenance, write_report

    def say(text: str) -> None:
        if stage is not None:
            stage(text)

    out = Path(out)
    path = model_path(model)  # a missing default model fails before anything is written
    check_out(out, force)
    prof = get_profile(profile).with_spacing(spacing)
    ont = ontology if ontology is not None else load_ontology()
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    say("loading the model")
    loc = Localizer.from_checkpoint(path, device=device, ontology=ont)
    timing["model_s"] = time.perf_counter() - t0

    tmp = out.parent / f".{out.name}.demo-tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        t1 = time.perf_counter()
        say(f"rendering a whole-body phantom case ({prof.name} profile)")
        case = make_case(body_model(ont), prof, seed, 0, lesions, progress=render_progress)
        write_case_folder(tmp, "case", case_files(case))
        rows = []
        for r in case.rows:
            r = dict(r)
            for col in ("ct", "pet", "mask"):
                r[col] = f"case/{Path(r[col]).name}"
            rows.append(r)
        timing["phantom_s"] = time.perf_counter() - t1

        t2 = time.perf_counter()
        say(f"predicting {len(rows)} lesions")
        folder = tmp / "case"
        res = predict_case(
            loc,
            CaseInput(
                case.case_id,
                folder / "pet.nii.gz",
                folder / "ct.nii.gz",
                mask=folder / "lesions.nii.gz",
            ),
        )
        # the paths as they will be after the move: relative to OUT
        for les in res.lesions:
            cols = les.prediction.columns
            for col in ("pet", "ct", "mask"):
                if cols.get(col):
                    cols[col] = f"case/{Path(cols[col]).name}"
        res.pet, res.ct = Path("case/pet.nii.gz"), Path("case/ct.nii.gz")
        timing["predict_s"] = time.perf_counter() - t2

        truth = {}
        by_id = {f"{case.case_id}:{r['lesion_id']}": r for r in rows}
        for les in res.lesions:
            p = les.prediction
            r = by_id.get(p.lesion_id)
            if r is None:
                continue
            truth[p.lesion_id] = verdict(
                p, str(r["locations"]).split("|"), str(r["curies"]).split("|")
            )

        t3 = time.perf_counter()
        say("drawing the MIP and writing the report")
        png, _ = render_case_mip(res, tmp / "mip.png", model=path.name)
        from anatloc.ontology.fileio import atomic_write

        atomic_write(tmp / "predictions.csv", csv_text([res]))
        atomic_write(tmp / "lesions.csv", table_text(rows))
        n_ok = sum(ok for _, ok in truth.values())
        about = [
            f"A synthetic whole-body FDG PET/CT ({prof.name} profile, seed {seed}) with "
            f"{len(rows)} lesions whose locations are known; predicted with {path.name}. "
            f"{n_ok} of {len(truth)} fine locations are right (✓: the answer is the true "
            "location, or one the truth accepts as an alternative — the lesion spans "
            "both; the true location column says which).",
            "The phantom is a demonstration, not patient data: judge a model on real, "
            "independently labelled scans.",
        ]
        write_report(
            tmp,
            [ReportCase(res, png, "mip.png", truth)],
            title="anatloc demo",
            about=about,
            made_by=provenance(path.name, ont),
        )
        timing["report_s"] = time.perf_counter() - t3
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    timing["total_s"] = time.perf_counter() - t0
    files = {name: out / name for name in DEMO_ENTRIES}
    return DemoResult(out, case.case_id, files, res, truth, timing, path)
