"""The atlas's shape language, operators: union, intersect, within, subtract, shell, offset,
cell, switch, and the two references (``ref`` to another location, ``aux`` to a frame shape).

Each operator node is built from its JSON object and a ``compile_`` callback for its
children (given by :func:`.compiler._compile`), so this module does not import the compiler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .geom import _INF, CLAMP, F32, _empty_box, _is_empty
from .shapes import SWITCH_ON, SpecError, _cost, _ev_on, _Node, _req

if TYPE_CHECKING:
    from .subject import Subject


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
