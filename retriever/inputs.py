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
  (:class:`MaskLesion`), and its patches are cut from a float32 crop of that box (the other
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
from .nifti import (
    Grid,
    Volume,
    check_centers,
    check_gzip_stream,
    check_mask_grid,
    check_overlap,
    existing_file,
    load_volume,
    make_volume,
    open_nifti,
    read_data,
)
from .table import CENTER, SIZE, LesionRecord, read_boxes

#: PET file names that say nothing about the case: the case id is then the folder's name
GENERIC_NAMES = {"pet", "suv", "pet_suv", "suv_pet", "image", "img"}
#: mask values in a binary mask: a single distinct non-zero value
_STRUCTURE_26 = np.ones((3, 3, 3), dtype=bool)


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


# -- the mask -------------------------------------------------------------------------------


@dataclass
class MaskLesion:
    """One lesion of a mask: its bounding box in the mask's voxels and its voxels there."""

    label: int  # the id used for the patch (the instance id, or the component number)
    start: np.ndarray  # (3,) first voxel index of the box
    sub: np.ndarray  # bool, the box's voxels that belong to the lesion
    affine: np.ndarray  # the mask's affine

    @property
    def n_voxels(self) -> int:
        return int(self.sub.sum())

    def voxel_indices(self) -> np.ndarray:
        return np.argwhere(self.sub) + self.start

    def points(self) -> np.ndarray:
        """World points (N, 3) of the lesion's voxel centres."""
        return apply_affine(self.affine, self.voxel_indices().astype(np.float64))

    def crop(self) -> Volume:
        """A float32 volume of the box (one voxel larger on every side) holding only this
        lesion, with value ``label`` — what the network's target-lesion channel reads."""
        data = np.zeros(tuple(s + 2 for s in self.sub.shape), dtype=np.float32, order="F")
        data[1:-1, 1:-1, 1:-1][self.sub] = float(self.label)
        shift = np.eye(4)
        shift[:3, 3] = self.start - 1
        return Volume(data, self.affine @ shift, None)

    @property
    def spacing(self) -> np.ndarray:
        return np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0))


def _open_nifti(path: Path, kind: str):
    """The image's header, checked (:func:`.nifti.open_nifti`); one open file for the whole
    read: slab after slab continues a gzip stream instead of decompressing it again."""
    return open_nifti(path, kind, keep_open=True)


def _read_block(
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


#: the largest lesion id a mask may hold
_MAX_ID = 2**31 - 1


def _find_objects(lab_arr: np.ndarray, wanted: Sequence[int]) -> dict[int, tuple[slice, ...]]:
    """The bounding boxes of the ids ``wanted`` that occur in ``lab_arr``; large, sparse ids
    (a table's id 10⁹) are numbered 1…n first, so memory follows the number of lesions."""
    from scipy import ndimage

    top = max(wanted)
    if top <= 4 * len(wanted) + 65536:
        objs = ndimage.find_objects(lab_arr, max_label=top)
        return {lab: objs[lab - 1] for lab in wanted if 0 < lab <= len(objs) and objs[lab - 1]}
    ids = np.asarray(sorted(set(wanted)), dtype=np.int64)
    compact = np.zeros(lab_arr.shape, dtype=np.int32)
    hit = np.isin(lab_arr, ids)
    compact[hit] = np.searchsorted(ids, lab_arr[hit]) + 1
    objs = ndimage.find_objects(compact, max_label=len(ids))
    return {int(lab): objs[i] for i, lab in enumerate(ids) if objs[i]}


def read_mask(
    path: Path, labels: Sequence[int] | None = None, img=None
) -> tuple[list[MaskLesion], str]:
    """The lesions of a mask and how it was read ("instance" or "components").

    ``labels`` (from a lesion table): exactly these instance ids.  ``None``: every lesion —
    a mask with a single distinct non-zero value is binary and is split into connected
    components (26-connectivity), numbered head to toe; otherwise each id is a lesion.
    ``img``: the mask already in memory (a DICOM SEG's label volume); ``path`` names it.
    """
    from scipy import ndimage

    if img is None:
        img = _open_nifti(path, "mask")
        check_gzip_stream(path, "mask")  # a mask compresses well: checking it is cheap
    full = tuple(slice(0, n) for n in img.shape[:3])
    data = _read_block(img, full, path, "mask")  # stored type: no float32 copy of a mask
    affine = np.asarray(img.affine, dtype=np.float64)
    nz = data != 0
    axes_any = [
        np.flatnonzero(nz.any(axis=tuple(a for a in range(3) if a != ax))) for ax in range(3)
    ]
    if any(len(a) == 0 for a in axes_any):
        raise DataError(
            f"mask image {path} is empty: no voxel is non-zero, so there is no lesion to locate"
        )
    box = tuple(slice(int(a[0]), int(a[-1]) + 1) for a in axes_any)
    start = np.array([s.start for s in box])
    sub = data[box]
    nzb = nz[box]
    del nz
    vals = sub[nzb]
    if vals.dtype.kind == "f":
        if not np.all(np.isfinite(vals)):
            raise DataError(
                f"mask image {path}: NaN or infinite values; expected lesion ids (0 background)"
            )
        if not np.all(vals == np.round(vals)):
            raise DataError(
                f"mask image {path}: non-integer values; expected an instance mask "
                "(0 background, 1, 2, … one id per lesion) or a binary mask"
            )
    if vals.min() < 0:
        raise DataError(f"mask image {path}: negative values; expected ids ≥ 0")
    if vals.max() > _MAX_ID:
        raise DataError(
            f"mask image {path}: lesion id {vals.max():.0f} is too large; expected an instance "
            f"mask (0 background, 1, 2, … one id per lesion, at most {_MAX_ID})"
        )
    ids = np.unique(vals).astype(np.int64)
    del vals
    if labels is None and len(ids) == 1:
        comp, n = ndimage.label(nzb, structure=_STRUCTURE_26)
        mode, lab_arr, wanted = "components", comp, list(range(1, n + 1))
    else:
        mode = "instance"
        lab_arr = np.rint(sub).astype(np.int64) if sub.dtype.kind == "f" else sub
        wanted = [int(v) for v in ids] if labels is None else sorted({int(v) for v in labels})
    if lab_arr.dtype.kind == "b" or (lab_arr.dtype.kind == "u" and lab_arr.dtype.itemsize >= 8):
        lab_arr = lab_arr.astype(np.uint8 if lab_arr.dtype.kind == "b" else np.int64)
    objects = _find_objects(lab_arr, wanted)
    lesions = []
    for lab in wanted:
        sl = objects.get(lab)
        if sl is None:
            continue  # a table's id that is absent: the caller names the row
        m = np.asarray(lab_arr[sl] == lab)
        lesions.append(MaskLesion(lab, start + np.array([s.start for s in sl]), m, affine))
    if mode == "components":
        # head to toe, then the patient's right first: the order a report follows
        centres = [les.points().mean(axis=0) for les in lesions]
        order = sorted(range(len(lesions)), key=lambda i: (-centres[i][2], -centres[i][0]))
        lesions = [
            MaskLesion(k + 1, lesions[i].start, lesions[i].sub, lesions[i].affine)
            for k, i in enumerate(order)
        ]
    return lesions, mode


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
    img = _open_nifti(path, "ct")
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
    data = _read_block(img, slices, path, "ct", np.float32)  # type: ignore[arg-type]
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


def _rtstruct_lesions(
    mask: Path,
    rois: Sequence[str],
    pet: Volume,
    labels: Sequence[int] | None,
    given: dict[str, str],
) -> tuple[list[MaskLesion], dict[int, str]]:
    """The ROIs of the case's RTSTRUCT as mask lesions on the PET grid (label: ROI number),
    and their names; the structure set must reference the PET or CT series given."""
    from .rtstruct import check_reference, read_rtstruct, referenced_series, roi_masks

    ds = read_rtstruct(mask)
    check_reference(referenced_series(ds), mask, given, "RTSTRUCT")
    found = roi_masks(ds, mask, pet, names=rois, numbers=labels)
    lesions = [MaskLesion(r.number, r.start, r.sub, pet.affine) for r in found]
    return lesions, {r.number: r.name for r in found}


def _seg_lesions(
    mask: Path,
    names: Sequence[str],
    labels: Sequence[int] | None,
    given: dict[str, str],
    pet_grid: Grid,
    ct_grid: Grid | None,
) -> tuple[list[MaskLesion], dict[int, str]]:
    """The segments of a DICOM SEG as mask lesions (label: segment number) and their labels;
    the SEG must reference the PET or CT series given; ``names`` (``--roi``) picks segments
    by label."""
    from anatloc.ontology.errors import UsageError

    from .rtstruct import check_reference
    from .seg import read_seg

    img, seg_labels, refs = read_seg(mask)
    check_reference(refs, mask, given, "SEG")
    check_mask_grid(Grid(img.shape[:3], np.asarray(img.affine), f"mask {mask}"), pet_grid, ct_grid)
    wanted = list(labels) if labels is not None else sorted(seg_labels)
    if names:
        unknown = [n for n in names if n not in seg_labels.values()]
        if unknown:
            have = ", ".join(repr(v) for v in seg_labels.values())
            raise UsageError(f"--roi {unknown[0]!r}: no such segment in {mask} (it has {have})")
        wanted = [n for n in wanted if seg_labels.get(n) in names]
    lesions, _ = read_mask(mask, wanted, img=img)
    return lesions, seg_labels


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
        ct_img = _open_nifti(case.ct, "ct")
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
        found, names = _seg_lesions(
            mask, rois, labels, images.series(), images.pet_grid, images.ct_grid
        )
        return found, "instance", names, "segment_label"
    if is_dicom_file(mask):  # an RTSTRUCT, rasterised on the PET grid
        found, names = _rtstruct_lesions(mask, rois, images.pet, labels, images.series())
        return found, "instance", names, "roi_name"
    m_img = _open_nifti(mask, "mask")
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
