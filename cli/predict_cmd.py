"""``anatloc predict`` and ``anatloc demo``: the main job for users.

Thin: they parse, call ``anatloc.retriever.predict`` (and its stages: ``inputs``, ``outputs``)
/ ``anatloc.retriever.demo`` and print.
Data goes to stdout (``--json``, or a table), the CSV to ``--out``; progress, warnings and
timing go to stderr.  torch and nibabel are imported inside the commands.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import (
    AbstainOpt,
    AllowOntologyChangeOpt,
    BatchSizeOpt,
    DeviceOpt,
    JsonOpt,
    OntologyOpt,
    PrecisionOpt,
    TopKOpt,
    check_writable,
    load,
    load_localizer,
    print_json,
    print_table,
)

ModelOpt = Annotated[
    Path | None,
    typer.Option(
        "--model",
        "-m",
        help="Checkpoint (default: the shipped model, retriever/models/default.pt).",
        show_default=False,
    ),
]


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def _cases(ctx, ont, pet, ct, lesions, boxes, table, case_id, dicom):
    from anatloc.ontology.errors import UsageError
    from anatloc.retriever.inputs import CaseInput, cases_from_table

    if table is not None:
        if any(v is not None for v in (pet, ct, lesions, boxes, case_id)):
            raise UsageError(
                "--table names every case's images and lesions; do not combine it with "
                "--pet, --ct, --lesions, --boxes or --case-id"
            )
        if dicom.given():
            raise UsageError(
                f"{', '.join(dicom.given())}: one patient's series and SUV fields; with --table "
                "give each case a folder with one PT and one CT series, or convert with "
                "'anatloc convert'"
            )
        return cases_from_table(table, ont)
    if pet is None:
        raise UsageError(
            "give --pet PET.nii.gz with --lesions MASK.nii.gz or --boxes boxes.csv "
            "(and optionally --ct CT.nii.gz), or --table lesions.csv"
        )
    if lesions is None and boxes is None:
        raise UsageError(
            "say where the lesions are: --lesions MASK.nii.gz (an instance or binary mask) "
            "or --boxes boxes.csv (centres and sizes in world mm)"
        )
    if lesions is not None and boxes is not None:
        raise UsageError("give the lesions as --lesions or as --boxes, not both")
    return [
        CaseInput.from_files(pet, ct=ct, lesions=lesions, boxes=boxes, case_id=case_id, dicom=dicom)
    ]


def dicom_options(
    pet_series: str | None,
    ct_series: str | None,
    weight: float | None,
    dose: float | None,
    injection_time: str | None,
    rois: list[str] | None = None,
):
    """The DICOM options of the command line as the library's :class:`DicomOptions`."""
    from anatloc.retriever.dicom import DicomOptions
    from anatloc.retriever.suv import SuvOverrides, parse_clock

    clock = parse_clock(injection_time) if injection_time is not None else None
    over = SuvOverrides(weight, dose, clock)
    return DicomOptions(pet_series, ct_series, over, tuple(rois or ()))


WeightOpt = Annotated[
    float | None,
    typer.Option(
        "--weight",
        min=1.0,
        max=300.0,
        help="DICOM PET: the patient's weight in kg, instead of PatientWeight.",
        show_default=False,
    ),
]
DoseOpt = Annotated[
    float | None,
    typer.Option(
        "--dose",
        min=0.001,
        help="DICOM PET: the injected activity in MBq, instead of RadionuclideTotalDose.",
        show_default=False,
    ),
]
InjectionOpt = Annotated[
    str | None,
    typer.Option(
        "--injection-time",
        help="DICOM PET: the injection's clock time HH:MM:SS on the scan's day (the day before "
        "when later than the scan), instead of RadiopharmaceuticalStartDateTime/Time.",
        show_default=False,
    ),
]


def _mip_targets(mip: Path, case_ids: list[str], many: bool) -> list[Path]:
    """Where each case's MIP goes: ``mip`` itself, or ``mip/<case_id>.png`` for a folder
    (an existing one, or a new one when there are several cases)."""
    from anatloc.ontology.errors import DataError, UsageError

    if mip.is_dir() or many:
        if mip.exists() and not mip.is_dir():
            raise UsageError(f"--mip {mip} is a file; with --table give a folder for the pictures")
        if not mip.exists():
            parent = mip.parent if str(mip.parent) else Path(".")
            if not parent.is_dir():
                raise DataError(f"cannot write {mip}: folder {parent} does not exist")
        out, seen = [], set()
        for c in case_ids:
            name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in c)
            k, unique = 1, name
            while unique in seen:  # one case id with two sets of images
                k += 1
                unique = f"{name}-{k}"
            seen.add(unique)
            out.append(mip / f"{unique}.png")
        return out
    check_writable(mip, "--mip")
    return [mip]


def predict(
    ctx: typer.Context,
    pet: Annotated[
        Path | None,
        typer.Option(
            "--pet",
            help="PET image in SUV (NIfTI), or a folder of DICOM files (converted to SUV from "
            "its headers).",
            show_default=False,
        ),
    ] = None,
    ct: Annotated[
        Path | None,
        typer.Option(
            "--ct",
            help="CT image (NIfTI or a DICOM folder, any grid; optional: PET-only without it).",
            show_default=False,
        ),
    ] = None,
    pet_series: Annotated[
        str | None,
        typer.Option(
            "--pet-series",
            help="SeriesInstanceUID of the PET when the DICOM folder holds several PT series.",
            show_default=False,
        ),
    ] = None,
    ct_series: Annotated[
        str | None,
        typer.Option(
            "--ct-series",
            help="SeriesInstanceUID of the CT when the DICOM folder holds several CT series.",
            show_default=False,
        ),
    ] = None,
    weight: WeightOpt = None,
    dose: DoseOpt = None,
    injection_time: InjectionOpt = None,
    lesions: Annotated[
        Path | None,
        typer.Option(
            "--lesions",
            help="Lesion mask (NIfTI): an instance mask, or a binary mask that is split into "
            "connected components; or a DICOM SEG (each segment one lesion) or RTSTRUCT (each "
            "ROI one lesion).",
            show_default=False,
        ),
    ] = None,
    roi: Annotated[
        list[str] | None,
        typer.Option(
            "--roi",
            help="With a SEG or RTSTRUCT: the segment label or ROI name to locate (repeat for "
            "several; default: all).",
            show_default=False,
        ),
    ] = None,
    boxes: Annotated[
        Path | None,
        typer.Option(
            "--boxes",
            help="CSV of boxes with the columns center_x, center_y, center_z, size_x, size_y, "
            "size_z (world mm, RAS) and an optional lesion_id.",
            show_default=False,
        ),
    ] = None,
    table: Annotated[
        Path | None,
        typer.Option(
            "--table", help="Lesion table (CSV) of many cases instead of --pet.", show_default=False
        ),
    ] = None,
    case_id: Annotated[
        str | None,
        typer.Option(
            "--case-id",
            help="Case id in the output (default: the PET's file name, or its folder's name "
            "for pet.nii.gz).",
            show_default=False,
        ),
    ] = None,
    model: ModelOpt = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the predictions as CSV.", show_default=False),
    ] = None,
    mip: Annotated[
        Path | None,
        typer.Option(
            "--mip",
            help="Write the coronal and sagittal PET MIP with the lesions outlined and "
            "labelled (PNG; a folder for several cases).",
            show_default=False,
        ),
    ] = None,
    vmax: Annotated[
        float, typer.Option("--vmax", min=0.1, help="SUV shown as black in the MIP.")
    ] = 10.0,
    batch_size: BatchSizeOpt = 64,
    top_k: TopKOpt = None,
    abstain_threshold: AbstainOpt = None,
    blood_pool: Annotated[
        float | None,
        typer.Option(
            "--blood-pool",
            help="The case's mediastinal blood-pool SUV, if you measured it: the sentences grade "
            "uptake against it (default: a typical 1.8).",
            show_default=False,
        ),
    ] = None,
    liver: Annotated[
        float | None,
        typer.Option(
            "--liver",
            help="The case's liver SUVmean, if you measured it (default: a typical 2.4).",
            show_default=False,
        ),
    ] = None,
    sr: Annotated[
        Path | None,
        typer.Option(
            "--sr",
            help="Write a DICOM Structured Report (TID 1500) of the lesions, their locations "
            "as SNOMED CT and anatloc codes, SUVmax, SUVmean and volume; DICOM PET only.",
            show_default=False,
        ),
    ] = None,
    allow_ontology_change: AllowOntologyChangeOpt = False,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = "auto",
    ontology: OntologyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Name the location of every lesion of a PET/CT in report words, with the lesion's
    SUVmax, SUVmean, volume, diameter and a report sentence."""
    from anatloc.retriever.checkpoint import model_path
    from anatloc.retriever.uptake import given_reference

    _check_outputs(out, sr, table is not None)
    reference = given_reference(blood_pool, liver)
    ont = load(ctx, ontology)
    dicom = dicom_options(pet_series, ct_series, weight, dose, injection_time, roi)
    cases = _cases(ctx, ont, pet, ct, lesions, boxes, table, case_id, dicom)
    plan = None
    if sr is not None:
        from anatloc.retriever.sr import plan_sr

        plan = plan_sr(cases[0])  # before the model loads: a bad reference stops here
    targets = (
        _mip_targets(mip, [c.case_id for c in cases], table is not None) if mip is not None else []
    )
    path = model_path(model)

    from anatloc.retriever.outputs import csv_text, json_data

    t0 = time.perf_counter()
    loc = load_localizer(
        path,
        ont,
        device=device,
        precision=precision,
        allow_ontology_change=allow_ontology_change,
        console=_stderr_console(),
    )
    results, pngs = _predict_all(
        loc,
        cases,
        batch_size=batch_size,
        top_k=top_k,
        abstain_threshold=abstain_threshold,
        views=("coronal", "sagittal") if mip is not None else (),
        targets=targets,
        vmax=vmax,
        model_name=path.name,
        reference=reference,
    )
    seconds = time.perf_counter() - t0

    from anatloc.ontology.fileio import atomic_write

    sr_data = None
    if sr is not None and plan is not None:  # made before anything is written
        from anatloc.retriever.sr import sr_bytes

        sr_data = sr_bytes(plan, results[0], ont, model_name=path.name)
    if out is not None:
        atomic_write(out, csv_text(results))
    _write_pictures(pngs)
    _say_done(results, seconds, path.name, [out] if out is not None else [], list(pngs))
    if sr is not None and sr_data is not None:
        atomic_write(sr, sr_data)
        typer.echo(f"wrote {sr}", err=True)
    if as_json:
        print_json(json_data(results))
    elif out is None:
        _print_predictions(results)


def _check_outputs(out: Path | None, sr: Path | None, many: bool) -> None:
    """``--out`` and ``--sr`` can be written (before anything is read)."""
    from anatloc.ontology.errors import UsageError

    if out is not None:
        check_writable(out, "--out")
    if sr is not None:
        if many:
            raise UsageError("--sr writes the report of one case; give --pet, not --table")
        check_writable(sr, "--sr")


def _write_pictures(pngs: dict[Path, bytes]) -> None:
    """The MIP pictures, each written atomically; their folder made when it is new."""
    from anatloc.ontology.fileio import atomic_write

    if pngs:
        folder = next(iter(pngs)).parent
        if not folder.exists():
            folder.mkdir()
        for p, data in pngs.items():
            atomic_write(p, data)


def _predict_all(
    loc, cases, *, batch_size, top_k, abstain_threshold, views, targets, vmax, model_name, reference
) -> tuple[list, dict[Path, bytes]]:
    """Every case predicted under a progress bar (a single case's lesions, or the cases),
    each case's warnings printed and its MIP picture made (``targets``: where each goes) as
    soon as it is predicted, so that its PET projections are freed; ``reference``: the
    blood-pool and liver SUVs the sentences grade uptake against."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from anatloc.retriever.outputs import render_case_mip
    from anatloc.retriever.predict import predict_case

    results = []
    pngs: dict[Path, bytes] = {}
    many = len(cases) > 1
    console = _stderr_console()
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[count]}"),
        TimeElapsedColumn(),
        transient=True,
        console=console,
        disable=not console.is_terminal,  # no bar (nor its blank line) in logs
    ) as bar:
        task = bar.add_task(
            "predicting", total=len(cases) if many else None, count=f"0/{len(cases)} cases"
        )

        def lesion_progress(done: int, total: int) -> None:
            if not many:
                bar.update(task, completed=done, total=total, count=f"{done}/{total} lesions")

        for i, case in enumerate(cases):
            bar.update(task, description=f"predicting {case.case_id}")
            res = predict_case(
                loc,
                case,
                batch_size=batch_size,
                top_k=top_k,
                abstain_threshold=abstain_threshold,
                views=views,
                progress=lesion_progress,
                reference=reference,
            )
            for w in res.warnings:
                bar.console.print(f"warning: {w}", markup=False, highlight=False, soft_wrap=True)
            if targets:
                png, _ = render_case_mip(res, None, vmax=vmax, model=model_name)
                pngs[targets[i]] = png
                res.views = {}  # the picture is made: free the projections
            results.append(res)
            if many:
                bar.update(task, completed=i + 1, count=f"{i + 1}/{len(cases)} cases")
    return results, pngs


def _say_done(results, seconds: float, model_name: str, written: list[Path], pngs) -> None:
    """The summary on stderr: a PET-only warning, what was predicted, the files written."""
    many = len(results) > 1
    n = sum(len(r.lesions) for r in results)
    inputs = "PET only" if all(r.pet_only for r in results) else "PET/CT"
    pet_only = [r.case_id for r in results if r.pet_only]
    if pet_only:
        which = "" if not many else f" ({len(pet_only)} of {len(results)} cases)"
        typer.echo(
            f"warning: no CT given{which}: PET-only answers are less reliable (without the CT "
            "a lesion can be named confidently in the wrong organ); give --ct when there is one",
            err=True,
        )
    typer.echo(
        f"predicted {n} lesion{'s' if n != 1 else ''} in {len(results)} case"
        f"{'s' if len(results) != 1 else ''} ({inputs}) in {seconds:.1f} s with {model_name}",
        err=True,
    )
    for p in [*written, *pngs]:
        typer.echo(f"wrote {p}", err=True)


def _print_predictions(results, truth: dict[str, tuple[str, bool]] | None = None) -> None:
    from anatloc.retriever.uptake import shown

    many = len(results) > 1
    cols = ["case"] if many else []
    cols += ["#", "location", "coarse", "score", "SUVmax", "cm (long × short)", "note"]
    if truth:
        cols.insert(cols.index("location") + 1, "true location")
    rows: list[list[Any]] = []
    for res in results:
        for les in res.lesions:
            p = les.prediction
            f = shown(les.facts)
            note = []
            if p.abstained:
                note.append("fine location uncertain")
            if les.pet_only:
                note.append("PET only")
            row: list[Any] = [res.case_id] if many else []
            row += [
                les.number,
                p.location,
                p.coarse,
                f"{p.score:.2f}",
                f["suv_max"],
                f"{f['long_cm']} × {f['short_cm']}" if f["long_cm"] else "",
                ", ".join(note),
            ]
            if truth:
                true, ok = truth.get(p.lesion_id, ("", False))
                row.insert(cols.index("true location"), f"{'✓' if ok else '✗'} {true}")
            rows.append(row)
    print_table(cols, rows)


def demo(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder to write (refused when not empty).")
    ] = Path("demo"),
    model: ModelOpt = None,
    seed: Annotated[int, typer.Option("--seed", help="The phantom case's seed.")] = 3,
    lesions: Annotated[
        int, typer.Option("--lesions", min=1, max=40, help="Lesions in the case.")
    ] = 6,
    spacing: Annotated[
        str | None,
        typer.Option(
            "--spacing",
            help="The phantom's CT voxel size in mm (one value or x,y,z; default 2,2,3); "
            "coarser is faster.",
            show_default=False,
        ),
    ] = None,
    device: DeviceOpt = "auto",
    force: Annotated[
        bool, typer.Option("--force", help="Replace the demo's files in a non-empty --out.")
    ] = False,
    ontology: OntologyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the main job on a synthetic whole-body PET/CT (no data, no network needed):
    writes predictions.csv, mip.png, report.md and report.html into --out."""
    from anatloc.imaging.spacing import parse_spacing
    from anatloc.retriever.demo import run_demo

    sp = parse_spacing(spacing)
    ont = load(ctx, ontology)
    console = _stderr_console()
    t0 = time.perf_counter()

    def stage(text: str) -> None:
        console.print(f"[dim]{time.perf_counter() - t0:5.1f} s[/dim]  {text} …", highlight=False)

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    # the rendering's steps as a bar on a terminal (like predict's); logs get the stage lines
    with Progress(
        TextColumn("  rendering: {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        transient=True,
        console=console,
        disable=not console.is_terminal,
    ) as bar:
        tasks: list[Any] = []

        def render_progress(done: int, total: int, step: str) -> None:
            if not tasks:  # shown while the phantom renders, gone when it is done
                tasks.append(bar.add_task(step, total=total))
            bar.update(tasks[0], completed=done, description=step)
            if done >= total:
                bar.remove_task(tasks[0])

        res = run_demo(
            out,
            model=model,
            ontology=ont,
            seed=seed,
            lesions=lesions,
            spacing=sp,
            device=device,
            force=force,
            stage=stage,
            render_progress=render_progress,
        )
    for w in res.result.warnings:
        typer.echo(f"warning: {w}", err=True)
    n = len(res.result.lesions)
    if as_json:
        print_json(
            {
                "out": str(res.out),
                "case_id": res.case_id,
                "files": {k: str(v) for k, v in res.files.items()},
                "correct": res.correct,
                "lesions": n,
                "seconds": round(res.timing["total_s"], 1),
                "predictions": [les.as_json() for les in res.result.lesions],
            }
        )
        return
    typer.echo(f"anatloc demo: {res.case_id}, {n} lesions, {res.timing['total_s']:.0f} s")
    width = max(len(k) for k in res.files)
    labels = {
        "predictions.csv": "the predictions",
        "mip.png": "the PET MIP with the lesions labelled",
        "report.md": "the report (Markdown)",
        "report.html": "the report (one HTML file, open it in a browser)",
        "lesions.csv": "the true locations, as a lesion table",
        "case": "the images: ct.nii.gz, pet.nii.gz, lesions.nii.gz",
    }
    for k, v in res.files.items():
        shown = f"{v}{os.sep}" if k == "case" else str(v)
        typer.echo(f"  {k.ljust(width)}  {shown}  ({labels.get(k, '')})")
    _print_predictions([res.result], res.truth)
    typer.echo(
        f"{res.correct} of {len(res.truth)} fine locations right on this synthetic case "
        "(a demonstration, not patient data)"
    )
