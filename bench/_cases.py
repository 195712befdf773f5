"""Helpers of the localizer benchmarks: a cached phantom case and a model.

A phantom case (``anatloc.phantom.io.generate``, profile ``internal``: CT 2×2×3 mm, PET
4 mm) is written once under ``runs/bench/`` (``--cases`` elsewhere) and reused.
"""

from __future__ import annotations

import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "runs" / "bench"


def phantom_case(lesions: int, *, seed: int = 1, profile: str = "internal", root=None) -> dict:
    """The files of a cached phantom case with ``lesions`` lesions (rendered when missing):
    ``{"pet", "ct", "mask", "dir", "rendered_s"}``."""
    folder = Path(root or CASES) / f"{profile}-{lesions}-s{seed}"
    rendered = None
    if not (folder / "lesions.csv").is_file():
        from anatloc.ontology import load_ontology
        from anatloc.phantom.body import body_model
        from anatloc.phantom.io import generate
        from anatloc.phantom.profiles import get_profile

        t0 = time.perf_counter()
        generate(
            body_model(load_ontology()),
            get_profile(profile),
            folder,
            1,
            seed,
            lesions_per_case=lesions,
            force=True,
        )
        rendered = round(time.perf_counter() - t0, 1)
    (case_dir,) = [p for p in folder.iterdir() if p.is_dir()]
    return {
        "dir": case_dir,
        "pet": case_dir / "pet.nii.gz",
        "ct": case_dir / "ct.nii.gz",
        "mask": case_dir / "lesions.nii.gz",
        "rendered_s": rendered,
    }


def localizer(
    preset_name: str,
    ont,
    text=None,
    *,
    device: str = "cpu",
    shipped: bool = True,
    precision: str = "auto",
):
    """(Localizer, how the weights were made): the shipped checkpoint for ``cpu-small`` when
    there is one, else random weights of the preset (speed does not depend on them).
    ``text``: (coarse, fine) frozen term embeddings (default: random).  ``precision`` of the
    image encoders (random weights have no training record, so "auto" means fp32 on CPU)."""
    import torch

    from anatloc.retriever.config import get_preset
    from anatloc.retriever.infer import Localizer
    from anatloc.retriever.model import Retriever
    from anatloc.retriever.predict import shipped_model_path

    path = shipped_model_path()
    if shipped and preset_name == "cpu-small" and path.is_file():
        loc = Localizer.from_checkpoint(path, device=device, ontology=ont, precision=precision)
        return loc, f"shipped {path.name}"
    torch.manual_seed(0)
    preset = get_preset(preset_name)
    if text is None:
        text = (
            torch.randn(len(ont.terms("coarse")), 384),
            torch.randn(len(ont.terms("fine")), 384),
        )
    loc = Localizer(
        Retriever.from_preset(preset),
        preset,
        ont,
        text[0],
        text[1],
        device=torch.device(device),
        precision=precision,
    )
    return loc, "random"
