"""Lesions from a DICOM Segmentation (SEG): each segment one lesion, read with highdicom.

A SEG stores one binary (or fractional) frame per segment and slice, on the grid of the
images it was drawn on.  highdicom assembles the frames into one labelled volume (the
segment number in each voxel) with its affine in RAS, which is then read exactly as a NIfTI
instance mask on its own grid: each segment number is a lesion id, and the segment's label is
kept for the output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from anatloc.ontology.errors import DataError


def read_seg(path: Path) -> tuple[Any, dict[int, str], set[str]]:
    """(a nibabel image of segment numbers, segment number → label, referenced series UIDs)."""
    import highdicom as hd

    try:
        seg = hd.seg.segread(path)
    except Exception as exc:  # not a SEG after all, damaged
        raise DataError(
            f"mask {path}: not a readable DICOM SEG ({exc.__class__.__name__})"
        ) from None
    labels = {
        int(d.SegmentNumber): str(d.get("SegmentLabel", "") or "") for d in seg.SegmentSequence
    }
    refs = {
        str(s.SeriesInstanceUID)
        for s in seg.get("ReferencedSeriesSequence") or []
        if s.get("SeriesInstanceUID")
    }
    try:
        volume = seg.get_volume(combine_segments=True, relabel=False)
    except Exception as exc:  # frames not on a regular 3-D grid, overlapping segments
        text = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise DataError(
            f"mask {path}: the SEG's frames do not make one 3-D label volume ({text}); "
            "expected non-overlapping segments on parallel, evenly spaced slices"
        ) from None
    return volume.to_nibabel(), labels, refs
