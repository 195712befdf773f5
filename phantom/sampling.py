"""Patch mode's lesions: one lesion scene and its acceptable labels per seed, epoch and index.

This is the phantom's public sampling interface; the retriever's training source
(``anatloc.retriever.phantom_source``) and its realism battery are adapters over it and
reach nothing else of the phantom.  :class:`LesionSampler` draws sample ``index`` as a pure
function of ``(seed, epoch, index)`` (validation: of ``(seed, index)``):

1. a target location is drawn uniformly among the atlas's fine locations (validation: the
   index-th location in turn, or the index-th of the given ``targets``), so all of them are
   covered about equally;
2. a subject is drawn from the profile's population, with the sex or the L6 variant that
   the location needs; ``samples_per_subject`` consecutive indices share it;
3. the lesion's centre is a random point of the location (deeper points preferred) and its
   size is capped by the depth there (:func:`~anatloc.phantom.lesions.capped_radius` and
   :func:`~anatloc.phantom.lesions.lesion_in`, the placement that volume mode's
   :func:`~anatloc.phantom.cases.place_lesions` uses too); with probability
   ``distractors`` one or two other lesions are put nearby, or, when the variation draws
   them, multifocal lesions;
4. the acceptable locations follow volume mode's rule
   (:func:`~anatloc.phantom.lesions.acceptable_labels`): the label at the lesion's centroid
   first, then every other location covering ≥ 25 % of its volume, measured here on a small
   grid over the lesion instead of on voxels.

:func:`lesion_patch` renders a block of a sampled scene around its target lesion (thick CT
slices and a metal implant's streaks when the variation drew them).

Decision: the random streams, their seeds and the order of the draws are those of the
training source before this module existed, so samples and the training caches keyed by
``(seed, epoch, index)`` stay valid (``tests/phantom/test_sampling_pins.py``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from anatloc.ontology.errors import DataError

from .body import BodyModel
from .field import SubjectField
from .lesions import acceptable_labels, capped_radius, lesion_in, overlaps
from .patches import patch_points, render_patch
from .profiles import Profile
from .realism import (
    CONTRAST_HU,
    Metal,
    Variation,
    draw_metal,
    draw_scanner,
    group_of,
    labels_at,
    landmark_heights,
    lesion_model,
    multifocal,
    point_in,
    subject_ranges,
    thick_slices,
    with_contrast,
)
from .render import Scene, new_scene

#: acceptable locations kept per sample (primary first)
MAX_FINE = 8


@dataclass
class LesionCase:
    """One sampled lesion, before rendering."""

    scene: Scene  # the target lesion has id 1; distractors and multifocal ones follow
    fine: list[int]  # acceptable fine indices, primary first
    coarse: int
    field: SubjectField | None
    metal: Metal | None = None
    #: heights of ``phantom.realism.LANDMARKS`` above the lesion centre (mm; NaN unknown)
    heights: np.ndarray | None = None


class LesionSampler:
    """Lesion scenes of one profile and body model (see the module docstring).

    ``exact`` evaluates the atlas at every point instead of a pre-rendered
    :class:`SubjectField` of ``field_spacing`` mm; ``subjects``, a dict shared by the
    caller, keeps every subject built (samplers of one seed and body settings then build
    each subject once; by default only the last one is kept)."""

    def __init__(
        self,
        profile: Profile,
        model: BodyModel,
        *,
        seed: int = 0,
        distractors: float = 0.3,
        samples_per_subject: int = 128,
        field_spacing: float = 3.0,
        exact: bool = False,
        p_l6: float = 0.25,
        variation: Variation | None = None,
        targets: Sequence[int] | None = None,
        subjects: dict | None = None,
    ):
        self.profile = profile
        self.model = model
        self.variation = variation or Variation()
        self.targets = (
            None if targets is None else np.asarray(list(dict.fromkeys(targets)), np.int64)
        )
        self.seed = int(seed)
        self.distractors = float(distractors)
        self.samples_per_subject = max(1, int(samples_per_subject))
        self.field_spacing = float(field_spacing)
        self.exact = bool(exact)
        self.p_l6 = float(p_l6)
        self._shared_subjects = subjects
        self._subject_cache: tuple | None = None
        self._landmarks: tuple | None = None

    def rngs(
        self, index: int, epoch: int, train: bool
    ) -> tuple[np.random.Generator, np.random.Generator]:
        """(scene stream, noise stream) of sample ``index``."""
        ss = np.random.SeedSequence(
            [self.seed & 0xFFFFFFFF, 1 if train else 0, epoch if train else 0, index]
        )
        a, b = ss.spawn(2)
        return np.random.default_rng(a), np.random.default_rng(b)

    # -- subjects --------------------------------------------------------------------------
    def subject(self, sid: int, epoch: int, train: bool) -> tuple[Scene, SubjectField | None]:
        """(lesion-free scene, field or None) of subject ``sid``."""
        key = (sid, epoch if train else -1, train)
        if self._subject_cache is not None and self._subject_cache[0] == key:
            return self._subject_cache[1], self._subject_cache[2]
        shared = self._shared_subjects
        if shared is not None:
            v = self.variation
            body = (v.height_mm, v.girth, v.p_arms_up, v.uptake_spread, v.contrast_prob)
            skey = (self.profile.name, self.seed, self.exact, self.field_spacing, body, key)
            if skey not in shared:
                self._subject_cache = None
                shared[skey] = self._make_subject(sid, epoch, train)
            self._subject_cache = (key, *shared[skey])
            return shared[skey]
        scene, field = self._make_subject(sid, epoch, train)
        self._subject_cache = (key, scene, field)
        return scene, field

    def _make_subject(self, sid: int, epoch: int, train: bool):
        ss = np.random.SeedSequence(
            [self.seed & 0xFFFFFFFF, 3 if train else 2, epoch if train else 0, sid]
        )
        rng = np.random.default_rng(ss)
        ranges = dict(self.profile.population.subject_ranges())
        ranges["p_l6"] = max(ranges["p_l6"], self.p_l6)
        if not train:  # validation alternates the sexes, so that every location comes up
            ranges["sex"] = "male" if sid % 2 == 0 else "female"
        var = self.variation
        ranges = subject_ranges(var, ranges)
        subj = self.model.atlas.sample_subject(rng, **ranges)
        scene = new_scene(self.model, self.profile, rng, subject=subj, spread=var.uptake_spread)
        if var.contrast_prob > 0 and rng.random() < var.contrast_prob:
            hu = float(rng.uniform(*CONTRAST_HU))
            scene = dataclasses.replace(
                scene, looks=with_contrast(scene.looks, self.model.labels, hu)
            )
        field = None if self.exact else SubjectField(scene, self.field_spacing)
        return scene, field

    def _heights(self, base: Scene) -> np.ndarray:
        """World z of the landmarks of the subject of ``base`` (kept per subject)."""
        if self._landmarks is None or self._landmarks[0] is not base:
            self._landmarks = (base, landmark_heights(base))
        return self._landmarks[1]

    # -- lesions ---------------------------------------------------------------------------
    def _present(self, base: Scene, field: SubjectField | None) -> np.ndarray:
        m = self.model
        present = field.present() if field is not None else np.flatnonzero(m.present(base.subject))
        if self.targets is not None:
            present = np.intersect1d(present, self.targets)  # sorted: the stream is fixed
        if len(present) == 0:
            raise DataError(
                "the phantom's subject has no location with a voxel"
                + (" among the target locations" if self.targets is not None else "")
                + "; is the atlas empty?"
            )
        return present

    def case(self, index: int, epoch: int = 0, train: bool = True) -> LesionCase:
        """Sample ``index``: the scene with its lesions, the acceptable fine and coarse
        indices, the subject's field, a metal implant (or None) and the landmarks' heights
        above the lesion."""
        m = self.model
        var = self.variation
        base, field = self.subject(index // self.samples_per_subject, epoch, train)
        rng = self.rngs(index, epoch, train)[0]
        present = self._present(base, field)
        if self.targets is None:
            wanted = 1 + index % m.n
        else:
            wanted = int(self.targets[index % len(self.targets)])
        model = lesion_model(var, self.profile.lesions)
        for attempt in range(20):
            if not train and attempt == 0 and wanted in present:
                s = wanted  # validation: every location in turn
            else:
                s = int(present[int(rng.integers(len(present)))])
            found = point_in(base, field, s, rng)
            if found is None:
                continue
            centre, depth = found
            r = capped_radius(rng, model, var.size_cap * depth + 4.0)
            les = lesion_in(base, s, rng, 1, centre, r, model)
            lesions = [les]
            if var.multifocal_prob > 0 and rng.random() < var.multifocal_prob:
                lesions += multifocal(
                    base,
                    les,
                    rng,
                    var,
                    model,
                    labels_at=lambda p: labels_at(base, field, p),
                    point_in=lambda i, g: point_in(base, field, i, g),
                    group=group_of(m, s),
                )
            elif rng.random() < self.distractors:
                lesions += _distractors(base, field, les, rng, self.profile)
            scene = base.with_lesions(lesions)
            fine = _acceptable(scene, field, les)
            f = [int(m.fine_index[i]) for i in fine if m.fine_index[i] >= 0][:MAX_FINE]
            if not f:
                continue
            metal = None
            if not var.is_default:
                scene = dataclasses.replace(scene, profile=draw_scanner(var, self.profile, rng))
                if var.metal_prob > 0 and rng.random() < var.metal_prob:
                    metal = draw_metal(scene, rng, near=les.center_mm)
            heights = self._heights(base) - float(les.center_mm[2])
            return LesionCase(scene, f, int(m.coarse_index[fine[0]]), field, metal, heights)
        raise DataError(
            f"the phantom could not place a lesion for sample {index} (profile {self.profile.name})"
        )


def lesion_patch(
    scene: Scene,
    centre,
    size: int,
    spacing: float,
    rotation,
    rng: np.random.Generator,
    *,
    field: SubjectField | None = None,
    metal: Metal | None = None,
    thick_ct: bool = False,
    mask_supersample: int = 1,
    supersample: int = 2,
) -> np.ndarray:
    """Raw float32 (3, S, S, S) [HU, SUV, occupancy of lesion 1] of a sampled scene around
    ``centre`` (``rotation``: None or a 3x3 matrix); ``thick_ct`` draws the scene's CT as
    its thick slices, ``metal`` adds an implant's streaks."""
    p = render_patch(
        scene,
        centre,
        size,
        spacing,
        rotation,
        rng,
        target=1,
        with_labels=False,
        mask_supersample=mask_supersample,
        field=field,
        supersample=supersample,
    )
    mask = p["mask_soft"] if mask_supersample > 1 else p["mask"].astype(np.float32)
    ct = p["ct"]
    if thick_ct:
        ct = thick_slices(ct, spacing, float(scene.profile.ct.spacing_mm[2]))
    if metal is not None:
        pts = patch_points(centre, size, spacing, rotation)[0]
        ct = metal.hu_change(pts, ct.reshape(-1)).reshape(ct.shape)
    return np.stack([ct, p["pet"], mask]).astype(np.float32)


# ------------------------------------------------------------------------------------------
# placing lesions without a label volume


def _distractors(
    scene: Scene, field: SubjectField | None, target, rng: np.random.Generator, profile: Profile
) -> list:
    """One or two other lesions 15-80 mm from the target, inside the body."""
    m = scene.model
    out = []
    k = int(rng.integers(1, 3))
    c = np.asarray(target.center_mm)
    for _ in range(4 * k):
        if len(out) >= k:
            break
        d = rng.standard_normal(3)
        d /= np.linalg.norm(d)
        p = c + d * (target.bound_radius + rng.uniform(15.0, 80.0))
        s = int(labels_at(scene, field, p[None])[0])
        if s == 0 or s == m.outside:
            continue
        r = float(np.exp(rng.uniform(math.log(2.0), math.log(15.0))))
        if overlaps(p, r * 1.3, [target, *out]):
            continue
        out.append(
            lesion_in(scene, s, rng, len(out) + 2, p, r, profile.lesions, allow_deform=False)
        )
    return out


def _acceptable(scene: Scene, field: SubjectField | None, les, n: int = 9) -> list[int]:
    """Label indices acceptable for a lesion (see the module docstring), measured on an n³
    grid over its bounding box."""
    lo, hi = les.bbox()
    axes = [np.linspace(lo[a], hi[a], n) for a in range(3)]
    g = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    inside = les.inside(g)
    pts = g[inside] if inside.any() else np.asarray(les.center_mm, float)[None]
    centroid = pts.mean(0)
    labs = labels_at(scene, field, np.vstack([centroid[None], pts]))
    return acceptable_labels(int(labs[0]), labs[1:], scene.model.n)
