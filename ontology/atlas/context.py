"""The engine's per-subject and per-evaluation state (internal to the atlas package).

* ``_Group``: the affine map of one body part (group) between body and local frames;
* ``_Prepared``: everything that depends on the subject (transforms, bounding boxes);
* ``_Shared``/``_Ctx``: values shared between the locations evaluated at the same points,
  the culling gates and the memo of ``ref``/``aux``/``cell`` values;
* ``_Loc``/``_AuxDef``/``_PartDef``: the compiled location specs, frame shapes and
  partitions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from .compiler import _compile
from .geom import (
    CLAMP,
    F32,
    _apply_affine_xyz,
    _axis_angle,
    _empty_box,
    _is_empty,
    _rotmat,
    _xf_bbox,
)
from .shapes import SpecError

if TYPE_CHECKING:
    from .engine import Atlas
    from .shapes import _Node
    from .subject import Subject


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
