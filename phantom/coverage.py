"""Coverage: can the phantom put a correctly labelled lesion at every fine location?

Two subjects are drawn from the profile's population (a man and a woman, both with the L6
variant, so that every sex- and variant-specific location exists in one of them) and their
label maps are rendered on the profile's CT grid.  For every location a spherical lesion is
placed at the location's deepest voxel (radius: that depth, 2-10 mm), its mask is voxelized
on the same grid, and the labelling rule (the label at the voxel nearest the mask's centroid)
is applied.  A location counts as correct when the rule returns it; it fails when it has no
voxel in the rendered case or when the rule returns another location.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .body import BodyModel
from .cases import location_depth
from .lesions import Lesion
from .profiles import Profile
from .render import Grid, case_grid, rasterize


def coverage(
    model: BodyModel,
    profile: Profile,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    from scipy import ndimage

    atlas = model.atlas
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 0xC0FE])
    rng = np.random.default_rng(ss)
    ranges = dict(profile.population.subject_ranges(), p_l6=1.0)
    maps = []
    for sex in ("male", "female"):
        subj = atlas.sample_subject(rng, **dict(ranges, sex=sex))
        ct_grid, _ = case_grid(model, subj, profile, rng)
        lab = rasterize(atlas, ct_grid, subj)
        objs = ndimage.find_objects(lab, max_label=model.n)
        maps.append((subj, ct_grid, lab, objs))
    failed = []
    correct = 0
    for s in range(1, model.n + 1):
        key = model.curies[s]
        where = [m for m in maps if atlas.present(key, m[0])]
        entry = {"curie": key, "label": model.labels[s]}
        if not where:
            failed.append(dict(entry, got="", reason="absent in both subjects"))
        else:
            got, reason = _check(model, s, *where[0])
            if got == s:
                correct += 1
            else:
                failed.append(dict(entry, got=model.labels[got] if got > 0 else "", reason=reason))
        if progress is not None:
            progress(s, model.n)
    return {
        "locations": model.n,
        "correct": correct,
        "failed": failed,
        "profile": profile.name,
        "ct_spacing_mm": [float(v) for v in profile.ct.spacing_mm],
        "seed": seed,
    }


def _check(model: BodyModel, s: int, subj, grid: Grid, lab: np.ndarray, objs) -> tuple[int, str]:
    from nibabel.affines import apply_affine

    box = objs[s - 1] if s - 1 < len(objs) else None
    if box is None:
        return 0, "no voxel in the rendered case"
    depth, stride = location_depth(lab, grid, s, box)
    v = int(np.argmax(depth))
    ijk = stride * np.array(np.unravel_index(v, depth.shape)) + np.array([b.start for b in box])
    centre = apply_affine(grid.affine, ijk)
    r = float(np.clip(depth.max(), 2.0, 10.0))
    les = Lesion(1, tuple(float(c) for c in centre), (r, r, r))
    lo, hi = les.bbox()
    sl = grid.index_box(lo, hi)
    if sl is None:
        return 0, "lesion outside the field of view"
    ii = np.meshgrid(*(np.arange(b.start, b.stop) for b in sl), indexing="ij")
    pts = apply_affine(grid.affine, np.stack([ii[a].ravel() for a in range(3)], 1))
    inside = les.inside(pts)
    if not inside.any():
        return 0, "empty lesion mask"
    c = pts[inside].mean(0)
    near = np.clip(
        np.rint((c - grid.origin) / grid.spacing).astype(int), 0, np.asarray(grid.shape) - 1
    )
    got = int(lab[tuple(near)])
    return got, "" if got == s else "the centroid's label is another location"
