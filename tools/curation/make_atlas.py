#!/usr/bin/env python3
"""Generate ``tools/curation/atlas.json``: the whole-body spatial atlas of anatloc.

The atlas gives every one of the 387 fine locations of the vocabulary a geometry (an
implicit shape) in the body frame documented in ``docs/atlas.md``:

* RAS millimetres of a reference adult male, 1750 mm tall, lying supine with the arms at
  the sides: +x = patient's right, +y = anterior, +z = superior;
* origin: x = 0 on the midsagittal plane, z = 0 at the soles, y = 0 the coronal plane
  through the centre of the L1 vertebral body.

The output is ``{"frame": {...}, "locations": {label: spec}}``; references between specs
use fine labels (the ontology build renames them to CURIEs with
``anatloc.ontology.atlas.rewrite_refs``).  Families (vertebrae, ribs, left/right twins,
"Near X" shells) are generated; right-sided specs are the mirror images (x -> -x) of the
left-sided ones wherever the anatomy is symmetric.  A label's twin is the one the curation
declares (``templates/terms.tsv``, column ``contralateral``), read from the generated
``relations.tsv`` through ``curation_tables.twins`` rather than derived from the words of the
label, so ``build_tables.py`` runs first; the vocabulary is ``curation_tables.VOCABULARY``.
Rotations are written as Euler angles ``[rx, ry, rz]`` in degrees, R = Rz Ry Rx (scipy's
``Rotation.from_euler("xyz", rotate, degrees=True)``), as ``docs/atlas.md`` documents; no
rotation matrix is built here.

Run:  python tools/curation/make_atlas.py [--check]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "atlas.json"
sys.path.insert(0, str(HERE))
from curation_tables import read_vocabulary, twins  # noqa: E402

# ------------------------------------------------------------------------------------------
# a tiny DSL for shape JSON


def r1(v):
    """Round numbers for a compact, stable JSON."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return [r1(x) for x in v]
    v = float(v)
    return round(v, 1) if abs(v - round(v)) > 1e-9 else round(v)


def sph(c, r):
    return {"type": "sphere", "center": r1(c), "radius": r1(r)}


def ell(c, rad, rot=None):
    d = {"type": "ellipsoid", "center": r1(c), "radii": r1(rad)}
    if rot:
        d["rotate"] = r1(rot)
    return d


def box(lo, hi, rnd=0.0, rot=None):
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    if rot:
        d = {"type": "box", "center": r1((lo + hi) / 2), "size": r1(hi - lo), "rotate": r1(rot)}
    else:
        d = {"type": "box", "min": r1(lo), "max": r1(hi)}
    if rnd:
        d["round"] = r1(rnd)
    return d


def boxc(c, size, rot=None, rnd=0.0):
    d = {"type": "box", "center": r1(c), "size": r1(size)}
    if rot:
        d["rotate"] = r1(rot)
    if rnd:
        d["round"] = r1(rnd)
    return d


def cap(path, r):
    path = [r1(p) for p in path]
    return {"type": "capsule", "path": path, "radius": r1(r)}


def cyl(p0, p1, r):
    d = {"type": "cylinder", "p0": r1(p0), "p1": r1(p1)}
    if np.ndim(r) == 0:
        d["radius"] = r1(r)
    else:
        d["radii"] = r1(r)
    return d


def ecyl(c, radii, hh, rot=None):
    d = {"type": "cylinder", "center": r1(c), "radii": r1(radii), "half_height": r1(hh)}
    if rot:
        d["rotate"] = r1(rot)
    return d


def loft(sections, power=2):
    d = {"type": "loft", "sections": [r1(s) for s in sorted(sections, key=lambda s: s[0])]}
    if power != 2:
        d["power"] = power
    return d


def hs(point, normal):
    """Half-space {p : (p - point) . normal <= 0} (the normal points outwards)."""
    return {
        "type": "halfspace",
        "point": r1(point),
        "normal": r1(np.asarray(normal, float) / np.linalg.norm(normal)),
    }


def below(z):
    return hs([0, 0, z], [0, 0, 1])


def above(z):
    return hs([0, 0, z], [0, 0, -1])


def behind(y):
    return hs([0, y, 0], [0, 1, 0])


def infront(y):
    return hs([0, y, 0], [0, -1, 0])


def left_of(x=0.0):
    """x <= x0 (patient's left is -x)."""
    return hs([x, 0, 0], [1, 0, 0])


def right_of(x=0.0):
    return hs([x, 0, 0], [-1, 0, 0])


def plane3(a, b, c, keep):
    """Half-space bounded by the plane through a, b, c containing the point ``keep``."""
    a, b, c, keep = (np.asarray(v, float) for v in (a, b, c, keep))
    n = np.cross(b - a, c - a)
    if (keep - a) @ n > 0:
        n = -n
    return hs(a, n)


def sheet(vertices, faces, t):
    return {
        "type": "sheet",
        "vertices": [r1(v) for v in vertices],
        "faces": [list(map(int, f)) for f in faces],
        "thickness": r1(t),
    }


def U(*xs, smooth=0):
    xs = [x for x in xs if x is not None]
    if len(xs) == 1 and not smooth:
        return xs[0]
    d = {"op": "union", "of": list(xs)}
    if smooth:
        d["smooth"] = smooth
    return d


def X(*xs):
    """Intersection of shapes."""
    """Intersection."""
    xs = [x for x in xs if x is not None]
    return xs[0] if len(xs) == 1 else {"op": "intersect", "of": list(xs)}


def D(base, *cuts):
    cuts = [c for c in cuts if c is not None]
    return base if not cuts else {"op": "subtract", "of": [base, *cuts]}


def shell(of, t, side="outer", offset=0.0):
    d = {"op": "shell", "of": of, "thickness": r1(t), "side": side}
    if offset:
        d["offset"] = r1(offset)
    return d


def off(of, by):
    return {"op": "offset", "of": of, "by": r1(by)}


def cell(part, c):
    return {"op": "cell", "partition": part, "cell": c}


def sw(on, cases, default=None):
    d = {"op": "switch", "on": on, "cases": cases}
    if default is not None:
        d["default"] = default
    return d


def ref(label):
    return {"ref": label}


def aux(name):
    return {"aux": name}


# ------------------------------------------------------------------------------------------
# mirroring left <-> right (x -> -x)

# the left/right twin of a fine label, declared in templates/terms.tsv (``contralateral``)
# and read from the generated relations.tsv; an unpaired label is its own mirror image
TWIN = twins("fine")


def mirror_label(label: str) -> str:
    return TWIN.get(label, label)


def mirror_name(name: str) -> str:
    """Aux / partition / group names carry a side suffix _L or _R."""
    if name.endswith("_L"):
        return name[:-2] + "_R"
    if name.endswith("_R"):
        return name[:-2] + "_L"
    return name


def _mx(p):
    return [-p[0], p[1], p[2]]


def _mx_all(points, _obj):
    return [_mx(p) for p in points]


# how mirror() changes the value of a key: for every object, for any primitive shape (an
# object with a "type"), and for one type of primitive only
_MIRROR_ANY = {
    "ref": lambda v, _o: mirror_label(v),
    "aux": lambda v, _o: mirror_name(v),
    "partition": lambda v, _o: mirror_name(v),
    "group": lambda v, _o: mirror_name(v),
    "normal": lambda v, _o: _mx(v),
    "anchor": lambda v, _o: _mx(v),
    "rotate": lambda v, _o: [v[0], -v[1], -v[2]],
    "path": _mx_all,
    "vertices": _mx_all,
    "seeds": lambda v, _o: {c: [_mx(p) for p in pts] for c, pts in v.items()},
}
_MIRROR_SHAPE = {k: (lambda v, _o: _mx(v)) for k in ("center", "point", "p0", "p1")}
_MIRROR_TYPE = {
    "box": {
        "min": lambda v, o: [-o["max"][0], v[1], v[2]],
        "max": lambda v, o: [-o["min"][0], v[1], v[2]],
    },
    "loft": {"sections": lambda v, _o: [[s[0], -s[1], s[2], s[3], s[4]] for s in v]},
}


def mirror(obj):
    """Mirror a shape / spec / frame object across x = 0."""
    if isinstance(obj, list):
        return [mirror(v) for v in obj]
    if not isinstance(obj, dict):
        return copy.deepcopy(obj)
    t = obj.get("type")
    rules = {**_MIRROR_ANY, **(_MIRROR_SHAPE if t is not None else {}), **_MIRROR_TYPE.get(t, {})}
    return {k: rules[k](v, obj) if k in rules else mirror(v) for k, v in obj.items()}


# ------------------------------------------------------------------------------------------
# the reference body: vertebral levels and the spine curve (reference male, 1750 mm)

H_REF = 1750.0

# z of each vertebral body centre (mm above the soles) and y of the body centre (mm)
SPINE = {
    "C1": (1557, 10),
    "C2": (1536, 9),
    "C3": (1515, 9),
    "C4": (1498, 10),
    "C5": (1481, 10),
    "C6": (1464, 8),
    "C7": (1447, 4),
    "T1": (1429, -1),
    "T2": (1409, -6),
    "T3": (1388, -10),
    "T4": (1367, -14),
    "T5": (1345, -17),
    "T6": (1322, -19),
    "T7": (1299, -20),
    "T8": (1276, -20),
    "T9": (1252, -18),
    "T10": (1227, -15),
    "T11": (1201, -11),
    "T12": (1174, -6),
    "L1": (1144, 0),
    "L2": (1111, 6),
    "L3": (1077, 10),
    "L4": (1043, 11),
    "L5": (1009, 8),
    "L6": (976, 0),
}
CERV = [f"C{i}" for i in range(1, 8)]
THOR = [f"T{i}" for i in range(1, 13)]
LUMB = [f"L{i}" for i in range(1, 7)]
LEVELS = CERV + THOR + LUMB


def vsize(v):
    """(body half-width, half-depth, half-height, canal half-width, canal half-depth,
    transverse-process half-span, spinous length, spinous slope deg, lamina radius)."""
    if v in CERV:
        i = CERV.index(v)
        return (
            9 + 0.6 * i,
            7.5,
            6.5,
            12.5,
            8.0,
            26 + 1.8 * i,
            [10, 30, 18, 19, 21, 27, 36][i],
            [0, 10, 15, 18, 20, 20, 22][i],
            3.6,
        )
    if v in THOR:
        i = THOR.index(v)
        slope = [28, 35, 42, 50, 55, 58, 58, 55, 48, 40, 30, 18][i]
        return (
            13.5 + 0.75 * i,
            10.5 + 0.6 * i,
            8.5 + 0.35 * i,
            8.5,
            8.0,
            38 - 0.7 * i,
            [38, 42, 44, 45, 45, 45, 44, 42, 40, 36, 32, 30][i],
            slope,
            4.2,
        )
    i = LUMB.index(v)
    return (21.5 + 0.8 * min(i, 4), 16.0, 13.0, 11.0, 9.0, [34, 40, 45, 42, 40, 38][i], 32, 5, 5.0)


def spine_y(z):
    zs = np.array([SPINE[v][0] for v in LEVELS])[::-1]
    ys = np.array([SPINE[v][1] for v in LEVELS])[::-1]
    return float(np.interp(z, zs, ys))


def spine_tilt(v):
    """Sagittal tilt (deg, rotation about x) of a vertebral body following the curve."""
    z = SPINE[v][0]
    dy = spine_y(z + 10) - spine_y(z - 10)
    return math.degrees(math.atan2(dy, 20.0))


# key heights (reference male, mm above the soles)
Z = {
    "vertex": 1750,
    "skull_base": 1578,
    "chin": 1500,
    "cricoid": 1462,
    "jugular_notch": 1400,
    "sternal_angle": 1355,
    "xiphisternal": 1252,
    "xiphoid_tip": 1218,
    "carina": 1352,
    "arch_top": 1378,
    "arch_bottom": 1348,
    "lbcv": 1383,
    "azygos": 1340,
    "lpa_top": 1336,
    "dome_R": 1246,
    "dome_L": 1228,
    "hiatus": 1205,
    "navel": 1040,
    "crest": 1048,
    "promontory": 990,
    "hip": 905,
    "symphysis": 880,
    "perineum": 820,
    "knee": 492,
    "ankle": 82,
    "shoulder": 1412,
    "elbow": 1088,
    "wrist": 830,
}


def rot_from_dir(d, roll=0.0):
    """Euler angles [rx, ry, rz] (deg) of R = Rz Ry Rx mapping the local x axis onto d;
    ``roll`` turns the shape about that axis."""
    d = np.asarray(d, float)
    d = d / np.linalg.norm(d)
    b = -math.asin(max(-1.0, min(1.0, d[2])))
    c = math.atan2(d[1], d[0])
    return [roll, math.degrees(b), math.degrees(c)]


# ------------------------------------------------------------------------------------------
# the frame: body surface, cavities, partitions, groups

FRAME: dict = {
    "version": 1,
    "units": "mm",
    "axes": "RAS: +x patient right, +y anterior, +z superior",
    "origin": "x = 0 midsagittal plane; y = 0 coronal plane through the centre of the L1 body; z = 0 soles",
    "reference_height_mm": H_REF,
    "reference_sex": "male",
    "table_center_z_mm": 900.0,
    "girth_fat_mm": 30.0,
    "landmarks_z_mm": dict(Z),
    "vertebrae": {v: {"z": SPINE[v][0], "y": SPINE[v][1]} for v in LEVELS},
    "aux": {},
    "partitions": {},
    "groups": {},
    "poses": {"arms_up": {}},
    "checks": {},
}
AUX = FRAME["aux"]
PARTS = FRAME["partitions"]
GROUPS = FRAME["groups"]
LOC: dict[str, dict] = {}


def add_aux(name, shape, group=None, grow=0.0, doc=None, mirror_too=False):
    d = {"shape": shape}
    if group:
        d["group"] = group
    if grow:
        d["grow"] = grow
    if doc:
        d["doc"] = doc
    AUX[name] = d
    if mirror_too:
        AUX[mirror_name(name)] = mirror(d)


def add(
    label, shape, priority, group=None, sex=None, variant=None, tissue_hint=None, mirror_too=False
):
    """Register a location spec (and, with mirror_too, its mirrored right-sided twin)."""
    spec = {"shape": shape, "priority": priority}
    if group:
        spec["group"] = group
    if sex:
        spec["sex"] = sex
    if variant:
        spec["variant"] = variant
    if label in LOC:
        raise ValueError(f"duplicate spec {label!r}")
    LOC[label] = spec
    if mirror_too:
        ml = mirror_label(label)
        if ml == label:  # no twin declared in templates/terms.tsv
            raise ValueError(f"cannot mirror {label!r}")
        LOC[ml] = mirror(spec)


# priorities (paint order: the higher wins)
P = {
    "outside": 1,
    "subcut": 10,
    "muscle": 12,
    "part": 14,
    "between": 16,
    "cavity": 18,
    "retro": 19,
    "station": 20,
    "lung": 25,
    "recess": 27,
    "hilum": 28,
    "near": 30,
    "node": 32,
    "breast": 33,
    "gland_m": 34,
    "lumbar_m": 35,
    "skin_pt": 36,
    "serosa": 38,
    "mesentery": 39,
    "bowel": 40,
    "organ": 45,
    "vessel": 48,
    "duct": 49,
    "sense": 52,
    "joint": 60,
    "bone": 70,
    "bone_part": 72,
    "cavity_in_bone": 74,
    "small_joint": 75,
}

# ---- body surface (skin) -------------------------------------------------------------------

TRUNK = [  # z, cx, cy, rx, ry
    (826, 0, -14, 112, 96),
    (840, 0, -14, 124, 100),
    (880, 0, -14, 162, 112),
    (930, 0, -8, 165, 110),
    (990, 0, -2, 157, 107),
    (1045, 0, 3, 148, 108),
    (1100, 0, 3, 143, 108),
    (1170, 0, 5, 146, 110),
    (1250, 0, 9, 149, 113),
    (1320, 0, 6, 151, 112),
    (1380, 0, -2, 158, 104),
    (1420, 0, -5, 160, 98),
    (1445, 0, -12, 150, 84),
]
# shoulder line from the neck to the acromia
TRAPEZIUS = cap([[-100, -22, 1444], [100, -22, 1444]], 32)
NECK = [(1440, 0, -10, 68, 66), (1480, 0, -8, 57, 62), (1530, 0, -2, 56, 66), (1566, 0, 0, 60, 72)]
LEG_L = [
    (66, -89, -62, 38, 38),
    (150, -90, -62, 38, 43),
    (300, -92, -68, 48, 54),
    (420, -93, -58, 47, 50),
    (495, -93, -45, 52, 52),
    (600, -96, -38, 60, 62),
    (750, -100, -35, 74, 76),
    (840, -100, -30, 84, 88),
    (900, -95, -20, 86, 92),
    (950, -80, -15, 70, 80),
]
SHOULDER_L = np.array([-180.0, -8.0, 1412.0])  # centre of the left humeral head
ELBOW_L = np.array([-235.0, -22.0, 1088.0])
WRIST_L = np.array([-248.0, -10.0, 835.0])


def loft_at(sections, z):
    s = np.asarray(sections, float)
    return np.array([np.interp(z, s[:, 0], s[:, i]) for i in range(1, 5)])


BACK = [
    (z, 0, cy - 0.5 * ry, 0.76 * rx, 0.5 * ry) for z, _, cy, rx, ry in TRUNK if 860 <= z <= 1445
]
TRUNK_IN = [(z, 0, cy - 3, rx - 15, ry - 15) for z, _, cy, rx, ry in TRUNK]
TRUNK_IN[0] = (TRUNK_IN[0][0] + 10, *TRUNK_IN[1][1:])  # a vertical wall above the bottom cap
BACK_IN = [
    (z, 0, cy - 0.5 * ry + 6, 0.76 * rx - 15, 0.5 * ry - 6)
    for z, _, cy, rx, ry in TRUNK
    if 860 <= z <= 1445
]
add_aux(
    "trunk",
    U(
        loft(TRUNK),
        loft(BACK, power=4),
        TRAPEZIUS,
        ell([-136, -40, 1405], [42, 42, 45]),
        ell([136, -40, 1405], [42, 42, 45]),
        smooth=15,
    ),
    grow=1.0,
    doc="skin of the trunk (perineum to the base of the neck): an elliptic loft with a flat back",
)
add_aux("neck", loft(NECK), grow=0.5, doc="skin of the neck")
add_aux(
    "head",
    U(
        ell([0, -5, 1655], [78, 100, 96]),
        ell([0, 42, 1572], [63, 60, 76]),
        ell([0, 96, 1602], [12, 15, 24]),
        ell([0, 70, 1508], [26, 20, 14]),
        ell([0, -12, 1598], [70, 72, 46]),
        ell([0, 40, 1602], [70, 62, 40]),
        smooth=18,
    ),
    grow=0.2,
    doc="skin of the head (cranium, face, nose, chin)",
)
add_aux(
    "auricle_L", boxc([-80, -12, 1615], [14, 34, 58], rnd=7), doc="left auricle", mirror_too=True
)
add_aux("leg_L", loft(LEG_L), grow=0.5, doc="skin of the left leg (ankle to hip)", mirror_too=True)
add_aux(
    "foot_L",
    U(
        ell([-89, -78, 42], [31, 32, 42]),
        ell([-90, -10, 40], [38, 70, 36]),
        boxc([-96, 88, 24], [86, 120, 44], rnd=20),
        smooth=16,
    ),
    grow=0.2,
    doc="left foot below the ankle, toes pointing anteriorly (+y), sole at z = 0",
    mirror_too=True,
)


GROUPS["arm_L"] = {
    "anchor": r1(SHOULDER_L),
    "jitter": {"shift_mm": [4, 4, 6], "scale": 0.03},
    "doc": "left arm (rotates about the shoulder)",
}
GROUPS["arm_R"] = mirror(GROUPS["arm_L"])
FRAME["poses"]["arms_up"]["arm_L"] = {"axis": [0, 1, 0], "deg": 170, "center": r1(SHOULDER_L)}
FRAME["poses"]["arms_up"]["arm_R"] = {"axis": [0, 1, 0], "deg": -170, "center": r1(_mx(SHOULDER_L))}

add_aux(
    "arm_L",
    U(
        ell(SHOULDER_L + np.array([0.0, -4, -4]), [44, 52, 48]),
        cap([[-184, -10, 1380], ELBOW_L, [-242, -16, 960], WRIST_L], [41, 36, 34, 26]),
        boxc([-251, -8, 745], [76, 30, 188], rnd=14),
        smooth=10,
    ),
    group="arm_L",
    grow=0.5,
    doc="skin of the left arm: shoulder cap, upper arm, forearm, hand",
    mirror_too=True,
)
add_aux(
    "lower_limb_L",
    U(aux("leg_L"), aux("foot_L"), smooth=12),
    doc="left leg and foot",
    mirror_too=True,
)
add_aux(
    "breasts_F",
    U(
        ell([-95, 98, 1278], [72, 46, 66], rot=[0, 0, -12]),
        ell([95, 98, 1278], [72, 46, 66], rot=[0, 0, 12]),
    ),
    grow=1.0,
    doc="female breast mounds",
)
add_aux(
    "genitals_M",
    U(
        cap([[0, 78, 838], [0, 100, 815], [0, 112, 782]], [17, 17, 15]),
        ell([0, 72, 796], [33, 30, 38]),
    ),
    grow=0.2,
    doc="male external genitalia (penis, scrotum)",
)
add_aux(
    "body",
    U(
        U(aux("trunk"), aux("neck"), aux("head"), smooth=25),
        aux("auricle_L"),
        aux("auricle_R"),
        aux("lower_limb_L"),
        aux("lower_limb_R"),
        aux("arm_L"),
        aux("arm_R"),
        sw("sex", {"female": aux("breasts_F"), "male": aux("genitals_M")}),
    ),
    doc="the skin surface of the whole body (negative inside)",
)

# deep fascia: skin moved inwards by the subcutaneous fat thickness (does not grow with girth)
FAT = {"trunk": 16.0, "neck": 7.0, "head": 5.0, "leg": 10.0, "arm": 7.0}
add_aux(
    "trunk_fascia",
    U(
        loft(TRUNK_IN),
        loft(BACK_IN, power=4),
        cap([[-90, -22, 1444], [90, -22, 1444]], 23),
        ell([-136, -38, 1405], [32, 32, 35]),
        ell([136, -38, 1405], [32, 32, 35]),
        smooth=15,
    ),
    doc="deep fascia of the trunk (subcutaneous fat about 12 mm at the back, 15 at the sides, 18 in front)",
)
add_aux("neck_fascia", off(loft(NECK), -FAT["neck"]))
add_aux("head_fascia", off(AUX["head"]["shape"], -FAT["head"]))
add_aux("leg_fascia_L", off(loft(LEG_L), -FAT["leg"]), mirror_too=True)
add_aux("arm_fascia_L", off(AUX["arm_L"]["shape"], -FAT["arm"]), group="arm_L", mirror_too=True)
add_aux(
    "fascia",
    U(
        U(aux("trunk_fascia"), aux("neck_fascia"), aux("head_fascia"), smooth=20),
        aux("leg_fascia_L"),
        aux("leg_fascia_R"),
    ),
    doc="deep fascia of head, neck, trunk and legs (arms apart)",
)

# body-part planes (reference frame), used to split fillers
PLANE_HEAD = plane3(
    [0, 90, 1496], [0, -80, 1572], [60, 90, 1496], keep=[0, 0, 1700]
)  # keeps the head side
PLANE_NECK_BELOW = plane3(
    [0, 120, 1404], [0, -90, 1456], [100, 40, 1432], keep=[0, 0, 1300]
)  # keeps the trunk side
PLANE_NECK_ABOVE = plane3([0, 120, 1404], [0, -90, 1456], [100, 40, 1432], keep=[0, 0, 1500])


def costal_plane(keep_above):
    """Chest / abdomen boundary of the left body half (costal margin anteriorly, T12 behind)."""
    return plane3(
        [0, 125, 1218],
        [-150, 0, 1118],
        [0, -120, 1165],
        keep=[-50, 0, 1400 if keep_above else 1000],
    )


def hip_zone_L():
    """The pelvis-and-hip part of the left body half: below the iliac crest and below the
    plane of the inguinal ligament (ASIS to pubic tubercle)."""
    crest = plane3([-140, 0, 1045], [-60, -110, 1038], [-140, 60, 1040], keep=[-60, 0, 800])
    inguinal = plane3([-118, 60, 995], [-20, 95, 884], [-90, -100, 1100], keep=[-60, 0, 800])
    return X(crest, inguinal, left_of(0))


BACK_Y_CHEST = -35.0  # coronal plane between chest (front) and upper back muscles
BACK_Y_ABD = -45.0

# ---- thoracic and abdominal cavities -------------------------------------------------------------

RIBCAGE = [  # inner surface of the ribs and pleura: z, cx, cy, rx, ry
    (1440, 0, -12, 66, 44),
    (1415, 0, -5, 90, 56),
    (1385, 0, 3, 108, 66),
    (1345, 0, 10, 118, 75),
    (1295, 0, 15, 124, 80),
    (1245, 0, 16, 127, 81),
    (1200, 0, 12, 126, 82),
    (1150, 0, 8, 122, 80),
    (1100, 0, 6, 117, 80),
    (1060, 0, 6, 112, 80),
]
add_aux(
    "ribcage_inner",
    U(
        loft([s for s in RIBCAGE if s[0] >= 1120]),
        ell([-40, -14, 1436], [34, 32, 24]),
        ell([40, -14, 1436], [34, 32, 24]),
        smooth=12,
    ),
    doc="inner surface of the rib cage (parietal pleura) with the two pleural cupolae",
)
DOME_R = ([55, 25, 1130], [85, 110, 116])
DOME_L = ([-55, 15, 1112], [85, 110, 116])
DOME_C = ([-5, 40, 1120], [60, 80, 110])
add_aux(
    "subphrenic",
    U(U(ell(*DOME_R), ell(*DOME_L), ell(*DOME_C), smooth=30), below(1128)),
    doc="everything below the lower surface of the diaphragm (domes: right apex z 1246, left 1228)",
)
add_aux(
    "spine_block",
    loft(
        [
            (1475, 0, -50, 34, 62),
            (1430, 0, -56, 38, 62),
            (1367, 0, -68, 40, 66),
            (1299, 0, -76, 40, 70),
            (1227, 0, -70, 42, 70),
            (1174, 0, -62, 46, 71),
            (1111, 0, -50, 52, 72),
            (1043, 0, -45, 54, 71),
            (990, 0, -52, 50, 66),
            (940, 0, -72, 40, 50),
        ]
    ),
    doc="vertebral column with the paraspinal muscles behind it (excluded from the cavities)",
)
add_aux(
    "thorax",
    D(aux("ribcage_inner"), aux("subphrenic"), aux("spine_block")),
    doc="pleural cavities and mediastinum",
)
ABD_WALL = [  # inner surface of the abdominal and pelvic walls
    (1250, 0, 16, 127, 81),
    (1170, 0, 4, 123, 87),
    (1110, 0, 0, 118, 87),
    (1050, 0, 4, 120, 85),
    (990, 0, 14, 122, 80),
    (950, 0, 20, 108, 72),
    (905, 0, 24, 68, 58),
    (870, 0, 20, 56, 50),
    (846, 0, 14, 40, 40),
]
add_aux("abd_wall_inner", loft(ABD_WALL))
add_aux(
    "abdomen",
    D(X(aux("abd_wall_inner"), aux("subphrenic")), aux("spine_block")),
    doc="abdominal and pelvic cavity including the retroperitoneum (below the diaphragm)",
)
BRIM = plane3(
    [0, -5, 988], [0, 82, 895], [60, 30, 950], keep=[0, 20, 1100]
)  # keeps the abdomen side
BRIM_BELOW = plane3([0, -5, 988], [0, 82, 895], [60, 30, 950], keep=[0, 20, 870])
MEDIASTINUM = [
    (1464, 0, 22, 28, 30),
    (1430, 0, 24, 30, 40),
    (1400, -2, 25, 36, 48),
    (1375, -4, 25, 42, 55),
    (1350, -6, 30, 48, 62),
    (1320, -16, 40, 66, 64),
    (1280, -26, 45, 80, 60),
    (1250, -28, 45, 82, 58),
    (1225, -18, 42, 75, 52),
    (1190, -16, 40, 68, 48),
]
add_aux(
    "mediastinum",
    D(loft(MEDIASTINUM), aux("subphrenic"), aux("spine_block")),
    doc="mediastinal compartment (from the cricoid to the diaphragm)",
)
add_aux("lung_L", X(D(aux("thorax"), aux("mediastinum")), left_of(0)), doc="left pleural cavity")
add_aux("lung_R", X(D(aux("thorax"), aux("mediastinum")), right_of(0)), doc="right pleural cavity")

# ------------------------------------------------------------------------------------------
# axial skeleton: vertebrae, spinous processes, "Near vertebra" shells, sacrum, coccyx


def vertebra_parts(v):
    """(vertebra shape without its spinous process, spinous process shape, seeds for the
    level partition, canal shape)."""
    z, y = SPINE[v]
    bw, bd, bh, cw, cd, tp, sl, slope, lr = vsize(v)
    tilt = spine_tilt(v)
    ca = math.radians(tilt)
    # unit vectors of the vertebra: u = up along the body axis, b = backwards
    up = np.array([0.0, math.sin(ca), math.cos(ca)])
    back = np.array([0.0, -math.cos(ca), math.sin(ca)])
    c = np.array([0.0, y, z])
    cc = c + back * (bd + 2 + cd)  # canal centre
    parts = []
    if v == "C1":
        # atlas: anterior arch, lateral masses, posterior arch, transverse processes
        parts.append(cap([[-10, y + 13, z], [0, y + 15, z], [10, y + 13, z]], 4.5))
        parts.append(cap([[-20, y + 2, z], [-20, y - 4, z]], 8.5))
        parts.append(cap([[20, y + 2, z], [20, y - 4, z]], 8.5))
        parts.append(
            cap(
                [
                    [-20, y - 6, z],
                    [-14, y - 22, z],
                    [0, y - 27, z],
                    [14, y - 22, z],
                    [20, y - 6, z],
                ],
                4,
            )
        )
        parts.append(cap([[-26, y, z], [-38, y - 2, z]], 5))
        parts.append(cap([[26, y, z], [38, y - 2, z]], 5))
        cc = np.array([0.0, y - 12, z])
    else:
        parts.append(ecyl(c, [bw, bd], bh, rot=[tilt, 0, 0]))
        if v == "C2":
            parts.append(cap([[0, y + 2, z + 8], [0, y + 3, z + 24]], 5.5))  # dens
        # pedicles + laminae: a ring behind the body around the canal
        ring = []
        for sx in (-1, 1):
            p0 = c + back * (bd - 2) + np.array([sx * (bw * 0.55), 0, 0])
            p1 = cc + np.array([sx * (cw + 1.5), 0, 0]) + back * (-cd * 0.3)
            p2 = cc + back * (cd + lr * 0.6) + np.array([sx * cw * 0.55, 0, 0])
            ring.append(cap([p0, p1, p2, cc + back * (cd + lr * 0.8)], lr))
            # transverse process
            tp_end = cc + np.array([sx * tp, 0, 0]) + back * (-cd * 0.5 if v in LUMB else 1.0)
            if v in THOR:
                tp_end = tp_end + back * 4
            parts.append(cap([p1, tp_end], 5.2 if v in LUMB else 4.6))
            # articular processes
            parts.append(
                ell(
                    cc + np.array([sx * (cw + 2), 0, 0]) + back * 2,
                    [5, 5, bh + 3],
                    rot=[tilt, 0, 0],
                )
            )
        parts += ring
    base = cc + back * (cd + lr * 0.8)
    ang = math.radians(slope) + ca
    tipdir = np.array([0.0, -math.cos(ang), -math.sin(ang)])
    tip = base + tipdir * sl
    if v in LUMB:
        sp = U(
            cap([base, tip], 5.5),
            cap([base + np.array([0.0, 0, 5]), tip + np.array([0.0, 2, 4])], 4.5),
        )
    elif v == "C1":
        sp = ell(base + np.array([0.0, -4, 0]), [7, 6, 5])
    elif v == "C2":
        sp = U(
            cap([base, tip + np.array([-4.0, 0, 0])], 5),
            cap([base, tip + np.array([4.0, 0, 0])], 5),
        )
    else:
        sp = cap([base, tip], 4.4 if v in THOR else 4.2)
    seeds = [c.tolist(), cc.tolist(), (base + tipdir * sl * 0.45).tolist(), tip.tolist()]
    canal = cap([cc - up * (bh + 4), cc + up * (bh + 4)], max(cw, cd) + 1)
    return U(*parts), sp, seeds, canal


SPINE_SEEDS = {}
VERT = {}
for v in LEVELS:
    body, sp, seeds, canal = vertebra_parts(v)
    VERT[v] = (body, sp, canal)
    SPINE_SEEDS[v] = seeds
    variant = "l6" if v == "L6" else None
    add(f"Vertebra {v}", body, P["bone"], variant=variant)
    add(f"Spinous process of vertebra {v}", sp, P["bone_part"], variant=variant)

# sacrum (S1-S5) and coccyx follow the sacral curve
SACRUM_PATH = [[0, -6, 975], [0, -22, 951], [0, -40, 926], [0, -55, 906], [0, -66, 889]]
SACRUM_R = [21, 18, 15, 11, 8]
COCCYX_PATH = [[0, -68, 878], [0, -64, 862], [0, -55, 849]]
sacrum_core = U(
    cap(SACRUM_PATH, SACRUM_R),
    ell([-34, -22, 968], [26, 20, 26], rot=[35, 0, 0]),
    ell([34, -22, 968], [26, 20, 26], rot=[35, 0, 0]),
    ell([-24, -40, 935], [16, 14, 20], rot=[35, 0, 0]),
    ell([24, -40, 935], [16, 14, 20], rot=[35, 0, 0]),
    cap([[0, -30, 968], [0, -62, 925], [0, -74, 895]], 5),  # median sacral crest
)
add("Sacrum", sacrum_core, P["bone"])
add("Coccyx", cap(COCCYX_PATH, [7, 6, 4.5]), P["bone"])
SPINE_SEEDS["S"] = [p for p in SACRUM_PATH] + [[0, -30, 968], [0, -74, 895]]
SPINE_SEEDS["Co"] = COCCYX_PATH

# level partition of the spinal region: each vertebra's territory (its disc halves, canal, shell)
PARTS["spine_levels"] = {
    "container": loft(
        [
            (1590, 0, 0, 70, 70),
            (1440, 0, -20, 90, 90),
            (1300, 0, -45, 90, 90),
            (1150, 0, -30, 95, 95),
            (1000, 0, -25, 95, 95),
            (830, 0, -45, 80, 80),
        ]
    ),
    "seeds": {k: [r1(p) for p in v] for k, v in SPINE_SEEDS.items()},
    "doc": "territory of each vertebral level (body, canal and spinous process seeds)",
}
for v in LEVELS:
    body, sp, canal = VERT[v]
    variant = "l6" if v == "L6" else None
    add(
        f"Near vertebra {v}",
        X(
            U(
                shell(
                    U(ref(f"Vertebra {v}"), ref(f"Spinous process of vertebra {v}")),
                    6.0 if v in CERV else 8.0,
                ),
                canal,
            ),
            cell("spine_levels", v),
            aux("body"),
        ),
        P["near"],
        variant=variant,
    )
add("Near coccyx", X(D(shell(ref("Coccyx"), 12.0), ref("Sacrum")), aux("body")), P["near"])

# ---- ribs, sternum, clavicle, scapula ---------------------------------------------------------

STERNUM_AXIS = [[0, 76, 1402], [0, 90, 1355], [0, 101, 1310], [0, 107, 1255], [0, 108, 1218]]


def sternum_y(z):
    a = np.asarray(STERNUM_AXIS, float)[::-1]
    return float(np.interp(z, a[:, 2], a[:, 1]))


def sternum_hw(z):
    return float(np.interp(z, [1218, 1250, 1300, 1355, 1380, 1402], [7, 15, 17, 14, 20, 26]))


# per rib: lateral z, costochondral z, cartilage end (sternal z or explicit point), end angle
RIBS = {
    1: dict(lat=1420, cc=1404, cc_x=38, st=1396),
    2: dict(lat=1386, cc=1364, cc_x=52, st=1357),
    3: dict(lat=1356, cc=1330, cc_x=62, st=1334),
    4: dict(lat=1328, cc=1300, cc_x=72, st=1312),
    5: dict(lat=1300, cc=1270, cc_x=80, st=1291),
    6: dict(lat=1272, cc=1240, cc_x=86, st=1270),
    7: dict(lat=1245, cc=1208, cc_x=92, st=1253),
    8: dict(lat=1218, cc=1180, cc_x=92, end=[-62, None, 1222]),
    9: dict(lat=1192, cc=1150, cc_x=100, end=[-76, None, 1196]),
    10: dict(lat=1166, cc=1126, cc_x=106, end=[-90, None, 1168]),
    11: dict(lat=1146, tip_phi=72, tip_z=1128),
    12: dict(lat=1150, tip_phi=118, tip_z=1138),
}
RIB_OUT = 7.0  # rib centre line lies this far outside the inner rib-cage surface


def ribcage_point(phi_deg, z, extra=0.0):
    cx, cy, rx, ry = loft_at(RIBCAGE, z)
    ph = math.radians(phi_deg)
    return np.array(
        [cx - (rx + RIB_OUT + extra) * math.sin(ph), cy + (ry + RIB_OUT + extra) * math.cos(ph), z]
    )


def phi_for_x(x_abs, z, front=True):
    _cx, _cy, rx, _ry = loft_at(RIBCAGE, z)
    s = min(0.999, x_abs / (rx + RIB_OUT))
    ph = math.degrees(math.asin(s))
    return ph if front else 180 - ph


def rib_path(i):
    """Centre line of the left rib i (bone + costal cartilage split)."""
    v = f"T{i}"
    z, y = SPINE[v]
    bw, bd, bh, _cw, cd, tp, *_ = vsize(v)
    ca = math.radians(spine_tilt(v))
    back = np.array([0.0, -math.cos(ca), math.sin(ca)])
    c = np.array([0.0, y, z])
    cc = c + back * (bd + 2 + cd)
    zh = z + bh * 0.6
    head = np.array([-(bw + 3.0), y - bd * 0.25, zh])
    tub = cc + np.array([-tp - 1.0, 7.0, 0.0]) + back * 5
    tub[2] = zh - 3
    r = RIBS[i]
    z_ang = zh - 7
    phi_a = phi_for_x(tp + 24, z_ang, front=False)
    bone = [head, tub]
    # the arc: control (phi, z)
    ctrl = [(phi_a, z_ang), (90.0, r["lat"])]
    if "cc" in r:
        phi_cc = phi_for_x(r["cc_x"], r["cc"])
        ctrl.append((phi_cc, r["cc"]))
        phi_end = phi_cc
    else:
        ctrl.append((r["tip_phi"], r["tip_z"]))
        phi_end = r["tip_phi"]
    ph = np.array([c_[0] for c_ in ctrl])
    zz = np.array([c_[1] for c_ in ctrl])
    n = max(4, int(abs(phi_a - phi_end) / 9))
    for t in np.linspace(phi_a, phi_end, n):
        zt = float(np.interp(-t, -ph, zz))
        bone.append(ribcage_point(t, zt))
    cart = []
    if "st" in r:
        zst = r["st"]
        hw = sternum_hw(zst)
        phi_st = phi_for_x(hw + 3, zst)
        m = max(3, int(abs(phi_end - phi_st) / 8))
        for t in np.linspace(phi_end, phi_st, m):
            zt = float(np.interp(t, [phi_st, phi_end], [zst, r["cc"]]))
            cart.append(ribcage_point(t, zt))
        cart[-1] = np.array([-(hw + 2.0), sternum_y(zst), zst])
    elif "end" in r:
        ex, _, ez = r["end"]
        phi_x = phi_for_x(-ex, ez)
        m = 4
        for t in np.linspace(phi_end, phi_x, m):
            zt = float(np.interp(t, [phi_x, phi_end], [ez, r["cc"]]))
            cart.append(ribcage_point(t, zt, extra=-1))
    return bone, cart, head, tub


RIB_GEOM = {}
for i in range(1, 13):
    bone, cart, head, tub = rib_path(i)
    RIB_GEOM[i] = (bone, cart, head, tub)
    rr = 6.0 if i == 1 else 5.5
    shp = cap(bone, rr) if not cart else U(cap(bone, rr), cap([bone[-1], *cart[1:]], 4.6))
    add(f"Rib L{i}", shp, P["bone"], mirror_too=True)

add(
    "Left costovertebral joint",
    U(
        *[sph(RIB_GEOM[i][2], 6.5) for i in range(1, 13)],
        *[sph(RIB_GEOM[i][3], 5.5) for i in range(1, 11)],
    ),
    P["small_joint"],
    mirror_too=True,
)
add(
    "Left sternocostal joint",
    U(*[sph(RIB_GEOM[i][1][-1], 6.0) for i in range(1, 8)]),
    P["small_joint"],
    mirror_too=True,
)

STERNUM_TILT = 11.5
add(
    "Sternum",
    U(
        box([-26, 70, 1356], [26, 84, 1404], rnd=5, rot=[STERNUM_TILT, 0, 0]),
        box([-16, 94, 1252], [16, 106, 1356], rnd=4, rot=[STERNUM_TILT, 0, 0]),
        cap([[0, 107, 1250], [0, 108, 1218]], [8, 5]),
    ),
    P["bone"],
)
add(
    "Near sternum",
    D(X(shell(ref("Sternum"), 10.0), infront(60), aux("fascia")), aux("lung_L"), aux("lung_R")),
    P["near"],
)

CLAV_L = [
    [-20, 72, 1405],
    [-50, 68, 1414],
    [-90, 50, 1424],
    [-125, 25, 1432],
    [-155, 2, 1437],
    [-172, -10, 1439],
]
add("Left clavicle", cap(CLAV_L, [9, 8, 7, 7, 7, 8]), P["bone"], mirror_too=True)
add("Left sternoclavicular joint", sph([-20, 74, 1402], 7.5), P["small_joint"], mirror_too=True)

add(
    "Left scapula",
    U(
        sheet(
            [
                [-72, -70, 1405],
                [-92, -74, 1300],
                [-126, -48, 1338],
                [-150, -12, 1392],
                [-112, -68, 1368],
            ],
            [[0, 4, 1], [4, 2, 1], [4, 3, 2], [0, 3, 4]],
            7.0,
        ),
        cap(
            [[-76, -77, 1388], [-120, -68, 1408], [-162, -32, 1434], [-180, -20, 1440]],
            [4.5, 6, 6, 6],
        ),  # spine
        ell([-182, -18, 1441], [14, 20, 6]),  # acromion
        cap([[-146, -16, 1410], [-148, 16, 1414], [-140, 28, 1408]], 5.5),  # coracoid
        ell([-151, -16, 1406], [6, 13, 19]),  # glenoid
    ),
    P["bone"],
    mirror_too=True,
)

# ---- pelvis ----------------------------------------------------------------------------------

HIP_L = np.array([-88.0, 15.0, 905.0])  # centre of the left femoral head
ILIUM_RIM = [
    [-42, -72, 1018],
    [-80, -66, 1042],
    [-114, -38, 1050],
    [-130, 2, 1045],
    [-128, 34, 1026],
    [-116, 58, 994],
    [-104, 48, 962],
    [-90, 18, 932],
    [-70, -22, 934],
    [-54, -46, 956],
    [-46, -44, 978],
    [-40, -58, 1000],
]
ILIUM_C = [-92, -8, 998]
n = len(ILIUM_RIM)
ilium_wing = sheet([ILIUM_C, *ILIUM_RIM], [[0, 1 + k, 1 + (k + 1) % n] for k in range(n)], 11.0)
OPEN = np.array([-0.75, 0.35, -0.55])
OPEN = OPEN / np.linalg.norm(OPEN)
cup = X(D(sph(HIP_L, 36), sph(HIP_L, 25.5)), hs(HIP_L + OPEN * 8, OPEN))
add(
    "Left ilium",
    U(
        ilium_wing,
        cap(ILIUM_RIM[:7], 6.5),
        X(cup, above(HIP_L[2] + 4)),
        cap([[-90, 10, 945], [-60, -30, 950], [-46, -48, 985]], 10),
    ),
    P["bone"],
    mirror_too=True,
)
add(
    "Left ischium",
    U(
        X(cup, below(HIP_L[2] + 4), behind(HIP_L[1] - 2)),
        cap([[-80, -12, 925], [-72, -20, 880], [-62, -26, 848]], [14, 13, 12]),
        ell([-60, -24, 842], [14, 18, 12]),
        cap([[-60, -16, 838], [-44, 18, 834], [-36, 40, 838]], 7),
        cap([[-62, -25, 895], [-46, -33, 892]], 5),
    ),
    P["bone"],
    mirror_too=True,
)
add(
    "Left pubis",
    U(
        X(cup, below(HIP_L[2] + 4), infront(HIP_L[1] - 2)),
        ell([-12, 80, 880], [10, 10, 21]),
        cap([[-12, 82, 896], [-45, 70, 906], [-72, 40, 912]], 10),
        cap([[-14, 76, 862], [-28, 58, 845], [-36, 42, 838]], 7),
    ),
    P["bone"],
    mirror_too=True,
)
add(
    "Left sacroiliac joint",
    ell([-47, -36, 982], [4.5, 20, 28], rot=[35, 0, 23.6]),
    P["small_joint"],
    mirror_too=True,
)
add("Left hip joint", sph(HIP_L, 30), P["joint"], mirror_too=True)
for b in ("ilium", "ischium", "pubis"):
    others = [ref(f"Left {o}") for o in ("ilium", "ischium", "pubis") if o != b]
    add(
        f"Near left {b}",
        X(D(shell(ref(f"Left {b}"), 10.0), *others, ref("Left hip joint")), aux("body")),
        P["near"],
        mirror_too=True,
    )

# ---- lower limb bones -----------------------------------------------------------------------

add(
    "Left femur",
    U(
        sph(HIP_L, 23.5),
        cap([HIP_L, [-125, 5, 885]], 15),
        ell([-140, -2, 888], [16, 22, 24]),
        sph([-104, -12, 852], 9),
        cap([[-128, 2, 872], [-112, -16, 700], [-97, -40, 545]], [15, 14, 15]),
        ell([-93, -48, 508], [40, 30, 25]),
    ),
    P["bone"],
    mirror_too=True,
)
add("Near left femur", X(shell(ref("Left femur"), 8.0), below(870)), P["near"], mirror_too=True)
add("Left patella", ell([-93, -9, 524], [21, 9.5, 23]), P["bone"], mirror_too=True)
add(
    "Left tibia",
    U(
        ell([-92, -50, 470], [38, 30, 16]),
        cap([[-91, -48, 462], [-88, -55, 280], [-86, -58, 112]], [16, 13, 14]),
        ell([-86, -58, 94], [20, 20, 13]),
        cap([[-72, -58, 96], [-71, -60, 68]], 8),
    ),
    P["bone"],
    mirror_too=True,
)
add(
    "Left fibula",
    U(
        cap([[-122, -62, 458], [-118, -66, 300], [-114, -69, 102]], [10, 7, 7]),
        cap([[-114, -69, 102], [-113, -70, 64]], 8),
    ),
    P["bone"],
    mirror_too=True,
)
add(
    "Left knee joint",
    U(ell([-93, -45, 493], [46, 38, 24]), ell([-93, -18, 548], [30, 12, 34])),
    P["joint"],
    mirror_too=True,
)

# ---- upper limb bones (arm group) ------------------------------------------------------------

S_ = SHOULDER_L
add(
    "Left humerus",
    U(
        sph(S_, 23),
        cap([S_ + np.array([-4.0, -2, -22]), [-214, -17, 1200], [-226, -20, 1125]], [15, 11.5, 11]),
        cap([[-205, -21, 1098], [-253, -21, 1098]], 8.5),
        ell([-229, -17, 1092], [22, 12, 11]),
    ),
    P["bone"],
    group="arm_L",
    mirror_too=True,
)
add(
    "Left ulna",
    U(
        cap([[-221, -38, 1100], [-220, -28, 1072]], 9),
        cap([[-220, -28, 1072], [-227, -15, 860]], [8, 6]),
        sph([-229, -13, 849], 7),
    ),
    P["bone"],
    group="arm_L",
    mirror_too=True,
)
add(
    "Left radius",
    U(
        sph([-246, -20, 1077], 10),
        cap([[-246, -20, 1070], [-250, -12, 960], [-258, -6, 852]], [7, 7, 11]),
    ),
    P["bone"],
    group="arm_L",
    mirror_too=True,
)
add(
    "Left elbow joint",
    ell([-229, -20, 1086], [30, 22, 19]),
    P["joint"],
    group="arm_L",
    mirror_too=True,
)
add(
    "Left shoulder joint",
    sph(S_ + np.array([3.0, 0, 0]), 29),
    P["joint"],
    group="arm_L",
    mirror_too=True,
)

# ---- skull ------------------------------------------------------------------------------------

SKULL_C = [0, -5, 1655]
SKULL_OUT = [71, 93, 89]
SKULL_IN = [63, 85, 80]
BASE = plane3(
    [0, 10, 1603], [0, 70, 1630], [50, 10, 1603], keep=[0, 0, 1700]
)  # above the cranial floor
BASE_BELOW = plane3([0, 10, 1603], [0, 70, 1630], [50, 10, 1603], keep=[0, 0, 1500])
add(
    "Skull",
    U(
        X(
            D(ell(SKULL_C, SKULL_OUT), ell(SKULL_C, SKULL_IN)),
            plane3([0, 10, 1585], [0, 70, 1612], [50, 10, 1585], keep=[0, 0, 1700]),
        ),
        # skull base: a plate under the brain
        X(
            ell(SKULL_C, SKULL_OUT),
            BASE_BELOW,
            plane3([0, 10, 1584], [0, 70, 1611], [50, 10, 1584], keep=[0, 0, 1700]),
            box([-62, -80, 1560], [62, 80, 1660]),
        ),
        cap([[0, 18, 1604], [0, 12, 1582]], 9),  # clivus
        cap([[-60, 28, 1606], [-57, 58, 1612], [-45, 72, 1622]], 5),  # zygomatic arch
        cap([[60, 28, 1606], [57, 58, 1612], [45, 72, 1622]], 5),
        shell(sph([-32, 66, 1634], 15), 3.5),  # orbit walls
        shell(sph([32, 66, 1634], 15), 3.5),
    ),
    P["bone"],
)
add("Brain", X(ell(SKULL_C, SKULL_IN), BASE), P["sense"] - 2)
add("Left mastoid process", ell([-50, -25, 1592], [9, 11, 14]), P["bone_part"], mirror_too=True)
add(
    "Maxilla",
    D(
        U(
            ell([0, 60, 1590], [40, 30, 21]),
            ell([-40, 52, 1600], [14, 16, 14]),
            ell([40, 52, 1600], [14, 16, 14]),
        ),
        ell([0, 80, 1620], [16, 14, 14]),
    ),
    P["bone"],
)
add(
    "Upper alveolar cavity",
    cap(
        [
            [-31, 34, 1566],
            [-27, 58, 1564],
            [-14, 72, 1563],
            [0, 76, 1563],
            [14, 72, 1563],
            [27, 58, 1564],
            [31, 34, 1566],
        ],
        7,
    ),
    P["bone_part"],
)
add(
    "Mandible",
    U(
        cap(
            [
                [-47, 2, 1528],
                [-41, 40, 1512],
                [-20, 68, 1504],
                [0, 76, 1502],
                [20, 68, 1504],
                [41, 40, 1512],
                [47, 2, 1528],
            ],
            8.5,
        ),
        cap([[-47, 2, 1528], [-50, -2, 1572], [-52, -6, 1600]], [8, 7, 6.5]),
        cap([[47, 2, 1528], [50, -2, 1572], [52, -6, 1600]], [8, 7, 6.5]),
    ),
    P["bone"],
)
add(
    "Lower alveolar cavity",
    cap(
        [
            [-36, 26, 1532],
            [-29, 50, 1527],
            [-15, 66, 1524],
            [0, 71, 1523],
            [15, 66, 1524],
            [29, 50, 1527],
            [36, 26, 1532],
        ],
        6.5,
    ),
    P["bone_part"],
)

# ------------------------------------------------------------------------------------------
# head and neck organs

add(
    "Left eye",
    U(sph([-32, 66, 1634], 12), cap([[-32, 60, 1634], [-22, 36, 1628]], [11, 5])),
    P["cavity_in_bone"],
    mirror_too=True,
)
add(
    "Left ear",
    U(
        aux("auricle_L"),
        cap([[-80, -10, 1612], [-46, -8, 1608]], 5),
        ell([-38, -10, 1607], [10, 8, 7]),
    ),
    P["cavity_in_bone"] + 1,
    mirror_too=True,
)
add(
    "Left nasal cavity",
    D(ell([-8, 64, 1606], [7.5, 36, 22]), right_of(-1)),
    P["cavity_in_bone"],
    mirror_too=True,
)
add(
    "Left nasal sinus",
    U(
        ell([-30, 55, 1598], [14, 17, 17]),
        ell([-13, 56, 1632], [6, 17, 10]),
        ell([-12, 80, 1676], [10, 6, 11]),
        ell([-9, 20, 1608], [8, 11, 10]),
    ),
    P["cavity_in_bone"],
    mirror_too=True,
)
add("Tongue", ell([0, 50, 1540], [24, 30, 17]), P["organ"] - 1)
add("Base of tongue", ell([0, 30, 1531], [18, 10, 14]), P["organ"])
add("Nasopharynx", ell([0, 36, 1592], [14, 9, 11]), P["organ"] + 1)
add("Oropharynx", cap([[0, 36, 1578], [0, 33, 1518]], 10), P["organ"] + 1)
add("Left tonsil", ell([-14, 36, 1560], [7, 7, 11]), P["organ"] + 2, mirror_too=True)
add("Larynx", ell([0, 40, 1487], [20, 17, 24]), P["organ"] + 1)
add("Left retropharyngeal", ell([-11, 24, 1556], [6.5, 5, 15]), P["node"], mirror_too=True)
add("Left parapharyngeal", ell([-30, 32, 1562], [9, 11, 24]), P["node"], mirror_too=True)
add("Left parotid gland", ell([-45, 6, 1576], [12, 17, 24]), P["organ"], mirror_too=True)
add("Left submandibular gland", ell([-32, 42, 1510], [12, 14, 10]), P["organ"], mirror_too=True)
add("Left lobe of thyroid", ell([-19, 31, 1455], [9, 10, 20]), P["organ"], mirror_too=True)
add("Isthmus of thyroid", ell([0, 43, 1447], [12, 5, 7]), P["organ"])
add(
    "Left neck",
    X(
        U(cap([[-38, 14, 1548], [-42, 18, 1452]], 11), ell([-52, -18, 1478], [14, 14, 32])),
        aux("neck_fascia"),
    ),
    P["node"],
    mirror_too=True,
)
add(
    "Left supraclavicular",
    X(ell([-58, 36, 1440], [26, 17, 15]), aux("fascia")),
    P["node"],
    mirror_too=True,
)

# ------------------------------------------------------------------------------------------
# chest: airway, vessels, heart, mediastinal stations, hila, lungs

TRACHEA = [[0, 34, 1470], [0, 33, 1430], [0, 28, 1395], [1, 22, 1352]]
ESOPHAGUS = [
    [0, 20, 1470],
    [-2, 14, 1430],
    [-4, 9, 1395],
    [-3, 6, 1352],
    [-2, 5, 1300],
    [-6, 12, 1250],
    [-14, 22, 1215],
    [-26, 28, 1198],
]
AORTA_T = [
    [5, 40, 1318],
    [15, 42, 1345],
    [12, 35, 1368],
    [0, 20, 1378],
    [-18, 5, 1374],
    [-24, -8, 1358],
    [-24, -12, 1320],
    [-20, -10, 1260],
    [-14, -2, 1215],
    [-6, 10, 1176],
]
add("Trachea", cap(TRACHEA, 9.5), P["vessel"] + 1)
add("Esophagus", cap(ESOPHAGUS, 8), P["vessel"])
add("Thoracic aorta", cap(AORTA_T, [15, 16, 14, 13, 13, 12, 12, 12, 11.5, 11]), P["vessel"])
HEART_C = np.array([-26, 46, 1288])
HEART_DIR = np.array([-0.72, 0.5, -0.48])
add(
    "Heart",
    U(
        ell(HEART_C, [62, 44, 42], rot=rot_from_dir(HEART_DIR)),
        cap([[-10, 58, 1312], [-12, 36, 1342]], 14),  # pulmonary trunk
        cap(
            [[-12, 36, 1342], [10, 26, 1336], [22, 22, 1333]], 10
        ),  # right pulmonary artery (proximal)
        cap(
            [[20, 32, 1300], [22, 30, 1330], [18, 34, 1385]], 11
        ),  # superior vena cava and right atrial appendage
    ),
    P["organ"] + 1,
    group="heart",
)
GROUPS["heart"] = {
    "anchor": r1(HEART_C),
    "jitter": {"shift_mm": [6, 6, 8], "scale": 0.06},
    "doc": "heart and pericardium",
}
add("Pericardium", D(shell(ref("Heart"), 5.0), aux("subphrenic")), P["organ"], group="heart")
add(
    "Left pulmonary hilum",
    U(
        cap([[-20, 18, 1346], [-48, 10, 1326], [-58, 4, 1306]], 11),
        cap([[-26, 28, 1346], [-48, 15, 1340], [-60, 5, 1322]], 10),
        ell([-56, 4, 1298], [13, 17, 20]),
    ),
    P["hilum"],
)
add(
    "Right pulmonary hilum",
    U(
        cap([[18, 18, 1345], [38, 12, 1322], [46, 8, 1296]], 11),
        cap([[22, 24, 1336], [44, 18, 1325]], 10),
        ell([48, 8, 1298], [13, 17, 20]),
    ),
    P["hilum"],
)

# mediastinal stations (IASLC): boxes inside the mediastinal compartment, later ones on top
MED = aux("mediastinum")
add("Mediastinum 8", X(MED, below(1342)), P["station"])
add("Mediastinum 1R", X(MED, above(1404), right_of(0)), P["station"])
add("Mediastinum 1L", X(MED, above(1404), left_of(0)), P["station"])
add("Mediastinum 2R", X(MED, above(Z["lbcv"]), below(1404), right_of(-10)), P["station"])
add("Mediastinum 2L", X(MED, above(Z["arch_top"]), below(1404), left_of(-10)), P["station"])
add("Mediastinum 4R", X(MED, above(1340), below(Z["lbcv"]), right_of(-10)), P["station"])
add("Mediastinum 4L", X(MED, above(1336), below(Z["arch_top"]), left_of(-10)), P["station"])
add("Mediastinum 3A", X(MED, above(1300), below(1410), infront(52)), P["station"] + 1)
add(
    "Mediastinum 3P",
    X(MED, above(Z["carina"]), below(1410), behind(13), box([-16, -40, 1300], [16, 13, 1470])),
    P["station"] + 1,
)
add(
    "Mediastinum 5",
    X(MED, above(1334), below(1350), left_of(-22), box([-80, -12, 1330], [-22, 30, 1352])),
    P["station"] + 2,
)
add(
    "Mediastinum 6",
    X(MED, above(1348), below(1394), left_of(-8), box([-70, 14, 1346], [-8, 60, 1396])),
    P["station"] + 2,
)
add("Mediastinum 7", X(MED, box([-22, -12, 1298], [22, 28, 1350])), P["station"] + 2)
add(
    "Mediastinum 9",
    U(ell([-34, -14, 1238], [8, 10, 30]), ell([30, -12, 1238], [8, 10, 30])),
    P["station"] + 3,
)
add(
    "Pericardiophrenic region",
    U(
        X(MED, below(1262), infront(30)),
        ell([40, 48, 1244], [22, 24, 16]),
        ell([-86, 56, 1240], [22, 24, 16]),
    ),
    P["station"] + 1,
)
add(
    "Left internal mammary region",
    cap([[-28, 84, 1398], [-30, 96, 1330], [-28, 100, 1260]], 7),
    P["node"],
    mirror_too=True,
)

# lungs: lobes by the fissures, segments by seeds
OBL_L = [[0, -78, 1372], [0, 85, 1225]]
OBL_R = [[0, -78, 1352], [0, 85, 1215]]


def fissure(pts, keep_upper):
    (_, y0, z0), (_, y1, z1) = pts
    a, b = np.array([0, y0, z0], float), np.array([0, y1, z1], float)
    c = a + np.array([50.0, 0, 0])
    keep = [0, 60, 1420] if keep_upper else [0, -70, 1200]
    return plane3(a, b, c, keep)


add_aux("lul", X(aux("lung_L"), fissure(OBL_L, True)))
add_aux("lll", X(aux("lung_L"), fissure(OBL_L, False)))
add_aux("rul", X(aux("lung_R"), fissure(OBL_R, True), above(1318)))
add_aux("rml", X(aux("lung_R"), fissure(OBL_R, True), below(1318)))
add_aux("rll", X(aux("lung_R"), fissure(OBL_R, False)))
SEG = {
    "lul": {
        "Left upper lobe apex posterior segment": [
            [-40, -20, 1435],
            [-70, -40, 1385],
            [-88, -55, 1362],
            [-60, -10, 1410],
        ],
        "Left upper lobe anterior segment": [
            [-55, 50, 1380],
            [-88, 38, 1352],
            [-40, 64, 1360],
            [-100, 10, 1345],
        ],
        "Left upper lobe upper tongue segment": [[-108, 28, 1305], [-98, 50, 1300]],
        "Left upper lobe lower tongue segment": [[-92, 66, 1262], [-62, 80, 1262]],
    },
    "lll": {
        "Left lower lobe dorsal segment": [[-55, -62, 1330], [-92, -50, 1318]],
        "Left lower lobe anterior basal segment": [[-60, 22, 1222], [-84, 34, 1228]],
        "Left lower lobe outer basal segment": [[-118, -12, 1214], [-112, 8, 1225]],
        "Left lower lobe posterior basal segment": [[-55, -66, 1222], [-88, -70, 1214]],
    },
    "rul": {
        "Right upper lobe apex segment": [[45, -10, 1438], [72, 0, 1412]],
        "Right upper lobe posterior segment": [[82, -52, 1372], [100, -30, 1360]],
        "Right upper lobe anterior segment": [[72, 46, 1360], [102, 30, 1340], [45, 62, 1345]],
    },
    "rml": {
        "Right middle lobe lateral segment": [[112, 30, 1292], [100, 50, 1280]],
        "Right middle lobe medial segment": [[52, 68, 1282], [40, 72, 1258]],
    },
    "rll": {
        "Right lower lobe dorsal segment": [[60, -62, 1322], [96, -50, 1312]],
        "Right lower lobe inner basal segment": [[30, 8, 1212]],
        "Right lower lobe anterior basal segment": [[86, 36, 1215], [70, 50, 1225]],
        "Right lower lobe outer basal segment": [[122, -10, 1205], [118, 10, 1215]],
        "Right lower lobe posterior basal segment": [[60, -68, 1212], [96, -66, 1205]],
    },
}
for lobe, segs in SEG.items():
    PARTS[lobe] = {
        "container": aux(lobe),
        "seeds": {lab: pts for lab, pts in segs.items()},
        "doc": f"bronchopulmonary segments of {lobe}",
    }
    for lab in segs:
        add(lab, cell(lobe, lab), P["lung"])
add(
    "Left costophrenic angle",
    X(
        aux("lung_L"),
        shell(aux("subphrenic"), 24.0),
        shell(aux("ribcage_inner"), 26.0, side="inner"),
        below(1215),
    ),
    P["recess"],
)
add(
    "Right costophrenic angle",
    X(
        aux("lung_R"),
        shell(aux("subphrenic"), 24.0),
        shell(aux("ribcage_inner"), 26.0, side="inner"),
        below(1232),
    ),
    P["recess"],
)

# ------------------------------------------------------------------------------------------
# abdomen

ABD = aux("abdomen")
add(
    "Right diaphragm",
    X(shell(aux("subphrenic"), 6.0), off(aux("ribcage_inner"), 8.0), above(1125), right_of(0)),
    P["organ"] - 1,
)
add(
    "Left diaphragm",
    X(shell(aux("subphrenic"), 6.0), off(aux("ribcage_inner"), 8.0), above(1125), left_of(0)),
    P["organ"] - 1,
)
add(
    "Right crus of diaphragm",
    cap([[10, 14, 1062], [18, 8, 1112], [20, 6, 1160], [12, 18, 1205]], [5, 7, 8, 6]),
    P["organ"],
)
add(
    "Left crus of diaphragm",
    cap([[-10, 14, 1092], [-18, 6, 1130], [-20, 6, 1165], [-14, 20, 1200]], [4.5, 6, 7, 5.5]),
    P["organ"],
)
AORTA_A = [[-6, 10, 1176], [-7, 24, 1140], [-8, 36, 1095], [-9, 40, 1045]]
add("Abdominal aorta", cap(AORTA_A, [11, 10.5, 10, 9.5]), P["vessel"])

# liver (group "liver")
LIVER_C = np.array([45, 5, 1165])
GROUPS["liver"] = {
    "anchor": r1(LIVER_C),
    "jitter": {"shift_mm": [6, 6, 6], "scale": 0.07},
    "doc": "liver, its segments and surroundings",
}
KIDNEY_L = dict(c=[-72, -36, 1118], r=[28, 24, 56], rot=[15, 12, 0])
KIDNEY_R = dict(c=[72, -36, 1100], r=[28, 24, 56], rot=[15, -12, 0])
add_aux(
    "liver",
    D(
        X(
            ABD,
            off(aux("subphrenic"), -1.0),
            ell(LIVER_C, [122, 95, 100]),
            plane3([130, -20, 1078], [-70, 20, 1168], [30, 96, 1112], keep=[40, 0, 1200]),
            infront(-95),
        ),
        off(ell(KIDNEY_R["c"], KIDNEY_R["r"], KIDNEY_R["rot"]), 8.0),
        off(aux("spine_block"), 4.0),
    ),
    group="liver",
    doc="liver envelope (Couinaud segments partition it)",
)
PARTS["liver"] = {
    "container": aux("liver"),
    "group": "liver",
    "seeds": {
        "Liver S2": [[-45, -12, 1192], [-25, -2, 1208], [-60, 5, 1185]],
        "Liver S3": [[-45, 45, 1152], [-20, 62, 1140], [-62, 30, 1160]],
        "Liver S4": [[6, 40, 1200], [6, 62, 1145], [0, 24, 1172], [10, 70, 1180]],
        "Liver S5": [[46, 56, 1120], [62, 40, 1110], [40, 68, 1135]],
        "Liver S8": [[50, 26, 1205], [58, 10, 1222], [40, 45, 1195]],
        "Liver S6": [[110, -15, 1105], [96, -35, 1112], [115, 10, 1098]],
        "Liver S7": [[100, -30, 1195], [82, -48, 1205], [110, -10, 1190]],
    },
    "doc": "Couinaud segments II-VIII of the liver envelope (I is carved separately)",
}
for s_ in ("S2", "S3", "S4", "S5", "S6", "S7", "S8"):
    add(f"Liver {s_}", cell("liver", f"Liver {s_}"), P["organ"], group="liver")
add("Liver S1", X(aux("liver"), ell([12, 16, 1168], [18, 14, 30])), P["organ"] + 1, group="liver")
add(
    "Porta hepatis",
    X(off(aux("liver"), 6.0), ell([24, 18, 1136], [22, 15, 12])),
    P["organ"] + 2,
    group="liver",
)
add("Around the liver", X(shell(aux("liver"), 10.0), ABD), P["near"], group="liver")
GB_DIR = np.array([-0.15, -0.75, 0.64])
add(
    "Gallbladder",
    ell([58, 52, 1108], [36, 15, 15], rot=rot_from_dir(-GB_DIR)),
    P["organ"] + 3,
    group="liver",
)

# spleen, stomach, pancreas
SPLEEN_C = np.array([-86, -28, 1170])
GROUPS["spleen"] = {
    "anchor": r1(SPLEEN_C),
    "jitter": {"shift_mm": [6, 8, 10], "scale": 0.12},
    "doc": "spleen and surroundings",
}
add(
    "Spleen",
    X(ell(SPLEEN_C, [54, 22, 44], rot=rot_from_dir([-0.35, 0.8, -0.4], roll=-30)), ABD),
    P["organ"],
    group="spleen",
)
add(
    "Splenic hilum",
    D(X(ell([-66, -16, 1166], [12, 16, 20]), ABD), ref("Spleen")),
    P["organ"] - 1,
    group="spleen",
)
add("Around the spleen", X(shell(ref("Spleen"), 10.0), ABD), P["near"], group="spleen")
STOMACH = [
    [-62, 2, 1188],
    [-70, 30, 1150],
    [-55, 52, 1118],
    [-22, 62, 1098],
    [8, 56, 1100],
    [26, 45, 1108],
]
GROUPS["stomach"] = {
    "anchor": [-45, 35, 1140],
    "jitter": {"shift_mm": [6, 6, 8], "scale": 0.1},
    "doc": "stomach and perigastric tissue",
}
add("Stomach", X(cap(STOMACH, [38, 36, 32, 24, 18, 13]), ABD), P["bowel"] + 3, group="stomach")
add("Cardia of stomach", sph([-32, 26, 1195], 14), P["organ"] + 2, group="stomach")
add("Near the stomach", X(shell(ref("Stomach"), 12.0), ABD), P["near"], group="stomach")
add("Hepatic-gastric space", X(ell([-14, 32, 1160], [24, 16, 24]), ABD), P["near"] + 1)
add("Splenic-gastric space", X(ell([-96, -8, 1180], [14, 18, 24]), ABD), P["near"] + 1)
PANC = [
    [30, 12, 1112],
    [15, 22, 1122],
    [0, 28, 1128],
    [-30, 15, 1138],
    [-65, -14, 1150],
    [-80, -24, 1158],
]
add("Pancreas", cap(PANC, [17, 13, 11, 11, 10, 9]), P["organ"])
add("Around the pancreas", X(shell(ref("Pancreas"), 10.0), ABD), P["near"])

# kidneys and adrenals (groups kidney_L / kidney_R)
for side, K, ad in (
    ("Left", KIDNEY_L, dict(c=[-45, -28, 1170], r=[6, 16, 22], rot=[0, 0, 30])),
    ("Right", KIDNEY_R, dict(c=[38, -25, 1180], r=[6, 15, 22], rot=[0, 0, -30])),
):
    g = f"kidney_{side[0]}"
    GROUPS[g] = {
        "anchor": r1(K["c"]),
        "jitter": {"shift_mm": [5, 5, 10], "scale": 0.06},
        "doc": f"{side.lower()} kidney and perirenal space",
    }
    add(f"{side} kidney", ell(K["c"], K["r"], K["rot"]), P["organ"] + 1, group=g)
    add(f"{side} adrenal gland", ell(ad["c"], ad["r"], ad["rot"]), P["organ"] + 2)
    add(
        f"Renal fascia of {side.lower()} kidney",
        X(shell(U(ref(f"{side} kidney"), ref(f"{side} adrenal gland")), 12.0), ABD),
        P["near"] + 2,
        group=g,
    )
URETER_L = [[-52, -32, 1104], [-45, -14, 1060], [-42, 0, 1010], [-48, 16, 974]]
URETER_PELV_L = [[-48, 16, 974], [-58, 6, 940], [-55, 16, 902], [-25, 30, 880]]
add(
    "Ureter",
    U(
        cap(URETER_L, 4.5),
        cap([[52, -32, 1088], [45, -14, 1046], [42, 0, 1004], [48, 16, 974]], 4.5),
    ),
    P["duct"],
)
add(
    "Ureter in pelvic cavity",
    U(cap(URETER_PELV_L, 4.5), cap(mirror(cap(URETER_PELV_L, 4.5))["path"], 4.5)),
    P["duct"],
)

# bowel
COLON = [
    [98, 4, 1000],
    [102, 0, 1070],
    [90, 12, 1112],
    [60, 54, 1096],
    [20, 68, 1082],
    [-20, 68, 1086],
    [-60, 54, 1112],
    [-90, 10, 1150],
    [-102, -6, 1110],
    [-104, -6, 1040],
    [-96, 10, 990],
    [-70, 38, 966],
    [-35, 44, 955],
    [-10, 20, 938],
    [0, -10, 935],
]
COLON_R = [25, 25, 24, 22, 22, 22, 22, 21, 19, 19, 18, 16, 16, 16, 16]
add("Large intestine", X(cap(COLON, COLON_R), ABD), P["bowel"] + 1)
add("Cecum", X(ell([90, 20, 982], [30, 28, 30]), ABD), P["bowel"] + 2)
add("Appendix", cap([[80, 24, 966], [68, 20, 946], [60, 14, 926]], 4.5), P["bowel"] + 3)
add(
    "Rectum",
    cap([[0, -10, 935], [0, -22, 910], [0, -28, 890], [0, -18, 868]], [16, 17, 17, 15]),
    P["bowel"] + 2,
)
add(
    "Anal canal",
    X(cap([[0, -16, 866], [0, -14, 846], [0, -18, 832]], [11, 10, 9]), aux("body")),
    P["bowel"] + 3,
)
DUOD = [
    [26, 45, 1108],
    [45, 25, 1115],
    [50, 15, 1095],
    [48, 18, 1070],
    [20, 30, 1058],
    [-10, 32, 1060],
    [-22, 25, 1080],
    [-30, 20, 1095],
]
add(
    "Small intestine",
    U(cap(DUOD, 13), X(ABD, BRIM, ell([0, 30, 1030], [105, 62, 78]), infront(-20))),
    P["bowel"],
)
add("Mesentery", X(ABD, ell([12, 30, 1040], [18, 22, 62], rot=[0, 40, 0])), P["bowel"] + 0.5)
add(
    "Peritoneum",
    U(
        X(shell(aux("abd_wall_inner"), 5.0, side="inner"), ABD, BRIM, infront(-30)),
        X(
            ABD,
            BRIM,
            box([-100, 58, 990], [100, 100, 1085]),
            shell(aux("abd_wall_inner"), 22.0, side="inner"),
        ),
    ),
    P["serosa"],
)
add("Retroperitoneum", X(ABD, BRIM, box([-70, -70, 1000], [70, 55, 1190]), behind(42)), P["retro"])
add("Abdominal cavity", X(ABD, BRIM), P["cavity"])
add("Navel", X(ell([0, 113, Z["navel"]], [11, 9, 11]), aux("body")), P["skin_pt"])

# ------------------------------------------------------------------------------------------
# pelvis

PELV = X(ABD, BRIM_BELOW)
add("Pelvic cavity", PELV, P["cavity"])
GROUPS["bladder"] = {
    "anchor": [0, 35, 880],
    "jitter": {"shift_mm": [3, 4, 4], "scale": 0.2},
    "doc": "urinary bladder (filling)",
}
add("Bladder", ell([0, 35, 905], [45, 32, 35]), P["organ"] + 1, group="bladder")
ILIAC_L = [
    [-8, 40, 1043],
    [-30, 35, 1010],
    [-48, 25, 985],
    [-62, 30, 950],
    [-72, 45, 915],
    [-80, 60, 893],
]
ILIAC_INT_L = [[-48, 25, 985], [-55, 5, 955], [-50, -5, 930]]
add(
    "Left iliac vessel",
    U(cap(ILIAC_L, [9, 9, 9, 8.5, 8.5, 8.5]), cap(ILIAC_INT_L, 6.5)),
    P["vessel"],
    mirror_too=True,
)
add(
    "Near left iliac vessel",
    X(U(shell(ref("Left iliac vessel"), 12.0), ell([-58, 42, 895], [10, 12, 12])), ABD),
    P["near"] + 1,
    mirror_too=True,
)
add(
    "Pelvic peritoneum",
    X(PELV, U(shell(ref("Bladder"), 7.0), ell([0, 0, 895], [40, 12, 14])), above(885), behind(60)),
    P["serosa"],
)
add("Pelvic mesentery", X(PELV, ell([-22, 22, 948], [40, 24, 22])), P["mesentery"])
add("Prostate gland", ell([0, 30, 852], [20, 15, 15]), P["organ"] + 1, sex="male")
add(
    "Urethra",
    sw(
        "sex",
        {
            "male": cap(
                [
                    [0, 35, 872],
                    [0, 32, 850],
                    [0, 40, 832],
                    [0, 66, 826],
                    [0, 92, 818],
                    [0, 106, 790],
                    [0, 114, 770],
                ],
                4.5,
            ),
            "female": cap([[0, 36, 870], [0, 44, 846], [0, 50, 826]], 4.5),
        },
    ),
    P["duct"],
)
add(
    "Penis", cap([[0, 78, 838], [0, 100, 815], [0, 112, 782]], [16, 16, 14]), P["organ"], sex="male"
)
add("Scrotum", ell([0, 72, 796], [33, 30, 38]), P["organ"] - 1, sex="male")
add("Uterus", ell([0, 8, 930], [28, 20, 40], rot=[-40, 0, 0]), P["organ"] + 2, sex="female")
add("Vagina", cap([[0, -6, 893], [0, 8, 860], [0, 22, 828]], 9), P["organ"] + 2, sex="female")
add(
    "Left uterine appendage",
    ell([-55, 5, 925], [18, 14, 20]),
    P["organ"] + 1,
    sex="female",
    mirror_too=True,
)
add(
    "Left inguinal region",
    X(ell([-80, 62, 872], [30, 20, 30], rot=[0, 0, -35]), aux("body")),
    P["node"],
    mirror_too=True,
)

# ------------------------------------------------------------------------------------------
# chest wall, breast, axilla

PELV_ZONE_L = hip_zone_L()
ABD_ZONE_L = D(X(costal_plane(False), left_of(0)), PELV_ZONE_L)
BUTTOCK_ZONE_L = X(PELV_ZONE_L, above(812), U(behind(-8), above(905)))
HEAD_ZONE = PLANE_HEAD
NECK_CYL = loft([(1380, 0, -8, 78, 78), (1600, 0, -8, 78, 78)])
NECK_ZONE = X(
    plane3([0, 90, 1496], [0, -80, 1572], [60, 90, 1496], keep=[0, 0, 1450]),
    PLANE_NECK_ABOVE,
    NECK_CYL,
)
CHEST_ZONE_L = D(
    X(
        plane3([0, 90, 1496], [0, -80, 1572], [60, 90, 1496], keep=[0, 0, 1450]),
        costal_plane(True),
        left_of(0),
    ),
    NECK_ZONE,
)
add_aux(
    "skin_layer",
    D(
        aux("body"),
        aux("fascia"),
        aux("arm_fascia_L"),
        aux("arm_fascia_R"),
        aux("foot_L"),
        aux("foot_R"),
    ),
    doc="subcutaneous layer of the whole body: inside the skin, outside the deep fascia",
)
SKIN = aux("skin_layer")
FASC = aux("fascia")

add(
    "Left chest wall",
    X(
        shell(aux("ribcage_inner"), 13.0),
        PLANE_NECK_BELOW,
        above(1150),
        left_of(0),
        D(FASC, aux("arm_L")),
    ),
    P["part"],
    mirror_too=True,
)
add(
    "Left axilla",
    X(ell([-150, -4, 1346], [28, 40, 48]), aux("body"), right_of(-180)),
    P["node"],
    mirror_too=True,
)
add(
    "Inner side of the left pectoralis minor muscle",
    ell([-98, 50, 1394], [16, 12, 12]),
    P["node"],
    mirror_too=True,
)
add(
    "Left interpectoral space",
    X(ell([-98, 68, 1360], [28, 5, 28], rot=[0, 0, -35]), FASC),
    P["node"],
    mirror_too=True,
)
add(
    "Deep aspect of left latissimus dorsi",
    X(ell([-124, -46, 1320], [15, 15, 40]), FASC),
    P["node"],
    mirror_too=True,
)
BREAST_F_L = ([-95, 98, 1278], [72, 46, 66], [0, 0, -12])
add(
    "Left breast",
    sw(
        "sex",
        {
            "female": X(
                aux("body"),
                U(ell(*BREAST_F_L[:2], BREAST_F_L[2]), ell([-95, 85, 1278], [62, 20, 56])),
                infront(60),
            ),
            "male": X(SKIN, ell([-95, 92, 1290], [52, 30, 48])),
        },
    ),
    P["breast"],
    mirror_too=True,
)
add(
    "Left mammary gland",
    sw(
        "sex",
        {
            "female": ell([-95, 104, 1276], [46, 24, 44], rot=[0, 0, -12]),
            "male": ell([-95, 82, 1290], [17, 6, 15]),
        },
    ),
    P["gland_m"],
    mirror_too=True,
)
add(
    "Left nipple",
    sw(
        "sex",
        {
            "female": X(aux("body"), ell([-104, 140, 1272], [9, 8, 9])),
            "male": X(aux("body"), ell([-95, 92, 1290], [9, 7, 9])),
        },
    ),
    P["skin_pt"],
    mirror_too=True,
)

# ------------------------------------------------------------------------------------------
# trunk, head and neck fillers: muscle (inside the deep fascia) and subcutaneous tissue

NOT_ARMS = None
add("Left chest muscle", X(FASC, CHEST_ZONE_L, infront(BACK_Y_CHEST)), P["muscle"], mirror_too=True)
add(
    "Left upper back muscle",
    X(FASC, CHEST_ZONE_L, behind(BACK_Y_CHEST)),
    P["muscle"],
    mirror_too=True,
)
# the lower back: behind the flank line, and behind the vertebral bodies near the midline
LOWBACK_L = U(behind(BACK_Y_ABD), X(behind(-15), right_of(-60)))
add("Left abdominal wall", D(X(FASC, ABD_ZONE_L), LOWBACK_L), P["muscle"], mirror_too=True)
add("Left lower back muscle", X(FASC, ABD_ZONE_L, LOWBACK_L), P["muscle"], mirror_too=True)
add(
    "Left lumbar muscle",
    U(
        X(
            cap(
                [[-28, 4, 1152], [-42, 12, 1080], [-52, 20, 1010], [-66, 30, 960], [-80, 42, 925]],
                [9, 17, 22, 21, 18],
            ),
            above(925),
        ),
        X(boxc([-68, -70, 1085], [34, 16, 100], rot=[0, 0, -8], rnd=6), ABD_ZONE_L),
    ),
    P["lumbar_m"],
    mirror_too=True,
)
add("Left buttock muscle", X(FASC, BUTTOCK_ZONE_L), P["muscle"] + 1, mirror_too=True)
add(
    "Between left buttock muscles",
    X(
        U(
            cap([[-58, -72, 952], [-85, -80, 882], [-98, -74, 820]], 8),
            ell([-118, -74, 952], [40, 6, 42], rot=[0, 0, 32]),
        ),
        FASC,
    ),
    P["between"],
    mirror_too=True,
)
add("Left neck muscle", X(FASC, NECK_ZONE, left_of(0)), P["muscle"], mirror_too=True)
add(
    "Left facial muscle", X(FASC, HEAD_ZONE, infront(-25), left_of(0)), P["muscle"], mirror_too=True
)
add(
    "Left occipital muscle",
    X(FASC, HEAD_ZONE, behind(-25), left_of(0)),
    P["muscle"],
    mirror_too=True,
)

add(
    "Left facial subcutaneous tissue",
    X(SKIN, HEAD_ZONE, infront(-25), left_of(0)),
    P["subcut"],
    mirror_too=True,
)
add(
    "Left occipital subcutaneous tissue",
    X(SKIN, HEAD_ZONE, behind(-25), left_of(0)),
    P["subcut"],
    mirror_too=True,
)
add("Left neck subcutaneous tissue", X(SKIN, NECK_ZONE, left_of(0)), P["subcut"], mirror_too=True)
add(
    "Left chest subcutaneous tissue",
    X(SKIN, CHEST_ZONE_L, infront(BACK_Y_CHEST)),
    P["subcut"],
    mirror_too=True,
)
add(
    "Left upper back subcutaneous tissue",
    X(SKIN, CHEST_ZONE_L, behind(BACK_Y_CHEST)),
    P["subcut"],
    mirror_too=True,
)
MONS = box([-45, 20, 800], [45, 200, 1000])
add(
    "Left abdominal subcutaneous tissue",
    U(D(X(SKIN, ABD_ZONE_L), LOWBACK_L), X(SKIN, PELV_ZONE_L, MONS, above(850))),
    P["subcut"],
    mirror_too=True,
)
add(
    "Left lower back subcutaneous tissue",
    X(SKIN, ABD_ZONE_L, LOWBACK_L),
    P["subcut"],
    mirror_too=True,
)
add("Left buttock subcutaneous tissue", X(SKIN, BUTTOCK_ZONE_L), P["subcut"] + 1, mirror_too=True)

# ------------------------------------------------------------------------------------------
# lower limb soft tissue

THIGH_ZONE_L = X(PELV_ZONE_L, above(492))
add("Left thigh muscle", X(FASC, THIGH_ZONE_L), P["muscle"], mirror_too=True)
add(
    "Left thigh subcutaneous tissue",
    D(X(SKIN, THIGH_ZONE_L), X(MONS, above(850))),
    P["subcut"],
    mirror_too=True,
)
add(
    "Between left thigh muscles",
    X(
        U(
            cap([[-80, 40, 862], [-76, 12, 700], [-88, -30, 560]], 9),
            cap([[-100, -72, 815], [-98, -76, 600]], 8),
            cap([[-152, -38, 780], [-140, -40, 600]], 5),
        ),
        aux("leg_fascia_L"),
    ),
    P["between"],
    mirror_too=True,
)
CALF_ZONE_L = X(below(492), above(88), left_of(0))
add("Left calf muscle", X(aux("leg_fascia_L"), CALF_ZONE_L), P["muscle"], mirror_too=True)
add("Left calf subcutaneous tissue", X(SKIN, CALF_ZONE_L), P["subcut"], mirror_too=True)
add(
    "Between left calf muscles",
    X(
        U(cap([[-95, -78, 440], [-92, -82, 150]], 7), cap([[-108, -55, 430], [-104, -60, 150]], 5)),
        aux("leg_fascia_L"),
    ),
    P["between"],
    mirror_too=True,
)
add(
    "Left popliteal fossa",
    X(ell([-93, -85, 500], [25, 18, 55]), aux("leg_L")),
    P["node"],
    mirror_too=True,
)
add("Left foot", X(aux("lower_limb_L"), below(88)), P["part"], mirror_too=True)

# ------------------------------------------------------------------------------------------
# upper limb soft tissue (arm group)

ARM = aux("arm_L")
ARMF = aux("arm_fascia_L")
ARMSKIN = D(ARM, ARMF)
Z_SH = 1330.0
add("Left shoulder muscle", X(ARMF, above(Z_SH)), P["muscle"] + 1, group="arm_L", mirror_too=True)
add(
    "Left shoulder subcutaneous tissue",
    X(ARMSKIN, above(Z_SH)),
    P["subcut"] + 1,
    group="arm_L",
    mirror_too=True,
)
add(
    "Between left shoulder muscles",
    X(
        U(
            X(shell(sph(S_, 31), 5.0), right_of(-250), left_of(S_[0] + 12)),
            ell([-178, -42, 1352], [9, 9, 14]),
        ),
        ARMF,
    ),
    P["between"],
    group="arm_L",
    mirror_too=True,
)
add(
    "Left upper arm muscle",
    X(ARMF, below(Z_SH), above(Z["elbow"])),
    P["muscle"] + 1,
    group="arm_L",
    mirror_too=True,
)
add(
    "Left upper arm subcutaneous tissue",
    X(ARMSKIN, below(Z_SH), above(Z["elbow"])),
    P["subcut"] + 1,
    group="arm_L",
    mirror_too=True,
)
add(
    "Between left upper arm muscles",
    X(
        U(
            cap([[-172, 0, 1325], [-198, -6, 1160]], 8),
            cap([[-246, -22, 1210], [-252, -22, 1130]], 5),
        ),
        ARMF,
    ),
    P["between"],
    group="arm_L",
    mirror_too=True,
)
add(
    "Left epitrochlear region",
    X(ell([-201, -14, 1138], [11, 12, 22]), ARM),
    P["node"],
    group="arm_L",
    mirror_too=True,
)
add(
    "Left forearm muscle",
    X(ARMF, below(Z["elbow"]), above(835)),
    P["muscle"] + 1,
    group="arm_L",
    mirror_too=True,
)
add(
    "Left forearm subcutaneous tissue",
    X(ARMSKIN, below(Z["elbow"]), above(835)),
    P["subcut"] + 1,
    group="arm_L",
    mirror_too=True,
)
add(
    "Between left forearm muscles",
    X(
        U(
            cap([[-235, -22, 1040], [-240, -11, 880]], 6),
            cap([[-249, 10, 1040], [-253, 11, 880]], 5),
            cap([[-221, 8, 1040], [-226, 10, 880]], 5),
        ),
        ARMF,
    ),
    P["between"],
    group="arm_L",
    mirror_too=True,
)
add("Left hand", X(ARM, below(835)), P["part"] + 1, group="arm_L", mirror_too=True)

# ------------------------------------------------------------------------------------------
# outside the body

add("Outside the body", shell(aux("body"), 30.0), P["outside"])

# ------------------------------------------------------------------------------------------
# consistency-check configuration (read by anatloc.ontology.atlas.run_checks)

FRAME["checks"] = {
    "skin_aux": "body",
    "outside": "Outside the body",
    "max_holes": 0.002,
    "regions": {
        "Head": {"z": [1500, 1760]},
        "Neck": {"z": [1380, 1620], "abs_x": [0, 140]},
        "Chest": {"z": [1130, 1480], "abs_x": [0, 190]},
        "Abdomen": {"z": [820, 1260], "abs_x": [0, 170]},
        "Pelvis": {"z": [760, 1000], "abs_x": [0, 130]},
        "Axial skeleton": {"z": [820, 1600], "abs_x": [0, 150]},
        "Upper limb": {"z": [620, 1470], "abs_x": [120, 320]},
        "Lower limb": {"z": [0, 1000], "abs_x": [20, 200]},
    },
    "region_doc": "centroid bounds (reference mm) of the fine locations of each region, in the reference subject",
    "region_exempt": ["Outside the body"],
    "mirror": {
        "iou_min": 0.8,
        "centroid_tol_mm": 8.0,
        "asymmetric": {
            "Left kidney": "the right kidney lies about 18 mm lower (under the liver)",
            "Renal fascia of left kidney": "follows the asymmetric kidneys and adrenals",
            "Left adrenal gland": "the adrenals differ in shape and height",
            "Left diaphragm": "the right hemidiaphragm stands higher over the liver",
            "Left crus of diaphragm": "the right crus is longer and thicker",
            "Left costophrenic angle": "follows the asymmetric hemidiaphragms",
            "Left pulmonary hilum": "the hila differ (left pulmonary artery arches over the left bronchus)",
            "Left upper lobe anterior segment": "two-lobed left lung vs three-lobed right lung",
            "Left lower lobe dorsal segment": "the fissures and the heart make the lungs asymmetric",
            "Left lower lobe anterior basal segment": "left S7+8 is one anteromedial segment; the right has S7 and S8",
            "Left lower lobe outer basal segment": "the hemidiaphragms and fissures differ",
            "Left lower lobe posterior basal segment": "the hemidiaphragms and fissures differ",
            "Left lumbar muscle": "the right quadratus lumborum is shortened by the lower right kidney",
        },
    },
    "rules": [
        {
            "name": "liver right of midline",
            "a": ["Liver S5", "Liver S6", "Liver S7", "Liver S8"],
            "axis": "x",
            "op": ">",
            "b": 0,
        },
        {
            "name": "liver below the right diaphragm dome",
            "a": ["Liver S7", "Liver S8"],
            "stat": "max",
            "axis": "z",
            "op": "<",
            "b": ["Right diaphragm"],
            "stat_b": "max",
        },
        {
            "name": "liver above the right kidney",
            "a": ["Liver S7", "Liver S8"],
            "axis": "z",
            "op": ">",
            "b": ["Right kidney"],
        },
        {"name": "spleen left", "a": ["Spleen"], "axis": "x", "op": "<", "b": -40},
        {"name": "stomach left", "a": ["Stomach"], "axis": "x", "op": "<", "b": 0},
        {
            "name": "heart above the diaphragm",
            "a": ["Heart"],
            "axis": "z",
            "op": ">",
            "b": ["Left diaphragm", "Right diaphragm"],
            "stat_b": "max",
        },
        {"name": "heart mostly left", "a": ["Heart"], "axis": "x", "op": "<", "b": 0},
        {
            "name": "heart in front of the spine",
            "a": ["Heart"],
            "axis": "y",
            "op": ">",
            "b": ["Vertebra T7"],
        },
        {
            "name": "brain in the head",
            "a": ["Brain"],
            "axis": "z",
            "op": ">",
            "b": ["Vertebra C1"],
            "stat_b": "max",
        },
        {
            "name": "bladder in the pelvis",
            "a": ["Bladder"],
            "axis": "z",
            "op": "<",
            "b": ["Left ilium", "Right ilium"],
        },
        {
            "name": "bladder behind the symphysis",
            "a": ["Bladder"],
            "axis": "y",
            "op": "<",
            "b": ["Left pubis", "Right pubis"],
            "stat_b": "max",
        },
        {
            "name": "kidneys below the liver dome",
            "a": ["Left kidney", "Right kidney"],
            "axis": "z",
            "op": "<",
            "b": ["Liver S8"],
        },
        {
            "name": "right kidney lower than left",
            "a": ["Right kidney"],
            "axis": "z",
            "op": "<",
            "b": ["Left kidney"],
        },
        {
            "name": "kidneys behind the pancreas",
            "a": ["Left kidney", "Right kidney"],
            "axis": "y",
            "op": "<",
            "b": ["Pancreas"],
        },
        {
            "name": "lungs above the liver",
            "a": ["Right lower lobe posterior basal segment"],
            "stat": "max",
            "axis": "z",
            "op": ">",
            "b": ["Liver S7"],
            "stat_b": "max",
        },
        {
            "name": "trachea above the carina level",
            "a": ["Trachea"],
            "stat": "min",
            "axis": "z",
            "op": ">",
            "b": 1330,
        },
        {
            "name": "aortic arch near T4",
            "a": ["Thoracic aorta"],
            "stat": "max",
            "axis": "z",
            "op": "<",
            "b": ["Vertebra T2"],
        },
        {
            "name": "esophagus behind the trachea",
            "a": ["Esophagus"],
            "axis": "y",
            "op": "<",
            "b": ["Trachea"],
        },
        {
            "name": "prostate below the bladder",
            "a": ["Prostate gland"],
            "axis": "z",
            "op": "<",
            "b": ["Bladder"],
        },
        {
            "name": "rectum behind the bladder",
            "a": ["Rectum"],
            "axis": "y",
            "op": "<",
            "b": ["Bladder"],
        },
        {
            "name": "uterus behind the bladder",
            "a": ["Uterus"],
            "axis": "y",
            "op": "<",
            "b": ["Bladder"],
        },
        {
            "name": "sternum in front of the heart",
            "a": ["Sternum"],
            "axis": "y",
            "op": ">",
            "b": ["Heart"],
        },
        {
            "name": "thyroid below the larynx",
            "a": ["Left lobe of thyroid", "Right lobe of thyroid"],
            "axis": "z",
            "op": "<",
            "b": ["Larynx"],
        },
        {
            "name": "eyes in front of the brain",
            "a": ["Left eye", "Right eye"],
            "axis": "y",
            "op": ">",
            "b": ["Brain"],
        },
        {
            "name": "femoral heads below the iliac crests",
            "a": ["Left femur", "Right femur"],
            "stat": "max",
            "axis": "z",
            "op": "<",
            "b": ["Left ilium", "Right ilium"],
            "stat_b": "max",
        },
        {
            "name": "patella in front of the knee joint",
            "a": ["Left patella"],
            "axis": "y",
            "op": ">",
            "b": ["Left knee joint"],
        },
        {
            "name": "feet at the bottom",
            "a": ["Left foot", "Right foot"],
            "axis": "z",
            "op": "<",
            "b": 120,
        },
        {
            "name": "hands beside the thighs (arms down)",
            "a": ["Left hand", "Right hand"],
            "axis": "z",
            "op": "<",
            "b": ["Sacrum"],
        },
        {
            "name": "mediastinum 4R below 2R",
            "a": ["Mediastinum 4R"],
            "axis": "z",
            "op": "<",
            "b": ["Mediastinum 2R"],
        },
        {
            "name": "mediastinum 7 below the carina",
            "a": ["Mediastinum 7"],
            "axis": "z",
            "op": "<",
            "b": ["Mediastinum 4R"],
        },
        {"name": "liver S7 above S6", "a": ["Liver S7"], "axis": "z", "op": ">", "b": ["Liver S6"]},
        {"name": "liver S8 above S5", "a": ["Liver S8"], "axis": "z", "op": ">", "b": ["Liver S5"]},
        {
            "name": "liver S7 behind S8",
            "a": ["Liver S7"],
            "axis": "y",
            "op": "<",
            "b": ["Liver S8"],
        },
        {
            "name": "liver S2/S3 left of S4",
            "a": ["Liver S2", "Liver S3"],
            "axis": "x",
            "op": "<",
            "b": ["Liver S4"],
        },
        {
            "name": "left upper lobe apicoposterior above the anterior segment",
            "a": ["Left upper lobe apex posterior segment"],
            "axis": "z",
            "op": ">",
            "b": ["Left upper lobe anterior segment"],
        },
        {
            "name": "lower lobe dorsal above posterior basal",
            "a": ["Left lower lobe dorsal segment", "Right lower lobe dorsal segment"],
            "axis": "z",
            "op": ">",
            "b": [
                "Left lower lobe posterior basal segment",
                "Right lower lobe posterior basal segment",
            ],
        },
        {
            "name": "right middle lobe in front",
            "a": ["Right middle lobe lateral segment", "Right middle lobe medial segment"],
            "axis": "y",
            "op": ">",
            "b": ["Right lower lobe dorsal segment"],
        },
        {
            "name": "subcutaneous tissue outside the abdominal wall",
            "a": ["Left abdominal subcutaneous tissue"],
            "stat": "max",
            "axis": "y",
            "op": ">",
            "b": ["Left abdominal wall"],
            "stat_b": "max",
        },
    ],
}


# ------------------------------------------------------------------------------------------
# output


def build() -> dict:
    return {"frame": FRAME, "locations": {k: LOC[k] for k in sorted(LOC)}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only compare with the file on disk")
    ap.add_argument("--partial", action="store_true", help="write even if locations are missing")
    a = ap.parse_args(argv)
    data = build()
    vocab = {f for _, _, f in read_vocabulary()}
    missing = sorted(vocab - set(LOC))
    extra = sorted(set(LOC) - vocab)
    if extra:
        print("specs for unknown labels:", extra, file=sys.stderr)
        return 2
    if missing and not a.partial:
        print(f"{len(missing)} fine labels have no spec: {missing[:10]}", file=sys.stderr)
        return 2
    text = json.dumps(data, indent=1, sort_keys=False) + "\n"
    if a.check:
        same = OUT.exists() and OUT.read_text(encoding="utf-8") == text
        print("atlas.json is up to date" if same else "atlas.json is stale")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT} ({len(LOC)} locations, {len(missing)} missing)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
