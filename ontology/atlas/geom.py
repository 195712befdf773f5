"""Small numeric helpers of the atlas engine: the float32 constants, rotations, affine maps
of points and boxes, and the 2-D/segment distance functions that the shape nodes share.

Two affine maps stay elementwise on purpose (``_apply_affine_xyz``, ``_ijk_to_world``): a
point's result must not depend on the other points evaluated with it (BLAS may sum in another
order for another batch), which is what makes ``rasterize`` equal ``labels_at`` bit for bit.
Everywhere else point sets go through ``nibabel.affines.apply_affine``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

F32 = np.float32
CLAMP = F32(
    80.0
)  # every sdf value is a lower-bounded "distance"; far-away union members count as CLAMP
_EPS = F32(1e-12)
_INF = float("inf")


def _rotmat(angles_deg: Sequence[float] | None) -> np.ndarray:
    """Rotation matrix ``Rz @ Ry @ Rx`` for extrinsic angles ``[rx, ry, rz]`` in degrees
    (scipy's ``"xyz"`` convention)."""
    from scipy.spatial.transform import Rotation

    if not angles_deg:
        return np.eye(3)
    return Rotation.from_euler("xyz", [float(a) for a in angles_deg], degrees=True).as_matrix()


def _axis_angle(axis: Sequence[float], deg: float) -> np.ndarray:
    """Rotation matrix of ``deg`` degrees about ``axis`` (right-handed)."""
    from scipy.spatial.transform import Rotation

    a = np.asarray(axis, float)
    return Rotation.from_rotvec(a / np.linalg.norm(a) * float(deg), degrees=True).as_matrix()


def _apply_affine_xyz(a: np.ndarray, b: np.ndarray, x, y, z):
    """Elementwise ``a @ p + b`` on float32 component arrays (deterministic, no BLAS: unlike
    ``nibabel.affines.apply_affine``, a point's result never depends on the others)."""
    a = np.asarray(a, F32)
    b = np.asarray(b, F32)
    ox = x * a[0, 0] + y * a[0, 1] + z * a[0, 2] + b[0]
    oy = x * a[1, 0] + y * a[1, 1] + z * a[1, 2] + b[1]
    oz = x * a[2, 0] + y * a[2, 1] + z * a[2, 2] + b[2]
    return ox, oy, oz


def _box_corners(lo, hi) -> np.ndarray:
    lo = np.asarray(lo, float)
    hi = np.asarray(hi, float)
    return np.array(
        [
            [(lo, hi)[i][0], (lo, hi)[j][1], (lo, hi)[k][2]]
            for i in (0, 1)
            for j in (0, 1)
            for k in (0, 1)
        ]
    )


def _xf_bbox(a: np.ndarray, b: np.ndarray, lo, hi):
    """Conservative bbox of the affine image ``a @ p + b`` of the box [lo, hi]."""
    from nibabel.affines import apply_affine, from_matvec

    lo = np.asarray(lo, float)
    hi = np.asarray(hi, float)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        # only axis-aligned (permutation/diagonal) maps keep infinite boxes meaningful
        out_lo = np.full(3, -_INF)
        out_hi = np.full(3, _INF)
        if np.allclose(a, np.diag(np.diag(a))) and np.all(np.diag(a) > 0):
            out_lo = np.diag(a) * lo + b
            out_hi = np.diag(a) * hi + b
        return out_lo, out_hi
    c = apply_affine(from_matvec(a, b), _box_corners(lo, hi))
    return c.min(0), c.max(0)


def _ijk_to_world(i, j, k, aff) -> np.ndarray:
    """World points ``aff @ [i, j, k, 1]`` computed elementwise in a fixed order (no BLAS,
    hence not ``nibabel.affines.apply_affine``), so that the same voxel always gets
    bit-identical coordinates."""
    out = np.empty((len(i), 3))
    for r in range(3):
        out[:, r] = ((i * aff[r, 0] + j * aff[r, 1]) + k * aff[r, 2]) + aff[r, 3]
    return out


def _empty_box():
    return np.full(3, _INF), np.full(3, -_INF)


def _is_empty(lo, hi) -> bool:
    return bool(np.any(np.asarray(lo) > np.asarray(hi)))


def _seg_dist2(px, py, pz, a, b):
    """Squared distance from points to segment a-b and the clamped parameter t."""
    ab = b - a
    l2 = float(ab @ ab)
    dx = px - F32(a[0])
    dy = py - F32(a[1])
    dz = pz - F32(a[2])
    if l2 <= 1e-12:
        t = np.zeros_like(px)
    else:
        t = (dx * F32(ab[0]) + dy * F32(ab[1]) + dz * F32(ab[2])) * F32(1.0 / l2)
        # == np.clip(t, 0, 1), without np.clip's per-call overhead
        t = np.minimum(np.maximum(t, F32(0.0)), F32(1.0))
    ex = dx - t * F32(ab[0])
    ey = dy - t * F32(ab[1])
    ez = dz - t * F32(ab[2])
    return ex * ex + ey * ey + ez * ez, t


def _ellipse2d(x, y, rx, ry, power: int = 2):
    """Approximate signed distance to an ellipse (power 2) or squircle (power 4) in 2-D.

    Outside: first-order distance f/|grad f|; inside: (F - 1) * min(rx, ry), a lower bound.
    The sign is exact.
    """
    ax = x / rx
    ay = y / ry
    if power == 4:
        ax2 = ax * ax
        ay2 = ay * ay
        s = ax2 * ax2 + ay2 * ay2
        big = np.sqrt(np.sqrt(s))
        gx = ax2 * ax / rx
        gy = ay2 * ay / ry
        g = np.sqrt(gx * gx + gy * gy)
        b3 = big * big * big
        out = (big - F32(1.0)) * b3 / np.maximum(g, _EPS)
    else:
        big = np.sqrt(ax * ax + ay * ay)
        bx = ax / rx
        by = ay / ry
        k1 = np.sqrt(bx * bx + by * by)
        out = big * (big - F32(1.0)) / np.maximum(k1, _EPS)
    inside = (big - F32(1.0)) * np.minimum(rx, ry)
    return np.where(big >= F32(1.0), out, inside)


def _f32col(v) -> np.ndarray:
    """Values as a float32 column (k, 1), to broadcast against (1, points)."""
    return np.asarray(v, float).astype(F32)[:, None]


def _combine_box(d2, dz):
    """Combine a 2-D distance and an axial distance like a box sdf."""
    o2 = np.maximum(d2, F32(0.0))
    oz = np.maximum(dz, F32(0.0))
    return np.sqrt(o2 * o2 + oz * oz) + np.minimum(np.maximum(d2, dz), F32(0.0))
