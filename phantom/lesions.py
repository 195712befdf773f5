"""Lesions: FDG-avid spheres, ellipsoids and irregular blobs, defined in world millimetres.

A :class:`Lesion` is an implicit shape, so its mask and uptake at any point are a function of
the point alone and agree between volume and patch mode.  Shape: the normalized radius
``q(p) = |R^T (p - c) / radii| / s(u)`` with ``s(u) = 1`` for spheres and ellipsoids and
``s(u) = 1 + sum_j a_j sin(f_j (u . d_j) + phi_j)`` (a few random lobes, |sum a_j| <= 0.3)
for blobs, ``u`` the unit direction; the lesion is ``q <= 1``.

Uptake: ``suv_peak * (0.75 + 0.25 (1 - q^2))``, and a necrotic lesion loses up to
``necrosis`` of it in its core (q < 0.5).  CT: ``soft`` (a soft-tissue density, hypodense in
the liver), ``lytic`` or ``sclerotic`` in bone, ``occult`` (bone marrow lesion with no CT
change) and ``none`` (a contamination outside the body).

Mass effect (profile ``severe``): a lesion with ``deform = A > 0`` pushes the surrounding
tissue radially outwards: the atlas is sampled at ``c + (p - c) (1 - A exp(-r^2 / 2 w^2))``
(``r = |p - c|``, ``w`` the mean radius, identity beyond 4 w).  The map is monotone for A < 1,
so the organ around the lesion is locally expanded (by ``1 / (1 - A)`` at the centre) and
displaced, never folded.

Labelling rule (volume mode, ``docs/phantom.md``): the primary location of a lesion is the label
at the voxel nearest the centroid of its mask; the other locations covering at least 25 % of
its voxels are acceptable alternatives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

CT_KINDS = ("soft", "lytic", "sclerotic", "occult", "none")
SHAPES = ("sphere", "ellipsoid", "blob")
ALT_FRACTION = 0.25
#: beyond this many mean radii a deforming lesion's warp is exactly the identity
DEFORM_REACH = 4.0


@dataclass(frozen=True)
class Lesion:
    lesion_id: int
    center_mm: tuple[float, float, float]
    radii_mm: tuple[float, float, float]
    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    shape: str = "sphere"
    #: blob lobes: (dx, dy, dz, frequency, phase, amplitude) per lobe
    lobes: tuple[tuple[float, ...], ...] = ()
    suv_peak: float = 8.0
    necrosis: float = 0.0
    ct: str = "soft"
    hu: float = 35.0
    deform: float = 0.0
    target: str = ""  # CURIE of the location it was placed in (primary is decided by its mask)
    _cache: dict = field(default_factory=dict, init=False, compare=False, hash=False, repr=False)

    # -- geometry ---------------------------------------------------------------------------
    @property
    def rot(self) -> np.ndarray:
        r = self._cache.get("rot")
        if r is None:
            # extrinsic x, y, z: R = Rz @ Ry @ Rx, the atlas's convention
            r = Rotation.from_euler("xyz", self.rotation_deg, degrees=True).as_matrix()
            self._cache["rot"] = r
        return r

    @property
    def mean_radius(self) -> float:
        return float(np.mean(self.radii_mm))

    @property
    def bound_radius(self) -> float:
        """Radius of a sphere about the centre that holds the whole lesion."""
        amp = sum(abs(lb[5]) for lb in self.lobes)
        return float(max(self.radii_mm)) * (1.0 + amp) + 1e-6

    def bbox(self) -> tuple[np.ndarray, np.ndarray]:
        c = np.asarray(self.center_mm, float)
        r = self.bound_radius
        return c - r, c + r

    def q(self, points: np.ndarray) -> np.ndarray:
        """Normalized radius at world points (<= 1 inside), float64."""
        p = np.asarray(points, np.float64).reshape(-1, 3) - np.asarray(self.center_mm, float)
        loc = p @ self.rot  # R^T (p - c) for row vectors
        a = loc / np.asarray(self.radii_mm, float)
        k0 = np.sqrt(np.einsum("ij,ij->i", a, a))
        if self.shape != "blob" or not self.lobes:
            return k0
        u = a / np.maximum(k0, 1e-9)[:, None]
        s = np.ones(len(p))
        for dx, dy, dz, f, ph, amp in self.lobes:
            s += amp * np.sin(f * (u[:, 0] * dx + u[:, 1] * dy + u[:, 2] * dz) + ph)
        return k0 / s

    def inside(self, points: np.ndarray) -> np.ndarray:
        return self.q(points) <= 1.0

    def uptake(self, q: np.ndarray) -> np.ndarray:
        """SUV inside the lesion as a function of the normalized radius."""
        v = self.suv_peak * (0.75 + 0.25 * (1.0 - np.clip(q, 0.0, 1.0) ** 2))
        if self.necrosis > 0:
            core = 1.0 / (1.0 + np.exp((q - 0.5) / 0.05))
            v = v * (1.0 - self.necrosis * core)
        return v

    # -- mass effect ------------------------------------------------------------------------
    def warp(self, points: np.ndarray) -> np.ndarray:
        """Where the atlas is sampled for world points (identity when deform == 0)."""
        p = np.asarray(points, np.float64).reshape(-1, 3)
        if self.deform <= 0:
            return p
        c = np.asarray(self.center_mm, float)
        d = p - c
        r2 = np.einsum("ij,ij->i", d, d)
        w = self.mean_radius
        f = 1.0 - self.deform * np.exp(-r2 / (2.0 * w * w))
        f = np.where(r2 < (DEFORM_REACH * w) ** 2, f, 1.0)
        return c + d * f[:, None]

    @property
    def reach(self) -> float:
        return DEFORM_REACH * self.mean_radius if self.deform > 0 else 0.0

    def as_dict(self) -> dict:
        return {
            "lesion_id": self.lesion_id,
            "center_mm": list(self.center_mm),
            "radii_mm": list(self.radii_mm),
            "rotation_deg": list(self.rotation_deg),
            "shape": self.shape,
            "lobes": [list(lb) for lb in self.lobes],
            "suv_peak": self.suv_peak,
            "necrosis": self.necrosis,
            "ct": self.ct,
            "hu": self.hu,
            "deform": self.deform,
            "target": self.target,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Lesion:
        return cls(
            lesion_id=int(d["lesion_id"]),
            center_mm=tuple(float(v) for v in d["center_mm"]),
            radii_mm=tuple(float(v) for v in d["radii_mm"]),
            rotation_deg=tuple(float(v) for v in d.get("rotation_deg", (0, 0, 0))),
            shape=d.get("shape", "sphere"),
            lobes=tuple(tuple(float(x) for x in lb) for lb in d.get("lobes", ())),
            suv_peak=float(d.get("suv_peak", 8.0)),
            necrosis=float(d.get("necrosis", 0.0)),
            ct=d.get("ct", "soft"),
            hu=float(d.get("hu", 35.0)),
            deform=float(d.get("deform", 0.0)),
            target=d.get("target", ""),
        )


def warp_points(lesions, points: np.ndarray) -> np.ndarray:
    """Compose the warps of all deforming lesions (in lesion order)."""
    p = np.asarray(points, np.float64).reshape(-1, 3)
    for les in lesions:
        if les.deform > 0:
            p = les.warp(p)
    return p


# ------------------------------------------------------------------------------------------
# drawing lesion parameters


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def draw_diameter(rng: np.random.Generator, model) -> float:
    """A diameter from the lesion model's log-uniform range."""
    return _loguniform(rng, *model.diameter_mm)


def ct_kind_for(tissue: str, rng: np.random.Generator) -> tuple[str, float]:
    """CT appearance (kind, HU) of a lesion in a host tissue."""
    if tissue == "outside_body":
        return "none", 0.0
    if tissue == "bone":
        u = rng.random()
        if u < 0.45:
            return "lytic", float(rng.uniform(20.0, 80.0))
        if u < 0.8:
            return "sclerotic", float(rng.uniform(650.0, 1100.0))
        return "occult", 0.0
    if tissue == "solid_organ":
        return "soft", float(rng.uniform(20.0, 40.0))  # hypodense to liver and spleen
    if tissue == "lung":
        return "soft", float(rng.uniform(20.0, 45.0))
    return "soft", float(rng.uniform(25.0, 50.0))


def make_lesion(
    rng: np.random.Generator,
    lesion_id: int,
    center_mm,
    diameter_mm: float,
    model,
    tissue: str,
    host_suv: float,
    target: str = "",
    shape: str | None = None,
    allow_deform: bool = True,
) -> Lesion:
    """Draw the remaining parameters of a lesion of a given centre and size."""
    r = diameter_mm / 2.0
    if shape is None:
        shape = SHAPES[int(rng.choice(3, p=np.asarray(model.shapes) / np.sum(model.shapes)))]
    if shape == "sphere":
        radii = (r, r, r)
        rot = (0.0, 0.0, 0.0)
    else:
        ax = rng.uniform(0.7, 1.3, 3)
        ax = ax / np.prod(ax) ** (1 / 3)  # same volume as the sphere
        radii = tuple(float(max(r * a, 1.6)) for a in ax)
        rot = tuple(float(v) for v in rng.uniform(-180, 180, 3))
    lobes: tuple = ()
    if shape == "blob":
        n = int(rng.integers(2, 5))
        amps = rng.uniform(0.05, 0.3 / n * 2, n)
        amps = amps * min(1.0, 0.3 / amps.sum())
        dirs = rng.standard_normal((n, 3))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        lobes = tuple(
            (
                *(float(v) for v in dirs[j]),
                float(rng.uniform(1.5, 4.0)),
                float(rng.uniform(0, 2 * math.pi)),
                float(amps[j]),
            )
            for j in range(n)
        )
    peak = _loguniform(rng, *model.suv_peak)
    peak = max(peak, model.min_contrast * host_suv)
    necrosis = (
        float(rng.uniform(0.4, 0.85))
        if diameter_mm > 30 and rng.random() < model.p_necrotic
        else 0.0
    )
    ct, hu = ct_kind_for(tissue, rng)
    deform = 0.0
    if (
        allow_deform
        and diameter_mm > 30
        and tissue != "outside_body"
        and rng.random() < model.p_deform
    ):
        deform = float(rng.uniform(*model.deform_strength))
    return Lesion(
        lesion_id=lesion_id,
        center_mm=tuple(float(v) for v in center_mm),
        radii_mm=radii,
        rotation_deg=rot,
        shape=shape,
        lobes=lobes,
        suv_peak=float(peak),
        necrosis=necrosis,
        ct=ct,
        hu=hu,
        deform=deform,
        target=target,
    )


def capped_radius(rng: np.random.Generator, model, cap_mm: float) -> float:
    """A radius from the lesion model's diameter range, at most ``cap_mm`` (what the host
    location has room for) and at least 2 mm."""
    r = draw_diameter(rng, model) / 2.0
    return max(min(r, cap_mm), 2.0)


def lesion_in(
    scene,
    location: int,
    rng: np.random.Generator,
    lesion_id: int,
    center_mm,
    radius_mm: float,
    model=None,
    *,
    allow_deform: bool = True,
) -> Lesion:
    """The lesion of ``radius_mm`` placed at ``center_mm`` in label ``location`` of a
    scene: its tissue and the location's uptake decide the CT kind and the least contrast;
    ``model`` is the lesion model (default: the scene profile's).  Every placement (volume
    cases, the training sampler, distractors and multifocal lesions) goes through here."""
    m = scene.model
    return make_lesion(
        rng,
        lesion_id,
        center_mm,
        2 * radius_mm,
        scene.profile.lesions if model is None else model,
        m.tissues[location],
        float(scene.looks.suv[location]),
        target=m.curies[location],
        allow_deform=allow_deform,
    )


def acceptable_labels(primary: int, covered: np.ndarray, n: int) -> list[int]:
    """The labelling rule: ``primary`` (the label at the lesion's centroid) first, then the
    other labels holding at least :data:`ALT_FRACTION` of the lesion's samples ``covered``
    (label indices, 0 = none; ``n`` labels), largest share first; label 0 is never kept."""
    cnt = np.bincount(np.asarray(covered, np.int64), minlength=n + 1)
    frac = cnt / max(len(covered), 1)
    alts = [
        int(i)
        for i in np.argsort(-frac, kind="stable")
        if frac[i] >= ALT_FRACTION and i != primary and i > 0
    ]
    return [primary, *alts] if primary > 0 else alts


def overlaps(center, radius: float, others, gap_mm: float = 3.0) -> bool:
    c = np.asarray(center, float)
    for o in others:
        reach = max(o.bound_radius, o.reach)
        if np.linalg.norm(c - np.asarray(o.center_mm)) < radius + reach + gap_mm:
            return True
    return False
