"""Prediction's first stage: a case's images and its lesions, read and checked.

A case (:class:`CaseInput`) is a PET in SUV, an optional CT on any grid, and its lesions as
a **mask** (an instance mask: 0 background, one id per lesion; or a binary mask — a single
non-zero value, as autoPET ships it — split into connected components with 26-connectivity
and numbered head to toe), as **boxes** (a CSV of centres and sizes in world mm, RAS, read
by :func:`.table.read_boxes`), or as rows of a **lesion table** (:func:`cases_from_table`,
many cases).  The PET and the CT may also be folders of DICOM files (:mod:`.dicom`: the PET
is converted to SUV from its headers, the CT is read whole) and the lesions a DICOM SEG
(:mod:`.seg`: each segment a lesion) or RTSTRUCT (:mod:`.rtstruct`: each ROI rasterised on
the PET grid).

:func:`read_images` reads the PET and the CT's header and checks that they overlap;
:func:`read_lesions` reads the lesions (:class:`CaseLesions`) and checks that they lie in
the PET; :func:`read_ct` reads the CT where the patches reach.  Memory stays small for
large images:

* the mask is read once in its stored integer type; each lesion keeps only its bounding box
  (:mod:`.masks`), and its patches are cut from a float32 crop of that box (the other
  lesions are not in it, exactly as the network's target-lesion channel wants);
* the CT is read only over the union of the lesions' patch extents (nibabel array-proxy
  slicing), never converted to float32 as a whole;
* the PET is read once (it is small).

Everything is in world space (RAS mm, from each image's affine), so images on different
grids and in any orientation work together.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from nibabel.affines import apply_affine

from anatloc.ontology.errors import DataError

from .dicom import (
    DicomImage,
    DicomOptions,
    check_folder,
    dicom_modality,
    is_dicom_file,
    read_dicom,
    same_patient,
)
from .masks import MaskLesion, read_mask, rtstruct_lesions, seg_lesions
from .nifti import (
    Grid,
    Volume,
    check_centers,
    check_mask_grid,
    check_overlap,
    existing_file,
    load_volume,
    make_volume,
    open_nifti,
    read_block,
)
from .table import CENTER, SIZE, LesionRecord, read_boxes

#: PET file names that say nothing about the case: the case id is then the folder's name
GENERIC_NAMES = {"pet", "suv", "pet_suv", "suv_pet", "image", "img"}


def case_id_for(pet: str | os.PathLike) -> str:
    """The PET file's name without ``.nii``/``.nii.gz``, or its folder's name when the file
    name is generic (``pet.nii.gz``, ``SUV.nii.gz`` …)."""
    p = Path(pet)
    name = p.name
    for ext in (".nii.gz", ".nii"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
            break
    if name.lower() in GENERIC_NAMES and p.resolve().parent.name:
        return p.resolve().parent.name
    return name


@dataclass
class CaseInput:
    """One case to predict: images and lesions (mask lesions, box lesions, or both)."""

    case_id: str
    pet: Path
    ct: Path | None = None
    #: a lesion mask; with ``mask_labels`` None every lesion in it is predicted (instance
    #: ids, or connected components of a binary mask)
    mask: Path | None = None
    #: lesion records (from a table or a boxes file); mask records name their ``mask_label``
    records: list[LesionRecord] = field(default_factory=list)
    #: series choices and SUV overrides for a PET or CT given as a DICOM folder
    dicom: DicomOptions = field(default_factory=DicomOptions)

    @classmethod
    def from_files(
        cls,
        pet: str | os.PathLike,
        *,
        ct: str | os.PathLike | None = None,
        lesions: str | os.PathLike | None = None,
        boxes: str | os.PathLike | None = None,
        case_id: str | None = None,
        dicom: DicomOptions | None = None,
    ) -> CaseInput:
        """A single case: ``lesions`` (a mask) or ``boxes`` (a CSV), exactly one of them.
        ``pet`` and ``ct`` may be folders of DICOM files (``dicom``: their options)."""
        from anatloc.ontology.errors import UsageError

        if (lesions is None) == (boxes is None):
            raise UsageError(
                "give the lesions as exactly one of a mask (--lesions MASK.nii.gz) or boxes "
                "(--boxes boxes.csv)"
            )
        pet_p = image_path(pet, "pet")
        ct_p = image_path(ct, "ct") if ct is not None else None
        opts = dicom or DicomOptions()
        _check_dicom_options(opts, pet_p, ct_p)
        cid = case_id or case_id_for(pet_p)
        if opts.rois and (lesions is None or not is_dicom_file(Path(lesions))):
            raise UsageError(
                "--roi picks segments or ROIs of a DICOM SEG or RTSTRUCT given with --lesions"
            )
        if lesions is not None:
            return cls(cid, pet_p, ct_p, mask=existing_file(lesions, "mask"), dicom=opts)
        return cls(cid, pet_p, ct_p, records=read_boxes(boxes, cid, pet_p, ct_p), dicom=opts)


def image_path(path: str | os.PathLike, kind: str) -> Path:
    """A PET or CT: a NIfTI file, or a folder that holds DICOM files (read later)."""
    p = Path(path).expanduser()
    return check_folder(p, kind) if p.is_dir() else existing_file(p, kind)


def _check_dicom_options(opts: DicomOptions, pet: Path, ct: Path | None) -> None:
    """The DICOM options apply to DICOM folders only: refused for a NIfTI file."""
    from anatloc.ontology.errors import UsageError

    pet_opts = [n for n in opts.given() if n not in ("--ct-series", "--roi")]
    if pet_opts and not pet.is_dir():
        raise UsageError(
            f"{', '.join(pet_opts)} appl{'y' if len(pet_opts) > 1 else 'ies'} to a PET given as "
            f"a DICOM folder; {pet} is a NIfTI file (its values are read as SUV)"
        )
    if opts.ct_series and (ct is None or not ct.is_dir()):
        raise UsageError("--ct-series applies to a CT given as a DICOM folder (--ct DIR)")


def cases_from_table(path: str | os.PathLike, ont=None) -> list[CaseInput]:
    """The cases of a lesion table (``docs/retriever.md``), lesions grouped by their images."""
    from .data import group_by_case
    from .table import read_lesion_table

    records = read_lesion_table(path, ont)
    cases = []
    for idx in group_by_case(records).values():
        recs = [records[i] for i in idx]
        r0 = recs[0]
        cases.append(CaseInput(r0.case_id, r0.pet, r0.ct, mask=r0.mask, records=recs))
    return cases


def _load_pet(path: Path) -> tuple[Volume, list[str]]:
    """The PET as a float32 volume; a PET in Bq/ml gives a warning line, not an exception."""
    import logging

    from .nifti import PetUnitWarning

    logger = logging.getLogger("anatloc.retriever.nifti")
    level = logger.level
    logger.setLevel(logging.ERROR)  # the warning is returned, not logged a second time
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PetUnitWarning)
            vol = load_volume(path, "pet")
    finally:
        logger.setLevel(level)
    msgs = [str(w.message) for w in caught if issubclass(w.category, PetUnitWarning)]
    for w in caught:
        if not issubclass(w.category, PetUnitWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return vol, msgs


def _load_ct_crop(path: Path, centers: np.ndarray, half_mm: float) -> Volume:
    """The CT over the union of the boxes ``centers ± half_mm`` (two voxels more), read by
    slicing the array proxy: a 512×512×1000 CT is never converted to float32 as a whole.
    Patches cut from the crop equal those cut from the whole image."""
    img = open_nifti(path, "ct", keep_open=True)  # slab after slab: one gzip stream
    affine = np.asarray(img.affine, dtype=np.float64)
    shape = np.array(img.shape[:3])
    lo = centers.min(0) - half_mm
    hi = centers.max(0) + half_mm
    corners = np.array(
        [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    )
    v = apply_affine(np.linalg.inv(affine), corners)
    a = np.clip(np.floor(v.min(0)).astype(int) - 2, 0, shape - 1)
    b = np.clip(np.ceil(v.max(0)).astype(int) + 3, a + 1, shape)
    slices = tuple(slice(int(i), int(j)) for i, j in zip(a, b, strict=True))
    data = read_block(img, slices, path, "ct", np.float32)  # type: ignore[arg-type]
    shift = np.eye(4)
    shift[:3, 3] = a
    vol = make_volume(data, affine @ shift, path, kind="ct")
    return vol


def _records_for_mask(
    case: CaseInput,
    lesions: list[MaskLesion],
    mode: str,
    names: dict[int, str] | None = None,
    name_column: str = "",
) -> list[LesionRecord]:
    recs = []
    for les in lesions:
        pts = les.points()
        c = pts.mean(0)
        ext = pts.max(0) - pts.min(0) + np.abs(les.affine[:3, :3]).sum(axis=1)
        lesion_id = f"{case.case_id}:{les.label}"
        row = {
            "case_id": case.case_id,
            "lesion_id": lesion_id,
            "pet": str(case.pet),
            "ct": str(case.ct) if case.ct is not None else "",
            "mask": str(case.mask),
            "mask_label": str(les.label) if mode == "instance" else "",
            "component": str(les.label) if mode == "components" else "",
        }
        if names:  # an RTSTRUCT's ROI name, a SEG's segment label
            row[name_column] = names.get(les.label, "")
        row.update({k: f"{v:.1f}" for k, v in zip(CENTER, c, strict=True)})
        row.update({k: f"{v:.1f}" for k, v in zip(SIZE, ext, strict=True)})
        recs.append(
            LesionRecord(
                lesion_id=lesion_id,
                case_id=case.case_id,
                pet=case.pet,
                ct=case.ct,
                mask=case.mask,
                mask_label=les.label,
                row=row,
                source=f"{case.mask} lesion {les.label}",
            )
        )
    return recs


def _read_dicom_images(case: CaseInput) -> tuple[DicomImage | None, DicomImage | None]:
    """The case's PET (in SUV) and CT when they are DICOM folders; one patient's."""
    opts = case.dicom
    pet = (
        read_dicom(case.pet, "pet", series_uid=opts.pet_series, suv=opts.suv)
        if case.pet.is_dir()
        else None
    )
    ct = None
    if case.ct is not None and case.ct.is_dir():
        ct = read_dicom(case.ct, "ct", series_uid=opts.ct_series)
        if pet is not None:
            same_patient(pet, ct)
    return pet, ct


# -- a case, read -----------------------------------------------------------------------------


@dataclass
class LoadedImages:
    """A case's PET (read) and the grids of its PET and CT (the CT read only when a DICOM
    folder: a NIfTI CT is read later, where the patches reach, by :func:`read_ct`)."""

    pet: Volume
    pet_grid: Grid
    ct_grid: Grid | None = None
    #: the DICOM series read, when the PET or the CT is a DICOM folder
    pet_dicom: DicomImage | None = None
    ct_dicom: DicomImage | None = None
    #: what reading the PET warned of (a PET in Bq/ml), for the caller to show
    warnings: list[str] = field(default_factory=list)

    def columns(self) -> dict[str, Any]:
        """The columns the images add to each prediction (DICOM: series UID, SUV factors)."""
        return {
            **(self.pet_dicom.columns("pet") if self.pet_dicom is not None else {}),
            **(self.ct_dicom.columns("ct") if self.ct_dicom is not None else {}),
        }

    def series(self) -> dict[str, str]:
        """The DICOM series UIDs given (``pet``, ``ct``): a SEG or RTSTRUCT must refer to one."""
        return {
            k: img.series.uid
            for k, img in (("pet", self.pet_dicom), ("ct", self.ct_dicom))
            if img is not None
        }


def read_images(case: CaseInput) -> LoadedImages:
    """The case's PET and the CT's header (a DICOM CT: the CT); they must overlap."""
    pet_dicom, ct_dicom = _read_dicom_images(case)
    if pet_dicom is not None:
        pet, warn = pet_dicom.volume, []
    else:
        pet, warn = _load_pet(case.pet)
    images = LoadedImages(
        pet, Grid(pet.shape, pet.affine, f"pet image {case.pet}"), None, pet_dicom, ct_dicom, warn
    )
    if ct_dicom is not None:
        vol = ct_dicom.volume
        images.ct_grid = Grid(vol.shape, vol.affine, f"ct image {case.ct}")
    elif case.ct is not None:  # the CT's header
        ct_img = open_nifti(case.ct, "ct", keep_open=True)
        images.ct_grid = Grid(ct_img.shape[:3], np.asarray(ct_img.affine), f"ct image {case.ct}")
        del ct_img
    if images.ct_grid is not None:
        check_overlap(images.pet_grid, images.ct_grid)
    return images


@dataclass
class CaseLesions:
    """The lesions of a case: the mask lesions with their records, then the boxes."""

    mask_lesions: list[MaskLesion]
    mask_recs: list[LesionRecord]
    box_recs: list[LesionRecord]
    #: how the mask was read: "instance", "components", or "" (boxes only)
    mode: str = ""

    @property
    def records(self) -> list[LesionRecord]:
        return self.mask_recs + self.box_recs

    def centers(self) -> np.ndarray:
        """(N, 3) world centres, in :attr:`records` order (a mask lesion's: its voxels' mean,
        unless its record gives one)."""
        return np.array(
            [
                r.center if r.center is not None else les.points().mean(0)
                for r, les in zip(self.mask_recs, self.mask_lesions, strict=True)
            ]
            + [r.center for r in self.box_recs],
            dtype=np.float64,
        ).reshape(-1, 3)


def read_lesions(case: CaseInput, images: LoadedImages) -> CaseLesions:
    """The case's lesions: its boxes, and its mask's lesions (every lesion of the mask, or
    those its records name); each must lie in the PET."""
    box_recs = [r for r in case.records if r.mask_label is None]
    mask_recs = [r for r in case.records if r.mask_label is not None]
    lesions = CaseLesions([], mask_recs, box_recs)
    if case.mask is not None and (mask_recs or not case.records):
        labels = [r.mask_label for r in mask_recs] if mask_recs else None
        found, lesions.mode, names, name_column = _mask_lesions(case, images, labels)  # type: ignore[arg-type]
        if mask_recs:
            by_label = {les.label: les for les in found}
            for r in mask_recs:
                if r.mask_label not in by_label:
                    raise DataError(
                        f"{r.source}: lesion id {r.mask_label} (column 'mask_label') does not "
                        f"occur in the mask {case.mask}"
                    )
            lesions.mask_lesions = [by_label[r.mask_label] for r in mask_recs]  # type: ignore[index]
        else:
            lesions.mask_lesions = found
            lesions.mask_recs = _records_for_mask(case, found, lesions.mode, names, name_column)
    if not lesions.records:
        raise DataError(f"case {case.case_id}: no lesions to predict")
    check_centers(images.pet_grid, lesions.centers(), lesions.records)
    return lesions


def _mask_lesions(
    case: CaseInput, images: LoadedImages, labels: Sequence[int] | None
) -> tuple[list[MaskLesion], str, dict[int, str], str]:
    """The lesions of the case's mask, a DICOM SEG or an RTSTRUCT; how the mask was read;
    the SEG's segment labels or the RTSTRUCT's ROI names and the column that shows them."""
    mask, rois = case.mask, case.dicom.rois
    assert mask is not None
    if is_dicom_file(mask) and dicom_modality(mask) == "SEG":
        found, names = seg_lesions(
            mask, rois, labels, images.series(), images.pet_grid, images.ct_grid
        )
        return found, "instance", names, "segment_label"
    if is_dicom_file(mask):  # an RTSTRUCT, rasterised on the PET grid
        found, names = rtstruct_lesions(mask, rois, images.pet, labels, images.series())
        return found, "instance", names, "roi_name"
    m_img = open_nifti(mask, "mask", keep_open=True)
    grid = Grid(m_img.shape[:3], np.asarray(m_img.affine), f"mask image {mask}")
    del m_img
    check_mask_grid(grid, images.pet_grid, images.ct_grid)
    found, mode = read_mask(mask, labels)
    return found, mode, {}, ""


def read_ct(
    case: CaseInput, images: LoadedImages, centers: np.ndarray, half_mm: float
) -> Volume | None:
    """The CT where patches around ``centers`` reach (``half_mm``): a DICOM CT is already in
    memory (patches cut from it equal a crop's); a NIfTI CT is read over that box only."""
    if images.ct_dicom is not None:
        return images.ct_dicom.volume
    if case.ct is not None:
        return _load_ct_crop(case.ct, centers, half_mm)
    return None
