"""Realism: how far a phantom case departs from its profile — named shifts and the spread
that training draws from.

A real PET/CT differs from a clean phantom render in ways that can be named: the scanner
(PET voxels of 2 to 5.5 mm, 4–8 mm resolution, few counts, a thick-slice or contrast CT,
metal streaks), the body (arms up or down, a heavy or a child-sized patient, physiology
that varies more) and the disease (ten bulky nodes in one drainage basin, disseminated bone
and liver metastases, SUVmax 40, necrotic centres).  A :class:`Variation` holds ranges for
each of these; a range of None keeps the profile's value.  Patch mode draws them:

* per subject — the body (height, girth, arms), the spread of physiological uptake, IV
  contrast (the subject's looks, so its field is rendered with them);
* per lesion — the scanner (a copy of the profile with the drawn CT and PET), the lesion
  model (size, uptake, necrosis), other lesions around the target (``multifocal``: nodes of
  the target's drainage basin, metastases of the same organ system, or lesions nearby) and
  a metal implant (hip or dental) with its streaks.

:data:`SHIFTS` are the named departures of the realism battery (``bench/realism.py``): each
is one :class:`Variation` (narrow ranges), the locations its target lesions are drawn from,
and a field of view (applied to the patches by the retriever, see
``anatloc.retriever.realism``).  :data:`TRAINING` is the spread the shipped model was
trained with.  Everything here is a function of the random generator it is given, so a
sample stays a pure function of its seed.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

import numpy as np

from .appearance import CaseLooks
from .lesions import lesion_in, overlaps, warp_points
from .profiles import LesionModel, Profile

Range = tuple[float, float]


@dataclass(frozen=True)
class Variation:
    """Ranges to draw a case's departures from; None keeps the profile's value."""

    # -- scanner, per lesion (uniform; noise log-uniform) ------------------------------------
    pet_spacing_mm: Range | None = None  # isotropic PET voxel
    pet_fwhm_mm: Range | None = None
    pet_noise_cv: Range | None = None
    ct_kernel_fwhm_mm: Range | None = None
    ct_noise_hu: Range | None = None
    ct_slice_mm: Range | None = None  # CT slice thickness (blur along z in patch mode)
    # -- body and physiology, per subject -----------------------------------------------
    height_mm: Range | None = None
    girth: Range | None = None
    p_arms_up: float | None = None
    #: multiplies the log-sd of every per-case uptake factor (1: the profile's physiology)
    uptake_spread: float = 1.0
    #: probability that the CT is contrast-enhanced (portal-venous to arterial phase)
    contrast_prob: float = 0.0
    # -- lesions, per lesion -------------------------------------------------------------
    diameter_mm: Range | None = None
    suv_peak: Range | None = None
    p_necrotic: float | None = None
    #: probability of further lesions around the target, and how many
    multifocal_prob: float = 0.0
    multifocal_count: tuple[int, int] = (4, 14)
    #: diameter of those further lesions (log-uniform, mm)
    multifocal_diameter_mm: Range = (8.0, 40.0)
    #: probability of a metal implant (a hip prosthesis or dental work) in the scan
    metal_prob: float = 0.0
    #: a target lesion's radius is at most this many times its depth in its location
    #: (+ 4 mm): larger values let bulky lesions spill over into their neighbours
    size_cap: float = 2.0

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def is_default(self) -> bool:
        return self == Variation()


# -- drawing -----------------------------------------------------------------------------------


def _uniform(rng: np.random.Generator, r: Range) -> float:
    return float(rng.uniform(r[0], r[1])) if r[1] > r[0] else float(r[0])


def _loguniform(rng: np.random.Generator, r: Range) -> float:
    if r[1] <= r[0]:
        return float(r[0])
    return float(math.exp(rng.uniform(math.log(r[0]), math.log(r[1]))))


def subject_ranges(var: Variation, ranges: dict) -> dict:
    """The population's subject ranges with the variation's body ranges."""
    out = dict(ranges)
    if var.height_mm is not None:
        out["height_mm"] = var.height_mm
    if var.girth is not None:
        out["girth"] = var.girth
    if var.p_arms_up is not None:
        out["p_arms_up"] = var.p_arms_up
    return out


def draw_scanner(var: Variation, profile: Profile, rng: np.random.Generator) -> Profile:
    """A copy of ``profile`` with the CT and PET drawn from the variation (one draw per
    range, in a fixed order, whether or not the range is set: the stream does not depend
    on which ranges a variation has)."""
    u = rng.random(7)
    pet, ct = profile.pet, profile.ct

    def pick(r: Range | None, i: int, log: bool = False):
        if r is None:
            return None
        if log and r[1] > r[0]:
            return math.exp(math.log(r[0]) + (math.log(r[1]) - math.log(r[0])) * u[i])
        return r[0] + (r[1] - r[0]) * u[i]

    sp = pick(var.pet_spacing_mm, 0)
    if sp is not None:
        pet = dataclasses.replace(pet, spacing_mm=(sp, sp, sp))
    for name, r, i, log in (
        ("fwhm_mm", var.pet_fwhm_mm, 1, False),
        ("noise_cv", var.pet_noise_cv, 2, True),
    ):
        v = pick(r, i, log)
        if v is not None:
            pet = dataclasses.replace(pet, **{name: v})
    for name, r, i, log in (
        ("kernel_fwhm_mm", var.ct_kernel_fwhm_mm, 3, False),
        ("noise_hu", var.ct_noise_hu, 4, True),
    ):
        v = pick(r, i, log)
        if v is not None:
            ct = dataclasses.replace(ct, **{name: v})
    sl = pick(var.ct_slice_mm, 5)
    if sl is not None:
        x, y, _ = ct.spacing_mm
        ct = dataclasses.replace(ct, spacing_mm=(x, y, sl))
    return dataclasses.replace(profile, ct=ct, pet=pet)


def lesion_model(var: Variation, model: LesionModel) -> LesionModel:
    """The lesion model with the variation's size, uptake and necrosis."""
    kw = {}
    if var.diameter_mm is not None:
        kw["diameter_mm"] = var.diameter_mm
    if var.suv_peak is not None:
        kw["suv_peak"] = var.suv_peak
    if var.p_necrotic is not None:
        kw["p_necrotic"] = var.p_necrotic
    return dataclasses.replace(model, **kw) if kw else model


#: IV contrast: the share of the phase's enhancement (HU) each location takes, by label
#: (first match wins); the enhancement itself is drawn per subject in ``CONTRAST_HU``
CONTRAST: list[tuple[str, float]] = [
    (r"Heart|(Thoracic|Abdominal) aorta|(Left|Right) iliac vessel", 1.0),
    (r"(Left|Right) kidney", 0.9),
    (r"Spleen", 0.55),
    (r"Liver S\d", 0.4),
    (r"Pancreas", 0.4),
    (r"(Left|Right) lobe of thyroid|Isthmus of thyroid", 0.5),
    (r"(Left|Right) adrenal gland", 0.3),
    (r"Stomach|Cardia of stomach|Small intestine|Large intestine|Cecum|Rectum", 0.2),
    (r"Uterus|Prostate gland|Esophagus", 0.25),
]
CONTRAST_HU: Range = (90.0, 250.0)
_CONTRAST = [(re.compile(p), share) for p, share in CONTRAST]


def contrast_shares(labels: tuple[str, ...]) -> np.ndarray:
    """Per label index, the share of the enhancement it takes (0: none)."""
    out = np.zeros(len(labels), np.float32)
    for i, lab in enumerate(labels):
        if i == 0:
            continue
        for pat, share in _CONTRAST:
            if pat.fullmatch(lab):
                out[i] = share
                break
    return out


def with_contrast(looks: CaseLooks, labels: tuple[str, ...], hu: float) -> CaseLooks:
    """``looks`` with IV contrast of ``hu`` at the aorta (others by their share)."""
    return dataclasses.replace(looks, hu=looks.hu + contrast_shares(labels) * np.float32(hu))


# -- other lesions around the target ------------------------------------------------------------

#: drainage basins of nodal disease: label patterns of their stations
BASINS: dict[str, str] = {
    "neck": r"(Left|Right) (neck|supraclavicular|retropharyngeal|parapharyngeal|tonsil)",
    "mediastinum": r"Mediastinum \w+|(Left|Right) pulmonary hilum|Pericardiophrenic region",
    "axilla": r"(Left|Right) axilla|Inner side of the (left|right) pectoralis minor muscle"
    r"|(Left|Right) interpectoral space",
    "para-aortic": r"Retroperitoneum|Near vertebra (T12|L\d)|Abdominal aorta",
    "iliac-inguinal": r"Near (left|right) iliac vessel|(Left|Right) inguinal region",
}
#: organ systems of disseminated metastases (tissue kinds or label patterns)
SYSTEMS: dict[str, str] = {
    "bone": r"tissue:bone",
    "liver": r"Liver S\d",
}


def members(model, pattern: str) -> np.ndarray:
    """Label indices whose label (or ``tissue:KIND``) matches ``pattern``."""
    pat = re.compile(pattern)
    out = []
    for i in range(1, model.n + 1):
        if pat.fullmatch(model.labels[i]) or pat.fullmatch(f"tissue:{model.tissues[i]}"):
            out.append(i)
    return np.asarray(out, dtype=np.int64)


def group_of(model, index: int) -> np.ndarray | None:
    """The basin or organ system of label ``index`` (its members), or None."""
    for pattern in list(BASINS.values()) + list(SYSTEMS.values()):
        m = members(model, pattern)
        if index in m:
            if pattern == SYSTEMS["liver"]:  # liver metastases come with bone ones
                return np.concatenate([m, members(model, SYSTEMS["bone"])])
            return m
    return None


def multifocal(
    scene,
    target,
    rng: np.random.Generator,
    var: Variation,
    model: LesionModel,
    *,
    labels_at,
    point_in,
    group: np.ndarray | None,
    first_id: int = 2,
) -> list:
    """Further lesions for a target lesion: ``var.multifocal_count`` of them, in the
    target's ``group`` (its basin or organ system: random points of random members) or,
    without one, at random points 20–150 mm from it inside the body.

    ``labels_at(points)`` and ``point_in(index, rng)`` (a point of a location, or None)
    come from the caller's scene or field."""
    m = scene.model
    lo, hi = var.multifocal_count
    k = int(rng.integers(lo, hi + 1))
    out: list = []
    c = np.asarray(target.center_mm, float)
    for _ in range(6 * k):
        if len(out) >= k:
            break
        if group is not None and len(group):
            s = int(group[int(rng.integers(len(group)))])
            found = point_in(s, rng)
            if found is None:
                continue
            p = np.asarray(found[0], float)
        else:
            d = rng.standard_normal(3)
            d /= np.linalg.norm(d)
            p = c + d * (target.bound_radius + rng.uniform(20.0, 150.0))
            s = int(labels_at(p[None])[0])
        if s == 0 or s == m.outside:
            continue
        r = _loguniform(rng, var.multifocal_diameter_mm) / 2.0
        if overlaps(p, r * 1.1, [target, *out], gap_mm=2.0):
            continue
        les = lesion_in(scene, s, rng, first_id + len(out), p, r, model, allow_deform=False)
        out.append(les)
    return out


# -- placing lesions (in a scene, or in its pre-rendered field) ------------------------------


def labels_at(scene, field, pts: np.ndarray) -> np.ndarray:
    """Labels at world points: the field's (mass effect applied) or the atlas's."""
    if field is None:
        return scene.labels_at(pts)
    if scene.deforming:
        pts = warp_points(scene.lesions, pts)
    return field.labels_at(pts)


def point_in(scene, field, s: int, rng: np.random.Generator) -> tuple[np.ndarray, float] | None:
    """A random point of location ``s`` (deeper points preferred) and its depth (mm)."""
    m, atlas = scene.model, scene.atlas
    key = m.curies[s]
    if field is not None:
        hit = field.random_points(s, rng, 12)
    else:
        lo, hi = atlas.bbox(key, scene.subject)
        if not np.all(lo <= hi):
            return None
        hit = np.zeros((0, 3))
        for n in (256, 2048, 16384):
            pts = rng.uniform(lo, hi, (n, 3))
            hit = pts[scene.labels_at(pts) == s]
            if len(hit):
                break
    if len(hit) == 0:
        return None
    depth = np.maximum(-atlas.sdf(key, hit, scene.subject), 0.0)
    deep = np.flatnonzero(depth >= 0.5 * depth.max())
    i = int(deep[int(rng.integers(len(deep)))])
    return hit[i], float(depth[i])


# -- metal -------------------------------------------------------------------------------------

#: where implants sit: label of the location holding it, radius of the metal (mm)
METAL_SITES = {
    "hip": (r"(Left|Right) hip joint", 22.0),
    "dental": (r"Upper alveolar cavity|Lower alveolar cavity", 9.0),
}
METAL_HU = 3000.0


@dataclass(frozen=True)
class Metal:
    """A metal implant: a ball of metal and the streaks it throws across its axial slices."""

    center_mm: tuple[float, float, float]
    radius_mm: float
    #: streak angles (rad), signs (+1 bright, −1 dark) and strength (HU at the metal)
    angles: tuple[float, ...]
    signs: tuple[float, ...]
    strength_hu: float

    def hu_change(self, points: np.ndarray, hu: np.ndarray) -> np.ndarray:
        """CT values at world ``points`` (N, 3) with the implant and its streaks."""
        c = np.asarray(self.center_mm, float)
        d = np.asarray(points, float) - c
        r = np.sqrt(np.einsum("ij,ij->i", d, d))
        out = np.array(hu, dtype=np.float32, copy=True)
        # streaks: lines through the metal in the axial plane, fading with distance and
        # with height above the metal
        slab = np.exp(-0.5 * (d[:, 2] / (1.5 * self.radius_mm)) ** 2)
        near = slab > 0.02
        if near.any():
            dx, dy = d[near, 0], d[near, 1]
            rr = np.maximum(np.hypot(dx, dy), 1e-3)
            acc = np.zeros(int(near.sum()), np.float64)
            for a, s in zip(self.angles, self.signs, strict=True):
                dist = np.abs(-math.sin(a) * dx + math.cos(a) * dy)  # to the line at angle a
                acc += s * np.exp(-0.5 * (dist / 2.5) ** 2)
            fade = np.exp(-np.maximum(rr - self.radius_mm, 0.0) / 120.0)
            out[near] += (self.strength_hu * acc * fade * slab[near]).astype(np.float32)
        out[r <= self.radius_mm] = METAL_HU
        return out


def draw_metal(scene, rng: np.random.Generator, near=None) -> Metal | None:
    """A metal implant of the scene's subject — at the site nearest to the world point
    ``near`` (an implant far from a lesion changes nothing it shows), else a random one —
    or None when the subject has no implant site."""
    m = scene.model
    present = m.present(scene.subject)
    sites = []
    for pattern, radius in METAL_SITES.values():
        for i in members(m, pattern):
            if present[i]:
                lo, hi = scene.atlas.bbox(m.curies[i], scene.subject)
                sites.append(((lo + hi) / 2.0, radius))
    u = rng.random()
    if not sites:
        return None
    if near is not None:
        d = [float(np.linalg.norm(c - np.asarray(near, float))) for c, _ in sites]
        centre, radius = sites[int(np.argmin(d))]
    else:
        centre, radius = sites[min(int(u * len(sites)), len(sites) - 1)]
    n = int(rng.integers(5, 11))
    return Metal(
        center_mm=tuple(float(v) for v in centre),
        radius_mm=float(radius * rng.uniform(0.8, 1.2)),
        angles=tuple(float(a) for a in rng.uniform(0, math.pi, n)),
        signs=tuple(float(s) for s in rng.choice([-1.0, 1.0], n, p=[0.6, 0.4])),
        strength_hu=float(rng.uniform(300.0, 900.0)),
    )


def thick_slices(ct: np.ndarray, patch_spacing: float, slice_mm: float) -> np.ndarray:
    """The z blur of a CT reconstructed in ``slice_mm`` slices, on a patch (x, y, z axes)
    of ``patch_spacing`` mm: the slice's integration and the interpolation between slices
    (sigma = slice / 2)."""
    from .render import blur

    sig = 0.5 * slice_mm / patch_spacing
    return blur(ct, (0.0, 0.0, sig))


# -- landmarks ---------------------------------------------------------------------------------

#: the landmarks that fields of view are tied to, from the atlas frame's ``landmarks_z_mm``
#: (reference heights); the diaphragm is the mean of the two domes, mid-thigh halfway
#: from the hip to the knee
LANDMARKS = ("vertex", "skull_base", "jugular_notch", "diaphragm", "perineum", "mid_thigh")


def landmark_heights(scene) -> np.ndarray:
    """World z (mm) of :data:`LANDMARKS` for the scene's subject (NaN: not in the frame)."""
    z = dict(scene.atlas.frame.get("landmarks_z_mm") or {})
    if "dome_R" in z and "dome_L" in z:
        z.setdefault("diaphragm", 0.5 * (z["dome_R"] + z["dome_L"]))
    if "hip" in z and "knee" in z:
        z.setdefault("mid_thigh", 0.5 * (z["hip"] + z["knee"]))
    ref = np.array([z.get(name, np.nan) for name in LANDMARKS], float)
    out = np.full(len(LANDMARKS), np.nan)
    ok = np.isfinite(ref)
    if ok.any():
        pts = np.zeros((int(ok.sum()), 3))
        pts[:, 2] = ref[ok]
        out[ok] = scene.atlas.reference_to_world(pts, scene.subject)[:, 2]
    return out


# -- the spreads -------------------------------------------------------------------------------

#: what training draws from (the shipped model's recipe; ``docs/phantom.md`` explains it)
TRAINING = Variation(
    pet_spacing_mm=(2.0, 5.5),
    pet_fwhm_mm=(4.0, 8.5),
    pet_noise_cv=(0.07, 0.35),
    ct_kernel_fwhm_mm=(0.8, 3.0),
    ct_noise_hu=(8.0, 40.0),
    ct_slice_mm=(1.0, 5.0),
    height_mm=(1100.0, 2000.0),
    girth=(0.7, 1.9),
    p_arms_up=0.5,
    uptake_spread=1.6,
    contrast_prob=0.4,
    diameter_mm=(4.0, 90.0),
    suv_peak=(2.0, 45.0),
    p_necrotic=0.5,
    multifocal_prob=0.35,
    metal_prob=0.05,
    size_cap=4.0,
)


@dataclass(frozen=True)
class Shift:
    """One named departure of the realism battery."""

    name: str
    description: str
    variation: Variation = Variation()
    #: label pattern (or ``tissue:KIND``) of the locations target lesions are drawn from
    #: (None: all); ``"group"`` draws them from ``BASINS``/``SYSTEMS`` members
    targets: str | None = None
    #: the field of view (``anatloc.retriever.realism.FOV_KINDS``)
    fov: str = "whole-body"
    #: the case has no CT
    pet_only: bool = False
    #: metal implant site (``METAL_SITES``) in every case
    metal: str | None = None

    @property
    def is_scenario(self) -> bool:
        """Several departures at once (reported beside the single shifts, not among them)."""
        return self.name.startswith("scenario-")


_NODES = "|".join(f"(?:{p})" for p in BASINS.values())
#: locations within reach of an implant site (hip, teeth)
NEAR_METAL = (
    r".*(hip|ilium|ischium|pubis|femur|inguinal|iliac|Bladder|Prostate|Rectum|Uterus"
    r"|buttock|Sacrum|Coccyx|Pelvic|Tongue|tongue|Maxilla|Mandible|alveolar|tonsil"
    r"|Oropharynx|parotid|submandibular|facial|Nasopharynx|nasal).*"
)

#: bulky nodes of 40-80 mm, SUVmax 10-30, among 2-8 more nodes of the basin
_BULKY = Variation(
    diameter_mm=(40.0, 80.0),
    suv_peak=(10.0, 30.0),
    multifocal_prob=1.0,
    multifocal_count=(2, 8),
    multifocal_diameter_mm=(15.0, 50.0),
    size_cap=8.0,
)

SHIFTS: dict[str, Shift] = {
    s.name: s
    for s in (
        Shift("reference", "the internal profile as it is (no departure)"),
        Shift("fov-vertex-thigh", "field of view from the vertex to mid-thigh", fov="vertex-thigh"),
        Shift(
            "fov-skullbase-thigh",
            "field of view from the skull base to mid-thigh",
            fov="skullbase-thigh",
        ),
        Shift(
            "fov-chest-abdomen-pelvis",
            "field of view from the jugular notch to the perineum",
            fov="chest-abdomen-pelvis",
        ),
        Shift(
            "fov-abdomen-pelvis",
            "field of view from the diaphragm to the perineum (an abdomen-pelvis CT)",
            fov="abdomen-pelvis",
        ),
        Shift("fov-cube", "a 195-225 mm cube around the lesion (challenge crops)", fov="cube"),
        Shift("fov-edge", "the field of view ends within 2 cm of the lesion centre", fov="edge"),
        Shift("body-arms-down", "arms down beside the body", Variation(p_arms_up=0.0)),
        Shift("body-arms-up", "arms raised above the head", Variation(p_arms_up=1.0)),
        Shift(
            "body-heavy",
            "heavy patients (girth 1.6-2.0: about 120 kg or more, BMI 40 or more)",
            Variation(girth=(1.6, 2.0), height_mm=(1600.0, 1900.0)),
        ),
        Shift(
            "body-child",
            "child-sized bodies (110-135 cm)",
            Variation(height_mm=(1100.0, 1350.0), girth=(0.7, 0.9)),
        ),
        Shift(
            "disease-nodal-basin",
            "5-15 FDG-avid nodes in one drainage basin (neck, mediastinum and hila, axilla, "
            "para-aortic, iliac/inguinal), target among them",
            Variation(
                multifocal_prob=1.0,
                multifocal_count=(4, 14),
                multifocal_diameter_mm=(10.0, 35.0),
                diameter_mm=(10.0, 35.0),
                suv_peak=(5.0, 25.0),
            ),
            targets=_NODES,
        ),
        Shift(
            "disease-bulky-nodes",
            "bulky nodes of 40-80 mm, SUVmax 10-30, with other nodes of the basin",
            _BULKY,
            targets=_NODES,
        ),
        Shift(
            "disease-bone-liver",
            "disseminated bone and liver metastases (5-15 more), target in bone or liver",
            Variation(multifocal_prob=1.0, multifocal_count=(5, 15)),
            targets=r"tissue:bone|Liver S\d",
        ),
        Shift(
            "disease-suv-high", "very hot lesions: SUVmax 15-60", Variation(suv_peak=(15.0, 60.0))
        ),
        Shift(
            "disease-necrotic",
            "large lesions (30-70 mm) with necrotic centres",
            Variation(diameter_mm=(30.0, 70.0), p_necrotic=1.0, size_cap=4.0),
        ),
        Shift("scanner-pet-only", "no CT", pet_only=True),
        Shift(
            "scanner-pet-2mm",
            "PET voxels of 2.0 mm, 4 mm resolution",
            Variation(pet_spacing_mm=(2.0, 2.0), pet_fwhm_mm=(4.0, 4.0)),
        ),
        Shift(
            "scanner-pet-4mm",
            "PET voxels of 4.0 mm, 6 mm resolution",
            Variation(pet_spacing_mm=(4.0, 4.0), pet_fwhm_mm=(6.0, 6.0)),
        ),
        Shift(
            "scanner-pet-5.5mm",
            "PET voxels of 5.5 mm, 8 mm resolution",
            Variation(pet_spacing_mm=(5.5, 5.5), pet_fwhm_mm=(8.0, 8.0)),
        ),
        Shift(
            "scanner-low-counts",
            "low counts: three times the PET noise",
            Variation(pet_noise_cv=(0.36, 0.36)),
        ),
        Shift(
            "scanner-ct-contrast",
            "CT with IV contrast",
            Variation(contrast_prob=1.0),
        ),
        Shift(
            "scanner-ct-thick",
            "CT of 0.8 mm in-plane with 5 mm slices",
            Variation(ct_slice_mm=(5.0, 5.0), ct_kernel_fwhm_mm=(0.8, 0.8)),
        ),
        Shift(
            "scanner-metal",
            "a hip prosthesis or dental work with streaks, at the implant site nearest to a "
            "lesion of the pelvis, hips, mouth or face",
            Variation(metal_prob=1.0),
            targets=NEAR_METAL,
        ),
        # -- scenarios: several departures at once, drawn after the kinds of real scan that
        # broke earlier models (docs/model-card.md); reported beside the single shifts
        Shift(
            "scenario-pet-only-neck-nodes",
            "PET only, vertex to mid-thigh, a heavy body with arms down, and bulky hot neck "
            "nodes (30-70 mm, SUVmax 10-30) with 4-10 more in the neck",
            dataclasses.replace(
                _BULKY,
                girth=(1.5, 1.9),
                height_mm=(1650.0, 1900.0),
                p_arms_up=0.0,
                diameter_mm=(30.0, 70.0),
                multifocal_count=(4, 10),
            ),
            targets=BASINS["neck"],
            fov="vertex-thigh",
            pet_only=True,
        ),
        Shift(
            "scenario-abdomen-pelvis-ct",
            "an abdomen-pelvis field of view (diaphragm to perineum) with a contrast CT of "
            "3-5 mm slices, lesions of 10-50 mm",
            Variation(contrast_prob=1.0, ct_slice_mm=(3.0, 5.0), diameter_mm=(10.0, 50.0)),
            fov="abdomen-pelvis",
        ),
        Shift(
            "scenario-thigh-sarcoma-edge",
            "a 60-100 mm soft-tissue tumour of the thigh, often necrotic, within 2 cm of the "
            "field's lower or upper edge",
            Variation(
                diameter_mm=(60.0, 100.0), suv_peak=(4.0, 20.0), p_necrotic=0.7, size_cap=8.0
            ),
            targets=r"(Left|Right) thigh muscle|Between (left|right) thigh muscles",
            fov="edge",
        ),
    )
}


def get_shift(name: str) -> Shift:
    from anatloc.ontology.errors import UsageError

    try:
        return SHIFTS[name]
    except KeyError:
        raise UsageError(f"unknown shift {name!r}; expected one of {', '.join(SHIFTS)}") from None
