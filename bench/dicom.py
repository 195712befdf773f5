"""Reading a whole-body DICOM PET and CT against reading the same volumes as NIfTI.

    python bench/dicom.py [--json] [--pet 200,200,545] [--ct 512,512,300] [--repeat 1]

Writes a synthetic PET series (BQML, START; ``--pet`` columns, rows, slices; 4 mm) and CT
series (``--ct``; 0.98 × 0.98 × 3 mm) into a temporary folder — uncompressed single-frame
files, one per slice, as scanners export them — and the same volumes as ``.nii.gz``.  Then:

* ``read_s``: :func:`anatloc.retriever.dicom.read_dicom` (scan the folder, parse every file,
  check the stack, decode, rescale; the PET also to SUV);
* ``convert_s``: ``anatloc convert``'s work, the read and the ``.nii.gz`` written;
* ``nifti_read_s``: :func:`anatloc.retriever.nifti.load_volume` of the same volume;
* ``ratio``: ``read_s`` / ``nifti_read_s``; ``total_convert_s``: PET and CT converted, the
  issue's target is ≤ 10 s on 2 cores.

The best of ``--repeat`` runs is kept (file-system caches are warm after the write, as they
are after a copy from PACS).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the synthetic series writer
from _common import emit, machine

from anatloc.retriever.dicom import convert, nifti_bytes, read_dicom
from anatloc.retriever.nifti import Volume, load_volume
from tests.retriever.dicomsynth import PetFields, write_series


def _shape(text: str) -> tuple[int, int, int]:
    a, b, c = (int(v) for v in text.split(","))
    return a, b, c


def _body(shape: tuple[int, int, int], low: float, high: float, seed: int) -> np.ndarray:
    """An elliptic body of value ``high`` in a background of ``low``, with noise."""
    i, j = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape[:2]], indexing="ij")
    inside = (i / 0.8) ** 2 + (j / 0.5) ** 2 < 1
    plane = np.where(inside, high, low).astype(np.float32)
    rng = np.random.default_rng(seed)
    vol = np.repeat(plane[:, :, None], shape[2], axis=2)
    return vol + rng.normal(0, abs(high) * 0.02, shape).astype(np.float32)


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return round(best, 3)


def _one(
    kind: str, folder: Path, data: np.ndarray, spacing: tuple[float, ...], repeat: int
) -> dict:
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = [-spacing[0] * data.shape[0] / 2, -spacing[1] * data.shape[1] / 2, -1500.0]
    t0 = time.perf_counter()
    modality = "PT" if kind == "pet" else "CT"
    held = write_series(folder / kind, data, affine, modality=modality, pet=PetFields())
    write_s = time.perf_counter() - t0
    nii = folder / f"{kind}.nii.gz"
    nii.write_bytes(nifti_bytes(Volume(held, affine), gz=True))
    read_s = _best(lambda: read_dicom(folder / kind, kind), repeat)
    out = folder / f"{kind}-converted.nii.gz"
    convert_s = _best(lambda: convert(folder / kind, out, to_suv=kind == "pet"), repeat)
    with warnings.catch_warnings():  # the NIfTI PET is in Bq/ml, as the series: no warning
        warnings.simplefilter("ignore")
        nifti_s = _best(lambda: load_volume(nii, kind), repeat)
    return {
        "shape": list(data.shape),
        "slices": data.shape[2],
        "write_s": round(write_s, 2),
        "read_s": read_s,
        "convert_s": convert_s,
        "nifti_read_s": nifti_s,
        "ratio": round(read_s / nifti_s, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--pet", default="200,200,545", help="columns,rows,slices")
    ap.add_argument("--ct", default="512,512,300", help="columns,rows,slices")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pet = _one("pet", folder, _body(_shape(args.pet), 0.0, 8000.0, 0), (4.0, 4.0, 4.0),
                   args.repeat)  # fmt: skip
        ct = _one("ct", folder, _body(_shape(args.ct), -1000.0, 40.0, 1), (0.98, 0.98, 3.0),
                  args.repeat)  # fmt: skip
    result = {
        "pet": pet,
        "ct": ct,
        "total_convert_s": round(pet["convert_s"] + ct["convert_s"], 2),
        "target_s": 10.0,
        "machine": machine(),
    }
    emit(result, args.json)


if __name__ == "__main__":
    main()
