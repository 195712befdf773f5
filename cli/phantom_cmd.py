"""``anatloc phantom ...``: synthetic whole-body PET/CT cases with known lesion locations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import JsonOpt, OntologyOpt, load, new_app, print_json, print_table

app = new_app(
    "Synthetic whole-body FDG PET/CT cases drawn from the ontology's atlas, with lesions whose "
    "locations are known (a demonstration and test set, not patient data)."
)

ProfileOpt = Annotated[
    str,
    typer.Option(
        "--profile", "-p", help="Scanner/population profile: internal, external or severe."
    ),
]
SeedOpt = Annotated[int, typer.Option("--seed", "-s", help="Random seed (same seed, same bytes).")]
SpacingOpt = Annotated[
    str | None,
    typer.Option(
        "--spacing",
        help="CT voxel size in mm, one value or x,y,z (default: the profile's); the PET grid is "
        "never finer than the CT grid.",
        show_default=False,
    ),
]


def _profile(name: str, spacing: str | None):
    from anatloc.phantom.profiles import get_profile, parse_spacing

    return get_profile(name).with_spacing(parse_spacing(spacing))


def _model(ctx: typer.Context, ontology: Path | None):
    from anatloc.phantom.body import body_model

    return body_model(load(ctx, ontology))


@app.command()
def generate(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output folder (one subfolder per case).")
    ],
    cases: Annotated[int, typer.Option("--cases", "-n", min=1, help="Number of cases.")] = 1,
    profile: ProfileOpt = "internal",
    seed: SeedOpt = 0,
    lesions_per_case: Annotated[
        int | None,
        typer.Option(
            "--lesions-per-case",
            "-k",
            min=0,
            max=250,
            help="Lesions per case (default: drawn from the profile's range).",
            show_default=False,
        ),
    ] = None,
    spacing: SpacingOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite a previous run in --out.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            "-j",
            min=1,
            help="Cases rendered at once, one process each (same files as one at a time; "
            "each process needs about 1 GB).",
        ),
    ] = 1,
    ontology: OntologyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Render CASES whole-body cases into OUT/<case_id>/ (CT, PET, labels, lesion mask) and
    the lesion table OUT/lesions.csv."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from anatloc.phantom.io import generate as run
    from anatloc.phantom.io import prepare_out

    prof = _profile(profile, spacing)
    model = _model(ctx, ontology)
    prepare_out(out, force)
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} cases"),
        TimeElapsedColumn(),
        transient=True,
        console=_stderr_console(),
    ) as bar:
        task = bar.add_task(f"phantom {prof.name}", total=cases)
        rows = run(
            model,
            prof,
            out,
            cases,
            seed,
            lesions_per_case=lesions_per_case,
            force=force,
            progress=lambda done, total: bar.update(task, completed=done),
            workers=workers,
        )
    summary = {
        "out": str(out),
        "cases": cases,
        "lesions": len(rows),
        "profile": prof.name,
        "seed": seed,
        "table": str(Path(out) / "lesions.csv"),
    }
    if as_json:
        print_json(summary)
        return
    typer.echo(
        f"wrote {cases} case(s) with {len(rows)} lesion(s) to {out}; lesion table {summary['table']}"
    )


@app.command()
def coverage(
    ctx: typer.Context,
    profile: ProfileOpt = "internal",
    seed: SeedOpt = 0,
    spacing: SpacingOpt = None,
    ontology: OntologyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Place a lesion at every fine location and count those labelled correctly at the
    lesion centre in a rendered case."""
    from anatloc.phantom.coverage import coverage as run

    prof = _profile(profile, spacing)
    res = run(_model(ctx, ontology), prof, seed)
    if as_json:
        print_json(res)
    else:
        typer.echo(
            f"{res['correct']} of {res['locations']} locations labelled correctly ({prof.name}, CT {'x'.join(f'{v:g}' for v in prof.ct.spacing_mm)} mm)"
        )
        if res["failed"]:
            print_table(
                ["curie", "label", "got", "reason"],
                [[f["curie"], f["label"], f["got"], f["reason"]] for f in res["failed"]],
                title="failed",
            )
    if res["failed"]:
        raise typer.Exit(1)


@app.command()
def show(
    case_dir: Annotated[Path, typer.Argument(help="A case folder written by 'phantom generate'.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG to write.")] = Path("mip.png"),
    vmax: Annotated[float, typer.Option("--vmax", min=0.1, help="SUV shown as black.")] = 10.0,
) -> None:
    """Draw the coronal PET MIP with the lesions outlined and numbered, beside a CT slice."""
    from anatloc.phantom.show import render_mip

    path = render_mip(case_dir, out, vmax=vmax)
    typer.echo(f"wrote {path}")


@app.command()
def profiles(as_json: JsonOpt = False) -> None:
    """The scanner/population profiles and what they set."""
    from anatloc.phantom.profiles import PROFILES

    if as_json:
        print_json({n: p.as_dict() for n, p in PROFILES.items()})
        return
    rows = []
    for p in PROFILES.values():
        rows.append(
            [
                p.name,
                "x".join(f"{v:g}" for v in p.ct.spacing_mm),
                f"{p.pet.spacing_mm[0]:g}",
                f"{p.pet.fwhm_mm:g}",
                f"{p.pet.noise_cv:g}",
                f"{p.lesions.per_case[0]}-{p.lesions.per_case[1]}",
                f"{p.lesions.diameter_mm[0]:g}-{p.lesions.diameter_mm[1]:g}",
            ]
        )
    print_table(
        ["profile", "CT mm", "PET mm", "FWHM mm", "PET noise", "lesions", "diameter mm"], rows
    )


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)
