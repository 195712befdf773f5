"""``anatloc baseline ...``: the methods the retriever is measured against.

``anatloc baseline segmentation`` names each lesion by the organ of an organ-level label map
(TotalSegmentator classes) that it overlaps most (``anatloc.retriever.baseline``).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Annotated

import typer

from .common import (
    JsonOpt,
    OntologyOpt,
    check_writable,
    load,
    new_app,
    print_json,
    print_metrics,
)

app = new_app("Baselines to compare the retriever with, on the same lesions and metrics.")


@app.command()
def segmentation(
    ctx: typer.Context,
    data: Annotated[
        Path,
        typer.Option(
            "--data",
            help="Lesion table (CSV); a 'seg' column names each case's TotalSegmentator "
            "multilabel NIfTI, or the cases are phantom cases.",
        ),
    ],
    classes: Annotated[
        Path | None,
        typer.Option(
            "--classes",
            help='Voxel value → class name of the \'seg\' images (JSON {"1": "spleen"} or '
            "TSV index<TAB>class); default: TotalSegmentator v2's 'total' order.",
        ),
    ] = None,
    max_distance: Annotated[
        float,
        typer.Option(
            "--max-distance",
            min=0.0,
            help="A lesion outside every mapped class takes the nearest one within this many "
            "mm (0: none).",
        ),
    ] = 10.0,
    no_degrade: Annotated[
        bool,
        typer.Option(
            "--no-degrade",
            help="Phantom cases: use the organ map as drawn, not spoiled around the lesions.",
        ),
    ] = False,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the phantom organ maps' degradation.")
    ] = 0,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the predictions to this CSV file."),
    ] = None,
    ontology: OntologyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Name each lesion by the organ it overlaps most in an organ label map, and score it
    like 'anatloc evaluate' (fine top-1/top-3, coarse top-1, per region)."""
    from anatloc.ontology.errors import DataError
    from anatloc.ontology.fileio import atomic_write
    from anatloc.retriever.baseline import (
        NO_DEGRADATION,
        Degradation,
        read_classes_file,
        segmentation_baseline,
    )
    from anatloc.retriever.evaluate import evaluate as run_evaluation
    from anatloc.retriever.table import read_lesion_table

    if out is not None:
        check_writable(out, "--out", "p.csv")
    ont = load(ctx, ontology)
    class_names = read_classes_file(classes) if classes is not None else None
    records = read_lesion_table(data, ont)
    run = segmentation_baseline(
        records,
        ont,
        table=data,
        classes=class_names,
        max_distance_mm=max_distance,
        degradation=NO_DEGRADATION if no_degrade else Degradation(),
        seed=seed,
    )
    cm = run.class_map
    if cm.unknown:
        typer.echo(
            f"warning: {len(cm.unknown)} class name(s) are not in the mapping table and count "
            f"as background: {', '.join(cm.unknown[:6])}" + (", …" if len(cm.unknown) > 6 else ""),
            err=True,
        )
    if cm.unresolved:
        typer.echo(
            f"warning: {len(cm.unresolved)} mapped term(s) are not in this ontology and count "
            f"as background: {', '.join(f'{c} → {t}' for c, t in cm.unresolved[:4])}",
            err=True,
        )
    h = run.how
    typer.echo(
        f"{len(records)} lesions in {sum(run.sources.values())} case(s): {h['overlap']} overlap "
        f"an organ, {h['nearest']} took the nearest within {max_distance:g} mm, {h['none']} "
        f"got no answer"
        + (f"; {run.degraded} phantom lesion(s) under-segmented" if run.sources["phantom"] else ""),
        err=True,
    )
    if out is not None:
        rows = [p.as_row() for p in run.predictions]
        cols: list[str] = []
        for r in rows:
            cols += [k for k in r if k not in cols]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        atomic_write(out, buf.getvalue())
        typer.echo(f"wrote {out}", err=True)
    if not any(r.locations for r in records):
        if out is None:
            raise DataError(
                f"{data}: no lesion has locations to score against; give --out to write "
                "the predictions"
            )
        return
    metrics = run_evaluation(run.predictions, records, ont)
    if as_json:
        print_json(metrics)
        return
    print_metrics(metrics, f"segmentation baseline on {data.name}")
