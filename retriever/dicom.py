"""Reading PET and CT series from folders of DICOM files into world-space volumes.

Scans reach users from PACS as folders of DICOM files, often a whole study.  This module
finds the series in such a folder (recursively), picks the PET or the CT by Modality, and
builds the same :class:`~.nifti.Volume` that the NIfTI path gives for the same data: the
array ``data[i, j, k]`` (column, row, slice) and the affine that maps it to world RAS
millimetres.  DICOM places voxels in LPS (+x the patient's left, +y posterior), so the
affine's first two rows are negated.

The geometry comes only from ImagePositionPatient, ImageOrientationPatient and PixelSpacing;
slices are sorted along the normal of their plane.  What would put voxels in the wrong place
is refused with one line naming the series: a missing or duplicate slice, uneven spacing, a
sheared stack (gantry tilt), slices of different sizes or orientations.  Each slice's
RescaleSlope and RescaleIntercept are applied to its own pixels.  A PET is converted to SUV
by :mod:`.suv`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from anatloc.ontology.errors import DataError, UsageError

from .nifti import Volume, make_volume
from .suv import SuvOverrides, SuvResult, suv_factor

#: LPS (DICOM) → RAS (NIfTI, anatloc): negate x and y
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
#: the modality of each kind of image
MODALITY = {"pet": "PT", "ct": "CT"}
#: the header fields read while scanning a folder (everything but the pixels)
_SCAN_TAGS = (
    "PatientID",
    "PatientName",
    "Modality",
    "SeriesInstanceUID",
    "SeriesDescription",
    "ImageType",
)
#: positions closer than this (mm) along the normal are one place: a duplicate slice
_SAME_MM = 1e-3
#: the largest relative difference between slice gaps that counts as even spacing
_SPACING_TOL = 0.01


@dataclass(frozen=True)
class DicomOptions:
    """Choices for DICOM input: which series (``--pet-series``, ``--ct-series``) and the SUV
    fields that override the headers."""

    pet_series: str | None = None
    ct_series: str | None = None
    suv: SuvOverrides = field(default_factory=SuvOverrides)
    #: the ROIs of an RTSTRUCT given as the lesions (``--roi``); () takes every ROI
    rois: tuple[str, ...] = ()

    def given(self) -> list[str]:
        """The command-line names of the options set (for messages)."""
        named = {"--pet-series": self.pet_series, "--ct-series": self.ct_series}
        out = [n for n, v in named.items() if v] + [f"--{n}" for n in self.suv.names()]
        return out + (["--roi"] if self.rois else [])


@dataclass
class Series:
    """One series of a folder: its files and the headers read while scanning."""

    uid: str
    modality: str
    description: str
    files: list[Path] = field(default_factory=list)
    patients: set[str] = field(default_factory=set)

    def line(self) -> str:
        desc = f" {self.description!r}" if self.description else ""
        return f"{self.modality} {self.uid}{desc} ({len(self.files)} slices)"


@dataclass(frozen=True, eq=False)
class DicomImage:
    """A series read as a volume, with what the predictions report about it."""

    volume: Volume
    series: Series
    patient: str
    suv: SuvResult | None = None  # a PET: how its values became SUV
    #: the study's identifiers from the headers (:data:`STUDY_TAGS`; empty ones left out)
    study: dict[str, str] = field(default_factory=dict)

    def columns(self, kind: str) -> dict[str, Any]:
        """Prediction columns: the series' UID; for a PET also the study's identifiers
        (patient ID, study UID and date, accession number) and the SUV fields."""
        out: dict[str, Any] = {f"{kind}_series_uid": self.series.uid}
        if kind == "pet":
            out.update(self.study)
        if self.suv is not None:
            out.update(self.suv.columns())
        return out


#: prediction column ← DICOM keyword: the study identifiers a report carries (the PET's)
STUDY_TAGS = {
    "patient_id": "PatientID",
    "study_uid": "StudyInstanceUID",
    "study_date": "StudyDate",
    "accession_number": "AccessionNumber",
}


def study_of(ds: Any) -> dict[str, str]:
    """The study identifiers of a header (:data:`STUDY_TAGS`), those that are not empty."""
    vals = {col: str(ds.get(kw, "") or "").strip() for col, kw in STUDY_TAGS.items()}
    return {col: v for col, v in vals.items() if v}


# -- finding the series ---------------------------------------------------------------------


def is_dicom_file(path: Path) -> bool:
    """A DICOM Part 10 file: the four bytes ``DICM`` after a 128-byte preamble."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == b"DICM"


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_dicom_file(p))


def has_dicom(folder: str | os.PathLike) -> bool:
    """Whether the folder holds at least one DICOM file (looked for without reading all)."""
    return any(p.is_file() and is_dicom_file(p) for p in Path(folder).rglob("*"))


def check_folder(path: str | os.PathLike, kind: str) -> Path:
    """``path`` as a Path when it is a folder with DICOM files in it; else a DataError."""
    p = Path(path).expanduser()
    if not has_dicom(p):
        raise DataError(
            f"{kind} image {p} is a folder without DICOM files; expected a NIfTI file "
            "(.nii or .nii.gz) or a folder of DICOM files (convert other formats first, e.g. "
            "with dcm2niix)"
        )
    return p


def _patient(ds: Any) -> str:
    pid = str(ds.get("PatientID", "") or "").strip()
    return pid or str(ds.get("PatientName", "") or "").strip()


def scan_folder(folder: str | os.PathLike, kind: str = "image") -> list[Series]:
    """The series of a folder (recursively), in the order of their UIDs.  Files that are not
    DICOM and CT localizers are skipped; other objects (reports, structure sets) are grouped
    too but are never chosen as a PET or CT.  Several patients are refused."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    root = Path(folder)
    series: dict[str, Series] = {}
    for path in _files(root):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=list(_SCAN_TAGS))
        except (InvalidDicomError, OSError, ValueError, EOFError):
            continue
        uid = str(ds.get("SeriesInstanceUID", "") or "").strip()
        image_type = [str(v).upper() for v in (ds.get("ImageType") or [])]
        if not uid or "LOCALIZER" in image_type:
            continue
        modality = str(ds.get("Modality", "") or "").strip().upper()
        s = series.setdefault(
            uid, Series(uid, modality, str(ds.get("SeriesDescription", "") or "").strip())
        )
        s.files.append(path)
        s.patients.add(_patient(ds))
    if not series:
        raise DataError(f"{kind} image {root}: no DICOM image series in the folder")
    patients = sorted(set().union(*(s.patients for s in series.values())))
    if len(patients) > 1:
        raise DataError(
            f"{kind} image {root}: the folder holds images of {len(patients)} patients "
            f"({', '.join(repr(p) for p in patients[:5])}); give a folder of one patient's study"
        )
    return [series[u] for u in sorted(series)]


def choose_series(
    found: Sequence[Series], modality: str | None, uid: str | None, where: str, option: str
) -> Series:
    """The series ``uid``, or the only series of ``modality`` (any PT or CT when None).

    Several candidates are a usage error that lists them (UID, description, slices) and the
    option that chooses one."""
    if uid:
        for s in found:
            if s.uid == uid:
                if modality and s.modality != modality:
                    raise UsageError(f"{option} {uid}: that series in {where} is {s.modality}")
                return s
        shown = "; ".join(s.line() for s in found)
        raise UsageError(f"{option} {uid}: no such series in {where} (it holds: {shown})")
    want = (modality,) if modality else ("PT", "CT")
    candidates = [s for s in found if s.modality in want]
    if not candidates:
        shown = "; ".join(s.line() for s in found)
        raise DataError(f"{where}: no {' or '.join(want)} series in the folder (found: {shown})")
    if len(candidates) > 1:
        shown = "; ".join(s.line() for s in candidates)
        raise UsageError(
            f"{where} holds {len(candidates)} {'/'.join(want)} series, choose one with "
            f"{option} UID: {shown}"
        )
    return candidates[0]


# -- geometry -------------------------------------------------------------------------------


def _vector(ds: Any, keyword: str, n: int, where: str, path: Path) -> np.ndarray:
    value = ds.get(keyword)
    try:
        v = np.array([float(x) for x in value], dtype=np.float64)
    except (TypeError, ValueError):
        v = np.zeros(0)
    if v.shape != (n,) or not np.all(np.isfinite(v)):
        raise DataError(
            f"{where}: {keyword} is missing or malformed in {path.name}; expected {n} numbers "
            "(anatloc places voxels from ImagePositionPatient, ImageOrientationPatient and "
            "PixelSpacing)"
        )
    return v


@dataclass(frozen=True)
class Geometry:
    """The stack's order and the affine that maps (column, row, slice) to world RAS mm."""

    order: np.ndarray  # the headers' indices, sorted along the normal
    affine: np.ndarray
    rows: int
    columns: int


def _plane(headers: Sequence[Any], files: Sequence[Path], where: str) -> tuple[np.ndarray, ...]:
    """The shared row and column directions and pixel spacing of every slice."""
    ref = None
    for ds, path in zip(headers, files, strict=True):
        iop = _vector(ds, "ImageOrientationPatient", 6, where, path)
        spacing = _vector(ds, "PixelSpacing", 2, where, path)
        size = (int(ds.get("Rows") or 0), int(ds.get("Columns") or 0))
        if ref is None:
            ref = (iop, spacing, size, path)
            continue
        if not np.allclose(iop, ref[0], atol=1e-4):
            raise DataError(
                f"{where}: slices in different orientations ({ref[3].name} and {path.name}, "
                "ImageOrientationPatient); expected one stack of parallel slices"
            )
        if not np.allclose(spacing, ref[1], rtol=1e-4) or size != ref[2]:
            raise DataError(
                f"{where}: slices of different sizes ({ref[3].name}: {ref[2]} pixels of "
                f"{ref[1].tolist()} mm, {path.name}: {size} of {spacing.tolist()} mm)"
            )
    if ref is None:
        raise DataError(f"{where}: no slices")
    x, y = ref[0][:3], ref[0][3:]
    if abs(float(np.dot(x, y))) > 1e-3 or min(np.linalg.norm(x), np.linalg.norm(y)) < 0.99:
        raise DataError(
            f"{where}: ImageOrientationPatient {ref[0].tolist()} is not two perpendicular "
            "unit vectors"
        )
    if min(ref[2]) < 1:
        raise DataError(f"{where}: slices without Rows/Columns")
    return x / np.linalg.norm(x), y / np.linalg.norm(y), ref[1], np.array(ref[2])


def _spacing_along(d: np.ndarray, files: Sequence[Path], where: str) -> float:
    """The even gap between sorted slice positions ``d``; refuses duplicates, gaps and uneven
    spacing with the positions where it happens."""
    gaps = np.diff(d)
    same = np.flatnonzero(gaps < _SAME_MM)
    if same.size:
        i = int(same[0])
        raise DataError(
            f"{where}: duplicate slices at {d[i]:.2f} mm along the normal ({files[i].name} and "
            f"{files[i + 1].name}); expected one copy of each slice (not a copied series, nor "
            "the time frames of a dynamic PET)"
        )
    step = float(np.median(gaps))
    off = np.flatnonzero(np.abs(gaps - step) > _SPACING_TOL * step + 1e-3)
    if off.size:
        i = int(off[0])
        ratio = gaps[i] / step
        if abs(ratio - round(ratio)) < 0.1 and round(ratio) >= 2:
            missing = round(float(ratio)) - 1
            raise DataError(
                f"{where}: {missing} missing slice(s) between {d[i]:.2f} and {d[i + 1]:.2f} mm "
                f"along the normal (the spacing is {step:.3g} mm); give the complete series"
            )
        raise DataError(
            f"{where}: uneven slice spacing ({gaps.min():.3g} to {gaps.max():.3g} mm, first "
            f"at {d[i]:.2f} mm); anatloc reads evenly spaced slices only"
        )
    return float((d[-1] - d[0]) / (len(d) - 1))


def geometry(headers: Sequence[Any], files: Sequence[Path], where: str) -> Geometry:
    """The stack's geometry from ImagePositionPatient, ImageOrientationPatient, PixelSpacing.

    Columns of the affine: the row direction × column spacing, the column direction × row
    spacing, the normal × slice spacing; its origin is the first sorted slice's position."""
    if len(headers) < 2:
        raise DataError(f"{where}: a single slice; expected a 3-D series")
    x, y, spacing, size = _plane(headers, files, where)
    normal = np.cross(x, y)
    pos = np.stack(
        [
            _vector(h, "ImagePositionPatient", 3, where, f)
            for h, f in zip(headers, files, strict=True)
        ]
    )
    d = pos @ normal
    order = np.argsort(d, kind="stable")
    d, pos = d[order], pos[order]
    step = _spacing_along(d, [files[i] for i in order], where)
    lateral = (pos - pos[0]) - np.outer(d - d[0], normal)
    shift = float(np.linalg.norm(lateral, axis=1).max())
    if shift > max(0.05, 0.01 * step):
        angle = math.degrees(math.atan2(shift, d[-1] - d[0]))
        raise DataError(
            f"{where}: the slices are sheared, not stacked along their normal (gantry tilt "
            f"of about {angle:.1f}°); resample the series to an untilted grid first"
        )
    lps = np.eye(4)
    lps[:3, 0] = x * spacing[1]  # along a row: the column index grows, by the column spacing
    lps[:3, 1] = y * spacing[0]
    lps[:3, 2] = normal * step
    lps[:3, 3] = pos[0]
    return Geometry(order, LPS_TO_RAS @ lps, int(size[0]), int(size[1]))


# -- pixels ---------------------------------------------------------------------------------


def _pixels(ds: Any, path: Path, rows: int, columns: int, where: str) -> np.ndarray:
    """One slice's values after its own RescaleSlope and RescaleIntercept, as (column, row)."""
    if int(ds.get("NumberOfFrames") or 1) > 1:
        raise DataError(
            f"{where}: {path.name} is a multi-frame (enhanced) image; anatloc reads series of "
            "single-frame slices"
        )
    try:
        arr = ds.pixel_array
    except Exception as exc:  # a transfer syntax without a decoder, damaged pixel data
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise DataError(f"{where}: cannot read the pixels of {path.name} ({text[:160]})") from None
    if arr.shape != (rows, columns):
        raise DataError(
            f"{where}: {path.name} has pixels of shape {arr.shape}, expected ({rows}, {columns})"
        )
    slope = float(ds.get("RescaleSlope") or 1.0)
    intercept = float(ds.get("RescaleIntercept") or 0.0)
    return (arr.astype(np.float64) * slope + intercept).T


def _read_files(files: Sequence[Path], where: str) -> list[Any]:
    """Every file of the series, parsed once (pixels decoded later, slice by slice)."""
    import pydicom

    out = []
    for p in files:
        try:
            out.append(pydicom.dcmread(p))
        except Exception as exc:  # a file damaged or removed after the scan
            raise DataError(f"{where}: cannot read {p.name} ({exc.__class__.__name__})") from None
    return out


def read_series(
    series: Series, kind: str, where: str, path: Path | None = None
) -> tuple[Volume, list[Any]]:
    """The series as a float32 volume (rescaled values) and its headers, sorted."""
    datasets = _read_files(series.files, where)
    geo = geometry(datasets, series.files, where)
    data = np.empty((geo.columns, geo.rows, len(datasets)), dtype=np.float32, order="F")
    for k, i in enumerate(geo.order):
        data[:, :, k] = _pixels(datasets[i], series.files[i], geo.rows, geo.columns, where)
        del datasets[i].PixelData  # its values are in ``data`` now: free both copies
    return make_volume(data, geo.affine, path, kind=kind), [datasets[i] for i in geo.order]


def read_dicom(
    folder: str | os.PathLike,
    kind: str,
    *,
    series_uid: str | None = None,
    suv: SuvOverrides | None = None,
    to_suv: bool = True,
) -> DicomImage:
    """The PET (``kind`` "pet": in SUV when ``to_suv``) or CT (``kind`` "ct") of a DICOM
    folder; ``kind`` "image" takes the folder's only PT or CT series."""
    root = Path(folder)
    found = scan_folder(root, kind)
    option = {"pet": "--pet-series", "ct": "--ct-series"}.get(kind, "--series")
    chosen = choose_series(found, MODALITY.get(kind), series_uid, f"{kind} folder {root}", option)
    where = f"{chosen.modality} series {chosen.uid} in {root}"
    volume, headers = read_series(chosen, kind, where, root)
    result = None
    if chosen.modality == "PT" and to_suv:
        result = suv_factor(headers, where, suv)
        if result.factor != 1.0:
            np.multiply(volume.data, np.float32(result.factor), out=volume.data)
    return DicomImage(volume, chosen, _patient(headers[0]), result, study_of(headers[0]))


def same_patient(pet: DicomImage, ct: DicomImage) -> None:
    """A PET and a CT read from DICOM belong to one patient (PatientID)."""
    if pet.patient and ct.patient and pet.patient != ct.patient:
        raise DataError(
            f"the pet series {pet.series.uid} (patient {pet.patient!r}) and the ct series "
            f"{ct.series.uid} (patient {ct.patient!r}) are of different patients"
        )


def nifti_bytes(volume: Volume, gz: bool) -> bytes:
    """The volume as a NIfTI-1 file's bytes (sform and qform: scanner space)."""
    import gzip

    import nibabel as nib

    img = nib.Nifti1Image(np.asarray(volume.data, dtype=np.float32), volume.affine)
    img.set_sform(volume.affine, code=1)
    img.set_qform(volume.affine, code=1)
    img.header.set_xyzt_units("mm", "sec")
    raw = img.to_bytes()
    return gzip.compress(raw, compresslevel=1, mtime=0) if gz else raw  # nibabel's level


def convert(
    folder: str | os.PathLike,
    out: str | os.PathLike,
    *,
    series_uid: str | None = None,
    to_suv: bool = False,
    suv: SuvOverrides | None = None,
) -> DicomImage:
    """Write a folder's PT or CT series as NIfTI (``.nii`` or ``.nii.gz``), atomically; with
    ``to_suv`` the PET's values in SUV, else as stored (rescaled: Bq/ml, counts, HU)."""
    from anatloc.ontology.fileio import atomic_write

    target = Path(out)
    name = target.name.lower()
    if not name.endswith((".nii", ".nii.gz")):
        raise UsageError(f"{target}: the output must be a NIfTI file name (.nii or .nii.gz)")
    if target.is_dir():
        raise UsageError(f"{target} is a folder; give a file name (.nii or .nii.gz)")
    if (suv is not None and suv.names()) and not to_suv:
        raise UsageError(f"--{', --'.join(suv.names())} set SUV fields; add --suv")
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"DICOM folder {folder} does not exist or is not a folder")
    kind = "pet" if to_suv else "image"
    img = read_dicom(folder, kind, series_uid=series_uid, suv=suv, to_suv=to_suv)
    atomic_write(target, nifti_bytes(img.volume, gz=name.endswith(".gz")))
    return img


def dicom_modality(path: str | os.PathLike) -> str:
    """A DICOM file's Modality (upper case; '' when it has none or cannot be read)."""
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["Modality"])
    except Exception:  # the reader that follows says what is wrong with the file
        return ""
    return str(ds.get("Modality", "") or "").strip().upper()
