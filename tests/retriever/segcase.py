"""A hand-made phantom-format case and a TotalSegmentator-style organ map, for the baseline.

The grid is 40³ voxels of 2 mm (RAS, origin −40 mm).  Fine labels (``labels.nii.gz``):
Liver S7 (a block), Vertebra T7 (a cube), Rib L7 (a slab) and Mediastinum 4R (no
TotalSegmentator class).  Lesions (``lesions.nii.gz``): 1 a 28 mm sphere in the liver, 2 a
small one in the vertebra, 3 one in the rib, 4 a node in the mediastinum far from every
organ, 5 a node 4 mm beside the vertebra ("Near vertebra T7").
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nibabel as nib
import numpy as np

AFFINE = np.array([[2.0, 0, 0, -40.0], [0, 2.0, 0, -40.0], [0, 0, 2.0, -40.0], [0, 0, 0, 1]])
SHAPE = (40, 40, 40)
FINE = {1: "Liver S7", 2: "Vertebra T7", 3: "Rib L7", 4: "Mediastinum 4R"}
#: (mask label, voxel centre, radius in voxels, location)
LESIONS = [
    (1, (10, 20, 10), 7.0, "Liver S7"),
    (2, (30, 30, 30), 2.0, "Vertebra T7"),
    (3, (37, 10, 32), 1.5, "Rib L7"),
    (4, (30, 8, 8), 2.0, "Mediastinum 4R"),
    (5, (30, 30, 22), 1.0, "Near vertebra T7"),
]
#: TotalSegmentator v2 voxel values of the classes used
TS = {"liver": 5, "vertebrae_T7": 37, "rib_left_7": 98}


def fine_labels() -> np.ndarray:
    lab = np.zeros(SHAPE, np.int16)
    lab[0:20, :, 0:20] = 1
    lab[25:35, 25:35, 25:35] = 2
    lab[36:40, :, 25:40] = 3
    lab[25:35, 0:16, 0:16] = 4
    return lab


def lesion_mask() -> np.ndarray:
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in SHAPE], indexing="ij"), -1)
    m = np.zeros(SHAPE, np.uint8)
    for lid, c, r, _ in LESIONS:
        m[np.linalg.norm(ijk - np.asarray(c), axis=-1) <= r] = lid
    return m


def world(ijk) -> tuple[float, float, float]:
    p = AFFINE[:3, :3] @ np.asarray(ijk, float) + AFFINE[:3, 3]
    return tuple(float(v) for v in p)


def make_phantom_case(folder: Path, ont) -> Path:
    """A case folder in the layout of ``anatloc phantom generate`` and its lesions.csv."""
    case = folder / "toy-0-0000"
    case.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(fine_labels(), AFFINE), case / "labels.nii.gz")
    nib.save(nib.Nifti1Image(lesion_mask(), AFFINE), case / "lesions.nii.gz")
    nib.save(nib.Nifti1Image(np.ones(SHAPE, np.float32), AFFINE), case / "pet.nii.gz")
    labels = {
        str(k): {"curie": ont.get(v, level="fine").curie, "label": v} for k, v in FINE.items()
    }
    (case / "labels.json").write_text(json.dumps(labels))
    table = folder / "lesions.csv"
    with table.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["case_id", "lesion_id", "pet", "mask", "mask_label", "locations"])
        for lid, _, _, loc in LESIONS:
            cid = case.name
            w.writerow(
                [cid, f"{cid}:{lid}", f"{cid}/pet.nii.gz", f"{cid}/lesions.nii.gz", lid, loc]
            )
    return table


def make_seg_case(folder: Path, classes: dict[str, int] | None = None) -> Path:
    """A user-data table: boxes around the same lesions, a ``seg`` column pointing at an organ
    map in TotalSegmentator voxel values (or ``classes``) on another grid (4 mm, LPS)."""
    folder.mkdir(parents=True, exist_ok=True)
    values = classes or TS
    seg_aff = np.array([[-4.0, 0, 0, 38.0], [0, -4.0, 0, 38.0], [0, 0, 4.0, -40.0], [0, 0, 0, 1]])
    n = 20
    ijk = np.stack(np.meshgrid(*[np.arange(k) for k in (n, n, n)], indexing="ij"), -1)
    w = ijk @ seg_aff[:3, :3].T + seg_aff[:3, 3]
    # back to the fine grid's voxels to copy its organs
    f = np.rint((w - AFFINE[:3, 3]) / 2.0).astype(int)
    ok = ((f >= 0) & (f < 40)).all(-1)
    lab = np.zeros((n, n, n), np.int16)
    fc = np.clip(f, 0, 39)
    src = fine_labels()[fc[..., 0], fc[..., 1], fc[..., 2]]
    to = {1: values["liver"], 2: values["vertebrae_T7"], 3: values["rib_left_7"]}
    for k, v in to.items():
        lab[(src == k) & ok] = v
    nib.save(nib.Nifti1Image(lab, seg_aff), folder / "seg.nii.gz")
    nib.save(nib.Nifti1Image(np.ones((8, 8, 8), np.float32), AFFINE), folder / "pet.nii.gz")
    table = folder / "lesions.csv"
    with table.open("w", newline="") as fh:
        wr = csv.writer(fh)
        cols = ["case_id", "pet", "seg", "locations"]
        cols += [f"center_{a}" for a in "xyz"] + [f"size_{a}" for a in "xyz"]
        wr.writerow(cols)
        for _lid, c, r, loc in LESIONS[:3]:
            wr.writerow(["u1", "pet.nii.gz", "seg.nii.gz", loc, *world(c), *([4 * r] * 3)])
    return table
