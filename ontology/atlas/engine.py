"""The compiled atlas: :class:`Atlas` evaluates labels, shapes and bounding boxes for any
subject, and rasterizes label maps; :func:`grid_for_bounds` makes an axis-aligned grid.

Labels are decided pointwise (``rasterize(shape, affine)[ijk] == labels_at(affine @ ijk)``
exactly): the voxel centres are computed elementwise in a fixed order, never through BLAS,
and culling by bounding boxes only skips points whose answer it already knows.
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np

from .compiler import _walk, validate_specs
from .context import _AuxDef, _Ctx, _Loc, _PartDef, _Prepared, _Shared
from .geom import F32, _box_corners, _ijk_to_world
from .shapes import SpecError
from .subject import Subject

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
        from nibabel.affines import apply_affine, from_matvec

        p = self._prep(subject)
        pts = np.asarray(points_mm, float).reshape(-1, 3)
        return apply_affine(from_matvec(p.world_to_body_a, p.world_to_body_b), pts)

    def reference_to_world(
        self, points_mm: np.ndarray, subject: Subject | None = None
    ) -> np.ndarray:
        from nibabel.affines import apply_affine, from_matvec

        p = self._prep(subject)
        pts = np.asarray(points_mm, float).reshape(-1, 3)
        return apply_affine(from_matvec(p.body_to_world_a, p.body_to_world_b), pts)

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
        from nibabel.affines import apply_affine

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
            corners = apply_affine(
                aff, _box_corners([0, 0, k0], [shape[0] - 1, shape[1] - 1, k1 - 1])
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
