"""The contrastive loss: image embeddings against the whole vocabulary of a level.

:func:`contrastive_loss` is a pure function (no module state).  For a batch of B image
embeddings and the N text embeddings of *every* term of a level (124 coarse or 387 fine),
both unit vectors, with ``scale`` the model's logit scale:

* cosine similarities ``s[b, n] = img[b]·txt[n]`` and logits ``z = scale · s``;
* ``P_b`` the positives of row b (``positives`` (B, P), −1 padding; several acceptable
  labels are several positives); ``A_b`` the allowed entries: all but the ``excluded`` ones
  (the walker's ambiguous set: ancestors, descendants, "Near X" partners), **positives always
  allowed**;
* semi-hard selection: a negative ``n`` in the ``semi_hard`` band whose detached similarity
  lies below the best positive's, ``s⁺_b − margin ≤ s[b, n] < s⁺_b``, gets the weight
  ``w = semi_hard_weight`` in the softmax denominator (implemented as ``z + log w``), every
  other entry weight 1;
* ``log p[b, n] = z'[b, n] − logsumexp_{m ∈ A_b} z'[b, m]``;
* the target puts ``(1 − ε)`` uniformly over ``P_b`` and ``ε`` uniformly over ``A_b``
  (label smoothing ε);
* ``loss_b = −Σ_n q[b, n] log p[b, n]``, averaged over the rows that have a positive.

With ``excluded=None, semi_hard=None, label_smoothing=0`` it is plain cross-entropy over the
vocabulary (the "random negatives" ablation).  It is checked against a per-sample Python
loop, forward and backward, in ``tests/retriever/test_loss.py``.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def positive_mask(positives: torch.Tensor, n: int) -> torch.Tensor:
    """(B, P) indices with −1 padding → (B, N) boolean mask."""
    B = positives.shape[0]
    mask = torch.zeros((B, n + 1), dtype=torch.bool, device=positives.device)
    idx = torch.where(positives < 0, torch.full_like(positives, n), positives)
    mask.scatter_(1, idx.long(), True)
    return mask[:, :n]


def contrastive_loss(
    img: torch.Tensor,
    txt: torch.Tensor,
    scale: torch.Tensor | float,
    positives: torch.Tensor,
    excluded: torch.Tensor | None = None,
    semi_hard: torch.Tensor | None = None,
    *,
    label_smoothing: float = 0.1,
    semi_hard_weight: float = 2.0,
    margin: float = 0.2,
) -> dict[str, torch.Tensor]:
    """Loss of ``img`` (B, D) against the whole vocabulary ``txt`` (N, D); see the module doc.

    Returns ``loss`` (scalar, differentiable) and diagnostics (detached): ``nll`` (the
    positives' term), ``smooth`` (the label-smoothing term), ``acc`` (top-1 among the allowed
    entries is a positive), ``semi_hard_frac`` (share of allowed negatives up-weighted),
    ``allowed`` (mean |A_b|), ``rows`` (rows with a positive).
    """
    img = img.float()
    txt = txt.float()
    N = txt.shape[0]
    scale_t = torch.as_tensor(scale, dtype=torch.float32, device=img.device)
    sim = img @ txt.T  # (B, N)
    logits = scale_t * sim
    pos = positive_mask(positives, N)
    has_pos = pos.any(dim=1)
    allowed = torch.ones_like(pos) if excluded is None else ~excluded.to(torch.bool)
    allowed = allowed | pos
    allowed = allowed | ~allowed.any(dim=1, keepdim=True)  # an all-excluded empty row: inert

    log_w = torch.zeros_like(logits)
    sh_frac = torch.zeros((), device=img.device)
    if semi_hard is not None and semi_hard_weight != 1.0:
        s = sim.detach()
        best = torch.where(pos, s, torch.full_like(s, -math.inf)).amax(dim=1, keepdim=True)
        band = semi_hard.to(torch.bool) & allowed & ~pos & (s < best) & (s >= best - margin)
        log_w = band.to(logits.dtype) * math.log(semi_hard_weight)
        neg = (allowed & ~pos).sum(dim=1).clamp_min(1)
        sh_frac = (band.sum(dim=1) / neg)[has_pos].mean() if has_pos.any() else sh_frac

    z = torch.where(allowed, logits + log_w, torch.full_like(logits, -math.inf))
    logp = z - torch.logsumexp(z, dim=1, keepdim=True)
    logp = torch.where(allowed, logp, torch.zeros_like(logp))  # no −inf · 0

    n_pos = pos.sum(dim=1).clamp_min(1)
    n_allowed = allowed.sum(dim=1).clamp_min(1)
    nll = -(logp * pos).sum(dim=1) / n_pos
    smooth = -(logp * allowed).sum(dim=1) / n_allowed
    eps = float(label_smoothing)
    per_row = (1.0 - eps) * nll + eps * smooth
    rows = has_pos.sum()
    w = has_pos.to(per_row.dtype)
    loss = (per_row * w).sum() / rows.clamp_min(1)

    with torch.no_grad():
        top = torch.where(allowed, logits, torch.full_like(logits, -math.inf)).argmax(dim=1)
        hit = pos.gather(1, top[:, None])[:, 0] & has_pos
        denom = rows.clamp_min(1)
        out_diag = {
            "nll": (nll * w).sum() / denom,
            "smooth": (smooth * w).sum() / denom,
            "acc": hit.sum() / denom,
            "semi_hard_frac": sh_frac,
            "allowed": n_allowed.float().mean(),
            "rows": rows,
        }
    return {"loss": loss, **{k: v.detach() for k, v in out_diag.items()}}


class ContrastiveLoss(nn.Module):
    """Holds the loss settings; ``forward`` calls :func:`contrastive_loss`."""

    def __init__(
        self, label_smoothing: float = 0.1, semi_hard_weight: float = 2.0, margin: float = 0.2
    ):
        super().__init__()
        self.label_smoothing = label_smoothing
        self.semi_hard_weight = semi_hard_weight
        self.margin = margin

    def forward(self, img, txt, scale, positives, excluded=None, semi_hard=None):
        return contrastive_loss(
            img,
            txt,
            scale,
            positives,
            excluded,
            semi_hard,
            label_smoothing=self.label_smoothing,
            semi_hard_weight=self.semi_hard_weight,
            margin=self.margin,
        )
