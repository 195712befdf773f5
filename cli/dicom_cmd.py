"""``anatloc convert``: a DICOM series as a NIfTI file.

Thin: it parses, calls :func:`anatloc.retriever.dicom.convert` and prints what was read;
the file is written atomically by the library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import JsonOpt, print_json
from .predict_cmd import DoseOpt, InjectionOpt, WeightOpt, dicom_options


def convert(
    folder: Annotated[Path, typer.Argument(help="A folder of DICOM files (searched recursively).")],
    out: Annotated[Path, typer.Argument(help="The NIfTI file to write (.nii or .nii.gz).")],
    suv: Annotated[
        bool,
        typer.Option("--suv", help="Convert a PET to SUV (body weight) from its headers."),
    ] = False,
    series: Annotated[
        str | None,
        typer.Option(
            "--series",
            help="SeriesInstanceUID to convert when the folder holds several PT/CT series.",
            show_default=False,
        ),
    ] = None,
    weight: WeightOpt = None,
    dose: DoseOpt = None,
    injection_time: InjectionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a PET or CT DICOM series as NIfTI (RAS affine from the DICOM geometry); with
    --suv a PET's values in SUV."""
    from anatloc.retriever.dicom import convert as convert_series

    opts = dicom_options(None, None, weight, dose, injection_time)
    img = convert_series(folder, out, series_uid=series, to_suv=suv, suv=opts.suv)
    vol = img.volume
    info = {
        "out": str(out),
        "modality": img.series.modality,
        "series_uid": img.series.uid,
        "description": img.series.description,
        "slices": len(img.series.files),
        "shape": list(vol.shape),
        "spacing_mm": [round(float(v), 4) for v in vol.spacing],
        **(img.suv.columns() if img.suv is not None else {}),
    }
    shown = f" {img.series.description!r}" if img.series.description else ""
    suv_text = (
        f", SUV factor {img.suv.factor:.6g} ({img.suv.method})" if img.suv is not None else ""
    )
    typer.echo(
        f"wrote {out}: {img.series.modality} series {img.series.uid}{shown}, "
        f"{'×'.join(str(n) for n in vol.shape)} voxels{suv_text}",
        err=True,
    )
    if as_json:
        print_json(info)
