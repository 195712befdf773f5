"""Prediction's last stage: the results of a case and the files they are written to.

:class:`CaseResult` holds a case's :class:`LesionResult` s (prediction, facts, sentence,
outlines) and what the MIP picture needs.  A lesion's row is its own columns (as the lesion
table or boxes file wrote them, or those made for a mask lesion), then
:data:`RESULT_COLUMNS` — the prediction's columns (:data:`.infer.PREDICTION_COLUMNS`), the
sentence, the facts (:data:`.measure.FACT_COLUMNS`) and ``pet_only`` — then the columns a
DICOM input adds.  Written as CSV (:func:`csv_text`; the union of the lesions' columns in
first-seen order, booleans as ``true``/``false``), JSON (:func:`json_data`; numbers and
lists typed) and the PET MIP picture (:func:`render_case_mip`); the report and the DICOM SR
are :mod:`.report` and :mod:`.sr`.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anatloc.ontology.errors import DataError

from .infer import PREDICTION_COLUMNS
from .measure import FACT_COLUMNS, LesionFacts
from .table import CENTER, SIZE
from .uptake import shown

#: columns every prediction row ends with, after the lesion's own columns
RESULT_COLUMNS = (*PREDICTION_COLUMNS, "sentence", *FACT_COLUMNS, "pet_only")


@dataclass
class LesionResult:
    """One lesion's prediction, facts and sentence."""

    number: str  # shown in the picture and the tables
    prediction: Any  # infer.Prediction
    facts: LesionFacts
    sentence: str
    pet_only: bool
    #: outlines for the picture (view name → imaging.mip.Outline)
    outlines: dict[str, Any] = field(default_factory=dict, repr=False)
    #: columns about the images: a DICOM series' UID and how its SUV was made (none for NIfTI)
    images: dict[str, Any] = field(default_factory=dict)

    def as_row(self) -> dict[str, Any]:
        """The lesion's columns, the prediction columns, the sentence and the facts, then
        what the images add (DICOM input only)."""
        row = self.prediction.as_row()
        row["sentence"] = self.sentence
        row.update(self.facts.as_dict())
        row["pet_only"] = self.pet_only
        row.update(self.images)
        return row

    def as_json(self) -> dict[str, Any]:
        """:meth:`as_row` with typed values: numbers for the lesion's coordinates and ids,
        ``top3`` (and ``top3_curies``) as lists."""
        row = self.as_row()
        for k in (*CENTER, *SIZE, "mask_label", "component"):
            v = row.get(k)
            if isinstance(v, str):
                try:
                    row[k] = int(v) if k in ("mask_label", "component") else float(v)
                except ValueError:
                    row[k] = None
        row["top3"] = list(self.prediction.top3)
        row["top3_curies"] = list(self.prediction.top3_curies)
        return row


@dataclass
class CaseResult:
    """The predictions of one case, what the MIP picture needs, and what went on."""

    case_id: str
    pet: Path
    ct: Path | None
    lesions: list[LesionResult]
    mask_mode: str = ""  # "instance", "components" or "" (boxes)
    warnings: list[str] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)
    #: coronal and sagittal PET projections (imaging.mip.View), computed while the PET is read
    views: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def pet_only(self) -> bool:
        return self.ct is None


def prediction_rows(results: Sequence[CaseResult]) -> list[dict[str, Any]]:
    return [les.as_row() for res in results for les in res.lesions]


def csv_text(results: Sequence[CaseResult]) -> str:
    """The predictions as CSV: the union of the lesion columns (first-seen order), then
    :data:`RESULT_COLUMNS`."""
    rows = prediction_rows(results)
    lead: list[str] = []
    for row in rows:
        for k in row:
            if k not in RESULT_COLUMNS and k not in lead:
                lead.append(k)
    columns = lead + list(RESULT_COLUMNS)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for row in rows:
        w.writerow({k: _cell(row.get(k, "")) for k in columns})
    return buf.getvalue()


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def json_data(results: Sequence[CaseResult]) -> dict[str, Any]:
    return {"predictions": [les.as_json() for res in results for les in res.lesions]}


def mip_lesions(result: CaseResult) -> list:
    """The lesions of a case as :class:`anatloc.imaging.mip.MipLesion` s."""
    from anatloc.imaging.mip import MipLesion

    out = []
    for les in result.lesions:
        p = les.prediction
        label = p.location + ("?" if p.abstained else "")
        f = shown(les.facts)
        facts = []
        if f["suv_max"]:
            facts.append(f"SUVmax {f['suv_max']}")
        facts.append(f"{f['long_cm']} × {f['short_cm']} cm")
        legend = f"{label}  ({', '.join(facts)})"
        if p.abstained:
            legend += "  fine location uncertain"
        out.append(MipLesion(les.number, label, legend, dict(les.outlines)))
    return out


def render_case_mip(
    result: CaseResult,
    out: str | os.PathLike | None = None,
    *,
    vmax: float = 10.0,
    height: int = 1000,
    model: str = "",
) -> tuple[bytes, tuple[int, int]]:
    """The case's coronal and sagittal PET MIPs with every lesion outlined, numbered and
    labelled with its predicted location (PNG bytes and size; written when ``out``); the
    title names the case, the subtitle the date, anatloc's version and ``model``."""
    from anatloc.imaging.mip import render_mips

    views = [result.views[v] for v in ("coronal", "sagittal") if v in result.views]
    if not views:
        raise DataError(f"case {result.case_id}: no PET projections were computed")
    n = len(result.lesions)
    title = f"{result.case_id}: {n} lesion{'s' if n != 1 else ''}" + (
        " (PET only)" if result.pet_only else ""
    )
    subtitle = f"{today()} · anatloc {anatloc_version()}" + (f" · {model}" if model else "")
    return render_mips(
        views,
        mip_lesions(result),
        out,
        title=title,
        subtitle=subtitle,
        vmax=vmax,
        height=height,
    )


def anatloc_version() -> str:
    """The installed anatloc's version (``unknown`` outside an installed package)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("anatloc")
    except PackageNotFoundError:
        return "unknown"


def today() -> str:
    """Today's date (UTC, ISO 8601): the date printed on pictures and reports."""
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).date().isoformat()
