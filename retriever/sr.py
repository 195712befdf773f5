"""The predictions as a DICOM Structured Report: a TID 1500 measurement report (highdicom).

``anatloc predict --pet DICOM_DIR … --sr OUT.dcm`` writes one Comprehensive 3D SR for the case.
It references the PET series (every instance is listed as evidence) and, when the lesions came
from a DICOM SEG, the SEG (and the CT series, when the SEG was drawn on the CT).  Each lesion
is one measurement group (TID 1411, volumetric ROI):

* the tracking identifier ``lesion N`` (with the segment label or ROI name when there is one)
  and a new UID;
* the region: the SEG's segment (``referenced_segment``), else the lesion's centre as a
  3-D point on the PET's frame of reference (``referenced_volume_surface``);
* the finding type *Lesion* (SCT 52988006) and two finding sites: the SNOMED CT code of the
  predicted location when the ontology has one (its exact match, else its broad match — a
  broader concept, e.g. Liver for Porta hepatis), and always anatloc's own term, coding scheme
  designator ``ANATLOC`` with the CURIE's number as the code value (``(0000285, ANATLOC,
  "Liver S7")`` is ``ANATLOC:0000285``);
* SUVmax and SUVmean (DCM 126400 *Standardized Uptake Value*, derivation *Maximum* / *Mean*,
  unit ``g/ml{SUVbw}``; ``cm2/ml{SUVbsa}`` for a PET already in SUV by body surface area) and the
  volume (SCT 118565006, unit ``cm3``, which is a millilitre).

What is checked before any work (:func:`plan_sr`), each failure one line: the PET must be a
DICOM series (a NIfTI PET has nothing to reference); a SEG given as the lesions must reference
the PET or the CT series given.  The file is written to a temporary name and renamed.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from anatloc.ontology.errors import DataError, UsageError

from .dicom import check_folder, choose_series, dicom_modality, scan_folder

#: the coding scheme designator of anatloc's own terms in a DICOM SR
ANATLOC_SCHEME = "ANATLOC"
_SCHEME_NAME = "anatloc whole-body lesion location ontology"


@dataclass
class SrPlan:
    """What the report will reference, found before the prediction runs."""

    pet_files: list[Path]
    pet_series_uid: str
    ct_series_uid: str | None = None
    ct_files: list[Path] = field(default_factory=list)
    seg_path: Path | None = None
    seg_series: tuple[str, ...] = ()  # the series the SEG references (given with --pet/--ct)


def _series_uid(folder: Path, kind: str, uid: str | None, option: str):
    found = scan_folder(folder, kind)
    modality = "PT" if kind == "PET" else "CT"
    return choose_series(found, modality, uid, f"{kind} image {folder}", option)


def plan_sr(case: Any) -> SrPlan:
    """Check that ``case`` (a :class:`~.predict.CaseInput`) can have an SR and find what it
    references.  A NIfTI PET is a :class:`UsageError` (exit 2); a SEG that references none of
    the series given is a :class:`DataError` (exit 3)."""
    pet = Path(case.pet)
    if not pet.is_dir():
        raise UsageError(
            f"--sr writes a DICOM SR that references the PET series, but --pet {pet} is not a "
            "DICOM folder; give the PET as a folder of DICOM files"
        )
    check_folder(pet, "PET")
    pet_series = _series_uid(pet, "PET", case.dicom.pet_series, "--pet-series")
    ct_uid, ct_files = None, []
    if case.ct is not None and Path(case.ct).is_dir():
        ct_series = _series_uid(Path(case.ct), "CT", case.dicom.ct_series, "--ct-series")
        ct_uid, ct_files = ct_series.uid, sorted(ct_series.files)
    plan = SrPlan(sorted(pet_series.files), pet_series.uid, ct_uid, ct_files)
    mask = Path(case.mask) if case.mask is not None else None
    if mask is not None and mask.is_file() and dicom_modality(mask) == "SEG":
        import pydicom

        try:
            ds = pydicom.dcmread(mask, stop_before_pixels=True)
        except Exception as exc:  # a damaged file behind a readable Modality
            raise DataError(
                f"mask {mask}: not a readable DICOM file ({exc.__class__.__name__})"
            ) from None
        refs = {
            str(s.SeriesInstanceUID)
            for s in ds.get("ReferencedSeriesSequence") or []
            if s.get("SeriesInstanceUID")
        }
        given = {plan.pet_series_uid} | ({ct_uid} if ct_uid else set())
        if not refs & given:
            shown = ", ".join(sorted(refs)) or "no series"
            raise DataError(
                f"--sr: the SEG {mask} references {shown}, not the PET series "
                f"{plan.pet_series_uid}{' or the CT series ' + ct_uid if ct_uid else ''}; "
                "an SR cannot tie its segments to these images"
            )
        plan.seg_path = mask
        plan.seg_series = tuple(u for u in (plan.pet_series_uid, ct_uid) if u in refs)
    return plan


def snomed_meaning(code: str) -> str:
    """The meaning of a SNOMED CT code in pydicom's DICOM code tables.  A code can have several
    there ("Kidney" and "Endo-renal" are both 64033007): the one most CIDs use wins, then one
    that is not a "(body structure)" name.  ``SNOMED CT <code>`` for a code the tables lack."""
    from pydicom.sr._concepts_dict import concepts  # the tables behind pydicom.sr.codedict

    found: dict[str, int] = {}
    for entry in concepts["SCT"].values():
        if code in entry:
            meaning, cids = entry[code]
            found[meaning] = max(found.get(meaning, 0), len(cids))
    if not found:
        return f"SNOMED CT {code}"
    return min(found, key=lambda m: (-found[m], "(body structure)" in m, m))


def finding_sites(term: Any) -> list[Any]:
    """The SNOMED CT finding site (exact match first, else broad) and anatloc's own."""
    import highdicom as hd

    out = []
    codes = term.codes("exact") or term.codes("broad")
    for code in codes[:1]:
        prefix, _, value = code.partition(":")
        if prefix == "SCTID":
            concept = hd.sr.CodedConcept(value, "SCT", snomed_meaning(value))
            out.append(hd.sr.FindingSite(concept))
    number = term.curie.partition(":")[2]
    out.append(hd.sr.FindingSite(hd.sr.CodedConcept(number, ANATLOC_SCHEME, term.label[:64])))
    return out


def _measurements(facts: dict[str, Any], suv_units: str) -> list[Any]:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    if suv_units == "CM2ML":
        unit = codes.UCUM.StandardizedUptakeValueBodySurfaceArea
        method = codes.DCM.SUVBodySurfaceAreaCalculationMethod
    else:
        unit = codes.UCUM.StandardizedUptakeValueBodyWeight
        method = codes.DCM.SUVBodyWeightCalculationMethod
    out = []
    for key, derivation in (("suv_max", codes.SCT.Maximum), ("suv_mean", codes.SCT.Mean)):
        v = facts.get(key)
        if v is not None and math.isfinite(v):
            out.append(
                hd.sr.Measurement(
                    name=codes.DCM.StandardizedUptakeValue,
                    value=float(v),
                    unit=unit,
                    derivation=derivation,
                    method=method,
                )
            )
    v = facts.get("volume_ml")
    if v is not None and math.isfinite(v):
        out.append(
            hd.sr.Measurement(
                name=codes.SCT.Volume, value=float(v), unit=codes.UCUM.CubicCentimeter
            )
        )
    return out


def _centre_lps(row: dict[str, Any]) -> np.ndarray | None:
    try:
        ras = [float(row[k]) for k in ("center_x", "center_y", "center_z")]
    except (KeyError, TypeError, ValueError):
        return None
    return np.array([[-ras[0], -ras[1], ras[2]]])


def sr_dataset(plan: SrPlan, result: Any, ont: Any, *, model_name: str = "") -> Any:
    """The SR (a highdicom ``Comprehensive3DSR``) of one case's :class:`~.predict.CaseResult`."""
    import highdicom as hd
    import pydicom
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    evidence = [pydicom.dcmread(p, stop_before_pixels=True) for p in plan.pet_files]
    frame = str(evidence[0].get("FrameOfReferenceUID", "") or "")
    seg = pydicom.dcmread(plan.seg_path, stop_before_pixels=True) if plan.seg_path else None
    if seg is not None:
        evidence.append(seg)
        if plan.pet_series_uid not in plan.seg_series:  # drawn on the CT: it is evidence too
            evidence += [pydicom.dcmread(p, stop_before_pixels=True) for p in plan.ct_files]
    version = _version()
    algorithm = hd.sr.AlgorithmIdentification(
        name="anatloc", version=version + (f" ({model_name})" if model_name else "")
    )
    groups = []
    for les in result.lesions:
        p = les.prediction
        row = les.as_row()
        name = str(row.get("segment_label") or row.get("roi_name") or "")
        ident = f"lesion {les.number}" + (f" ({name})" if name else "")
        kwargs: dict[str, Any] = {}
        label = row.get("mask_label")
        if seg is not None and label not in (None, ""):
            kwargs["referenced_segment"] = hd.sr.ReferencedSegment(
                sop_class_uid=seg.SOPClassUID,
                sop_instance_uid=seg.SOPInstanceUID,
                segment_number=int(label),
                source_series=hd.sr.SourceSeriesForSegmentation(plan.seg_series[0]),
            )
        else:
            point = _centre_lps(row)
            if point is None or not frame:
                raise DataError(f"--sr: lesion {les.number} has no centre on the PET's frame")
            kwargs["referenced_volume_surface"] = hd.sr.VolumeSurface(
                graphic_type=hd.sr.GraphicTypeValues3D.POINT,
                graphic_data=point,
                frame_of_reference_uid=frame,
                source_series=hd.sr.SourceSeriesForSegmentation(plan.pet_series_uid),
            )
        groups.append(
            hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(
                    uid=generate_uid(), identifier=ident[:64]
                ),
                finding_type=codes.SCT.Lesion,
                algorithm_id=algorithm,
                finding_sites=finding_sites(ont[p.curie]),
                measurements=_measurements(les.facts.as_dict(), str(row.get("suv_units", ""))),
                **kwargs,
            )
        )
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=generate_uid(), name="anatloc", manufacturer_name="anatloc"
        ),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.LN.PETWholeBody,
        imaging_measurements=groups,
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=evidence,
        content=report[0],
        series_instance_uid=generate_uid(),
        series_number=9901,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="anatloc",
        series_description="anatloc lesion locations",
    )
    scheme = pydicom.Dataset()
    scheme.CodingSchemeDesignator = ANATLOC_SCHEME
    scheme.CodingSchemeName = _SCHEME_NAME
    scheme.CodingSchemeResponsibleOrganization = "anatloc (https://w3id.org/anatloc/)"
    sr.CodingSchemeIdentificationSequence = [scheme]
    return sr


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("anatloc")
    except PackageNotFoundError:
        return "unknown"


def sr_bytes(plan: SrPlan, result: Any, ont: Any, *, model_name: str = "") -> bytes:
    """The SR as the bytes of a DICOM Part 10 file."""
    ds = sr_dataset(plan, result, ont, model_name=model_name)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()
