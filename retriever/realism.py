"""What real scans do to a lesion's patches that a clean training render does not.

Applied at training time to raw patches (:data:`~anatloc.retriever.patches.RAW_CHANNELS`),
per sample and epoch, on top of the geometric and intensity augmentation of
:mod:`.patches` (all of it is drawn by :func:`~anatloc.retriever.patches.draw_augment`):

* **a truncated field of view** — real PET/CT stops somewhere: vertex or skull base to mid
  thigh, chest–abdomen–pelvis, abdomen–pelvis, a 200–220 mm cube around the lesion (as
  challenge data ships), or an edge anywhere near the lesion.  Outside it the CT is air,
  the PET is 0 and both field-of-view channels are 0, as in a patch cut from such a
  volume (:func:`~anatloc.retriever.patches.cut_raw`; :func:`fov_weight`).  Kinds tied to the anatomy need the
  sample's landmarks (:data:`LANDMARKS`: their height above the lesion, mm); a source that
  has none (a lesion table) gets the kinds that need none;
* **a different PET and CT**: extra Gaussian blur (a coarser reconstruction) and noise
  (fewer counts, a sharper CT kernel), each with its probability.

Nothing here runs at prediction time.  The training recipe (``DataConfig``) sets the
probabilities; all of them 0 is the old behaviour, and draws nothing from the generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from anatloc.phantom.realism import LANDMARKS  # heights above the lesion a source can give

#: kinds of field of view, with the landmarks that bound them (top, bottom; None: open)
FOV_KINDS: dict[str, tuple[str | None, str | None]] = {
    "whole-body": (None, None),
    "vertex-thigh": ("vertex", "mid_thigh"),
    "skullbase-thigh": ("skull_base", "mid_thigh"),
    "chest-abdomen-pelvis": ("jugular_notch", "perineum"),
    "abdomen-pelvis": ("diaphragm", "perineum"),
    "cube": (None, None),
    "edge": (None, None),
}
#: how often each truncated kind is drawn when a field of view is truncated in training
FOV_MIX = {
    "vertex-thigh": 0.25,
    "skullbase-thigh": 0.2,
    "chest-abdomen-pelvis": 0.1,
    "abdomen-pelvis": 0.1,
    "cube": 0.2,
    "edge": 0.15,
}
#: where a landmark-bound edge lies, drawn uniformly around the landmark (mm): scanners
#: start a little above the vertex and stop anywhere on the thigh
EDGE_JITTER_MM = {
    "vertex": (0.0, 40.0),
    "skull_base": (-20.0, 40.0),
    "jugular_notch": (-20.0, 60.0),
    "diaphragm": (-60.0, 60.0),
    "perineum": (-60.0, 40.0),
    "mid_thigh": (-90.0, 90.0),
}
#: the side of a cube crop (mm) and how close an "edge" may come to the lesion centre (mm)
CUBE_MM = (195.0, 225.0)
EDGE_MM = (0.0, 60.0)
#: a field of view that misses the lesion by more than this (mm) is not drawn (the scan
#: would not show it); closer, its edge is moved to the lesion centre
MISS_MM = 40.0


@dataclass
class Realism:
    """Per-sample realism parameters (B rows)."""

    #: (B, 2, 3) the field of view as offsets from the lesion centre (mm): lower and upper
    #: corner along x, y, z; ±inf where it is open
    fov: torch.Tensor
    pet_fwhm_mm: torch.Tensor  # (B,) extra PET blur (0: none)
    pet_noise: torch.Tensor  # (B,) extra PET noise: relative sd at SUV 1 (0: none)
    ct_fwhm_mm: torch.Tensor  # (B,) extra CT blur
    ct_noise_hu: torch.Tensor  # (B,) extra CT noise (HU sd)

    @classmethod
    def identity(cls, B: int) -> Realism:
        inf = torch.full((B, 3), math.inf)
        z = torch.zeros(B)
        return cls(torch.stack([-inf, inf], 1), z, z.clone(), z.clone(), z.clone())

    @property
    def truncated(self) -> torch.Tensor:
        """(B,) bool: the field of view is bounded somewhere."""
        return torch.isfinite(self.fov).flatten(1).any(1)


def fov_box(
    kind: str,
    landmarks: np.ndarray | None,
    u: np.ndarray,
    size_mm: float = 0.0,
    edge_mm: tuple[float, float] = EDGE_MM,
) -> np.ndarray | None:
    """The field of view of ``kind`` around a lesion as (2, 3) offsets (mm), or None when
    the lesion would lie outside it.

    ``landmarks``: heights (:data:`LANDMARKS`, mm above the lesion; NaN: unknown);
    ``u``: four numbers in [0, 1) that place the edges (0.5 each: the landmarks themselves,
    the cube centred, the edge at the middle of its range) — the battery passes fixed
    numbers, training random ones; ``size_mm``: the lesion's radius, kept inside a cube;
    ``edge_mm``: how far from the lesion centre an "edge" may lie.
    """
    box = np.array([[-np.inf] * 3, [np.inf] * 3])
    if kind == "whole-body":
        return box
    if kind == "cube":
        side = CUBE_MM[0] + (CUBE_MM[1] - CUBE_MM[0]) * u[0]
        room = max(side / 2.0 - max(size_mm, 10.0), 0.0)
        centre = (2.0 * np.asarray(u[1:4]) - 1.0) * room
        return np.stack([centre - side / 2.0, centre + side / 2.0])
    if kind == "edge":
        d = edge_mm[0] + (edge_mm[1] - edge_mm[0]) * u[0]
        axis = 2 if u[1] < 0.7 else int(u[2] * 2)  # mostly the ends of the scan
        side = int(u[3] * 2)  # 0: the edge is below the lesion, 1: above
        box[side, axis] = d if side else -d
        return box
    top, bottom = FOV_KINDS[kind]
    for row, name, uu in ((1, top, u[0]), (0, bottom, u[1])):
        if name is None:
            continue
        h = np.nan if landmarks is None else float(landmarks[LANDMARKS.index(name)])
        if not math.isfinite(h):
            return None
        lo, hi = EDGE_JITTER_MM[name]
        box[row, 2] = h + lo + (hi - lo) * uu
    if box[1, 2] < -MISS_MM or box[0, 2] > MISS_MM:
        return None
    box[1, 2] = max(box[1, 2], 0.0)
    box[0, 2] = min(box[0, 2], 0.0)
    return box


def draw_realism(B: int, cfg, gen: torch.Generator, landmarks: np.ndarray | None) -> Realism:
    """Realism parameters for a batch following ``cfg`` (a ``DataConfig``); ``landmarks``
    (B, len(LANDMARKS)) or None."""
    out = Realism.identity(B)

    def coin(p: float) -> torch.Tensor:
        return torch.rand(B, generator=gen) < p

    def uniform(rng: tuple[float, float]) -> torch.Tensor:
        lo, hi = rng
        return lo + (hi - lo) * torch.rand(B, generator=gen)

    if cfg.fov_prob > 0:
        kinds = list(FOV_MIX)
        w = torch.tensor([FOV_MIX[k] for k in kinds])
        pick = torch.multinomial(w, B, replacement=True, generator=gen).tolist()
        u = torch.rand(B, 4, generator=gen, dtype=torch.float64).numpy()
        on = coin(cfg.fov_prob).tolist()
        for b in range(B):
            if not on[b]:
                continue
            lm = None if landmarks is None else landmarks[b]
            box = fov_box(kinds[pick[b]], lm, u[b])
            if box is None:  # a kind the sample cannot have: an edge instead
                box = fov_box("edge", None, u[b])
            out.fov[b] = torch.from_numpy(box)
    for name, prob, rng in (
        ("pet_fwhm_mm", cfg.pet_blur_prob, cfg.pet_blur_mm),
        ("pet_noise", cfg.pet_noise_prob, cfg.pet_noise),
        ("ct_fwhm_mm", cfg.ct_blur_prob, cfg.ct_blur_mm),
        ("ct_noise_hu", cfg.ct_noise_prob, cfg.ct_noise_hu),
    ):
        if prob > 0:
            v = uniform(rng)
            v[~coin(prob)] = 0.0
            setattr(out, name, v)
    return out


def with_seen(blocks: torch.Tensor) -> torch.Tensor:
    """Raw blocks with the two field-of-view channels: 3-channel blocks (the phantom's
    cache) are wholly inside the field of view; 5-channel ones are returned as they are."""
    if blocks.shape[1] >= 5:
        return blocks
    ones = torch.ones_like(blocks[:, :1])
    return torch.cat([blocks, ones, ones], dim=1)


def fov_weight(q: torch.Tensor, fov: torch.Tensor, spacing: float) -> torch.Tensor:
    """(B, N) share of each patch voxel inside its sample's field of view: ``q`` (B, N, 3)
    the voxel centres as offsets from the lesion centre (mm), ``fov`` (B, 2, 3), a voxel
    ``spacing`` mm wide (a voxel on the edge counts in proportion)."""
    f = fov.to(q.dtype)
    lo = ((q - f[:, None, 0, :]) / spacing + 0.5).clamp(0.0, 1.0)
    hi = ((f[:, None, 1, :] - q) / spacing + 0.5).clamp(0.0, 1.0)
    return (lo * hi).prod(-1)


def fov_weight_axes(
    o: torch.Tensor, zoom: torch.Tensor, shift: torch.Tensor, fov: torch.Tensor, spacing: float
) -> torch.Tensor:
    """(B, n, n, n) share of each voxel of axis-aligned patches inside their field of view:
    ``o`` (n,) the voxel offsets along an axis (mm), ``zoom`` (B,) and ``shift`` (B, 3)
    the patches' scale and centre (offset from the lesion, mm), ``fov`` (B, 2, 3).  The
    separable form of :func:`fov_weight` (three (B, n) ramps and their outer product)."""
    w = []
    for a in range(3):
        q = zoom[:, None] * o[None, :] + shift[:, a : a + 1]  # (B, n) offsets along axis a
        lo = ((q - fov[:, 0, a : a + 1].to(q.dtype)) / spacing + 0.5).clamp(0.0, 1.0)
        hi = ((fov[:, 1, a : a + 1].to(q.dtype) - q) / spacing + 0.5).clamp(0.0, 1.0)
        w.append(lo * hi)
    return w[0][:, :, None, None] * w[1][:, None, :, None] * w[2][:, None, None, :]


def _blur(x: torch.Tensor, sigma_vox: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of volumes (B, n, n, n), each with its own sigma (voxels;
    (B,) tensor; 0 leaves a volume as it is), edges replicated: one grouped convolution
    per axis for the whole batch."""
    B = x.shape[0]
    r = max(1, math.ceil(3.0 * float(sigma_vox.max())))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    sig = sigma_vox.to(torch.float32).clamp_min(1e-3)[:, None]
    k = torch.exp(-0.5 * (t[None, :] / sig) ** 2)
    k = k / k.sum(1, keepdim=True)  # a sigma near 0 gives the identity kernel
    v = x[None]  # (1, B, n, n, n): the batch as channels
    for axis in range(3):
        shape = [B, 1, 1, 1, 1]
        shape[2 + axis] = k.shape[1]
        pad = [0, 0, 0, 0, 0, 0]
        pad[2 * (2 - axis)] = pad[2 * (2 - axis) + 1] = r
        v = F.conv3d(F.pad(v, pad, mode="replicate"), k.view(shape), groups=B)
    return v[0]


def _noise(shape, sigma_vox: float, gen: torch.Generator) -> torch.Tensor:
    """Unit-variance Gaussian noise (B, n, n, n), smoothed over ``sigma_vox`` voxels."""
    n = torch.randn(shape, generator=gen)
    if sigma_vox < 0.3:
        return n
    n = _blur(n, torch.full((shape[0],), sigma_vox))
    return n / n.flatten(1).std(1).clamp_min(1e-6).view(-1, 1, 1, 1)


#: correlation length (FWHM, mm) of the added noise
NOISE_FWHM_MM = {"pet": 6.0, "ct": 1.5}
#: the PET voxel size that the noise level refers to (mm)
PET_VOXEL_MM = 4.0
FWHM = 2.0 * math.sqrt(2.0 * math.log(2.0))


def degrade(raw: torch.Tensor, spacing: float, r: Realism, gen: torch.Generator) -> torch.Tensor:
    """Extra blur and noise of raw patches (B, C, n, n, n) at ``spacing`` mm, in place.
    Blur narrower than a third of a voxel is skipped; noise stays inside the field of view."""
    fov = raw.shape[1] >= 5
    for ch, fwhm in ((1, r.pet_fwhm_mm), (0, r.ct_fwhm_mm)):
        sig = fwhm.to(torch.float32) / FWHM / spacing
        sig = torch.where(sig >= 0.33, sig, torch.zeros_like(sig))
        rows = torch.nonzero(sig > 0).flatten()
        if rows.numel():
            raw[rows, ch] = _blur(raw[rows, ch], sig[rows])
    # the sd is set for a PET voxel of about 4 mm; a coarser patch voxel averages several
    cv = r.pet_noise.to(torch.float32) * min(1.0, (PET_VOXEL_MM / spacing) ** 1.5)
    rows = torch.nonzero(cv > 0).flatten()
    if rows.numel():
        n = _noise((rows.numel(), *raw.shape[2:]), NOISE_FWHM_MM["pet"] / FWHM / spacing, gen)
        pet = raw[rows, 1]
        d = n * pet.clamp_min(0.0).sqrt() * cv[rows].view(-1, 1, 1, 1)
        if fov:
            d = d * raw[rows, 4]
        raw[rows, 1] = (pet + d).clamp_min(0.0)
    hu = r.ct_noise_hu.to(torch.float32)
    rows = torch.nonzero(hu > 0).flatten()
    if rows.numel():
        n = _noise((rows.numel(), *raw.shape[2:]), NOISE_FWHM_MM["ct"] / FWHM / spacing, gen)
        d = n * hu[rows].view(-1, 1, 1, 1)
        if fov:
            d = d * raw[rows, 3]
        raw[rows, 0] = raw[rows, 0] + d
    return raw
