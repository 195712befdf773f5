"""Tests of the whole-body spatial atlas: the engine on tiny hand-made specs, and the full
atlas of ``tools/curation/atlas.json``."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

from anatloc.ontology import atlas as A

ROOT = Path(__file__).resolve().parents[2]
CURATION = ROOT / "tools" / "curation"
ATLAS_JSON = CURATION / "atlas.json"


def curation_module(name):
    """Import a script of tools/curation (not a package) by its path."""
    spec = importlib.util.spec_from_file_location(name, CURATION / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# the vocabulary of this repository, from the one path the curation scripts use
VOCAB = curation_module("curation_tables").VOCABULARY


# ------------------------------------------------------------------------------------------
# tiny atlases


def sph(c, r):
    return {"type": "sphere", "center": list(c), "radius": r}


def tiny_frame(**extra):
    frame = {
        "aux": {
            "body": {
                "shape": {"type": "box", "min": [-100, -60, 0], "max": [100, 60, 400]},
                "grow": 1.0,
            }
        },
        "groups": {
            "limb": {"anchor": [0, 0, 300], "jitter": {"shift_mm": [5, 5, 5], "scale": 0.05}}
        },
        "poses": {"arms_up": {"limb": {"axis": [0, 1, 0], "deg": 90, "center": [0, 0, 300]}}},
        "partitions": {
            "halves": {
                "container": {"aux": "body"},
                "seeds": {"lo": [[0, 0, 100]], "hi": [[0, 0, 300]]},
            },
        },
        "girth_fat_mm": 10.0,
        "table_center_z_mm": 200.0,
    }
    frame.update(extra)
    return frame


def tiny_specs():
    return {
        "air": {"shape": {"op": "shell", "of": {"aux": "body"}, "thickness": 20}, "priority": 0},
        "fill": {"shape": {"aux": "body"}, "priority": 1},
        "low": {"shape": {"op": "cell", "partition": "halves", "cell": "lo"}, "priority": 2},
        "ball": {"shape": sph([0, 0, 200], 30), "priority": 5},
        "rim": {"shape": {"op": "shell", "of": {"ref": "ball"}, "thickness": 8}, "priority": 4},
        "bone": {
            "shape": {"type": "capsule", "path": [[-40, 0, 280], [40, 0, 280]], "radius": 8},
            "priority": 9,
            "group": "limb",
        },
        "fem": {"shape": sph([50, 30, 60], 12), "priority": 6, "sex": "female"},
        "masc": {"shape": sph([50, 30, 60], 12), "priority": 6, "sex": "male"},
    }


@pytest.fixture(scope="module")
def tiny():
    return A.Atlas(tiny_frame(), tiny_specs())


def label_of(atlas, key):
    return atlas.index[key]


# ------------------------------------------------------------------------------------------
# primitives and operators


def test_primitive_signs_and_distances():
    frame = {"aux": {}}
    shapes = {
        "sphere": sph([0, 0, 0], 10),
        "ellipsoid": {
            "type": "ellipsoid",
            "center": [0, 0, 0],
            "radii": [10, 20, 30],
            "rotate": [0, 0, 90],
        },
        "box": {"type": "box", "min": [-10, -10, -10], "max": [10, 10, 10]},
        "rbox": {"type": "box", "center": [0, 0, 0], "size": [20, 20, 20], "round": 3},
        "capsule": {"type": "capsule", "path": [[0, 0, -20], [0, 0, 20]], "radius": [5, 10]},
        "cylinder": {"type": "cylinder", "p0": [0, 0, -20], "p1": [0, 0, 20], "radius": 10},
        "ecyl": {"type": "cylinder", "center": [0, 0, 0], "radii": [10, 5], "half_height": 20},
        "loft": {"type": "loft", "sections": [[-20, 0, 0, 10, 10], [20, 0, 0, 20, 5]]},
        "sqloft": {
            "type": "loft",
            "sections": [[-20, 0, 0, 10, 10], [20, 0, 0, 10, 10]],
            "power": 4,
        },
        "sheet": {
            "type": "sheet",
            "vertices": [[-20, -20, 0], [20, -20, 0], [0, 20, 0]],
            "faces": [[0, 1, 2]],
            "thickness": 6,
        },
        "half": {
            "op": "intersect",
            "of": [
                {"type": "halfspace", "point": [0, 0, 0], "normal": [0, 0, 1]},
                sph([0, 0, 0], 50),
            ],
        },
    }
    specs = {k: {"shape": v, "priority": 1} for k, v in shapes.items()}
    at = A.Atlas(frame, specs)
    origin = np.zeros((1, 3))
    far = np.array([[200.0, 200.0, 200.0]])
    for k in shapes:
        probe = origin - [0, 0, 1] if k == "half" else origin
        assert at.sdf(k, probe)[0] < 0, k
        assert at.sdf(k, far)[0] > 0, k
    # exact distances where the sdf is exact
    assert at.sdf("sphere", [[15, 0, 0]])[0] == pytest.approx(5.0, abs=1e-4)
    assert at.sdf("box", [[0, 0, 13]])[0] == pytest.approx(3.0, abs=1e-4)
    assert at.sdf("box", [[0, 0, 0]])[0] == pytest.approx(-10.0, abs=1e-4)
    assert at.sdf("cylinder", [[13, 0, 0]])[0] == pytest.approx(3.0, abs=1e-3)
    assert at.sdf("capsule", [[0, 0, 24]])[0] == pytest.approx(
        -6.0, abs=1e-3
    )  # radius 10 at the top end
    # rotation: the ellipsoid's 20 mm axis now lies along -x
    assert at.sdf("ellipsoid", [[19, 0, 0]])[0] < 0 < at.sdf("ellipsoid", [[0, 19, 0]])[0]
    # loft radii interpolate along z
    assert at.sdf("loft", [[15, 0, 15]])[0] < 0 < at.sdf("loft", [[15, 0, -15]])[0]
    # sheet: thickness 6 around the triangle
    assert at.sdf("sheet", [[0, 0, 2.5]])[0] < 0 < at.sdf("sheet", [[0, 0, 3.5]])[0]
    # halfspace keeps z <= 0
    assert at.sdf("half", [[0, 0, -5]])[0] < 0 < at.sdf("half", [[0, 0, 5]])[0]


def test_operators():
    frame = {"aux": {"a": {"shape": sph([0, 0, 0], 10)}}}
    b = sph([15, 0, 0], 10)
    specs = {
        "u": {"shape": {"op": "union", "of": [{"aux": "a"}, b]}, "priority": 1},
        "us": {"shape": {"op": "union", "of": [{"aux": "a"}, b], "smooth": 8}, "priority": 1},
        "i": {"shape": {"op": "intersect", "of": [{"aux": "a"}, b]}, "priority": 1},
        "w": {"shape": {"op": "within", "of": b, "container": {"aux": "a"}}, "priority": 1},
        "d": {"shape": {"op": "subtract", "of": [{"aux": "a"}, b]}, "priority": 1},
        "so": {"shape": {"op": "shell", "of": {"aux": "a"}, "thickness": 4}, "priority": 1},
        "si": {
            "shape": {"op": "shell", "of": {"aux": "a"}, "thickness": 4, "side": "inner"},
            "priority": 1,
        },
        "sc": {
            "shape": {"op": "shell", "of": {"aux": "a"}, "thickness": 4, "side": "center"},
            "priority": 1,
        },
        "o": {"shape": {"op": "offset", "of": {"aux": "a"}, "by": 5}, "priority": 1},
        "r": {"shape": {"op": "offset", "of": {"ref": "u"}, "by": -2}, "priority": 1},
    }
    at = A.Atlas(frame, specs)

    def inside(k, p):
        return at.sdf(k, np.array([p], float))[0] <= 0

    assert inside("u", [-5, 0, 0]) and inside("u", [20, 0, 0]) and not inside("u", [30, 0, 0])
    assert inside("us", [7.5, 9.0, 0]) and not inside(
        "u", [7.5, 9.0, 0]
    )  # the blend fills the waist
    assert inside("i", [7, 0, 0]) and not inside("i", [-5, 0, 0])
    assert inside("w", [7, 0, 0]) and not inside("w", [20, 0, 0])
    assert inside("d", [-5, 0, 0]) and not inside("d", [7, 0, 0])
    assert inside("so", [12, 0, 0]) and not inside("so", [8, 0, 0]) and not inside("so", [15, 0, 0])
    assert inside("si", [8, 0, 0]) and not inside("si", [12, 0, 0]) and not inside("si", [4, 0, 0])
    assert inside("sc", [9, 0, 0]) and inside("sc", [11, 0, 0]) and not inside("sc", [13, 0, 0])
    assert inside("o", [14, 0, 0]) and not inside("o", [16, 0, 0])
    assert inside("r", [-7, 0, 0]) and not inside("r", [-9, 0, 0])


def test_partition_switch_and_presence(tiny):
    p = np.array([[0, 0, 150.0], [0, 0, 250.0]])
    v = tiny.sdf("low", p)
    assert v[0] < 0 < v[1]  # nearest seed: the lower half
    lab = tiny.labels_at(p)
    assert lab[0] == label_of(tiny, "low") and lab[1] == label_of(tiny, "fill")
    q = np.array([[50, 30, 60.0]])
    assert tiny.labels_at(q)[0] == label_of(tiny, "masc")
    assert tiny.labels_at(q, A.Subject.reference("female"))[0] == label_of(tiny, "fem")
    assert not tiny.present("fem") and tiny.present("fem", A.Subject.reference("female"))
    assert np.isinf(tiny.sdf("fem", q)[0])
    lo, hi = tiny.bbox("fem")
    assert np.all(lo > hi)  # absent: empty bbox
    sw = {
        "frame": {"aux": {}},
        "specs": {
            "s": {
                "shape": {
                    "op": "switch",
                    "on": "sex",
                    "cases": {"male": sph([0, 0, 0], 5)},
                    "default": sph([0, 0, 50], 5),
                },
                "priority": 1,
            }
        },
    }
    at = A.Atlas(sw["frame"], sw["specs"])
    pts = np.array([[0, 0, 0.0], [0, 0, 50.0]])
    assert list(at.labels_at(pts)) == [1, 0]
    assert list(at.labels_at(pts, A.Subject.reference("female"))) == [0, 1]


def test_priority_and_ties():
    frame = {"aux": {}}
    specs = {
        "big": {"shape": sph([0, 0, 0], 30), "priority": 1},
        "small": {"shape": sph([0, 0, 0], 10), "priority": 2},
        "left": {"shape": sph([-5, 0, 0], 20), "priority": 5},
        "right": {"shape": sph([5, 0, 0], 20), "priority": 5},
    }
    at = A.Atlas(frame, specs, order=["right", "left", "small", "big"])
    assert at.keys == ["right", "left", "small", "big"]
    lab = at.labels_at(np.array([[-10, 0, 0], [10, 0, 0], [0, 0, 28], [0, 0, 100]], float))
    # equal priority: the deeper shape wins
    assert [at.keys[i - 1] if i else None for i in lab] == ["left", "right", "big", None]
    # exact tie: the earlier key in the order wins
    assert at.keys[at.labels_at(np.array([[0, 0, 0.0]]))[0] - 1] == "right"


def test_variant_l6():
    specs = {
        "L6": {"shape": sph([0, 0, 0], 10), "priority": 2, "variant": "l6"},
        "S": {"shape": sph([0, 0, 0], 20), "priority": 1},
    }
    at = A.Atlas({"aux": {}}, specs)
    o = np.zeros((1, 3))
    assert at.labels_at(o)[0] == at.index["S"]
    assert at.labels_at(o, A.Subject.reference(l6=True))[0] == at.index["L6"]


# ------------------------------------------------------------------------------------------
# validation and reference rewriting


def test_validate_specs_errors():
    frame = tiny_frame()
    assert A.validate_specs(frame, tiny_specs()) == []
    bad = {
        "a": {"shape": {"type": "blob"}, "priority": 1},
        "b": {"shape": {"type": "sphere", "center": [0, 0, 0]}, "priority": 1},
        "c": {"shape": {"ref": "nowhere"}, "priority": 1},
        "d": {"shape": {"ref": "e"}, "priority": 1},
        "e": {"shape": {"op": "offset", "of": {"ref": "d"}, "by": 1}, "priority": 1},
        "f": {"shape": {"aux": "nope"}, "priority": 1},
        "g": {"shape": {"op": "cell", "partition": "halves", "cell": "middle"}, "priority": 1},
        "h": {"shape": sph([0, 0, 0], 1)},
        "i": {"shape": {"op": "frobnicate"}, "priority": 1},
        "j": {"shape": sph([0, 0, 0], 1), "priority": 1, "group": "nogroup"},
    }
    errs = "\n".join(A.validate_specs(frame, bad))
    for needle in (
        "unknown shape type 'blob'",
        "missing field 'radius'",
        "unknown reference 'nowhere'",
        "reference cycle",
        "unknown aux shape 'nope'",
        "unknown cell 'middle'",
        "'priority'",
        "unknown operator 'frobnicate'",
        "unknown group",
    ):
        assert needle in errs, needle
    with pytest.raises(A.SpecError):
        A.Atlas(frame, bad)


def test_rewrite_refs():
    spec = {
        "shape": {
            "op": "union",
            "of": [
                {"ref": "Left kidney"},
                {"aux": "body"},
                {"op": "shell", "of": {"ref": "Left adrenal gland"}, "thickness": 3},
            ],
        },
        "priority": 1,
    }
    out = A.rewrite_refs(
        spec, {"Left kidney": "ANATLOC:0000001", "Left adrenal gland": "ANATLOC:0000002"}
    )
    assert out["shape"]["of"][0] == {"ref": "ANATLOC:0000001"}
    assert out["shape"]["of"][1] == {"aux": "body"}
    assert out["shape"]["of"][2]["of"] == {"ref": "ANATLOC:0000002"}
    assert spec["shape"]["of"][0] == {"ref": "Left kidney"}  # a copy, not in place
    with pytest.raises(KeyError):
        A.rewrite_refs(spec, {})


# ------------------------------------------------------------------------------------------
# rasterize == labels_at, subjects


def test_rasterize_equals_labels_at_axis_aligned(tiny):
    shape, aff = tiny.grid(3.0)
    lab = tiny.rasterize(shape, aff)
    assert lab.shape == shape
    pts = tiny.voxel_points(shape, aff)
    assert np.array_equal(lab.ravel(), tiny.labels_at(pts))
    # the same points through a homogeneous 4x4 product
    ijk = np.stack(np.meshgrid(*(np.arange(s) for s in shape), indexing="ij"), -1).reshape(-1, 3)
    hom = np.c_[ijk, np.ones(len(ijk))] @ aff.T
    assert np.array_equal(lab.ravel(), tiny.labels_at(hom[:, :3]))
    # any subset, in any order
    rng = np.random.default_rng(0)
    sel = rng.permutation(len(pts))[:5000]
    assert np.array_equal(lab.ravel()[sel], tiny.labels_at(pts[sel]))
    assert set(np.unique(lab)) >= {
        0,
        *[tiny.index[k] for k in ("air", "fill", "low", "ball", "rim", "bone", "masc")],
    }


def test_rasterize_equals_labels_at_oblique(tiny):
    subj = A.Subject(
        height_mm=1800,
        girth=1.2,
        sex="female",
        arms="up",
        table_rotation_deg=(2.0, -1.5, 3.0),
        table_shift_mm=(10.0, -20.0, 5.0),
    )
    c, s_ = math.cos(0.3), math.sin(0.3)
    aff = np.eye(4)
    aff[:3, :3] = np.array([[c, -s_, 0], [s_, c, 0], [0, 0, 1]]) @ np.diag([2.5, 3.0, 4.0])
    aff[:3, 3] = [-130, -90, -30]
    shape = (96, 64, 120)
    lab = tiny.rasterize(shape, aff, subj)
    pts = tiny.voxel_points(shape, aff)
    assert np.array_equal(lab.ravel(), tiny.labels_at(pts, subj))
    assert lab.max() > 0


def test_subject_transforms(tiny):
    ref = A.Subject.reference()
    assert ref == A.Subject() and ref.height_mm == 1750 and ref.arms == "down"
    p = np.array([[0, 0, 200.0], [0, 0, 100.0], [30, 0, 280.0]])
    base = tiny.labels_at(p)
    # a table shift moves everything with it
    sh = A.Subject(table_shift_mm=(15.0, -10.0, 40.0))
    assert np.array_equal(tiny.labels_at(p + np.array([15.0, -10, 40]), sh), base)
    # height scales z about the soles (z = 0) and x, y more mildly
    tall = A.Subject(height_mm=2100)
    sz = 2100 / 1750
    sxy, sz2 = tall.global_scale()
    assert sz2 == pytest.approx(sz) and 1 < sxy < sz
    assert tiny.labels_at(np.array([[0, 0, 200.0 * sz]]), tall)[0] == tiny.index["ball"]
    assert tiny.labels_at(np.array([[0, 0, 200.0 - 32]]), tall)[0] != tiny.index["ball"]
    assert tiny.sdf("ball", np.array([[0, 0, 240.0]]), tall)[0] == pytest.approx(
        -30 * min(sxy, sz), abs=0.5
    )
    # girth grows the body surface (aux grow): a point just outside the reference body is inside
    fat = A.Subject(girth=1.5)
    edge = np.array([[103.0, 0, 200]])
    assert tiny.labels_at(edge)[0] == tiny.index["air"]
    assert tiny.labels_at(edge, fat)[0] in (tiny.index["fill"], tiny.index["low"])
    # arms up rotates the limb group 90 degrees about y through (0, 0, 300)
    up = A.Subject(arms="up")
    assert tiny.labels_at(np.array([[30, 0, 280.0]]))[0] == tiny.index["bone"]
    assert tiny.labels_at(np.array([[30, 0, 280.0]]), up)[0] != tiny.index["bone"]
    rot = np.array([[300 - 280.0, 0, 300 + 30.0]])  # (x, z) -> rotated about y
    lbl = tiny.labels_at(np.array([[-20.0, 0, 330.0], [20.0, 0, 270.0]]), up)
    assert tiny.index["bone"] in lbl or tiny.labels_at(rot, up)[0] == tiny.index["bone"]


def test_subject_sample():
    groups = tiny_frame()["groups"]
    a = A.Subject.sample(np.random.default_rng(5), groups=groups)
    b = A.Subject.sample(np.random.default_rng(5), groups=groups)
    assert a == b and hash(a) == hash(b)
    subs = [A.Subject.sample(np.random.default_rng(i), groups=groups) for i in range(40)]
    assert {s.sex for s in subs} == {"male", "female"} and {s.arms for s in subs} == {"up", "down"}
    for s in subs:
        assert 1400 <= s.height_mm <= 1950 and 0.85 <= s.girth <= 1.35
        assert all(abs(v) <= 3.0 for v in s.table_rotation_deg) and all(
            abs(v) <= 30 for v in s.table_shift_mm
        )
        for name, shift, scale in s.jitter:
            assert name == "limb" and all(abs(v) <= 5 for v in shift) and abs(scale - 1) <= 0.05
    with pytest.raises(ValueError):
        A.Subject(sex="other")
    fixed = A.Subject.sample(np.random.default_rng(1), sex="female", arms="up", jitter=0.0)
    assert fixed.sex == "female" and fixed.arms == "up" and fixed.jitter == ()


def test_bboxes_are_conservative(tiny):
    subj = A.Subject(
        height_mm=1600,
        girth=1.3,
        arms="up",
        jitter=(("limb", (3.0, -2.0, 4.0), 1.04),),
        table_shift_mm=(5.0, 5.0, 5.0),
    )
    shape, aff = tiny.grid(2.0, subj, margin_mm=10)
    lab = tiny.rasterize(shape, aff, subj)
    pts = tiny.voxel_points(shape, aff)
    for k in tiny.keys:
        m = lab.ravel() == tiny.index[k]
        if not m.any():
            continue
        lo, hi = tiny.bbox(k, subj)
        assert np.all(pts[m] >= lo - 1e-6) and np.all(pts[m] <= hi + 1e-6), k
    blo, bhi = tiny.body_bounds(subj)
    assert np.all(pts[lab.ravel() > 0] >= blo - 1e-6) and np.all(pts[lab.ravel() > 0] <= bhi + 1e-6)


def test_atlas_facts_tiny(tiny):
    f1 = A.atlas_facts(tiny, 4.0)
    f2 = A.atlas_facts(tiny, 4.0)
    assert f1 == f2
    ball = f1["ball"]
    assert ball["volume_ml"] == pytest.approx(4 / 3 * math.pi * 30**3 / 1000, rel=0.15)
    assert np.allclose(ball["centroid"], [0, 0, 200], atol=2.5)
    assert "rim" in ball["touches"] and "ball" in f1["rim"]["touches"]
    assert f1["fem"]["voxels"] == 0 and f1["fem"]["centroid"] is None


# ------------------------------------------------------------------------------------------
# the full atlas


def vocabulary():
    rows = [
        ln.rstrip("\n").split("\t")
        for ln in VOCAB.read_text(encoding="utf-8").splitlines()[1:]
        if ln.strip()
    ]
    return {
        fine: {"label": fine, "coarse": coarse, "region": region} for region, coarse, fine in rows
    }


@pytest.fixture(scope="module")
def full():
    data = json.loads(ATLAS_JSON.read_text(encoding="utf-8"))
    return data, A.Atlas(data["frame"], data["locations"])


@pytest.fixture(scope="module")
def checked(full):
    _, at = full
    meta = vocabulary()
    cd = A.CheckData(at, 4.0)
    return meta, cd, A.run_checks(at, meta, 4.0, data=cd)


def test_full_atlas_schema(full):
    data, _at = full
    meta = vocabulary()
    assert len(meta) == 387
    assert set(data["locations"]) == set(meta)
    assert A.validate_specs(data["frame"], data["locations"]) == []
    # labels -> CURIEs keeps the atlas valid
    mapping = {lab: f"ANATLOC:{i:07d}" for i, lab in enumerate(sorted(meta), 1)}
    specs = {mapping[k]: A.rewrite_refs(v, mapping) for k, v in data["locations"].items()}
    assert A.validate_specs(data["frame"], specs) == []


@pytest.fixture(scope="module")
def make_atlas():
    return curation_module("make_atlas")


def test_generator_is_in_sync(make_atlas):
    text = json.dumps(make_atlas.build(), indent=1) + "\n"
    assert text == ATLAS_JSON.read_text(encoding="utf-8"), "run python tools/curation/make_atlas.py"


def test_generator_mirrors_with_the_declared_twins(make_atlas):
    # twins come from the curation data, not from the words of a label
    assert make_atlas.mirror_label("Mediastinum 4L") == "Mediastinum 4R"
    assert make_atlas.mirror_label("Rib R7") == "Rib L7"
    assert make_atlas.mirror_label("Left kidney") == "Right kidney"
    # no true mirror: the lingula, the left-sided stations 5 and 6, unpaired organs
    for label in ("Left upper lobe upper tongue segment", "Mediastinum 5", "Liver S7"):
        assert make_atlas.mirror_label(label) == label
    spec = {"shape": {"ref": "Left femur"}, "group": "leg_L"}
    assert make_atlas.mirror(spec) == {"shape": {"ref": "Right femur"}, "group": "leg_R"}


def test_generator_rotation_convention(make_atlas):
    """rot_from_dir and mirror()'s rule for "rotate" agree with scipy's extrinsic xyz Euler
    angles (R = Rz Ry Rx), the convention of docs/atlas.md."""
    from scipy.spatial.transform import Rotation

    flip = np.diag([-1.0, 1.0, 1.0])
    for d, roll in (([0.3, -0.8, 0.5], 0.0), ([-0.35, 0.8, -0.4], -30.0), ([0, 0, -1], 10.0)):
        angles = make_atlas.rot_from_dir(d, roll=roll)
        rot = Rotation.from_euler("xyz", angles, degrees=True).as_matrix()
        assert np.allclose(rot @ [1, 0, 0], np.asarray(d) / np.linalg.norm(d), atol=1e-9)
        mirrored = make_atlas.mirror({"type": "ellipsoid", "rotate": angles})["rotate"]
        m_rot = Rotation.from_euler("xyz", mirrored, degrees=True).as_matrix()
        assert np.allclose(m_rot, flip @ rot @ flip, atol=1e-9)


def test_full_atlas_nonempty_and_checks(checked):
    meta, cd, rows = checked
    empty = [k for k in meta if cd.facts[k]["voxels"] == 0]
    assert empty == []
    errors = [r for r in rows if r[2] == "ERROR"]
    assert errors == [], errors[:10]
    # every check ran
    assert {r[1] for r in rows} >= {"atlas-coverage", "atlas-mirror"}


def test_full_atlas_anatomy(checked):
    _meta, cd, _ = checked
    f = cd.facts
    assert f["Liver S7"]["centroid"][0] > 0 and f["Spleen"]["centroid"][0] < 0
    assert f["Brain"]["centroid"][2] > 1600 and f["Left foot"]["centroid"][2] < 100
    zs = [f[f"Vertebra T{i}"]["centroid"][2] for i in range(1, 13)]
    assert zs == sorted(zs, reverse=True)
    assert f["Vertebra L6"]["subject"] == "female+l6" and f["Uterus"]["subject"] == "female+l6"
    assert (
        f["Vertebra L5"]["centroid"][2]
        > f["Vertebra L6"]["centroid"][2]
        > f["Sacrum"]["centroid"][2]
    )
    # sizes of a real adult (ml)
    assert 900 < sum(f[f"Liver S{i}"]["volume_ml"] for i in range(1, 9)) < 2300
    assert 100 < f["Left kidney"]["volume_ml"] < 260
    assert 800 < f["Brain"]["volume_ml"] < 1700


def test_full_atlas_sampled_subject(full):
    _, at = full
    subj = at.sample_subject(np.random.default_rng(3), sex="female", arms="up")
    shape, aff = at.grid(10.0, subj)
    lab = at.rasterize(shape, aff, subj)
    present = set(np.unique(lab).tolist())
    assert at.index["Uterus"] in present and at.index["Prostate gland"] not in present
    # the hands are above the head
    for hand in ("Left hand", "Right hand"):
        idx = np.argwhere(lab == at.index[hand])
        assert (
            len(idx)
            and (idx[:, 2].mean() * aff[2, 2] + aff[2, 3]) > at.body_bounds(subj)[1][2] - 600
        )
    lo, hi = at.body_bounds(subj)
    assert hi[2] - lo[2] > subj.height_mm  # arms up: taller than the subject


def test_full_atlas_patch_exact(full):
    _, at = full
    aff = np.eye(4)
    aff[:3, :3] *= 2.0
    aff[:3, 3] = [-64, -40, 1230]
    shape = (64, 64, 64)
    lab = at.rasterize(shape, aff)
    assert np.array_equal(lab.ravel(), at.labels_at(at.voxel_points(shape, aff)))
    assert len(np.unique(lab)) > 30


def test_subtract_value_depends_on_the_point_alone():
    # deep inside a large base (value < -CLAMP) and far outside the cut's gate: the cut must
    # not count, whether or not other points of the same query fall inside the gate (the
    # value decides depth ties between locations of equal priority)
    specs = {
        "d": {
            "shape": {"op": "subtract", "of": [sph([0, 0, 0], 300), sph([0, 0, 200], 5)]},
            "priority": 1,
        }
    }
    at = A.Atlas({"aux": {}}, specs)
    deep = [0.0, 0.0, 0.0]
    alone = at.sdf("d", np.array([deep]))[0]
    with_other = at.sdf("d", np.array([deep, [0.0, 0.0, 203.0]]))
    assert alone == pytest.approx(-300.0)
    assert with_other[0] == alone
    assert with_other[1] > 0  # inside the cut


# ------------------------------------------------------------------------------------------
# left/right twins come from the ontology


def test_twin_pairs_are_the_ontologys_contralateral_pairs(shipped):
    from anatloc.ontology.geometry import meta_for

    meta = meta_for(shipped)
    pairs = {(meta[a]["label"], meta[b]["label"]) for a, b in A.twin_pairs(meta)}
    stated = {
        (t.label, shipped[c].label)
        for t in shipped.terms("fine")
        if t.laterality == "left"
        for c in t.relations.get("contralateral_to", ())
    }
    assert pairs == stated and len(pairs) == 114
    # the stations that the atlas's own label rule used to miss
    assert {("Mediastinum 1L", "Mediastinum 1R"), ("Mediastinum 4L", "Mediastinum 4R")} <= pairs
    # a plain table of labels (no ontology) pairs them by the one label rule
    plain = {k: {"label": m["label"]} for k, m in meta.items()}
    by_rule = {(meta[a]["label"], meta[b]["label"]) for a, b in A.twin_pairs(plain)}
    assert ("Mediastinum 2L", "Mediastinum 2R") in by_rule and by_rule <= pairs


def test_mirror_check_follows_the_stated_pairs():
    """Twins are whatever meta states, whatever the labels say: a station pair whose names
    carry no side words is checked; two 'Left/Right' labels not stated as twins are not."""
    specs = {
        "a": {"shape": sph([-50, 0, 200], 20), "priority": 5},
        "b": {"shape": sph([50, 30, 200], 20), "priority": 5},  # not the mirror image of a
        "c": {"shape": sph([-50, 0, 100], 15), "priority": 5},
        "d": {"shape": sph([50, 0, 60], 15), "priority": 5},  # not the mirror image of c
    }
    at = A.Atlas(tiny_frame(), specs)
    meta = {
        "a": {"label": "Mediastinum 1L", "laterality": "left", "contralateral_to": ["b"]},
        "b": {"label": "Mediastinum 1R", "laterality": "right", "contralateral_to": ["a"]},
        "c": {"label": "Left thing", "laterality": "left", "contralateral_to": []},
        "d": {"label": "Right thing", "laterality": "right", "contralateral_to": []},
    }
    data = A.CheckData(at, 4.0)
    rows = A.check_mirror_twins(at, meta, data)
    assert {r[0] for r in rows if r[2] == "ERROR"} == {"a"}
    assert any("IoU" in r[3] for r in rows)
    # without stated pairs, the label rule pairs the words (c, d) and the stations (a, b)
    plain = {k: {"label": m["label"]} for k, m in meta.items()}
    assert {r[0] for r in A.check_mirror_twins(at, plain, data) if r[2] == "ERROR"} == {"a", "c"}


# ------------------------------------------------------------------------------------------
# rotations come from scipy: the same matrices as the Euler/Rodrigues products they replace


def _euler_product(rx, ry, rz):
    cx, sx, cy, sy, cz, sz = (
        f(math.radians(a)) for a in (rx, ry, rz) for f in (math.cos, math.sin)
    )
    rxm = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    rym = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rzm = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rzm @ rym @ rxm


def _rodrigues(axis, deg):
    a = np.asarray(axis, float) / np.linalg.norm(axis)
    t = math.radians(deg)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + math.sin(t) * k + (1 - math.cos(t)) * (k @ k)


def test_rotations_are_the_euler_and_axis_angle_matrices():
    from anatloc.ontology.atlas.geom import _axis_angle, _rotmat

    rng = np.random.default_rng(7)
    data = json.loads(ATLAS_JSON.read_text(encoding="utf-8"))
    used = [d["rotate"] for d in _dicts(data) if "rotate" in d]
    assert len(used) > 50
    for angles in [*used, *rng.uniform(-180, 180, (200, 3)).tolist(), [0, 0, 0], [90, 0, 0]]:
        np.testing.assert_allclose(_rotmat(angles), _euler_product(*angles), rtol=0, atol=1e-15)
    assert np.array_equal(_rotmat(None), np.eye(3)) and np.array_equal(
        _rotmat((0, 0, 0)), np.eye(3)
    )
    for axis, deg in [
        ([0, 1, 0], 90.0),
        *((rng.normal(size=3), d) for d in rng.uniform(-170, 170, 50)),
    ]:
        np.testing.assert_allclose(
            _axis_angle(axis, deg), _rodrigues(axis, deg), rtol=0, atol=1e-15
        )


def _dicts(x):
    if isinstance(x, dict):
        yield x
        for v in x.values():
            yield from _dicts(v)
    elif isinstance(x, list):
        for v in x:
            yield from _dicts(v)
