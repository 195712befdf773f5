"""Patch mode: render the neighbourhood of a lesion straight from the atlas.

:func:`render_patch` evaluates the scene (atlas labels, tissue values, textures, rims and
cores, lesions) pointwise at the patch's voxel centres, so its labels equal the volume-mode
label map wherever a patch voxel coincides with a CT voxel, bit for bit.  The scanner is then
approximated in patch space (documented in ``docs/phantom.md``):

* CT: the kernel's in-plane Gaussian and the noise it shapes, applied along the patch axes;
* PET: one Gaussian of the PSF combined with the PET voxel's integration and, on average, the
  trilinear interpolation that cuts a patch out of a PET volume
  (:func:`~anatloc.phantom.render.patch_pet_sigma_mm`), applied along the patch axes with the
  edges replicated (no padding: the outermost voxels are slightly less blurred than in a
  volume);
  noise with the PET voxel's correlation length and the volume's count model;
* when the patch spacing is coarser than 1.5x the PET blur (a context patch at 12 mm), point
  samples would alias: lesions are then added as Gaussian-blurred uniform spheres of the same
  volume and mean uptake (closed form), and the tissue is point-sampled.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation
from scipy.special import erf

from .appearance import tissue_values
from .lesions import Lesion, warp_points
from .render import (
    FWHM,
    HU_MAX,
    HU_MIN,
    Scene,
    blur,
    correlated_noise,
    ct_sigma_mm,
    kernel_norm,
    noise_scale,
    patch_pet_sigma_mm,
)

COARSE_FACTOR = 1.5


def _vec3(v, what: str) -> np.ndarray:
    a = np.asarray(v, float).reshape(-1)
    if a.size == 1:
        a = np.repeat(a, 3)
    if a.size != 3:
        raise ValueError(f"{what} must be one or three numbers")
    return a


def rotation_of(rotation) -> np.ndarray:
    """None, a 3x3 matrix, or (rx, ry, rz) degrees (extrinsic, as the atlas's ``rotate``) -> a
    rotation matrix."""
    if rotation is None:
        return np.eye(3)
    r = np.asarray(rotation, float)
    if r.shape == (3, 3):
        return r
    return Rotation.from_euler("xyz", r.reshape(3), degrees=True).as_matrix()  # Rz @ Ry @ Rx


def patch_affine(center_mm, size_vox, spacing_mm, rotation=None) -> np.ndarray:
    """4x4 voxel -> world affine of a patch centred on ``center_mm`` (the centre lies between
    voxels for an even size); the patch axes are the columns of the rotation."""
    n = _vec3(size_vox, "size_vox")
    sp = _vec3(spacing_mm, "spacing_mm")
    rot = rotation_of(rotation)
    a = np.eye(4)
    a[:3, :3] = rot * sp[None, :]
    a[:3, 3] = np.asarray(center_mm, float) - a[:3, :3] @ ((n - 1) / 2.0)
    return a


def patch_points(
    center_mm, size_vox, spacing_mm, rotation=None
) -> tuple[np.ndarray, tuple[int, int, int]]:
    """World points (C order) of the patch's voxel centres, and the patch shape."""
    from nibabel.affines import apply_affine

    shape = tuple(int(v) for v in _vec3(size_vox, "size_vox"))
    aff = patch_affine(center_mm, shape, spacing_mm, rotation)
    ii, jj, kk = np.meshgrid(*(np.arange(s, dtype=float) for s in shape), indexing="ij")
    ijk = np.stack([ii.ravel(), jj.ravel(), kk.ravel()], 1)
    if np.count_nonzero(aff[:3, :3] - np.diag(np.diag(aff[:3, :3]))) == 0:
        # axis-aligned: the same arithmetic as a volume's voxel centres
        pts = np.empty_like(ijk)
        for r in range(3):
            pts[:, r] = (
                (ijk[:, 0] * aff[r, 0] + ijk[:, 1] * aff[r, 1]) + ijk[:, 2] * aff[r, 2]
            ) + aff[r, 3]
        return pts, shape
    return apply_affine(aff, ijk), shape


def blurred_sphere(r: np.ndarray, a: float, sigma: float) -> np.ndarray:
    """A uniform ball of radius ``a`` (value 1) convolved with an isotropic Gaussian of
    ``sigma``, at distance ``r`` from its centre."""
    r = np.maximum(np.asarray(r, float), 1e-3)
    s2 = math.sqrt(2.0) * sigma
    t1 = 0.5 * (erf((a - r) / s2) + erf((a + r) / s2))
    t2 = (
        sigma
        / (r * math.sqrt(2 * math.pi))
        * (np.exp(-((r - a) ** 2) / (2 * sigma**2)) - np.exp(-((r + a) ** 2) / (2 * sigma**2)))
    )
    return np.clip(t1 - t2, 0.0, 1.0)


def _mean_uptake(les: Lesion) -> float:
    return les.suv_peak * 0.85 * (1.0 - les.necrosis / 8.0)


def render_patch(
    scene: Scene,
    center_mm,
    size_vox,
    spacing_mm,
    rotation=None,
    rng: np.random.Generator | None = None,
    *,
    target: int | None = None,
    with_labels: bool = True,
    mask_supersample: int = 1,
    field=None,
    supersample: int = 2,
) -> dict:
    """Render a PET/CT patch of a scene.

    ``size_vox`` and ``spacing_mm`` are one value or three; ``rotation`` (None, 3x3 matrix or
    rx, ry, rz degrees) turns the patch about its centre; ``rng`` adds scanner noise (None: no
    noise); ``target`` is the lesion id whose mask is returned (None: every lesion, as ids).

    Returns ``ct`` (float32 HU), ``pet`` (float32 SUV), ``mask`` (uint8: 1 where the target
    lesion is), ``labels`` (int32 label indices of the scene's body model) and ``affine``
    (the patch's voxel -> world matrix).  With ``mask_supersample`` k > 1 and a target,
    ``mask_soft`` (float32) is the fraction of k³ sub-samples per voxel inside the target
    lesion (the occupancy a resampled mask would give).

    With ``field`` (a :class:`~anatloc.phantom.field.SubjectField` of the same scene) the
    tissue comes from the field by nearest-neighbour lookup, averaged over up to
    ``supersample``³ sub-samples per voxel when the patch is coarser than the field (the
    fast path of the training stream); otherwise the atlas is evaluated at every voxel
    centre (exact: the labels equal volume mode's).
    """
    shape = tuple(int(v) for v in _vec3(size_vox, "size_vox"))
    sp = _vec3(spacing_mm, "spacing_mm")
    prof = scene.profile
    psig = patch_pet_sigma_mm(prof)
    soft = None
    if field is None:
        labels, hu, suv, ids, coarse = _shade_exact(scene, center_mm, shape, sp, rotation, psig)
    else:
        k = int(max(1, min(supersample, math.ceil(float(np.max(sp)) / field.spacing - 1e-6))))
        labels, hu, suv, ids, soft = _shade_field(
            scene, field, center_mm, shape, sp, rotation, k, target
        )
        coarse = False
        if k > 1:  # the sub-samples already integrated the patch voxel
            psig = np.sqrt(np.maximum(psig**2 - sp**2 / 12.0, 0.0))
    hu = hu.reshape(shape).astype(np.float32)
    suv = suv.reshape(shape).astype(np.float32)

    # CT scanner
    ksig = ct_sigma_mm(prof) / sp
    if rng is not None:
        sd = prof.ct.noise_hu * noise_scale(scene.subject) / kernel_norm(ksig)
        hu += rng.standard_normal(size=shape, dtype=np.float32) * np.float32(sd)
    hu = np.clip(blur(hu, ksig), HU_MIN, HU_MAX)
    # PET scanner
    pet = suv if coarse else blur(suv, psig / sp)
    if rng is not None:
        v = np.asarray(prof.pet.spacing_mm, float)
        corr = np.sqrt(prof.pet.noise_corr_mm**2 + v**2) / FWHM / sp
        n = correlated_noise(rng, shape, corr)
        pet = pet + n * np.sqrt(np.maximum(pet, 0)) * np.float32(
            prof.pet.noise_cv * noise_scale(scene.subject)
        )
        pet = np.maximum(pet, 0)
    ids = ids.reshape(shape)
    mask = (ids == target).astype(np.uint8) if target is not None else ids
    out = {
        "ct": hu.astype(np.float32),
        "pet": pet.astype(np.float32),
        "mask": mask,
        "affine": patch_affine(center_mm, shape, spacing_mm, rotation),
    }
    if with_labels:
        out["labels"] = labels.reshape(shape)
    if target is not None and soft is not None:
        out["mask_soft"] = soft
    elif target is not None and mask_supersample > 1:
        out["mask_soft"] = soft_mask(
            scene, target, center_mm, shape, spacing_mm, rotation, mask_supersample
        )
    return out


def _shade_exact(scene: Scene, center_mm, shape, sp, rotation, psig):
    """Labels, HU, SUV and lesion ids at the voxel centres, from the atlas itself."""
    pts, _ = patch_points(center_mm, shape, sp, rotation)
    labels = scene.labels_at(pts)
    hu, suv = tissue_values(scene.looks, labels, *scene.texture.at(pts))
    scene._shade_special(pts, labels, hu, suv, None)
    coarse = bool(np.max(sp) > COARSE_FACTOR * np.max(psig))
    ids = np.zeros(len(pts), np.uint16)
    if coarse:
        tissue_suv = suv.copy()
        scene._shade_lesions(pts, hu, suv, ids)
        suv = tissue_suv
        for les in scene.lesions:
            lo, hi = les.bbox()
            reach = 3.0 * float(np.max(psig))
            near = np.all((pts >= lo - reach) & (pts <= hi + reach), axis=1)
            if not near.any():
                continue
            a = float(np.prod(les.radii_mm)) ** (1 / 3)
            d = np.linalg.norm(pts[near] - np.asarray(les.center_mm), axis=1)
            w = blurred_sphere(d, a, float(np.mean(psig)))
            suv[near] = suv[near] + w * (_mean_uptake(les) - suv[near])
    else:
        scene._shade_lesions(pts, hu, suv, ids)
    return labels, hu, suv, ids, coarse


def _pool(x: np.ndarray, shape, k: int) -> np.ndarray:
    """Mean over k³ sub-samples per voxel: (n k)³ flat -> n³ (strided sums, axis by axis)."""
    v = x.reshape(tuple(int(s) * k for s in shape))
    if k == 1:
        return v
    for ax in range(3):
        idx = [slice(None)] * 3
        acc = None
        for o in range(k):
            idx[ax] = slice(o, None, k)
            acc = v[tuple(idx)].astype(np.float32) if acc is None else acc + v[tuple(idx)]
        v = acc
    return v * np.float32(1.0 / k**3)


def _box_in_grid(affine: np.ndarray, shape, lo, hi):
    """Index box (slices) of a grid's voxels whose centres may lie in the world box."""
    inv = np.linalg.inv(affine)
    corners = np.array(
        [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    )
    v = corners @ inv[:3, :3].T + inv[:3, 3]
    a = np.maximum(np.floor(v.min(0)).astype(int), 0)
    b = np.minimum(np.ceil(v.max(0)).astype(int) + 1, np.asarray(shape))
    if np.any(b <= a):
        return None
    return tuple(slice(int(x), int(y)) for x, y in zip(a, b, strict=True))


def _grid_where(affine: np.ndarray, shape):
    """A ``where`` for :meth:`Scene._shade_lesions` on a grid: the flat indices and world
    points of the voxels in a lesion's bounding box."""
    from nibabel.affines import apply_affine

    def where(les):
        lo, hi = les.bbox()
        box = _box_in_grid(affine, shape, lo, hi)
        if box is None:
            return np.zeros(0, np.int64), np.zeros((0, 3))
        ii, jj, kk = np.meshgrid(*(np.arange(b.start, b.stop) for b in box), indexing="ij")
        flat = np.ravel_multi_index((ii.ravel(), jj.ravel(), kk.ravel()), tuple(shape))
        ijk = np.stack([ii.ravel(), jj.ravel(), kk.ravel()], 1).astype(float)
        return flat, apply_affine(affine, ijk)

    return where


def _shade_field(scene: Scene, field, center_mm, shape, sp, rotation, k: int, target):
    """Labels and lesion ids at the voxel centres; HU, SUV and the target's occupancy
    averaged over k³ sub-samples per voxel, the tissue looked up in the field."""
    n = np.asarray(shape)
    sub_shape = tuple(int(v) for v in n * k)
    aff_s = patch_affine(center_mm, sub_shape, sp / k, rotation)
    if scene.deforming:
        pts = patch_points(center_mm, sub_shape, sp / k, rotation)[0]
        lab, hu, suv = field.lookup(warp_points(scene.lesions, pts))
    else:
        got = field.lookup_grid(
            aff_s, sub_shape, ("labels", "hu", "suv") if k == 1 else ("hu", "suv")
        )
        lab, hu, suv = got.get("labels"), got["hu"], got["suv"]
    ids_s = np.zeros(len(hu), np.uint16)
    scene._shade_lesions(None, hu, suv, ids_s, _grid_where(aff_s, sub_shape))
    hu, suv = _pool(hu, shape, k), _pool(suv, shape, k)
    soft = _pool((ids_s == target).astype(np.float32), shape, k) if target is not None else None
    if k == 1:
        return lab, hu, suv, ids_s, soft
    aff = patch_affine(center_mm, shape, sp, rotation)
    if scene.deforming:
        labels = field.labels_at(
            warp_points(scene.lesions, patch_points(center_mm, shape, sp, rotation)[0])
        )
    else:
        labels = field.lookup_grid(aff, shape, ("labels",))["labels"]
    ids = np.zeros(int(np.prod(n)), np.uint16)
    dummy = np.zeros(len(ids), np.float32)
    scene._shade_lesions(None, dummy, dummy.copy(), ids, _grid_where(aff, shape))
    return labels, hu, suv, ids, soft


def soft_mask(
    scene: Scene, target: int, center_mm, shape, spacing_mm, rotation, k: int
) -> np.ndarray:
    """Occupancy (k³ sub-samples per voxel) of lesion ``target`` on a patch grid."""
    les = next((x for x in scene.lesions if x.lesion_id == target), None)
    out = np.zeros(shape, np.float32)
    if les is None:
        return out
    aff = patch_affine(center_mm, shape, spacing_mm, rotation)
    inv = np.linalg.inv(aff)
    lo, hi = les.bbox()
    corners = np.array(
        [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    )
    vox = corners @ inv[:3, :3].T + inv[:3, 3]
    a = np.maximum(np.floor(vox.min(0)).astype(int), 0)
    b = np.minimum(np.ceil(vox.max(0)).astype(int) + 1, np.asarray(shape))
    if np.any(b <= a):
        return out
    sub = (np.arange(k) + 0.5) / k - 0.5  # sub-sample offsets within a voxel
    grids = [np.add.outer(np.arange(a[d], b[d]), sub).ravel() for d in range(3)]
    ii, jj, kk = np.meshgrid(*grids, indexing="ij")
    pts = np.stack([ii.ravel(), jj.ravel(), kk.ravel()], 1) @ aff[:3, :3].T + aff[:3, 3]
    inside = les.inside(pts).reshape(len(grids[0]), len(grids[1]), len(grids[2])).astype(np.float32)
    n = b - a
    occ = inside.reshape(n[0], k, n[1], k, n[2], k).mean(axis=(1, 3, 5))
    out[a[0] : b[0], a[1] : b[1], a[2] : b[2]] = occ
    return out
