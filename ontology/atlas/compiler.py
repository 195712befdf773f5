"""From JSON specs to shape nodes: the compiler (``_compile``), walking a compiled tree, the
reference helpers (:func:`collect_refs`, :func:`rewrite_refs`) and the schema check of a
whole atlas (:func:`validate_specs`, which also rejects reference cycles).

The check returns every problem as a message instead of raising at the first, so that
``anatloc ontology validate`` can list them all; :class:`.engine.Atlas` raises
:class:`.shapes.SpecError` with the first ten.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .operators import (
    _Aux,
    _Cell,
    _Intersect,
    _Offset,
    _Ref,
    _Shell,
    _Subtract,
    _Switch,
    _Union,
    _Within,
)
from .shapes import (
    SpecError,
    _Box,
    _Capsule,
    _Cylinder,
    _Ellipsoid,
    _Halfspace,
    _Loft,
    _Sheet,
    _short,
    _Sphere,
)

if TYPE_CHECKING:
    from .shapes import _Node

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


class _Names(NamedTuple):
    """What a spec may name: the locations, and the frame's aux shapes, partitions, groups."""

    specs: Mapping[str, Mapping]
    aux: Mapping[str, Any]
    parts: Mapping[str, Any]
    groups: Mapping[str, Any]


def validate_specs(frame: Mapping, specs: Mapping[str, Mapping]) -> list[str]:
    """Schema errors of a frame + specs: unknown shape or operator, missing or malformed field,
    unknown reference / aux / partition / cell / group, reference cycle, aux that references a
    location.  Returns human-readable messages; an empty list means the atlas compiles."""
    aux = frame.get("aux", {}) or {}
    parts = frame.get("partitions", {}) or {}
    names = _Names(specs, aux, parts, frame.get("groups", {}) or {})
    errs: list[str] = []
    for name, a in aux.items():
        errs += _aux_errors(name, a, names)
    for name, pdef in parts.items():
        errs += _partition_errors(name, pdef, names)
    aux_deps = {
        n: collect_refs(a.get("shape", {}))[1] for n, a in aux.items() if isinstance(a, dict)
    }
    for n, p in parts.items():
        if isinstance(p, dict):
            aux_deps[f"partition:{n}"] = collect_refs(p.get("container", {}))[1]
    errs += [f"aux cycle: {' -> '.join(c)}" for c in _cycles(aux_deps)]
    for key, spec in specs.items():
        errs += _location_errors(key, spec, names)
    deps = {k: collect_refs(s.get("shape", {}))[0] for k, s in specs.items() if isinstance(s, dict)}
    errs += [f"reference cycle: {' -> '.join(c)}" for c in _cycles(deps)]
    return errs


def _shape_errors(where: str, shape: Any, allow_refs: bool, names: _Names) -> list[str]:
    try:
        _compile(shape, [])
    except SpecError as e:
        return [f"{where}: {e}"]
    errs = []
    r, a, pt = collect_refs(shape)
    for k in sorted(r):
        if not allow_refs:
            errs.append(f"{where}: frame shapes may not reference locations ({k!r})")
        elif k not in names.specs:
            errs.append(f"{where}: unknown reference {k!r}")
    errs += [f"{where}: unknown aux shape {k!r}" for k in sorted(a) if k not in names.aux]
    errs += [f"{where}: unknown partition {k!r}" for k in sorted(pt) if k not in names.parts]
    errs += [f"{where}: {e}" for e in _cell_errors(shape, names.parts)]
    return errs


def _cell_errors(x: Any, parts: Mapping[str, Any]) -> Iterator[str]:
    """Cells of known partitions that the partition does not seed, in document order."""
    if isinstance(x, dict):
        part = x.get("partition")
        if (
            x.get("op") == "cell"
            and part in parts
            and str(x.get("cell")) not in (parts[part].get("seeds") or {})
        ):
            yield f"unknown cell {x.get('cell')!r} of partition {part!r}"
        for v in x.values():
            yield from _cell_errors(v, parts)
    elif isinstance(x, list):
        for v in x:
            yield from _cell_errors(v, parts)


def _aux_errors(name: str, a: Any, names: _Names) -> list[str]:
    if not isinstance(a, dict) or "shape" not in a:
        return [f"aux {name!r}: needs a 'shape'"]
    errs = _shape_errors(f"aux {name!r}", a["shape"], False, names)
    if a.get("group") and a["group"] not in names.groups:
        errs.append(f"aux {name!r}: unknown group {a['group']!r}")
    return errs


def _partition_errors(name: str, pdef: Any, names: _Names) -> list[str]:
    if not isinstance(pdef, dict) or "container" not in pdef or not pdef.get("seeds"):
        return [f"partition {name!r}: needs 'container' and 'seeds'"]
    errs = _shape_errors(f"partition {name!r}", pdef["container"], False, names)
    for cell, pts in pdef["seeds"].items():
        try:
            arr = np.asarray(pts, float)
        except (TypeError, ValueError):
            arr = np.zeros((0,))
        if arr.ndim != 2 or arr.shape[1] != 3 or len(arr) == 0:
            errs.append(f"partition {name!r}: seeds of {cell!r} must be a list of [x, y, z]")
    if pdef.get("group") and pdef["group"] not in names.groups:
        errs.append(f"partition {name!r}: unknown group {pdef['group']!r}")
    return errs


def _location_errors(key: str, spec: Any, names: _Names) -> list[str]:
    where = f"location {key!r}"
    if not isinstance(spec, dict):
        return [f"{where}: spec must be an object"]
    if "shape" not in spec:
        return [f"{where}: missing field 'shape'"]
    errs = []
    if "priority" not in spec or not isinstance(spec["priority"], (int, float)):
        errs.append(f"{where}: missing or non-numeric 'priority'")
    if spec.get("sex") not in (None, "male", "female"):
        errs.append(f"{where}: sex must be 'male' or 'female'")
    if spec.get("variant") not in (None, "l6"):
        errs.append(f"{where}: unknown variant {spec.get('variant')!r}")
    if spec.get("group") and spec["group"] not in names.groups:
        errs.append(f"{where}: unknown group {spec['group']!r}")
    return errs + _shape_errors(where, spec["shape"], True, names)


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
