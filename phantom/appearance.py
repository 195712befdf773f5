"""How each location looks on CT (Hounsfield units) and FDG PET (SUV).

Every location gets the :class:`Look` of its tissue kind (:data:`TISSUE_LOOKS`, one entry per
kind of :data:`anatloc.ontology.vocab.TISSUES`), unless one of the :data:`OVERRIDES` matches
its label (a regular expression over the whole label) — the organs whose uptake or density is
specific: brain, myocardium, kidneys and urine, liver, spleen, vertebral marrow, thyroid,
Waldeyer's ring, bowel, bone cortex ...  A location added to the ontology therefore looks like
its tissue kind without any code change.

A look has a base value, a smooth texture amplitude and a per-case variability: each case
draws one log-normal factor per *group* (``kidney``, ``urine``, ``myocardium`` ...), so that
e.g. the myocardium is bright in one case and invisible in the next, and both kidneys change
together.  Two sub-structures are modelled from the location's own shape (its signed distance
in the atlas, so that they are the same in every grid): a *rim* (bone cortex, myocardium)
within ``rim_mm`` of the surface, and a *core* (renal pelvis with urine) deeper than
``core_mm``.  The table is in ``docs/phantom.md``.

Not modelled: contrast media, beam hardening and metal, brown fat, inflammation, physiologic
variants other than the per-case factors, time-of-flight, attenuation and scatter.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

AIR_HU = -1000.0
GAS_HU = -850.0


@dataclass(frozen=True)
class Look:
    """CT and PET appearance of one location (means; texture and variability)."""

    hu: float
    suv: float
    hu_tex: float = 8.0  # amplitude (sd) of the smooth CT texture, HU
    suv_tex: float = 0.08  # relative amplitude (sd) of the smooth PET texture
    gas: float = math.inf  # where the CT texture exceeds this, the voxel is gas (-850 HU)
    suv_var: float = 0.15  # log-sd of the per-case uptake factor
    group: str = ""  # locations sharing the per-case factor ("" = the location alone)
    rim_mm: float = 0.0  # rim thickness inside the surface (0 = none)
    rim_hu: float = 0.0
    rim_suv: float = 0.0
    rim_var: float = 0.0
    rim_group: str = ""
    core_mm: float = 0.0  # core deeper than this (0 = none)
    core_hu: float = 0.0
    core_suv: float = 0.0
    core_var: float = 0.0
    core_group: str = ""


def _bone(hu: float, suv: float, rim: float = 2.0, rim_hu: float = 1050.0, group: str = "") -> Look:
    return Look(
        hu=hu,
        suv=suv,
        hu_tex=40.0,
        suv_tex=0.1,
        group=group,
        rim_mm=rim,
        rim_hu=rim_hu,
        rim_suv=0.5,
    )


#: default look of each tissue kind
TISSUE_LOOKS: dict[str, Look] = {
    "outside_body": Look(AIR_HU, 0.0, hu_tex=0.0, suv_tex=0.0, suv_var=0.0),
    "subcutaneous_fat": Look(-100.0, 0.3, hu_tex=10.0, suv_tex=0.1, group="fat"),
    "space": Look(-70.0, 0.5, hu_tex=12.0, group="fat"),
    "lymph_node_station": Look(-50.0, 0.6, hu_tex=18.0, suv_tex=0.12, group="fat"),
    "solid_organ": Look(50.0, 2.0, hu_tex=5.0),
    "gland": Look(40.0, 1.5, hu_tex=8.0),
    "hollow_organ": Look(15.0, 1.6, hu_tex=20.0, suv_var=0.3),
    "vessel": Look(40.0, 1.7, hu_tex=3.0, group="blood"),
    "muscle": Look(50.0, 0.8, hu_tex=6.0, group="muscle"),
    "serous_membrane": Look(20.0, 0.8, hu_tex=10.0),
    "skin_surface": Look(20.0, 0.8, hu_tex=10.0),
    "airway": Look(-750.0, 0.6, hu_tex=60.0),
    "lung": Look(-850.0, 0.45, hu_tex=45.0, suv_tex=0.15, group="lung"),
    "brain": Look(35.0, 8.0, hu_tex=5.0, suv_tex=0.15, suv_var=0.2, group="brain"),
    "sensory_organ": Look(15.0, 1.3, hu_tex=10.0),
    "mixed": Look(30.0, 0.9, hu_tex=40.0),
    "bone": _bone(250.0, 1.1, group="marrow"),
    "joint": Look(60.0, 1.2, hu_tex=40.0),
}
#: the look of label 0 (background: air around and beyond the atlas)
BACKGROUND = TISSUE_LOOKS["outside_body"]

#: per-location looks, first match wins (regular expressions over the whole label)
OVERRIDES: list[tuple[str, Look]] = [
    (r"Liver S\d", Look(58.0, 2.3, hu_tex=4.0, suv_tex=0.06, group="liver")),
    (r"Spleen", Look(48.0, 2.0, hu_tex=4.0, suv_tex=0.06, group="spleen")),
    (
        r"(Left|Right) kidney",
        Look(
            32.0,
            3.0,
            hu_tex=5.0,
            group="kidney",
            core_mm=14.0,
            core_hu=12.0,
            core_suv=9.0,
            core_var=0.5,
            core_group="urine",
        ),
    ),
    (r"Bladder", Look(8.0, 22.0, hu_tex=2.0, suv_tex=0.03, suv_var=0.5, group="urine")),
    (r"Ureter.*|Urethra", Look(15.0, 4.0, hu_tex=5.0, suv_var=0.8, group="ureter")),
    (
        r"Heart",
        Look(
            42.0,
            1.8,
            hu_tex=4.0,
            group="blood",
            rim_mm=9.0,
            rim_hu=48.0,
            rim_suv=4.0,
            rim_var=0.8,
            rim_group="myocardium",
        ),
    ),
    (
        r"(Thoracic|Abdominal) aorta|(Left|Right) iliac vessel",
        Look(42.0, 1.7, hu_tex=3.0, group="blood"),
    ),
    (
        r"(Left|Right) lobe of thyroid|Isthmus of thyroid",
        Look(90.0, 1.4, suv_var=0.45, group="thyroid"),
    ),
    (r"(Left|Right) tonsil", Look(45.0, 3.8, suv_var=0.3, group="waldeyer")),
    (
        r"Nasopharynx|Oropharynx|Base of tongue",
        Look(0.0, 3.0, hu_tex=80.0, suv_var=0.3, group="waldeyer"),
    ),
    (r"Tongue", Look(60.0, 2.0, group="waldeyer")),
    (r"(Left|Right) parotid gland", Look(10.0, 1.8, hu_tex=15.0, suv_var=0.25, group="salivary")),
    (r"(Left|Right) submandibular gland", Look(45.0, 2.2, suv_var=0.25, group="salivary")),
    (r"Larynx", Look(-150.0, 1.8, hu_tex=80.0, suv_var=0.35, group="larynx")),
    (r"Trachea", Look(-700.0, 0.6, hu_tex=40.0)),
    (r"(Left|Right) nasal cavity", Look(-600.0, 1.2, hu_tex=120.0)),
    (r"(Left|Right) nasal sinus", Look(-800.0, 0.8, hu_tex=60.0)),
    (r"(Left|Right) ear", Look(-200.0, 1.0, hu_tex=150.0)),
    (r"Esophagus", Look(40.0, 1.9, suv_var=0.25)),
    (
        r"Stomach|Cardia of stomach",
        Look(20.0, 2.0, hu_tex=15.0, gas=1.5, suv_var=0.3, group="stomach"),
    ),
    (
        r"Large intestine|Cecum|Appendix|Rectum|Anal canal",
        Look(10.0, 1.8, hu_tex=30.0, gas=1.2, suv_tex=0.2, suv_var=0.45, group="colon"),
    ),
    (
        r"Small intestine",
        Look(25.0, 1.8, hu_tex=20.0, gas=1.9, suv_tex=0.15, suv_var=0.35, group="small_bowel"),
    ),
    (r"Gallbladder", Look(10.0, 0.9, hu_tex=3.0)),
    (r"Pancreas", Look(42.0, 1.7)),
    (r"(Left|Right) adrenal gland", Look(25.0, 1.6)),
    (r"Prostate gland", Look(40.0, 1.9)),
    (r"Scrotum", Look(30.0, 2.4, group="testes")),
    (r"Penis", Look(35.0, 1.6)),
    (r"Uterus", Look(45.0, 2.6, suv_var=0.4, group="uterus")),
    (r"(Left|Right) uterine appendage", Look(35.0, 2.0, suv_var=0.4, group="ovary")),
    (r"Vagina", Look(40.0, 1.8)),
    (r"(Left|Right) breast", Look(-50.0, 0.7, hu_tex=60.0)),
    (r"(Left|Right) mammary gland", Look(20.0, 1.2, hu_tex=30.0)),
    (r"(Left|Right) (hand|foot)", Look(120.0, 0.6, hu_tex=40.0)),
    (r"Pericardium", Look(25.0, 1.2)),
    (r"Mesentery|Pelvic mesentery", Look(-60.0, 1.0, hu_tex=40.0, group="fat")),
    (r"Upper alveolar cavity|Lower alveolar cavity", Look(1200.0, 0.9, hu_tex=300.0)),
    (r"(Left|Right) (diaphragm|crus of diaphragm)", Look(50.0, 1.0, group="muscle")),
    # bones: marrow inside, cortex rim
    (r"Vertebra [CTL]\d+", _bone(230.0, 1.9, rim=1.5, rim_hu=900.0, group="marrow")),
    (r"Sacrum", _bone(220.0, 1.7, rim=1.5, rim_hu=900.0, group="marrow")),
    (r"Coccyx", _bone(300.0, 1.2, rim=1.5)),
    (r"Spinous process of vertebra .*", _bone(400.0, 1.1, rim=1.5, group="marrow")),
    (r"Sternum", _bone(260.0, 1.7, rim=1.5, group="marrow")),
    (r"Rib [LR]\d+", _bone(280.0, 1.1, rim=1.0, group="marrow")),
    (r"(Left|Right) (ilium|ischium|pubis)", _bone(240.0, 1.6, rim=1.8, group="marrow")),
    (
        r"(Left|Right) (femur|humerus|tibia|fibula|radius|ulna)",
        _bone(200.0, 0.8, rim=3.5, rim_hu=1200.0, group="long_bone"),
    ),
    (r"Skull", _bone(700.0, 1.0, rim=2.5, rim_hu=1200.0)),  # thin, mostly compact bone
    (r"Maxilla|Mandible", _bone(600.0, 1.1, rim=2.0, rim_hu=1200.0)),
    (r"(Left|Right) mastoid process", _bone(300.0, 1.0, rim=1.5)),
    (r"(Left|Right) (clavicle|scapula|patella)", _bone(300.0, 1.1, rim=2.0, group="marrow")),
]
_COMPILED = [(re.compile(p), look) for p, look in OVERRIDES]


def look_for(label: str, tissue: str) -> Look:
    """The look of a location: the first override matching its label, else its tissue's."""
    for pat, look in _COMPILED:
        if pat.fullmatch(label):
            return look
    return TISSUE_LOOKS.get(tissue, TISSUE_LOOKS["mixed"])


@dataclass(frozen=True, eq=False)
class CaseLooks:
    """Per label index (0 = background) values for one case, after the per-case factors."""

    hu: np.ndarray
    suv: np.ndarray
    gas: np.ndarray
    hu_tex: np.ndarray
    suv_tex: np.ndarray
    rim_mm: np.ndarray
    rim_hu: np.ndarray
    rim_suv: np.ndarray
    core_mm: np.ndarray
    core_hu: np.ndarray
    core_suv: np.ndarray
    factors: dict

    @property
    def special(self) -> np.ndarray:
        """Label indices whose look depends on the location's own shape (rim or core)."""
        return np.flatnonzero((self.rim_mm > 0) | (self.core_mm > 0))


def tissue_values(looks: CaseLooks, labels: np.ndarray, t_ct: np.ndarray, t_pet: np.ndarray):
    """(HU, SUV) float32 of labels with the textures at their points (the one formula that
    volume and patch mode share)."""
    hu = looks.hu[labels] + looks.hu_tex[labels] * t_ct
    gas = t_ct > looks.gas[labels]
    if gas.any():
        hu[gas] = GAS_HU
    suv = np.maximum(looks.suv[labels] * (1.0 + looks.suv_tex[labels] * t_pet), 0)
    return hu, suv


def case_looks(
    labels: tuple[str, ...],
    tissues: tuple[str, ...],
    rng: np.random.Generator | None,
    spread: float = 1.0,
) -> CaseLooks:
    """Realize the looks of every label index for one case (``rng=None``: no variability;
    ``spread`` multiplies every log-sd of the per-case factors)."""
    looks = [BACKGROUND] + [
        look_for(lab, tis) for lab, tis in zip(labels[1:], tissues[1:], strict=True)
    ]
    # one factor per group, drawn in sorted order so that it does not depend on label order
    groups: dict[str, float] = {}
    for i, lk in enumerate(looks):
        if i == 0:
            continue
        groups.setdefault(lk.group or f"#{labels[i]}", lk.suv_var)
        if lk.rim_mm > 0:
            groups.setdefault(lk.rim_group or f"#rim:{labels[i]}", lk.rim_var)
        if lk.core_mm > 0:
            groups.setdefault(lk.core_group or f"#core:{labels[i]}", lk.core_var)
    factors = {}
    for name in sorted(groups):
        sd = groups[name]
        if rng is None or sd <= 0:
            factors[name] = 1.0
        else:
            z = float(np.clip(rng.standard_normal(), -2.0, 2.0))
            factors[name] = math.exp(sd * spread * z)

    def col(fn, dtype=np.float32):
        return np.asarray([fn(i, lk) for i, lk in enumerate(looks)], dtype)

    def fac(i, lk, kind=""):
        if i == 0:
            return 1.0
        if kind == "rim":
            return factors[lk.rim_group or f"#rim:{labels[i]}"]
        if kind == "core":
            return factors[lk.core_group or f"#core:{labels[i]}"]
        return factors[lk.group or f"#{labels[i]}"]

    return CaseLooks(
        hu=col(lambda i, lk: lk.hu),
        gas=col(lambda i, lk: lk.gas),
        suv=col(lambda i, lk: lk.suv * fac(i, lk)),
        hu_tex=col(lambda i, lk: lk.hu_tex),
        suv_tex=col(lambda i, lk: lk.suv_tex),
        rim_mm=col(lambda i, lk: lk.rim_mm),
        rim_hu=col(lambda i, lk: lk.rim_hu),
        rim_suv=col(lambda i, lk: lk.rim_suv * (fac(i, lk, "rim") if lk.rim_mm > 0 else 1.0)),
        core_mm=col(lambda i, lk: lk.core_mm),
        core_hu=col(lambda i, lk: lk.core_hu),
        core_suv=col(lambda i, lk: lk.core_suv * (fac(i, lk, "core") if lk.core_mm > 0 else 1.0)),
        factors=factors,
    )


# ------------------------------------------------------------------------------------------
# texture: a smooth random field that is a function of the world point alone


@dataclass(frozen=True)
class Texture:
    """Two smooth random fields from one set of plane waves with random directions and
    wavelengths: ``sqrt(2/T) sum_t cos(k_t . p + phi_t)`` (CT) and the same with ``sin``
    (PET), each with sd about 1 and uncorrelated with the other at a point.  ``at(points)``
    and ``on_grid(xs, ys, zs)`` give the same values; the grid form factors each wave into
    per-axis complex exponentials (one complex matrix product gives both fields)."""

    k: np.ndarray  # (T, 3) wave vectors, rad/mm
    phase: np.ndarray  # (T,)

    @classmethod
    def draw(cls, rng: np.random.Generator, terms: int = 8, wavelength_mm=(10.0, 50.0)) -> Texture:
        d = rng.standard_normal((terms, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        lam = np.exp(rng.uniform(math.log(wavelength_mm[0]), math.log(wavelength_mm[1]), terms))
        return cls(k=d * (2 * math.pi / lam)[:, None], phase=rng.uniform(0, 2 * math.pi, terms))

    @property
    def _norm(self) -> float:
        return math.sqrt(2.0 / len(self.k))

    def at(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cosine field, sine field) at world points: the CT and the PET texture."""
        p = np.asarray(points, np.float64).reshape(-1, 3)
        k = self.k
        arg = p[:, 0:1] * k[:, 0] + p[:, 1:2] * k[:, 1] + p[:, 2:3] * k[:, 2] + self.phase
        arg = arg.astype(np.float32)  # float32 sin/cos are vectorized (~10x faster)
        n = np.float32(self._norm)
        return np.cos(arg).sum(axis=1) * n, np.sin(arg).sum(axis=1) * n

    def on_grid(self, xs: np.ndarray, ys: np.ndarray, zs: np.ndarray, chunk: int = 64):
        """The two fields of :meth:`at` on an axis-aligned grid, shape (nx, ny, nz) each."""
        t = len(self.k)
        ex = np.exp(1j * np.outer(xs, self.k[:, 0]))  # (nx, T)
        ey = np.exp(1j * np.outer(ys, self.k[:, 1]))
        ez = np.exp(1j * (np.outer(zs, self.k[:, 2]) + self.phase)).T.astype(
            np.complex64
        )  # (T, nz)
        xy = (ex[:, None, :] * ey[None, :, :]).reshape(-1, t).astype(np.complex64)
        re = np.empty((len(xs) * len(ys), len(zs)), np.float32)
        im = np.empty_like(re)
        for z0 in range(0, len(zs), chunk):
            c = xy @ ez[:, z0 : z0 + chunk]
            re[:, z0 : z0 + chunk] = c.real
            im[:, z0 : z0 + chunk] = c.imag
        n = np.float32(self._norm)
        re *= n
        im *= n
        shape = (len(xs), len(ys), len(zs))
        return re.reshape(shape), im.reshape(shape)
