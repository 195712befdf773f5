"""The checkpoint: one file with everything needed to predict, and to explain a mismatch.

Contents (a ``torch.save`` dict of tensors and plain values, read back with
``weights_only=True`` so that loading never runs code):

================== ========================================================================
``format``          ``"anatloc-retriever"``
``format_version``  :data:`FORMAT_VERSION` (a newer file is refused with a clear message)
``preset``          the full configuration (model, data, train sections) as a dict
``state_dict``      the model's weights
``ontology_hash``   the content hash of the ontology it was trained on
``coarse_curies``   ordered coarse CURIEs, with ``coarse_labels``
``fine_curies``     ordered fine CURIEs, with ``fine_labels`` and ``fine_parents``
``text_model``      the text model's id (and ``text_model_path`` as given, "" = default)
``text_mode``       "descriptions" or "labels"
``generator``       the description generator's version
``text_coarse``     the frozen, pooled text embeddings (float16) of the coarse and fine terms
``text_fine``       — prediction against the same ontology needs no text encoder at all
``training``        metadata: epochs, steps, samples, time, seed, device, world size, data
``metrics``         validation metrics of this checkpoint
``resume``          only in the "last" checkpoint: optimizer, scheduler and RNG states
================== ========================================================================

:func:`load_checkpoint` against a different ontology says which terms were added, removed,
renamed or moved, and refuses unless ``allow_ontology_change=True``.  The shipped model is
``retriever/models/default.pt`` (:func:`shipped_model_path`); :func:`model_path` is the one
place that says what a command without ``--model`` uses.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from anatloc.ontology.errors import DataError, RefusedError

FORMAT = "anatloc-retriever"
FORMAT_VERSION = 1


class OntologyMismatchError(RefusedError):
    """A checkpoint trained on another version of the ontology than the one in use."""


@dataclass
class OntologyDiff:
    """How the ontology in use differs from a checkpoint's (per level)."""

    added: list[tuple[str, str, str]] = field(default_factory=list)  # (level, curie, label)
    removed: list[tuple[str, str, str]] = field(default_factory=list)
    renamed: list[tuple[str, str, str, str]] = field(default_factory=list)  # + new label
    moved: list[tuple[str, str, str]] = field(default_factory=list)
    hash_only: bool = False  # same terms and labels; descriptions or facts changed

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.renamed or self.moved or self.hash_only)

    def explain(self, limit: int = 4) -> str:
        parts = []

        def listed(rows, fmt) -> str:
            shown = ", ".join(fmt(r) for r in rows[:limit])
            return shown + (f", … ({len(rows) - limit} more)" if len(rows) > limit else "")

        if self.added:
            parts.append(
                f"{len(self.added)} added ({listed(self.added, lambda r: f'{r[1]} {r[2]!r}')})"
            )
        if self.removed:
            parts.append(
                f"{len(self.removed)} removed ({listed(self.removed, lambda r: f'{r[1]} {r[2]!r}')})"
            )
        if self.renamed:
            parts.append(
                f"{len(self.renamed)} renamed "
                f"({listed(self.renamed, lambda r: f'{r[1]} {r[2]!r} → {r[3]!r}')})"
            )
        if self.moved:
            parts.append(
                f"{len(self.moved)} moved ({listed(self.moved, lambda r: f'{r[1]} {r[2]!r}')})"
            )
        if not parts and self.hash_only:
            parts.append("the same terms, but descriptions, synonyms or facts changed")
        return "; ".join(parts)


def _atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    from anatloc.ontology.fileio import atomic_write

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write(path, buf.getvalue())


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write a checkpoint atomically (``payload`` as built by the trainer)."""
    payload = dict(payload)
    payload["format"] = FORMAT
    payload["format_version"] = FORMAT_VERSION
    _atomic_torch_save(payload, path)


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The raw checkpoint dict; a clear :class:`DataError` for anything else."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"checkpoint {p} does not exist")
    if p.is_dir():
        raise DataError(f"checkpoint {p} is a folder; expected a .pt file written by anatloc train")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise DataError(
            f"{p} is not an anatloc checkpoint (cannot be read as one: "
            f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''})"
        ) from None
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        raise DataError(f"{p} is not an anatloc checkpoint (no {FORMAT!r} format marker)")
    v = ck.get("format_version")
    if not isinstance(v, int):
        raise DataError(f"{p}: checkpoint without a format version")
    if v > FORMAT_VERSION:
        raise DataError(
            f"{p} was written by a newer anatloc (checkpoint format {v}; this anatloc reads up "
            f"to {FORMAT_VERSION}); upgrade anatloc"
        )
    return ck


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


def ontology_diff(ck: dict[str, Any], ont) -> OntologyDiff:
    """Compare a checkpoint's term lists with ``ont``'s."""
    d = OntologyDiff()
    for level in ("coarse", "fine"):
        old = dict(zip(ck[f"{level}_curies"], ck[f"{level}_labels"], strict=True))
        new = {t.curie: t.label for t in ont.terms(level)}
        for c, lab in new.items():
            if c not in old:
                d.added.append((level, c, lab))
            elif old[c] != lab:
                d.renamed.append((level, c, old[c], lab))
        for c, lab in old.items():
            if c not in new:
                d.removed.append((level, c, lab))
        if level == "fine" and "fine_parents" in ck:
            parents = dict(zip(ck["fine_curies"], ck["fine_parents"], strict=True))
            for t in ont.terms("fine"):
                if t.curie in parents and parents[t.curie] != t.parent:
                    d.moved.append((level, t.curie, t.label))
    if not (d.added or d.removed or d.renamed or d.moved):
        d.hash_only = ck.get("ontology_hash") != ont.content_hash()
    return d


def load_checkpoint(
    path: str | os.PathLike, ont=None, *, allow_ontology_change: bool = False
) -> tuple[dict[str, Any], OntologyDiff]:
    """Read a checkpoint and compare it with ``ont`` (when given).

    A different ontology raises :class:`OntologyMismatchError` naming the added, removed,
    renamed and moved terms, unless ``allow_ontology_change`` — then the diff is returned and
    the caller predicts over the current ontology (new terms zero-shot through the text
    adapter).
    """
    ck = read_checkpoint(path)
    diff = OntologyDiff()
    if ont is not None and ck.get("ontology_hash") != ont.content_hash():
        diff = ontology_diff(ck, ont)
        if not allow_ontology_change:
            h_old = str(ck.get("ontology_hash", "?")).split(":")[-1][:12]
            raise OntologyMismatchError(
                f"{path} was trained on another version of the ontology ({h_old}… vs "
                f"{ont.short_hash()}… in use): {diff.explain()}; predictions over the current "
                "ontology would be zero-shot for changed terms — pass --allow-ontology-change "
                "to accept that, or use the ontology the model was trained on"
            )
    return ck, diff
