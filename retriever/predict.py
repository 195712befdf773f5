"""The main job: from a case's images and its lesions to report-ready predictions.

>>> from anatloc.retriever.infer import Localizer
>>> from anatloc.retriever.predict import CaseInput, predict_cases
>>> loc = Localizer.from_checkpoint(shipped_model_path())              # doctest: +SKIP
>>> case = CaseInput.from_files("pet.nii.gz", ct="ct.nii.gz", lesions="mask.nii.gz")
>>> [r.as_row()["sentence"] for r in predict_cases(loc, [case])[0].lesions]  # doctest: +SKIP
['Intensely FDG-avid lesion in liver segment S7, SUVmax 8.3, 2.1 × 1.6 cm, 4.20 ml.']

This module is the orchestration only; each stage has its own module:

=================  ==========================================================================
:mod:`.inputs`     the case (:class:`CaseInput`: PET, CT, a mask, boxes or a lesion table's
                   rows; NIfTI or DICOM), its images and its lesions, read and checked
:mod:`.table`      the lesion rows of a lesion table or a boxes file (one reader)
:mod:`.masks`      a mask's lesions (instance ids or connected components; a SEG, an
                   RTSTRUCT), each kept as its bounding box
:mod:`.measure`    the lesion facts: SUVmax/mean, volume, axial diameters, 3D extent
(here)             the patches and the network, batched (:func:`localize`), then the facts,
                   the sentence and the picture's outlines of each lesion (:func:`predict_case`)
:mod:`.outputs`    the results (:class:`CaseResult`) and their CSV, JSON and MIP picture
:mod:`.checkpoint` which model a command uses (:func:`model_path`)
=================  ==========================================================================

The names of those modules that callers use are importable from here as well
(``from anatloc.retriever.predict import CaseInput, csv_text, model_path``), so that the
prediction API is one import.

The network runs batched through :meth:`Localizer.retrieve_patches`; the patches are the
ones :meth:`Localizer.predict` cuts for the same lesions (tested), so predictions agree with
``anatloc evaluate``.  The PET is projected for the MIP picture while it is in memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .checkpoint import model_path, shipped_model_path
from .inputs import (
    CaseInput,
    CaseLesions,
    LoadedImages,
    case_id_for,
    cases_from_table,
    read_ct,
    read_images,
    read_lesions,
)
from .masks import MaskLesion, read_mask
from .measure import LesionFacts, axial_diameters, box_facts, feret_diameter, mask_facts
from .nifti import Volume
from .outputs import (
    RESULT_COLUMNS,
    CaseResult,
    LesionResult,
    anatloc_version,
    csv_text,
    json_data,
    mip_lesions,
    prediction_rows,
    render_case_mip,
    today,
)
from .table import LesionRecord, read_boxes
from .uptake import TYPICAL_REFERENCE, Reference

__all__ = [
    "RESULT_COLUMNS",
    "CaseInput",
    "CaseResult",
    "LesionFacts",
    "LesionResult",
    "MaskLesion",
    "anatloc_version",
    "axial_diameters",
    "box_facts",
    "case_id_for",
    "cases_from_table",
    "csv_text",
    "feret_diameter",
    "json_data",
    "localize",
    "mask_facts",
    "mip_lesions",
    "model_path",
    "predict_case",
    "predict_cases",
    "prediction_rows",
    "read_boxes",
    "read_mask",
    "render_case_mip",
    "shipped_model_path",
    "today",
]


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
    """Predict every lesion of one case: read its images and lesions (:mod:`.inputs`), cut
    the patches and run the network (:func:`localize`), then measure, word and outline each
    lesion.

    ``views``: the PET projections to keep for the MIP picture (``()``: none);
    ``progress(done, total)`` counts the lesions whose patches are cut; ``reference``: the
    blood-pool and liver SUVs the sentences grade uptake against (:mod:`.uptake`)."""
    cfg = localizer.preset.data
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    images = read_images(case)
    lesions = read_lesions(case, images)
    timing["read_s"] = time.perf_counter() - t0
    # -- the CT, only where patches reach
    t1 = time.perf_counter()
    half = max(cfg.local.size * cfg.local.spacing, cfg.context.size * cfg.context.spacing) / 2.0
    ct = read_ct(case, images, lesions.centers(), half + 2.0 * cfg.max_supersample)
    timing["ct_s"] = time.perf_counter() - t1
    # -- patches and the network, a batch of lesions at a time
    preds = localize(
        localizer,
        images.pet,
        ct,
        lesions.mask_lesions,
        lesions.mask_recs,
        lesions.box_recs,
        batch_size=batch_size,
        top_k=top_k,
        abstain_threshold=abstain_threshold,
        progress=progress,
        timing=timing,
    )
    # -- facts, sentences, outlines, the PET projections
    t4 = time.perf_counter()
    results, pviews = _describe(localizer.ont, images, lesions, preds, ct is None, views, reference)
    timing["facts_s"] = time.perf_counter() - t4
    timing["total_s"] = time.perf_counter() - t0
    return CaseResult(
        case.case_id, case.pet, case.ct, results, lesions.mode, images.warnings, timing, pviews
    )


def _describe(
    ont,
    images: LoadedImages,
    lesions: CaseLesions,
    preds: Sequence,
    pet_only: bool,
    views: Sequence[str],
    reference: Reference = TYPICAL_REFERENCE,
) -> tuple[list[LesionResult], dict[str, Any]]:
    """Each lesion's prediction with its facts, its sentence and its outline in ``views``
    (numbered by its mask id, or its place in the case), and the PET's projections."""
    from anatloc.imaging import mip

    from .report import sentence

    pet = images.pet
    columns = images.columns()
    results = []
    for i, (r, p) in enumerate(zip(lesions.records, preds, strict=True)):
        if i < len(lesions.mask_lesions):
            les = lesions.mask_lesions[i]
            facts = mask_facts(pet, les)
            pts = les.points()
            g = float(les.spacing.max())
            outlines = {v: mip.outline_mask(v, points=pts, spacing=g) for v in views}
            number = str(les.label) if lesions.mode else str(i + 1)
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
                pet_only,
                outlines,
                dict(columns),
            )
        )
    pviews = mip.project(pet.data, pet.affine, views) if views else {}
    return results, pviews


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
