"""Tiny synthetic PET/CT cases and a fake text encoder, made in the test (no patient data)."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import nibabel as nib
import numpy as np

#: a CT on a 4 mm RAS grid and a PET on a 6 mm grid stored LPS (x and y flipped)
CT_AFFINE = np.array([[4.0, 0, 0, -94.0], [0, 4.0, 0, -94.0], [0, 0, 4.0, -94.0], [0, 0, 0, 1]])
PET_AFFINE = np.array([[-6.0, 0, 0, 93.0], [0, -6.0, 0, 93.0], [0, 0, 6.0, -93.0], [0, 0, 0, 1]])
#: (location label, world centre) of the lesion kinds the cases draw from
KINDS = [
    ("Liver S7", (40.0, -20.0, -30.0)),  # RAS: +x is the patient's right
    ("Rib L7", (-50.0, 10.0, 30.0)),
    ("Brain", (0.0, 0.0, 70.0)),
]


class FakeEncoder:
    """texts → deterministic unit vectors (a stand-in for the sentence encoder)."""

    model_id = "fake-encoder/1"

    def __init__(self, dim: int = 384):
        self.dim = dim
        self.calls = 0

    def __call__(self, texts):
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
            v = np.random.default_rng(seed).standard_normal(self.dim)
            out[i] = v / np.linalg.norm(v)
        return out


def world_grid(affine: np.ndarray, shape) -> np.ndarray:
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1).astype(float)
    return ijk @ affine[:3, :3].T + affine[:3, 3]


def make_case(
    folder: Path,
    name: str,
    lesions,
    rng: np.random.Generator,
    *,
    ct: bool = True,
    mask: bool = True,
) -> dict:
    """Write ct/pet/mask NIfTI files of one case; lesions: list of (label, centre, radius)."""
    folder.mkdir(parents=True, exist_ok=True)
    ct_shape, pet_shape = (48, 48, 48), (32, 32, 32)
    wct = world_grid(CT_AFFINE, ct_shape)
    wpet = world_grid(PET_AFFINE, pet_shape)
    body_ct = np.linalg.norm(wct[..., :2] / [80, 60], axis=-1) < 1
    ct_arr = np.where(body_ct, 40.0, -1000.0) + rng.normal(0, 10, ct_shape)
    body_pet = np.linalg.norm(wpet[..., :2] / [80, 60], axis=-1) < 1
    pet_arr = np.where(body_pet, 1.0, 0.0) + np.abs(rng.normal(0, 0.1, pet_shape))
    mask_arr = np.zeros(ct_shape, dtype=np.int16)
    for i, (_label, c, r) in enumerate(lesions, start=1):
        c = np.asarray(c)
        ct_arr[np.linalg.norm(wct - c, axis=-1) < r] = 300.0
        pet_arr[np.linalg.norm(wpet - c, axis=-1) < r + 3] = 8.0
        mask_arr[np.linalg.norm(wct - c, axis=-1) < r] = i
    files = {}
    p = folder / f"{name}_pet.nii.gz"
    nib.save(nib.Nifti1Image(pet_arr.astype(np.float32), PET_AFFINE), p)
    files["pet"] = p.name
    if ct:
        p = folder / f"{name}_ct.nii.gz"
        nib.save(nib.Nifti1Image(ct_arr.astype(np.int16), CT_AFFINE), p)
        files["ct"] = p.name
    if mask:
        p = folder / f"{name}_mask.nii.gz"
        nib.save(nib.Nifti1Image(mask_arr, CT_AFFINE), p)
        files["mask"] = p.name
    return files


def make_table(folder: Path, n_cases: int = 3, seed: int = 0, name: str = "lesions.csv") -> Path:
    """A lesion table of ``n_cases`` cases, one lesion of each kind per case; the last case
    has no CT and gives its lesions as boxes."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n_cases):
        lesions = []
        for label, c in KINDS:
            jitter = rng.uniform(-5, 5, 3)
            lesions.append((label, tuple(np.asarray(c) + jitter), float(rng.uniform(6, 10))))
        pet_only = k == n_cases - 1 and n_cases > 1
        files = make_case(folder, f"case{k}", lesions, rng, ct=not pet_only, mask=not pet_only)
        for i, (label, c, r) in enumerate(lesions, start=1):
            row = {"case_id": f"case{k}", "ct": files.get("ct", ""), "pet": files["pet"]}
            if pet_only:
                row.update(mask="", mask_label="")
                row.update({f"center_{a}": f"{v:.1f}" for a, v in zip("xyz", c, strict=True)})
                row.update({f"size_{a}": f"{2 * r:.1f}" for a in "xyz"})
            else:
                row.update(mask=files["mask"], mask_label=str(i))
                row.update({f"center_{a}": "" for a in "xyz"})
                row.update({f"size_{a}": "" for a in "xyz"})
            row["locations"] = label
            rows.append(row)
    path = folder / name
    cols = ["case_id", "ct", "pet", "mask", "mask_label"]
    cols += [f"center_{a}" for a in "xyz"] + [f"size_{a}" for a in "xyz"] + ["locations"]
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    return path
