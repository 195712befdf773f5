"""Rendering: a :class:`Scene` (one subject with its looks, textures and lesions) to CT and PET.

Everything a scene shows is a function of the world point: the label (the atlas evaluated at
the point, moved by the mass effect of deforming lesions), the tissue values of that label,
the smooth textures, the rim and core of a location (from the location's own signed distance)
and the lesions.  Volume mode (:func:`render_volume`) evaluates these on the CT grid and
patch mode (``phantom.patches``) at a patch's voxel centres, so the two agree point for point
before the scanner model; the scanner model (CT kernel and noise, PET PSF, voxel size and
noise) is then applied in each grid (see ``docs/phantom.md`` for the approximation in patch
space).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from anatloc.ontology.atlas import Subject

from .appearance import CaseLooks, Texture, case_looks, tissue_values
from .body import BodyModel
from .lesions import Lesion, warp_points
from .profiles import Profile

FWHM = 2.0 * math.sqrt(2.0 * math.log(2.0))  # FWHM / sigma of a Gaussian
HU_MIN, HU_MAX = -1024, 3071


@dataclass(frozen=True, eq=False)
class Scene:
    """One case, independent of any voxel grid."""

    model: BodyModel
    subject: Subject
    profile: Profile
    looks: CaseLooks
    texture: Texture
    lesions: tuple[Lesion, ...] = ()

    @property
    def atlas(self):
        return self.model.atlas

    @property
    def deforming(self) -> list[Lesion]:
        return [les for les in self.lesions if les.deform > 0]

    def with_lesions(self, lesions) -> Scene:
        return Scene(
            self.model, self.subject, self.profile, self.looks, self.texture, tuple(lesions)
        )

    # -- pointwise evaluation ---------------------------------------------------------------
    def affected(self, points: np.ndarray) -> np.ndarray:
        """Points within reach of a deforming lesion (their atlas sample point moves)."""
        out = np.zeros(len(points), bool)
        for les in self.deforming:
            d = points - np.asarray(les.center_mm)
            out |= np.einsum("ij,ij->i", d, d) < les.reach**2
        return out

    def labels_at(self, points: np.ndarray) -> np.ndarray:
        """Label index at world points (after the mass effect)."""
        pts = np.asarray(points, np.float64).reshape(-1, 3)
        lab = self.atlas.labels_at(pts, self.subject).astype(np.int32)
        aff = self.affected(pts)
        if aff.any():
            lab[aff] = self.atlas.labels_at(warp_points(self.lesions, pts[aff]), self.subject)
        return lab

    def shade_points(self, points: np.ndarray, labels: np.ndarray):
        """(HU, SUV) float32 at world points of the given labels, before the scanner model."""
        pts = np.asarray(points, np.float64).reshape(-1, 3)
        lk = self.looks
        hu, suv = tissue_values(lk, labels, *self.texture.at(pts))
        self._shade_special(pts, labels, hu, suv, None)
        self._shade_lesions(pts, hu, suv, None)
        return hu.astype(np.float32), suv.astype(np.float32)

    def _shade_special(self, pts, labels, hu, suv, where) -> None:
        """Rim (cortex, myocardium) and core (renal pelvis) of the locations that have them.

        ``pts`` are the world points of ``labels`` (or, with ``where``, a callable returning
        (flat indices, points) of the voxels of one label)."""
        lk = self.looks
        for s in lk.special:
            if where is None:
                idx = np.flatnonzero(labels == s)
                p = pts[idx]
            else:
                idx, p = where(int(s))
            if len(idx) == 0:
                continue
            aff = self.affected(p)
            if aff.any():
                p = p.copy()
                p[aff] = warp_points(self.lesions, p[aff])
            d = self.atlas.sdf(self.model.curies[s], p, self.subject)
            if lk.rim_mm[s] > 0:
                m = d > -float(lk.rim_mm[s])
                hu.flat[idx[m]] += lk.rim_hu[s] - lk.hu[s]
                suv.flat[idx[m]] *= lk.rim_suv[s] / max(float(lk.suv[s]), 1e-6)
            if lk.core_mm[s] > 0:
                m = d < -float(lk.core_mm[s])
                hu.flat[idx[m]] += lk.core_hu[s] - lk.hu[s]
                suv.flat[idx[m]] *= lk.core_suv[s] / max(float(lk.suv[s]), 1e-6)

    def _shade_lesions(self, pts, hu, suv, mask, where=None) -> None:
        """Paint the lesions; ``mask`` (same layout as hu) receives the lesion ids."""
        for les in self.lesions:
            if where is None:
                lo, hi = les.bbox()
                cand = np.flatnonzero(np.all((pts >= lo) & (pts <= hi), axis=1))
                p = pts[cand]
            else:
                cand, p = where(les)
            if len(cand) == 0:
                continue
            q = les.q(p)
            m = q <= 1.0
            idx = cand[m]
            if len(idx) == 0:
                continue
            suv.flat[idx] = les.uptake(q[m])
            if les.ct in ("soft", "lytic", "sclerotic"):
                hu.flat[idx] = les.hu
            if mask is not None:
                mask.flat[idx] = les.lesion_id


# ------------------------------------------------------------------------------------------
# scene construction


def new_scene(
    model: BodyModel,
    profile: Profile,
    rng: np.random.Generator,
    subject: Subject | None = None,
    variability: bool = True,
    spread: float = 1.0,
) -> Scene:
    """A scene without lesions: a subject drawn from the profile's population (unless
    given), per-case looks and textures (``spread`` multiplies the per-case variability of
    the uptake)."""
    if subject is None:
        subject = model.atlas.sample_subject(rng, **profile.population.subject_ranges())
    looks = case_looks(model.labels, model.tissues, rng if variability else None, spread)
    return Scene(model, subject, profile, looks, Texture.draw(rng))


# ------------------------------------------------------------------------------------------
# scanner model helpers


def gaussian_kernel1d(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """The normalized kernel scipy.ndimage.gaussian_filter uses."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=float)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


#: a Gaussian narrower than this (voxels) changes nothing visible and is skipped
MIN_SIGMA_VOX = 0.3


def blur(vol: np.ndarray, sigma_vox, mode: str = "nearest") -> np.ndarray:
    """Separable Gaussian blur (float32); axes with sigma < MIN_SIGMA_VOX are skipped."""
    from scipy import ndimage

    out = vol
    for ax, s in enumerate(sigma_vox):
        if s >= MIN_SIGMA_VOX:
            out = ndimage.gaussian_filter1d(out, float(s), axis=ax, mode=mode, output=np.float32)
    return out


def kernel_norm(sigma_vox) -> float:
    """Standard deviation of unit white noise after :func:`blur` with ``sigma_vox``."""
    norm = 1.0
    for s in sigma_vox:
        if s >= MIN_SIGMA_VOX:
            k = gaussian_kernel1d(float(s))
            norm *= float(np.sqrt(np.sum(k * k)))
    return norm


def correlated_noise(rng: np.random.Generator, shape, sigma_vox) -> np.ndarray:
    """Unit-variance Gaussian noise smoothed by a Gaussian of ``sigma_vox`` voxels per axis."""
    n = rng.standard_normal(size=shape, dtype=np.float32)
    norm = kernel_norm(sigma_vox)
    n = blur(n, sigma_vox, mode="wrap")
    if norm != 1.0:
        n *= np.float32(1.0 / norm)
    return n


def block_mean(vol: np.ndarray, factors) -> np.ndarray:
    """Average over blocks of ``factors`` voxels (edges padded by replication)."""
    f = [max(int(v), 1) for v in factors]
    if f == [1, 1, 1]:
        return vol
    pad = [(0, (-n) % fa) for n, fa in zip(vol.shape, f, strict=True)]
    if any(p[1] for p in pad):
        vol = np.pad(vol, pad, mode="edge")
    s = vol.shape
    v = vol.reshape(s[0] // f[0], f[0], s[1] // f[1], f[1], s[2] // f[2], f[2])
    return v.mean(axis=(1, 3, 5), dtype=np.float32)


def pet_sigma_mm(profile: Profile) -> np.ndarray:
    """Total Gaussian sigma (mm, per axis) of the PET: PSF plus the PET voxel's integration."""
    s_psf = profile.pet.fwhm_mm / FWHM
    v = np.asarray(profile.pet.spacing_mm, float)
    return np.sqrt(s_psf**2 + v**2 / 12.0)


def patch_pet_sigma_mm(profile: Profile) -> np.ndarray:
    """The PET blur of a patch cut by trilinear interpolation from a PET volume: the
    volume's (:func:`pet_sigma_mm`) plus, on average over the sampling offsets, the linear
    interpolation's v²/6 per axis (v the PET voxel size)."""
    s_psf = profile.pet.fwhm_mm / FWHM
    v = np.asarray(profile.pet.spacing_mm, float)
    return np.sqrt(s_psf**2 + v**2 / 4.0)


def pet_block_factors(profile: Profile) -> np.ndarray:
    """Whole CT voxels per PET voxel along each axis (the first integration step)."""
    sp = np.asarray(profile.ct.spacing_mm, float)
    psp = np.asarray(profile.pet.spacing_mm, float)
    return np.maximum(np.floor(psp / sp + 1e-6), 1).astype(int)


def ct_sigma_mm(profile: Profile) -> np.ndarray:
    """Gaussian sigma (mm, per axis) of the CT kernel: in-plane only (a slice is a sample)."""
    s = profile.ct.kernel_fwhm_mm / FWHM
    return np.array([s, s, 0.0])


def noise_scale(subject: Subject) -> float:
    """Heavier patients: fewer counts and more CT noise."""
    return float(subject.girth) ** 1.5


# ------------------------------------------------------------------------------------------
# volume mode


@dataclass
class Grid:
    shape: tuple[int, int, int]
    affine: np.ndarray  # 4x4, axis-aligned RAS

    @property
    def spacing(self) -> np.ndarray:
        return np.abs(np.diag(self.affine)[:3])

    @property
    def origin(self) -> np.ndarray:
        return self.affine[:3, 3].copy()

    def axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World coordinates of the voxel centres along each axis."""
        return tuple(
            np.arange(n, dtype=float) * self.affine[a, a] + self.affine[a, 3]
            for a, n in enumerate(self.shape)
        )

    def points(self, flat_idx: np.ndarray) -> np.ndarray:
        i, j, k = np.unravel_index(flat_idx, self.shape)
        from nibabel.affines import apply_affine

        return apply_affine(self.affine, np.stack([i, j, k], 1).astype(float))

    def index_box(self, lo, hi) -> tuple[slice, slice, slice] | None:
        """Voxel slices whose centres lie in the world box [lo, hi] (None if empty)."""
        sl = []
        for a in range(3):
            d, o = self.affine[a, a], self.affine[a, 3]
            i0 = max(math.ceil((lo[a] - o) / d - 1e-9), 0)
            i1 = min(math.floor((hi[a] - o) / d + 1e-9), self.shape[a] - 1)
            if i1 < i0:
                return None
            sl.append(slice(i0, i1 + 1))
        return tuple(sl)


def body_extent(
    atlas, subject: Subject, step_mm: float = 16.0, cap_vertex: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """World box of the body inside the skin, from the soles to the vertex.

    ``Atlas.body_bounds`` is a union of transformed bounding boxes and can be much larger
    than the body; the skin shape (frame ``checks.skin_aux``, default ``body``) is sampled
    on a coarse grid instead (the box is conservative by half a step).  The top is capped
    at the vertex (frame ``landmarks_z_mm.vertex``), so that raised hands lie outside the
    field of view, as on a real arms-up scan.  Falls back to ``body_bounds`` when the frame
    has no skin shape."""
    lo, hi = atlas.body_bounds(subject)
    skin = (atlas.frame.get("checks") or {}).get("skin_aux", "body")
    if skin not in (atlas.frame.get("aux") or {}):
        return lo, hi
    axes = [np.arange(lo[a], hi[a] + step_mm, step_mm) for a in range(3)]
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    d = atlas.aux_sdf(skin, pts, subject)
    inside = pts[d < step_mm * math.sqrt(3) / 2]
    if len(inside) == 0:
        return lo, hi
    vertex = (atlas.frame.get("landmarks_z_mm") or {}).get("vertex") if cap_vertex else None
    if vertex is not None:
        top = float(atlas.reference_to_world(np.array([[0.0, 0.0, float(vertex)]]), subject)[0, 2])
        inside = inside[inside[:, 2] <= top + step_mm]
    e_lo = np.maximum(inside.min(0) - step_mm / 2, lo)
    e_hi = np.minimum(inside.max(0) + step_mm / 2, hi)
    if vertex is not None:
        e_hi[2] = min(e_hi[2], top + 5.0)
    return e_lo, e_hi


def case_grid(
    model: BodyModel, subject: Subject, profile: Profile, rng: np.random.Generator
) -> tuple[Grid, Grid]:
    """The CT and PET grids of a case: the body's box (:func:`body_extent`) plus a random
    margin per side (so the field of view is not fixed relative to the body) on the
    profile's spacings.  The PET grid covers the same box as the CT grid."""
    lo, hi = body_extent(model.atlas, subject)
    m_lo = rng.uniform(*profile.population.fov_margin_mm, 3)
    m_hi = rng.uniform(*profile.population.fov_margin_mm, 3)
    lo, hi = lo - m_lo, hi + m_hi
    sp = np.asarray(profile.ct.spacing_mm, float)
    f = pet_block_factors(profile)
    shape = tuple(int(v) for v in (np.ceil((hi - lo) / sp / f).astype(int) * f))
    aff = np.eye(4)
    aff[:3, :3] = np.diag(sp)
    aff[:3, 3] = lo + sp / 2
    ct = Grid(shape, aff)
    psp = np.asarray(profile.pet.spacing_mm, float)
    ext = np.asarray(shape) * sp
    pshape = tuple(int(v) for v in np.ceil(ext / psp - 1e-6).astype(int))
    paff = np.eye(4)
    paff[:3, :3] = np.diag(psp)
    paff[:3, 3] = lo + psp / 2
    return ct, Grid(pshape, paff)


@dataclass
class Volumes:
    ct: np.ndarray  # int16 HU on the CT grid
    pet: np.ndarray  # float32 SUV on the PET grid
    labels: np.ndarray  # int16 label indices on the CT grid
    lesion_mask: np.ndarray  # uint8/uint16 lesion ids on the CT grid
    ct_grid: Grid
    pet_grid: Grid
    timings: dict = field(default_factory=dict)


def rasterize(atlas, grid: Grid, subject: Subject, voxels: int = 1 << 21) -> np.ndarray:
    """``atlas.rasterize`` of a grid, in slabs along z of about ``voxels`` voxels.

    Labels are a function of the point, so the slabs give the same map as one call (the
    slab's origin is offset by whole voxels); the engine's working memory is bounded by the
    slab, and it is a little faster."""
    from nibabel.affines import apply_affine

    shape = tuple(int(v) for v in grid.shape)
    out = np.empty(shape, np.int16 if len(atlas.keys) < 32767 else np.int32)
    nz = max(1, voxels // max(shape[0] * shape[1], 1))
    for z0 in range(0, shape[2], nz):
        z1 = min(z0 + nz, shape[2])
        aff = grid.affine.copy()
        aff[:3, 3] = apply_affine(grid.affine, [0.0, 0.0, float(z0)])
        out[:, :, z0:z1] = atlas.rasterize((shape[0], shape[1], z1 - z0), aff, subject)
    return out


def rasterize_labels(scene: Scene, grid: Grid, base: np.ndarray | None = None) -> np.ndarray:
    """Label map on a grid, including the mass effect of deforming lesions (``base``: the
    undeformed label map of the same grid, if already computed)."""
    if base is None:
        lab = rasterize(scene.atlas, grid, scene.subject)
    else:
        lab = base.copy() if scene.deforming else base
    for les in scene.deforming:
        c = np.asarray(les.center_mm)
        box = grid.index_box(c - les.reach, c + les.reach)
        if box is None:
            continue
        sub_idx = _box_flat_indices(grid, box)
        pts = grid.points(sub_idx)
        d = pts - c
        near = np.einsum("ij,ij->i", d, d) < les.reach**2
        sub_idx, pts = sub_idx[near], pts[near]
        lab.flat[sub_idx] = scene.labels_at(pts)
    return lab


def _slabs(shape, voxels: int = 1 << 21):
    """Slices along the first axis of about ``voxels`` voxels each."""
    step = max(1, voxels // max(int(shape[1]) * int(shape[2]), 1))
    return [slice(x0, min(x0 + step, shape[0])) for x0 in range(0, shape[0], step)]


def _box_flat_indices(grid: Grid, box) -> np.ndarray:
    ii, jj, kk = np.meshgrid(*(np.arange(s.start, s.stop) for s in box), indexing="ij")
    return np.ravel_multi_index((ii.ravel(), jj.ravel(), kk.ravel()), grid.shape)


def shade_grid(scene: Scene, grid: Grid, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(HU, SUV) float32 of every voxel of an axis-aligned grid, before lesions and scanner:
    tissue values with the textures (in slabs along x, to bound the memory), then the rims
    and cores.  Identical, point for point, to :meth:`Scene.shade_points`."""
    from scipy import ndimage

    xs, ys, zs = grid.axes()
    hu = np.empty(grid.shape, np.float32)
    suv = np.empty(grid.shape, np.float32)
    for sl in _slabs(grid.shape):
        hu[sl], suv[sl] = tissue_values(
            scene.looks, labels[sl], *scene.texture.on_grid(xs[sl], ys, zs)
        )
    objs = ndimage.find_objects(labels, max_label=scene.model.n)

    def where_label(s: int):
        sl = objs[s - 1] if s - 1 < len(objs) else None
        if sl is None:
            return np.zeros(0, np.int64), np.zeros((0, 3))
        sub = np.flatnonzero(labels[sl].ravel() == s)
        ii = np.unravel_index(sub, labels[sl].shape)
        ijk = [ii[a] + sl[a].start for a in range(3)]
        flat = np.ravel_multi_index(ijk, labels.shape)
        pts = np.stack([ijk[a] * grid.affine[a, a] + grid.affine[a, 3] for a in range(3)], 1)
        return flat, pts

    scene._shade_special(None, labels, hu, suv, where_label)
    return hu, suv


def render_volume(
    scene: Scene,
    ct_grid: Grid,
    pet_grid: Grid,
    rng: np.random.Generator | None,
    labels: np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
) -> Volumes:
    """CT, PET, labels and the lesion instance mask of a scene (``rng=None``: no noise).

    ``progress(k)`` is told as each of its four steps ends (k = 1: tissue, 2: lesions,
    3: CT, 4: PET)."""
    from scipy import ndimage

    def tell(k: int) -> None:
        if progress is not None:
            progress(k)

    t = {}
    t0 = time.perf_counter()
    labels = rasterize_labels(scene, ct_grid, labels)
    t["labels"] = time.perf_counter() - t0

    # -- tissue values ----------------------------------------------------------------------
    t0 = time.perf_counter()
    hu, suv = shade_grid(scene, ct_grid, labels)
    t["tissue"] = time.perf_counter() - t0
    tell(1)

    # -- lesions --------------------------------------------------------------------------
    t0 = time.perf_counter()
    mask = np.zeros(ct_grid.shape, np.uint8 if len(scene.lesions) < 255 else np.uint16)

    def where_lesion(les: Lesion):
        lo, hi = les.bbox()
        box = ct_grid.index_box(lo, hi)
        if box is None:
            return np.zeros(0, np.int64), np.zeros((0, 3))
        flat = _box_flat_indices(ct_grid, box)
        return flat, ct_grid.points(flat)

    scene._shade_lesions(None, hu, suv, mask, where_lesion)
    t["lesions"] = time.perf_counter() - t0
    tell(2)

    # -- CT scanner: the kernel blurs the image and shapes the noise ------------------------
    t0 = time.perf_counter()
    prof = scene.profile
    sp = ct_grid.spacing
    ksig = ct_sigma_mm(prof) / sp
    if rng is not None:
        sd = np.float32(prof.ct.noise_hu * noise_scale(scene.subject) / kernel_norm(ksig))
        for sl in _slabs(hu.shape):
            hu[sl] += rng.standard_normal(size=hu[sl].shape, dtype=np.float32) * sd
    hu = blur(hu, ksig)
    np.rint(hu, out=hu)
    np.clip(hu, HU_MIN, HU_MAX, out=hu)
    ct = hu.astype(np.int16)
    del hu
    t["ct"] = time.perf_counter() - t0
    tell(3)

    # -- PET scanner: integrate over blocks, blur by the PSF, resample, add noise -------------
    t0 = time.perf_counter()
    psp = pet_grid.spacing
    f = pet_block_factors(prof)
    act = block_mean(suv, f)
    del suv
    bsp = sp * f  # spacing of the block grid
    bsig = np.sqrt(np.maximum(pet_sigma_mm(prof) ** 2 - (bsp**2 - sp**2) / 12.0, 0.0)) / bsp
    act = blur(act, bsig)
    borigin = ct_grid.origin + (f - 1) * sp / 2.0
    pet = ndimage.affine_transform(
        act,
        psp / bsp,
        offset=(pet_grid.origin - borigin) / bsp,
        output_shape=pet_grid.shape,
        order=1,
        mode="nearest",
        output=np.float32,
    )
    del act
    if rng is not None:
        n = correlated_noise(rng, pet.shape, prof.pet.noise_corr_mm / FWHM / psp)
        sd = np.sqrt(np.maximum(pet, 0)) * np.float32(
            prof.pet.noise_cv * noise_scale(scene.subject)
        )
        pet += n * sd
        np.maximum(pet, 0, out=pet)
    t["pet"] = time.perf_counter() - t0
    tell(4)
    return Volumes(
        ct=ct,
        pet=pet.astype(np.float32),
        labels=labels.astype(np.int16),
        lesion_mask=mask,
        ct_grid=ct_grid,
        pet_grid=pet_grid,
        timings=t,
    )
