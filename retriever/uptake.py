"""How FDG-avid a lesion is, in the words readers use, and the numbers a report shows.

A report grades uptake against reference tissue, as Deauville and PERCIST readers do: the
mediastinal blood pool and the liver.  anatloc has no organ segmentation of the user's case,
so it compares the lesion's SUVmax with **typical adult reference values** (named as such,
:data:`TYPICAL_REFERENCE`), not with the case's own blood pool and liver:

==================  ============================================  ===============================
SUVmax              words                                          Deauville analogue
==================  ============================================  ===============================
≤ blood pool        no FDG avidity above blood pool                1–2
≤ liver             mildly FDG-avid                                3
≤ 2 × liver         moderately FDG-avid                            4
> 2 × liver         intensely FDG-avid                             5 (markedly above liver)
unknown             (no grade: the lesion lies outside the PET)
==================  ============================================  ===============================

The reference values: mediastinal blood pool SUVmean 1.8 and liver SUVmean 2.4 — the middle of
the ranges usually seen in adults on FDG PET (blood pool about 1.5–2.0, liver about 2–3; the
phantom draws them at 1.7 and 2.3).  Where a reader has measured the case's own values,
:func:`given_reference` (``anatloc predict --blood-pool SUV --liver SUV``) grades against
those instead.  These are words for a reader to check, not a Deauville
score: Deauville compares with the reference tissue's uptake in the same scan.

:func:`shown` rounds a lesion's numbers **once**, from the measured values, into the strings
that the sentence, the report's table, the command's table and the MIP legend all print.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from anatloc.ontology.errors import UsageError


@dataclass(frozen=True)
class Reference:
    """Reference SUVs to grade against, and where they come from."""

    blood_pool: float
    liver: float
    source: str


#: typical adult values (see the module docstring); not measured in the case
TYPICAL_REFERENCE = Reference(blood_pool=1.8, liver=2.4, source="typical adult values")


def given_reference(blood_pool: float | None = None, liver: float | None = None) -> Reference:
    """The reference to grade against when a reader measured the case's own values (either
    or both; the other stays typical).  Values must be positive and the blood pool below the
    liver, else a :class:`UsageError` naming the options ``--blood-pool`` / ``--liver``."""
    if blood_pool is None and liver is None:
        return TYPICAL_REFERENCE
    bp = TYPICAL_REFERENCE.blood_pool if blood_pool is None else float(blood_pool)
    lv = TYPICAL_REFERENCE.liver if liver is None else float(liver)
    for name, v in (("--blood-pool", bp), ("--liver", lv)):
        if not (math.isfinite(v) and v > 0):
            raise UsageError(f"{name} {v:g}: a reference SUV must be a positive number")
    if bp >= lv:
        raise UsageError(
            f"--blood-pool {bp:g} is not below --liver {lv:g}: the mediastinal blood pool is "
            "graded as the lower reference (see docs/report.md)"
        )
    given = [n for n, v in (("blood pool", blood_pool), ("liver", liver)) if v is not None]
    return Reference(bp, lv, f"{' and '.join(given)} given by the reader")


#: above this multiple of the liver reference, uptake is "intense" (Deauville 5: markedly
#: above liver)
INTENSE_LIVER_MULTIPLE = 2.0

#: the grades, lowest first: (name, words)
GRADES = (
    ("none", "no FDG avidity above blood pool"),
    ("mild", "mildly FDG-avid"),
    ("moderate", "moderately FDG-avid"),
    ("intense", "intensely FDG-avid"),
)
_WORDS = dict(GRADES)


def grade(suv_max: float, reference: Reference = TYPICAL_REFERENCE) -> str | None:
    """The grade name of an SUVmax (``None`` when unknown): see the module's table."""
    if not math.isfinite(suv_max):
        return None
    if suv_max <= reference.blood_pool:
        return "none"
    if suv_max <= reference.liver:
        return "mild"
    if suv_max <= INTENSE_LIVER_MULTIPLE * reference.liver:
        return "moderate"
    return "intense"


def grade_words(name: str | None) -> str:
    """The words of a grade name ("" for ``None``)."""
    return "" if name is None else _WORDS[name]


def shown(facts) -> dict[str, str]:
    """The lesion's numbers as the report prints them ("" when unknown): ``suv_max``,
    ``suv_mean`` (0.1), ``long_cm``, ``short_cm`` (the lengths rounded to whole mm, in cm),
    ``volume_ml`` (0.01 ml)."""

    def num(v: float, n: int) -> str:
        return f"{v:.{n}f}" if math.isfinite(v) else ""

    def cm(mm: float) -> str:
        return f"{round(mm) / 10:.1f}" if math.isfinite(mm) else ""

    return {
        "suv_max": num(facts.suv_max, 1),
        "suv_mean": num(facts.suv_mean, 1),
        "long_cm": cm(facts.long_axis_mm),
        "short_cm": cm(facts.short_axis_mm),
        "volume_ml": num(facts.volume_ml, 2),
    }
