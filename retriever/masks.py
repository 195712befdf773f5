"""The lesions of a mask: each kept as its bounding box and its voxels there.

A mask is an instance mask (0 background, one id per lesion) or a binary mask — a single
non-zero value, as autoPET ships it — split into connected components with 26-connectivity
and numbered head to toe, then the patient's right first (the order a report follows).  It
is read once in its stored integer type (no float32 copy); each lesion keeps only its
bounding box (:class:`MaskLesion`), and its patches are cut from a float32 crop of that box
that holds only it, exactly as the network's target-lesion channel wants.  Large, sparse
ids (a table's id 10⁹) cost memory by the number of lesions, not by the largest id.

A DICOM SEG's segments (:func:`seg_lesions`) and an RTSTRUCT's ROIs rasterised on the PET
grid (:func:`rtstruct_lesions`) become mask lesions the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from nibabel.affines import apply_affine

from anatloc.ontology.errors import DataError

from .nifti import Grid, Volume, check_gzip_stream, check_mask_grid, open_nifti, read_block

#: 26-connectivity: the neighbours that join the voxels of a binary mask into one lesion
_STRUCTURE_26 = np.ones((3, 3, 3), dtype=bool)


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


def _check_ids(path: Path, vals: np.ndarray) -> None:
    """The mask's non-zero values must be lesion ids: finite integers from 1 to :data:`_MAX_ID`."""
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
        img = open_nifti(path, "mask", keep_open=True)  # slab after slab: one gzip stream
        check_gzip_stream(path, "mask")  # a mask compresses well: checking it is cheap
    full = tuple(slice(0, n) for n in img.shape[:3])
    data = read_block(img, full, path, "mask")  # stored type: no float32 copy of a mask
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
    _check_ids(path, vals)
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


def rtstruct_lesions(
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


def seg_lesions(
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
