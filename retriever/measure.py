"""Prediction's measurements: what a report says about a lesion besides its location.

Every figure is measured in world space on the PET (RAS mm, from the images' affines), for a
mask lesion (:class:`.masks.MaskLesion`, :func:`mask_facts`) or a box (:func:`box_facts`):

``suv_max`` / ``suv_mean``  over the PET voxels whose centre lies in the lesion (the mask
                            resampled onto the PET grid by nearest neighbour; a box's
                            inscribed ellipsoid); a lesion smaller than a PET voxel uses the
                            PET voxels that hold its mask voxels' centres (a box: its centre)
``volume_ml``               mask voxels × voxel volume (a box: its ellipsoid, π/6·x·y·z)
``long_axis_mm``            the longest axial diameter, as RECIST measures: in the axial slice
                            where it is longest, the largest distance between two voxel
                            centres plus one voxel's width along that line (a box: its larger
                            side in x and y)
``short_axis_mm``           the lesion's width perpendicular to that diameter in the same slice
                            (a box: its smaller side in x and y)
``max_3d_extent_mm``        the old figure, kept under a clear name: the largest distance
                            between two corners of the lesion's voxels in 3D (a box: its largest
                            side); it overstates small lesions
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
from nibabel.affines import apply_affine

from .masks import MaskLesion
from .nifti import Volume


@dataclass
class LesionFacts:
    """What a report says about a lesion besides its location."""

    suv_max: float
    suv_mean: float
    volume_ml: float
    long_axis_mm: float  # longest axial diameter (RECIST)
    short_axis_mm: float  # axial width perpendicular to it
    max_3d_extent_mm: float  # largest corner-to-corner distance in 3D

    def as_dict(self) -> dict[str, float | None]:
        """The columns: SUVs to 0.01, volume to 0.001 ml, lengths to whole mm (so that the
        cm the report prints, :func:`.uptake.shown`, are exactly these mm / 10)."""

        def r(v: float, n: int | None) -> float | None:
            return None if not math.isfinite(v) else round(float(v), n)

        return {
            "suv_max": r(self.suv_max, 2),
            "suv_mean": r(self.suv_mean, 2),
            "volume_ml": r(self.volume_ml, 3),
            "long_axis_mm": r(self.long_axis_mm, None),
            "short_axis_mm": r(self.short_axis_mm, None),
            "max_3d_extent_mm": r(self.max_3d_extent_mm, None),
        }


#: the columns of the facts, in the order a prediction row shows them
FACT_COLUMNS = tuple(f.name for f in fields(LesionFacts))


def _pet_box(pet: Volume, lo: np.ndarray, hi: np.ndarray) -> tuple[slice, slice, slice] | None:
    """PET voxel index slices covering the world box [lo, hi] (None when outside)."""
    corners = np.array(
        [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    )
    v = pet.world_to_voxel(corners)
    a = np.maximum(np.floor(v.min(0)).astype(int) - 1, 0)
    b = np.minimum(np.ceil(v.max(0)).astype(int) + 2, np.array(pet.shape))
    if np.any(b <= a):
        return None
    return tuple(slice(int(i), int(j)) for i, j in zip(a, b, strict=True))  # type: ignore[return-value]


def _pet_centres(pet: Volume, box: tuple[slice, slice, slice]) -> tuple[np.ndarray, np.ndarray]:
    """(indices (N, 3), world centres (N, 3)) of the PET voxels of ``box``."""
    ijk = np.stack(
        np.meshgrid(*[np.arange(s.start, s.stop) for s in box], indexing="ij"), -1
    ).reshape(-1, 3)
    return ijk, pet.voxel_to_world(ijk.astype(np.float64))


def _suv(pet: Volume, idx: np.ndarray) -> tuple[float, float]:
    if len(idx) == 0:
        return math.nan, math.nan
    vals = pet.data[idx[:, 0], idx[:, 1], idx[:, 2]]
    return float(vals.max()), float(vals.mean())


def _nearest_pet(pet: Volume, points: np.ndarray) -> np.ndarray:
    v = np.rint(pet.world_to_voxel(points)).astype(np.int64)
    inside = np.all((v >= 0) & (v < np.array(pet.shape)), axis=1)
    return np.unique(v[inside], axis=0)


def feret_diameter(les: MaskLesion) -> float:
    """The largest distance (mm) between two corners of the lesion's voxels."""
    from scipy import ndimage
    from scipy.spatial import ConvexHull
    from scipy.spatial.distance import cdist

    surface = les.sub & ~ndimage.binary_erosion(les.sub)
    ijk = np.argwhere(surface).astype(np.float64) + les.start
    signs = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)])
    corners = (ijk[:, None, :] + signs[None]).reshape(-1, 3)
    pts = apply_affine(les.affine, corners)
    try:
        pts = pts[ConvexHull(pts).vertices]
    except Exception:  # qhull on degenerate input: keep all points (few)
        pts = np.unique(pts, axis=0)
    best = 0.0
    for s0 in range(0, len(pts), 256):  # (256, m) distances at a time
        best = max(best, float(cdist(pts[s0 : s0 + 256], pts, "sqeuclidean").max()))
    return math.sqrt(best)


def axial_diameters(les: MaskLesion) -> tuple[float, float]:
    """(longest axial diameter, the width perpendicular to it) in mm (module docstring).

    Axial slices are those of the mask's voxel axis closest to the world's z axis; lengths
    are measured in world x and y between voxel centres, plus one voxel's width along the
    line, so that a digitised disc of diameter d measures about d.
    """
    from scipy.spatial import ConvexHull

    a = les.affine[:3, :3]
    k = int(np.argmax(np.abs(a[2]) / np.linalg.norm(a, axis=0)))
    inplane = [j for j in range(3) if j != k]
    cols = a[:2, inplane]  # world xy of one voxel step along the two in-plane axes
    ijk = np.argwhere(les.sub)
    xy = (ijk.astype(np.float64) + les.start) @ a[:2].T
    best = (0.0, 0.0)
    for s in np.unique(ijk[:, k]):
        pts = np.unique(xy[ijk[:, k] == s], axis=0)
        if len(pts) > 3:
            try:
                pts = pts[ConvexHull(pts).vertices]
            except Exception:  # collinear points: keep them all
                pass
        d = pts[:, None, :] - pts[None, :, :]
        dist = np.sqrt((d**2).sum(-1))
        i, j = np.unravel_index(int(np.argmax(dist)), dist.shape)
        u = d[i, j] / dist[i, j] if dist[i, j] > 0 else np.array([1.0, 0.0])
        v = np.array([-u[1], u[0]])
        long = float(dist[i, j] + np.abs(u @ cols).sum())
        proj = pts @ v
        short = float(proj.max() - proj.min() + np.abs(v @ cols).sum())
        if long > best[0]:
            best = (long, short)
    return best


def mask_facts(pet: Volume, les: MaskLesion) -> LesionFacts:
    """SUV over the PET voxels whose centre falls in the lesion; volume; Feret diameter."""
    pts = les.points()
    half = les.spacing.max()
    box = _pet_box(pet, pts.min(0) - half, pts.max(0) + half)
    idx = np.zeros((0, 3), np.int64)
    if box is not None:
        ijk, world = _pet_centres(pet, box)
        mv = (
            np.rint((world - les.affine[:3, 3]) @ np.linalg.inv(les.affine[:3, :3]).T).astype(
                np.int64
            )
            - les.start
        )
        ok = np.all((mv >= 0) & (mv < np.array(les.sub.shape)), axis=1)
        hit = np.zeros(len(mv), dtype=bool)
        hit[ok] = les.sub[mv[ok, 0], mv[ok, 1], mv[ok, 2]]
        idx = ijk[hit]
    if len(idx) == 0:  # smaller than a PET voxel: the voxels that hold its centres
        idx = _nearest_pet(pet, pts)
    smax, smean = _suv(pet, idx)
    vol = les.n_voxels * abs(float(np.linalg.det(les.affine[:3, :3]))) / 1000.0
    long, short = axial_diameters(les)
    return LesionFacts(smax, smean, vol, long, short, feret_diameter(les))


def box_facts(pet: Volume, center: Sequence[float], size: Sequence[float]) -> LesionFacts:
    """SUV inside a box's inscribed ellipsoid; its volume; its sides in x and y (larger,
    smaller); its largest side."""
    c = np.asarray(center, dtype=np.float64)
    r = np.asarray(size, dtype=np.float64) / 2.0
    box = _pet_box(pet, c - r, c + r)
    idx = np.zeros((0, 3), np.int64)
    if box is not None:
        ijk, world = _pet_centres(pet, box)
        idx = ijk[(((world - c) / r) ** 2).sum(1) <= 1.0]
    if len(idx) == 0:
        idx = _nearest_pet(pet, c[None])
    smax, smean = _suv(pet, idx)
    vol = math.pi / 6.0 * float(np.prod(size)) / 1000.0
    axial = sorted((float(size[0]), float(size[1])), reverse=True)
    return LesionFacts(smax, smean, vol, axial[0], axial[1], float(max(size)))
