"""Scanner and population profiles of the phantom: named, frozen, documented.

A :class:`Profile` bundles a CT scanner, a PET scanner, a population (how subjects are drawn)
and a lesion model.  Three are shipped (see ``docs/phantom.md`` for the table):

* ``internal`` — one scanner and one population, the set a model is trained and tuned on;
* ``external`` — another site: finer PET voxels with a sharper PSF but more noise, a sharper CT
  kernel on a different grid, and a shifted population (taller, heavier, more arms up, more
  women);
* ``severe`` — the internal scanner with many, large lesions, some of which deform their organ.

Profiles are plain data; :func:`get_profile` looks one up by name and :meth:`Profile.with_spacing`
overrides the CT grid (the PET grid is never finer than the CT grid).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from anatloc.imaging.spacing import Vec3, vec3
from anatloc.imaging.spacing import parse_spacing as parse_spacing  # the phantom's --spacing
from anatloc.ontology.errors import UsageError


@dataclass(frozen=True)
class CTScanner:
    """The CT reconstruction: voxel grid, kernel and noise."""

    spacing_mm: Vec3 = (2.0, 2.0, 3.0)  # (x, y, z); z is the slice spacing
    kernel_fwhm_mm: float = 2.5  # in-plane blur of the reconstruction kernel (soft: larger)
    noise_hu: float = 14.0  # noise sd in HU for a reference-size patient (girth 1)


@dataclass(frozen=True)
class PETScanner:
    """The PET reconstruction: voxel grid, point-spread function and counts."""

    spacing_mm: Vec3 = (4.0, 4.0, 4.0)
    fwhm_mm: float = 6.5  # system + reconstruction resolution (isotropic Gaussian PSF)
    noise_cv: float = 0.12  # relative noise sd at SUV 1 for a reference patient
    noise_corr_mm: float = 4.0  # correlation length of the noise (post-filter)


@dataclass(frozen=True)
class Population:
    """How subjects are drawn (passed to :meth:`Atlas.sample_subject`)."""

    height_mm: tuple[float, float] = (1520.0, 1950.0)
    girth: tuple[float, float] = (0.85, 1.35)
    p_female: float = 0.5
    p_arms_up: float = 0.4
    p_l6: float = 0.05
    jitter: float = 1.0  # multiplies the atlas's per-organ jitter limits
    table_rotation_deg: float = 3.0
    table_shift_mm: float = 30.0
    #: field of view: margin (mm) added on each side of the body, drawn per side and case
    fov_margin_mm: tuple[float, float] = (0.0, 30.0)

    def subject_ranges(self) -> dict:
        return {
            "height_mm": self.height_mm,
            "girth": self.girth,
            "p_female": self.p_female,
            "p_arms_up": self.p_arms_up,
            "p_l6": self.p_l6,
            "jitter": self.jitter,
            "table_rotation_deg": self.table_rotation_deg,
            "table_shift_mm": self.table_shift_mm,
        }


@dataclass(frozen=True)
class LesionModel:
    """How many lesions a case has and what they look like."""

    per_case: tuple[int, int] = (2, 6)  # inclusive range of lesions per case
    diameter_mm: tuple[float, float] = (4.0, 60.0)  # log-uniform
    suv_peak: tuple[float, float] = (2.5, 25.0)  # log-uniform peak uptake before blur
    #: probabilities of the shape kinds (sphere, ellipsoid, irregular blob)
    shapes: tuple[float, float, float] = (0.35, 0.35, 0.30)
    p_necrotic: float = 0.3  # of lesions above 30 mm: a photopenic core
    p_deform: float = 0.0  # of lesions above 30 mm: push the surrounding tissue outwards
    deform_strength: tuple[float, float] = (0.3, 0.6)
    min_contrast: float = 1.5  # peak uptake is at least this times the host tissue's SUV


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    ct: CTScanner = field(default_factory=CTScanner)
    pet: PETScanner = field(default_factory=PETScanner)
    population: Population = field(default_factory=Population)
    lesions: LesionModel = field(default_factory=LesionModel)

    def with_spacing(self, ct_spacing_mm: float | Vec3 | None) -> Profile:
        """The same profile on another CT grid; the PET grid is coarsened to at least it."""
        if ct_spacing_mm is None:
            return self
        sp = vec3(ct_spacing_mm, "spacing")
        pet = tuple(max(p, c) for p, c in zip(self.pet.spacing_mm, sp, strict=True))
        return dataclasses.replace(
            self,
            ct=dataclasses.replace(self.ct, spacing_mm=sp),
            pet=dataclasses.replace(self.pet, spacing_mm=pet),
        )

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="internal",
            description="one scanner and population: CT 2x2x3 mm soft kernel, PET 4 mm, FWHM "
            "6.5 mm, moderate noise, 2-6 lesions",
        ),
        Profile(
            name="external",
            description="another site: CT 1.6x1.6x4 mm sharp kernel, PET 3.3 mm, FWHM 5 mm, "
            "more noise; taller, heavier population, more arms up and women",
            ct=CTScanner(spacing_mm=(1.6, 1.6, 4.0), kernel_fwhm_mm=1.0, noise_hu=22.0),
            pet=PETScanner(
                spacing_mm=(3.3, 3.3, 3.3), fwhm_mm=5.0, noise_cv=0.18, noise_corr_mm=3.0
            ),
            population=Population(
                height_mm=(1580.0, 2000.0),
                girth=(0.9, 1.5),
                p_female=0.6,
                p_arms_up=0.75,
                table_rotation_deg=4.0,
                table_shift_mm=45.0,
                fov_margin_mm=(5.0, 50.0),
            ),
        ),
        Profile(
            name="severe",
            description="internal scanner; 8-20 lesions of 10-90 mm, some deforming their organ",
            lesions=LesionModel(
                per_case=(8, 20),
                diameter_mm=(10.0, 90.0),
                suv_peak=(4.0, 30.0),
                p_necrotic=0.5,
                p_deform=0.5,
            ),
        ),
    )
}


def list_profiles() -> list[str]:
    return list(PROFILES)


def get_profile(name: str | Profile) -> Profile:
    if isinstance(name, Profile):
        return name
    try:
        return PROFILES[name]
    except KeyError:
        raise UsageError(
            f"unknown profile {name!r}; expected one of {', '.join(PROFILES)}"
        ) from None
