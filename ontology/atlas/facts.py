"""Derived facts of an atlas: per location, volume, centroid, bbox and neighbours from one
label map (:func:`atlas_facts`), the x-symmetric grid the mirror checks need
(:func:`symmetric_grid`), and :class:`CheckData`, the one rasterization of the reference
subjects that every check and the ontology's derived facts share.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .engine import grid_for_bounds
from .subject import Subject

if TYPE_CHECKING:
    from .engine import Atlas

# --------------------------------------------------------------------------------------------
# derived facts


def atlas_facts(
    atlas: Atlas,
    spacing: float = 4.0,
    subject: Subject | None = None,
    *,
    labels: np.ndarray | None = None,
    grid=None,
) -> dict[str, dict]:
    """Per location, from the label map of ``subject`` at ``spacing`` mm: ``voxels``,
    ``volume_ml``, ``centroid`` (x, y, z world mm), ``bbox`` ((lo), (hi) of the voxel centres),
    ``posterior_z`` (mean z of the voxels within 8 mm of the most posterior ones: where a rib
    meets the spine) and ``touches`` (sorted keys of the locations sharing a voxel face).
    ``labels``/``grid`` reuse an existing label map.  Deterministic; absent or empty
    locations get ``voxels = 0`` and ``None`` geometry."""
    from nibabel.affines import apply_affine
    from scipy import ndimage

    if grid is None:
        grid = atlas.grid(spacing, subject)
    shape, aff = grid
    lab = atlas.rasterize(shape, aff, subject) if labels is None else labels
    lab = np.asarray(lab).astype(np.int32, copy=False)
    n = len(atlas.keys)
    vox_ml = float(abs(np.linalg.det(aff[:3, :3]))) / 1000.0
    objs = ndimage.find_objects(lab, max_label=n)
    touch: dict[int, set[int]] = {}
    for ax in range(3):
        a = np.moveaxis(lab, ax, 0)
        u, v = a[:-1].ravel(), a[1:].ravel()
        m = (u != v) & (u > 0) & (v > 0)
        if m.any():
            code = np.unique(
                np.minimum(u[m], v[m]).astype(np.int64) * (n + 1) + np.maximum(u[m], v[m])
            )
            for c in code.tolist():
                i, j = c // (n + 1), c % (n + 1)
                touch.setdefault(i, set()).add(j)
                touch.setdefault(j, set()).add(i)
    facts: dict[str, dict] = {}
    for i, key in enumerate(atlas.keys):
        sl = objs[i] if i < len(objs) else None
        if sl is None:
            facts[key] = {
                "voxels": 0,
                "volume_ml": 0.0,
                "centroid": None,
                "bbox": None,
                "posterior_z": None,
                "touches": [],
            }
            continue
        sub = lab[sl] == i + 1
        idx = np.argwhere(sub).astype(float) + np.array([q.start for q in sl], float)
        pts = apply_affine(aff, idx)
        post = pts[:, 1] <= pts[:, 1].min() + 8.0
        facts[key] = {
            "voxels": len(pts),
            "volume_ml": round(len(pts) * vox_ml, 3),
            "centroid": tuple(round(float(v), 2) for v in pts.mean(0)),
            "bbox": (tuple(float(v) for v in pts.min(0)), tuple(float(v) for v in pts.max(0))),
            "posterior_z": round(float(pts[post, 2].mean()), 2),
            "touches": sorted(atlas.keys[j - 1] for j in touch.get(i + 1, ())),
        }
    return facts


def symmetric_grid(lo, hi, spacing: float, margin_mm: float = 0.0):
    """(shape, affine) of an axis-aligned grid covering [lo, hi] whose voxel centres are
    symmetric about x = 0 (flipping the first axis mirrors x -> -x exactly)."""
    sp = float(spacing)
    lo = np.asarray(lo, float) - margin_mm
    hi = np.asarray(hi, float) + margin_mm
    shape, aff = grid_for_bounds(lo, hi, sp)
    half = math.ceil(max(abs(lo[0]), abs(hi[0])) / sp)
    shape = (2 * half + 1, shape[1], shape[2])
    aff = aff.copy()
    aff[0, 3] = -half * sp
    return shape, aff


class CheckData:
    """Everything the consistency checks need, from one rasterization of the male reference
    subject on an x-symmetric grid (plus a small one of the female reference with the L6
    variant for the locations the male lacks).  ``facts[key]`` carries ``subject``
    ('male' or 'female+l6')."""

    def __init__(self, atlas: Atlas, spacing: float = 4.0):
        self.atlas = atlas
        self.spacing = float(spacing)
        self.male = Subject.reference("male")
        self.female = Subject.reference("female", l6=True)
        lo, hi = atlas.body_bounds(self.male)
        self.shape, self.aff = symmetric_grid(lo, hi, spacing, margin_mm=spacing)
        self.lab = atlas.rasterize(self.shape, self.aff, self.male)
        fm = atlas_facts(atlas, spacing, self.male, labels=self.lab, grid=(self.shape, self.aff))
        self.facts = {k: dict(v, subject="male") for k, v in fm.items()}
        absent = [
            k
            for k in atlas.keys
            if not atlas.present(k, self.male) and atlas.present(k, self.female)
        ]
        self.sub = None
        if absent:
            los, his = zip(*(atlas.bbox(k, self.female) for k in absent), strict=True)
            lo = np.min(los, axis=0)
            hi = np.max(his, axis=0)
            shape, aff = symmetric_grid(lo, hi, spacing, margin_mm=2 * spacing)
            lab = atlas.rasterize(shape, aff, self.female)
            self.sub = (lab, shape, aff)
            ff = atlas_facts(atlas, spacing, self.female, labels=lab, grid=(shape, aff))
            for k in absent:
                self.facts[k] = dict(ff[k], subject="female+l6")

    def label_map(self, subject_name: str):
        """(labels, affine) of the male map, or of the female+L6 sub-map."""
        if subject_name == "female+l6" and self.sub is not None:
            return self.sub[0], self.sub[2]
        return self.lab, self.aff


def reference_facts(atlas: Atlas, spacing: float = 4.0) -> dict[str, dict]:
    """Facts of every location in the reference subject that shows it (male, or female with
    the L6 variant for the locations a male lacks); each entry has ``subject``."""
    return CheckData(atlas, spacing).facts
