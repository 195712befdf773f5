"""The main job: from a case's images and its lesions to report-ready predictions.

>>> from anatloc.retriever.infer import Localizer
>>> from anatloc.retriever.predict import CaseInput, predict_cases
>>> loc = Localizer.from_checkpoint(shipped_model_path())              # doctest: +SKIP
>>> case = CaseInput.from_files("pet.nii.gz", ct="ct.nii.gz", lesions="mask.nii.gz")
>>> [r.as_row()["sentence"] for r in predict_cases(loc, [case])[0].lesions]  # doctest: +SKIP
['Intensely FDG-avid lesion in liver segment S7, SUVmax 8.3, 2.1 × 1.6 cm, 4.20 ml.']

Inputs of a case (:class:`CaseInput`): a PET in SUV, an optional CT on any grid, and the
lesions as a **mask** (an instance mask: 0 background, one id per lesion; or a binary mask —
a single non-zero value, as autoPET ships it — split into connected components with
26-connectivity and numbered head to toe), as **boxes** (a CSV of centres and sizes in
world mm, RAS), or as rows of a **lesion table** (:func:`cases_from_table`, many cases).

Everything happens in world space (RAS mm, from each NIfTI's affine), so images on different
grids and in any orientation work together.  The PET and the CT may also be folders of DICOM
files (:mod:`.dicom`: the PET is converted to SUV from its headers, the CT is read whole) and
the lesions a DICOM SEG (:mod:`.seg`: each segment a lesion) or RTSTRUCT (:mod:`.rtstruct`:
each ROI rasterised on the PET grid).  Memory stays small for large images:

* the mask is read once in its stored integer type; each lesion keeps only its bounding box,
  and its patches are cut from a float32 crop of that box (the other lesions are not in it,
  exactly as the network's target-lesion channel wants);
* the CT is read only over the union of the lesions' patch extents (nibabel array-proxy
  slicing), never converted to float32 as a whole;
* the PET is read once (it is small) and projected for the MIP picture while in memory.

The network runs batched through :meth:`Localizer.retrieve_patches`; the patches are the
ones :meth:`Localizer.predict` cuts for the same lesions (tested), so predictions agree with
``anatloc evaluate``.

Lesion facts, from the PET in world space:

``suv_max`` / ``suv_mean``  over the PET voxels whose centre lies in the lesion (the mask
                            resampled onto the PET grid by nearest neighbour; a box's
                            inscribed ellipsoid); a lesion smaller than a PET voxel uses the
                            PET voxels that hold its mask voxels' centres (a box: its centre)
``volume_ml``               mask voxels × voxel volume (a box: its ellipsoid, π/6·x·y·z)
``long_axis_mm``            the longest axial diameter, as RECIST measures: in the axial slice
                            where it is longest, the largest distance between two voxel
                            centres plus one voxel's width along that line (a box: its larger
                            side in x and y)
``short_axis_mm``           the lesion's width perpendicular to that diameter in the same slice
                            (a box: its smaller side in x and y)
``max_3d_extent_mm``        the old figure, kept under a clear name: the largest distance
                            between two corners of the lesion's voxels in 3D (a box: its largest
                            side); it overstates small lesions
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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
from .table import CENTER, SIZE, LesionRecord, _err, _float
from .uptake import TYPICAL_REFERENCE, Reference, shown

#: columns every prediction row ends with, after the lesion's own columns
RESULT_COLUMNS = (
    "location",
    "curie",
    "coarse",
    "coarse_curie",
    "region",
    "score",
    "top3",
    "abstained",
    "sentence",
    "suv_max",
    "suv_mean",
    "volume_ml",
    "long_axis_mm",
    "short_axis_mm",
    "max_3d_extent_mm",
    "pet_only",
)
#: PET file names that say nothing about the case: the case id is then the folder's name
GENERIC_NAMES = {"pet", "suv", "pet_suv", "suv_pet", "image", "img"}
#: mask values in a binary mask: a single distinct non-zero value
_STRUCTURE_26 = np.ones((3, 3, 3), dtype=bool)


def shipped_model_path() -> Path:
    """The checkpoint shipped with anatloc (``retriever/models/default.pt``)."""
    from importlib import resources

    return Path(str(resources.files("anatloc.retriever") / "models" / "default.pt"))


def model_path(model: str | os.PathLike | None) -> Path:
    """``model``, or the shipped model — with a clear error when none is shipped."""
    if model is not None:
        return Path(model)
    path = shipped_model_path()
    if not path.is_file():
        raise DataError(
            "no default model is shipped: train one with 'anatloc train --phantom internal "
            "--out model.pt' (or on your lesion table with --data) and pass --model model.pt"
        )
    return path


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


# -- inputs ---------------------------------------------------------------------------------


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


def read_boxes(
    path: str | os.PathLike, case_id: str, pet: Path, ct: Path | None = None
) -> list[LesionRecord]:
    """Box lesions from a CSV with ``center_x,center_y,center_z,size_x,size_y,size_z`` (world
    mm, RAS) and an optional ``lesion_id``; other columns are echoed into the predictions."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"boxes file {p} does not exist") from None
    except IsADirectoryError:
        raise DataError(f"boxes file {p} is a folder; expected a CSV file") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{p}: not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV") from None
    except OSError as exc:
        raise DataError(f"cannot read boxes file {p}: {exc.strerror}") from None
    need = ", ".join((*CENTER, *SIZE))
    if not text.strip():
        raise DataError(f"{p} is empty; expected a header line with the columns {need}")
    reader = csv.DictReader(io.StringIO(text), delimiter="\t" if p.suffix == ".tsv" else ",")
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise DataError(f"{p} line 1: {exc}") from None
    reader.fieldnames = header
    missing = [c for c in (*CENTER, *SIZE) if c not in header]
    if missing:
        raise DataError(
            f"{p}: missing column(s) {', '.join(missing)}; a boxes file has the columns {need} "
            "(world mm, RAS) and optionally lesion_id"
        )
    records: list[LesionRecord] = []
    seen: dict[str, int] = {}
    try:
        for n, row in enumerate(reader, start=1):
            line = reader.line_num
            if None in row:
                raise _err(
                    p,
                    line,
                    None,
                    f"{len(header) + len(row[None])} fields, the header has {len(header)}",
                )
            cells = {k: (v or "").strip() for k, v in row.items() if k}
            if not any(cells.values()):
                continue
            for c in (*CENTER, *SIZE):
                if not cells.get(c):
                    raise _err(p, line, c, "empty; a box needs all of center_x/y/z and size_x/y/z")
            center = tuple(_float(p, line, c, cells[c]) for c in CENTER)
            size = tuple(_float(p, line, c, cells[c]) for c in SIZE)
            for c, v in zip(SIZE, size, strict=True):
                if v <= 0:
                    raise _err(p, line, c, f"{cells[c]!r}: a size must be positive (mm)")
            lesion_id = cells.get("lesion_id") or f"{case_id}:{n}"
            if lesion_id in seen:
                raise _err(
                    p,
                    line,
                    "lesion_id",
                    f"duplicate lesion id {lesion_id!r} (first on line {seen[lesion_id]})",
                )
            seen[lesion_id] = line
            cols = {"case_id": case_id, "lesion_id": lesion_id, "pet": str(pet)}
            cols["ct"] = str(ct) if ct is not None else ""
            cols.update({k: row.get(k) or "" for k in header if k and k not in cols})
            records.append(
                LesionRecord(
                    lesion_id=lesion_id,
                    case_id=case_id,
                    pet=pet,
                    ct=ct,
                    center=center,  # type: ignore[arg-type]
                    size=size,  # type: ignore[arg-type]
                    row=cols,
                    source=f"{p}:{line}",
                    line=line,
                )
            )
    except csv.Error as exc:
        raise DataError(f"{p} line {reader.line_num}: malformed CSV ({exc})") from None
    if not records:
        raise DataError(f"{p} has a header but no boxes")
    return records


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
        ijk = self.voxel_indices().astype(np.float64)
        return ijk @ self.affine[:3, :3].T + self.affine[:3, 3]

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


# -- lesion facts ---------------------------------------------------------------------------


@dataclass
class LesionFacts:
    """What a report says about a lesion besides its location."""

    suv_max: float
    suv_mean: float
    volume_ml: float
    long_axis_mm: float  # longest axial diameter (RECIST)
    short_axis_mm: float  # axial width perpendicular to it
    max_3d_extent_mm: float  # largest corner-to-corner distance in 3D

    def as_dict(self) -> dict[str, float | None]:
        """The columns: SUVs to 0.01, volume to 0.001 ml, lengths to whole mm (so that the
        cm the report prints, :func:`.uptake.shown`, are exactly these mm / 10)."""

        def r(v: float, n: int | None) -> float | None:
            return None if not math.isfinite(v) else round(float(v), n)

        return {
            "suv_max": r(self.suv_max, 2),
            "suv_mean": r(self.suv_mean, 2),
            "volume_ml": r(self.volume_ml, 3),
            "long_axis_mm": r(self.long_axis_mm, None),
            "short_axis_mm": r(self.short_axis_mm, None),
            "max_3d_extent_mm": r(self.max_3d_extent_mm, None),
        }


def _pet_box(pet: Volume, lo: np.ndarray, hi: np.ndarray) -> tuple[slice, slice, slice] | None:
    """PET voxel index slices covering the world box [lo, hi] (None when outside)."""
    corners = np.array(
        [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    )
    v = pet.world_to_voxel(corners)
    a = np.maximum(np.floor(v.min(0)).astype(int) - 1, 0)
    b = np.minimum(np.ceil(v.max(0)).astype(int) + 2, np.array(pet.shape))
    if np.any(b <= a):
        return None
    return tuple(slice(int(i), int(j)) for i, j in zip(a, b, strict=True))  # type: ignore[return-value]


def _pet_centres(pet: Volume, box: tuple[slice, slice, slice]) -> tuple[np.ndarray, np.ndarray]:
    """(indices (N, 3), world centres (N, 3)) of the PET voxels of ``box``."""
    ijk = np.stack(
        np.meshgrid(*[np.arange(s.start, s.stop) for s in box], indexing="ij"), -1
    ).reshape(-1, 3)
    return ijk, pet.voxel_to_world(ijk.astype(np.float64))


def _suv(pet: Volume, idx: np.ndarray) -> tuple[float, float]:
    if len(idx) == 0:
        return math.nan, math.nan
    vals = pet.data[idx[:, 0], idx[:, 1], idx[:, 2]]
    return float(vals.max()), float(vals.mean())


def _nearest_pet(pet: Volume, points: np.ndarray) -> np.ndarray:
    v = np.rint(pet.world_to_voxel(points)).astype(np.int64)
    inside = np.all((v >= 0) & (v < np.array(pet.shape)), axis=1)
    return np.unique(v[inside], axis=0)


def feret_diameter(les: MaskLesion) -> float:
    """The largest distance (mm) between two corners of the lesion's voxels."""
    from scipy import ndimage
    from scipy.spatial import ConvexHull
    from scipy.spatial.distance import cdist

    surface = les.sub & ~ndimage.binary_erosion(les.sub)
    ijk = np.argwhere(surface).astype(np.float64) + les.start
    signs = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)])
    corners = (ijk[:, None, :] + signs[None]).reshape(-1, 3)
    pts = corners @ les.affine[:3, :3].T + les.affine[:3, 3]
    try:
        pts = pts[ConvexHull(pts).vertices]
    except Exception:  # qhull on degenerate input: keep all points (few)
        pts = np.unique(pts, axis=0)
    best = 0.0
    for s0 in range(0, len(pts), 256):  # (256, m) distances at a time
        best = max(best, float(cdist(pts[s0 : s0 + 256], pts, "sqeuclidean").max()))
    return math.sqrt(best)


def axial_diameters(les: MaskLesion) -> tuple[float, float]:
    """(longest axial diameter, the width perpendicular to it) in mm (module docstring).

    Axial slices are those of the mask's voxel axis closest to the world's z axis; lengths
    are measured in world x and y between voxel centres, plus one voxel's width along the
    line, so that a digitised disc of diameter d measures about d.
    """
    from scipy.spatial import ConvexHull

    a = les.affine[:3, :3]
    k = int(np.argmax(np.abs(a[2]) / np.linalg.norm(a, axis=0)))
    inplane = [j for j in range(3) if j != k]
    cols = a[:2, inplane]  # world xy of one voxel step along the two in-plane axes
    ijk = np.argwhere(les.sub)
    xy = (ijk.astype(np.float64) + les.start) @ a[:2].T
    best = (0.0, 0.0)
    for s in np.unique(ijk[:, k]):
        pts = np.unique(xy[ijk[:, k] == s], axis=0)
        if len(pts) > 3:
            try:
                pts = pts[ConvexHull(pts).vertices]
            except Exception:  # collinear points: keep them all
                pass
        d = pts[:, None, :] - pts[None, :, :]
        dist = np.sqrt((d**2).sum(-1))
        i, j = np.unravel_index(int(np.argmax(dist)), dist.shape)
        u = d[i, j] / dist[i, j] if dist[i, j] > 0 else np.array([1.0, 0.0])
        v = np.array([-u[1], u[0]])
        long = float(dist[i, j] + np.abs(u @ cols).sum())
        proj = pts @ v
        short = float(proj.max() - proj.min() + np.abs(v @ cols).sum())
        if long > best[0]:
            best = (long, short)
    return best


def mask_facts(pet: Volume, les: MaskLesion) -> LesionFacts:
    """SUV over the PET voxels whose centre falls in the lesion; volume; Feret diameter."""
    pts = les.points()
    half = les.spacing.max()
    box = _pet_box(pet, pts.min(0) - half, pts.max(0) + half)
    idx = np.zeros((0, 3), np.int64)
    if box is not None:
        ijk, world = _pet_centres(pet, box)
        mv = (
            np.rint((world - les.affine[:3, 3]) @ np.linalg.inv(les.affine[:3, :3]).T).astype(
                np.int64
            )
            - les.start
        )
        ok = np.all((mv >= 0) & (mv < np.array(les.sub.shape)), axis=1)
        hit = np.zeros(len(mv), dtype=bool)
        hit[ok] = les.sub[mv[ok, 0], mv[ok, 1], mv[ok, 2]]
        idx = ijk[hit]
    if len(idx) == 0:  # smaller than a PET voxel: the voxels that hold its centres
        idx = _nearest_pet(pet, pts)
    smax, smean = _suv(pet, idx)
    vol = les.n_voxels * abs(float(np.linalg.det(les.affine[:3, :3]))) / 1000.0
    long, short = axial_diameters(les)
    return LesionFacts(smax, smean, vol, long, short, feret_diameter(les))


def box_facts(pet: Volume, center: Sequence[float], size: Sequence[float]) -> LesionFacts:
    """SUV inside a box's inscribed ellipsoid; its volume; its sides in x and y (larger,
    smaller); its largest side."""
    c = np.asarray(center, dtype=np.float64)
    r = np.asarray(size, dtype=np.float64) / 2.0
    box = _pet_box(pet, c - r, c + r)
    idx = np.zeros((0, 3), np.int64)
    if box is not None:
        ijk, world = _pet_centres(pet, box)
        idx = ijk[(((world - c) / r) ** 2).sum(1) <= 1.0]
    if len(idx) == 0:
        idx = _nearest_pet(pet, c[None])
    smax, smean = _suv(pet, idx)
    vol = math.pi / 6.0 * float(np.prod(size)) / 1000.0
    axial = sorted((float(size[0]), float(size[1])), reverse=True)
    return LesionFacts(smax, smean, vol, axial[0], axial[1], float(max(size)))


# -- results --------------------------------------------------------------------------------


@dataclass
class LesionResult:
    """One lesion's prediction, facts and sentence."""

    number: str  # shown in the picture and the tables
    prediction: Any  # infer.Prediction
    facts: LesionFacts
    sentence: str
    pet_only: bool
    #: outlines for the picture (view name → phantom.mip.Outline)
    outlines: dict[str, Any] = field(default_factory=dict, repr=False)
    #: columns about the images: a DICOM series' UID and how its SUV was made (none for NIfTI)
    images: dict[str, Any] = field(default_factory=dict)

    def as_row(self) -> dict[str, Any]:
        """The lesion's columns, the prediction columns, the sentence and the facts, then
        what the images add (DICOM input only)."""
        row = self.prediction.as_row()
        row["sentence"] = self.sentence
        row.update(self.facts.as_dict())
        row["pet_only"] = self.pet_only
        row.update(self.images)
        return row

    def as_json(self) -> dict[str, Any]:
        """:meth:`as_row` with typed values: numbers for the lesion's coordinates and ids,
        ``top3`` (and ``top3_curies``) as lists."""
        row = self.as_row()
        for k in (*CENTER, *SIZE, "mask_label", "component"):
            v = row.get(k)
            if isinstance(v, str):
                try:
                    row[k] = int(v) if k in ("mask_label", "component") else float(v)
                except ValueError:
                    row[k] = None
        row["top3"] = list(self.prediction.top3)
        row["top3_curies"] = list(self.prediction.top3_curies)
        return row


@dataclass
class CaseResult:
    """The predictions of one case, what the MIP picture needs, and what went on."""

    case_id: str
    pet: Path
    ct: Path | None
    lesions: list[LesionResult]
    mask_mode: str = ""  # "instance", "components" or "" (boxes)
    warnings: list[str] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)
    #: coronal and sagittal PET projections (phantom.mip.View), computed while the PET is read
    views: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def pet_only(self) -> bool:
        return self.ct is None


# -- the pipeline ---------------------------------------------------------------------------


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
    inv = np.linalg.inv(affine)
    v = corners @ inv[:3, :3].T + inv[:3, 3]
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


def localize(
    localizer,
    pet: Volume,
    ct: Volume | None,
    mask_lesions: Sequence[MaskLesion],
    mask_recs: Sequence[LesionRecord],
    box_recs: Sequence[LesionRecord],
    *,
    batch_size: int = 64,
    top_k: int | None = None,
    abstain_threshold: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    timing: dict[str, float] | None = None,
) -> list:
    """Patches and the network for the lesions of one case (mask lesions first, then
    boxes), ``batch_size`` lesions at a time so that memory stays bounded for a case with
    thousands of lesions; the predictions in that order.  Each mask lesion is cut from a
    crop that holds only it.  ``timing`` gets ``patches_s`` and ``model_s`` added."""
    import functools
    from concurrent.futures import ThreadPoolExecutor

    import torch

    from .data import cut_case
    from .patches import CaseImages, one_thread, to_channels

    cfg = localizer.preset.data
    timing = {} if timing is None else timing
    timing.setdefault("patches_s", 0.0)
    timing.setdefault("model_s", 0.0)
    records = list(mask_recs) + list(box_recs)
    n_mask, n = len(mask_recs), len(records)
    workers = torch.get_num_threads()

    def fill(batch, rows: slice, cut) -> None:
        """Write cut lesions' network inputs and sizes into rows of the batch, in place."""
        a, b, _, s = cut
        to_channels(a, ct is not None, cfg, out=batch[0][rows])
        to_channels(b, ct is not None, cfg, out=batch[1][rows])
        batch[2][rows] = s

    def cut_one(batch, s0: int, i: int) -> None:
        crop = CaseImages(pet=pet, ct=ct, mask=mask_lesions[i].crop())
        with torch.inference_mode():  # per thread: the batch tensors are inference tensors
            fill(batch, slice(i - s0, i - s0 + 1), cut_case(crop, [mask_recs[i]], cfg))

    shapes = [(cfg.local.size,) * 3, (cfg.context.size,) * 3]
    preds: list = []
    with torch.inference_mode():
        for s0 in range(0, n, batch_size):
            s1 = min(n, s0 + batch_size)
            t2 = time.perf_counter()
            # the network inputs of the batch, filled row by row (no concatenation)
            C = cfg.in_channels
            local, context = (torch.empty((s1 - s0, C, *sh), dtype=torch.float32) for sh in shapes)
            sizes = np.zeros((s1 - s0, 3))
            batch = (local, context, sizes)
            # many small operations, each on one intra-op thread (see patches.one_thread);
            # with more threads allowed, the mask lesions are cut by that many workers
            with one_thread():
                mine = range(s0, min(s1, n_mask))
                one = functools.partial(cut_one, batch, s0)
                if workers > 1 and len(mine) > 1:
                    with ThreadPoolExecutor(min(workers, len(mine))) as pool:
                        list(pool.map(one, mine))
                else:
                    for i in mine:
                        one(i)
                if s1 > n_mask:
                    first = max(s0, n_mask)
                    boxes = box_recs[first - n_mask : s1 - n_mask]
                    cut = cut_case(CaseImages(pet=pet, ct=ct), boxes, cfg)
                    fill(batch, slice(first - s0, s1 - s0), cut)
            t3 = time.perf_counter()
            ret = localizer.retrieve_patches(
                local, context, sizes, top_k=top_k, abstain_threshold=abstain_threshold
            )
            preds.extend(localizer._to_predictions(ret, records[s0:s1]))
            timing["patches_s"] += t3 - t2
            timing["model_s"] += time.perf_counter() - t3
            if progress is not None:
                progress(s1, n)
    return preds


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


def predict_case(
    localizer,
    case: CaseInput,
    *,
    batch_size: int = 64,
    top_k: int | None = None,
    abstain_threshold: float | None = None,
    views: Sequence[str] = ("coronal", "sagittal"),
    progress: Callable[[int, int], None] | None = None,
    reference: Reference = TYPICAL_REFERENCE,
) -> CaseResult:
    """Predict every lesion of one case; see the module docstring.

    ``views``: the PET projections to keep for the MIP picture (``()``: none);
    ``progress(done, total)`` counts the lesions whose patches are cut; ``reference``: the
    blood-pool and liver SUVs the sentences grade uptake against (:mod:`.uptake`)."""
    from anatloc.imaging import mip

    from .report import sentence

    cfg = localizer.preset.data
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    pet_dicom, ct_dicom = _read_dicom_images(case)
    if pet_dicom is not None:
        pet, warn = pet_dicom.volume, []
    else:
        pet, warn = _load_pet(case.pet)
    pet_grid = Grid(pet.shape, pet.affine, f"pet image {case.pet}")
    ct_grid = None
    if ct_dicom is not None:
        ct_grid = Grid(ct_dicom.volume.shape, ct_dicom.volume.affine, f"ct image {case.ct}")
        check_overlap(pet_grid, ct_grid)
    elif case.ct is not None:  # the CT's header: it must overlap the PET
        ct_img = _open_nifti(case.ct, "ct")
        ct_grid = Grid(ct_img.shape[:3], np.asarray(ct_img.affine), f"ct image {case.ct}")
        del ct_img
        check_overlap(pet_grid, ct_grid)
    # -- the lesions: mask lesions (instance ids or components) and boxes
    mask_lesions: list[MaskLesion] = []
    mode = ""
    box_recs = [r for r in case.records if r.mask_label is None]
    mask_recs = [r for r in case.records if r.mask_label is not None]
    roi_names: dict[int, str] = {}
    name_column = ""
    if case.mask is not None and (mask_recs or not case.records):
        labels = [r.mask_label for r in mask_recs] if mask_recs else None
        given = {
            k: img.series.uid
            for k, img in (("pet", pet_dicom), ("ct", ct_dicom))
            if img is not None
        }
        if is_dicom_file(case.mask) and dicom_modality(case.mask) == "SEG":
            mask_lesions, roi_names = _seg_lesions(
                case.mask, case.dicom.rois, labels, given, pet_grid, ct_grid
            )
            mode, name_column = "instance", "segment_label"
        elif is_dicom_file(case.mask):  # an RTSTRUCT, rasterised on the PET grid
            mask_lesions, roi_names = _rtstruct_lesions(
                case.mask, case.dicom.rois, pet, labels, given
            )
            mode, name_column = "instance", "roi_name"
        else:
            m_img = _open_nifti(case.mask, "mask")
            check_mask_grid(
                Grid(m_img.shape[:3], np.asarray(m_img.affine), f"mask image {case.mask}"),
                pet_grid,
                ct_grid,
            )
            del m_img
            mask_lesions, mode = read_mask(case.mask, labels)
        if mask_recs:
            have = {les.label for les in mask_lesions}
            for r in mask_recs:
                if r.mask_label not in have:
                    raise DataError(
                        f"{r.source}: lesion id {r.mask_label} (column 'mask_label') does not "
                        f"occur in the mask {case.mask}"
                    )
            by_label = {les.label: les for les in mask_lesions}
            mask_lesions = [by_label[r.mask_label] for r in mask_recs]  # type: ignore[index]
        else:
            mask_recs = _records_for_mask(case, mask_lesions, mode, roi_names, name_column)
    records = mask_recs + box_recs
    if not records:
        raise DataError(f"case {case.case_id}: no lesions to predict")
    centers = np.array(
        [
            r.center if r.center is not None else les.points().mean(0)
            for r, les in zip(mask_recs, mask_lesions, strict=True)
        ]
        + [r.center for r in box_recs],
        dtype=np.float64,
    ).reshape(-1, 3)
    check_centers(pet_grid, centers, records)
    timing["read_s"] = time.perf_counter() - t0
    # -- the CT, only where patches reach
    t1 = time.perf_counter()
    half = max(cfg.local.size * cfg.local.spacing, cfg.context.size * cfg.context.spacing) / 2.0
    ct = None
    if ct_dicom is not None:  # already in memory: patches cut from it equal a crop's
        ct = ct_dicom.volume
    elif case.ct is not None:
        ct = _load_ct_crop(case.ct, centers, half + 2.0 * cfg.max_supersample)
    timing["ct_s"] = time.perf_counter() - t1
    # -- patches and the network, a batch of lesions at a time
    preds = localize(
        localizer,
        pet,
        ct,
        mask_lesions,
        mask_recs,
        box_recs,
        batch_size=batch_size,
        top_k=top_k,
        abstain_threshold=abstain_threshold,
        progress=progress,
        timing=timing,
    )
    # -- facts, sentences, outlines, the PET projections
    t4 = time.perf_counter()
    ont = localizer.ont
    images = {
        **(pet_dicom.columns("pet") if pet_dicom is not None else {}),
        **(ct_dicom.columns("ct") if ct_dicom is not None else {}),
    }
    results = []
    for i, (r, p) in enumerate(zip(records, preds, strict=True)):
        if i < len(mask_lesions):
            les = mask_lesions[i]
            facts = mask_facts(pet, les)
            pts = les.points()
            g = float(les.spacing.max())
            outlines = {v: mip.outline_mask(v, points=pts, spacing=g) for v in views}
            number = str(les.label) if mode else str(i + 1)
        else:
            facts = box_facts(pet, r.center, r.size)  # type: ignore[arg-type]
            outlines = {v: mip.outline_mask(v, ellipsoid=(r.center, r.size)) for v in views}
            number = str(i + 1)
        results.append(
            LesionResult(
                number,
                p,
                facts,
                sentence(ont, p, facts, reference),
                ct is None,
                outlines,
                dict(images),
            )
        )
    pviews = mip.project(pet.data, pet.affine, views) if views else {}
    timing["facts_s"] = time.perf_counter() - t4
    timing["total_s"] = time.perf_counter() - t0
    return CaseResult(case.case_id, case.pet, case.ct, results, mode, warn, timing, pviews)


def predict_cases(
    localizer,
    cases: Sequence[CaseInput],
    *,
    batch_size: int = 64,
    top_k: int | None = None,
    abstain_threshold: float | None = None,
    views: Sequence[str] = ("coronal", "sagittal"),
    progress: Callable[[int, int], None] | None = None,
    reference: Reference = TYPICAL_REFERENCE,
) -> list[CaseResult]:
    """:func:`predict_case` for every case; ``progress(done, total)`` counts cases."""
    out = []
    for i, case in enumerate(cases):
        out.append(
            predict_case(
                localizer,
                case,
                batch_size=batch_size,
                top_k=top_k,
                abstain_threshold=abstain_threshold,
                views=views,
                reference=reference,
            )
        )
        if progress is not None:
            progress(i + 1, len(cases))
    return out


# -- writing --------------------------------------------------------------------------------


def prediction_rows(results: Sequence[CaseResult]) -> list[dict[str, Any]]:
    return [les.as_row() for res in results for les in res.lesions]


def csv_text(results: Sequence[CaseResult]) -> str:
    """The predictions as CSV: the union of the lesion columns (first-seen order), then
    :data:`RESULT_COLUMNS`."""
    rows = prediction_rows(results)
    lead: list[str] = []
    for row in rows:
        for k in row:
            if k not in RESULT_COLUMNS and k not in lead:
                lead.append(k)
    columns = lead + list(RESULT_COLUMNS)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for row in rows:
        w.writerow({k: _cell(row.get(k, "")) for k in columns})
    return buf.getvalue()


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def json_data(results: Sequence[CaseResult]) -> dict[str, Any]:
    return {"predictions": [les.as_json() for res in results for les in res.lesions]}


def mip_lesions(result: CaseResult) -> list:
    """The lesions of a case as :class:`anatloc.phantom.mip.MipLesion` s."""
    from anatloc.imaging.mip import MipLesion

    out = []
    for les in result.lesions:
        p = les.prediction
        label = p.location + ("?" if p.abstained else "")
        f = shown(les.facts)
        facts = []
        if f["suv_max"]:
            facts.append(f"SUVmax {f['suv_max']}")
        facts.append(f"{f['long_cm']} × {f['short_cm']} cm")
        legend = f"{label}  ({', '.join(facts)})"
        if p.abstained:
            legend += "  fine location uncertain"
        out.append(MipLesion(les.number, label, legend, dict(les.outlines)))
    return out


def render_case_mip(
    result: CaseResult,
    out: str | os.PathLike | None = None,
    *,
    vmax: float = 10.0,
    height: int = 1000,
    model: str = "",
) -> tuple[bytes, tuple[int, int]]:
    """The case's coronal and sagittal PET MIPs with every lesion outlined, numbered and
    labelled with its predicted location (PNG bytes and size; written when ``out``); the
    title names the case, the subtitle the date, anatloc's version and ``model``."""
    from anatloc.imaging.mip import render_mips

    views = [result.views[v] for v in ("coronal", "sagittal") if v in result.views]
    if not views:
        raise DataError(f"case {result.case_id}: no PET projections were computed")
    n = len(result.lesions)
    title = f"{result.case_id}: {n} lesion{'s' if n != 1 else ''}" + (
        " (PET only)" if result.pet_only else ""
    )
    subtitle = f"{today()} · anatloc {anatloc_version()}" + (f" · {model}" if model else "")
    return render_mips(
        views,
        mip_lesions(result),
        out,
        title=title,
        subtitle=subtitle,
        vmax=vmax,
        height=height,
    )


def anatloc_version() -> str:
    """The installed anatloc's version (``unknown`` outside an installed package)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("anatloc")
    except PackageNotFoundError:
        return "unknown"


def today() -> str:
    """Today's date (UTC, ISO 8601): the date printed on pictures and reports."""
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).date().isoformat()
