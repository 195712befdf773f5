"""Prediction: :class:`Localizer` turns lesions into location names, batched.

>>> loc = Localizer.from_checkpoint("model.pt")            # doctest: +SKIP
>>> preds = loc.predict("lesions.csv")                      # doctest: +SKIP
>>> preds[0].location, preds[0].coarse, preds[0].abstained  # doctest: +SKIP
('Liver S7', 'Liver', False)

The text side is computed once per :class:`Localizer` (the adapter applied to the frozen
text embeddings of every coarse and fine term) and reused for every batch; against the
ontology the model was trained on, the frozen embeddings come from the checkpoint itself
and no text encoder is loaded.  Images of a case are loaded once and all its lesions are
cut together; the network runs under ``torch.inference_mode`` on batches of lesions, and
retrieval is one batched tensor operation (:mod:`.hierarchy`).  ``torch.set_num_threads``
is left as the caller set it.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from anatloc.ontology.errors import DataError, UsageError

from .checkpoint import OntologyDiff, load_checkpoint
from .config import Preset
from .data import case_patches
from .hierarchy import Retrieval, fine_to_coarse_table, flat_retrieve, large_lesions, retrieve
from .model import Retriever, fuse_for_inference
from .table import LesionRecord, read_lesion_table

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = (
    "location",
    "curie",
    "coarse",
    "coarse_curie",
    "region",
    "score",
    "top3",
    "abstained",
)


PRECISIONS = ("auto", "fp32", "bf16")


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 in hardware (CUDA, or a CPU with AVX512-BF16 or
    AMX); elsewhere bf16 is emulated and slower than fp32."""
    if device.type == "cuda":
        return True
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def resolve_precision(precision: str, device: torch.device, trained_in: str | None = None) -> str:
    """ "fp32" or "bf16" for inference.  "auto": bf16 on CUDA; on a CPU, bf16 when the model
    was trained under bf16 autocast (``trained_in``, a GPU run) and the CPU has native bf16,
    else fp32.  An explicit "bf16" where it would be emulated is a usage error."""
    if precision not in PRECISIONS:
        raise UsageError(
            f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}"
        )
    if precision == "fp32":
        return "fp32"
    if precision == "bf16":
        if not native_bf16(device):
            raise UsageError(
                "--precision bf16 needs a CUDA device or a CPU with AVX512-BF16 or AMX; "
                "this CPU would emulate it (slower than fp32)"
            )
        return "bf16"
    if device.type == "cuda":
        return "bf16"
    return "bf16" if trained_in == "bf16" and native_bf16(device) else "fp32"


def trained_precision(checkpoint: dict[str, Any] | None) -> str | None:
    """The precision a checkpoint was trained in ("bf16" for runs on CUDA, which train under
    bf16 autocast; "fp32" on CPU); checkpoints from before the field say it by their device."""
    training = (checkpoint or {}).get("training") or {}
    if "precision" in training:
        return str(training["precision"])
    dev = training.get("device")
    return None if dev is None else ("bf16" if str(dev).startswith("cuda") else "fp32")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """ "auto" → CUDA when present, else CPU; "cuda" without CUDA is a usage error."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for, but no CUDA device is available")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise UsageError(f"unknown device {device!r}; expected auto, cpu or cuda")
    return torch.device(device)


@dataclass
class Prediction:
    """One lesion's answer (the lesion's own columns are in ``columns``)."""

    lesion_id: str
    case_id: str
    location: str
    curie: str
    coarse: str
    coarse_curie: str
    region: str
    score: float
    top3: list[str]
    top3_curies: list[str]
    abstained: bool
    columns: dict[str, str] = field(default_factory=dict)

    def as_row(self) -> dict[str, Any]:
        """The lesion's columns plus the prediction columns (``top3`` labels ``|``-joined)."""
        row: dict[str, Any] = dict(self.columns)
        row.setdefault("lesion_id", self.lesion_id)
        row.setdefault("case_id", self.case_id)
        row.update(
            location=self.location,
            curie=self.curie,
            coarse=self.coarse,
            coarse_curie=self.coarse_curie,
            region=self.region,
            score=round(float(self.score), 4),
            top3="|".join(self.top3),
            abstained=bool(self.abstained),
        )
        return row


class Localizer:
    """A trained retriever ready to name lesion locations over an ontology."""

    def __init__(
        self,
        model: Retriever,
        preset: Preset,
        ont,
        text_coarse: torch.Tensor,
        text_fine: torch.Tensor,
        *,
        device: torch.device,
        checkpoint: dict[str, Any] | None = None,
        diff: OntologyDiff | None = None,
        precision: str = "auto",
    ):
        # a copy: folding BatchNorm into the convolutions must not change the caller's model
        self.model = fuse_for_inference(copy.deepcopy(model).eval()).to(device)
        self.preset = preset
        self.ont = ont
        self.device = device
        self.diff = diff or OntologyDiff()
        self.meta = {k: v for k, v in (checkpoint or {}).items() if k in ("training", "metrics")}
        self.coarse_terms = ont.terms("coarse")
        self.fine_terms = ont.terms("fine")
        self.f2c = fine_to_coarse_table(
            ont, [t.curie for t in self.fine_terms], [t.curie for t in self.coarse_terms]
        ).to(device)
        self._frozen = {"coarse": text_coarse.float(), "fine": text_fine.float()}
        self._text: dict[str, torch.Tensor] | None = None
        self.channels_last = device.type == "cpu"
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last_3d)
        #: "fp32" or "bf16": the autocast of the image encoders (see :func:`resolve_precision`)
        self.precision = resolve_precision(precision, device, trained_precision(checkpoint))
        self.last_timing: dict[str, float] = {}

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_checkpoint(
        cls,
        path: str | os.PathLike,
        device: str | torch.device = "auto",
        ontology=None,
        *,
        allow_ontology_change: bool = False,
        text_encoder=None,
        cache=None,
        precision: str = "auto",
        text_progress=None,
    ) -> Localizer:
        """Load a checkpoint for prediction over ``ontology`` (default: ``load_ontology()``).

        Against the training ontology the frozen text embeddings stored in the checkpoint
        are used; against a changed one (``allow_ontology_change=True``) the current terms
        are embedded by the checkpoint's text model (or ``text_encoder``) — new terms are
        predicted zero-shot through the trained text adapter.  ``precision``: see
        :func:`resolve_precision`.  ``text_progress(done, total)`` follows that embedding
        when it is not in the text bank cache (see :meth:`TextBank.build`).
        """
        from anatloc.ontology import load_ontology

        ont = ontology if ontology is not None else load_ontology()
        ck, diff = load_checkpoint(path, ont, allow_ontology_change=allow_ontology_change)
        preset = Preset.from_dict(ck["preset"])
        dev = resolve_device(device)
        model = Retriever.from_preset(preset)
        try:
            model.load_state_dict(ck["state_dict"])
        except RuntimeError as exc:
            raise DataError(
                f"{path}: the weights do not fit the stored configuration ({exc})"
            ) from None
        if ck.get("ontology_hash") == ont.content_hash():
            tc, tf = ck["text_coarse"], ck["text_fine"]
        else:
            tc, tf = cls._embed_current(ck, ont, preset, text_encoder, cache, text_progress)
        return cls(
            model, preset, ont, tc, tf, device=dev, checkpoint=ck, diff=diff, precision=precision
        )

    @staticmethod
    def _embed_current(
        ck, ont, preset: Preset, encoder, cache, progress=None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        from .text import SentenceEncoder, TextBank

        if encoder is None:
            encoder = SentenceEncoder(ck.get("text_model_path", ""))
        if getattr(encoder, "model_id", None) != ck.get("text_model"):
            raise DataError(
                f"the checkpoint was trained with the text model {ck.get('text_model')!r}, but "
                f"{getattr(encoder, 'model_id', '?')!r} is in use; the text embeddings would not match"
            )
        bank = TextBank.build(
            ont, encoder, mode=ck.get("text_mode", "descriptions"), cache=cache, progress=progress
        )
        how = preset.model.text_pool
        return (
            torch.from_numpy(bank["coarse"].pooled(how)),
            torch.from_numpy(bank["fine"].pooled(how)),
        )

    # -- the hot path ---------------------------------------------------------------------
    def text_embeddings(self) -> dict[str, torch.Tensor]:
        """Adapted, unit-normalised text embeddings of every term (computed once)."""
        if self._text is None:
            with torch.inference_mode():
                self._text = {
                    lvl: self.model.encode_text(lvl, emb.to(self.device))
                    for lvl, emb in self._frozen.items()
                }
        return self._text

    def retrieve_patches(
        self,
        local: torch.Tensor,
        context: torch.Tensor,
        sizes_mm: torch.Tensor | np.ndarray | None = None,
        *,
        top_k: int | None = None,
        abstain_threshold: float | None = None,
        hierarchical: bool | None = None,
    ) -> Retrieval:
        """Encode network inputs (B, 4, …) and retrieve; one batch, no Python loop.

        ``hierarchical=False`` searches all fine terms at once (the "no hierarchy"
        ablation; default: the checkpoint's ``hierarchical``)."""
        cfg = self.preset.model
        flat = not (cfg.hierarchical if hierarchical is None else hierarchical)
        text = self.text_embeddings()
        with torch.inference_mode():
            local = local.to(self.device, non_blocking=True)
            context = context.to(self.device, non_blocking=True)
            if self.channels_last:
                local = local.contiguous(memory_format=torch.channels_last_3d)
                context = context.contiguous(memory_format=torch.channels_last_3d)
            with torch.autocast(
                device_type=self.device.type,
                dtype=torch.bfloat16,
                enabled=self.precision == "bf16",
            ):
                img = self.model.encode_image(local, context)
            scale = self.model.scale().float()
            large = None
            if sizes_mm is not None:
                large = large_lesions(
                    torch.as_tensor(np.asarray(sizes_mm), dtype=torch.float32), cfg.large_lesion_mm
                )
            if flat:
                return flat_retrieve(
                    img.fine.float() @ text["fine"].T, scale, self.f2c, large=large
                )
            return retrieve(
                img.coarse.float() @ text["coarse"].T,
                img.fine.float() @ text["fine"].T,
                scale,
                self.f2c,
                top_k=top_k or cfg.top_k,
                abstain_threshold=cfg.abstain_threshold
                if abstain_threshold is None
                else abstain_threshold,
                large=large,
            )

    # -- tables -----------------------------------------------------------------------------
    def predict(
        self,
        lesions: str | os.PathLike | Sequence[LesionRecord],
        *,
        batch_size: int = 64,
        top_k: int | None = None,
        abstain_threshold: float | None = None,
        hierarchical: bool | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Prediction]:
        """Predict the location of every lesion (a lesion table path or records);
        ``hierarchical=False`` retrieves flat over all fine terms (see
        :meth:`retrieve_patches`)."""
        if isinstance(lesions, str | os.PathLike):
            records = read_lesion_table(Path(lesions), self.ont)
        else:
            records = list(lesions)
        if not records:
            return []
        out: list[Prediction | None] = [None] * len(records)
        t_patch = t_net = 0.0
        cfg = self.preset.data
        t0 = time.perf_counter()
        for idx, loc, ctx, sizes in case_patches(records, cfg, progress):
            t1 = time.perf_counter()
            t_patch += t1 - t0
            for s0 in range(0, len(idx), batch_size):
                sl = slice(s0, s0 + batch_size)
                ret = self.retrieve_patches(
                    loc[sl],
                    ctx[sl],
                    sizes[sl],
                    top_k=top_k,
                    abstain_threshold=abstain_threshold,
                    hierarchical=hierarchical,
                )
                for j, p in enumerate(self._to_predictions(ret, [records[i] for i in idx[sl]])):
                    out[idx[sl][j]] = p
            t0 = time.perf_counter()
            t_net += t0 - t1
        n = len(records)
        self.last_timing = {
            "lesions": n,
            "patch_ms_per_lesion": 1000 * t_patch / n,
            "model_ms_per_lesion": 1000 * t_net / n,
        }
        return [p for p in out if p is not None]

    def _to_predictions(self, ret: Retrieval, records: Sequence[LesionRecord]) -> list[Prediction]:
        fine = ret.fine.cpu().numpy()
        coarse = ret.coarse.cpu().numpy()
        abst = ret.abstained.cpu().numpy()
        score = ret.score.float().cpu().numpy()
        top = ret.fine_top.cpu().numpy()
        top_p = ret.fine_top_prob.float().cpu().numpy()
        preds = []
        for b, rec in enumerate(records):
            c = self.coarse_terms[int(coarse[b])]
            if abst[b]:
                name, curie = c.label, c.curie
            else:
                f = self.fine_terms[int(fine[b])]
                name, curie = f.label, f.curie
            tops = [self.fine_terms[int(i)] for i, p in zip(top[b], top_p[b], strict=True) if p > 0]
            preds.append(
                Prediction(
                    lesion_id=rec.lesion_id,
                    case_id=rec.case_id,
                    location=name,
                    curie=curie,
                    coarse=c.label,
                    coarse_curie=c.curie,
                    region=self.ont.region_of(c).label,
                    score=float(score[b]),
                    top3=[t.label for t in tops],
                    top3_curies=[t.curie for t in tops],
                    abstained=bool(abst[b]),
                    columns=dict(rec.row),
                )
            )
        return preds
