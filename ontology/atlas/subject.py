"""One body: :class:`Subject`, the map from world (scanner) millimetres into the atlas's
reference frame (height, girth, sex, arm pose, per-group jitter, table transform), and its
random sampling.  A frozen dataclass, so that it can key the engine's per-subject caches.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

# --------------------------------------------------------------------------------------------
# subjects


@dataclasses.dataclass(frozen=True)
class Subject:
    """One body: how world (scanner) millimetres map into the atlas reference frame.

    ``height_mm`` scales z by height/1750 and x, y by (height/1750)**0.5 * girth**0.3;
    ``girth`` also grows the body surface outwards (subcutaneous fat) by
    ``frame['girth_fat_mm'] * (girth - 1)`` times each aux shape's ``grow`` factor.
    ``sex`` selects sex-specific locations and ``switch`` cases; ``arms`` is ``down`` or ``up``
    (the arm groups rotate about the shoulder by the frame's ``poses['arms_up']``);
    ``l6`` adds the lumbosacral transitional vertebra (variant ``l6``);
    ``jitter`` holds ``(group, (dx, dy, dz), scale)`` per body part;
    ``table_rotation_deg`` (about x, y, z, through the table centre) and ``table_shift_mm``
    move the whole body on the scanner table.
    """

    height_mm: float = 1750.0
    girth: float = 1.0
    sex: str = "male"
    arms: str = "down"
    l6: bool = False
    jitter: tuple = ()
    table_rotation_deg: tuple = (0.0, 0.0, 0.0)
    table_shift_mm: tuple = (0.0, 0.0, 0.0)

    def __post_init__(self):
        if self.sex not in ("male", "female"):
            raise ValueError("sex must be 'male' or 'female'")
        if self.arms not in ("down", "up"):
            raise ValueError("arms must be 'down' or 'up'")
        if not 1000 <= self.height_mm <= 2300:
            raise ValueError("height_mm out of range")
        if not 0.6 <= self.girth <= 2.0:
            raise ValueError("girth out of range")

    @classmethod
    def reference(cls, sex: str = "male", **kw) -> Subject:
        """The reference adult (1750 mm, girth 1, arms down, no jitter); ``sex`` and other
        fields may be overridden."""
        return cls(sex=sex, **kw)

    @classmethod
    def sample(
        cls,
        rng: np.random.Generator,
        *,
        groups: Mapping[str, Mapping] | None = None,
        height_mm: tuple[float, float] = (1550.0, 1950.0),
        girth: tuple[float, float] = (0.85, 1.35),
        p_female: float = 0.5,
        p_arms_up: float = 0.5,
        p_l6: float = 0.05,
        jitter: float = 1.0,
        table_rotation_deg: float = 3.0,
        table_shift_mm: float = 30.0,
        sex: str | None = None,
        arms: str | None = None,
    ) -> Subject:
        """Draw one subject.  ``groups`` is the frame's ``groups`` table (each group may carry
        ``jitter: {"shift_mm": [sx, sy, sz], "scale": s}``, the anatomical limits); ``jitter``
        multiplies those limits (0 disables it).  Females are drawn 7 % shorter."""
        if sex is None:
            sex = "female" if rng.random() < p_female else "male"
        if arms is None:
            arms = "up" if rng.random() < p_arms_up else "down"
        h = float(rng.uniform(*height_mm))
        if sex == "female":
            h = max(1400.0, h * 0.93)
        g = float(rng.uniform(*girth))
        jit = []
        for name in sorted(groups or {}):
            lim = (groups[name] or {}).get("jitter") or {}
            sh = np.asarray(lim.get("shift_mm", [0, 0, 0]), float) * jitter
            sc = float(lim.get("scale", 0.0)) * jitter
            if not np.any(sh) and not sc:
                continue
            t = tuple(float(v) for v in rng.uniform(-1, 1, 3) * sh)
            s = float(1.0 + rng.uniform(-1, 1) * sc)
            jit.append((name, t, s))
        rot = tuple(float(v) for v in rng.uniform(-1, 1, 3) * table_rotation_deg)
        sh = tuple(float(v) for v in rng.uniform(-1, 1, 3) * table_shift_mm)
        return cls(
            height_mm=h,
            girth=g,
            sex=sex,
            arms=arms,
            l6=bool(rng.random() < p_l6),
            jitter=tuple(jit),
            table_rotation_deg=rot,
            table_shift_mm=sh,
        )

    def jitter_dict(self) -> dict[str, tuple[np.ndarray, float]]:
        return {g: (np.asarray(t, float), float(s)) for g, t, s in self.jitter}

    def global_scale(self, ref_height: float = 1750.0) -> tuple[float, float]:
        """(s_xy, s_z) of the subject relative to the reference body."""
        sz = self.height_mm / ref_height
        return math.sqrt(sz) * self.girth**0.3, sz
