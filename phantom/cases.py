"""Volume-mode cases: a subject, its field of view, its lesions, its volumes and lesion table.

All randomness of case ``index`` of a run with ``seed`` comes from
``numpy.random.SeedSequence([seed, index])`` (split into independent streams for the subject
and looks, the field of view, the lesions and the noise), so a case does not depend on the
other cases of its run and the same seed gives the same bytes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .body import BodyModel
from .lesions import Lesion, acceptable_labels, capped_radius, lesion_in, overlaps
from .profiles import Profile
from .render import Grid, Scene, Volumes, case_grid, new_scene, rasterize, render_volume


def case_id_for(profile: Profile, seed: int, index: int) -> str:
    return f"{profile.name}-{seed}-{index:04d}"


def case_rngs(seed: int, index: int) -> dict[str, np.random.Generator]:
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(index)])
    names = ("subject", "fov", "lesions", "noise")
    return {n: np.random.default_rng(s) for n, s in zip(names, ss.spawn(len(names)), strict=True)}


@dataclass
class Case:
    case_id: str
    index: int
    seed: int
    scene: Scene
    volumes: Volumes
    rows: list[dict] = field(default_factory=list)

    def meta(self) -> dict:
        s = self.scene.subject
        return {
            "case_id": self.case_id,
            "profile": self.scene.profile.name,
            "seed": self.seed,
            "index": self.index,
            "ontology_hash": self.scene.model.content_hash,
            "subject": {
                "height_mm": round(s.height_mm, 3),
                "girth": round(s.girth, 4),
                "sex": s.sex,
                "arms": s.arms,
                "l6": s.l6,
                "table_rotation_deg": [round(v, 4) for v in s.table_rotation_deg],
                "table_shift_mm": [round(v, 3) for v in s.table_shift_mm],
            },
            "ct_spacing_mm": [float(v) for v in self.volumes.ct_grid.spacing],
            "pet_spacing_mm": [float(v) for v in self.volumes.pet_grid.spacing],
            "uptake_factors": {
                k: round(v, 4) for k, v in self.scene.looks.factors.items() if not k.startswith("#")
            },
            "lesions": [les.as_dict() for les in self.scene.lesions],
        }


def location_depth(labels: np.ndarray, grid: Grid, index: int, box, budget: int = 400_000):
    """Distance (mm) from voxels of location ``index`` (inside ``box``) to its outside.

    Returns (depth, stride): for a large box the distance is computed on every ``stride``-th
    voxel per axis (placement needs no more precision), ``depth[a, b, c]`` belonging to voxel
    ``box.start + stride * (a, b, c)``."""
    from scipy import ndimage

    sub = labels[box] == index
    n = sub.size
    stride = max(1, math.ceil((n / budget) ** (1 / 3))) if n > budget else 1
    if stride > 1:
        sub = sub[::stride, ::stride, ::stride]
    d = ndimage.distance_transform_edt(np.pad(sub, 1), sampling=grid.spacing * stride)
    return d[1:-1, 1:-1, 1:-1], stride


def place_lesions(
    scene: Scene,
    labels: np.ndarray,
    grid: Grid,
    rng: np.random.Generator,
    k: int,
    targets: list[int] | None = None,
) -> list[Lesion]:
    """Draw ``k`` non-overlapping lesions, each centred on a voxel of a location drawn
    uniformly among the locations in the field of view (or the given ``targets``), sized to
    the location's thickness there."""
    from nibabel.affines import apply_affine
    from scipy import ndimage

    model = scene.model
    counts = np.bincount(labels.ravel().astype(np.int64), minlength=model.n + 1)
    pool = [i for i in range(1, model.n + 1) if counts[i] > 0]
    if not pool:
        return []
    objs = ndimage.find_objects(labels, max_label=model.n)
    depth_cache: dict[int, tuple[np.ndarray, int]] = {}
    lesions: list[Lesion] = []
    attempts = 0
    while len(lesions) < k and attempts < 40 * max(k, 1):
        attempts += 1
        if targets is not None:
            s = int(targets[len(lesions) % len(targets)])
            if counts[s] == 0:
                break
        else:
            s = int(pool[int(rng.integers(len(pool)))])
        box = objs[s - 1]
        if s not in depth_cache:
            depth_cache[s] = location_depth(labels, grid, s, box)
        depth, stride = depth_cache[s]
        maxd = float(depth.max())
        r = capped_radius(rng, scene.profile.lesions, 2.0 * maxd + 4.0)
        thr = min(r / 1.5, 0.8 * maxd)
        cand = np.flatnonzero(depth.ravel() >= thr)
        v = int(cand[int(rng.integers(len(cand)))])
        ijk = stride * np.array(np.unravel_index(v, depth.shape)) + np.array([b.start for b in box])
        voxel = apply_affine(grid.affine, ijk)
        centre = voxel + rng.uniform(-0.25, 0.25, 3) * grid.spacing
        if overlaps(centre, r * 1.3, lesions):
            continue
        les = lesion_in(scene, s, rng, len(lesions) + 1, centre, r)
        if not les.inside(voxel[None])[0]:  # keep the voxel it was placed on: never empty
            les = dataclasses.replace(les, center_mm=tuple(float(v) for v in voxel))
        if overlaps(les.center_mm, max(les.bound_radius, les.reach), lesions):
            continue
        lesions.append(les)
    return lesions


def lesion_rows(case_id: str, scene: Scene, vol: Volumes) -> list[dict]:
    """The lesion table rows of a rendered case (labelling rule: see ``phantom.lesions``)."""
    from nibabel.affines import apply_affine
    from scipy import ndimage

    model = scene.model
    mask, labels = vol.lesion_mask, vol.labels
    g, pg = vol.ct_grid, vol.pet_grid
    objs = ndimage.find_objects(mask, max_label=max(len(scene.lesions), 1))
    rows = []
    for les in scene.lesions:
        sl = objs[les.lesion_id - 1] if les.lesion_id - 1 < len(objs) else None
        if sl is None:
            continue  # the lesion lies outside the field of view
        sub = mask[sl] == les.lesion_id
        ijk = np.argwhere(sub) + np.array([s.start for s in sl])
        pts = apply_affine(g.affine, ijk)
        centroid = pts.mean(0)
        size = pts.max(0) - pts.min(0) + g.spacing
        near = np.clip(
            np.rint((centroid - g.origin) / g.spacing).astype(int), 0, np.asarray(g.shape) - 1
        )
        primary = int(labels[tuple(near)])
        labs = labels[sl][sub].astype(np.int64)
        locs = acceptable_labels(primary, labs, model.n)
        pidx = np.unique(
            np.clip(
                np.rint((pts - pg.origin) / pg.spacing).astype(int), 0, np.asarray(pg.shape) - 1
            ),
            axis=0,
        )
        suv_max = float(vol.pet[tuple(pidx.T)].max())
        rows.append(
            {
                "case_id": case_id,
                "lesion_id": les.lesion_id,
                "ct": f"{case_id}/ct.nii.gz",
                "pet": f"{case_id}/pet.nii.gz",
                "mask": f"{case_id}/lesions.nii.gz",
                "mask_label": les.lesion_id,
                "center_x": centroid[0],
                "center_y": centroid[1],
                "center_z": centroid[2],
                "size_x": size[0],
                "size_y": size[1],
                "size_z": size[2],
                "locations": "|".join(model.labels[i] for i in locs),
                "curies": "|".join(model.curies[i] for i in locs),
                "profile": scene.profile.name,
                "phantom_suv_max": suv_max,
                "volume_ml": len(labs) * float(np.prod(g.spacing)) / 1000.0,
                "shape": les.shape,
                "ct_appearance": les.ct,
                "deform": les.deform,
            }
        )
    return rows


#: the steps of :func:`make_case`, for a progress bar (the last four are render_volume's)
RENDER_STEPS = (
    "the body's anatomy",
    "placing the lesions",
    "tissue values",
    "the lesions' uptake",
    "the CT scanner",
    "the PET scanner",
)


def make_case(
    model: BodyModel,
    profile: Profile,
    seed: int,
    index: int,
    lesions_per_case: int | None = None,
    noise: bool = True,
    targets: list[int] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> Case:
    """Render case ``index`` of a run (volumes in memory, table rows).

    ``progress(done, total, next_step)`` is told before each of the rendering's
    :data:`RENDER_STEPS` steps and after the last (``done == total``, ``next_step`` "")."""
    import time

    def tell(done: int) -> None:
        if progress is not None:
            steps = len(RENDER_STEPS)
            progress(done, steps, RENDER_STEPS[done] if done < steps else "")

    rngs = case_rngs(seed, index)
    t0 = time.perf_counter()
    tell(0)
    scene = new_scene(model, profile, rngs["subject"])
    ct_grid, pet_grid = case_grid(model, scene.subject, profile, rngs["fov"])
    labels = rasterize(scene.atlas, ct_grid, scene.subject)
    t_labels = time.perf_counter() - t0
    tell(1)
    r = rngs["lesions"]
    lo, hi = profile.lesions.per_case
    k = int(lesions_per_case) if lesions_per_case is not None else int(r.integers(lo, hi + 1))
    t0 = time.perf_counter()
    lesions = place_lesions(scene, labels, ct_grid, r, k, targets)
    t_place = time.perf_counter() - t0
    tell(2)
    scene = scene.with_lesions(lesions)
    vol = render_volume(
        scene,
        ct_grid,
        pet_grid,
        rngs["noise"] if noise else None,
        labels=labels,
        progress=(lambda k: tell(2 + k)) if progress is not None else None,
    )
    vol.timings["labels"] += t_labels
    vol.timings["lesions"] += t_place
    cid = case_id_for(profile, seed, index)
    return Case(cid, index, seed, scene, vol, lesion_rows(cid, scene, vol))


def fmt(v) -> str:
    """Stable text for the CSV (floats with 3 decimals)."""
    if isinstance(v, float | np.floating):
        x = float(v)
        if math.isnan(x):
            return ""
        return f"{x:.3f}"
    return str(v)
