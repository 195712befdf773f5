"""Whole-body spatial atlas: implicit shapes for every fine location, and a fast label-map engine.

The atlas is a *frame* (constants, auxiliary shapes, partitions, groups, check rules) plus one
*spec* per fine location.  A spec is a JSON object whose ``shape`` is an implicit function: an
approximate signed distance in millimetres, negative inside.  :class:`Atlas` compiles the specs
and evaluates them pointwise, so that the label of a point depends only on that point:
``rasterize(shape, affine)[ijk] == labels_at(affine @ ijk)`` exactly.

Coordinates are RAS millimetres (+x patient's right, +y anterior, +z superior) of a reference
adult male 1750 mm tall lying with the arms at his sides; the origin is the midsagittal plane
(x = 0), the soles (z = 0) and the coronal plane through the centre of the L1 vertebral body
(y = 0).  A :class:`Subject` (height, girth, sex, arm pose, per-group jitter, table transform)
maps world (scanner) millimetres into that frame.  See ``docs/atlas.md`` for the full language.

Only numpy (and scipy.ndimage for the derived facts) is used; nothing heavy is imported.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Any

import numpy as np

__all__ = [
    "CHECKS",
    "OPS",
    "SHAPE_TYPES",
    "Atlas",
    "CheckData",
    "Subject",
    "atlas_facts",
    "check_body_closure",
    "check_mirror_twins",
    "check_neighbours",
    "check_nonempty",
    "check_organ_rules",
    "check_outside_body",
    "check_region_extent",
    "check_rib_order",
    "check_vertebra_order",
    "collect_refs",
    "grid_for_bounds",
    "reference_facts",
    "rewrite_refs",
    "run_checks",
    "symmetric_grid",
    "twin_pairs",
    "validate_specs",
]

F32 = np.float32
CLAMP = F32(
    80.0
)  # every sdf value is a lower-bounded "distance"; far-away union members count as CLAMP
_EPS = F32(1e-12)
_INF = float("inf")

SHAPE_TYPES = ("sphere", "ellipsoid", "box", "capsule", "cylinder", "loft", "halfspace", "sheet")
OPS = ("union", "intersect", "subtract", "within", "shell", "offset", "cell", "switch")
SEVERITIES = ("ERROR", "WARN", "INFO")
SWITCH_ON = ("sex", "arms", "l6")


# --------------------------------------------------------------------------------------------
# small geometry helpers


def _rotmat(angles_deg: Sequence[float] | None) -> np.ndarray:
    """Rotation matrix R = Rz @ Ry @ Rx for extrinsic angles ``[rx, ry, rz]`` in degrees."""
    if not angles_deg:
        return np.eye(3)
    rx, ry, rz = (math.radians(float(a)) for a in angles_deg)
    cx, sx, cy, sy, cz, sz = (
        math.cos(rx),
        math.sin(rx),
        math.cos(ry),
        math.sin(ry),
        math.cos(rz),
        math.sin(rz),
    )
    rxm = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    rym = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rzm = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rzm @ rym @ rxm


def _axis_angle(axis: Sequence[float], deg: float) -> np.ndarray:
    a = np.asarray(axis, float)
    a = a / np.linalg.norm(a)
    t = math.radians(deg)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + math.sin(t) * k + (1 - math.cos(t)) * (k @ k)


def _apply_affine_xyz(a: np.ndarray, b: np.ndarray, x, y, z):
    """Elementwise ``a @ p + b`` on float32 component arrays (deterministic, no BLAS)."""
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
    c = _box_corners(lo, hi) @ a.T + b
    return c.min(0), c.max(0)


def _ijk_to_world(i, j, k, aff) -> np.ndarray:
    """World points ``aff @ [i, j, k, 1]`` computed elementwise in a fixed order (no BLAS),
    so that the same voxel always gets bit-identical coordinates."""
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


def _ev_on(node, ctx, p, m, fill, cap=None):
    """``node``'s values where the bool mask ``m`` holds and ``fill`` elsewhere; a sparse mask
    is evaluated on the subset only (values are per point, so this changes nothing but the
    speed).  ``cap`` (None, a scalar or one value per point) is passed on.  Returns None when
    the mask is empty."""
    if m is True:
        return node.ev(ctx, p, cap)
    cnt = int(np.count_nonzero(m))
    if cnt == 0:
        return None
    n = m.size
    if cnt == n:
        return node.ev(ctx, p, cap)
    if cnt > 0.6 * n:
        return np.where(m, node.ev(ctx, p, cap), F32(fill))
    idx = np.flatnonzero(m)
    v = np.full(n, fill, F32)
    if cap is not None and np.ndim(cap):
        cap = cap[idx]
    v[idx] = node.ev(ctx.sub(idx), tuple(c[idx] for c in p), cap)
    return v


_COST = {
    "halfspace": 1,
    "box": 2,
    "sphere": 2,
    "ellipsoid": 3,
    "cylinder": 3,
    "capsule": 4,
    "loft": 4,
    "sheet": 8,
}


def _cost(node) -> float:
    c = _COST.get(node.kind)
    if c is not None:
        return c * (max(1, len(getattr(node, "path", [0])) - 1) if node.kind == "capsule" else 1)
    if node.kind in ("aux", "ref", "cell", "switch"):
        return 12
    return 1 + sum(_cost(k) for k in node.children())


# --------------------------------------------------------------------------------------------
# shape nodes


class SpecError(ValueError):
    """A geometry spec is malformed."""


class _Node:
    kind = "node"

    def children(self) -> list[_Node]:
        return []

    def lip(self, atlas: Atlas) -> float:
        """Estimated Lipschitz constant of the field (1 for a true distance); the culling
        tolerance of a location is scaled by the largest value in its tree."""
        return max([1.0, *(k.lip(atlas) for k in self.children())])

    def ev(self, ctx: _Ctx, p, cap=None) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def bbox(
        self, prep: _Prepared, grp: _Group
    ) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError


class _Framed(_Node):
    """Primitive with an optional centre + rotation: local q = R^T (p - c)."""

    def _init_frame(self, center, rotate):
        self.c = np.asarray(center, float)
        self.r = _rotmat(rotate)
        self.rt32 = self.r.T.astype(F32)
        self.c32 = self.c.astype(F32)
        self.rotated = not np.allclose(self.r, np.eye(3))

    def _local(self, p):
        x = p[0] - self.c32[0]
        y = p[1] - self.c32[1]
        z = p[2] - self.c32[2]
        if not self.rotated:
            return x, y, z
        m = self.rt32
        return (
            x * m[0, 0] + y * m[0, 1] + z * m[0, 2],
            x * m[1, 0] + y * m[1, 1] + z * m[1, 2],
            x * m[2, 0] + y * m[2, 1] + z * m[2, 2],
        )

    def _bbox_of_local_box(self, half):
        half = np.asarray(half, float)
        ext = np.abs(self.r) @ half
        return self.c - ext, self.c + ext


class _Sphere(_Node):
    kind = "sphere"

    def __init__(self, d):
        self.c = np.asarray(_req(d, "center", 3), float)
        self.rad = float(_req(d, "radius"))
        self.c32 = self.c.astype(F32)

    def ev(self, ctx, p, cap=None):
        x = p[0] - self.c32[0]
        y = p[1] - self.c32[1]
        z = p[2] - self.c32[2]
        return np.sqrt(x * x + y * y + z * z) - F32(self.rad)

    def bbox(self, prep, grp):
        return self.c - self.rad, self.c + self.rad


class _Ellipsoid(_Framed):
    kind = "ellipsoid"

    def __init__(self, d):
        self._init_frame(_req(d, "center", 3), d.get("rotate"))
        self.rad = np.asarray(_req(d, "radii", 3), float)
        if np.any(self.rad <= 0):
            raise SpecError("ellipsoid radii must be > 0")
        self.r32 = self.rad.astype(F32)
        self.rmin = F32(self.rad.min())

    def lip(self, atlas):
        # the outside approximation steepens with the aspect ratio
        return min(2.0, 1.0 + 0.2 * (float(self.rad.max() / self.rad.min()) - 1.0))

    def ev(self, ctx, p, cap=None):
        x, y, z = self._local(p)
        ax = x / self.r32[0]
        ay = y / self.r32[1]
        az = z / self.r32[2]
        k0 = np.sqrt(ax * ax + ay * ay + az * az)
        bx = ax / self.r32[0]
        by = ay / self.r32[1]
        bz = az / self.r32[2]
        k1 = np.sqrt(bx * bx + by * by + bz * bz)
        out = k0 * (k0 - F32(1.0)) / np.maximum(k1, _EPS)
        return np.where(k0 >= F32(1.0), out, (k0 - F32(1.0)) * self.rmin)

    def bbox(self, prep, grp):
        ext = np.sqrt((self.r**2) @ (self.rad**2))
        return self.c - ext, self.c + ext


class _Box(_Framed):
    kind = "box"

    def __init__(self, d):
        if "min" in d or "max" in d:
            lo = np.asarray(_req(d, "min", 3), float)
            hi = np.asarray(_req(d, "max", 3), float)
            center, half = (lo + hi) / 2, (hi - lo) / 2
        else:
            center = np.asarray(_req(d, "center", 3), float)
            half = np.asarray(_req(d, "size", 3), float) / 2
        if np.any(half <= 0):
            raise SpecError("box must have positive size")
        self._init_frame(center, d.get("rotate"))
        self.rnd = float(d.get("round", 0.0))
        self.half = half
        self.h32 = np.maximum(half - self.rnd, 0).astype(F32)

    def ev(self, ctx, p, cap=None):
        x, y, z = self._local(p)
        qx = np.abs(x) - self.h32[0]
        qy = np.abs(y) - self.h32[1]
        qz = np.abs(z) - self.h32[2]
        ox = np.maximum(qx, F32(0.0))
        oy = np.maximum(qy, F32(0.0))
        oz = np.maximum(qz, F32(0.0))
        inside = np.minimum(np.maximum(np.maximum(qx, qy), qz), F32(0.0))
        return np.sqrt(ox * ox + oy * oy + oz * oz) + inside - F32(self.rnd)

    def bbox(self, prep, grp):
        return self._bbox_of_local_box(self.half)


class _Capsule(_Node):
    kind = "capsule"

    def __init__(self, d):
        path = np.asarray(_req(d, "path"), float)
        if path.ndim != 2 or path.shape[1] != 3 or len(path) < 1:
            raise SpecError("capsule path must be a list of [x, y, z] points")
        rad = d.get("radius")
        if rad is None:
            raise SpecError("capsule needs 'radius' (a number or one per path point)")
        rad = np.broadcast_to(np.asarray(rad, float), (len(path),)).copy()
        if np.any(rad <= 0):
            raise SpecError("capsule radius must be > 0")
        self.path = path
        self.rad = rad
        # per segment, as (segments, 1) float32 columns: start a, direction ab, 1 / |ab|^2
        # (0 for a degenerate segment: t = 0), start radius and radius change
        ab = path[1:] - path[:-1]
        l2 = [float(v @ v) for v in ab]  # as _seg_dist2 computes it
        col = _f32col
        self._a = [col(path[:-1, k]) for k in range(3)]
        self._ab = [col(ab[:, k]) for k in range(3)]
        self._inv = col([1.0 / v if v > 1e-12 else 0.0 for v in l2])
        self._r0 = col(rad[:-1])
        self._dr = col(rad[1:] - rad[:-1])

    def ev(self, ctx, p, cap=None):
        # All segments at once, as (segments, points) arrays, with per element the same
        # float32 operations as _seg_dist2 followed by sqrt(d2) - (r0 + t * (r1 - r0))
        # (r0 + t * 0 == r0 for an untapered segment; t == 0 for a degenerate one).
        x, y, z = p
        if len(self.path) == 1:
            a = self.path[0]
            dx, dy, dz = x - F32(a[0]), y - F32(a[1]), z - F32(a[2])
            return np.sqrt(dx * dx + dy * dy + dz * dz) - F32(self.rad[0])
        n = len(x)
        nseg = len(self._inv)
        if nseg == 1:
            return self._segs(x, y, z)[0]
        out = np.empty(n, F32)
        step = max(1, (1 << 20) // nseg)
        for s0 in range(0, n, step):
            sl = slice(s0, min(n, s0 + step))
            np.min(self._segs(x[sl], y[sl], z[sl]), axis=0, out=out[sl])
        return out

    def _segs(self, x, y, z):
        (ax, ay, az), (bx, by, bz) = self._a, self._ab
        dx = x[None, :] - ax
        dy = y[None, :] - ay
        dz = z[None, :] - az
        t = (dx * bx + dy * by + dz * bz) * self._inv
        t = np.minimum(np.maximum(t, F32(0.0)), F32(1.0))
        ex = dx - t * bx
        ey = dy - t * by
        ez = dz - t * bz
        return np.sqrt(ex * ex + ey * ey + ez * ez) - (self._r0 + t * self._dr)

    def bbox(self, prep, grp):
        lo = (self.path - self.rad[:, None]).min(0)
        hi = (self.path + self.rad[:, None]).max(0)
        return lo, hi


class _Cylinder(_Framed):
    kind = "cylinder"

    def __init__(self, d):
        if "p0" in d:
            p0 = np.asarray(_req(d, "p0", 3), float)
            p1 = np.asarray(_req(d, "p1", 3), float)
            axis = p1 - p0
            length = float(np.linalg.norm(axis))
            if length <= 0:
                raise SpecError("cylinder p0 == p1")
            center = (p0 + p1) / 2
            zax = axis / length
            # build a rotation whose third column is the axis
            ref = np.array([0.0, 1.0, 0.0]) if abs(zax[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
            xax = np.cross(ref, zax)
            xax /= np.linalg.norm(xax)
            yax = np.cross(zax, xax)
            self.c = center
            self.r = np.stack([xax, yax, zax], axis=1)
            self.rt32 = self.r.T.astype(F32)
            self.c32 = self.c.astype(F32)
            self.rotated = True
            self.hh = length / 2
        else:
            self._init_frame(_req(d, "center", 3), d.get("rotate"))
            self.hh = float(_req(d, "half_height"))
        rr = [float(d["radius"])] * 2 if "radius" in d else [float(v) for v in _req(d, "radii", 2)]
        if min(rr) <= 0 or self.hh <= 0:
            raise SpecError("cylinder radii and length must be > 0")
        self.rr = np.asarray(rr)
        self.rr32 = self.rr.astype(F32)

    def ev(self, ctx, p, cap=None):
        x, y, z = self._local(p)
        d2 = _ellipse2d(x, y, self.rr32[0], self.rr32[1])
        dz = np.abs(z) - F32(self.hh)
        return _combine_box(d2, dz)

    def bbox(self, prep, grp):
        return self._bbox_of_local_box([self.rr[0], self.rr[1], self.hh])


class _Loft(_Node):
    kind = "loft"

    def __init__(self, d):
        sec = np.asarray(_req(d, "sections"), float)
        if sec.ndim != 2 or sec.shape[1] != 5 or len(sec) < 2:
            raise SpecError("loft sections must be >= 2 rows of [z, cx, cy, rx, ry]")
        if np.any(np.diff(sec[:, 0]) <= 0):
            raise SpecError("loft section z must increase strictly")
        if np.any(sec[:, 3:] <= 0):
            raise SpecError("loft radii must be > 0")
        self.sec = sec
        self.power = int(d.get("power", 2))
        if self.power not in (2, 4):
            raise SpecError("loft power must be 2 or 4")
        self.s32 = sec.astype(F32)
        self.z32 = np.ascontiguousarray(self.s32[:, 0])
        # parameter table on a 1 mm z lattice: linear interpolation between lattice rows is
        # exact wherever the sections sit on whole millimetres (and a close fit otherwise)
        z0, z1 = float(sec[0, 0]), float(sec[-1, 0])
        n = max(2, math.ceil(z1 - z0) + 1)
        zz = z0 + np.arange(n, dtype=float)
        tab = np.stack([np.interp(zz, sec[:, 0], sec[:, k]) for k in range(1, 5)], 1)
        self.tab = [np.ascontiguousarray(tab[:, k]).astype(F32) for k in range(4)]
        self.slo = [
            np.ascontiguousarray(np.r_[np.diff(tab[:, k]), 0.0]).astype(F32) for k in range(4)
        ]
        # the same rows packed (cx, cy, rx, ry, slopes): one gather per point
        self.rows = np.ascontiguousarray(np.stack(self.tab + self.slo, 1))
        self.z0 = F32(z0)
        self.zmax = F32(z0 + n - 1)
        self.nrow = n
        dz = np.diff(sec[:, 0])
        slope = (
            np.hypot(np.diff(sec[:, 1]), np.diff(sec[:, 2]))
            + np.abs(np.diff(sec[:, 3:], axis=0)).max(1)
        ) / dz
        self._lip = float(np.sqrt(1.0 + slope.max() ** 2)) * (1.15 if self.power == 4 else 1.0)

    def lip(self, atlas):
        return self._lip

    def ev(self, ctx, p, cap=None):
        x, y, z = p
        zc = np.minimum(np.maximum(z, self.z0), self.zmax) - self.z0
        i = np.minimum(zc.astype(np.int32), self.nrow - 2)
        f = zc - i.astype(F32)
        r = np.take(self.rows, i, axis=0)  # == tab[k][i], slo[k][i]
        cx = r[:, 0] + f * r[:, 4]
        cy = r[:, 1] + f * r[:, 5]
        rx = r[:, 2] + f * r[:, 6]
        ry = r[:, 3] + f * r[:, 7]
        d2 = _ellipse2d(x - cx, y - cy, rx, ry, self.power)
        dz = np.maximum(self.z32[0] - z, z - self.z32[-1])
        return _combine_box(d2, dz)

    def bbox(self, prep, grp):
        s = self.sec
        lo = np.array([(s[:, 1] - s[:, 3]).min(), (s[:, 2] - s[:, 4]).min(), s[0, 0]])
        hi = np.array([(s[:, 1] + s[:, 3]).max(), (s[:, 2] + s[:, 4]).max(), s[-1, 0]])
        return lo, hi


class _Halfspace(_Node):
    kind = "halfspace"

    def __init__(self, d):
        self.pt = np.asarray(_req(d, "point", 3), float)
        n = np.asarray(_req(d, "normal", 3), float)
        ln = float(np.linalg.norm(n))
        if ln <= 0:
            raise SpecError("halfspace normal must be non-zero")
        self.n = n / ln
        self.n32 = self.n.astype(F32)
        self.off = F32(float(self.n @ self.pt))

    def ev(self, ctx, p, cap=None):
        return p[0] * self.n32[0] + p[1] * self.n32[1] + p[2] * self.n32[2] - self.off

    def bbox(self, prep, grp):
        lo = np.full(3, -_INF)
        hi = np.full(3, _INF)
        ax = np.flatnonzero(np.abs(self.n) > 1 - 1e-9)
        if len(ax) == 1:
            a = ax[0]
            if self.n[a] > 0:
                hi[a] = self.pt[a]
            else:
                lo[a] = self.pt[a]
        return lo, hi


class _Sheet(_Node):
    kind = "sheet"

    def __init__(self, d):
        v = np.asarray(_req(d, "vertices"), float)
        f = np.asarray(_req(d, "faces"), int)
        if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3:
            raise SpecError("sheet needs vertices [[x,y,z],...] and faces [[i,j,k],...]")
        if f.min() < 0 or f.max() >= len(v):
            raise SpecError("sheet face index out of range")
        self.v = v
        self.f = f
        self.t = float(_req(d, "thickness"))
        if self.t <= 0:
            raise SpecError("sheet thickness must be > 0")
        self.tris = []
        for i, j, k in f:
            a, b, c = v[i], v[j], v[k]
            ba, cb, ac = b - a, c - b, a - c
            nor = np.cross(ba, ac)
            nn = float(nor @ nor)
            if nn <= 1e-12:
                raise SpecError("sheet has a degenerate triangle")
            self.tris.append(
                (
                    a,
                    b,
                    c,
                    ba,
                    cb,
                    ac,
                    nor,
                    nn,
                    np.cross(ba, nor),
                    np.cross(cb, nor),
                    np.cross(ac, nor),
                )
            )

    def _prep_rows(self):
        """Per-triangle (T, 1) and per-edge (3T, 1) float32 columns for ``ev``."""
        if getattr(self, "_rows", None) is None:
            col = _f32col
            tr = self.tris
            r = {}
            for nm, k in (
                ("a", 0),
                ("b", 1),
                ("c", 2),
                ("nor", 6),
                ("e0", 8),
                ("e1", 9),
                ("e2", 10),
            ):
                r[nm] = [col([t[k][ax] for t in tr]) for ax in range(3)]
            r["inn"] = col([1.0 / t[7] for t in tr])
            # edges a-b, b-c, c-a of every triangle, as segments (start, direction, 1/|ab|^2)
            st = np.array([q for t in tr for q in (t[0], t[1], t[2])], float)
            en = np.array([q for t in tr for q in (t[1], t[2], t[0])], float)
            ab = en - st
            l2 = [float(v @ v) for v in ab]  # as _seg_dist2 computes it
            r["sa"] = [col(st[:, ax]) for ax in range(3)]
            r["sab"] = [col(ab[:, ax]) for ax in range(3)]
            r["sinv"] = col([1.0 / v if v > 1e-12 else 0.0 for v in l2])
            self._rows = r
        return self._rows

    def ev(self, ctx, p, cap=None):
        # All triangles at once, as (triangles, points) arrays, with per element the same
        # float32 operations as the triangle-by-triangle formula (the sign test picks the
        # face or the nearest edge); the minimum over triangles is exact in any order.
        x, y, z = p
        r = self._prep_rows()
        n = len(x)
        nt = len(self.tris)
        out = np.empty(n, F32)
        step = max(1, (1 << 19) // nt)
        for s0 in range(0, n, step):
            sl = slice(s0, min(n, s0 + step))
            np.min(self._tris(r, x[sl], y[sl], z[sl]), axis=0, out=out[sl])
        return out - F32(self.t / 2)

    def _tris(self, r, x, y, z):
        nt = len(self.tris)
        x, y, z = x[None, :], y[None, :], z[None, :]

        def rel(v):
            return x - v[0], y - v[1], z - v[2]

        def dot(u, v):
            return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]

        pa, pb, pc = rel(r["a"]), rel(r["b"]), rel(r["c"])
        sgn = np.sign(dot(pa, r["e0"])) + np.sign(dot(pb, r["e1"])) + np.sign(dot(pc, r["e2"]))
        dp = dot(pa, r["nor"])
        face = dp * dp * r["inn"]
        # the three edges of each triangle (rows 3i, 3i + 1, 3i + 2), as in _seg_dist2
        d = rel(r["sa"])
        t = dot(d, r["sab"]) * r["sinv"]
        t = np.minimum(np.maximum(t, F32(0.0)), F32(1.0))
        ex = d[0] - t * r["sab"][0]
        ey = d[1] - t * r["sab"][1]
        ez = d[2] - t * r["sab"][2]
        e2 = (ex * ex + ey * ey + ez * ez).reshape(nt, 3, -1)
        edge = np.minimum(np.minimum(e2[:, 0], e2[:, 1]), e2[:, 2])
        return np.sqrt(np.where(sgn < F32(2.0), edge, face))

    def bbox(self, prep, grp):
        return self.v.min(0) - self.t / 2, self.v.max(0) + self.t / 2


class _Union(_Node):
    kind = "union"

    def __init__(self, d, compile_):
        of = _req(d, "of")
        if not isinstance(of, list) or not of:
            raise SpecError("union needs a non-empty list 'of'")
        self.kids = [compile_(k) for k in of]
        self.smooth = float(d.get("smooth", 0.0))

    def children(self):
        return self.kids

    def ev(self, ctx, p, cap=None):
        # Pointwise gate: a member only counts where the point lies within its bbox + CLAMP;
        # elsewhere it counts as CLAMP.  This keeps far-away members out of the computation
        # and is still a function of the point alone.
        # With a cap (see _Intersect.ev), a sharp union passes it to every member: the
        # minimum is exact where it is <= cap (that member is exact and the others are
        # exact or above the cap), and above the cap where every member is.  A smooth union
        # blends near-equal members, so its members are evaluated exactly.
        if self.smooth > 0:
            cap = None
        out = None
        for k in self.kids:
            lo, hi = ctx.prep.node_bbox[id(k)]
            g = ctx.gate(p, lo - float(CLAMP), hi + float(CLAMP))
            if g is False:
                continue
            v = _ev_on(k, ctx, p, g, CLAMP, cap)
            if v is None:
                continue
            if out is None:
                out = v
            elif self.smooth > 0:
                # blend only where both members are real values (a member beyond its gate
                # counts as CLAMP and must act exactly like an absent one)
                kk = F32(self.smooth)
                h = np.maximum(kk - np.abs(out - v), F32(0.0)) / kk
                h = np.where((out < CLAMP) & (v < CLAMP), h, F32(0.0))
                out = np.minimum(out, v) - h * h * kk * F32(0.25)
            else:
                out = np.minimum(out, v)
        if out is None:
            return np.full(p[0].shape, CLAMP, F32)
        return np.minimum(out, CLAMP)

    def bbox(self, prep, grp):
        lo, hi = _empty_box()
        for k in self.kids:
            a, b = prep.node_bbox[id(k)]
            lo = np.minimum(lo, a)
            hi = np.maximum(hi, b)
        if self.smooth > 0 and not _is_empty(lo, hi):
            lo, hi = lo - self.smooth / 4, hi + self.smooth / 4
        return lo, hi


class _Intersect(_Node):
    kind = "intersect"

    def __init__(self, d, compile_, key="of"):
        of = _req(d, key)
        if not isinstance(of, list) or not of:
            raise SpecError(f"{d.get('op')} needs a non-empty list '{key}'")
        self.kids = [compile_(k) for k in of]
        self.order = sorted(self.kids, key=_cost)

    def children(self):
        return self.kids

    def ev(self, ctx, p, cap=None):
        # Cheapest members first; a point already CLAMP away needs no more members (the
        # result is clamped at CLAMP, so it is the same either way).
        #
        # ``cap`` (None, a scalar or one value per point, >= 0): the caller only needs the
        # value where it is <= cap, and only "above cap" elsewhere.  Every node honours the
        # contract "exact where the true value <= cap, some value > cap where it is not"
        # (nodes that ignore the cap are exact everywhere).  The maximum of the members is
        # above the cap as soon as one member is, so the remaining members are skipped
        # there: such points end at CLAMP (> cap), exactly as if their partial maximum had
        # reached CLAMP.  Where the partial maximum is <= cap it is exact, and the next
        # member, evaluated under the same cap, keeps the contract.
        out = self.order[0].ev(ctx, p, cap)
        for k in self.order[1:]:
            act = out < CLAMP
            if cap is not None:
                act &= out <= cap
            v = _ev_on(k, ctx, p, act, CLAMP, cap)
            if v is None:
                break
            out = np.maximum(out, v)
        return np.minimum(out, CLAMP)

    def bbox(self, prep, grp):
        lo = np.full(3, -_INF)
        hi = np.full(3, _INF)
        for k in self.kids:
            a, b = prep.node_bbox[id(k)]
            lo = np.maximum(lo, a)
            hi = np.minimum(hi, b)
        return lo, hi


class _Within(_Intersect):
    kind = "within"

    def __init__(self, d, compile_):
        self.kids = [compile_(_req(d, "of")), compile_(_req(d, "container"))]
        self.order = sorted(self.kids, key=_cost)


class _Subtract(_Node):
    kind = "subtract"

    def __init__(self, d, compile_):
        of = _req(d, "of")
        if not isinstance(of, list) or len(of) < 2:
            raise SpecError("subtract needs 'of': [base, cut, ...]")
        self.kids = [compile_(k) for k in of]

    def children(self):
        return self.kids

    def ev(self, ctx, p, cap=None):
        # the base honours the cap (see _Intersect.ev); a point whose partial value is
        # above the cap (or at CLAMP), or that lies outside the cut's gate, skips the cut:
        # it counts as +inf, max(out, -inf) == out, for each point on its own whatever the
        # other points of the array are; the cuts themselves are evaluated exactly
        out = self.kids[0].ev(ctx, p, cap)
        for k in self.kids[1:]:
            lo, hi = ctx.prep.node_bbox[id(k)]
            g = ctx.gate(p, lo - float(CLAMP), hi + float(CLAMP))
            if g is False:
                continue
            m = out < CLAMP
            if cap is not None:
                m &= out <= cap
            if g is not True:
                m &= g
            v = _ev_on(k, ctx, p, m, np.inf)
            if v is None:
                continue
            out = np.maximum(out, -v)
        return np.minimum(out, CLAMP)

    def bbox(self, prep, grp):
        return prep.node_bbox[id(self.kids[0])]


class _Shell(_Node):
    kind = "shell"

    def __init__(self, d, compile_):
        self.kid = compile_(_req(d, "of"))
        self.t = float(_req(d, "thickness"))
        self.side = d.get("side", "outer")
        self.offset = float(d.get("offset", 0.0))
        if self.t <= 0:
            raise SpecError("shell thickness must be > 0")
        if self.side not in ("outer", "inner", "center"):
            raise SpecError("shell side must be outer, inner or center")
        if self.t + abs(self.offset) > float(CLAMP) - 1:
            raise SpecError(f"shell thickness + offset must stay below {float(CLAMP) - 1} mm")

    def children(self):
        return [self.kid]

    def ev(self, ctx, p, cap=None):
        d = self.kid.ev(ctx, p) - F32(self.offset)
        t = F32(self.t)
        if self.side == "outer":
            return np.maximum(d - t, -d)
        if self.side == "inner":
            return np.maximum(d, -d - t)
        return np.abs(d) - t * F32(0.5)

    def bbox(self, prep, grp):
        lo, hi = prep.node_bbox[id(self.kid)]
        grow = self.offset + (
            self.t if self.side == "outer" else self.t / 2 if self.side == "center" else 0
        )
        grow = max(grow, 0.0)
        return lo - grow, hi + grow


class _Offset(_Node):
    kind = "offset"

    def __init__(self, d, compile_):
        self.kid = compile_(_req(d, "of"))
        self.by = float(_req(d, "by"))
        if abs(self.by) > float(CLAMP) - 1:
            raise SpecError(f"offset must stay below {float(CLAMP) - 1} mm")

    def children(self):
        return [self.kid]

    def ev(self, ctx, p, cap=None):
        return self.kid.ev(ctx, p) - F32(self.by)

    def bbox(self, prep, grp):
        lo, hi = prep.node_bbox[id(self.kid)]
        g = max(self.by, 0.0)
        return lo - g, hi + g


class _Cell(_Node):
    kind = "cell"

    def __init__(self, d, compile_):
        self.part = str(_req(d, "partition"))
        self.cell = str(_req(d, "cell"))

    def ev(self, ctx, p, cap=None):
        return ctx.cell(self.part, self.cell)

    def lip(self, atlas):
        return max(1.0, atlas._parts[self.part].node.lip(atlas))

    def bbox(self, prep, grp):
        return prep.partition_cell_bbox(self.part, self.cell, grp)


class _Switch(_Node):
    kind = "switch"

    def __init__(self, d, compile_):
        self.on = str(_req(d, "on"))
        if self.on not in SWITCH_ON:
            raise SpecError(f"switch 'on' must be one of {SWITCH_ON}")
        cases = _req(d, "cases")
        if not isinstance(cases, dict):
            raise SpecError("switch cases must be an object")
        self.cases = {str(k): compile_(v) for k, v in cases.items()}
        self.default = compile_(d["default"]) if "default" in d else None

    def children(self):
        return [*self.cases.values(), *([self.default] if self.default else [])]

    def pick(self, subject: Subject):
        v = getattr(subject, self.on)
        v = ("true" if v else "false") if isinstance(v, bool) else str(v)
        return self.cases.get(v, self.default)

    def ev(self, ctx, p, cap=None):
        k = self.pick(ctx.prep.subject)
        if k is None:
            return np.full(p[0].shape, CLAMP, F32)
        return k.ev(ctx, p, cap)

    def bbox(self, prep, grp):
        k = self.pick(prep.subject)
        return _empty_box() if k is None else prep.node_bbox[id(k)]


class _Ref(_Node):
    kind = "ref"

    def __init__(self, d, compile_):
        self.key = str(d["ref"])

    def lip(self, atlas):
        return atlas._loc_lip(self.key)

    def ev(self, ctx, p, cap=None):
        return ctx.ref(self.key)

    def bbox(self, prep, grp):
        lo, hi = prep.loc_body_bbox(self.key)
        return grp.body_to_local_bbox(lo, hi)


class _Aux(_Node):
    kind = "aux"

    def __init__(self, d, compile_):
        self.name = str(d["aux"])

    def lip(self, atlas):
        return atlas._aux_lip(self.name)

    def ev(self, ctx, p, cap=None):
        return ctx.aux(self.name)

    def bbox(self, prep, grp):
        lo, hi = prep.aux_body_bbox(self.name)
        return grp.body_to_local_bbox(lo, hi)


_PRIMS = {
    "sphere": _Sphere,
    "ellipsoid": _Ellipsoid,
    "box": _Box,
    "capsule": _Capsule,
    "cylinder": _Cylinder,
    "loft": _Loft,
    "halfspace": _Halfspace,
    "sheet": _Sheet,
}
_OPNODES = {
    "union": _Union,
    "intersect": _Intersect,
    "within": _Within,
    "subtract": _Subtract,
    "shell": _Shell,
    "offset": _Offset,
    "cell": _Cell,
    "switch": _Switch,
}


def _req(d: Mapping, k: str, n: int | None = None):
    if k not in d:
        raise SpecError(f"missing field {k!r} in {_short(d)}")
    v = d[k]
    if n is not None:
        if not isinstance(v, (list, tuple)) or len(v) != n:
            raise SpecError(f"field {k!r} must be a list of {n} numbers in {_short(d)}")
        try:
            [float(x) for x in v]
        except (TypeError, ValueError):
            raise SpecError(f"field {k!r} must hold numbers in {_short(d)}") from None
    return v


def _short(d) -> str:
    s = repr(d)
    return s if len(s) < 120 else s[:117] + "..."


def _compile(d: Any, nodes: list) -> _Node:
    if not isinstance(d, dict):
        raise SpecError(f"a shape must be a JSON object, got {_short(d)}")
    if "ref" in d:
        node = _Ref(d, None)
    elif "aux" in d:
        node = _Aux(d, None)
    elif "type" in d:
        cls = _PRIMS.get(d["type"])
        if cls is None:
            raise SpecError(f"unknown shape type {d['type']!r}")
        node = cls(d)
    elif "op" in d:
        cls = _OPNODES.get(d["op"])
        if cls is None:
            raise SpecError(f"unknown operator {d['op']!r}")
        node = cls(d, lambda x: _compile(x, nodes))
    else:
        raise SpecError(f"a shape needs 'type', 'op', 'ref' or 'aux': {_short(d)}")
    nodes.append(node)
    return node


def _walk(node: _Node):
    yield node
    for k in node.children():
        yield from _walk(k)


# --------------------------------------------------------------------------------------------
# references


def collect_refs(shape: Any) -> tuple[set[str], set[str], set[str]]:
    """Return (location refs, aux names, partition names) used anywhere in a shape JSON."""
    refs: set[str] = set()
    aux: set[str] = set()
    parts: set[str] = set()

    def rec(x):
        if isinstance(x, dict):
            if "ref" in x and isinstance(x["ref"], str):
                refs.add(x["ref"])
            if "aux" in x and isinstance(x["aux"], str):
                aux.add(x["aux"])
            if x.get("op") == "cell" and isinstance(x.get("partition"), str):
                parts.add(x["partition"])
            for v in x.values():
                rec(v)
        elif isinstance(x, list):
            for v in x:
                rec(v)

    rec(shape)
    return refs, aux, parts


def rewrite_refs(spec: dict, mapping: Mapping[str, str]) -> dict:
    """Return a deep copy of ``spec`` with every location reference renamed by ``mapping``.

    Location references are exactly the JSON objects ``{"ref": KEY}`` (anywhere in the spec).
    Aux names, partition and cell names are frame-local and are left alone.  A reference that
    is not in ``mapping`` raises ``KeyError``.
    """

    def rec(x):
        if isinstance(x, dict):
            out = {k: rec(v) for k, v in x.items()}
            if "ref" in x and isinstance(x["ref"], str):
                out["ref"] = mapping[x["ref"]]
            return out
        if isinstance(x, list):
            return [rec(v) for v in x]
        return copy.deepcopy(x)

    return rec(spec)


def validate_specs(frame: Mapping, specs: Mapping[str, Mapping]) -> list[str]:
    """Schema errors of a frame + specs: unknown shape or operator, missing or malformed field,
    unknown reference / aux / partition / cell / group, reference cycle, aux that references a
    location.  Returns human-readable messages; an empty list means the atlas compiles."""
    errs: list[str] = []
    aux = frame.get("aux", {}) or {}
    parts = frame.get("partitions", {}) or {}
    groups = frame.get("groups", {}) or {}

    def check_shape(where: str, shape, allow_refs: bool):
        try:
            _compile(shape, [])
        except SpecError as e:
            errs.append(f"{where}: {e}")
            return
        r, a, pt = collect_refs(shape)
        for k in sorted(r):
            if not allow_refs:
                errs.append(f"{where}: frame shapes may not reference locations ({k!r})")
            elif k not in specs:
                errs.append(f"{where}: unknown reference {k!r}")
        for k in sorted(a):
            if k not in aux:
                errs.append(f"{where}: unknown aux shape {k!r}")
        for k in sorted(pt):
            if k not in parts:
                errs.append(f"{where}: unknown partition {k!r}")

        def rec(x):
            if isinstance(x, dict):
                if (
                    x.get("op") == "cell"
                    and x.get("partition") in parts
                    and str(x.get("cell")) not in (parts[x["partition"]].get("seeds") or {})
                ):
                    errs.append(
                        f"{where}: unknown cell {x.get('cell')!r} of partition {x['partition']!r}"
                    )
                for v in x.values():
                    rec(v)
            elif isinstance(x, list):
                for v in x:
                    rec(v)

        rec(shape)

    for name, a in aux.items():
        if not isinstance(a, dict) or "shape" not in a:
            errs.append(f"aux {name!r}: needs a 'shape'")
            continue
        check_shape(f"aux {name!r}", a["shape"], False)
        if a.get("group") and a["group"] not in groups:
            errs.append(f"aux {name!r}: unknown group {a['group']!r}")
    for name, pdef in parts.items():
        if not isinstance(pdef, dict) or "container" not in pdef or not pdef.get("seeds"):
            errs.append(f"partition {name!r}: needs 'container' and 'seeds'")
            continue
        check_shape(f"partition {name!r}", pdef["container"], False)
        for cell, pts in pdef["seeds"].items():
            arr = np.asarray(pts, dtype=object)
            try:
                arr = np.asarray(pts, float)
            except (TypeError, ValueError):
                arr = np.zeros((0,))
            if arr.ndim != 2 or arr.shape[1] != 3 or len(arr) == 0:
                errs.append(f"partition {name!r}: seeds of {cell!r} must be a list of [x, y, z]")
        if pdef.get("group") and pdef["group"] not in groups:
            errs.append(f"partition {name!r}: unknown group {pdef['group']!r}")
    # aux -> aux cycles
    aux_deps = {
        n: collect_refs(a.get("shape", {}))[1] for n, a in aux.items() if isinstance(a, dict)
    }
    for n, p in parts.items():
        if isinstance(p, dict):
            aux_deps[f"partition:{n}"] = collect_refs(p.get("container", {}))[1]
    errs += [f"aux cycle: {' -> '.join(c)}" for c in _cycles(aux_deps)]

    for key, spec in specs.items():
        where = f"location {key!r}"
        if not isinstance(spec, dict):
            errs.append(f"{where}: spec must be an object")
            continue
        if "shape" not in spec:
            errs.append(f"{where}: missing field 'shape'")
            continue
        if "priority" not in spec or not isinstance(spec["priority"], (int, float)):
            errs.append(f"{where}: missing or non-numeric 'priority'")
        if spec.get("sex") not in (None, "male", "female"):
            errs.append(f"{where}: sex must be 'male' or 'female'")
        if spec.get("variant") not in (None, "l6"):
            errs.append(f"{where}: unknown variant {spec.get('variant')!r}")
        if spec.get("group") and spec["group"] not in groups:
            errs.append(f"{where}: unknown group {spec['group']!r}")
        check_shape(where, spec["shape"], True)
    deps = {k: collect_refs(s.get("shape", {}))[0] for k, s in specs.items() if isinstance(s, dict)}
    errs += [f"reference cycle: {' -> '.join(c)}" for c in _cycles(deps)]
    return errs


def _cycles(deps: Mapping[str, Iterable[str]]) -> list[list[str]]:
    out = []
    state: dict[str, int] = {}

    def dfs(n, stack):
        state[n] = 1
        stack.append(n)
        for m in sorted(deps.get(n, ())):
            if m not in deps:
                continue
            if state.get(m) == 1:
                out.append([*stack[stack.index(m) :], m])
            elif m not in state:
                dfs(m, stack)
        stack.pop()
        state[n] = 2

    for n in sorted(deps):
        if n not in state:
            dfs(n, [])
    return out


# --------------------------------------------------------------------------------------------
# subjects


@dataclasses.dataclass(frozen=True)
class Subject:
    """One body: how world (scanner) millimetres map into the atlas reference frame.

    ``height_mm`` scales z by height/1750 and x, y by (height/1750)**0.5 * girth**0.3;
    ``girth`` also grows the body surface outwards (subcutaneous fat) by
    ``frame['girth_fat_mm'] * (girth - 1)`` times each aux shape's ``grow`` factor.
    ``sex`` selects sex-specific locations and ``switch`` cases; ``arms`` is ``down`` or ``up``
    (the arm groups rotate about the shoulder by the frame's ``poses['arms_up']``);
    ``l6`` adds the lumbosacral transitional vertebra (variant ``l6``);
    ``jitter`` holds ``(group, (dx, dy, dz), scale)`` per body part;
    ``table_rotation_deg`` (about x, y, z, through the table centre) and ``table_shift_mm``
    move the whole body on the scanner table.
    """

    height_mm: float = 1750.0
    girth: float = 1.0
    sex: str = "male"
    arms: str = "down"
    l6: bool = False
    jitter: tuple = ()
    table_rotation_deg: tuple = (0.0, 0.0, 0.0)
    table_shift_mm: tuple = (0.0, 0.0, 0.0)

    def __post_init__(self):
        if self.sex not in ("male", "female"):
            raise ValueError("sex must be 'male' or 'female'")
        if self.arms not in ("down", "up"):
            raise ValueError("arms must be 'down' or 'up'")
        if not 1000 <= self.height_mm <= 2300:
            raise ValueError("height_mm out of range")
        if not 0.6 <= self.girth <= 2.0:
            raise ValueError("girth out of range")

    @classmethod
    def reference(cls, sex: str = "male", **kw) -> Subject:
        """The reference adult (1750 mm, girth 1, arms down, no jitter); ``sex`` and other
        fields may be overridden."""
        return cls(sex=sex, **kw)

    @classmethod
    def sample(
        cls,
        rng: np.random.Generator,
        *,
        groups: Mapping[str, Mapping] | None = None,
        height_mm: tuple[float, float] = (1550.0, 1950.0),
        girth: tuple[float, float] = (0.85, 1.35),
        p_female: float = 0.5,
        p_arms_up: float = 0.5,
        p_l6: float = 0.05,
        jitter: float = 1.0,
        table_rotation_deg: float = 3.0,
        table_shift_mm: float = 30.0,
        sex: str | None = None,
        arms: str | None = None,
    ) -> Subject:
        """Draw one subject.  ``groups`` is the frame's ``groups`` table (each group may carry
        ``jitter: {"shift_mm": [sx, sy, sz], "scale": s}``, the anatomical limits); ``jitter``
        multiplies those limits (0 disables it).  Females are drawn 7 % shorter."""
        if sex is None:
            sex = "female" if rng.random() < p_female else "male"
        if arms is None:
            arms = "up" if rng.random() < p_arms_up else "down"
        h = float(rng.uniform(*height_mm))
        if sex == "female":
            h = max(1400.0, h * 0.93)
        g = float(rng.uniform(*girth))
        jit = []
        for name in sorted(groups or {}):
            lim = (groups[name] or {}).get("jitter") or {}
            sh = np.asarray(lim.get("shift_mm", [0, 0, 0]), float) * jitter
            sc = float(lim.get("scale", 0.0)) * jitter
            if not np.any(sh) and not sc:
                continue
            t = tuple(float(v) for v in rng.uniform(-1, 1, 3) * sh)
            s = float(1.0 + rng.uniform(-1, 1) * sc)
            jit.append((name, t, s))
        rot = tuple(float(v) for v in rng.uniform(-1, 1, 3) * table_rotation_deg)
        sh = tuple(float(v) for v in rng.uniform(-1, 1, 3) * table_shift_mm)
        return cls(
            height_mm=h,
            girth=g,
            sex=sex,
            arms=arms,
            l6=bool(rng.random() < p_l6),
            jitter=tuple(jit),
            table_rotation_deg=rot,
            table_shift_mm=sh,
        )

    def jitter_dict(self) -> dict[str, tuple[np.ndarray, float]]:
        return {g: (np.asarray(t, float), float(s)) for g, t, s in self.jitter}

    def global_scale(self, ref_height: float = 1750.0) -> tuple[float, float]:
        """(s_xy, s_z) of the subject relative to the reference body."""
        sz = self.height_mm / ref_height
        return math.sqrt(sz) * self.girth**0.3, sz


class _Group:
    """Affine map body(reference-frame) -> local frame of a group, and its inverse."""

    def __init__(
        self,
        a_fwd: np.ndarray,
        b_fwd: np.ndarray,
        scale: float,
        world_a: np.ndarray,
        world_b: np.ndarray,
    ):
        # local -> body: p_body = a_fwd @ p_local + b_fwd
        self.a_fwd = a_fwd
        self.b_fwd = b_fwd
        self.a_inv = np.linalg.inv(a_fwd)
        self.b_inv = -self.a_inv @ b_fwd
        self.scale = scale
        # world -> local: compose (world -> body) then (body -> local)
        self.w_a = self.a_inv @ world_a
        self.w_b = self.a_inv @ world_b + self.b_inv
        self.identity = bool(np.array_equal(self.w_a, np.eye(3)) and not np.any(self.w_b))
        self.w_a32 = self.w_a.astype(F32)
        self.w_b32 = self.w_b.astype(F32)

    def local_to_body_bbox(self, lo, hi):
        return _xf_bbox(self.a_fwd, self.b_fwd, lo, hi)

    def body_to_local_bbox(self, lo, hi):
        return _xf_bbox(self.a_inv, self.b_inv, lo, hi)


class _Prepared:
    """Everything that depends on the subject: transforms and bounding boxes."""

    def __init__(self, atlas: Atlas, subject: Subject):
        self.atlas = atlas
        self.subject = subject
        fr = atlas.frame
        sxy, sz = subject.global_scale(float(fr.get("reference_height_mm", 1750.0)))
        self.sdf_scale = min(sxy, sz)
        # body -> world: scale, then table rotation about the table centre, then shift
        s = np.diag([sxy, sxy, sz])
        rot = _rotmat(subject.table_rotation_deg)
        c = np.array([0.0, 0.0, float(fr.get("table_center_z_mm", 900.0)) * sz])
        t = np.asarray(subject.table_shift_mm, float)
        self.body_to_world_a = rot @ s
        self.body_to_world_b = c - rot @ c + t
        self.world_to_body_a = np.linalg.inv(self.body_to_world_a)
        self.world_to_body_b = -self.world_to_body_a @ self.body_to_world_b
        self.grow_mm = float(fr.get("girth_fat_mm", 0.0)) * (subject.girth - 1.0)
        self.groups: dict[str, _Group] = {}
        jit = subject.jitter_dict()
        poses = (fr.get("poses") or {}).get("arms_up", {}) if subject.arms == "up" else {}
        for name in [None, *sorted(fr.get("groups", {}) or {})]:
            gdef = (fr.get("groups", {}) or {}).get(name, {}) if name else {}
            a = np.eye(3)
            b = np.zeros(3)
            if name in poses:
                pose = poses[name]
                rr = _axis_angle(pose["axis"], float(pose["deg"]))
                cc = np.asarray(pose["center"], float)
                a = rr
                b = cc - rr @ cc
            scale = 1.0
            if name in jit:
                tr, scale = jit[name]
                anc = np.asarray(gdef.get("anchor", [0, 0, 0]), float)
                # p -> anc + tr + scale * (p - anc)
                a = scale * a
                b = anc + tr + scale * (b - anc)
            self.groups[name or ""] = _Group(
                a, b, scale, self.world_to_body_a, self.world_to_body_b
            )
        self.node_bbox: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._loc_body: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._aux_body: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._part_done: set[str] = set()
        self._busy: set[str] = set()
        present = []
        lo_w = []
        hi_w = []
        for k in atlas.keys:
            loc = atlas._locs[k]
            pres = loc.present(subject)
            present.append(pres)
            lo, hi = self.loc_body_bbox(k)
            if pres and not _is_empty(lo, hi):
                wl, wh = _xf_bbox(self.body_to_world_a, self.body_to_world_b, lo, hi)
            else:
                wl, wh = _empty_box()
            lo_w.append(wl)
            hi_w.append(wh)
        self.present = np.array(present, bool)
        self.world_lo = np.array(lo_w, float).reshape(-1, 3)
        self.world_hi = np.array(hi_w, float).reshape(-1, 3)
        bad = [
            atlas.keys[i]
            for i in range(len(atlas.keys))
            if self.present[i]
            and not np.all(np.isfinite(self.world_lo[i]) & np.isfinite(self.world_hi[i]))
        ]
        if bad:
            raise SpecError(
                f"locations with unbounded shapes (intersect them with a finite shape): {bad[:5]}"
            )
        self.world_lo32 = self.world_lo.astype(F32)
        self.world_hi32 = self.world_hi.astype(F32)
        pr = np.array([atlas._locs[k].priority for k in atlas.keys], float)
        self.paint_order = np.lexsort((np.arange(len(pr)), pr))  # ascending priority, then index
        self.rank = np.empty(len(pr), np.int64)
        self.rank[self.paint_order] = np.arange(len(pr))
        self.priority = pr
        # how much a world distance can stretch in any group's local frame
        st = [np.linalg.norm(g.w_a, 2) * g.scale for g in self.groups.values()]
        self.stretch = float(max(st)) if st else 1.0

    def group(self, name: str | None) -> _Group:
        try:
            return self.groups[name or ""]
        except KeyError:
            raise SpecError(f"unknown group {name!r}") from None

    def _bbox_tree(self, root: _Node, grp: _Group):
        for n in _post_order(root):
            if id(n) not in self.node_bbox:
                lo, hi = n.bbox(self, grp)
                self.node_bbox[id(n)] = (np.asarray(lo, float), np.asarray(hi, float))
        return self.node_bbox[id(root)]

    def loc_body_bbox(self, key: str):
        if key in self._loc_body:
            return self._loc_body[key]
        if key in self._busy:
            raise SpecError(f"reference cycle through {key!r}")
        self._busy.add(key)
        loc = self.atlas._locs[key]
        grp = self.group(loc.group)
        lo, hi = self._bbox_tree(loc.node, grp)
        out = _empty_box() if _is_empty(lo, hi) else grp.local_to_body_bbox(lo, hi)
        self._busy.discard(key)
        self._loc_body[key] = out
        return out

    def aux_body_bbox(self, name: str):
        if name in self._aux_body:
            return self._aux_body[name]
        if ("aux:" + name) in self._busy:
            raise SpecError(f"aux cycle through {name!r}")
        self._busy.add("aux:" + name)
        ax = self.atlas._aux[name]
        grp = self.group(ax.group)
        lo, hi = self._bbox_tree(ax.node, grp)
        g = max(self.grow_mm * ax.grow, 0.0)
        out = _empty_box() if _is_empty(lo, hi) else grp.local_to_body_bbox(lo - g, hi + g)
        self._busy.discard("aux:" + name)
        self._aux_body[name] = out
        return out

    def partition_cell_bbox(self, part: str, cell: str, grp: _Group):
        pt = self.atlas._parts[part]
        pg = self.group(pt.group)
        lo, hi = self._bbox_tree(pt.node, pg)
        if _is_empty(lo, hi):
            return _empty_box()
        blo, bhi = pg.local_to_body_bbox(lo, hi)
        return grp.body_to_local_bbox(blo, bhi)


def _post_order(n: _Node):
    for k in n.children():
        yield from _post_order(k)
    yield n


class _Shared:
    """Values of aux shapes, referenced locations and partitions at a fixed array of world
    points, filled lazily for the subsets that ask for them.  Every value depends on its
    point only, so sharing them between locations changes nothing but the speed."""

    def __init__(self, prep: _Prepared, pts32: np.ndarray):
        self.prep = prep
        self.px = np.ascontiguousarray(pts32[:, 0])
        self.py = np.ascontiguousarray(pts32[:, 1])
        self.pz = np.ascontiguousarray(pts32[:, 2])
        self.n = len(pts32)
        self.store: dict = {}

    def ctx(self, idx: np.ndarray) -> _Ctx:
        return _Ctx(self.prep, self.px[idx], self.py[idx], self.pz[idx], shared=self, idx=idx)

    def get(self, key, idx: np.ndarray, compute):
        ent = self.store.get(key)
        if ent is None:
            val = compute(self.ctx(idx))
            arr = np.empty((*val.shape[:-1], self.n), F32)
            arr[..., idx] = val
            done = np.zeros(self.n, bool)
            done[idx] = True
            self.store[key] = [arr, done, len(idx)]
            return val
        arr, done, cnt = ent
        if cnt < self.n:
            miss = ~done[idx]
            if miss.any():
                need = idx[miss]
                arr[..., need] = compute(self.ctx(need))
                done[need] = True
                ent[2] = cnt + len(need)
        return arr[..., idx]


class _Ctx:
    """Evaluation context of one array of points: world points, cached group-local points,
    aux / ref / partition values (optionally shared with other contexts through _Shared)."""

    def __init__(self, prep: _Prepared, wx, wy, wz, shared: _Shared | None = None, idx=None):
        self.prep = prep
        self.w = (wx, wy, wz)
        self.cache: dict = {}
        self.shared = shared
        self.idx = idx
        self._blocal: dict[int, list] = {}
        self._keep: list = []  # arrays whose id() keys _blocal stay alive with the context

    def sub(self, idx: np.ndarray) -> _Ctx:
        """A context for the subset ``idx`` of this context's points."""
        w = tuple(c[idx] for c in self.w)
        if self.shared is not None:
            return _Ctx(self.prep, *w, shared=self.shared, idx=self.idx[idx])
        return _Ctx(self.prep, *w)

    def local(self, gname: str | None):
        key = ("L", gname or "")
        v = self.cache.get(key)
        if v is None:
            g = self.prep.group(gname)
            v = self.w if g.identity else _apply_affine_xyz(g.w_a32, g.w_b32, *self.w)
            self.cache[key] = v
        return v

    def gate(self, p, lo, hi):
        """Pointwise test p in [lo, hi] for the block: True (all), False (none) or a mask."""
        bb = self._blocal.get(id(p[0]))
        if bb is None:
            bb = [(float(c.min()), float(c.max())) for c in p] if p[0].size else [(0.0, 0.0)] * 3
            self._blocal[id(p[0])] = bb
            self._keep.append(p[0])
        inside = True
        for a in range(3):
            bl, bh = bb[a]
            if bh < lo[a] or bl > hi[a]:
                return False
            if bl < lo[a] or bh > hi[a]:
                inside = False
        if inside:
            return True
        m = None
        for a in range(3):
            bl, bh = bb[a]
            if bl < lo[a]:
                c = p[a] >= F32(lo[a])
                m = c if m is None else m & c
            if bh > hi[a]:
                c = p[a] <= F32(hi[a])
                m = c if m is None else m & c
        return m

    def _memo(self, key, compute, share: bool = True):
        v = self.cache.get(key)
        if v is None:
            if share and self.shared is not None:
                v = self.shared.get(key, self.idx, compute)
            else:
                v = compute(self)
            self.cache[key] = v
        return v

    def ref(self, key: str):
        def compute(c: _Ctx):
            loc = c.prep.atlas._locs[key]
            g = c.prep.group(loc.group)
            v = loc.node.ev(c, c.local(loc.group))
            if g.scale != 1.0:
                v = v * F32(g.scale)
            return v

        return self._memo(("R", key), compute, self.prep.atlas._shared_keys.get(("R", key), False))

    def aux(self, name: str):
        def compute(c: _Ctx):
            ax = c.prep.atlas._aux[name]
            g = c.prep.group(ax.group)
            v = ax.node.ev(c, c.local(ax.group))
            if g.scale != 1.0:
                v = v * F32(g.scale)
            grow = c.prep.grow_mm * ax.grow
            if grow:
                v = v - F32(grow)
            return v

        return self._memo(
            ("A", name), compute, self.prep.atlas._shared_keys.get(("A", name), False)
        )

    def cell(self, part: str, cell: str):
        """A cell of a partition: max(container, (own - other) * 0.5 / wmax), where ``own`` is
        the (metric) distance to the cell's nearest seed and ``other`` the distance to the
        nearest seed of any other cell.  The shared store keeps, per point, the container,
        the nearest and second-nearest cell distances and the nearest cell; ``other`` is the
        second-nearest where this cell is the nearest, else the nearest (the same minimum
        over the other cells, so the same float)."""
        pt = self.prep.atlas._parts[part]

        def compute(c: _Ctx):
            p = c.local(pt.group)
            cont = pt.node.ev(c, p)
            m = pt.cell_dists(p)
            if len(m) == 1:
                return np.stack([cont, m[0], np.full_like(cont, CLAMP), np.zeros_like(cont)])
            arg = np.argmin(m, axis=0)
            cols = np.arange(m.shape[1])
            best = m[arg, cols]
            m[arg, cols] = np.inf
            second = m.min(axis=0)
            return np.stack([cont, best, second, arg.astype(F32)])

        st = self._memo(("P", part), compute)
        cont, best, second, arg = st[0], st[1], st[2], st[3]
        i = pt.cell_index[cell]
        if len(pt.cells) == 1:
            own, other = best, second
        else:
            own = pt.cell_dists(self.local(pt.group), i)[0]
            other = np.where(arg == F32(i), second, best)
        val = (own - other) * F32(0.5 / pt.wmax)
        return np.maximum(cont, val)


class _Loc:
    def __init__(self, key: str, spec: Mapping):
        self.key = key
        self.spec = spec
        self.node = _compile(spec["shape"], [])
        self.priority = float(spec.get("priority", 0))
        self.group = spec.get("group") or None
        self.sex = spec.get("sex")
        self.variant = spec.get("variant")

    def present(self, s: Subject) -> bool:
        if self.sex and self.sex != s.sex:
            return False
        return not (self.variant == "l6" and not s.l6)


class _AuxDef:
    def __init__(self, name: str, d: Mapping):
        self.name = name
        self.node = _compile(d["shape"], [])
        self.group = d.get("group") or None
        self.grow = float(d.get("grow", 0.0))


class _PartDef:
    def __init__(self, name: str, d: Mapping):
        self.name = name
        self.node = _compile(d["container"], [])
        self.group = d.get("group") or None
        seeds = d["seeds"]
        self.cells = list(seeds)
        self.cell_index = {c: i for i, c in enumerate(self.cells)}
        w = np.asarray(d.get("metric", [1.0, 1.0, 1.0]), float)
        self.w32 = w.astype(F32)
        self.wmax = float(w.max())
        self.seeds32 = [np.asarray(seeds[c], float).reshape(-1, 3).astype(F32) for c in self.cells]
        allseeds = np.concatenate(self.seeds32)
        self._sx = [np.ascontiguousarray(allseeds[:, a])[:, None] for a in range(3)]
        self._starts = np.cumsum([0] + [len(v) for v in self.seeds32])

    def cell_dists(self, p, cell: int | None = None) -> np.ndarray:
        """(cells, n) metric distances from the points to each cell's nearest seed (or only
        to cell ``cell``'s, shape (1, n)): sqrt of the minimum over the seeds of
        ((x - sx) * wx)**2 + ((y - sy) * wy)**2 + ((z - sz) * wz)**2, in that float32 order."""
        n = len(p[0])
        if cell is None:
            a, b, starts = 0, len(self._sx[0]), self._starts[:-1]
        else:
            a, b = int(self._starts[cell]), int(self._starts[cell + 1])
            starts = np.zeros(1, np.int64)
        w = self.w32
        out = np.empty((len(starts), n), F32)
        step = max(1, (1 << 21) // max(b - a, 1))  # bound the (seeds, points) temporaries
        for s0 in range(0, n, step):
            sl = slice(s0, min(n, s0 + step))
            dx = (p[0][None, sl] - self._sx[0][a:b]) * w[0]
            dy = (p[1][None, sl] - self._sx[1][a:b]) * w[1]
            dz = (p[2][None, sl] - self._sx[2][a:b]) * w[2]
            d2 = dx * dx + dy * dy + dz * dz
            out[:, sl] = np.minimum.reduceat(d2, starts, axis=0)
        return np.sqrt(out)


# --------------------------------------------------------------------------------------------
# the atlas


class Atlas:
    """Compiled atlas: evaluate labels, shapes and bounding boxes for any subject.

    ``keys`` lists the location keys; label ``i + 1`` in a label map is ``keys[i]``, 0 is
    background.  Painting rule: among the locations present for the subject whose shape
    contains a point (sdf <= 0) and whose world bbox contains it, the highest ``priority``
    wins; on equal priority the deeper one (smaller sdf) wins; on an exact tie the earlier key.
    ``cell_mm`` is the size of the finest culling cell (the hierarchy is 8x, 4x, 2x, 1x it).
    """

    def __init__(
        self,
        frame: dict,
        specs: dict[str, dict],
        order: list[str] | None = None,
        *,
        cell_mm: float = 8.0,
    ):
        errs = validate_specs(frame, specs)
        if errs:
            raise SpecError(
                "; ".join(errs[:10]) + (f" (+{len(errs) - 10} more)" if len(errs) > 10 else "")
            )
        self.frame = frame
        self.specs = specs
        self.keys: list[str] = list(order) if order is not None else list(specs)
        if sorted(self.keys) != sorted(specs):
            raise SpecError("order must list every spec key exactly once")
        self.index = {k: i + 1 for i, k in enumerate(self.keys)}
        self._locs = {k: _Loc(k, specs[k]) for k in self.keys}
        self._aux = {n: _AuxDef(n, d) for n, d in (frame.get("aux") or {}).items()}
        self._parts = {n: _PartDef(n, d) for n, d in (frame.get("partitions") or {}).items()}
        self._lips: dict = {}
        self.lip = np.array([self._loc_lip(k) for k in self.keys])
        # values worth sharing between the evaluations of different locations at the same
        # points: aux shapes used more than once and locations referenced by another one
        # (the others are computed in place: the same values, without the store)
        uses: dict = {}
        roots = [n.node for n in (*self._locs.values(), *self._aux.values(), *self._parts.values())]
        for root in roots:
            for n in _walk(root):
                if n.kind == "aux":
                    uses[("A", n.name)] = uses.get(("A", n.name), 0) + 1
                elif n.kind == "ref":
                    uses[("R", n.key)] = uses.get(("R", n.key), 0) + 2
        self._shared_keys = {k: v >= 2 for k, v in uses.items()}
        self.cell_mm = float(cell_mm)
        # odd sub-millimetre offset of the cell grid: voxel centres on round numbers never
        # sit on a cell face
        self._cell_offset = np.array([0.318309886, 0.271828183, 0.141421356]) * self.cell_mm / 8.0
        self._prep_cache: dict[Subject, _Prepared] = {}

    def _loc_lip(self, key: str) -> float:
        k = ("R", key)
        if k not in self._lips:
            self._lips[k] = 1.0  # guards reference cycles (rejected by validate_specs anyway)
            self._lips[k] = self._locs[key].node.lip(self)
        return self._lips[k]

    def _aux_lip(self, name: str) -> float:
        k = ("A", name)
        if k not in self._lips:
            self._lips[k] = 1.0
            self._lips[k] = self._aux[name].node.lip(self)
        return self._lips[k]

    # -- subject handling ------------------------------------------------------------------
    def _prep(self, subject: Subject | None) -> _Prepared:
        s = subject or Subject.reference()
        p = self._prep_cache.get(s)
        if p is None:
            if len(self._prep_cache) > 8:
                self._prep_cache.clear()
            p = _Prepared(self, s)
            self._prep_cache[s] = p
        return p

    def sample_subject(self, rng: np.random.Generator, **ranges) -> Subject:
        """``Subject.sample`` with this atlas's group jitter limits."""
        return Subject.sample(rng, groups=self.frame.get("groups") or {}, **ranges)

    def world_to_reference(
        self, points_mm: np.ndarray, subject: Subject | None = None
    ) -> np.ndarray:
        """Map world points into the reference body frame (before group transforms)."""
        p = self._prep(subject)
        pts = np.asarray(points_mm, float).reshape(-1, 3)
        return pts @ p.world_to_body_a.T + p.world_to_body_b

    def reference_to_world(
        self, points_mm: np.ndarray, subject: Subject | None = None
    ) -> np.ndarray:
        p = self._prep(subject)
        pts = np.asarray(points_mm, float).reshape(-1, 3)
        return pts @ p.body_to_world_a.T + p.body_to_world_b

    # -- queries ----------------------------------------------------------------------------
    def present(self, key: str, subject: Subject | None = None) -> bool:
        """Whether the location exists for the subject (sex / variant)."""
        return self._locs[key].present(subject or Subject.reference())

    def bbox(self, key: str, subject: Subject | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Conservative world bbox of a location (empty box: lo > hi, if absent)."""
        p = self._prep(subject)
        i = self.index[key] - 1
        return p.world_lo[i].copy(), p.world_hi[i].copy()

    def body_bounds(self, subject: Subject | None = None) -> tuple[np.ndarray, np.ndarray]:
        """World bbox of everything painted (the body and the outside-the-body layer)."""
        p = self._prep(subject)
        m = p.present & np.all(p.world_lo <= p.world_hi, axis=1)
        return p.world_lo[m].min(0), p.world_hi[m].max(0)

    def sdf(self, key: str, points_mm: np.ndarray, subject: Subject | None = None) -> np.ndarray:
        """The location's own shape (before priority) at world points, mm, negative inside.
        A location absent for the subject (sex / variant) returns +inf."""
        prep = self._prep(subject)
        pts = np.asarray(points_mm, float).reshape(-1, 3)
        if not self._locs[key].present(prep.subject):
            return np.full(len(pts), np.inf)
        ctx = _Ctx(prep, *(pts[:, a].astype(F32) for a in range(3)))
        return ctx.ref(key).astype(float) * prep.sdf_scale

    def aux_sdf(
        self, name: str, points_mm: np.ndarray, subject: Subject | None = None
    ) -> np.ndarray:
        """An auxiliary shape of the frame (e.g. ``body``, ``lung_L``) at world points."""
        prep = self._prep(subject)
        pts = np.asarray(points_mm, float).reshape(-1, 3)
        ctx = _Ctx(prep, *(pts[:, a].astype(F32) for a in range(3)))
        return ctx.aux(name).astype(float) * prep.sdf_scale

    # -- labels -----------------------------------------------------------------------------
    #
    # Labelling is exact per point but organised on a fixed, world-aligned hierarchy of cubic
    # cells (64, 32, 16, 8 mm; the grid is offset by an odd fraction of a millimetre so that
    # voxel centres rarely fall on cell faces).  For each cell the candidate locations are
    # those whose bbox meets it; each candidate's sdf at the cell centre classifies it as
    # "out" (sdf > T: no point of the cell can be inside), "in" (sdf < -T: every point is
    # inside) or "boundary", with T = safety * half-diagonal * (world -> body stretch) * L,
    # L the location's estimated Lipschitz constant (Atlas.lip).  Candidates dominated by a
    # higher-priority "in" location are dropped; a cell with one remaining candidate that is
    # "in" gets its label whole, a cell with none is background, the others are split.  Points
    # of the unresolved 8 mm cells are evaluated, highest priority first, skipping a candidate
    # whose centre value already rules the point out (value > safety * L * distance to the
    # centre).  Every decision depends on the cell (or the point) alone, never on the rest of
    # the query, so the label of a point is a function of the point: labels_at and rasterize
    # agree exactly.

    _LEVELS = (3, 2, 1, 0)  # cell size = fine_mm * 2**k
    _SAFETY = 1.25
    _DENSE_LIMIT = 1 << 24

    def _eval_loc(self, prep: _Prepared, i: int, pts: np.ndarray) -> np.ndarray:
        p32 = pts.astype(F32)
        ctx = _Ctx(
            prep,
            np.ascontiguousarray(p32[:, 0]),
            np.ascontiguousarray(p32[:, 1]),
            np.ascontiguousarray(p32[:, 2]),
        )
        return ctx.ref(self.keys[i])

    def _eval_shared(self, shared: _Shared, i: int, idx: np.ndarray, cap=None) -> np.ndarray:
        """Location ``i``'s own shape at the points ``idx`` of ``shared``.  With a ``cap``
        (scalar or per point, >= 0) the values are exact where they are <= cap and only
        guaranteed to be > cap elsewhere (see _Intersect.ev); a location referenced by
        another one is evaluated exactly, through the shared store."""
        key = self.keys[i]
        ctx = shared.ctx(idx)
        if cap is None or self._shared_keys.get(("R", key), False):
            return ctx.ref(key)
        loc = self._locs[key]
        g = shared.prep.group(loc.group)
        if g.scale == 1.0:
            return loc.node.ev(ctx, ctx.local(loc.group), cap)
        # local values are multiplied by the scale: a slightly larger local cap keeps the
        # contract through the float32 product
        lcap = (cap / F32(g.scale)) * F32(1.0 + 1e-5) + F32(1e-4)
        return loc.node.ev(ctx, ctx.local(loc.group), lcap) * F32(g.scale)

    def _label_points(self, prep: _Prepared, pts: np.ndarray) -> np.ndarray:
        n = len(pts)
        if n == 0:
            return np.zeros(0, np.int32)
        top = self._LEVELS[0]
        fi = np.floor((pts - self._cell_offset) / self.cell_mm).astype(np.int64)
        c0 = (fi.min(0) >> top) << top
        rel = fi - c0
        dims = ((rel.max(0) >> top) + 1) << top
        if int(np.prod(dims)) > self._DENSE_LIMIT:
            # widely scattered points: label them by ~1 m super-blocks
            lab = np.zeros(n, np.int32)
            sb = rel >> (top + 4)
            key = (sb[:, 0] * (int(sb[:, 1].max()) + 1) + sb[:, 1]) * (
                int(sb[:, 2].max()) + 1
            ) + sb[:, 2]
            o = np.argsort(key, kind="stable")
            ks = key[o]
            cut = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1], True])
            for a, b in pairwise(cut):
                lab[o[a:b]] = self._label_points(prep, pts[o[a:b]])
            return lab
        d1, d2 = int(dims[1]), int(dims[2])
        didx = (rel[:, 0] * d1 + rel[:, 1]) * d2 + rel[:, 2]
        occ = np.zeros(int(np.prod(dims)), bool)
        occ[didx] = True
        fine_lab, res = self._resolve(prep, c0, occ.reshape(tuple(int(v) for v in dims)))
        lab = fine_lab.reshape(-1)[didx]
        act = np.flatnonzero(lab < 0)
        if len(act):
            lab[act] = self._paint(prep, res, res["pos"][didx[act]], pts[act])
        return lab

    def _resolve(self, prep: _Prepared, c0, occ: np.ndarray):
        """Cell hierarchy over the occupied finest cells ``occ`` (a dense box of finest cells
        starting at cell ``c0``).  Returns the finest-cell label array (-1 where unresolved)
        and, for the unresolved finest cells, their candidate entries."""
        fine = self.cell_mm
        off = self._cell_offset
        d0, d1, d2 = occ.shape
        fine_lab = np.full((d0, d1, d2), -1, np.int32)
        live = np.flatnonzero(prep.present & np.all(prep.world_lo <= prep.world_hi, axis=1))
        ent_loc = ent_row = ent_d = None
        prev_unres = prev_pos = None
        cen = None
        thr = 0.0
        for li, k in enumerate(self._LEVELS):
            s = 1 << k
            dk = (d0 // s, d1 // s, d2 // s)
            occ_k = occ.reshape(dk[0], s, dk[1], s, dk[2], s).any(axis=(1, 3, 5)) if s > 1 else occ
            if li > 0:
                occ_k = occ_k & prev_unres.repeat(2, 0).repeat(2, 1).repeat(2, 2)
            cells = np.flatnonzero(occ_k)
            if len(cells) == 0:
                prev_pos = np.full(d0 * d1 * d2, -1, np.int64)
                ent_loc = None
                break
            cx = np.stack(np.unravel_index(cells, dk), 1)
            size = fine * s
            lo = (c0 + cx * s).astype(float) * fine + off
            hi = lo + size
            cen = lo + size / 2.0
            if li == 0:
                el, ec = [], []
                wlo, whi = prep.world_lo[live], prep.world_hi[live]
                for j, i in enumerate(live):
                    m = np.all(hi > wlo[j], axis=1) & np.all(lo <= whi[j], axis=1)
                    idx = np.flatnonzero(m)
                    if len(idx):
                        el.append(np.full(len(idx), i, np.int64))
                        ec.append(idx)
                if not el:
                    prev_pos = np.full(d0 * d1 * d2, -1, np.int64)
                    ent_loc = None
                    break
                ent_loc = np.concatenate(el)
                ent_cell = np.concatenate(ec)
            else:
                pd = (dk[0] // 2, dk[1] // 2, dk[2] // 2)
                pflat = ((cx[:, 0] // 2) * pd[1] + cx[:, 1] // 2) * pd[2] + cx[:, 2] // 2
                prow = prev_pos[pflat]
                o = np.argsort(ent_row, kind="stable")
                s_loc, s_row = ent_loc[o], ent_row[o]
                nprev = int(prev_pos.max()) + 1
                starts = np.searchsorted(s_row, np.arange(nprev))
                cnt = np.bincount(s_row, minlength=nprev)[prow]
                tot = int(cnt.sum())
                ent_cell = np.repeat(np.arange(len(cells)), cnt)
                within = np.arange(tot) - np.repeat(np.cumsum(cnt) - cnt, cnt)
                ent_loc = s_loc[np.repeat(starts[prow], cnt) + within]
            # classify every entry at its cell centre
            d = np.empty(len(ent_loc), F32)
            o = np.argsort(
                ent_loc.astype(np.int16 if len(self.keys) < 32767 else np.int32), kind="stable"
            )
            sl = ent_loc[o]
            cut = np.flatnonzero(np.r_[True, sl[1:] != sl[:-1], True])
            shared = _Shared(prep, cen.astype(F32))
            thr = (
                self._SAFETY * size * math.sqrt(3.0) / 2.0 * prep.stretch * self.lip[ent_loc]
            ).astype(F32)
            for a, b in pairwise(cut):
                idx = o[a:b]
                # only the class (in / out / boundary) of a value above thr matters
                d[idx] = self._eval_shared(shared, int(sl[a]), ent_cell[idx], thr[idx])
            is_in = d < -thr
            # a location claims only points inside its (conservative) world bbox, so "in"
            # also needs the whole cell inside that bbox
            ii = np.flatnonzero(is_in)
            if len(ii):
                ec, el = ent_cell[ii], ent_loc[ii]
                inside_bb = np.all(lo[ec] >= prep.world_lo[el], axis=1) & np.all(
                    hi[ec] <= prep.world_hi[el], axis=1
                )
                is_in[ii[~inside_bb]] = False
            is_out = d > thr
            pri = prep.priority[ent_loc]
            best_in = np.full(len(cells), -np.inf)
            if is_in.any():
                np.maximum.at(best_in, ent_cell[is_in], pri[is_in])
            keep = ~is_out & (pri >= best_in[ent_cell])
            kcnt = np.bincount(ent_cell[keep], minlength=len(cells))
            icnt = np.bincount(ent_cell[keep & is_in], minlength=len(cells))
            const = (kcnt == 1) & (icnt == 1)
            resolved = const | (kcnt == 0)
            cell_lab = np.zeros(len(cells), np.int32)
            ck = keep & is_in & const[ent_cell]
            cell_lab[ent_cell[ck]] = ent_loc[ck] + 1
            if resolved.any():
                lab_k = np.full(dk, -1, np.int32)
                lab_k.flat[cells[resolved]] = cell_lab[resolved]
                if s > 1:
                    view = fine_lab.reshape(dk[0], s, dk[1], s, dk[2], s)
                    lk = lab_k[:, None, :, None, :, None]
                    np.copyto(view, lk, where=lk >= 0)
                else:
                    np.copyto(fine_lab, lab_k, where=lab_k >= 0)
            ur = np.flatnonzero(~resolved)
            prev_unres = np.zeros(dk, bool)
            prev_unres.flat[cells[ur]] = True
            prev_pos = np.full(dk[0] * dk[1] * dk[2], -1, np.int64)
            prev_pos[cells[ur]] = np.arange(len(ur))
            kk = keep & ~resolved[ent_cell]
            ent_loc = ent_loc[kk]
            ent_d = d[kk]
            ent_row = prev_pos[cells[ent_cell[kk]]]
            cen = cen[ur]
            if len(ur) == 0:
                break
        res = {
            "pos": prev_pos,
            "loc": ent_loc,
            "row": ent_row,
            "d": ent_d,
            "cen": cen,
            "thr_per_mm": self._SAFETY * prep.stretch,
        }
        return fine_lab, res

    _CHUNK = 1 << 19

    def _paint(self, prep: _Prepared, res: dict, prow: np.ndarray, pact: np.ndarray) -> np.ndarray:
        """Labels of the points ``pact`` (world, float64) lying in the unresolved finest cells
        ``prow`` (rows of ``res``): the candidates of each cell are evaluated at the points,
        highest priority first; a point already claimed by a higher priority is skipped, and
        so is a point that the candidate's value at the cell centre already places outside
        (value > safety * distance to the centre).  Works in spatially coherent chunks."""
        ent_loc, ent_row, ent_d = res["loc"], res["row"], res["d"]
        sub = np.zeros(len(prow), np.int32)
        if ent_loc is None or len(ent_loc) == 0 or len(prow) == 0:
            return sub
        o = np.argsort(prow, kind="stable")
        nrow = len(res["cen"])
        cstart = np.searchsorted(prow[o], np.arange(nrow + 1))
        # entries sorted by row, for chunk selection
        eo_r = np.argsort(ent_row, kind="stable")
        er_sorted = ent_row[eo_r]
        r0 = 0
        while r0 < nrow:
            r1 = int(np.searchsorted(cstart, cstart[r0] + self._CHUNK, side="right")) - 1
            r1 = min(max(r1, r0 + 1), nrow)
            pts_i = o[cstart[r0] : cstart[r1]]
            if len(pts_i):
                a, b = np.searchsorted(er_sorted, [r0, r1])
                eidx = eo_r[a:b]
                sub[pts_i] = self._paint_chunk(
                    prep,
                    res,
                    ent_loc[eidx],
                    ent_row[eidx] - r0,
                    ent_d[eidx],
                    prow[pts_i] - r0,
                    pact[pts_i],
                    res["cen"][r0:r1],
                )
            r0 = r1
        return sub

    def _paint_chunk(self, prep, res, ent_loc, ent_row, ent_d, prow, pact, cen):
        n = len(prow)
        sub = np.zeros(n, np.int32)
        if len(ent_loc) == 0:
            return sub
        nrow = len(cen)
        o = np.argsort(prow, kind="stable")
        cstart = np.searchsorted(prow[o], np.arange(nrow))
        ccnt = np.bincount(prow, minlength=nrow)
        best_p = np.full(n, -np.inf, F32)
        best_d = np.full(n, np.inf, F32)
        pax = [np.ascontiguousarray(pact[:, k]) for k in range(3)]
        # how far the sdf can have moved between the cell centre and each point
        # (== sqrt(((pact - cen[prow]) ** 2).sum(1)), summed in the same order)
        dcen = [pax[k] - cen[prow, k] for k in range(3)]
        reach = np.sqrt((dcen[0] * dcen[0] + dcen[1] * dcen[1]) + dcen[2] * dcen[2])
        reach = (reach * res["thr_per_mm"]).astype(F32)
        # highest priority first (equal priority: lower index first)
        eo = np.lexsort((ent_row, ent_loc, -prep.priority[ent_loc]))
        el, er, ed = ent_loc[eo], ent_row[eo], ent_d[eo]
        cut = np.flatnonzero(np.r_[True, el[1:] != el[:-1], True])
        shared = _Shared(prep, pact.astype(F32))
        rowval = np.zeros(nrow, F32)
        plo = np.array([c.min() for c in pax])
        phi = np.array([c.max() for c in pax])
        for a, b in pairwise(cut):
            i = int(el[a])
            rows = er[a:b]
            cnt = ccnt[rows]
            tot = int(cnt.sum())
            if tot == 0:
                continue
            within = np.arange(tot) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            pidx = o[np.repeat(cstart[rows], cnt) + within]
            pr = F32(prep.priority[i])
            rowval[rows] = ed[a:b]
            keep = (best_p[pidx] <= pr) & (rowval[prow[pidx]] <= reach[pidx] * F32(self.lip[i]))
            pidx = pidx[keep]
            if len(pidx) == 0:
                continue
            wl, wh = prep.world_lo[i], prep.world_hi[i]
            if np.any(plo < wl) or np.any(phi > wh):
                inb = None
                for ax in range(3):
                    if plo[ax] < wl[ax]:
                        c = pax[ax][pidx] >= wl[ax]
                        inb = c if inb is None else inb & c
                    if phi[ax] > wh[ax]:
                        c = pax[ax][pidx] <= wh[ax]
                        inb = c if inb is None else inb & c
                pidx = pidx[inb]
                if len(pidx) == 0:
                    continue
            dd = self._eval_shared(shared, i, pidx, F32(0.0))  # only dd <= 0 matters
            m = (dd <= F32(0.0)) & ((best_p[pidx] < pr) | (dd < best_d[pidx]))
            if m.any():
                q = pidx[m]
                sub[q] = i + 1
                best_p[q] = pr
                best_d[q] = dd[m]
        return sub

    def labels_at(self, points_mm: np.ndarray, subject: Subject | None = None) -> np.ndarray:
        """Label index (0 = background, i + 1 = keys[i]) of each world point, shape (N,)."""
        prep = self._prep(subject)
        pts = np.asarray(points_mm, float).reshape(-1, 3)
        out = np.zeros(len(pts), np.int32)
        step = 1 << 21
        for s in range(0, len(pts), step):
            out[s : s + step] = self._label_points(prep, pts[s : s + step])
        return out

    def rasterize(
        self, shape: tuple[int, int, int], affine: np.ndarray, subject: Subject | None = None
    ) -> np.ndarray:
        """Label volume (int16 if it fits, else int32) of a voxel grid whose voxel centres are
        ``affine @ [i, j, k, 1]``.  Equal to ``labels_at(voxel_points(shape, affine))``."""
        prep = self._prep(subject)
        aff = np.asarray(affine, float)
        shape = tuple(int(s) for s in shape)
        out = np.zeros(shape, np.int16 if len(self.keys) < 32767 else np.int32)
        if min(shape) <= 0:
            return out
        lo_all, hi_all = self.body_bounds(subject)
        if np.count_nonzero(aff[:3, :3] - np.diag(np.diag(aff[:3, :3]))) == 0:
            # axis-aligned grid: restrict to the body bounds and use separable cell indices
            rng = []
            for ax in range(3):
                c = np.arange(shape[ax], dtype=float) * aff[ax, ax] + aff[ax, 3]
                ok = np.flatnonzero((c >= lo_all[ax] - 1e-6) & (c <= hi_all[ax] + 1e-6))
                if len(ok) == 0:
                    return out
                rng.append((int(ok[0]), int(ok[-1]) + 1))
            (i0, i1), (j0, j1), (k0, k1) = rng
            top = self._LEVELS[0]
            fs = []
            for ax, (a0, a1) in enumerate(rng):
                c = np.arange(a0, a1, dtype=float) * aff[ax, ax] + aff[ax, 3]
                fs.append(np.floor((c - self._cell_offset[ax]) / self.cell_mm).astype(np.int64))
            ni, nj = i1 - i0, j1 - j0
            nk = max(1, min(k1 - k0, (1 << 23) // max(ni * nj, 1)))
            for ks in range(k0, k1, nk):
                ke = min(ks + nk, k1)
                fz = fs[2][ks - k0 : ke - k0]
                c0 = np.array([fs[0].min(), fs[1].min(), fz.min()])
                c0 = (c0 >> top) << top
                fx, fy, fz = fs[0] - c0[0], fs[1] - c0[1], fz - c0[2]
                dims = tuple(
                    int(v) for v in ((np.array([fx.max(), fy.max(), fz.max()]) >> top) + 1) << top
                )
                occ = np.zeros(dims, bool)
                occ[np.ix_(np.unique(fx), np.unique(fy), np.unique(fz))] = True
                fine_lab, res = self._resolve(prep, c0, occ)
                lab = fine_lab[np.ix_(fx, fy, fz)]
                act = np.flatnonzero(lab.reshape(-1) < 0)
                if len(act):
                    nz = ke - ks
                    ai, rem = np.divmod(act, nj * nz)
                    aj, ak = np.divmod(rem, nz)
                    dflat = (fx[ai] * dims[1] + fy[aj]) * dims[2] + fz[ak]
                    pts = _ijk_to_world(
                        (ai + i0).astype(float),
                        (aj + j0).astype(float),
                        (ak + ks).astype(float),
                        aff,
                    )
                    lab.reshape(-1)[act] = self._paint(prep, res, res["pos"][dflat], pts)
                out[i0:i1, j0:j1, ks:ke] = lab
            return out
        plane = shape[0] * shape[1]
        nk = max(1, min(shape[2], (1 << 21) // max(plane, 1)))
        ii, jj = np.meshgrid(
            np.arange(shape[0], dtype=float), np.arange(shape[1], dtype=float), indexing="ij"
        )
        ii, jj = ii.ravel(), jj.ravel()
        for k0 in range(0, shape[2], nk):
            k1 = min(k0 + nk, shape[2])
            corners = (
                _box_corners([0, 0, k0], [shape[0] - 1, shape[1] - 1, k1 - 1]) @ aff[:3, :3].T
                + aff[:3, 3]
            )
            if np.any(corners.max(0) < lo_all - 1) or np.any(corners.min(0) > hi_all + 1):
                continue
            kk = np.repeat(np.arange(k0, k1, dtype=float), plane)
            pts = _ijk_to_world(np.tile(ii, k1 - k0), np.tile(jj, k1 - k0), kk, aff)
            inb = np.all((pts >= lo_all - 1e-6) & (pts <= hi_all + 1e-6), axis=1)
            lab = np.zeros(len(pts), np.int32)
            if inb.any():
                lab[inb] = self._label_points(prep, pts[inb])
            out[:, :, k0:k1] = lab.reshape(k1 - k0, shape[0], shape[1]).transpose(1, 2, 0)
        return out

    def voxel_points(self, shape: tuple[int, int, int], affine: np.ndarray) -> np.ndarray:
        """World points of all voxel centres in C order, computed exactly as ``rasterize``
        computes them (use these with ``labels_at`` for bit-exact comparisons)."""
        aff = np.asarray(affine, float)
        ii, jj, kk = np.meshgrid(*(np.arange(s, dtype=float) for s in shape), indexing="ij")
        return _ijk_to_world(ii.ravel(), jj.ravel(), kk.ravel(), aff)

    def grid(self, spacing: float = 4.0, subject: Subject | None = None, margin_mm: float = 0.0):
        """(shape, affine) of an axis-aligned grid covering ``body_bounds`` at ``spacing`` mm."""
        lo, hi = self.body_bounds(subject)
        return grid_for_bounds(lo - margin_mm, hi + margin_mm, spacing)


def grid_for_bounds(lo, hi, spacing: float):
    """(shape, affine) of an axis-aligned RAS grid with voxel centres on multiples of spacing."""
    sp = float(spacing)
    lo = np.floor(np.asarray(lo, float) / sp) * sp
    hi = np.ceil(np.asarray(hi, float) / sp) * sp
    shape = tuple(int(v) for v in np.round((hi - lo) / sp).astype(int) + 1)
    aff = np.eye(4)
    aff[:3, :3] *= sp
    aff[:3, 3] = lo
    return shape, aff


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
        pts = idx @ aff[:3, :3].T + aff[:3, 3]
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


# --------------------------------------------------------------------------------------------
# consistency checks
#
# Each check takes (atlas, meta, data) where meta[key] = {"label", "coarse", "region"} and data
# is a CheckData (one shared rasterization); it returns rows (key, check, severity, message).


def _data(atlas, data, spacing=4.0) -> CheckData:
    return data if isinstance(data, CheckData) else CheckData(atlas, spacing)


def _fine(atlas: Atlas, meta: Mapping[str, Mapping]) -> dict[str, str]:
    """key -> label of the fine locations of ``meta`` that the atlas has."""
    return {
        k: m.get("label", k)
        for k, m in meta.items()
        if m.get("level", "fine") == "fine" and k in atlas.index
    }


def _by_label(atlas, meta) -> dict[str, str]:
    return {lab: k for k, lab in _fine(atlas, meta).items()}


def check_nonempty(atlas: Atlas, meta: Mapping, data: CheckData | None = None) -> list[tuple]:
    """ERROR for a fine location of ``meta`` without a spec, or with no voxel in the label map
    of its reference subject (male; female with L6 for the female-only and L6 locations)."""
    data = _data(atlas, data)
    rows = []
    for k, m in meta.items():
        if m.get("level", "fine") != "fine":
            continue
        if k not in atlas.index:
            rows.append((k, "atlas-nonempty", "ERROR", f"{m.get('label', k)!r} has no atlas spec"))
        elif data.facts[k]["voxels"] == 0:
            rows.append(
                (
                    k,
                    "atlas-nonempty",
                    "ERROR",
                    f"{m.get('label', k)!r} is empty in the {data.facts[k]['subject']} reference label map at {data.spacing:g} mm",
                )
            )
    return rows


def check_region_extent(atlas: Atlas, meta: Mapping, data: CheckData | None = None) -> list[tuple]:
    """ERROR if a location's centroid breaks its region's rule (frame ``checks.regions``: per
    region ``z`` [min, max] and ``abs_x`` [min, max], reference mm); labels listed in
    ``checks.region_exempt`` are skipped."""
    data = _data(atlas, data)
    cfg = atlas.frame.get("checks") or {}
    rules = cfg.get("regions") or {}
    exempt = set(cfg.get("region_exempt") or [])
    rows = []
    for k, lab in _fine(atlas, meta).items():
        reg = meta[k].get("region")
        r = rules.get(reg)
        f = data.facts.get(k) or {}
        if not r or lab in exempt or not f.get("centroid"):
            continue
        x, _y, z = f["centroid"]
        for name, val in (("z", z), ("abs_x", abs(x))):
            if name in r:
                a, b = r[name]
                if not (a <= val <= b):
                    rows.append(
                        (
                            k,
                            "atlas-region-extent",
                            "ERROR",
                            f"{lab!r} ({reg}) centroid {name} = {val:.0f} mm outside [{a}, {b}]",
                        )
                    )
    return rows


def _twin_label(label: str, labels: set[str]) -> str | None:
    m = re.fullmatch(r"Rib ([LR])(\d+)", label)
    if m:
        t = f"Rib {'R' if m.group(1) == 'L' else 'L'}{m.group(2)}"
        return t if t in labels else None
    sw = {"left": "right", "right": "left", "Left": "Right", "Right": "Left"}
    t = re.sub(r"\b(left|right|Left|Right)\b", lambda mm: sw[mm.group(1)], label)
    return t if t != label and t in labels else None


def twin_pairs(labels: Iterable[str]) -> list[tuple[str, str]]:
    """(left label, right label) of every left/right twin among ``labels``."""
    labels = set(labels)
    out = []
    for lab in sorted(labels):
        t = _twin_label(lab, labels)
        if t and (re.search(r"\b[Ll]eft\b", lab) or re.fullmatch(r"Rib L\d+", lab)):
            out.append((lab, t))
    return out


def check_mirror_twins(atlas: Atlas, meta: Mapping, data: CheckData | None = None) -> list[tuple]:
    """Left/right twins ("Left X"/"Right X", "Rib Ln"/"Rib Rn") must mirror across x = 0: the
    IoU of one with the mirror image of the other >= ``checks.mirror.iou_min`` (ERROR) and the
    mirrored centroids within ``centroid_tol_mm`` (ERROR).  Pairs whose left label is listed
    in ``checks.mirror.asymmetric`` (with the anatomical reason) need only lie on opposite
    sides (ERROR otherwise) and get an INFO row."""
    data = _data(atlas, data)
    cfg = (atlas.frame.get("checks") or {}).get("mirror") or {}
    iou_min = float(cfg.get("iou_min", 0.8))
    tol = float(cfg.get("centroid_tol_mm", 8.0))
    asym = cfg.get("asymmetric") or {}
    by_label = _by_label(atlas, meta)
    rows = []
    for a, b in twin_pairs(by_label):
        ka, kb = by_label[a], by_label[b]
        fa, fb = data.facts.get(ka) or {}, data.facts.get(kb) or {}
        if not fa.get("centroid") or not fb.get("centroid"):
            continue
        ca, cb = np.asarray(fa["centroid"]), np.asarray(fb["centroid"])
        if a in asym or b in asym:
            if np.sign(ca[0]) == np.sign(cb[0]):
                rows.append((ka, "atlas-mirror", "ERROR", f"{a!r} and {b!r} lie on the same side"))
            else:
                rows.append(
                    (
                        ka,
                        "atlas-mirror",
                        "INFO",
                        f"{a!r}/{b!r} asymmetric by design: {asym.get(a) or asym.get(b)}",
                    )
                )
            continue
        lab, _aff = data.label_map(fa.get("subject", "male"))
        ma = lab == atlas.index[ka]
        mb = lab[::-1] == atlas.index[kb]
        inter = int(np.count_nonzero(ma & mb))
        union = int(np.count_nonzero(ma | mb))
        iou = inter / union if union else 0.0
        dc = float(np.linalg.norm(ca - cb * np.array([-1, 1, 1])))
        if iou < iou_min:
            rows.append(
                (ka, "atlas-mirror", "ERROR", f"{a!r} vs mirrored {b!r}: IoU {iou:.2f} < {iou_min}")
            )
        if dc > tol:
            rows.append(
                (
                    ka,
                    "atlas-mirror",
                    "ERROR",
                    f"{a!r} vs mirrored {b!r}: centroids {dc:.1f} mm apart > {tol}",
                )
            )
    return rows


def _series(by_label, names):
    return [(n, by_label[n]) for n in names if n in by_label]


def check_vertebra_order(atlas: Atlas, meta: Mapping, data: CheckData | None = None) -> list[tuple]:
    """ERROR unless C1 ... C7, T1 ... T12, L1 ... L6, Sacrum, Coccyx run head to foot by
    centroid z (L6 and the sacrum compared in the female+L6 reference when needed)."""
    data = _data(atlas, data)
    by_label = _by_label(atlas, meta)
    names = [f"Vertebra C{i}" for i in range(1, 8)] + [f"Vertebra T{i}" for i in range(1, 13)]
    names += [f"Vertebra L{i}" for i in range(1, 7)] + ["Sacrum", "Coccyx"]
    ser = [(n, k) for n, k in _series(by_label, names) if data.facts.get(k, {}).get("centroid")]
    rows = []
    for (n1, k1), (n2, k2) in pairwise(ser):
        z1, z2 = data.facts[k1]["centroid"][2], data.facts[k2]["centroid"][2]
        if not z1 > z2:
            rows.append(
                (
                    k2,
                    "atlas-vertebra-order",
                    "ERROR",
                    f"{n2!r} (z {z2:.0f}) is not below {n1!r} (z {z1:.0f})",
                )
            )
    return rows


def check_rib_order(atlas: Atlas, meta: Mapping, data: CheckData | None = None) -> list[tuple]:
    """ERROR unless ribs 1 ... 12 of each side run head to foot both by the z of their
    posterior end (``posterior_z``) and by centroid z."""
    data = _data(atlas, data)
    by_label = _by_label(atlas, meta)
    rows = []
    for side in "LR":
        ser = [
            (n, k)
            for n, k in _series(by_label, [f"Rib {side}{i}" for i in range(1, 13)])
            if data.facts.get(k, {}).get("centroid")
        ]
        for (n1, k1), (n2, k2) in pairwise(ser):
            f1, f2 = data.facts[k1], data.facts[k2]
            for what, v1, v2 in (
                ("posterior end", f1["posterior_z"], f2["posterior_z"]),
                ("centroid", f1["centroid"][2], f2["centroid"][2]),
            ):
                if not v1 > v2:
                    rows.append(
                        (
                            k2,
                            "atlas-rib-order",
                            "ERROR",
                            f"{n2!r} {what} z {v2:.0f} is not below {n1!r} ({v1:.0f})",
                        )
                    )
    return rows


def _stat(facts, keys, stat, axis):
    ax = "xyz".index(axis)
    fs = [facts[k] for k in keys if (facts.get(k) or {}).get("voxels")]
    if not fs:
        return None
    if stat == "centroid":
        w = np.array([f["voxels"] for f in fs], float)
        c = np.array([f["centroid"][ax] for f in fs], float)
        return float((w * c).sum() / w.sum())
    if stat == "min":
        return float(min(f["bbox"][0][ax] for f in fs))
    if stat == "max":
        return float(max(f["bbox"][1][ax] for f in fs))
    raise ValueError(f"unknown stat {stat!r}")


def check_organ_rules(atlas: Atlas, meta: Mapping, data: CheckData | None = None) -> list[tuple]:
    """ERROR for each broken rule of frame ``checks.rules``.  A rule ``{"name", "a": [labels],
    "stat": centroid|min|max, "axis": x|y|z, "op": "<"|">", "b": [labels] | number,
    "stat_b": ...}`` compares the statistic of the union of ``a`` (voxel-weighted centroid, or
    the bbox min / max) with that of ``b`` or with a number (reference mm)."""
    data = _data(atlas, data)
    by_label = _by_label(atlas, meta)
    rows = []
    for r in (atlas.frame.get("checks") or {}).get("rules") or []:
        ka = [by_label[x] for x in r["a"] if x in by_label]
        if not ka:
            continue
        va = _stat(data.facts, ka, r.get("stat", "centroid"), r["axis"])
        if isinstance(r["b"], (int, float)):
            vb = float(r["b"])
        else:
            kb = [by_label[x] for x in r["b"] if x in by_label]
            if not kb:
                continue
            vb = _stat(data.facts, kb, r.get("stat_b", r.get("stat", "centroid")), r["axis"])
        if va is None or vb is None:
            continue
        ok = va < vb if r["op"] == "<" else va > vb
        if not ok:
            rows.append(
                (
                    ka[0],
                    "atlas-organ-rule",
                    "ERROR",
                    f"rule {r['name']!r} broken: {va:.0f} {r['op']} {vb:.0f} is false",
                )
            )
    return rows


def check_outside_body(atlas: Atlas, meta: Mapping, data: CheckData | None = None) -> list[tuple]:
    """'Outside the body' (frame ``checks.outside``) must lie outside the skin (the frame aux
    ``checks.skin_aux``): any of its voxels inside is an ERROR.  Every other location must lie
    inside: voxels more than half a voxel outside the skin are an ERROR above 1 % of the
    location's voxels and a WARN below.  Only voxels within 3 voxels of the air are tested
    (anything poking out of the skin is there)."""
    from scipy import ndimage

    data = _data(atlas, data)
    cfg = atlas.frame.get("checks") or {}
    skin = cfg.get("skin_aux", "body")
    by_label = _by_label(atlas, meta)
    ko = by_label.get(cfg.get("outside", "Outside the body"))
    io = atlas.index.get(ko, -1) if ko else -1
    lab = data.lab.astype(np.int32)
    air = (lab == 0) | (lab == io)
    near = ndimage.binary_dilation(air, iterations=3) & ~air
    rows = []
    half = data.spacing * 0.5
    # the air layer next to the body must be outside the skin
    if io > 0:
        rim = (lab == io) & ndimage.binary_dilation(~air, iterations=1)
        idx = np.argwhere(rim)
        if len(idx):
            pts = idx @ data.aff[:3, :3].T + data.aff[:3, 3]
            bad = int(np.count_nonzero(atlas.aux_sdf(skin, pts, data.male) < 0))
            if bad:
                rows.append(
                    (
                        ko,
                        "atlas-outside-body",
                        "ERROR",
                        f"{bad} voxels of {atlas.keys[io - 1]!r} lie inside the skin",
                    )
                )
    idx = np.argwhere(near)
    if len(idx):
        pts = idx @ data.aff[:3, :3].T + data.aff[:3, 3]
        d = atlas.aux_sdf(skin, pts, data.male)
        lv = lab[tuple(idx.T)]
        out = d > half
        counts = np.bincount(lv[out], minlength=len(atlas.keys) + 1)
        for k in _fine(atlas, meta):
            i = atlas.index[k]
            if i == io or counts[i] == 0:
                continue
            tot = (
                max(int(data.facts[k]["voxels"]), 1)
                if data.facts[k]["subject"] == "male"
                else max(int(np.count_nonzero(lab == i)), 1)
            )
            frac = counts[i] / tot
            sev = "ERROR" if frac > 0.01 else "WARN"
            rows.append(
                (
                    k,
                    "atlas-outside-body",
                    sev,
                    f"{int(counts[i])} voxels ({frac:.1%}) of {meta[k].get('label', k)!r} lie outside the skin",
                )
            )
    return rows


def check_body_closure(atlas: Atlas, meta: Mapping, data: CheckData | None = None) -> list[tuple]:
    """The air layer must wrap the body: a body voxel (not 'Outside the body') face-adjacent
    to background is an ERROR; background enclosed by the body (holes: voxels inside the skin
    that no location claims) is a WARN above ``checks.max_holes`` (fraction of the body
    voxels, default 0.002) and an INFO row otherwise."""
    from scipy import ndimage

    data = _data(atlas, data)
    cfg = atlas.frame.get("checks") or {}
    skin = cfg.get("skin_aux", "body")
    by_label = _by_label(atlas, meta)
    ko = by_label.get(cfg.get("outside", "Outside the body"))
    io = atlas.index.get(ko, -1) if ko else -1
    lab = data.lab.astype(np.int32)
    body = (lab > 0) & (lab != io)
    bg = lab == 0
    rows = []
    leak: dict[int, int] = {}
    for ax in range(3):
        a = np.moveaxis(body, ax, 0)
        b = np.moveaxis(bg, ax, 0)
        la = np.moveaxis(lab, ax, 0)
        for m, l_ in ((a[:-1] & b[1:], la[:-1]), (a[1:] & b[:-1], la[1:])):
            if m.any():
                for v, c in zip(*np.unique(l_[m], return_counts=True), strict=True):
                    leak[int(v)] = leak.get(int(v), 0) + int(c)
    for v, c in sorted(leak.items()):
        k = atlas.keys[v - 1]
        rows.append(
            (
                k,
                "atlas-body-closure",
                "ERROR",
                f"{meta.get(k, {}).get('label', k)!r} touches background at {c} voxel faces (no air layer)",
            )
        )
    comp, _n = ndimage.label(bg)
    border = set(
        np.unique(
            np.concatenate(
                [
                    comp[0].ravel(),
                    comp[-1].ravel(),
                    comp[:, 0].ravel(),
                    comp[:, -1].ravel(),
                    comp[:, :, 0].ravel(),
                    comp[:, :, -1].ravel(),
                ]
            )
        ).tolist()
    )
    enclosed = (comp > 0) & ~np.isin(comp, list(border))
    holes = 0
    idx = np.argwhere(enclosed)
    if len(idx):
        pts = idx @ data.aff[:3, :3].T + data.aff[:3, 3]
        holes = int(np.count_nonzero(atlas.aux_sdf(skin, pts, data.male) < 0))
    total = int(np.count_nonzero(body))
    frac = holes / max(total, 1)
    lim = float(cfg.get("max_holes", 0.002))
    rows.append(
        (
            "",
            "atlas-coverage",
            "WARN" if frac > lim else "INFO",
            f"{holes} unlabelled voxels inside the skin ({frac:.3%} of {total} body voxels)",
        )
    )
    return rows


def check_neighbours(atlas: Atlas, meta: Mapping, data: CheckData | None = None) -> list[tuple]:
    """WARN when a 'Near X', 'Around the X', 'Spinous process of vertebra X' or 'Renal fascia
    of the X kidney' location does not touch X (or, for 'Around the liver', any 'Liver ...'
    location) in the label map."""
    data = _data(atlas, data)
    by_label = _by_label(atlas, meta)
    rows = []
    for lab, k in sorted(by_label.items()):
        target = None
        for pat, rep in (
            (r"Near (.+)", r"\1"),
            (r"Around the (.+)", r"\1"),
            (r"Spinous process of vertebra (.+)", r"Vertebra \1"),
            (r"Renal fascia of (left|right) kidney", None),
        ):
            m = re.fullmatch(pat, lab)
            if m:
                target = m.expand(rep) if rep else f"{m.group(1).capitalize()} kidney"
                break
        if not target:
            continue
        cands = [t for t in {target, target[0].upper() + target[1:]} if t in by_label]
        if not cands:
            cands = sorted(x for x in by_label if x.lower().startswith(target.lower()))
        if not cands or not data.facts.get(k, {}).get("voxels"):
            continue
        if not any(by_label[c] in data.facts[k]["touches"] for c in cands):
            rows.append((k, "atlas-neighbour", "WARN", f"{lab!r} does not touch {cands[0]!r}"))
    return rows


CHECKS = {
    "atlas-nonempty": check_nonempty,
    "atlas-region-extent": check_region_extent,
    "atlas-mirror": check_mirror_twins,
    "atlas-vertebra-order": check_vertebra_order,
    "atlas-rib-order": check_rib_order,
    "atlas-organ-rule": check_organ_rules,
    "atlas-outside-body": check_outside_body,
    "atlas-body-closure": check_body_closure,
    "atlas-neighbour": check_neighbours,
}


def run_checks(
    atlas: Atlas, meta: Mapping[str, Mapping], spacing: float = 4.0, data: CheckData | None = None
) -> list[tuple]:
    """Run every check of :data:`CHECKS` on one shared rasterization (:class:`CheckData`);
    returns rows (key, check, severity, message)."""
    data = data if data is not None else CheckData(atlas, spacing)
    rows = []
    for fn in CHECKS.values():
        rows += fn(atlas, meta, data)
    return rows
