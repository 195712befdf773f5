"""The atlas of an ontology: its fine locations' geometry compiled into an :class:`Atlas`.

The geometry lives in the ontology (``anatloc:atlasGeometry`` on fine terms, the frame of
auxiliary shapes in the header's ``anatloc:atlasFrame``); this module is the one place that
turns it into the engine of :mod:`anatloc.ontology.atlas`, so the phantom, the checks and the
derived facts all see the same body.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict

from .errors import DataError
from .model import Ontology

_CACHE: OrderedDict[tuple, object] = OrderedDict()


def frame_of(ont: Ontology) -> dict:
    if not ont.meta.atlas_frame:
        return {}
    try:
        return json.loads(ont.meta.atlas_frame)
    except json.JSONDecodeError as exc:
        raise DataError(f"the ontology's atlas frame is not valid JSON ({exc.msg})") from None


def specs_of(ont: Ontology) -> dict[str, dict]:
    """CURIE -> geometry spec of every fine term that has one, in CURIE order."""
    return {t.curie: t.geometry_spec() for t in ont.terms("fine") if t.geometry}


def spec_errors(ont: Ontology) -> list[str]:
    """Schema errors of the stored geometry (empty when the atlas compiles)."""
    from . import atlas

    specs = specs_of(ont)
    if not specs:
        return []
    return atlas.validate_specs(frame_of(ont), specs)


def has_atlas(ont: Ontology) -> bool:
    return bool(ont.meta.atlas_frame) and any(t.geometry for t in ont.terms("fine"))


def geometry_key(ont: Ontology) -> str:
    """A hash of the geometry alone (frame and specs): edits of words do not change it."""
    h = hashlib.sha256(ont.meta.atlas_frame.encode("utf-8"))
    for t in ont.terms("fine"):
        if t.geometry:
            h.update(f"\n{t.curie}\t{t.geometry}".encode())
    return h.hexdigest()


def _cached(key: tuple, make):
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    value = make()
    _CACHE[key] = value
    while len(_CACHE) > 6:
        _CACHE.popitem(last=False)
    return value


def atlas_for(ont: Ontology):
    """The compiled :class:`~anatloc.ontology.atlas.Atlas` of ``ont`` (cached by geometry).

    Keys are fine CURIEs in CURIE order (only those with geometry); label ``i + 1`` in a
    label map is ``atlas.keys[i]``.
    """
    return _cached(("atlas", geometry_key(ont)), lambda: _compile(ont))


def check_data_for(ont: Ontology, spacing: float = 4.0):
    """The reference-subject rasterization that the checks and derived facts share."""
    from . import atlas

    return _cached(
        ("data", geometry_key(ont), spacing), lambda: atlas.CheckData(atlas_for(ont), spacing)
    )


def _compile(ont: Ontology):
    from . import atlas

    if not has_atlas(ont):
        raise DataError("this ontology has no atlas geometry (see docs/atlas.md)")
    specs = specs_of(ont)
    try:
        return atlas.Atlas(frame_of(ont), specs, order=list(specs))
    except atlas.SpecError as exc:
        raise DataError(f"the ontology's atlas geometry does not compile: {exc}") from None


def meta_for(ont: Ontology) -> dict[str, dict]:
    """What the atlas checks need to know about each fine key."""
    out = {}
    for t in ont.terms("fine"):
        coarse = ont.coarse_of(t)
        region = ont.region_of(t)
        out[t.curie] = {
            "label": t.label,
            "coarse": coarse.label if coarse else "",
            "region": region.label if region else "",
            "laterality": t.laterality,
            "contralateral_to": list(t.relations.get("contralateral_to", ())),
            "tissue": t.tissue,
        }
    return out
