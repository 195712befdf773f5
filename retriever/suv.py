"""SUV (body weight) from the headers of a DICOM PET series.

The network reads PET in SUV, and the step from a scanner's activity values to SUV is where
units, decay correction and clock times go wrong.  This module follows the vendor-neutral
recipe of the QIBA/UW SUV pages, one field at a time, and keeps every field it used so the
predictions can say how their SUV was made:

* ``Units`` BQML: SUV = value × weight (g) / (dose × 2^(−Δt / T½)), where Δt runs from the
  injection to the time the image is decay-corrected to (``DecayCorrection`` START: the
  series start; ADMIN: the injection itself, so no decay);
* ``Units`` CNTS (Philips): the private SUV scale factor (7053,1000) when no field is
  overridden, else the private activity factor (7053,1009) to Bq/ml and the BQML recipe;
* ``Units`` GML or CM2ML: already SUV, left as it is.

A missing or implausible field stops with the field's name and the option that overrides it;
nothing is guessed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from anatloc.ontology.errors import DataError, UsageError

#: the heaviest patient weight accepted without --weight (kg)
MAX_WEIGHT_KG = 300.0
#: an injection more half-lives than this before the scan is a wrong date or time
MAX_HALF_LIVES = 10.0
#: Philips' private group: the SUV factor and the activity-concentration factor
PHILIPS_CREATOR = "Philips PET Private Group"
PHILIPS_SUV = (0x7053, 0x1000)
PHILIPS_BQML = (0x7053, 0x1009)
ALREADY_SUV = ("GML", "CM2ML")


@dataclass(frozen=True)
class SuvOverrides:
    """Values a user gives instead of the headers' (``--weight``, ``--dose``,
    ``--injection-time``)."""

    weight_kg: float | None = None
    dose_mbq: float | None = None
    injection_time: dt.time | None = None

    def names(self) -> tuple[str, ...]:
        given = (
            ("weight", self.weight_kg),
            ("dose", self.dose_mbq),
            ("injection-time", self.injection_time),
        )
        return tuple(n for n, v in given if v is not None)


@dataclass(frozen=True)
class SuvResult:
    """How a PET's values were turned into SUV: multiply the rescaled values by ``factor``."""

    factor: float
    units: str
    method: str
    weight_kg: float | None = None
    dose_bq: float | None = None
    injection: dt.datetime | None = None
    reference: dt.datetime | None = None  # the time the image is decay-corrected to
    half_life_s: float | None = None
    decay: float | None = None  # the fraction of the dose left at ``reference``
    overridden: tuple[str, ...] = field(default=())

    def columns(self) -> dict[str, Any]:
        """The fields as prediction columns (``suv_*``); None where a field was not used."""

        def iso(t: dt.datetime | None) -> str | None:
            return t.isoformat(timespec="seconds") if t is not None else None

        return {
            "suv_units": self.units,
            "suv_method": self.method,
            "suv_factor": float(f"{self.factor:.6g}"),
            "suv_weight_kg": self.weight_kg,
            "suv_dose_mbq": None if self.dose_bq is None else round(self.dose_bq / 1e6, 3),
            "suv_injection": iso(self.injection),
            "suv_reference_time": iso(self.reference),
            "suv_half_life_s": self.half_life_s,
            "suv_decay": None if self.decay is None else round(self.decay, 6),
            "suv_overrides": "|".join(self.overridden),
        }


# -- DICOM dates and times ------------------------------------------------------------------


def parse_clock(text: str) -> dt.time:
    """``HH:MM:SS`` (or ``HH:MM``) of ``--injection-time``; a bad value is a usage error."""
    parts = text.strip().split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        h, m = int(parts[0]), int(parts[1])
        s = float(parts[2]) if len(parts) == 3 else 0.0
        return dt.time(h, m, int(s), round((s % 1) * 1e6) % 1_000_000)
    except ValueError:
        raise UsageError(
            f"--injection-time {text!r}: expected a clock time HH:MM:SS (24 h)"
        ) from None


def _time(value: Any) -> dt.time | None:
    """A DICOM TM (``HHMMSS.ffffff``, or the old ``HH:MM:SS``) as a time; None when empty
    or unreadable."""
    text = str(value or "").strip().replace(":", "")
    if not text:
        return None
    whole, _, frac = text.partition(".")
    try:
        h = int(whole[0:2])
        m = int(whole[2:4] or 0)
        s = int(whole[4:6] or 0)
        us = int((frac + "000000")[:6]) if frac else 0
        return dt.time(h, m, min(s, 59), us)
    except ValueError:
        return None


def _date(value: Any) -> dt.date | None:
    text = str(value or "").strip().replace(".", "").replace("-", "")
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date() if text else None
    except ValueError:
        return None


def _datetime(value: Any) -> dt.datetime | None:
    """A DICOM DT (``YYYYMMDDHHMMSS.ffffff&ZZXX``; the UTC offset is ignored: every time of a
    study is on one clock)."""
    text = str(value or "").strip()
    for sign in "+-":
        if sign in text[8:]:
            text = text[: 8 + text[8:].index(sign)]
    day = _date(text[:8])
    if day is None:
        return None
    clock = _time(text[8:]) if len(text) > 8 else dt.time(0)
    return dt.datetime.combine(day, clock) if clock is not None else None


def _combine(day: Any, clock: Any) -> dt.datetime | None:
    d, t = _date(day), _time(clock)
    return dt.datetime.combine(d, t) if d is not None and t is not None else None


# -- the fields -----------------------------------------------------------------------------


def _missing(where: str, name: str, tag: str, fix: str) -> DataError:
    return DataError(f"{where}: {name}{' ' + tag if tag else ''} is missing{fix}")


def _number(ds: Any, keyword: str) -> float | None:
    v = ds.get(keyword)
    try:
        x = float(v) if v is not None and str(v).strip() != "" else None
    except (TypeError, ValueError):
        return None
    return x if x is not None and math.isfinite(x) else None


def _private_number(ds: Any, tag: tuple[int, int]) -> float | None:
    """A Philips private number, found through its creator, else at its usual place."""
    elem = None
    try:
        elem = ds.get_private_item(tag[0], tag[1] & 0xFF, PHILIPS_CREATOR)
    except (KeyError, ValueError):
        elem = ds.get(tag)
    if elem is None:
        return None
    value = elem.value
    if isinstance(value, bytes):  # an implicit-VR file keeps the private value as text bytes
        value = value.decode("ascii", "ignore").strip("\x00 ")
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) and x > 0 else None


def scan_start(headers: Sequence[Any]) -> dt.datetime | None:
    """The series start, the time a START-corrected PET is decay-corrected to.

    SeriesDate/SeriesTime, unless it lies after the earliest AcquisitionDate/Time of the
    slices: a series re-timed by post-processing (a reconstruction saved later) carries a
    new series time, and the earliest acquisition is then the scan's start."""
    first = headers[0]
    series = _combine(first.get("SeriesDate"), first.get("SeriesTime"))
    acquired = [
        t
        for t in (
            _combine(h.get("AcquisitionDate") or first.get("SeriesDate"), h.get("AcquisitionTime"))
            for h in headers
        )
        if t is not None
    ]
    earliest = min(acquired) if acquired else None
    if series is None:
        return earliest
    if earliest is not None and series > earliest:
        return earliest
    return series


def _injection(
    first: Any, info: Any, reference: dt.datetime, where: str, over: SuvOverrides
) -> dt.datetime:
    """The injection: --injection-time on the scan's day (the day before when that clock time
    is after the scan: an injection before midnight), else RadiopharmaceuticalStartDateTime,
    else RadiopharmaceuticalStartTime on the series date."""
    if over.injection_time is not None:
        t = dt.datetime.combine(reference.date(), over.injection_time)
        return t - dt.timedelta(days=1) if t > reference else t
    t = _datetime(info.get("RadiopharmaceuticalStartDateTime"))
    if t is not None:
        return t
    day = first.get("SeriesDate") or first.get("AcquisitionDate") or first.get("StudyDate")
    t = _combine(day, info.get("RadiopharmaceuticalStartTime"))
    if t is None:
        raise _missing(
            where,
            "the injection time (RadiopharmaceuticalStartDateTime (0018,1078) or "
            "RadiopharmaceuticalStartTime (0018,1072))",
            "",
            "; give it with --injection-time HH:MM:SS",
        )
    return t


def _weight(first: Any, where: str, over: SuvOverrides) -> float:
    if over.weight_kg is not None:
        return float(over.weight_kg)
    w = _number(first, "PatientWeight")
    if w is None:
        raise _missing(where, "PatientWeight", "(0010,1030)", "; give it with --weight KG")
    if not 0 < w <= MAX_WEIGHT_KG:
        raise DataError(
            f"{where}: PatientWeight (0010,1030) is {w:g} kg, not a plausible body weight "
            f"(0 < weight ≤ {MAX_WEIGHT_KG:g} kg); give the weight with --weight KG"
        )
    return w


def _dose(info: Any, where: str, over: SuvOverrides) -> float:
    if over.dose_mbq is not None:
        return float(over.dose_mbq) * 1e6
    d = _number(info, "RadionuclideTotalDose")
    if d is None:
        raise _missing(where, "RadionuclideTotalDose", "(0018,1074)", "; give it with --dose MBQ")
    if d <= 0:
        raise DataError(
            f"{where}: RadionuclideTotalDose (0018,1074) is {d:g} Bq; expected the injected "
            "activity; give it with --dose MBQ"
        )
    return d


def _half_life(info: Any, where: str) -> float:
    h = _number(info, "RadionuclideHalfLife")
    if h is None or h <= 0:
        shown = "is missing" if h is None else f"is {h:g} s"
        raise DataError(
            f"{where}: RadionuclideHalfLife (0018,1075) {shown}; expected the tracer's "
            "half-life in seconds (6586.2 for F-18)"
        )
    return h


def _radiopharmaceutical(first: Any, where: str) -> Any:
    seq = first.get("RadiopharmaceuticalInformationSequence")
    if not seq:
        raise _missing(
            where,
            "RadiopharmaceuticalInformationSequence",
            "(0054,0016)",
            " (the injection's dose, time and half-life)",
        )
    return seq[0]


def _from_activity(
    headers: Sequence[Any], where: str, over: SuvOverrides, units: str, scale: float
) -> SuvResult:
    """SUV(bw) of an image in Bq/ml (after multiplying by ``scale``)."""
    first = headers[0]
    correction = str(first.get("DecayCorrection", "") or "").strip().upper()
    if correction not in ("START", "ADMIN"):
        shown = f"is {correction!r}" if correction else "is missing"
        raise DataError(
            f"{where}: DecayCorrection (0054,1102) {shown}; anatloc computes SUV for images "
            "decay-corrected to the scan start (START) or the injection (ADMIN)"
        )
    info = _radiopharmaceutical(first, where)
    weight = _weight(first, where, over)
    dose = _dose(info, where, over)
    half = _half_life(info, where)
    reference = scan_start(headers)
    injection: dt.datetime | None = None
    if correction == "ADMIN":  # corrected to the injection: its time is reported, not needed
        if reference is not None:
            try:
                injection = _injection(first, info, reference, where, over)
            except DataError:
                injection = None
        reference, decay = injection, 1.0
    elif reference is None:
        raise _missing(
            where, "SeriesDate/SeriesTime", "(0008,0021)/(0008,0031)", " (the scan's start)"
        )
    else:
        injection = _injection(first, info, reference, where, over)
        elapsed = (reference - injection).total_seconds()
        if elapsed < 0:
            raise DataError(
                f"{where}: the injection ({injection.isoformat(timespec='seconds')}, "
                "RadiopharmaceuticalStartDateTime/Time) is after the scan start "
                f"({reference.isoformat(timespec='seconds')}); give the injection time with "
                "--injection-time HH:MM:SS"
            )
        if elapsed > MAX_HALF_LIVES * half:
            raise DataError(
                f"{where}: the injection ({injection.isoformat(timespec='seconds')}) is "
                f"{elapsed / 3600:.1f} h before the scan start, more than {MAX_HALF_LIVES:g} "
                "half-lives (RadionuclideHalfLife); check the date and give --injection-time"
            )
        decay = 2.0 ** (-elapsed / half)
    method = f"{units} decay {correction}" + (" (Philips 7053,1009)" if units == "CNTS" else "")
    return SuvResult(
        factor=scale * weight * 1000.0 / (dose * decay),
        units=units,
        method=method,
        weight_kg=weight,
        dose_bq=dose,
        injection=injection,
        reference=reference,
        half_life_s=half,
        decay=decay,
        overridden=over.names(),
    )


def _philips(headers: Sequence[Any], where: str, over: SuvOverrides) -> SuvResult:
    """Philips CNTS: its own SUV factor, unless a field is overridden (then its activity
    factor to Bq/ml and the BQML recipe)."""
    suv = [_private_number(h, PHILIPS_SUV) for h in headers]
    if not over.names() and all(v is not None for v in suv):
        first = float(suv[0])  # type: ignore[arg-type]
        if any(abs(float(v) - first) > 1e-6 * first for v in suv):  # type: ignore[arg-type]
            raise DataError(
                f"{where}: the Philips SUV scale factor (7053,1000) differs between slices; "
                "anatloc expects one factor per series"
            )
        return SuvResult(first, "CNTS", "Philips SUV scale factor (7053,1000)")
    bqml = _private_number(headers[0], PHILIPS_BQML)
    if bqml is None:
        raise _missing(
            where,
            "the Philips SUV scale factor (7053,1000)"
            if not over.names()
            else "the Philips activity concentration scale factor (7053,1009)",
            "",
            "; Units CNTS cannot be converted to SUV without it",
        )
    return _from_activity(headers, where, over, "CNTS", bqml)


def suv_factor(
    headers: Sequence[Any], where: str, overrides: SuvOverrides | None = None
) -> SuvResult:
    """How to turn the series' rescaled values into SUV(bw); ``where`` names the series in
    messages (a :class:`DataError` naming the missing or implausible field)."""
    over = overrides or SuvOverrides()
    units = str(headers[0].get("Units", "") or "").strip().upper()
    if not units:
        raise _missing(where, "Units", "(0054,1001)", "; expected BQML, CNTS (Philips) or GML")
    if units in ALREADY_SUV:
        return SuvResult(1.0, units, "already SUV")
    if units == "BQML":
        return _from_activity(headers, where, over, units, 1.0)
    if units == "CNTS":
        return _philips(headers, where, over)
    raise DataError(
        f"{where}: Units (0054,1001) is {units!r}; anatloc converts BQML, CNTS (Philips) "
        "and GML (already SUV) to SUV"
    )
