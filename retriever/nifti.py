"""Loading NIfTI images into world-space volumes, with the checks a user needs.

A :class:`Volume` is a 3-D array and the affine that maps voxel indices to world
millimetres in nibabel's RAS+ convention (+x towards the subject's right, +y anterior,
+z superior), which is what a NIfTI header's sform/qform describes.

Nothing is resampled here.  Patches are cut later by mapping world points through the
inverse affine (:mod:`.patches`), so images on different grids (a 4 mm PET and a 1 mm CT)
and any voxel orientation (RAS, LPS, oblique) are handled by the same code; reorienting the
array to RAS first would only cost a copy.  The array is kept in the memory order nibabel
gives (Fortran order), which is exactly what the sampler needs without a copy.  Points are
mapped with ``nibabel.affines.apply_affine`` (numpy arrays; the sampler's torch tensors keep
their own products, whose rounding differs from numpy's).
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from nibabel.affines import apply_affine

from anatloc.ontology.errors import DataError

log = logging.getLogger(__name__)

#: a 99.5th percentile of the PET above this is not SUV (body weight) but activity
PET_SUV_LIMIT = 100.0
#: the smallest and largest voxel size (mm) of an image anatloc reads
VOXEL_MM = (1e-3, 1e3)
#: the most voxels an image may have (a 512×512×2000 whole-body CT has 0.5 G); a header that
#: asks for more is damaged, and is refused before any image data is read
MAX_VOXELS = 2_000_000_000
#: the most a gzip stream can expand (deflate's limit is about 1032:1): a .nii.gz whose header
#: asks for more image data than this many times the file's size is truncated or damaged
_GZIP_MAX_RATIO = 1100


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
        return apply_affine(self.inverse, points)

    def voxel_to_world(self, ijk: np.ndarray) -> np.ndarray:
        return apply_affine(self.affine, ijk)

    def name(self) -> str:
        return str(self.path) if self.path is not None else "<array>"

    def grid(self, kind: str = "image") -> Grid:
        return Grid(self.shape, self.affine, f"{kind} image {self.name()}")


@dataclass(frozen=True, eq=False)
class Grid:
    """A voxel grid in world space: a shape and an affine (of an image or its header)."""

    shape: tuple[int, int, int]
    affine: np.ndarray
    name: str = "image"  # "pet image P.nii.gz": how messages name it

    def box(self) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) world mm (RAS) of the grid's field of view: its voxels' outer corners."""
        ext = [(-0.5, n - 0.5) for n in self.shape]
        corners = np.array([[i, j, k] for i in ext[0] for j in ext[1] for k in ext[2]])
        world = apply_affine(self.affine, corners)
        return world.min(axis=0), world.max(axis=0)

    def overlaps(self, other: Grid) -> bool:
        """Whether the two fields of view share some volume in world space."""
        (a0, a1), (b0, b1) = self.box(), other.box()
        return bool(np.all(np.minimum(a1, b1) > np.maximum(a0, b0)))

    def contains(self, points: np.ndarray) -> np.ndarray:
        """(N,) bool: the world points (N, 3) that lie in the field of view."""
        v = apply_affine(np.linalg.inv(self.affine), points)
        n = np.array(self.shape, dtype=np.float64)
        return np.all((v >= -0.5 - 1e-6) & (v <= n - 0.5 + 1e-6), axis=1)

    def same_as(self, other: Grid) -> bool:
        return self.shape == other.shape and bool(
            np.allclose(self.affine, other.affine, rtol=0.0, atol=1e-2)
        )

    def extent(self) -> str:
        lo, hi = self.box()
        return (
            ", ".join(f"{a} {lo[i]:.0f}…{hi[i]:.0f}" for i, a in enumerate(("x", "y", "z"))) + " mm"
        )

    def summary(self) -> str:
        """``shape (70, 38, 188), voxels 8×8×8 mm, x -311…249, y -132…172, z -56…1448 mm``"""
        sp = np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0))
        return (
            f"shape {tuple(self.shape)}, voxels {'×'.join(f'{v:.3g}' for v in sp)} mm, "
            f"{self.extent()}"
        )


def check_overlap(pet: Grid, ct: Grid) -> None:
    """A CT and a PET must overlap in world space (they are one patient's scans)."""
    if not pet.overlaps(ct):
        raise DataError(
            f"the {ct.name} and the {pet.name} do not overlap in world space (ct: "
            f"{ct.extent()}; pet: {pet.extent()}); expected one patient's PET and CT, with "
            "affines that place them on each other as a viewer shows them"
        )


def check_mask_grid(mask: Grid, pet: Grid, ct: Grid | None = None) -> None:
    """A lesion mask lies on the PET's or the CT's grid, or on its own grid over the same
    body.  Refused: a mask with an image's shape but another affine (saved without the
    image's header), and a mask outside the PET in world space (another patient's mask)."""
    images = [pet] + ([ct] if ct is not None else [])
    if any(mask.same_as(g) for g in images):
        return
    shown = "; ".join(f"{g.name}: {g.summary()}" for g in images)
    for g in images:
        if mask.shape == g.shape:
            raise DataError(
                f"{mask.name} has the shape of the {g.name} but another affine (mask: "
                f"{mask.summary()}; {shown}); expected a mask saved with its image's header "
                "(the same affine)"
            )
    if not mask.overlaps(pet):
        raise DataError(
            f"{mask.name} matches the grid of no image and lies outside the PET in "
            f"world space (mask: {mask.summary()}; {shown}); expected a mask on the PET or CT "
            "grid, or on its own grid over the same body"
        )


def check_centers(pet: Grid, centers: np.ndarray, records) -> None:
    """Every lesion's centre lies in the PET's field of view (else its patches are empty)."""
    inside = pet.contains(np.asarray(centers, dtype=np.float64).reshape(-1, 3))
    if inside.all():
        return
    i = int(np.flatnonzero(~inside)[0])
    r = records[i]
    c = ", ".join(f"{v:.1f}" for v in np.asarray(centers[i], dtype=np.float64))
    where = f" ({r.source})" if getattr(r, "source", "") else ""
    more = int((~inside).sum()) - 1
    raise DataError(
        f"lesion {r.lesion_id!r}{where}: its centre ({c}) mm lies outside the {pet.name} "
        f"({pet.extent()})"
        + (f", and {more} more lesion(s) too" if more else "")
        + "; expected lesions inside the PET — are the coordinates world RAS mm (not voxel "
        "indices, not LPS)?"
    )


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text if len(text) <= 160 else text[:157] + "…"
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No warnings, numpy floating-point messages or nibabel log lines (nibabel logs the
    header fixes it makes to stderr) while a file is read: the checks here say what matters
    in one line."""
    logger = logging.getLogger("nibabel.global")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def not_nifti_error(kind: str, path: Path, exc: BaseException) -> DataError:
    """The error for a file whose header cannot be read."""
    return DataError(
        f"{kind} image {path} is not a NIfTI image ({_short(exc)}); expected a .nii or .nii.gz file"
    )


def damaged_error(kind: str, path: Path, why: str) -> DataError:
    """The error for a file whose header is read but whose image data is not."""
    return DataError(
        f"{kind} image {path}: truncated or damaged file ({why}); export the image again"
    )


def existing_file(path: str | os.PathLike, kind: str) -> Path:
    """``path`` as a Path, refused with a :class:`DataError` when it does not exist or is a
    folder (a DICOM series, say)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{kind} image {p} does not exist")
    if p.is_dir():
        raise DataError(
            f"{kind} image {p} is a folder; expected a NIfTI file (.nii or .nii.gz), "
            "convert DICOM series first (anatloc convert DIR OUT.nii.gz, or dcm2niix)"
        )
    return p


def open_nifti(path: str | os.PathLike, kind: str = "image", *, keep_open: bool = False):
    """The nibabel image of a NIfTI file, its header checked; no image data is read.

    Checks: the file exists and is a file; the header reads; a 3-D image (a 4-D file with one
    volume is taken as 3-D) of at most :data:`MAX_VOXELS` voxels; real (not complex or RGB)
    values; a finite, invertible affine; a file large enough for the data its header
    announces.  Every failure is a :class:`DataError` naming the file.
    """
    import nibabel as nib

    p = existing_file(path, kind)
    try:
        with _quiet():
            img = nib.load(str(p), keep_file_open=keep_open)
            shape = tuple(int(n) for n in img.shape)
            dtype = np.dtype(img.get_data_dtype())
            affine = img.affine
    except MemoryError:
        raise not_nifti_error(kind, p, MemoryError("the header asks for too much memory")) from None
    except Exception as exc:  # nibabel raises many kinds for a bad file
        raise not_nifti_error(kind, p, exc) from None
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) != 3:
        raise DataError(
            f"{kind} image {p}: expected a 3-D image, got {len(shape)} dimensions "
            f"{tuple(img.shape)}"
            + (
                " (a time series or multi-channel image? give one 3-D volume)"
                if len(shape) > 3
                else ""
            )
        )
    if min(shape) < 1:
        raise DataError(f"{kind} image {p}: the image is empty {tuple(img.shape)}")
    n = int(np.prod(shape, dtype=object))
    if n > MAX_VOXELS:
        raise DataError(
            f"{kind} image {p}: the header asks for {n:,} voxels {shape}, more than the "
            f"{MAX_VOXELS:,} anatloc reads; a damaged header?"
        )
    if dtype.fields is not None or dtype.kind not in "biuf":
        raise DataError(
            f"{kind} image {p}: values of type {dtype} (complex, RGB or a record); expected "
            "one real intensity per voxel"
        )
    if affine is None:
        raise DataError(f"{kind} image {p}: no affine in the header")
    _check_affine(affine, f"{kind} image {p}")
    _check_size(img, p, kind, n * dtype.itemsize)
    return img


def _check_size(img, path: Path, kind: str, nbytes: int) -> None:
    """Refuse a single-file NIfTI whose file cannot hold the data its header announces
    (before reading: a damaged header must not make us allocate gigabytes)."""
    offset = getattr(img.dataobj, "offset", None)
    fmap = getattr(img, "file_map", {}).get("image")
    if offset is None or fmap is None or fmap.filename is None:
        return
    if Path(fmap.filename) != path:  # an .hdr/.img pair: the data is in the other file
        return
    try:
        size = path.stat().st_size
    except OSError:
        return
    need = int(offset) + nbytes
    name = path.name.lower()
    if name.endswith(".gz"):
        if need > _GZIP_MAX_RATIO * size + 65536:
            raise damaged_error(
                kind,
                path,
                f"the header announces {nbytes:,} bytes of image data, more than a "
                f"{size:,}-byte gzip file can hold",
            )
    elif not name.endswith((".bz2", ".zst")) and need > size:
        raise damaged_error(
            kind,
            path,
            f"the header announces {nbytes:,} bytes of image data from byte {int(offset)}, "
            f"the file has {size:,} bytes",
        )


def read_data(img, path: Path, kind: str, key=None, scaled: bool = True) -> np.ndarray:
    """``img``'s image data (or the block ``key`` of it), with the header's scaling when
    ``scaled``; a damaged file is a :class:`DataError`."""
    try:
        with _quiet():
            if key is not None:
                out = np.asanyarray(img.dataobj[key])
            elif scaled:
                out = img.get_fdata(dtype=np.float32)
            else:
                out = np.asanyarray(img.dataobj)
    except MemoryError:
        raise DataError(f"{kind} image {path}: too large to read into memory") from None
    except Exception as exc:  # zlib, EOF, OSError, ValueError from nibabel ...
        raise damaged_error(kind, path, _short(exc)) from None
    if np.iscomplexobj(out) or out.dtype.fields is not None:
        raise DataError(f"{kind} image {path}: complex values; expected real intensities")
    return out


def read_block(
    img, slices: tuple[slice, slice, slice], path: Path, kind: str, dtype=None
) -> np.ndarray:
    """``img.dataobj[slices]`` (scaled as the header says), in slabs along the last axis
    when ``dtype`` asks for a conversion, so that the stored and the converted copy of a
    large image are never both in memory."""

    def read(sl):
        return read_data(img, path, kind, (*sl, 0) if len(img.shape) == 4 else sl)

    if dtype is None:
        return read(slices)
    shape = tuple(s.stop - s.start for s in slices)
    out = np.empty(shape, dtype=dtype, order="F")
    plane = max(1, shape[0] * shape[1])
    step = max(1, 16_000_000 // plane)  # about 16 M voxels per slab
    z = slices[2]
    for k0 in range(z.start, z.stop, step):
        k1 = min(z.stop, k0 + step)
        with np.errstate(all="ignore"):  # beyond float32: inf, refused by make_volume
            out[:, :, k0 - z.start : k1 - z.start] = read((slices[0], slices[1], slice(k0, k1)))
    return out


def check_gzip_stream(path: Path, kind: str) -> None:
    """A ``.nii.gz`` whose gzip stream is damaged (its CRC or length does not match) is a
    :class:`DataError`.  nibabel reads only the bytes the header announces and never reaches
    the gzip trailer, so bytes damaged in the middle of the file would otherwise be read as
    image values; reading the stream to its end checks them (one more decompression)."""
    import gzip
    import zlib

    if not path.name.lower().endswith(".gz"):
        return
    try:
        with gzip.open(path, "rb") as fh:
            while fh.read(1 << 24):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        raise damaged_error(kind, path, _short(exc)) from None


def _check_affine(affine: np.ndarray, where: str) -> np.ndarray:
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
        raise DataError(f"{where}: the affine is not a finite 4×4 matrix")
    m = affine[:3, :3]
    det = float(np.linalg.det(m))
    with np.errstate(all="ignore"):
        cond = float(np.linalg.cond(m)) if abs(det) > 0 else np.inf
    if not abs(det) > 1e-9 or not cond < 1e6:
        raise DataError(
            f"{where}: the affine is not invertible (determinant {det:.3g}); the header's "
            "sform/qform does not describe a 3-D voxel grid"
        )
    spacing = np.sqrt((m**2).sum(axis=0))
    if spacing.min() < VOXEL_MM[0] or spacing.max() > VOXEL_MM[1]:
        raise DataError(
            f"{where}: voxels of {'×'.join(f'{v:.3g}' for v in spacing)} mm; expected voxel "
            f"sizes between {VOXEL_MM[0]:g} and {VOXEL_MM[1]:g} mm (a damaged header?)"
        )
    return affine


def make_volume(
    data: np.ndarray, affine: np.ndarray, path: str | Path | None = None, kind: str = ""
) -> Volume:
    """A checked :class:`Volume` from an array and an affine (used by the loader and tests);
    ``kind`` ("pet", "ct", "mask") names the image in messages."""
    where = str(path) if path is not None else "image"
    if kind:
        where = f"{kind} image {where}"
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
    with np.errstate(all="ignore"):  # a value beyond float32 becomes inf, refused below
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
    p = Path(path)
    img = open_nifti(p, kind)
    # get_fdata applies scl_slope / scl_inter; mask ids are read as stored
    data = read_data(img, p, kind, scaled=kind != "mask")
    check_gzip_stream(p, kind)
    vol = make_volume(data, img.affine, p, kind=kind)
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
        warnings.warn(msg, PetUnitWarning, stacklevel=3)


def check_mask(vol: Volume) -> None:
    # the checks look at the lesion voxels only: a mask is mostly background (0 passes both)
    ids = vol.data[vol.data != 0]
    if not np.allclose(ids, np.round(ids)):
        raise DataError(
            f"mask image {vol.name()}: non-integer values; expected an instance mask "
            "(0 background, 1, 2, … one id per lesion)"
        )
    if ids.size and float(ids.min()) < 0:
        raise DataError(f"mask image {vol.name()}: negative values; expected ids ≥ 0")


def geometry_difference(a: Volume, b: Volume) -> str:
    """'' when two volumes share a grid, else a short description of the difference."""
    if a.shape != b.shape:
        return f"shape {a.shape} vs {b.shape}"
    if not np.allclose(a.affine, b.affine, atol=1e-3):
        return "affine differs"
    return ""
