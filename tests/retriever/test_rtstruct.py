"""RTSTRUCT ROIs rasterised on the PET grid: exact on the contours' own grid, holes by parity,
another grid by the nearest contour plane."""

from __future__ import annotations

import numpy as np
import pytest

from anatloc.ontology.errors import DataError, UsageError
from anatloc.retriever.nifti import make_volume
from anatloc.retriever.rtstruct import read_rtstruct, roi_masks

from .dicomsynth import LPS, voxel_squares, write_rtstruct


def _grid(shape=(20, 16, 12), spacing=(2.0, 2.0, 3.0)):
    a = np.diag([*spacing, 1.0])
    a[:3, 3] = (-10.0, 5.0, 40.0)
    return make_volume(np.zeros(shape, np.float32), a)


def _mask(shape) -> np.ndarray:
    m = np.zeros(shape, np.int16)
    m[3:7, 4:9, 2:5] = 1
    m[12:15, 10:12, 6:10] = 2
    m[13, 10, 6] = 0  # not a box
    return m


def _roi_voxels(r, shape) -> np.ndarray:
    out = np.zeros(shape, bool)
    ijk = np.argwhere(r.sub) + r.start
    out[tuple(ijk.T)] = True
    return out


def test_voxel_contours_give_back_the_mask_on_its_grid(tmp_path):
    pet = _grid()
    m = _mask(pet.shape)
    path = tmp_path / "rs.dcm"
    rois = {n: (f"lesion {n}", voxel_squares(m, pet.affine, n)) for n in (1, 2)}
    write_rtstruct(path, rois, series_uid="1.2.3")
    masks = roi_masks(read_rtstruct(path), path, pet)
    assert [(r.number, r.name) for r in masks] == [(1, "lesion 1"), (2, "lesion 2")]
    for r in masks:
        np.testing.assert_array_equal(_roi_voxels(r, pet.shape), m == r.number)
    (only,) = roi_masks(read_rtstruct(path), path, pet, names=["lesion 2"])
    assert only.number == 2
    with pytest.raises(UsageError, match="no such ROI"):
        roi_masks(read_rtstruct(path), path, pet, names=["lesion 9"])


def test_a_ring_has_a_hole_and_a_coarser_pet_takes_the_nearest_plane(tmp_path):
    pet = _grid()
    outer = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float) + 2.6
    inner = np.array([[3, 3], [7, 3], [7, 7], [3, 7]], float) + 2.6
    contours = []
    for k in range(3, 8):
        for sq in (outer, inner):
            ijk = np.column_stack([sq, np.full(4, k), np.ones(4)])
            contours.append((ijk @ pet.affine.T)[:, :3] @ LPS.T)
    path = tmp_path / "ring.dcm"
    write_rtstruct(path, {5: ("ring", contours)})
    (r,) = roi_masks(read_rtstruct(path), path, pet)
    vox = _roi_voxels(r, pet.shape)
    assert vox[4, 4, 5] and not vox[8, 8, 5]  # in the ring, in the hole
    assert vox[:, :, 3:8].any(axis=(0, 1)).all() and not vox[:, :, 8:].any()
    # a PET of 4 × 4 × 6 mm over the same body: each slice takes the nearest contour plane
    coarse = make_volume(np.zeros((10, 8, 6), np.float32), pet.affine @ np.diag([2, 2, 2, 1]))
    (c,) = roi_masks(read_rtstruct(path), path, coarse)
    assert set(np.unique((np.argwhere(c.sub) + c.start)[:, 2])) == {2, 3}


def test_other_objects_are_refused(tmp_path):
    path = tmp_path / "seg.dcm"
    write_rtstruct(path, {}, modality="SEG")
    with pytest.raises(
        DataError, match="is a DICOM SEG; --lesions takes a NIfTI mask, a DICOM SEG"
    ):
        read_rtstruct(path)
    path = tmp_path / "empty.dcm"
    write_rtstruct(path, {})
    with pytest.raises(DataError, match="no ROI with contours"):
        roi_masks(read_rtstruct(path), path, _grid())
