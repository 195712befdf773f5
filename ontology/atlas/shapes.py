"""The atlas's shape language, primitives: its names (shape types, operators), the node base
class and the node classes of the eight primitive shapes (sphere, ellipsoid, box, capsule,
cylinder, loft, halfspace, sheet).

Every node evaluates an approximate signed distance in millimetres (negative inside) on
float32 component arrays, in a fixed order of operations so that a point's value never
depends on the other points evaluated with it.  ``_req``/``_short`` read spec fields and
format them for :class:`SpecError`.  The operator nodes are in :mod:`.operators`; turning
JSON into nodes is :mod:`.compiler`; the numeric helpers are in :mod:`.geom`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from .geom import _EPS, _INF, F32, _combine_box, _ellipse2d, _f32col, _rotmat

if TYPE_CHECKING:
    from .context import _Ctx, _Group, _Prepared
    from .engine import Atlas

SHAPE_TYPES = ("sphere", "ellipsoid", "box", "capsule", "cylinder", "loft", "halfspace", "sheet")
OPS = ("union", "intersect", "subtract", "within", "shell", "offset", "cell", "switch")
SEVERITIES = ("ERROR", "WARN", "INFO")
SWITCH_ON = ("sex", "arms", "l6")


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
