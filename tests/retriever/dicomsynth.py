"""Writing small volumes as DICOM PET and CT series (made in the test, never patient data).

:func:`write_series` stores a volume given in world RAS (an array and its affine, as the
NIfTI path holds it) as one single-frame DICOM file per slice, with the geometry in LPS,
per-slice RescaleSlope, shuffled file names and the PET fields that SUV needs.  It returns
the values the files really hold (after integer storage), which the tests compare with.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: F-18's half-life, seconds
F18_HALF_LIFE = 6586.2
LPS = np.diag([-1.0, -1.0, 1.0])


@dataclass
class PetFields:
    """The SUV-related fields of a PET series (None: left out of the files)."""

    units: str = "BQML"
    decay_correction: str = "START"
    weight_kg: float | None = 75.0
    dose_bq: float | None = 350e6
    half_life_s: float | None = F18_HALF_LIFE
    series: dt.datetime = dt.datetime(2024, 3, 5, 10, 30, 0)
    #: acquisition times of the slices, from the series time (s); a re-timed series has a
    #: series time later than its acquisitions
    acquisition_offset_s: float = 0.0
    injection: dt.datetime | None = dt.datetime(2024, 3, 5, 9, 30, 0)
    injection_as_datetime: bool = False
    philips_suv: float | None = None  # (7053,1000)
    philips_bqml: float | None = None  # (7053,1009)
    extra: dict[str, Any] = field(default_factory=dict)


def _tm(t: dt.datetime) -> str:
    return t.strftime("%H%M%S.%f")[:13]


def _pet_fields(ds: Any, pet: PetFields) -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds.Units = pet.units
    ds.DecayCorrection = pet.decay_correction
    ds.CorrectedImage = ["ATTN", "DECY"]
    if pet.weight_kg is not None:
        ds.PatientWeight = f"{pet.weight_kg:g}"
    ds.SeriesDate = pet.series.strftime("%Y%m%d")
    ds.SeriesTime = _tm(pet.series)
    acq = pet.series + dt.timedelta(seconds=pet.acquisition_offset_s)
    ds.AcquisitionDate = acq.strftime("%Y%m%d")
    ds.AcquisitionTime = _tm(acq)
    info = Dataset()
    if pet.dose_bq is not None:
        info.RadionuclideTotalDose = f"{pet.dose_bq:.6g}"
    if pet.half_life_s is not None:
        info.RadionuclideHalfLife = f"{pet.half_life_s:g}"
    if pet.injection is not None:
        if pet.injection_as_datetime:
            info.RadiopharmaceuticalStartDateTime = pet.injection.strftime("%Y%m%d%H%M%S.%f")
        else:
            info.RadiopharmaceuticalStartTime = _tm(pet.injection)
    ds.RadiopharmaceuticalInformationSequence = Sequence([info])
    if pet.philips_suv is not None or pet.philips_bqml is not None:
        block = ds.private_block(0x7053, "Philips PET Private Group", create=True)
        if pet.philips_suv is not None:
            block.add_new(0x00, "DS", f"{pet.philips_suv:.10g}")
        if pet.philips_bqml is not None:
            block.add_new(0x09, "DS", f"{pet.philips_bqml:.10g}")
    for k, v in pet.extra.items():
        setattr(ds, k, v)


def write_series(
    folder: Path,
    data: np.ndarray,
    affine: np.ndarray,
    *,
    modality: str = "PT",
    pet: PetFields | None = None,
    patient: str = "P001",
    series_uid: str | None = None,
    description: str = "",
    skip: tuple[int, ...] = (),
    duplicate: tuple[int, ...] = (),
    tilt_mm_per_slice: float = 0.0,
    jpeg2000: bool = False,
    seed: int = 0,
) -> np.ndarray:
    """Write ``data`` (world RAS ``affine``) into ``folder`` as a DICOM series; return the
    values the files hold (rescaled), on the same grid as ``data``.  ``skip`` leaves slices
    out, ``duplicate`` writes slices twice, ``tilt_mm_per_slice`` shears the stack."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import (
        CTImageStorage,
        ExplicitVRLittleEndian,
        JPEG2000Lossless,
        PositronEmissionTomographyImageStorage,
        generate_uid,
    )

    folder.mkdir(parents=True, exist_ok=True)
    pet = (pet or PetFields()) if modality == "PT" else None
    lps = LPS @ affine[:3, :3]
    origin = LPS @ affine[:3, 3]
    col_sp, row_sp = np.linalg.norm(lps[:, 0]), np.linalg.norm(lps[:, 1])
    iop = [*(lps[:, 0] / col_sp), *(lps[:, 1] / row_sp)]
    tilt_dir = lps[:, 1] / row_sp
    uid = series_uid or generate_uid()
    study = generate_uid(entropy_srcs=[patient, "study"])
    frame = generate_uid(entropy_srcs=[patient, "frame"])
    sop = PositronEmissionTomographyImageStorage if modality == "PT" else CTImageStorage
    held = np.zeros(data.shape, dtype=np.float32)
    order = np.random.default_rng(seed).permutation(data.shape[2])
    n = 0
    for k in order:
        if k in skip:
            continue
        plane = np.asarray(data[:, :, k], dtype=np.float64).T  # (rows = j, columns = i)
        if modality == "PT":
            slope = max(float(np.abs(plane).max()), 1e-3) / 32000.0
            intercept = 0.0
        else:
            slope, intercept = 1.0, -1024.0
        stored = np.round((plane - intercept) / slope).astype(np.int16)
        held[:, :, k] = (stored.astype(np.float64) * slope + intercept).T
        for _copy in range(2 if k in duplicate else 1):
            n += 1
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = sop
            meta.MediaStorageSOPInstanceUID = generate_uid()
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds = Dataset()
            ds.file_meta = meta
            ds.SOPClassUID = sop
            ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
            ds.PatientID = patient
            ds.PatientName = f"Phantom^{patient}"
            ds.PatientBirthDate = ""
            ds.PatientSex = "O"
            ds.StudyDate = "20240305"
            ds.StudyTime = "090000"
            ds.StudyID = "1"
            ds.AccessionNumber = ""
            ds.ReferringPhysicianName = ""
            ds.SeriesNumber = 1 if modality == "PT" else 2
            ds.Modality = modality
            ds.StudyInstanceUID = study
            ds.SeriesInstanceUID = uid
            ds.FrameOfReferenceUID = frame
            ds.SeriesDescription = description
            ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
            ds.InstanceNumber = int(k) + 1
            pos = origin + k * lps[:, 2] + k * tilt_mm_per_slice * tilt_dir
            ds.ImagePositionPatient = [f"{v:.6f}" for v in pos]
            ds.ImageOrientationPatient = [f"{v:.8f}" for v in iop]
            ds.PixelSpacing = [f"{row_sp:.6f}", f"{col_sp:.6f}"]
            ds.SliceThickness = f"{np.linalg.norm(lps[:, 2]):.6f}"
            ds.Rows, ds.Columns = plane.shape
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.BitsAllocated = 16
            ds.BitsStored = 16
            ds.HighBit = 15
            ds.PixelRepresentation = 1
            ds.RescaleSlope = f"{slope:.10g}"
            ds.RescaleIntercept = f"{intercept:g}"
            if pet is not None:
                _pet_fields(ds, pet)
            ds.PixelData = stored.astype("<i2").tobytes()
            if jpeg2000:
                ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
            ds.save_as(folder / f"IM{n:05d}", enforce_file_format=True)
    return held


def voxel_squares(mask: np.ndarray, affine: np.ndarray, label: int) -> list[np.ndarray]:
    """One closed square (4 corners, LPS mm) per voxel of ``label``: contours that cover
    exactly the lesion's voxels on the mask's own slices."""
    corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    out = []
    for i, j, k in np.argwhere(mask == label):
        ijk = np.column_stack([corners + np.array([i, j]), np.full(4, k), np.ones(4)])
        out.append((ijk @ affine.T)[:, :3] @ LPS.T)
    return out


def write_rtstruct(
    path: Path,
    rois: dict[int, tuple[str, list[np.ndarray]]],
    *,
    series_uid: str = "",
    modality: str = "RTSTRUCT",
) -> None:
    """An RT Structure Set: ROI number → (name, closed planar contours in LPS mm), drawn on
    the series ``series_uid``."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, RTStructureSetStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RTStructureSetStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = RTStructureSetStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientID = "P001"
    ds.SeriesInstanceUID = generate_uid()
    frame = generate_uid()
    series = Dataset()
    series.SeriesInstanceUID = series_uid
    study = Dataset()
    study.RTReferencedSeriesSequence = Sequence([series])
    ref = Dataset()
    ref.FrameOfReferenceUID = frame
    ref.RTReferencedStudySequence = Sequence([study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([ref])
    ds.StructureSetROISequence = Sequence()
    ds.ROIContourSequence = Sequence()
    for number, (name, contours) in rois.items():
        roi = Dataset()
        roi.ROINumber = number
        roi.ROIName = name
        roi.ReferencedFrameOfReferenceUID = frame
        ds.StructureSetROISequence.append(roi)
        item = Dataset()
        item.ReferencedROINumber = number
        item.ContourSequence = Sequence()
        for c in contours:
            contour = Dataset()
            contour.ContourGeometricType = "CLOSED_PLANAR"
            contour.NumberOfContourPoints = len(c)
            contour.ContourData = [f"{v:.4f}" for v in np.asarray(c).ravel()]
            item.ContourSequence.append(contour)
        ds.ROIContourSequence.append(item)
    ds.save_as(path, enforce_file_format=True)


def write_seg(
    path: Path,
    series: Path,
    mask: np.ndarray,
    affine: np.ndarray,
    labels: dict[int, str],
    *,
    referenced_series: str | None = None,
) -> None:
    """A DICOM SEG (highdicom) of the instance ``mask`` (world RAS ``affine``, the grid of the
    series in the folder ``series``): segment ``n`` holds the voxels of id ``n``.
    ``referenced_series`` replaces the series UID it references (a SEG of other images)."""
    import highdicom as hd
    import pydicom
    from pydicom.sr.codedict import codes

    sources = [pydicom.dcmread(p) for p in sorted(series.iterdir())]
    inv = np.linalg.inv(affine)
    frames = []
    for ds in sources:
        ras = LPS @ np.array([float(v) for v in ds.ImagePositionPatient])
        k = round(float((inv[:3, :3] @ ras + inv[:3, 3])[2]))
        planes = [(mask[:, :, k] == n).T for n in labels]  # (rows, columns) each
        frames.append(np.stack(planes, axis=-1))
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=i + 1,
            segment_label=labels[n],
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.Lesion,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for i, n in enumerate(labels)
    ]
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=np.stack(frames).astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=100,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="anatloc tests",
        manufacturer_model_name="synthetic",
        software_versions="0",
        device_serial_number="0",
    )
    if referenced_series is not None:
        seg.ReferencedSeriesSequence[0].SeriesInstanceUID = referenced_series
    seg.save_as(path)
