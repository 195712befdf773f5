"""The contrastive loss against a naive per-sample Python loop, forward and backward."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from anatloc.retriever.loss import ContrastiveLoss, contrastive_loss, positive_mask


def naive_loss(img, txt, scale, positives, excluded, semi_hard, eps, weight, margin):
    """The definition, one sample and one candidate at a time."""
    B, N = img.shape[0], txt.shape[0]
    total = img.new_zeros(())
    rows = 0
    for b in range(B):
        pos = sorted({int(p) for p in positives[b] if p >= 0})
        if not pos:
            continue
        rows += 1
        sims = [torch.dot(img[b], txt[n]) for n in range(N)]
        allowed = [n for n in range(N) if n in pos or excluded is None or not bool(excluded[b, n])]
        if not allowed:
            allowed = list(range(N))
        best = max(float(sims[p].detach()) for p in pos)
        logits = {}
        for n in allowed:
            z = scale * sims[n]
            if (
                semi_hard is not None
                and n not in pos
                and bool(semi_hard[b, n])
                and best - margin <= float(sims[n].detach()) < best
            ):
                z = z + math.log(weight)
            logits[n] = z
        lse = torch.logsumexp(torch.stack([logits[n] for n in allowed]), 0)
        loss_b = img.new_zeros(())
        for n in allowed:
            q = eps / len(allowed) + ((1 - eps) / len(pos) if n in pos else 0.0)
            loss_b = loss_b - q * (logits[n] - lse)
        total = total + loss_b
    return total / max(rows, 1)


def _case(seed, B=5, N=11, D=8, P=3, p_exc=0.3, p_semi=0.4):
    g = torch.Generator().manual_seed(seed)
    img = F.normalize(torch.randn(B, D, generator=g), dim=1)
    txt = F.normalize(torch.randn(N, D, generator=g), dim=1)
    positives = torch.full((B, P), -1, dtype=torch.long)
    for b in range(B):
        k = int(torch.randint(1, P + 1, (1,), generator=g))
        positives[b, :k] = torch.randperm(N, generator=g)[:k]
    excluded = torch.rand(B, N, generator=g) < p_exc
    semi = torch.rand(B, N, generator=g) < p_semi
    return img, txt, positives, excluded, semi


def _compare(img, txt, scale, positives, excluded, semi, eps, weight, margin):
    a_img = img.clone().requires_grad_(True)
    a_txt = txt.clone().requires_grad_(True)
    a_scale = torch.tensor(scale, requires_grad=True)
    out = contrastive_loss(
        a_img,
        a_txt,
        a_scale,
        positives,
        excluded,
        semi,
        label_smoothing=eps,
        semi_hard_weight=weight,
        margin=margin,
    )
    out["loss"].backward()
    b_img = img.clone().requires_grad_(True)
    b_txt = txt.clone().requires_grad_(True)
    b_scale = torch.tensor(scale, requires_grad=True)
    ref = naive_loss(b_img, b_txt, b_scale, positives, excluded, semi, eps, weight, margin)
    ref.backward()
    torch.testing.assert_close(out["loss"], ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a_img.grad, b_img.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(a_txt.grad, b_txt.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(a_scale.grad, b_scale.grad, rtol=1e-4, atol=1e-6)
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    ("eps", "weight", "margin"), [(0.1, 2.0, 0.3), (0.0, 1.0, 0.2), (0.2, 4.0, 2.0)]
)
def test_matches_naive_loop_forward_and_backward(seed, eps, weight, margin):
    img, txt, pos, exc, semi = _case(seed)
    _compare(img, txt, 10.0, pos, exc, semi, eps, weight, margin)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    B=st.integers(1, 6),
    N=st.integers(2, 9),
    P=st.integers(1, 4),
    eps=st.floats(0.0, 0.5),
    p_exc=st.sampled_from([0.0, 0.5, 1.0]),
)
def test_matches_naive_loop_property(seed, B, N, P, eps, p_exc):
    img, txt, pos, exc, semi = _case(seed, B=B, N=N, P=min(P, N), p_exc=p_exc)
    _compare(img, txt, 7.0, pos, exc, semi, eps, 3.0, 0.5)


def test_multiple_positives_share_the_target():
    img, txt, _, _, _ = _case(1, B=1, N=6)
    pos = torch.tensor([[2, 4, -1]])
    out = _compare(img, txt, 5.0, pos, None, None, 0.0, 1.0, 0.2)
    logp = torch.log_softmax(5.0 * img @ txt.T, dim=1)
    assert torch.isclose(out["loss"], -(logp[0, 2] + logp[0, 4]) / 2)


def test_all_excluded_leaves_only_positives():
    img, txt, _, _, _ = _case(2, B=2, N=7)
    pos = torch.tensor([[1, 3], [0, -1]])
    exc = torch.ones(2, 7, dtype=torch.bool)  # excludes everything, positives included
    out = _compare(img, txt, 9.0, pos, exc, None, 0.1, 2.0, 0.2)
    assert out["allowed"] == pytest.approx(1.5)  # only the positives stay: 2 and 1
    # a row whose only candidate is its positive has zero loss
    single = contrastive_loss(img[1:], txt, 9.0, pos[1:, :1], exc[1:], None)
    assert single["loss"].item() == pytest.approx(0.0, abs=1e-6)


def test_rows_without_positives_are_ignored_and_empty_batch_is_zero():
    img, txt, pos, exc, semi = _case(3, B=4, N=8)
    pos[1] = -1
    _compare(img, txt, 6.0, pos, exc, semi, 0.1, 2.0, 0.3)
    nothing = torch.full((4, 2), -1)
    x = img.clone().requires_grad_(True)
    out = contrastive_loss(x, txt, 6.0, nothing, torch.ones(4, 8, dtype=torch.bool), semi)
    out["loss"].backward()
    assert out["loss"].item() == 0.0 and torch.isfinite(x.grad).all() and out["rows"] == 0


def test_plain_setting_is_cross_entropy():
    img, txt, _, _, _ = _case(4, B=6, N=10)
    target = torch.arange(6) % 10
    out = contrastive_loss(img, txt, 12.0, target[:, None], None, None, label_smoothing=0.0)
    ref = F.cross_entropy(12.0 * img @ txt.T, target)
    torch.testing.assert_close(out["loss"], ref)
    smooth = contrastive_loss(img, txt, 12.0, target[:, None], None, None, label_smoothing=0.1)
    ref = F.cross_entropy(12.0 * img @ txt.T, target, label_smoothing=0.1)
    torch.testing.assert_close(smooth["loss"], ref)


def test_semi_hard_weight_raises_the_loss_only_for_close_negatives():
    img = F.normalize(torch.tensor([[1.0, 0.0]]), dim=1)
    txt = F.normalize(torch.tensor([[1.0, 0.0], [0.9, 0.3], [-1.0, 0.0]]), dim=1)
    pos = torch.tensor([[0]])
    semi = torch.tensor([[False, True, True]])  # 1 is close (below the positive), 2 is far
    base = contrastive_loss(img, txt, 10.0, pos, None, None, label_smoothing=0.0)
    up = contrastive_loss(img, txt, 10.0, pos, None, semi, label_smoothing=0.0, margin=0.2)
    assert up["loss"] > base["loss"]
    assert up["semi_hard_frac"].item() == pytest.approx(0.5)  # 1 of the 2 negatives
    far_only = torch.tensor([[False, False, True]])
    same = contrastive_loss(img, txt, 10.0, pos, None, far_only, label_smoothing=0.0, margin=0.2)
    torch.testing.assert_close(same["loss"], base["loss"])


def test_positive_mask_and_module_wrapper():
    m = positive_mask(torch.tensor([[0, 2, -1], [-1, -1, -1]]), 4)
    assert m.tolist() == [[True, False, True, False], [False] * 4]
    img, txt, pos, exc, semi = _case(5)
    mod = ContrastiveLoss(label_smoothing=0.05, semi_hard_weight=3.0, margin=0.4)
    a = mod(img, txt, 8.0, pos, exc, semi)["loss"]
    b = contrastive_loss(
        img, txt, 8.0, pos, exc, semi, label_smoothing=0.05, semi_hard_weight=3.0, margin=0.4
    )["loss"]
    torch.testing.assert_close(a, b)
