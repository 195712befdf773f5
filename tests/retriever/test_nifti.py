"""Loading NIfTI volumes and the checks a user needs."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from anatloc.ontology.errors import DataError
from anatloc.retriever.nifti import PetUnitWarning, load_volume, make_volume


def _save(path, arr, affine=None):
    nib.save(nib.Nifti1Image(arr, np.eye(4) if affine is None else affine), path)
    return path


def test_loads_float_volume_in_world_space(tmp_path):
    A = np.diag([2.0, 3.0, 4.0, 1.0])
    A[:3, 3] = [10, 20, 30]
    p = _save(tmp_path / "ct.nii.gz", np.arange(24, dtype=np.int16).reshape(2, 3, 4), A)
    v = load_volume(p, "ct")
    assert v.data.dtype == np.float32 and v.data.flags.f_contiguous and v.shape == (2, 3, 4)
    assert np.allclose(v.spacing, [2, 3, 4])
    assert np.allclose(v.voxel_to_world(np.array([1.0, 1, 1])), [12, 23, 34])
    assert np.allclose(v.world_to_voxel(np.array([12.0, 23, 34])), [1, 1, 1])


def test_trailing_singleton_dimension_is_accepted(tmp_path):
    v = load_volume(_save(tmp_path / "a.nii", np.zeros((3, 3, 3, 1), np.float32)))
    assert v.shape == (3, 3, 3)


@pytest.mark.parametrize(
    ("arr", "affine", "message"),
    [
        (np.zeros((3, 3, 3, 2), np.float32), None, "expected a 3-D image, got 4 dimensions"),
        (np.zeros((4, 4), np.float32), None, "expected a 3-D image, got 2"),
        (np.full((3, 3, 3), np.nan, np.float32), None, "NaN or infinite"),
        (np.zeros((3, 3, 3), np.float32), np.diag([1.0, 0.0, 1.0, 1.0]), "not invertible"),
    ],
)
def test_bad_images_name_the_file_and_the_problem(tmp_path, arr, affine, message):
    p = tmp_path / "bad.nii.gz"
    if affine is not None:  # nibabel would refuse to write a singular affine in the header
        with pytest.raises(DataError, match=message):
            make_volume(arr, affine, p)
        return
    _save(p, arr)
    with pytest.raises(DataError, match=message) as e:
        load_volume(p)
    assert str(p) in str(e.value)


def test_missing_folder_and_garbage_files(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_volume(tmp_path / "nope.nii.gz", "pet")
    with pytest.raises(DataError, match="is a folder"):
        load_volume(tmp_path, "pet")
    junk = tmp_path / "junk.nii.gz"
    junk.write_bytes(b"not a nifti")
    with pytest.raises(DataError, match="pet image .*junk.nii.gz is not a NIfTI image"):
        load_volume(junk, "pet")


def test_pet_in_bq_per_ml_warns_with_the_unit(tmp_path):
    arr = np.full((10, 10, 10), 5000.0, np.float32)
    p = _save(tmp_path / "pet.nii.gz", arr)
    with pytest.warns(PetUnitWarning, match="Bq/ml"):
        load_volume(p, "pet")
    load_volume(_save(tmp_path / "suv.nii.gz", arr / 2000), "pet")  # SUV: no warning


def test_mask_must_hold_integer_ids(tmp_path):
    p = _save(tmp_path / "m.nii.gz", np.full((3, 3, 3), 0.5, np.float32))
    with pytest.raises(DataError, match="non-integer"):
        load_volume(p, "mask")


@pytest.mark.parametrize(
    ("value", "words"), [(2.5, "non-integer values"), (-3.0, "negative values")]
)
def test_mask_checks_look_at_the_lesion_voxels(tmp_path, value, words):
    # a mask is mostly background; one bad voxel among the zeros must still be found
    data = np.zeros((40, 40, 40), np.float32)
    data[5:8, 5:8, 5:8] = 1
    data[20, 20, 20] = value
    p = tmp_path / "mask.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), p)
    with pytest.raises(DataError, match=words):
        load_volume(p, "mask")
    data[20, 20, 20] = 0
    nib.save(nib.Nifti1Image(data, np.eye(4)), p)
    assert load_volume(p, "mask").data.max() == 1
