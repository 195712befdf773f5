"""A toy whole-body atlas (26 locations) for fast, self-contained phantom tests.

The shapes use the atlas language of ``anatloc.ontology.atlas`` in its reference frame (RAS mm,
soles at z = 0, a 1750 mm man lying with the arms at his sides).  The locations carry real
labels of the shipped ontology, so :func:`toy_ontology` can keep those terms (with their
coarse parents and regions) and attach the geometry and the frame, exactly as the shipped
ontology will carry the full atlas.
"""

from __future__ import annotations

import dataclasses

from anatloc.ontology import Ontology, load_ontology
from anatloc.ontology.atlas import rewrite_refs
from anatloc.ontology.model import OntologyMeta, canonical_json


def _ell(c, r, rot=None):
    d = {"type": "ellipsoid", "center": c, "radii": r}
    if rot:
        d["rotate"] = rot
    return d


def _cap(path, r):
    return {"type": "capsule", "path": path, "radius": r}


FRAME = {
    "reference_height_mm": 1750,
    "table_center_z_mm": 900,
    "girth_fat_mm": 15,
    "aux": {
        "head": {"shape": _ell([0, 20, 1640], [78, 98, 112])},
        "neck": {
            "shape": {"type": "cylinder", "p0": [0, 10, 1450], "p1": [0, 10, 1560], "radius": 56}
        },
        "torso": {
            "shape": {
                "type": "loft",
                "sections": [
                    [860, 0, 20, 165, 105],
                    [1100, 0, 30, 150, 110],
                    [1300, 0, 20, 165, 115],
                    [1440, 0, 10, 175, 90],
                    [1480, 0, 10, 90, 60],
                ],
            },
            "grow": 1.0,
        },
        "leg_L": {
            "shape": _cap([[-88, 20, 900], [-90, 20, 480], [-90, 10, 70]], [86, 55, 40]),
            "grow": 1.0,
        },
        "leg_R": {
            "shape": _cap([[88, 20, 900], [90, 20, 480], [90, 10, 70]], [86, 55, 40]),
            "grow": 1.0,
        },
        "arm_L": {
            "shape": _cap([[-212, 0, 1400], [-228, 0, 1100], [-232, 10, 800]], [46, 38, 30]),
            "group": "arm_L",
            "grow": 0.5,
        },
        "arm_R": {
            "shape": _cap([[212, 0, 1400], [228, 0, 1100], [232, 10, 800]], [46, 38, 30]),
            "group": "arm_R",
            "grow": 0.5,
        },
        "body": {
            "shape": {
                "op": "union",
                "of": [
                    {"aux": n}
                    for n in ("head", "neck", "torso", "leg_L", "leg_R", "arm_L", "arm_R")
                ],
            }
        },
    },
    "groups": {
        "arm_L": {"anchor": [-205, 0, 1405], "jitter": {"shift_mm": [6, 6, 6], "scale": 0.03}},
        "arm_R": {"anchor": [205, 0, 1405], "jitter": {"shift_mm": [6, 6, 6], "scale": 0.03}},
        "liver": {"anchor": [70, 10, 1180], "jitter": {"shift_mm": [8, 8, 14], "scale": 0.08}},
    },
    "poses": {
        "arms_up": {
            "arm_L": {"axis": [0, 1, 0], "deg": 172, "center": [-205, 0, 1405]},
            "arm_R": {"axis": [0, 1, 0], "deg": -172, "center": [205, 0, 1405]},
        }
    },
    "checks": {"skin_aux": "body", "outside": "Outside the body"},
}

_TORSO = {"aux": "torso"}
LOCATIONS: dict[str, dict] = {
    "Outside the body": {
        "shape": {"op": "shell", "of": {"aux": "body"}, "thickness": 12, "side": "outer"},
        "priority": 0,
    },
    "Abdominal cavity": {"shape": _TORSO, "priority": 1},
    "Left abdominal subcutaneous tissue": {
        "shape": {"op": "shell", "of": _TORSO, "thickness": 14, "side": "inner"},
        "priority": 3,
    },
    "Left neck": {"shape": {"aux": "neck"}, "priority": 1},
    "Skull": {"shape": {"aux": "head"}, "priority": 5},
    "Brain": {"shape": _ell([0, 22, 1652], [62, 80, 76]), "priority": 10},
    "Heart": {"shape": _ell([10, 50, 1290], [55, 45, 60], [0, 0, 30]), "priority": 10},
    "Right upper lobe apex segment": {"shape": _ell([88, 5, 1320], [66, 78, 110]), "priority": 8},
    "Left upper lobe anterior segment": {
        "shape": _ell([-88, 5, 1320], [66, 78, 110]),
        "priority": 8,
    },
    "Liver S7": {"shape": _ell([70, 10, 1180], [100, 80, 70]), "priority": 9, "group": "liver"},
    "Spleen": {"shape": _ell([-95, -20, 1175], [40, 30, 55]), "priority": 9},
    "Left kidney": {"shape": _ell([-70, -45, 1110], [30, 25, 55]), "priority": 9},
    "Right kidney": {"shape": _ell([70, -45, 1095], [30, 25, 55]), "priority": 9},
    "Bladder": {"shape": _ell([0, 50, 935], [45, 35, 35]), "priority": 9},
    "Vertebra L1": {
        "shape": {"type": "box", "center": [0, 0, 1144], "size": [44, 32, 28]},
        "priority": 12,
    },
    "Vertebra L2": {
        "shape": {"type": "box", "center": [0, 6, 1111], "size": [44, 32, 28]},
        "priority": 12,
    },
    "Rib L7": {
        "shape": _cap(
            [[-30, -40, 1250], [-120, -20, 1240], [-152, 40, 1220], [-100, 100, 1200]], 7
        ),
        "priority": 12,
    },
    "Abdominal aorta": {"shape": _cap([[-15, 30, 1200], [-10, 35, 1000]], 11), "priority": 11},
    "Left thigh muscle": {"shape": {"aux": "leg_L"}, "priority": 1},
    "Right thigh muscle": {"shape": {"aux": "leg_R"}, "priority": 1},
    "Left femur": {"shape": _cap([[-90, 20, 870], [-90, 20, 480]], 14), "priority": 12},
    "Right femur": {"shape": _cap([[90, 20, 870], [90, 20, 480]], 14), "priority": 12},
    "Left upper arm muscle": {"shape": {"aux": "arm_L"}, "priority": 1, "group": "arm_L"},
    "Right upper arm muscle": {"shape": {"aux": "arm_R"}, "priority": 1, "group": "arm_R"},
    "Left humerus": {
        "shape": _cap([[-214, 0, 1380], [-228, 0, 1110]], 11),
        "priority": 12,
        "group": "arm_L",
    },
    "Right humerus": {
        "shape": _cap([[214, 0, 1380], [228, 0, 1110]], 11),
        "priority": 12,
        "group": "arm_R",
    },
    "Prostate gland": {
        "shape": {"type": "sphere", "center": [0, 22, 880], "radius": 18},
        "priority": 9,
        "sex": "male",
    },
    "Uterus": {"shape": _ell([0, 12, 965], [36, 25, 40]), "priority": 9, "sex": "female"},
}
# the arm locations live in the arm groups: their shapes are written in the reference pose
for _k in ("Left upper arm muscle", "Right upper arm muscle"):
    side = "L" if _k.startswith("Left") else "R"
    LOCATIONS[_k]["shape"] = FRAME["aux"][f"arm_{side}"]["shape"]


def toy_ontology() -> Ontology:
    """The toy locations as an ontology: the shipped terms of those labels (with their
    coarse parents and regions), each fine term carrying its geometry, the frame in the
    header."""
    full = load_ontology()
    fine = {t.label: t for t in full.terms("fine")}
    keep = {}
    for label in LOCATIONS:
        t = fine[label]
        keep[t.curie] = t
        for a in full.ancestors(t):
            keep[a.curie] = a
    curie_of = {label: fine[label].curie for label in LOCATIONS}
    terms = []
    for t in keep.values():
        changes: dict = {"relations": {}}
        if t.level == "fine":
            changes["geometry"] = canonical_json(rewrite_refs(LOCATIONS[t.label], curie_of))
        terms.append(dataclasses.replace(t, **changes))
    meta = OntologyMeta(atlas_frame=canonical_json(FRAME))
    return Ontology(terms, meta)
