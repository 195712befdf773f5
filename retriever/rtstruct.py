"""Lesions from a DICOM RT Structure Set (RTSTRUCT): each ROI one lesion, on the PET grid.

Radiotherapy and many reading tools save lesion outlines as an RTSTRUCT: per ROI, closed
planar polygons in patient coordinates (LPS mm), usually drawn on the CT's slices.  The
lesion facts (SUVmax, SUVmean) are read on the PET, so each ROI is rasterised on the PET's
grid: a PET voxel belongs to the ROI when its centre lies inside the ROI's polygons on the
contour plane nearest to the voxel's slice (within half the spacing of the contour planes).
Polygons on one plane combine by parity, so a polygon inside another is a hole.  A ROI
smaller than a PET voxel keeps the voxel nearest its centre, as a mask lesion does.

The contour planes must be parallel to the PET's slices (axial contours on an axial PET);
an RTSTRUCT that references other series than the PET or CT given is refused.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from anatloc.ontology.errors import DataError, UsageError

from .nifti import Volume

#: LPS (DICOM) → RAS: negate x and y
_FLIP = np.array([-1.0, -1.0, 1.0])
#: how far (PET voxels) the points of one polygon may lie off its plane
_PLANE_TOL = 0.1


@dataclass(frozen=True)
class RoiMask:
    """One ROI rasterised: a box of PET voxels from ``start`` and its voxels in ``sub``."""

    number: int
    name: str
    start: np.ndarray
    sub: np.ndarray


def read_rtstruct(path: str | os.PathLike) -> Any:
    """The RTSTRUCT dataset; another kind of DICOM object (a SEG, an image) is refused."""
    import pydicom

    p = Path(path)
    try:
        ds = pydicom.dcmread(p)
    except Exception as exc:  # not DICOM after all, damaged
        raise DataError(f"mask {p}: not a readable DICOM file ({exc.__class__.__name__})") from None
    modality = str(ds.get("Modality", "") or "").upper()
    if modality != "RTSTRUCT":
        raise DataError(
            f"mask {p} is a DICOM {modality or 'object without Modality'}; --lesions takes a "
            "NIfTI mask, a DICOM SEG or a DICOM RTSTRUCT"
        )
    return ds


def referenced_series(ds: Any) -> set[str]:
    """The SeriesInstanceUIDs the structure set was drawn on."""
    out: set[str] = set()
    for frame in ds.get("ReferencedFrameOfReferenceSequence") or []:
        for study in frame.get("RTReferencedStudySequence") or []:
            for series in study.get("RTReferencedSeriesSequence") or []:
                uid = str(series.get("SeriesInstanceUID", "") or "").strip()
                if uid:
                    out.add(uid)
    return out


def check_reference(refs: set[str], path: Path, given: dict[str, str], what: str) -> None:
    """Refuse lesions (``what``: RTSTRUCT, SEG) drawn on none of the series given (``kind`` →
    UID); nothing is checked when the images are NIfTI (no UID) or no series is named."""
    if not refs or not given or refs & set(given.values()):
        return
    shown = ", ".join(f"the {k} {u}" for k, u in given.items())
    raise DataError(
        f"mask {path}: the {what} references series {', '.join(sorted(refs))}, not {shown}; "
        f"give the {what} drawn on these images"
    )


def _rois(ds: Any) -> dict[int, str]:
    return {
        int(r.ROINumber): str(r.get("ROIName", "") or "").strip()
        for r in ds.get("StructureSetROISequence") or []
    }


def _polygons(item: Any, path: Path, name: str) -> list[np.ndarray]:
    """The closed planar polygons of one ROI, RAS mm (N, 3) each; points are skipped."""
    out = []
    for c in item.get("ContourSequence") or []:
        kind = str(c.get("ContourGeometricType", "CLOSED_PLANAR") or "").upper()
        if kind == "POINT":
            continue
        data = np.asarray([float(v) for v in c.get("ContourData") or []], dtype=np.float64)
        if data.size < 9 or data.size % 3:
            raise DataError(
                f"mask {path}: ROI {name!r} has a contour of {data.size} numbers; expected x, y, "
                "z triplets of at least three points"
            )
        out.append(data.reshape(-1, 3) * _FLIP)
    return out


def _planes(polys: Sequence[np.ndarray], pet: Volume, path: Path, name: str) -> dict:
    """Polygons in PET voxel coordinates, grouped by their (continuous) slice index."""
    planes: dict[float, list[np.ndarray]] = {}
    for poly in polys:
        v = pet.world_to_voxel(poly)
        k = v[:, 2]
        if float(k.max() - k.min()) > _PLANE_TOL:
            raise DataError(
                f"mask {path}: ROI {name!r} has contours that are not parallel to the PET's "
                "slices; anatloc rasterises contours drawn on slices parallel to the PET's"
            )
        planes.setdefault(round(float(k.mean()), 3), []).append(v[:, :2])
    return planes


def _fill(polys: Sequence[np.ndarray], shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Voxel centres (i, j) inside the polygons by parity: (start (2,), bool box)."""
    from matplotlib.path import Path as Polygon

    pts = np.concatenate(polys)
    lo = np.clip(np.floor(pts.min(0)).astype(int), 0, np.array(shape) - 1)
    hi = np.clip(np.ceil(pts.max(0)).astype(int), 0, np.array(shape) - 1)
    ii, jj = np.meshgrid(np.arange(lo[0], hi[0] + 1), np.arange(lo[1], hi[1] + 1), indexing="ij")
    centres = np.stack([ii.ravel(), jj.ravel()], axis=1).astype(np.float64)
    inside = np.zeros(len(centres), dtype=bool)
    for poly in polys:
        inside ^= Polygon(poly).contains_points(centres)
    return lo, inside.reshape(ii.shape)


def rasterise(polys: Sequence[np.ndarray], pet: Volume, path: Path, name: str):
    """The ROI's PET voxels as (start (3,), bool box); None when it has no polygon."""
    planes = _planes(polys, pet, path, name)
    if not planes:
        return None
    ks = np.array(sorted(planes))
    half = float(np.median(np.diff(ks))) / 2.0 if len(ks) > 1 else 0.5
    nk = pet.shape[2]
    voxels = []
    first = max(0, int(np.ceil(ks[0] - half - 1e-6)))
    last = min(nk - 1, int(np.floor(ks[-1] + half + 1e-6)))
    for k in range(first, last + 1):
        q = ks[int(np.argmin(np.abs(ks - k)))]
        if abs(q - k) > half + 1e-6:
            continue  # a gap between the ROI's contour planes
        lo, inside = _fill(planes[float(q)], pet.shape[:2])
        ij = np.argwhere(inside) + lo
        voxels.append(np.column_stack([ij, np.full(len(ij), k)]))
    ijk = np.concatenate(voxels) if voxels else np.zeros((0, 3), int)
    if len(ijk) == 0:  # smaller than a PET voxel: the voxel nearest its centre
        centre = np.rint(pet.world_to_voxel(np.concatenate(polys).mean(0)[None])).astype(int)
        if np.any(centre < 0) or np.any(centre >= np.array(pet.shape)):
            raise DataError(f"mask {path}: ROI {name!r} lies outside the PET's field of view")
        ijk = centre
    start = ijk.min(0)
    sub = np.zeros(tuple(ijk.max(0) - start + 1), dtype=bool)
    sub[tuple((ijk - start).T)] = True
    return start, sub


def roi_masks(
    ds: Any,
    path: Path,
    pet: Volume,
    *,
    names: Sequence[str] = (),
    numbers: Sequence[int] | None = None,
) -> list[RoiMask]:
    """The structure set's ROIs rasterised on the PET grid, in ROI-number order; ``names``
    (``--roi``) or ``numbers`` (a table's ``mask_label``) pick some."""
    rois = _rois(ds)
    if names:
        unknown = [n for n in names if n not in rois.values()]
        if unknown:
            have = ", ".join(repr(n) for n in rois.values()) or "none"
            raise UsageError(f"--roi {unknown[0]!r}: no such ROI in {path} (it has {have})")
    out = []
    for item in ds.get("ROIContourSequence") or []:
        number = int(item.ReferencedROINumber)
        name = rois.get(number, str(number))
        if (names and name not in names) or (numbers is not None and number not in numbers):
            continue
        box = rasterise(_polygons(item, path, name), pet, path, name)
        if box is not None:
            out.append(RoiMask(number, name, box[0], box[1]))
    if not out and numbers is None:
        raise DataError(f"mask {path}: the RTSTRUCT has no ROI with contours to locate")
    return sorted(out, key=lambda r: r.number)
