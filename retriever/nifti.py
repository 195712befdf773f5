"""Loading NIfTI images into world-space volumes, with the checks a user needs.

A :class:`Volume` is a 3-D array and the affine that maps voxel indices to world
millimetres in nibabel's RAS+ convention (+x towards the subject's right, +y anterior,
+z superior), which is what a NIfTI header's sform/qform describes.

Nothing is resampled here.  Patches are cut later by mapping world points through the
inverse affine (:mod:`.patches`), so images on different grids (a 4 mm PET and a 1 mm CT)
and any voxel orientation (RAS, LPS, oblique) are handled by the same code; reorienting the
array to RAS first would only cost a copy.  The array is kept in the memory order nibabel
gives (Fortran order), which is exactly what the sampler needs without a copy.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anatloc.ontology.errors import DataError

log = logging.getLogger(__name__)

#: a 99.5th percentile of the PET above this is not SUV (body weight) but activity
PET_SUV_LIMIT = 100.0


class PetUnitWarning(UserWarning):
    """A PET image whose values look like activity concentration, not SUV."""


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3-D image: ``data[i, j, k]`` lies at world point ``affine @ (i, j, k, 1)`` (RAS mm)."""

    data: np.ndarray
    affine: np.ndarray
    path: Path | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.data.shape)  # type: ignore[return-value]

    @property
    def spacing(self) -> np.ndarray:
        """Voxel size along each array axis, mm."""
        return np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0))

    @property
    def inverse(self) -> np.ndarray:
        return np.linalg.inv(self.affine)

    def world_to_voxel(self, points: np.ndarray) -> np.ndarray:
        """(…, 3) world mm → (…, 3) continuous voxel indices."""
        inv = self.inverse
        return points @ inv[:3, :3].T + inv[:3, 3]

    def voxel_to_world(self, ijk: np.ndarray) -> np.ndarray:
        return ijk @ self.affine[:3, :3].T + self.affine[:3, 3]

    def name(self) -> str:
        return str(self.path) if self.path is not None else "<array>"


def _check_affine(affine: np.ndarray, where: str) -> np.ndarray:
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
        raise DataError(f"{where}: the affine is not a finite 4×4 matrix")
    det = float(np.linalg.det(affine[:3, :3]))
    if not abs(det) > 1e-9:
        raise DataError(
            f"{where}: the affine is not invertible (determinant {det:.3g}); the header's "
            "sform/qform does not describe a 3-D voxel grid"
        )
    return affine


def make_volume(data: np.ndarray, affine: np.ndarray, path: str | Path | None = None) -> Volume:
    """A checked :class:`Volume` from an array and an affine (used by the loader and tests)."""
    where = str(path) if path is not None else "image"
    arr = np.asarray(data)
    if arr.ndim == 4 and arr.shape[3] == 1:
        arr = arr[..., 0]
    if arr.ndim != 3:
        raise DataError(
            f"{where}: expected a 3-D image, got {arr.ndim} dimensions {tuple(arr.shape)}"
            + (
                " (a time series or multi-channel image? give one 3-D volume)"
                if arr.ndim > 3
                else ""
            )
        )
    if min(arr.shape) < 1:
        raise DataError(f"{where}: the image is empty {tuple(arr.shape)}")
    arr = np.asfortranarray(arr, dtype=np.float32)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise DataError(
            f"{where}: {int(bad.sum())} voxel(s) are NaN or infinite; expected finite values "
            "(replace them, e.g. with -1000 for CT or 0 for PET)"
        )
    return Volume(arr, _check_affine(affine, where), Path(path) if path is not None else None)


def load_volume(path: str | os.PathLike, kind: str = "image") -> Volume:
    """Load a NIfTI file (``.nii`` / ``.nii.gz``) as a float32 :class:`Volume`.

    ``kind`` ("ct", "pet", "mask" or "image") only changes the checks: a PET whose values are
    far above the SUV range gets a :class:`PetUnitWarning` naming the likely unit (Bq/ml).
    """
    import nibabel as nib

    p = Path(path)
    if not p.exists():
        raise DataError(f"{kind} image {p} does not exist")
    if p.is_dir():
        raise DataError(
            f"{kind} image {p} is a folder; expected a NIfTI file (.nii or .nii.gz), "
            "convert DICOM series first (e.g. with dcm2niix)"
        )
    try:
        img = nib.load(str(p))
        affine = img.affine
        # get_fdata applies scl_slope / scl_inter; mask ids are read as stored
        data = np.asanyarray(img.dataobj) if kind == "mask" else img.get_fdata(dtype=np.float32)
    except DataError:
        raise
    except Exception as exc:  # nibabel raises many kinds for a bad file
        raise DataError(
            f"cannot read {kind} image {p} as NIfTI ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'unreadable'})"
        ) from None
    if affine is None:
        raise DataError(f"{kind} image {p}: no affine in the header")
    if np.iscomplexobj(data):
        raise DataError(f"{kind} image {p}: complex values; expected real intensities")
    vol = make_volume(data, affine, p)
    if kind == "pet":
        check_pet_units(vol)
    if kind == "mask":
        check_mask(vol)
    return vol


def check_pet_units(vol: Volume) -> None:
    """Warn when a PET's values look like activity concentration rather than SUV."""
    flat = vol.data.ravel()
    sample = flat[:: max(1, flat.size // 200_000)]
    high = float(np.percentile(sample, 99.5)) if sample.size else 0.0
    if high > PET_SUV_LIMIT:
        msg = (
            f"{vol.name()}: PET values up to {high:.0f} (99.5th percentile) are far above the "
            "SUV range; the image is probably in Bq/ml — convert it to SUV (body weight) first"
        )
        log.warning(msg)
        warnings.warn(msg, PetUnitWarning, stacklevel=3)


def check_mask(vol: Volume) -> None:
    if not np.allclose(vol.data, np.round(vol.data)):
        raise DataError(
            f"mask image {vol.name()}: non-integer values; expected an instance mask "
            "(0 background, 1, 2, … one id per lesion)"
        )
    if float(vol.data.min()) < 0:
        raise DataError(f"mask image {vol.name()}: negative values; expected ids ≥ 0")


def geometry_difference(a: Volume, b: Volume) -> str:
    """'' when two volumes share a grid, else a short description of the difference."""
    if a.shape != b.shape:
        return f"shape {a.shape} vs {b.shape}"
    if not np.allclose(a.affine, b.affine, atol=1e-3):
        return "affine differs"
    return ""
