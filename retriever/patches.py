"""World-space patch sampling: lesion-centred CT/PET/mask patches from images on any grid.

A patch of ``size`` voxels per side at ``spacing`` mm is a grid of world points (RAS mm)
around a lesion centre, optionally turned about the patch **centre** by a rotation and
scaled by a zoom (the reference implementation turns about the crop's corner, which shifts
rotated crops by centimetres).  The points are mapped into each image's voxel space through
the inverse of *its* affine, so a 4 mm PET and a 1 mm CT on different grids, or an image
stored LPS or oblique, give patches that agree in world space.  CT and PET are sampled
trilinearly, masks by nearest neighbour; points outside an image take a fill value (CT
−1000 HU = air, PET 0, mask 0).

Anti-aliasing: a coarse patch (e.g. 12 mm) cut from a fine image (1 mm CT) would alias.
Each output voxel is therefore the mean of ``k³`` sub-samples, ``k = ceil(patch spacing /
image spacing)`` capped by ``DataConfig.max_supersample``.  For the mask this makes a soft
occupancy in [0, 1]; a lesion so small that it falls between all sub-samples still marks
the voxel holding its centre with its partial volume, so the target never vanishes.

Two samplers give the same values.  Patches without rotation from an image on an
axis-aligned grid (a diagonal affine, flips allowed: what scanners and the phantom write)
take the separable path, :func:`separable_patches`: the mean of a voxel's k³ trilinear
sub-samples factorises into three small per-axis weight matrices, contracted with the image
block the patch covers (a sparse band product along z on a strided view of the volume,
then two small dense products) — no sampling grid, about 4× faster per lesion on CPU.
Otherwise (rotated patches, oblique images) all lesions of a case are sampled by one
``torch.grid_sample`` call per image (chunked to bound memory) on a zero-copy view of the
volume; ``cut_raw(separable=False)`` forces this path.

Deterministic and random parts are separate (MONAI's rule): :func:`cut_raw` with no
rotation/zoom cuts axis-aligned *blocks* slightly larger than the patch (``block_size``),
which can be cached; :func:`augment_blocks` then applies jitter, rotation, zoom and
intensity changes to cached blocks cheaply; :func:`to_channels` scales intensities into the
network's four channels and applies CT dropout.  Without augmentation the block path and
the direct path give identical patches (the points coincide with block voxel centres).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from nibabel.affines import apply_affine

from .config import DataConfig, ScaleConfig
from .nifti import Volume
from .realism import Realism, degrade, draw_realism, fov_weight_axes, with_seen

CT_FILL = -1000.0
PET_FILL = 0.0
#: raw channels cut from the images (before scaling): HU, SUV, the target's mask, and how
#: much of each voxel the CT and the PET image cover (1 inside the field of view, 0 outside
#: it or without a CT).  Blocks written before the last two existed have 3 channels; they
#: are read as wholly inside the field of view.
RAW_CHANNELS = ("ct_hu", "pet_suv", "mask", "ct_seen", "pet_seen")
#: the fill value of each raw channel outside an image
RAW_FILL = (CT_FILL, PET_FILL, 0.0, 0.0, 0.0)
#: network channels (``DataConfig.fov_channels``) — and the layout of models trained before
#: the field-of-view channels existed
CHANNELS = ("ct", "ct_seen", "pet", "pet_seen", "mask")
CHANNELS_V1 = ("ct", "ct_present", "pet", "mask")
#: sub-sample points per grid_sample call (bounds the memory of the grid)
_CHUNK_POINTS = 3_000_000


@dataclass
class Targets:
    """Which lesion each patch is about: an instance id in a mask, or an ellipsoid box."""

    #: (B,) instance id in the case's mask, 0 where the lesion has a box instead
    labels: np.ndarray
    #: (B, 3) lesion centres (world mm) and (B, 3) full box sizes (mm): the ellipsoid drawn
    #: where the label is 0; for a mask lesion its centroid and bounding box (or NaN)
    centers: np.ndarray
    sizes: np.ndarray


@dataclass
class CaseImages:
    """The images of one case, ready for sampling (no copies of the voxel data)."""

    pet: Volume
    ct: Volume | None = None
    mask: Volume | None = None

    @property
    def has_ct(self) -> bool:
        return self.ct is not None


def offsets(size: int, spacing: float, k: int = 1) -> torch.Tensor:
    """(size*k,) offsets in mm of a grid of ``size`` cells of ``spacing`` mm, ``k`` sub-samples
    per cell, centred on 0 (the mean of each cell's sub-samples is the cell centre)."""
    n = size * k
    return (torch.arange(n, dtype=torch.float64) - (n - 1) / 2.0) * (spacing / k)


def grid_points(
    centers: torch.Tensor,
    size: int,
    spacing: float,
    k: int = 1,
    transforms: torch.Tensor | None = None,
) -> torch.Tensor:
    """World points (B, n, n, n, 3) of patches, axes (x, y, z) = RAS.

    ``transforms`` (B, 3, 3) (rotation × zoom) acts on the offsets, i.e. about the centre.
    """
    o = offsets(size, spacing, k)
    n = o.numel()
    off = torch.stack(torch.meshgrid(o, o, o, indexing="ij"), dim=-1).reshape(1, n**3, 3)
    if transforms is not None:
        off = off @ transforms.to(torch.float64).transpose(1, 2)
    pts = off + centers.to(torch.float64)[:, None, :]
    return pts.reshape(-1, n, n, n, 3)


def _volume_tensor(vol: Volume) -> torch.Tensor:
    """(1, 1, n2, n1, n0) view of the data without a copy (data is Fortran-ordered)."""
    return torch.from_numpy(np.ascontiguousarray(vol.data.T))[None, None]


def _inside_weight(vox: torch.Tensor, size: torch.Tensor, mode: str) -> torch.Tensor:
    """The weight that interpolation gives to voxels inside the image (1 deep inside, 0
    far outside): what sampling an all-ones image would return, computed without one.

    Per axis, linear interpolation with zero padding keeps ``clamp(min(v + 1, n − v), 0, 1)``
    of the value; nearest keeps 1 for −0.5 ≤ v < n − 0.5.
    """
    if mode == "nearest":
        return ((vox >= -0.5) & (vox < size - 0.5)).all(dim=-1).to(torch.float32)
    w = torch.minimum(vox + 1.0, size - vox).clamp_(0.0, 1.0)
    return w[..., 0] * w[..., 1] * w[..., 2]


def sample_volume(
    vol: Volume, points: torch.Tensor, *, mode: str = "bilinear", fill: float = 0.0
) -> torch.Tensor:
    """Values of ``vol`` at world ``points`` (..., 3) → (...) float32.

    ``mode`` "bilinear" (trilinear in 3-D) or "nearest"; outside the image → ``fill``
    (blended at the border exactly as if the image were padded with ``fill``).
    """
    shape = points.shape[:-1]
    flat = points.reshape(-1, 3)
    inv = torch.from_numpy(vol.inverse)
    src = _volume_tensor(vol)  # zero-copy
    size = torch.tensor(vol.shape, dtype=torch.float64)
    out = torch.empty(flat.shape[0], dtype=torch.float32)
    for start in range(0, flat.shape[0], _CHUNK_POINTS):
        vox = flat[start : start + _CHUNK_POINTS] @ inv[:3, :3].T + inv[:3, 3]
        norm = ((2.0 * vox + 1.0) / size - 1.0).to(torch.float32)  # align_corners=False
        val = F.grid_sample(
            src, norm.reshape(1, 1, 1, -1, 3), mode=mode, padding_mode="zeros", align_corners=False
        ).reshape(-1)
        if fill != 0.0:
            val += fill * (1.0 - _inside_weight(vox, size, mode))
        out[start : start + vox.shape[0]] = val
    return out.reshape(shape)


def supersample_factor(image_spacing: np.ndarray | float, patch_spacing: float, cap: int) -> int:
    """Sub-samples per axis and output voxel: ceil(patch spacing / finest image spacing)."""
    finest = float(np.min(image_spacing))
    return int(max(1, min(cap, math.ceil(patch_spacing / finest - 1e-6))))


def _pool(x: torch.Tensor, k: int) -> torch.Tensor:
    """(B, n, n, n) sub-samples → (B, n/k, n/k, n/k) means."""
    if k == 1:
        return x
    return F.avg_pool3d(x[:, None], kernel_size=k, stride=k)[:, 0]


def _affine_grid(
    lin: torch.Tensor, shift: torch.Tensor, size: int, spacing: float, k: int
) -> torch.Tensor:
    """(B, n, n, n, 3) = lin_b @ o + shift_b over the patch offsets o, in float32.

    Built from three broadcast outer products instead of an (n³ × 3) @ (3 × 3) product.
    """
    o = offsets(size, spacing, k).to(torch.float32)
    n = o.numel()
    lin = lin.to(torch.float32)
    a = o.view(1, n, 1, 1, 1) * lin[:, None, None, None, :, 0]
    a = a + shift.to(torch.float32)[:, None, None, None, :]
    b = o.view(1, 1, n, 1, 1) * lin[:, None, None, None, :, 1]
    c = o.view(1, 1, 1, n, 1) * lin[:, None, None, None, :, 2]
    return (a + b) + c


def sample_patches(
    vol: Volume,
    centers: torch.Tensor,
    size: int,
    spacing: float,
    k: int = 1,
    transforms: torch.Tensor | None = None,
    *,
    mode: str = "bilinear",
    fill: float = 0.0,
    seen: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Sub-sampled patches (B, n, n, n), n = size·k, of ``vol`` around world ``centers``.

    The world → voxel → normalized-coordinate maps are folded into one affine map per
    lesion, so the grid is built directly in the coordinates ``grid_sample`` reads.
    ``seen=True`` also returns the weight that the image's voxels have in each sample
    (1 inside the image, 0 outside it; the field-of-view channel).
    """
    B = centers.shape[0]
    n = size * k
    inv = torch.from_numpy(vol.inverse)
    dims = torch.tensor(vol.shape, dtype=torch.float64)
    T = torch.eye(3, dtype=torch.float64).expand(B, 3, 3) if transforms is None else transforms
    M = inv[:3, :3] @ T.to(torch.float64)  # (B, 3, 3): offset mm → voxel
    v0 = centers.to(torch.float64) @ inv[:3, :3].T + inv[:3, 3]  # (B, 3): centre voxel
    scale = 2.0 / dims  # voxel v → normalized (2v + 1)/n − 1 (align_corners=False)
    grid = _affine_grid(M * scale[None, :, None], v0 * scale + scale / 2.0 - 1.0, size, spacing, k)
    src = _volume_tensor(vol)  # zero-copy
    out = F.grid_sample(
        src, grid.view(1, B * n, n, n, 3), mode=mode, padding_mode="zeros", align_corners=False
    ).view(B, n, n, n)
    inside = None
    if fill != 0.0 or seen:
        # the patch is convex: when its 8 corners lie well inside, every point does
        half = (n - 1) / 2.0 * (spacing / k)
        signs = torch.tensor(
            [[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=torch.float64
        )
        cv = (signs * half) @ M.transpose(1, 2) + v0[:, None, :]  # (B, 8, 3)
        if not bool(((cv >= 0.5) & (cv <= dims - 1.5)).all()):
            d32 = dims.to(torch.float32)
            vox = (grid + 1.0) * (d32 / 2.0) - 0.5
            inside = _inside_weight(vox, d32, mode)
            if fill != 0.0:
                out += fill * (1.0 - inside)
    if not seen:
        return out
    return out, (torch.ones_like(out) if inside is None else inside)


# -- the separable path: axis-aligned images, no rotation ------------------------------------

#: largest misalignment (voxels, over a patch) for which an image counts as axis-aligned
_ALIGN_TOL_VOX = 1e-3


def _axis_aligned(vol: Volume, half_mm: float) -> bool:
    """True when the image's voxel axes are the world axes (a diagonal affine, flips
    allowed), to within ``_ALIGN_TOL_VOX`` voxels over a patch of half-width ``half_mm``."""
    m = vol.inverse[:3, :3]
    off = m - np.diag(np.diag(m))
    return bool(np.all(np.diag(m) != 0) and np.abs(off).sum(1).max() * half_mm < _ALIGN_TOL_VOX)


def _axis_weights(v: np.ndarray, size: int, k: int, n: int, mode: str) -> tuple[np.ndarray, int]:
    """The (size, L) weights of the voxels ``lo … lo+L−1`` of one image axis (``n``
    voxels) in each output voxel: the mean over its ``k`` sub-sample positions ``v``
    (voxel coordinates, (size·k,)) of the linear (or nearest) interpolation weights, zero
    outside the image.  Returns (weights float64, lo).  (NumPy: a few small arrays, where
    torch's per-operation overhead would dominate.)"""
    cell = np.arange(v.size) // k
    if mode == "nearest":
        rows, cols, w = cell, np.rint(v).astype(np.int64), np.ones_like(v)  # half to even
    else:
        i0 = np.floor(v)
        f = v - i0
        i0 = i0.astype(np.int64)
        rows = np.concatenate([cell, cell])
        cols = np.concatenate([i0, i0 + 1])
        w = np.concatenate([1.0 - f, f])
    keep = (cols >= 0) & (cols < n) & (w != 0)
    rows, cols, w = rows[keep], cols[keep], w[keep]
    if cols.size == 0:
        return np.zeros((size, 0)), 0
    lo = int(cols.min())
    L = int(cols.max()) - lo + 1
    W = np.bincount(rows * L + (cols - lo), weights=w / k, minlength=size * L)
    return W.reshape(size, L), lo


@contextmanager
def one_thread():
    """Run torch on one intra-op thread inside the block: patch cutting is many small
    operations, for which a second thread costs more in synchronisation than it brings
    (and far more when another process keeps the other core busy)."""
    n = torch.get_num_threads()
    if n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _sparse(W: torch.Tensor) -> torch.Tensor:
    """``W`` as a float32 CSR matrix (torch calls CSR support "beta": the warning is noise)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return W.to(torch.float32).to_sparse_csr()


def separable_patches(
    vol: Volume,
    centers: torch.Tensor,
    size: int,
    spacing: float,
    k: int = 1,
    *,
    mode: str = "bilinear",
    fill: float = 0.0,
    equals: torch.Tensor | None = None,
    src: torch.Tensor | None = None,
    seen: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Pooled axis-aligned patches (B, size, size, size) of an axis-aligned ``vol``: the
    same values as :func:`sample_patches` followed by the k³ mean, computed without a grid.

    On a tensor-product grid the mean of the k³ trilinear (or nearest) sub-samples of an
    output voxel is separable: three small (size × L) weight matrices, one per axis,
    contracted with the image block the patch covers: along z as a sparse band matrix on a
    strided view of the image (no copy), then along y and x as small dense products.  The
    cost follows the block's voxels, not the k³·size³ sample points and their coordinates.
    ``equals``: (B,) ids — sample the indicator ``vol == id`` instead (the lesion mask).
    ``seen=True`` also returns the pooled weight of the image's voxels (the field of view),
    as :func:`sample_patches` does.
    """
    B = centers.shape[0]
    inv = vol.inverse
    if src is None:
        src = _volume_tensor(vol)[0, 0]  # (n2, n1, n0), zero-copy
    src = src.contiguous()  # whole rows must be contiguous for the strided slab
    dims = vol.shape
    o = offsets(size, spacing, k).numpy()
    out = torch.empty((B, size, size, size), dtype=torch.float32)
    inside = torch.empty_like(out) if seen else None
    c = centers.to(torch.float64).numpy()
    with one_thread():
        for b in range(B):
            lab = None if equals is None else equals[b]
            out[b], w = _separable_one(src, inv, dims, o, c[b], size, k, mode, fill, lab, seen)
            if inside is not None:
                inside[b] = w
    return out if inside is None else (out, inside)


def _separable_one(
    src: torch.Tensor,
    inv: np.ndarray,
    dims: tuple[int, int, int],
    o: np.ndarray,
    c: np.ndarray,
    size: int,
    k: int,
    mode: str,
    fill: float,
    label: torch.Tensor | None,
    seen: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | float]:
    """One lesion of :func:`separable_patches`: (size, size, size), and the weight of the
    image inside it (a scalar 1.0 when the whole patch is inside or ``seen`` is off)."""
    Ws, los = [], []
    v0 = apply_affine(inv, c)  # the centre's voxel, exactly
    for a in range(3):
        v = v0[a] + inv[a, a] * o
        W, lo = _axis_weights(v, size, k, dims[a], mode)
        Ws.append(torch.from_numpy(W))
        los.append(lo)
    if min(W.shape[1] for W in Ws) == 0:  # wholly outside the image
        return torch.full((size, size, size), fill, dtype=torch.float32), 0.0
    (W0, W1, W2), (l0, l1, l2) = Ws, los
    L0, L1, L2 = W0.shape[1], W1.shape[1], W2.shape[1]
    # the patch's planes and rows, whole rows: a strided (L2, L1·n0) matrix, no copy
    n0 = src.shape[2]
    if label is None:
        slab = src.as_strided(
            (L2, L1 * n0),
            (src.stride(0), 1),
            src.storage_offset() + l2 * src.stride(0) + l1 * src.stride(1),
        )
    else:
        slab = (src[l2 : l2 + L2, l1 : l1 + L1] == label).to(torch.float32).view(L2, L1 * n0)
    # z first, as a sparse band matrix (each output plane mixes a few input planes), then
    # y and x as small dense products
    t = (_sparse(W2) @ slab).view(size, L1, n0)[:, :, l0 : l0 + L0]  # (S_l, L1, L0)
    t = torch.matmul(W1.to(torch.float32), t)  # (S_l, S_j, L0)
    t = t @ W0.to(torch.float32).T  # (S_l, S_j, S_i)
    res = t.permute(2, 1, 0)  # (i, j, l) = patch axes (x, y, z)
    inside: torch.Tensor | float = 1.0
    if fill != 0.0 or seen:
        s = [W.sum(1) for W in Ws]
        w = s[0][:, None, None] * s[1][None, :, None] * s[2][None, None, :]
        outside = 1.0 - w
        if bool((outside.abs() > 1e-9).any()):
            if fill != 0.0:
                res = res + (fill * outside).to(torch.float32)
            inside = w.to(torch.float32)
    return res, inside


def cut_raw(
    images: CaseImages,
    centers: np.ndarray | torch.Tensor,
    scale: ScaleConfig,
    targets: Targets,
    *,
    transforms: np.ndarray | torch.Tensor | None = None,
    size: int | None = None,
    max_supersample: int = 3,
    separable: bool = True,
) -> torch.Tensor:
    """Raw patches (B, 5, S, S, S) in the order of :data:`RAW_CHANNELS`: CT in HU (−1000
    when there is no CT), PET in SUV, the target-lesion mask (soft occupancy), and the
    share of each voxel inside the CT's and the PET's field of view (the CT's is 0 without
    a CT).  ``size`` overrides ``scale.size`` (blocks).

    ``transforms`` (B, 3, 3) (rotation × zoom) turn the patch about its centre.
    Without them, images on axis-aligned grids are cut by :func:`separable_patches`
    (the same values, about 4× faster); ``separable=False`` forces the sampling grid.
    """
    S = int(size or scale.size)
    s = float(scale.spacing)
    c = torch.as_tensor(np.asarray(centers, dtype=np.float64))
    tr = None if transforms is None else torch.as_tensor(np.asarray(transforms, dtype=np.float64))
    B = c.shape[0]
    out = torch.empty((B, len(RAW_CHANNELS), S, S, S), dtype=torch.float32)

    def chunks(k: int, total: int = B):
        per = max(1, _CHUNK_POINTS // (S * k) ** 3)  # lesions per grid_sample call
        for b0 in range(0, total, per):
            yield slice(b0, min(total, b0 + per))

    half = (S - 1) / 2.0 * s + s

    aligned: dict[int, bool] = {}

    def fast(vol: Volume) -> bool:
        if id(vol) not in aligned:
            aligned[id(vol)] = separable and tr is None and _axis_aligned(vol, half)
        return aligned[id(vol)]

    def image_channel(vol: Volume, fill: float, value: int, seen: int) -> None:
        k = supersample_factor(vol.spacing, s, max_supersample)
        if fast(vol):
            out[:, value], out[:, seen] = separable_patches(vol, c, S, s, k, fill=fill, seen=True)
            return
        for sl in chunks(k):
            t_sl = None if tr is None else tr[sl]
            v, w = sample_patches(vol, c[sl], S, s, k, t_sl, fill=fill, seen=True)
            out[sl, value], out[sl, seen] = _pool(v, k), _pool(w, k)

    if images.ct is not None:
        image_channel(images.ct, CT_FILL, 0, 3)
    else:
        out[:, 0], out[:, 3] = CT_FILL, 0.0
    image_channel(images.pet, PET_FILL, 1, 4)

    labels = np.asarray(targets.labels)
    use_mask = labels > 0
    mask = out[:, 2]
    if use_mask.any():
        if images.mask is None:
            raise ValueError("a lesion with a mask id needs the case's mask image")
        vol = images.mask
        k = supersample_factor(vol.spacing, s, max_supersample)
        idx = torch.from_numpy(np.flatnonzero(use_mask))
        lab = torch.from_numpy(labels[use_mask].astype(np.float32))
        ci = c[idx]
        ti = None if tr is None else tr[idx]
        if fast(vol):
            mask[idx] = separable_patches(vol, ci, S, s, k, mode="nearest", equals=lab)
        for sl in chunks(k, len(idx)) if not fast(vol) else ():
            t_sl = None if ti is None else ti[sl]
            ids = sample_patches(vol, ci[sl], S, s, k, t_sl, mode="nearest")
            hit = (ids == lab[sl].view(-1, 1, 1, 1)).to(torch.float32)
            mask[idx[sl]] = _pool(hit, k)
    if (~use_mask).any():
        idx = torch.from_numpy(np.flatnonzero(~use_mask))
        k = max_supersample
        ci = c[idx]
        eye = torch.eye(3, dtype=torch.float64).expand(len(idx), 3, 3)
        ti = eye if tr is None else tr[idx]
        e_c = torch.as_tensor(np.asarray(targets.centers)[idx.numpy()], dtype=torch.float64)
        r = torch.as_tensor(np.asarray(targets.sizes)[idx.numpy()], dtype=torch.float64) / 2.0
        r = r.clamp_min(1e-3)
        for sl in chunks(k, len(idx)):
            # ellipsoid coordinates (p − e_c)/r with p = c + T·o, one affine map of o
            lin = ti[sl] / r[sl][:, :, None]
            shift = (ci[sl] - e_c[sl]) / r[sl]
            g = _affine_grid(lin, shift, S, s, k)
            inside = ((g * g).sum(-1) <= 1.0).to(torch.float32)
            mask[idx[sl]] = _pool(inside, k)
    _mark_small_lesions(mask, c, tr, targets, S, s)
    return out


def _mark_small_lesions(
    mask: torch.Tensor,
    c: torch.Tensor,
    tr: torch.Tensor | None,
    targets: Targets,
    S: int,
    s: float,
) -> None:
    """A lesion smaller than the sub-sample spacing can fall between all sample points.
    Where a patch's mask is then empty, the voxel holding the lesion's centre gets the
    lesion's partial volume (its box's ellipsoid volume over the voxel volume), so that the
    network is always told which lesion is the target."""
    empty = mask.flatten(1).sum(1) == 0
    known = torch.from_numpy(np.isfinite(np.asarray(targets.centers)).all(1))
    rows = torch.nonzero(empty & known).flatten()
    if rows.numel() == 0:
        return
    e = torch.as_tensor(np.asarray(targets.centers)[rows.numpy()], dtype=torch.float64)
    size = torch.as_tensor(np.asarray(targets.sizes)[rows.numpy()], dtype=torch.float64)
    d = e - c[rows]
    if tr is not None:  # offsets o with c + T·o = e
        d = torch.linalg.solve(tr[rows], d[:, :, None])[:, :, 0]
    idx = torch.round(d / s + (S - 1) / 2.0).long()
    inside = ((idx >= 0) & (idx < S)).all(1)
    frac = (math.pi / 6.0 * size.prod(1) / s**3).clamp(max=1.0).to(mask.dtype)
    rows, idx, frac = rows[inside], idx[inside], frac[inside]
    mask[rows, idx[:, 0], idx[:, 1], idx[:, 2]] = frac


# -- the cached deterministic block and the random step --------------------------------------


def rotation_bound(max_deg: float) -> float:
    """Upper bound of max_i Σ_j |R_ij| over rotations by at most ``max_deg`` degrees."""
    t = math.radians(max_deg)
    return 1.0 + math.sqrt(2.0) * (math.sin(t) + 1.0 - math.cos(t))


def block_size(scale: ScaleConfig, cfg: DataConfig) -> int:
    """Side of the cached block that holds every point the augmentation can ask for."""
    S = scale.size
    zmax = max(1.0, cfg.zoom_range[1]) if cfg.zoom_prob > 0 else 1.0
    rot = rotation_bound(cfg.rotate_deg) if cfg.rotate_prob > 0 else 1.0
    m = math.ceil((S - 1) / 2.0 * (zmax * rot - 1.0) + cfg.jitter_mm / scale.spacing - 1e-9)
    return S + 2 * max(0, m)


@dataclass
class Augment:
    """Per-sample random parameters (B rows); the identity when ``None``."""

    shift_mm: torch.Tensor  # (B, 3)
    transform: torch.Tensor  # (B, 3, 3): rotation × zoom
    ct_shift: torch.Tensor  # (B,)
    pet_gain: torch.Tensor  # (B,)
    drop_ct: torch.Tensor  # (B,) bool
    #: field of view, blur and noise (:mod:`.realism`); None: none of them
    realism: Realism | None = None

    @classmethod
    def identity(cls, B: int) -> Augment:
        return cls(
            torch.zeros(B, 3),
            torch.eye(3).expand(B, 3, 3).clone(),
            torch.zeros(B),
            torch.ones(B),
            torch.zeros(B, dtype=torch.bool),
        )


def random_rotations(n: int, max_deg: float, gen: torch.Generator) -> torch.Tensor:
    """(n, 3, 3) rotations about uniformly random axes by angles uniform in [−max, max]."""
    axis = torch.randn(n, 3, generator=gen, dtype=torch.float64)
    axis = axis / axis.norm(dim=1, keepdim=True).clamp_min(1e-12)
    ang = (torch.rand(n, generator=gen, dtype=torch.float64) * 2 - 1) * math.radians(max_deg)
    K = torch.zeros(n, 3, 3, dtype=torch.float64)
    K[:, 0, 1], K[:, 0, 2] = -axis[:, 2], axis[:, 1]
    K[:, 1, 0], K[:, 1, 2] = axis[:, 2], -axis[:, 0]
    K[:, 2, 0], K[:, 2, 1] = -axis[:, 1], axis[:, 0]
    s, c = torch.sin(ang)[:, None, None], torch.cos(ang)[:, None, None]
    return torch.eye(3, dtype=torch.float64) + s * K + (1 - c) * (K @ K)


def draw_augment(
    B: int, cfg: DataConfig, gen: torch.Generator, landmarks: np.ndarray | None = None
) -> Augment:
    """Random augmentation parameters following ``cfg``; with ``cfg.realistic`` also the
    realism of :mod:`.realism` (``landmarks``: (B, len(realism.LANDMARKS)) heights of the
    samples' landmarks above the lesion, mm, for the fields of view tied to the anatomy)."""

    def coin(p: float) -> torch.Tensor:
        return torch.rand(B, generator=gen) < p

    shift = (torch.rand(B, 3, generator=gen) * 2 - 1) * cfg.jitter_mm
    rot = random_rotations(B, cfg.rotate_deg, gen).to(torch.float32)
    rot[~coin(cfg.rotate_prob)] = torch.eye(3)
    lo, hi = cfg.zoom_range
    zoom = lo + (hi - lo) * torch.rand(B, generator=gen)
    zoom[~coin(cfg.zoom_prob)] = 1.0
    ct_shift = (torch.rand(B, generator=gen) * 2 - 1) * cfg.ct_shift_hu
    ct_shift[~coin(cfg.intensity_prob)] = 0.0
    glo, ghi = cfg.pet_gain_range
    gain = torch.exp(math.log(glo) + (math.log(ghi) - math.log(glo)) * torch.rand(B, generator=gen))
    gain[~coin(cfg.intensity_prob)] = 1.0
    aug = Augment(shift, rot * zoom[:, None, None], ct_shift, gain, coin(cfg.ct_dropout))
    if cfg.realistic:  # drawn last: the older recipes' random streams stay the same
        aug.realism = draw_realism(B, cfg, gen, landmarks)
    return aug


def augment_blocks(
    blocks: torch.Tensor,
    scale: ScaleConfig,
    aug: Augment,
    gen: torch.Generator | None = None,
) -> torch.Tensor:
    """Cut (B, C, S, S, S) raw patches out of cached (B, C, Sb, Sb, Sb) blocks.

    Jitter, rotation about the centre and zoom move the sample points; CT offset and PET
    gain change the intensities.  The block is axis-aligned at the scale's spacing and
    centred on the lesion, so a point at offset ``q`` mm is block voxel ``q/s + (Sb−1)/2``.
    With ``aug.realism`` the patch is cut to its field of view (and given the two
    field-of-view channels), blurred and made noisy (``gen`` draws the noise).
    """
    blocks = blocks.to(torch.float32)
    real = aug.realism
    B, Sb = blocks.shape[0], blocks.shape[-1]
    S, s = scale.size, scale.spacing
    o = offsets(S, s).to(torch.float32)
    off = torch.stack(torch.meshgrid(o, o, o, indexing="ij"), dim=-1).reshape(1, -1, 3)
    # the point at offset q = T·o + shift (mm) is block voxel q/s + (Sb−1)/2, i.e. the
    # normalized coordinate 2q/(s·Sb) (align_corners=False): one batched affine map.  Block
    # axes are (x, y, z) = (D, H, W); grid_sample wants (W, H, D) = (z, y, x): the columns
    # of the small matrices are flipped instead of the grid
    k = 2.0 / (s * Sb)
    lin = (aug.transform.to(torch.float32).transpose(1, 2) * k).flip(-1)
    shift = (aug.shift_mm.to(torch.float32) * k).flip(-1)
    grid = torch.baddbmm(shift[:, None, :], off.expand(B, -1, -1), lin).view(B, S, S, S, 3)
    # every point lies inside the block (block_size); "border" only guards the rounding of
    # the outermost voxel (the block's inside never meets a fill value)
    out = F.grid_sample(blocks, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if real is not None:
        out = with_seen(out)
        rows = torch.nonzero(real.truncated).flatten()
        if rows.numel():
            # the field of view is a box in world space around the lesion; each voxel
            # counts by its share of it along the patch axes (the ≤ 10° rotation is left out)
            zoom = torch.linalg.det(aug.transform[rows].double()).abs().pow(1 / 3).float()
            inside = fov_weight_axes(o, zoom, aug.shift_mm[rows], real.fov[rows], s)
            fill = torch.tensor(RAW_FILL).view(1, -1, 1, 1, 1)
            out[rows] = (out[rows] - fill).mul_(inside[:, None]).add_(fill)
    out[:, 0] += aug.ct_shift.view(B, 1, 1, 1)
    out[:, 1] *= aug.pet_gain.view(B, 1, 1, 1)
    if real is not None:
        degrade(out, s, real, gen if gen is not None else torch.Generator().manual_seed(0))
    return out


def to_channels(
    raw: torch.Tensor,
    ct_present: torch.Tensor | Sequence[bool] | bool,
    cfg: DataConfig,
    drop_ct: torch.Tensor | None = None,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Raw patches (:data:`RAW_CHANNELS`; 3-channel blocks count as wholly inside the
    field of view) → network input (B, ``cfg.in_channels``, S, S, S), written into ``out``
    when given (a float32 view, e.g. rows of a batch) and computed in place there.

    With ``cfg.fov_channels``: [CT scaled, CT field of view, PET scaled, PET field of
    view, mask] (:data:`CHANNELS`), each image channel multiplied by its field of view so
    that outside the scan both say "unknown" (0 and 0).  Otherwise the older layout
    [CT scaled, CT-present flag, PET scaled, mask] (:data:`CHANNELS_V1`).  Either way a
    missing or dropped CT gives CT = 0 and a 0 flag: "unknown", never water.  PET is
    scaled by ``cfg.suv_transform``.
    """
    B = raw.shape[0]
    present = torch.as_tensor(ct_present, dtype=torch.bool).expand(B).clone()
    if drop_ct is not None:
        present &= ~drop_ct.to(torch.bool)
    flag = present.to(torch.float32).view(B, 1, 1, 1)
    C = cfg.in_channels
    x = torch.empty((B, C, *raw.shape[2:]), dtype=torch.float32) if out is None else out
    ct, pet = x[:, 0], x[:, 2]
    # the same operations in the same order as ((raw - c) / s).clamp(…) * flag, in place
    ct.copy_(raw[:, 0]).sub_(cfg.ct_center).div_(cfg.ct_scale).clamp_(-1.0, 1.0).mul_(flag)
    lo, hi = cfg.suv_clip
    pet.copy_(raw[:, 1])
    if cfg.suv_transform == "log":
        pet.clamp_(min=0.0).log1p_()
    pet.sub_(cfg.suv_center).div_(cfg.suv_scale).clamp_(lo, hi)
    if not cfg.fov_channels:
        x[:, 1].copy_(flag.expand_as(ct))
        x[:, 3].copy_(raw[:, 2]).clamp_(0.0, 1.0)
        return x
    if raw.shape[1] >= 5:
        x[:, 1].copy_(raw[:, 3]).clamp_(0.0, 1.0).mul_(flag)
        x[:, 3].copy_(raw[:, 4]).clamp_(0.0, 1.0)
    else:
        x[:, 1].copy_(flag.expand_as(ct))
        x[:, 3].fill_(1.0)
    ct.mul_(x[:, 1])
    pet.mul_(x[:, 3])
    x[:, 4].copy_(raw[:, 2]).clamp_(0.0, 1.0)
    return x


def lesion_targets(
    records: Sequence, mask_vol: Volume | None
) -> tuple[np.ndarray, Targets, np.ndarray]:
    """(centres (B, 3), targets, sizes (B, 3)) of lesion records of one case.

    A lesion given by a mask id is centred on its mask's centroid (world) and sized by its
    world bounding box; a lesion given by a box uses its centre and size.
    """
    B = len(records)
    centers = np.zeros((B, 3))
    sizes = np.zeros((B, 3))
    labels = np.zeros(B, dtype=np.int64)
    e_c = np.full((B, 3), np.nan)
    e_s = np.full((B, 3), np.nan)
    need = [i for i, r in enumerate(records) if r.mask_label is not None]
    if need:
        if mask_vol is None:
            raise ValueError("mask lesions need the mask volume")
        stats = mask_stats(mask_vol, [records[i].mask_label for i in need])
        for i in need:
            r = records[i]
            lab = r.mask_label
            if lab not in stats:
                from anatloc.ontology.errors import DataError

                raise DataError(
                    f"{r.source}: lesion id {lab} (column 'mask_label') does not occur in the "
                    f"mask {mask_vol.name()}"
                )
            centers[i], sizes[i] = stats[lab]
            e_c[i], e_s[i] = stats[lab]
            labels[i] = lab
            if r.center is not None:  # an explicit centre wins over the centroid
                centers[i] = r.center
    for i, r in enumerate(records):
        if r.mask_label is None:
            centers[i] = r.center
            sizes[i] = r.size
            e_c[i] = r.center
            e_s[i] = r.size
    return centers, Targets(labels, e_c, e_s), sizes


def mask_stats(vol: Volume, labels: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """For each present id: (world centroid, world bounding-box size in mm)."""
    from scipy import ndimage

    data = vol.data
    want = np.asarray(sorted(set(int(v) for v in labels)))
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if not len(want):
        return out
    top = int(want.max())
    ids = np.rint(data).astype(np.int32 if top < 2**31 - 1 else np.int64, copy=False)
    # boxes of the ids up to the largest wanted one (the others' boxes are not looked at)
    objects = ndimage.find_objects(ids, max_label=top)
    for lab in want:
        if lab - 1 >= len(objects) or objects[lab - 1] is None:
            continue
        sl = objects[lab - 1]
        sub = ids[sl] == lab
        idx = np.argwhere(sub).astype(np.float64) + np.array([s.start for s in sl])
        world = vol.voxel_to_world(idx)
        centroid = world.mean(axis=0)
        voxel_extent = np.abs(vol.affine[:3, :3]).sum(axis=1)  # one voxel along x, y, z
        ext = world.max(axis=0) - world.min(axis=0) + voxel_extent
        out[int(lab)] = (centroid, ext)
    return out
