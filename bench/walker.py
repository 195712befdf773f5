"""Knowledge-graph and negative-walker speed, against a naive Python loop in the same run.

    python bench/walker.py [--json] [--batch 256] [--k 16]

Times (milliseconds, median of repeats): building the graph of the shipped ontology and the
fine-level walker, drawing ``k`` negatives for a batch of ``B`` positives, the (B, 387) band
masks and negative mask, and the same with several positives per row.  ``naive_*`` is a
straightforward per-row Python loop over the same precomputed bands (sets and
``Generator.choice``); ``speedup_*`` is naive / vectorised, measured in this run, so that it
holds on a noisy machine.  The walker's batch calls are pure numpy on one thread.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, machine, timeit

from anatloc.kgtools.graph import KnowledgeGraph
from anatloc.kgtools.walker import Walker
from anatloc.ontology import load_ontology


class NaiveWalker:
    """The per-row loop that the vectorised walker replaces (same bands, same weights)."""

    def __init__(self, walker: Walker):
        kg = walker.kg
        self.curies = walker.curies()
        pos = {c: i for i, c in enumerate(self.curies)}
        self.n = len(self.curies)
        self.excluded = [
            {i} | {pos[c] for c in kg.ambiguous(cu) if c in pos} for i, cu in enumerate(self.curies)
        ]
        w = walker.candidate_weights(np.arange(self.n))
        self.semi = [{int(j): float(w[i, j]) for j in np.flatnonzero(w[i])} for i in range(self.n)]

    def negatives(self, positives, k: int, share: float, rng: np.random.Generator) -> np.ndarray:
        out = np.empty((len(positives), k), dtype=np.int64)
        for b, p in enumerate(positives):
            excluded = self.excluded[p]
            semi = self.semi[p]
            easy = [j for j in range(self.n) if j not in excluded and j not in semi]
            want = k * share
            ks = int(want) + int(rng.random() < want - int(want))
            ks = min(ks, len(semi))
            ke = k - ks
            cand = list(semi)
            p_semi = np.array([semi[j] for j in cand])
            pick_s = rng.choice(cand, size=ks, replace=False, p=p_semi / p_semi.sum()) if ks else []
            pick_e = rng.choice(easy, size=ke, replace=False) if ke else []
            out[b] = np.concatenate([np.asarray(pick_s, dtype=np.int64), pick_e])
        return out

    def band_masks(self, positives) -> dict[str, np.ndarray]:
        b = len(positives)
        excluded = np.zeros((b, self.n), dtype=bool)
        semi = np.zeros((b, self.n), dtype=bool)
        for r, p in enumerate(positives):
            for j in range(self.n):
                if j in self.excluded[p]:
                    excluded[r, j] = True
                elif j in self.semi[p]:
                    semi[r, j] = True
        return {"excluded": excluded, "semi_hard": semi, "easy": ~(excluded | semi)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print only JSON")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--k", type=int, default=16)
    args = ap.parse_args()

    ont = load_ontology()
    kg = KnowledgeGraph(ont)
    walker = Walker(kg, level="fine")
    n = len(walker.curies())
    rng = np.random.default_rng(0)
    positives = rng.integers(0, n, args.batch)
    multi = np.where(rng.random((args.batch, 3)) < 0.5, rng.integers(0, n, (args.batch, 3)), -1)
    multi[:, 0] = positives
    naive = NaiveWalker(walker)

    info = machine()
    info["numpy"] = np.__version__
    info["thread_env"] = {
        k: os.environ[k]
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
        if k in os.environ
    }
    out: dict = {
        "machine": info,
        "terms": len(ont),
        "level": "fine",
        "vocabulary": n,
        "batch": args.batch,
        "k": args.k,
        "graph": {"nodes": kg.graph.number_of_nodes(), "edges": kg.graph.number_of_edges()},
    }
    out["graph_build_ms"] = timeit(lambda: KnowledgeGraph(ont), repeat=5)
    out["walker_build_ms"] = timeit(lambda: Walker(kg, level="fine"), repeat=5)
    out["negatives_ms"] = timeit(lambda: walker.negatives(positives, args.k, rng=1), repeat=21)
    out["negatives_multi_positive_ms"] = timeit(
        lambda: walker.negatives(multi, args.k, rng=1), repeat=21
    )
    out["band_masks_ms"] = timeit(lambda: walker.band_masks(positives), repeat=21)
    out["band_masks_multi_positive_ms"] = timeit(lambda: walker.band_masks(multi), repeat=21)
    out["negative_mask_ms"] = timeit(lambda: walker.negative_mask(positives), repeat=21)
    gen = np.random.default_rng(1)
    out["naive_negatives_ms"] = timeit(
        lambda: naive.negatives(positives, args.k, walker.mix, gen), repeat=5
    )
    out["naive_band_masks_ms"] = timeit(lambda: naive.band_masks(positives), repeat=3)
    vec, loop = walker.band_masks(positives), naive.band_masks(positives)
    out["band_masks_agree_with_naive"] = all(np.array_equal(vec[k], loop[k]) for k in vec)
    out["speedup_negatives"] = round(
        out["naive_negatives_ms"]["median_ms"] / out["negatives_ms"]["median_ms"], 1
    )
    out["speedup_band_masks"] = round(
        out["naive_band_masks_ms"]["median_ms"] / out["band_masks_ms"]["median_ms"], 1
    )
    if args.json:
        emit(out, True)
        return
    print(
        f"graph {out['graph']['nodes']} nodes / {out['graph']['edges']} edges built in "
        f"{out['graph_build_ms']['median_ms']} ms; fine walker in "
        f"{out['walker_build_ms']['median_ms']} ms"
    )
    print(
        f"negatives B={args.batch} k={args.k}: {out['negatives_ms']['median_ms']} ms "
        f"(naive loop {out['naive_negatives_ms']['median_ms']} ms, x{out['speedup_negatives']})"
    )
    print(
        f"band masks ({args.batch}, {n}): {out['band_masks_ms']['median_ms']} ms "
        f"(naive loop {out['naive_band_masks_ms']['median_ms']} ms, x{out['speedup_band_masks']}); "
        f"negative mask {out['negative_mask_ms']['median_ms']} ms"
    )
    print(f"cpus {info.get('affinity_cpus', info['cpus'])}; --json for everything")


if __name__ == "__main__":
    main()
