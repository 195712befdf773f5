"""Voxel spacings in millimetres: one number (isotropic) or three (x, y, z).

A spacing outside 0.25–50 mm is refused with a :class:`~anatloc.ontology.errors.UsageError`:
no PET or CT voxel is finer or coarser, so such a value is a typo (``2,2,30``) or a unit
mistake (metres).  Used by the phantom's profiles (``--spacing`` of ``anatloc phantom``) and
by ``anatloc demo``.
"""

from __future__ import annotations

from anatloc.ontology.errors import UsageError

Vec3 = tuple[float, float, float]


def vec3(value, what: str, shown: str | None = None) -> Vec3:
    """One number or three (mm) as an (x, y, z) spacing; ``what`` names it in the error."""
    if isinstance(value, (int, float)):
        value = (value, value, value)
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise UsageError(f"{what} must be one number or three numbers (mm)") from None
    if len(out) != 3 or not all(0.25 <= v <= 50.0 for v in out):
        raise UsageError(
            f"{what} must be one or three numbers between 0.25 and 50 mm, got {shown or repr(value)}"
        )
    return out  # type: ignore[return-value]


def parse_spacing(text: str | None) -> Vec3 | None:
    """``"6"`` or ``"2,2,3"`` (mm) to a spacing; None stays None."""
    if text is None or text == "":
        return None
    parts = [p for p in text.replace("x", ",").split(",") if p.strip()]
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise UsageError(
            f"--spacing {text!r}: expected one number or three numbers like 2,2,3"
        ) from None
    if len(vals) not in (1, 3):
        raise UsageError(f"--spacing {text!r}: expected one number or three numbers like 2,2,3")
    return vec3(vals[0] if len(vals) == 1 else vals, "--spacing", repr(text))
