"""Facts derived from the atlas geometry, regenerated deterministically.

``anatloc ontology derive --write`` (and the build of the shipped ontology) rasterizes the
atlas at 4 mm in the reference subject and writes, for every term:

* numeric facts: centroid, bounding box (voxel centres, mm) and volume (ml); a coarse
  location or region gets those of the union of its fine locations;
* ``touches``: the fine locations whose label maps share a face;
* one positional relation per touching pair, along the axis where their centroids differ
  most (at least :data:`MIN_OFFSET_MM`): ``superior_to``/``inferior_to``,
  ``anterior_to``/``posterior_to``, or ``medial_to``/``lateral_to`` (same side only);
* ``at_level_of``: for trunk locations (neck, chest, abdomen, pelvis, axial skeleton), the
  vertebra whose craniocaudal extent holds the centroid.

Curated relations are never touched; every derived relation is replaced as a whole, so the
result depends only on the geometry.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from . import vocab
from .model import Ontology

DERIVER = "anatloc-derive/1 (atlas rasterized at 4 mm, reference subject)"
SPACING_MM = 4.0
MIN_OFFSET_MM = 8.0
TRUNK_REGIONS = {"Neck", "Chest", "Abdomen", "Pelvis", "Axial skeleton"}
_VERTEBRA_RE = re.compile(r"^Vertebra [CTL]\d+$")


def _fact_values(f: dict) -> dict[str, float]:
    (x0, y0, z0), (x1, y1, z1) = f["bbox"]
    cx, cy, cz = f["centroid"]
    return {
        "centroidX": cx,
        "centroidY": cy,
        "centroidZ": cz,
        "minX": x0,
        "minY": y0,
        "minZ": z0,
        "maxX": x1,
        "maxY": y1,
        "maxZ": z1,
        "volumeMl": f["volume_ml"],
    }


def _round(values: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 1) + 0.0 for k, v in values.items()}


def positional(ca: np.ndarray, cb: np.ndarray) -> str | None:
    """The relation of a to b along their dominant axis, or None when too close to call."""
    dz = ca[2] - cb[2]
    dy = ca[1] - cb[1]
    same_side = (ca[0] * cb[0] > 0) or (abs(ca[0]) < 1.0 and abs(cb[0]) < 1.0)
    dlat = abs(ca[0]) - abs(cb[0]) if same_side else 0.0
    axis = int(np.argmax([abs(dz), abs(dy), abs(dlat)]))
    size = [abs(dz), abs(dy), abs(dlat)][axis]
    if size < MIN_OFFSET_MM:
        return None
    if axis == 0:
        return "superior_to" if dz > 0 else "inferior_to"
    if axis == 1:
        return "anterior_to" if dy > 0 else "posterior_to"
    return "lateral_to" if dlat > 0 else "medial_to"


def derive(ont: Ontology, facts: dict | None = None) -> int:
    """Recompute every derived fact in place; returns the number of terms that changed."""
    from .geometry import check_data_for

    if facts is None:
        facts = check_data_for(ont, SPACING_MM).facts
    present = {k: f for k, f in facts.items() if f.get("voxels")}
    new_facts: dict[str, dict[str, float]] = {
        k: _round(_fact_values(f)) for k, f in present.items()
    }
    derived: dict[str, dict[str, set[str]]] = {
        t.curie: {n: set() for n in vocab.DERIVED_RELATIONS} for t in ont
    }
    centroid = {k: np.asarray(f["centroid"], float) for k, f in present.items()}
    for a, f in present.items():
        for b in f.get("touches", ()):
            if b not in present or b == a:
                continue
            # both directions: sex-specific locations come from another reference subject
            derived[a]["touches"].add(b)
            derived[b]["touches"].add(a)
            rel = positional(centroid[a], centroid[b])
            if rel is not None:
                derived[a][rel].add(b)
                derived[b][vocab.RELATIONS[rel].inverse].add(a)
    vertebrae = [t for t in ont.terms("fine") if _VERTEBRA_RE.match(t.label) and t.curie in present]
    for t in ont.terms("fine"):
        if t.curie not in present or _VERTEBRA_RE.match(t.label):
            continue
        if ont.region_of(t).label not in TRUNK_REGIONS:
            continue
        z = centroid[t.curie][2]
        hits = [
            v for v in vertebrae if new_facts[v.curie]["minZ"] <= z <= new_facts[v.curie]["maxZ"]
        ]
        if hits:
            best = min(hits, key=lambda v: (abs(new_facts[v.curie]["centroidZ"] - z), v.curie))
            derived[t.curie]["at_level_of"].add(best.curie)
    # coarse locations and regions: the union of their fine locations
    for level in ("coarse", "region"):
        for t in ont.terms(level):
            leaves = [
                d.curie for d in ont.descendants(t) if d.level == "fine" and d.curie in new_facts
            ]
            if not leaves:
                continue
            fs = [new_facts[c] for c in leaves]
            vol = sum(f["volumeMl"] for f in fs)
            w = np.array([max(f["volumeMl"], 1e-9) for f in fs])
            cen = {
                ax: float(np.average([f[f"centroid{ax}"] for f in fs], weights=w)) for ax in "XYZ"
            }
            union = {
                **{f"centroid{ax}": cen[ax] for ax in "XYZ"},
                **{f"min{ax}": min(f[f"min{ax}"] for f in fs) for ax in "XYZ"},
                **{f"max{ax}": max(f[f"max{ax}"] for f in fs) for ax in "XYZ"},
                "volumeMl": vol,
            }
            new_facts[t.curie] = _round(union)
    changed = 0
    terms = []
    for t in ont:
        rel = {k: v for k, v in t.relations.items() if not vocab.RELATIONS[k].derived}
        rel.update({k: tuple(sorted(v)) for k, v in derived[t.curie].items() if v})
        new = dataclasses.replace(t, facts=new_facts.get(t.curie, {}), relations=rel)
        changed += (dict(new.facts) != dict(t.facts)) or (
            {k: tuple(sorted(v)) for k, v in new.relations.items()} != dict(t.relations)
        )
        terms.append(new)
    meta = dataclasses.replace(ont.meta, derivation=DERIVER)
    ont.replace_with(Ontology(terms, meta, foreign=ont.foreign))
    return changed
