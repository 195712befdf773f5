"""Consistency checks of an atlas against the locations it paints.

Each check takes ``(atlas, meta, data)`` and returns rows ``(key, check, severity, message)``;
:func:`run_checks` runs all of :data:`CHECKS` on one :class:`~.facts.CheckData`.
``meta[key]`` holds ``label``, ``coarse``, ``region`` and, when it comes from an ontology
(:func:`anatloc.ontology.geometry.meta_for`), ``laterality`` and ``contralateral_to``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np

from ..model import label_side
from .facts import CheckData

if TYPE_CHECKING:
    from .engine import Atlas

# --------------------------------------------------------------------------------------------
# consistency checks
#
# Each check takes (atlas, meta, data) where meta[key] = {"label", "coarse", "region"} and data
# is a CheckData (one shared rasterization); it returns rows (key, check, severity, message).


def _data(atlas, data, spacing=4.0) -> CheckData:
    return data if isinstance(data, CheckData) else CheckData(atlas, spacing)


def _fine(atlas: Atlas, meta: Mapping[str, Mapping]) -> dict[str, str]:
    """key -> label of the fine locations of ``meta`` that the atlas has."""
    return {
        k: m.get("label", k)
        for k, m in meta.items()
        if m.get("level", "fine") == "fine" and k in atlas.index
    }


def _by_label(atlas, meta) -> dict[str, str]:
    return {lab: k for k, lab in _fine(atlas, meta).items()}


def check_nonempty(atlas: Atlas, meta: Mapping, data: CheckData | None = None) -> list[tuple]:
    """ERROR for a fine location of ``meta`` without a spec, or with no voxel in the label map
    of its reference subject (male; female with L6 for the female-only and L6 locations)."""
    data = _data(atlas, data)
    rows = []
    for k, m in meta.items():
        if m.get("level", "fine") != "fine":
            continue
        if k not in atlas.index:
            rows.append((k, "atlas-nonempty", "ERROR", f"{m.get('label', k)!r} has no atlas spec"))
        elif data.facts[k]["voxels"] == 0:
            rows.append(
                (
                    k,
                    "atlas-nonempty",
                    "ERROR",
                    f"{m.get('label', k)!r} is empty in the {data.facts[k]['subject']} reference label map at {data.spacing:g} mm",
                )
            )
    return rows


def check_region_extent(atlas: Atlas, meta: Mapping, data: CheckData | None = None) -> list[tuple]:
    """ERROR if a location's centroid breaks its region's rule (frame ``checks.regions``: per
    region ``z`` [min, max] and ``abs_x`` [min, max], reference mm); labels listed in
    ``checks.region_exempt`` are skipped."""
    data = _data(atlas, data)
    cfg = atlas.frame.get("checks") or {}
    rules = cfg.get("regions") or {}
    exempt = set(cfg.get("region_exempt") or [])
    rows = []
    for k, lab in _fine(atlas, meta).items():
        reg = meta[k].get("region")
        r = rules.get(reg)
        f = data.facts.get(k) or {}
        if not r or lab in exempt or not f.get("centroid"):
            continue
        x, _y, z = f["centroid"]
        for name, val in (("z", z), ("abs_x", abs(x))):
            if name in r:
                a, b = r[name]
                if not (a <= val <= b):
                    rows.append(
                        (
                            k,
                            "atlas-region-extent",
                            "ERROR",
                            f"{lab!r} ({reg}) centroid {name} = {val:.0f} mm outside [{a}, {b}]",
                        )
                    )
    return rows


def twin_pairs(meta: Mapping[str, Mapping]) -> list[tuple[str, str]]:
    """(left key, right key) of every left/right twin among the keys of ``meta``.

    Where ``meta`` comes from an ontology (:func:`anatloc.ontology.geometry.meta_for`), the
    pairs are its terms' ``contralateral_to``, ordered by their ``laterality``.  A plain table
    of labels (no entry carries ``contralateral_to``) pairs each label with the twin that
    :func:`anatloc.ontology.model.label_side` names, when that label is in the table too.
    """
    if any("contralateral_to" in m for m in meta.values()):
        pairs = set()
        for k, m in meta.items():
            for t in m.get("contralateral_to") or ():
                if t in meta and t != k:
                    left_first = m.get("laterality") == "left" or (
                        meta[t].get("laterality") != "left" and k < t
                    )
                    pairs.add((k, t) if left_first else (t, k))
        return sorted(pairs)
    by_label = {m.get("label", k): k for k, m in meta.items()}
    out = []
    for lab, k in sorted(by_label.items()):
        side, twin = label_side(lab)
        if side == "left" and twin in by_label:
            out.append((k, by_label[twin]))
    return out


#: Twins that are not mirror images by definition, besides the frame's
#: ``checks.mirror.asymmetric``: the IASLC lymph node stations whose right/left border is the
#: left edge of the trachea, not the midline.  They became mirror-checked when the twins were
#: read from the ontology (the label rule never paired the stations).  They are kept here, not
#: in the frame, because the frame is part of the ontology's content hash and changing it would
#: orphan every trained model; move them into the frame at the next retraining.
_ASYMMETRIC_BY_DEFINITION = {
    "Mediastinum 2L": "the 2R/2L border is the left edge of the trachea, not the midline (IASLC)",
    "Mediastinum 4L": "4R/4L meet at the left edge of the trachea; 4L lies below the aortic arch",
}


def check_mirror_twins(atlas: Atlas, meta: Mapping, data: CheckData | None = None) -> list[tuple]:
    """Left/right twins (the ontology's contralateral_to pairs) must mirror across x = 0: the
    IoU of one with the mirror image of the other >= ``checks.mirror.iou_min`` (ERROR) and the
    mirrored centroids within ``centroid_tol_mm`` (ERROR).  Pairs whose left label is listed
    in ``checks.mirror.asymmetric`` (with the anatomical reason) need only lie on opposite
    sides (ERROR otherwise) and get an INFO row."""
    data = _data(atlas, data)
    cfg = (atlas.frame.get("checks") or {}).get("mirror") or {}
    iou_min = float(cfg.get("iou_min", 0.8))
    tol = float(cfg.get("centroid_tol_mm", 8.0))
    asym = {**_ASYMMETRIC_BY_DEFINITION, **(cfg.get("asymmetric") or {})}
    fine = _fine(atlas, meta)
    rows = []
    for ka, kb in twin_pairs({k: meta[k] for k in fine}):
        a, b = fine[ka], fine[kb]
        fa, fb = data.facts.get(ka) or {}, data.facts.get(kb) or {}
        if not fa.get("centroid") or not fb.get("centroid"):
            continue
        ca, cb = np.asarray(fa["centroid"]), np.asarray(fb["centroid"])
        if a in asym or b in asym:
            if np.sign(ca[0]) == np.sign(cb[0]):
                rows.append((ka, "atlas-mirror", "ERROR", f"{a!r} and {b!r} lie on the same side"))
            else:
                rows.append(
                    (
                        ka,
                        "atlas-mirror",
                        "INFO",
                        f"{a!r}/{b!r} asymmetric by design: {asym.get(a) or asym.get(b)}",
                    )
                )
            continue
        lab, _aff = data.label_map(fa.get("subject", "male"))
        ma = lab == atlas.index[ka]
        mb = lab[::-1] == atlas.index[kb]
        inter = int(np.count_nonzero(ma & mb))
        union = int(np.count_nonzero(ma | mb))
        iou = inter / union if union else 0.0
        dc = float(np.linalg.norm(ca - cb * np.array([-1, 1, 1])))
        if iou < iou_min:
            rows.append(
                (ka, "atlas-mirror", "ERROR", f"{a!r} vs mirrored {b!r}: IoU {iou:.2f} < {iou_min}")
            )
        if dc > tol:
            rows.append(
                (
                    ka,
                    "atlas-mirror",
                    "ERROR",
                    f"{a!r} vs mirrored {b!r}: centroids {dc:.1f} mm apart > {tol}",
                )
            )
    return rows


def _series(by_label, names):
    return [(n, by_label[n]) for n in names if n in by_label]


def check_vertebra_order(atlas: Atlas, meta: Mapping, data: CheckData | None = None) -> list[tuple]:
    """ERROR unless C1 ... C7, T1 ... T12, L1 ... L6, Sacrum, Coccyx run head to foot by
    centroid z (L6 and the sacrum compared in the female+L6 reference when needed)."""
    data = _data(atlas, data)
    by_label = _by_label(atlas, meta)
    names = [f"Vertebra C{i}" for i in range(1, 8)] + [f"Vertebra T{i}" for i in range(1, 13)]
    names += [f"Vertebra L{i}" for i in range(1, 7)] + ["Sacrum", "Coccyx"]
    ser = [(n, k) for n, k in _series(by_label, names) if data.facts.get(k, {}).get("centroid")]
    rows = []
    for (n1, k1), (n2, k2) in pairwise(ser):
        z1, z2 = data.facts[k1]["centroid"][2], data.facts[k2]["centroid"][2]
        if not z1 > z2:
            rows.append(
                (
                    k2,
                    "atlas-vertebra-order",
                    "ERROR",
                    f"{n2!r} (z {z2:.0f}) is not below {n1!r} (z {z1:.0f})",
                )
            )
    return rows


def check_rib_order(atlas: Atlas, meta: Mapping, data: CheckData | None = None) -> list[tuple]:
    """ERROR unless ribs 1 ... 12 of each side run head to foot both by the z of their
    posterior end (``posterior_z``) and by centroid z."""
    data = _data(atlas, data)
    by_label = _by_label(atlas, meta)
    rows = []
    for side in "LR":
        ser = [
            (n, k)
            for n, k in _series(by_label, [f"Rib {side}{i}" for i in range(1, 13)])
            if data.facts.get(k, {}).get("centroid")
        ]
        for (n1, k1), (n2, k2) in pairwise(ser):
            f1, f2 = data.facts[k1], data.facts[k2]
            for what, v1, v2 in (
                ("posterior end", f1["posterior_z"], f2["posterior_z"]),
                ("centroid", f1["centroid"][2], f2["centroid"][2]),
            ):
                if not v1 > v2:
                    rows.append(
                        (
                            k2,
                            "atlas-rib-order",
                            "ERROR",
                            f"{n2!r} {what} z {v2:.0f} is not below {n1!r} ({v1:.0f})",
                        )
                    )
    return rows


def _stat(facts, keys, stat, axis):
    ax = "xyz".index(axis)
    fs = [facts[k] for k in keys if (facts.get(k) or {}).get("voxels")]
    if not fs:
        return None
    if stat == "centroid":
        w = np.array([f["voxels"] for f in fs], float)
        c = np.array([f["centroid"][ax] for f in fs], float)
        return float((w * c).sum() / w.sum())
    if stat == "min":
        return float(min(f["bbox"][0][ax] for f in fs))
    if stat == "max":
        return float(max(f["bbox"][1][ax] for f in fs))
    raise ValueError(f"unknown stat {stat!r}")


def check_organ_rules(atlas: Atlas, meta: Mapping, data: CheckData | None = None) -> list[tuple]:
    """ERROR for each broken rule of frame ``checks.rules``.  A rule ``{"name", "a": [labels],
    "stat": centroid|min|max, "axis": x|y|z, "op": "<"|">", "b": [labels] | number,
    "stat_b": ...}`` compares the statistic of the union of ``a`` (voxel-weighted centroid, or
    the bbox min / max) with that of ``b`` or with a number (reference mm)."""
    data = _data(atlas, data)
    by_label = _by_label(atlas, meta)
    rows = []
    for r in (atlas.frame.get("checks") or {}).get("rules") or []:
        ka = [by_label[x] for x in r["a"] if x in by_label]
        if not ka:
            continue
        va = _stat(data.facts, ka, r.get("stat", "centroid"), r["axis"])
        if isinstance(r["b"], (int, float)):
            vb = float(r["b"])
        else:
            kb = [by_label[x] for x in r["b"] if x in by_label]
            if not kb:
                continue
            vb = _stat(data.facts, kb, r.get("stat_b", r.get("stat", "centroid")), r["axis"])
        if va is None or vb is None:
            continue
        ok = va < vb if r["op"] == "<" else va > vb
        if not ok:
            rows.append(
                (
                    ka[0],
                    "atlas-organ-rule",
                    "ERROR",
                    f"rule {r['name']!r} broken: {va:.0f} {r['op']} {vb:.0f} is false",
                )
            )
    return rows


def _body_frame(atlas: Atlas, meta: Mapping, data: CheckData | None):
    """What the two body checks share: the check data, the skin aux (frame
    ``checks.skin_aux``), the key and label index of 'Outside the body' (frame
    ``checks.outside``; -1 when absent) and the label volume as int32."""
    data = _data(atlas, data)
    cfg = atlas.frame.get("checks") or {}
    ko = _by_label(atlas, meta).get(cfg.get("outside", "Outside the body"))
    io = atlas.index.get(ko, -1) if ko else -1
    return data, cfg.get("skin_aux", "body"), ko, io, data.lab.astype(np.int32)


def check_outside_body(atlas: Atlas, meta: Mapping, data: CheckData | None = None) -> list[tuple]:
    """'Outside the body' (frame ``checks.outside``) must lie outside the skin (the frame aux
    ``checks.skin_aux``): any of its voxels inside is an ERROR.  Every other location must lie
    inside: voxels more than half a voxel outside the skin are an ERROR above 1 % of the
    location's voxels and a WARN below.  Only voxels within 3 voxels of the air are tested
    (anything poking out of the skin is there)."""
    from nibabel.affines import apply_affine
    from scipy import ndimage

    data, skin, ko, io, lab = _body_frame(atlas, meta, data)
    air = (lab == 0) | (lab == io)
    near = ndimage.binary_dilation(air, iterations=3) & ~air
    rows = []
    half = data.spacing * 0.5
    # the air layer next to the body must be outside the skin
    if io > 0:
        rim = (lab == io) & ndimage.binary_dilation(~air, iterations=1)
        idx = np.argwhere(rim)
        if len(idx):
            pts = apply_affine(data.aff, idx)
            bad = int(np.count_nonzero(atlas.aux_sdf(skin, pts, data.male) < 0))
            if bad:
                rows.append(
                    (
                        ko,
                        "atlas-outside-body",
                        "ERROR",
                        f"{bad} voxels of {atlas.keys[io - 1]!r} lie inside the skin",
                    )
                )
    idx = np.argwhere(near)
    if len(idx):
        pts = apply_affine(data.aff, idx)
        d = atlas.aux_sdf(skin, pts, data.male)
        lv = lab[tuple(idx.T)]
        out = d > half
        counts = np.bincount(lv[out], minlength=len(atlas.keys) + 1)
        for k in _fine(atlas, meta):
            i = atlas.index[k]
            if i == io or counts[i] == 0:
                continue
            tot = (
                max(int(data.facts[k]["voxels"]), 1)
                if data.facts[k]["subject"] == "male"
                else max(int(np.count_nonzero(lab == i)), 1)
            )
            frac = counts[i] / tot
            sev = "ERROR" if frac > 0.01 else "WARN"
            rows.append(
                (
                    k,
                    "atlas-outside-body",
                    sev,
                    f"{int(counts[i])} voxels ({frac:.1%}) of {meta[k].get('label', k)!r} lie outside the skin",
                )
            )
    return rows


def check_body_closure(atlas: Atlas, meta: Mapping, data: CheckData | None = None) -> list[tuple]:
    """The air layer must wrap the body: a body voxel (not 'Outside the body') face-adjacent
    to background is an ERROR; background enclosed by the body (holes: voxels inside the skin
    that no location claims) is a WARN above ``checks.max_holes`` (fraction of the body
    voxels, default 0.002) and an INFO row otherwise."""
    from nibabel.affines import apply_affine
    from scipy import ndimage

    data, skin, _, io, lab = _body_frame(atlas, meta, data)
    body = (lab > 0) & (lab != io)
    bg = lab == 0
    rows = []
    leak: dict[int, int] = {}
    for ax in range(3):
        a = np.moveaxis(body, ax, 0)
        b = np.moveaxis(bg, ax, 0)
        la = np.moveaxis(lab, ax, 0)
        for m, l_ in ((a[:-1] & b[1:], la[:-1]), (a[1:] & b[:-1], la[1:])):
            if m.any():
                for v, c in zip(*np.unique(l_[m], return_counts=True), strict=True):
                    leak[int(v)] = leak.get(int(v), 0) + int(c)
    for v, c in sorted(leak.items()):
        k = atlas.keys[v - 1]
        rows.append(
            (
                k,
                "atlas-body-closure",
                "ERROR",
                f"{meta.get(k, {}).get('label', k)!r} touches background at {c} voxel faces (no air layer)",
            )
        )
    comp, _n = ndimage.label(bg)
    border = set(
        np.unique(
            np.concatenate(
                [
                    comp[0].ravel(),
                    comp[-1].ravel(),
                    comp[:, 0].ravel(),
                    comp[:, -1].ravel(),
                    comp[:, :, 0].ravel(),
                    comp[:, :, -1].ravel(),
                ]
            )
        ).tolist()
    )
    enclosed = (comp > 0) & ~np.isin(comp, list(border))
    holes = 0
    idx = np.argwhere(enclosed)
    if len(idx):
        pts = apply_affine(data.aff, idx)
        holes = int(np.count_nonzero(atlas.aux_sdf(skin, pts, data.male) < 0))
    total = int(np.count_nonzero(body))
    frac = holes / max(total, 1)
    lim = float((atlas.frame.get("checks") or {}).get("max_holes", 0.002))
    rows.append(
        (
            "",
            "atlas-coverage",
            "WARN" if frac > lim else "INFO",
            f"{holes} unlabelled voxels inside the skin ({frac:.3%} of {total} body voxels)",
        )
    )
    return rows


def check_neighbours(atlas: Atlas, meta: Mapping, data: CheckData | None = None) -> list[tuple]:
    """WARN when a 'Near X', 'Around the X', 'Spinous process of vertebra X' or 'Renal fascia
    of the X kidney' location does not touch X (or, for 'Around the liver', any 'Liver ...'
    location) in the label map."""
    data = _data(atlas, data)
    by_label = _by_label(atlas, meta)
    rows = []
    for lab, k in sorted(by_label.items()):
        target = None
        for pat, rep in (
            (r"Near (.+)", r"\1"),
            (r"Around the (.+)", r"\1"),
            (r"Spinous process of vertebra (.+)", r"Vertebra \1"),
            (r"Renal fascia of (left|right) kidney", None),
        ):
            m = re.fullmatch(pat, lab)
            if m:
                target = m.expand(rep) if rep else f"{m.group(1).capitalize()} kidney"
                break
        if not target:
            continue
        cands = [t for t in {target, target[0].upper() + target[1:]} if t in by_label]
        if not cands:
            cands = sorted(x for x in by_label if x.lower().startswith(target.lower()))
        if not cands or not data.facts.get(k, {}).get("voxels"):
            continue
        if not any(by_label[c] in data.facts[k]["touches"] for c in cands):
            rows.append((k, "atlas-neighbour", "WARN", f"{lab!r} does not touch {cands[0]!r}"))
    return rows


CHECKS = {
    "atlas-nonempty": check_nonempty,
    "atlas-region-extent": check_region_extent,
    "atlas-mirror": check_mirror_twins,
    "atlas-vertebra-order": check_vertebra_order,
    "atlas-rib-order": check_rib_order,
    "atlas-organ-rule": check_organ_rules,
    "atlas-outside-body": check_outside_body,
    "atlas-body-closure": check_body_closure,
    "atlas-neighbour": check_neighbours,
}


def run_checks(
    atlas: Atlas, meta: Mapping[str, Mapping], spacing: float = 4.0, data: CheckData | None = None
) -> list[tuple]:
    """Run every check of :data:`CHECKS` on one shared rasterization (:class:`CheckData`);
    returns rows (key, check, severity, message)."""
    data = data if data is not None else CheckData(atlas, spacing)
    rows = []
    for fn in CHECKS.values():
        rows += fn(atlas, meta, data)
    return rows
