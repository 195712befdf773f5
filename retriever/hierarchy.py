"""Coarse-to-fine retrieval as batched tensor operations over a fixed fine → coarse table.

For B lesions with cosine similarities to all coarse (Nc) and all fine (Nf) terms:

1. ``p_c = softmax(scale · s_coarse)`` over the Nc coarse locations; the top-k (default 3)
   are kept;
2. the fine search is restricted by a (B, Nf) mask to the children of those k coarse
   locations — one gather through the fixed (Nf,) fine → coarse index table, no loop;
3. within the mask each fine candidate f scores ``q_f ∝ p_c(parent f) · exp(scale · s_f)``
   (a product of the two experts, normalised over the mask).  *Why not the joint
   p(c)·p(f | c) with p(f | c) normalised per parent?*  It penalises coarse locations with
   many look-alike children (eight liver segments split their parent's mass eightfold), so a
   lesion 60 % "liver" and 30 % "gallbladder" would be sent to the gallbladder;
4. the prediction is the best ``q_f``; when ``q_f`` is below ``abstain_threshold`` (or the
   lesion is flagged ``large``: the reference rule, box > 100 mm on its smallest side) the
   prediction backs off to the coarse location with the largest mass ``Σ_{f ∈ c} q_f`` and
   says so (``abstained``).  Otherwise the coarse location is the fine choice's parent, so a
   prediction is never inconsistent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass
class Retrieval:
    """Batched result; indices refer to the ordered fine / coarse tables."""

    fine: torch.Tensor  # (B,) best fine candidate (even when abstained)
    fine_top: torch.Tensor  # (B, t) best fine candidates, best first (t = min(3, Nf))
    fine_top_prob: torch.Tensor  # (B, t) their probabilities within the mask (0: outside)
    coarse: torch.Tensor  # (B,) the prediction's coarse location
    coarse_top: torch.Tensor  # (B, k) the top-k coarse of the coarse retrieval
    coarse_prob: torch.Tensor  # (B,) p_c of the predicted coarse location
    fine_prob: torch.Tensor  # (B,) q of the best fine candidate
    abstained: torch.Tensor  # (B,) bool
    score: torch.Tensor  # (B,) q of the fine choice, or the coarse mass when abstained


def fine_to_coarse_table(ont, fine_curies: Sequence[str], coarse_curies: Sequence[str]):
    """(Nf,) long: index in ``coarse_curies`` of each fine term's parent."""
    pos = {c: i for i, c in enumerate(coarse_curies)}
    return torch.tensor([pos[ont[c].parent] for c in fine_curies], dtype=torch.long)


def retrieve(
    coarse_sim: torch.Tensor,
    fine_sim: torch.Tensor,
    scale: torch.Tensor | float,
    fine_to_coarse: torch.Tensor,
    *,
    top_k: int = 3,
    abstain_threshold: float = 0.0,
    large: torch.Tensor | None = None,
) -> Retrieval:
    """Coarse top-k, then fine among their children; see the module docstring."""
    coarse_sim = coarse_sim.float()
    fine_sim = fine_sim.float()
    B, Nc = coarse_sim.shape
    f2c = fine_to_coarse.to(coarse_sim.device)
    k = min(top_k, Nc)
    log_pc = torch.log_softmax(scale * coarse_sim, dim=1)
    pc = log_pc.exp()
    top_c = pc.topk(k, dim=1).indices
    sel = torch.zeros((B, Nc), dtype=torch.bool, device=coarse_sim.device)
    sel.scatter_(1, top_c, True)
    mask = sel[:, f2c]  # (B, Nf): children of the top-k coarse
    empty = ~mask.any(dim=1)
    z = scale * fine_sim + log_pc[:, f2c]
    z = torch.where(mask, z, torch.full_like(z, -torch.inf))
    z = torch.where(empty[:, None], torch.zeros_like(z), z)  # no children: avoid NaN
    q = torch.softmax(z, dim=1) * mask
    t = min(3, q.shape[1])
    top_q, top_f = q.topk(t, dim=1)
    best = top_f[:, 0]
    q_best = top_q[:, 0]
    mass = torch.zeros((B, Nc), dtype=q.dtype, device=q.device).index_add_(1, f2c, q)
    mass_c = torch.where(empty[:, None], pc, mass).argmax(dim=1)
    abstained = (q_best < abstain_threshold) | empty
    if large is not None:
        abstained = abstained | large.to(abstained.device)
    coarse = torch.where(abstained, mass_c, f2c[best])
    coarse_mass = torch.where(
        empty, pc.gather(1, mass_c[:, None])[:, 0], mass.gather(1, mass_c[:, None])[:, 0]
    )
    score = torch.where(abstained, coarse_mass, q_best)
    return Retrieval(
        fine=best,
        fine_top=top_f,
        fine_top_prob=top_q,
        coarse=coarse,
        coarse_top=top_c,
        coarse_prob=pc.gather(1, coarse[:, None])[:, 0],
        fine_prob=q_best,
        abstained=abstained,
        score=score,
    )


def flat_retrieve(
    fine_sim: torch.Tensor,
    scale,
    fine_to_coarse: torch.Tensor,
    *,
    large: torch.Tensor | None = None,
) -> Retrieval:
    """Flat retrieval over all fine terms (the "no hierarchy" ablation): the best of all Nf
    fine terms, its parent as the coarse location.  ``large`` lesions back off to that
    parent (``abstained``), as in :func:`retrieve`, so that the two differ only in the
    search."""
    q = torch.softmax(scale * fine_sim.float(), dim=1)
    t = min(3, q.shape[1])
    top_q, top_f = q.topk(t, dim=1)
    f2c = fine_to_coarse.to(q.device)
    coarse = f2c[top_f[:, 0]]
    abstained = torch.zeros_like(coarse, dtype=torch.bool)
    if large is not None:
        abstained = abstained | large.to(abstained.device)
    # the mass of the parent, for a backed-off answer's score
    mass = torch.zeros((q.shape[0], int(f2c.max()) + 1), dtype=q.dtype, device=q.device)
    mass.index_add_(1, f2c, q)
    coarse_mass = mass.gather(1, coarse[:, None])[:, 0]
    return Retrieval(
        fine=top_f[:, 0],
        fine_top=top_f,
        fine_top_prob=top_q,
        coarse=coarse,
        coarse_top=coarse[:, None],
        coarse_prob=coarse_mass,
        fine_prob=top_q[:, 0],
        abstained=abstained,
        score=torch.where(abstained, coarse_mass, top_q[:, 0]),
    )


def large_lesions(sizes_mm: torch.Tensor, limit_mm: float) -> torch.Tensor:
    """(B,) True where a lesion's box is larger than ``limit_mm`` on its smallest side."""
    if limit_mm <= 0:
        return torch.zeros(sizes_mm.shape[0], dtype=torch.bool)
    return sizes_mm.min(dim=1).values > limit_mm
