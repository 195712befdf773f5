"""Hierarchy-aware negatives for contrastive training, vectorised for batches.

For a positive term the vocabulary of its level (``ont.curies(level)``, CURIE order) falls
into three disjoint bands:

``excluded``
    the positive itself and its ambiguous set (:meth:`KnowledgeGraph.ambiguous`: ancestors,
    descendants, "Near / Around / Between" partners, near-identical descriptions).  Never a
    negative.
``semi-hard``
    close but distinct terms: siblings under the same coarse location, adjacent structures,
    the contralateral twin, neighbouring vertebra or rib levels.  They are the terms that
    short, hierarchy-aware random walks with restart from the positive reach, and each
    carries the expected number of visits of such walks as its weight.
``easy``
    everything else.

The walks run on the whole graph (regions, coarse and fine terms), over ``part_of`` in both
directions and the ontology's relations; at each node the walk first picks a relation with
probability proportional to its weight (:data:`DEFAULT_RELATION_WEIGHTS`), then one of that
relation's neighbours uniformly.  A walk has at most ``walk_length`` steps and, after each
step, stops with probability ``restart`` (a new walk starts again at the positive).  The
weights are computed exactly (the sum over step counts t of ``(1 - restart)**(t - 1) T**t``,
T the transition matrix), not sampled, so they are the same on every machine.  When fewer than
``min_semi_hard`` terms of a level are reached, walks for that term are lengthened one step at
a time (up to ``max_walk_length``) until enough are.  When more than ``max_semi_hard`` are
reached (dense atlas relations can make short walks reach far), only the ``max_semi_hard``
with the largest weights stay semi-hard and the rest are easy, so the band stays close.

Defaults (also in ``docs/kgtools.md``):

=====================  ==========================================================
``mix``                ``{"semi-hard": 0.5, "easy": 0.5}`` (:data:`DEFAULT_MIX`)
``walk_length``        3 steps: enough for fine → coarse → sibling and for
                       fine → adjacent → its coarse → its siblings
``restart``            0.3 (probability to stop after each step)
``min_semi_hard``      16 terms
``max_semi_hard``      64 terms
``max_walk_length``    6 steps
relation weights       part_of up and down 1, adjacent_to 1, contralateral_to 1,
                       surrounds (both ways) 0.5, touches 0.5, at_level_of (both
                       ways) 0.25, the six positional relations 0 (each restates
                       a touches edge)
=====================  ==========================================================

The sampler draws, per row, a number of semi-hard slots with expectation ``k * mix["semi-hard"]``
(stochastic rounding), then samples without replacement — semi-hard terms by their walk weight,
easy terms uniformly — with the Gumbel-top-k trick on the whole (B, N) array at once.  When a
band has too few members the other band fills the shortfall.

Several acceptable labels per lesion: every batch method takes the positives as a 1-D array
(B,), a (B, P) array padded with -1, or a list of sets/lists of indices (or CURIEs).  The
excluded band is the union over a row's positives; semi-hard weights are summed over them.

The retriever's loss combines these graph bands with similarity-based selection: it masks
``excluded`` out of the softmax (:meth:`Walker.negative_mask`), and among the candidates of
:meth:`Walker.band_masks` / :meth:`Walker.candidate_weights` prefers the semi-hard ones that
score below the positive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from anatloc.ontology import vocab
from anatloc.ontology.errors import UnknownTermError, UsageError
from anatloc.ontology.model import Ontology

from .graph import INVERSE_NAMES, PART_OF, KnowledgeGraph

#: Band names, in the order of the band codes that :meth:`Walker.negatives` returns.
BANDS: tuple[str, ...] = ("excluded", "semi-hard", "easy")
EXCLUDED, SEMI_HARD, EASY = 0, 1, 2
#: Default share of each band among the negatives.
DEFAULT_MIX: dict[str, float] = {"semi-hard": 0.5, "easy": 0.5}
#: Default weight of each relation in the walk (a reverse view is named as in the graph).
DEFAULT_RELATION_WEIGHTS: dict[str, float] = {
    PART_OF: 1.0,
    "has_part": 1.0,
    "adjacent_to": 1.0,
    "contralateral_to": 1.0,
    "surrounds": 0.5,
    "surrounded_by": 0.5,
    "touches": 0.5,
    "superior_to": 0.0,
    "inferior_to": 0.0,
    "anterior_to": 0.0,
    "posterior_to": 0.0,
    "medial_to": 0.0,
    "lateral_to": 0.0,
    "at_level_of": 0.25,
    "level_of": 0.25,
}
DEFAULT_WALK_LENGTH = 3
DEFAULT_RESTART = 0.3
DEFAULT_MIN_SEMI_HARD = 16
DEFAULT_MAX_SEMI_HARD = 64
DEFAULT_MAX_WALK_LENGTH = 6

#: Whatever names a positive set: an index or a CURIE.
PositiveSpec = Any


@dataclass(frozen=True)
class WalkConfig:
    """The walk's settings (see the module docstring for their meaning and defaults)."""

    walk_length: int = DEFAULT_WALK_LENGTH
    restart: float = DEFAULT_RESTART
    min_semi_hard: int = DEFAULT_MIN_SEMI_HARD
    max_semi_hard: int = DEFAULT_MAX_SEMI_HARD
    max_walk_length: int = DEFAULT_MAX_WALK_LENGTH
    relation_weights: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_RELATION_WEIGHTS)
    )

    def check(self) -> WalkConfig:
        if self.walk_length < 1:
            raise UsageError(f"walk_length must be at least 1, not {self.walk_length}")
        if self.max_walk_length < self.walk_length:
            raise UsageError(
                f"max_walk_length ({self.max_walk_length}) must be at least walk_length "
                f"({self.walk_length})"
            )
        if not 0.0 <= self.restart < 1.0:
            raise UsageError(f"restart must be in [0, 1), not {self.restart}")
        if self.min_semi_hard < 0:
            raise UsageError(f"min_semi_hard must be >= 0, not {self.min_semi_hard}")
        if self.max_semi_hard < max(1, self.min_semi_hard):
            raise UsageError(
                f"max_semi_hard ({self.max_semi_hard}) must be at least 1 and min_semi_hard "
                f"({self.min_semi_hard})"
            )
        for name, w in self.relation_weights.items():
            if name not in DEFAULT_RELATION_WEIGHTS:
                raise UsageError(
                    f"unknown relation {name!r} in relation_weights; expected one of "
                    f"{', '.join(DEFAULT_RELATION_WEIGHTS)}"
                )
            if not w >= 0.0:
                raise UsageError(f"relation weight of {name} must be >= 0, not {w}")
        return self


def check_mix(mix: Mapping[str, float] | float | None) -> float:
    """The semi-hard share of a mix: a dict over ``semi-hard`` and ``easy``, or a float.

    The dict's values are normalised to sum to one; missing bands count 0.
    """
    if mix is None:
        mix = DEFAULT_MIX
    if isinstance(mix, int | float) and not isinstance(mix, bool):
        share = float(mix)
        if not 0.0 <= share <= 1.0:
            raise UsageError(f"the semi-hard share of the mix must be in [0, 1], not {mix}")
        return share
    if not isinstance(mix, Mapping):
        raise UsageError(f"mix must be a dict over semi-hard and easy, or a float, not {mix!r}")
    for k, v in mix.items():
        if k not in ("semi-hard", "easy"):
            raise UsageError(f"unknown band {k!r} in mix; expected semi-hard, easy")
        if not float(v) >= 0.0:
            raise UsageError(f"mix share of {k} must be >= 0, not {v}")
    total = sum(float(v) for v in mix.values())
    if total <= 0.0:
        raise UsageError("the mix shares sum to 0; give semi-hard and/or easy a positive share")
    return float(mix.get("semi-hard", 0.0)) / total


class _LevelTables:
    """Dense per-term tables of one level: row N is the all-empty padding row."""

    def __init__(self, level: str, curies: list[str], excluded: np.ndarray, weights: np.ndarray):
        n = len(curies)
        self.level = level
        self.curies = curies
        self.index = {c: i for i, c in enumerate(curies)}
        self.n = n
        self.excluded = np.zeros((n + 1, n), dtype=bool)
        self.excluded[:n] = excluded
        self.weights = np.zeros((n + 1, n), dtype=np.float64)
        self.weights[:n] = np.where(excluded, 0.0, weights)


class Walker:
    """Bands and negatives over the vocabulary of a level (default: fine).

    ``Walker(graph_or_ontology, level="fine", ...)`` builds the tables of ``level`` at once
    and those of another level the first time a method asks for it (``level=``).
    """

    def __init__(
        self,
        graph: KnowledgeGraph | Ontology,
        level: str = "fine",
        *,
        walk_length: int = DEFAULT_WALK_LENGTH,
        restart: float = DEFAULT_RESTART,
        min_semi_hard: int = DEFAULT_MIN_SEMI_HARD,
        max_semi_hard: int = DEFAULT_MAX_SEMI_HARD,
        max_walk_length: int = DEFAULT_MAX_WALK_LENGTH,
        relation_weights: Mapping[str, float] | None = None,
        mix: Mapping[str, float] | float | None = None,
    ):
        self.kg = graph if isinstance(graph, KnowledgeGraph) else KnowledgeGraph(graph)
        weights = dict(DEFAULT_RELATION_WEIGHTS)
        weights.update(relation_weights or {})
        self.config = WalkConfig(
            walk_length=walk_length,
            restart=restart,
            min_semi_hard=min_semi_hard,
            max_semi_hard=max_semi_hard,
            max_walk_length=max_walk_length,
            relation_weights=weights,
        ).check()
        self.level = self._check_level(level)
        self.mix = check_mix(mix)
        self._tables: dict[str, _LevelTables] = {}
        self._walks: list[np.ndarray] | None = None
        self._tables_for(self.level)

    # -- building ---------------------------------------------------------------------
    @staticmethod
    def _check_level(level: str) -> str:
        if level not in vocab.LEVELS:
            raise UsageError(f"unknown level {level!r}; expected one of {', '.join(vocab.LEVELS)}")
        return level

    def transition_matrix(self) -> np.ndarray:
        """The walk's row-stochastic (M, M) matrix over all terms, in ontology order.

        Rows of terms without any weighted edge are zero (the walk stops there).
        """
        kg, w = self.kg, self.config.relation_weights
        pos = {c: i for i, c in enumerate(kg.curies)}
        m = len(kg.curies)
        # per (node, relation view) the neighbour lists
        nbrs: list[dict[str, set[int]]] = [{} for _ in range(m)]
        for u, v, rel in kg.graph.edges(keys=True):
            i, j = pos[u], pos[v]
            nbrs[i].setdefault(rel, set()).add(j)
            back = INVERSE_NAMES.get(rel)
            if back is None:
                r = vocab.RELATIONS.get(rel)
                back = rel if r is not None and r.symmetric else (r.inverse if r else None)
            if back is not None:
                nbrs[j].setdefault(back, set()).add(i)
        t = np.zeros((m, m), dtype=np.float64)
        for i, by_rel in enumerate(nbrs):
            total = sum(w.get(r, 0.0) for r, js in by_rel.items() if js)
            if total <= 0.0:
                continue
            for r, js in by_rel.items():
                share = w.get(r, 0.0) / total
                if share > 0.0:
                    cols = sorted(js)
                    t[i, cols] += share / len(cols)
        return t

    def _walk_weights(self) -> list[np.ndarray]:
        """Cumulative expected visits for walk lengths walk_length..max_walk_length."""
        if self._walks is None:
            cfg = self.config
            t = self.transition_matrix()
            keep = 1.0 - cfg.restart
            power = np.eye(t.shape[0])
            acc = np.zeros_like(t)
            out = []
            for step in range(1, cfg.max_walk_length + 1):
                power = power @ t
                acc = acc + keep ** (step - 1) * power
                if step >= cfg.walk_length:
                    out.append(acc.copy())
            self._walks = out
        return self._walks

    def _tables_for(self, level: str | None) -> _LevelTables:
        level = self.level if level is None else self._check_level(level)
        if level in self._tables:
            return self._tables[level]
        kg = self.kg
        curies = kg.ont.curies(level)
        n = len(curies)
        pos = {c: i for i, c in enumerate(kg.curies)}
        sel = np.array([pos[c] for c in curies], dtype=np.int64)
        excluded = kg.ambiguous_matrix(level) | np.eye(n, dtype=bool)
        weights = np.zeros((n, n), dtype=np.float64)
        todo = np.ones(n, dtype=bool)
        for w in self._walk_weights():
            sub = w[np.ix_(sel, sel)]
            sub = np.where(excluded | (sub < 1e-12), 0.0, sub)
            enough = (sub > 0).sum(axis=1) >= min(self.config.min_semi_hard, n)
            take = todo & enough
            weights[take] = sub[take]
            # until enough are reached, keep the longest walk's answer
            weights[todo & ~enough] = sub[todo & ~enough]
            todo &= ~enough
            if not todo.any():
                break
        cap = self.config.max_semi_hard
        if cap < n:  # keep the `cap` heaviest per row (ties: lower index first)
            order = np.argsort(-weights, axis=1, kind="stable")
            np.put_along_axis(weights, order[:, cap:], 0.0, axis=1)
        sums = weights.sum(axis=1, keepdims=True)
        weights = np.divide(weights, sums, out=np.zeros_like(weights), where=sums > 0)
        tables = _LevelTables(level, curies, excluded, weights)
        self._tables[level] = tables
        return tables

    # -- vocabulary -------------------------------------------------------------------
    def curies(self, level: str | None = None) -> list[str]:
        """The level's vocabulary, in index order."""
        return list(self._tables_for(level).curies)

    def index(self, term: str, level: str | None = None) -> int:
        """The index of a term (CURIE, label or synonym) in a level's vocabulary."""
        return self._lookup(term, self._tables_for(level))

    def _lookup(self, term: str, tab: _LevelTables) -> int:
        try:
            c = self.kg.resolve(term, tab.level)
        except UnknownTermError:
            c = self.kg.resolve(term)  # unknown at any level: the error suggests names
        if c not in tab.index:
            lab = self.kg.graph.nodes[c]["label"]
            raise UsageError(f"{lab!r} ({c}) is not a {tab.level} term")
        return tab.index[c]

    # -- positives --------------------------------------------------------------------
    def _padded(self, positives: PositiveSpec, tab: _LevelTables) -> np.ndarray:
        """Positives as a (B, P) int64 array whose padding points at the empty row N."""
        n = tab.n
        if isinstance(positives, np.ndarray) or (
            isinstance(positives, Sequence)
            and not isinstance(positives, str)
            and all(isinstance(p, int | np.integer) for p in positives)
        ):
            arr = np.asarray(positives)
            if arr.ndim == 0:
                arr = arr.reshape(1, 1)
            elif arr.ndim == 1:
                arr = arr[:, None]
            elif arr.ndim != 2:
                raise UsageError(f"positives must be (B,) or (B, P), not of shape {arr.shape}")
            if arr.size and not np.issubdtype(arr.dtype, np.integer):
                raise UsageError(f"positives must be integer indices, not {arr.dtype}")
            arr = arr.astype(np.int64, copy=True)
        elif isinstance(positives, int | np.integer):
            arr = np.array([[int(positives)]], dtype=np.int64)
        else:
            rows = [self._row(p, tab) for p in positives]
            width = max((len(r) for r in rows), default=1) or 1
            arr = np.full((len(rows), width), -1, dtype=np.int64)
            for b, r in enumerate(rows):
                arr[b, : len(r)] = r
        bad = (arr < -1) | (arr >= n)
        if bad.any():
            v = int(arr[bad][0])
            raise UsageError(f"positive index {v} is out of range for {n} {tab.level} terms")
        empty = (arr < 0).all(axis=1)
        if empty.any():
            raise UsageError(f"row {int(np.flatnonzero(empty)[0])} of positives has no positive")
        arr[arr < 0] = n
        return arr

    def _row(self, p: Any, tab: _LevelTables) -> list[int]:
        if isinstance(p, int | np.integer | str):
            p = [p]
        out = []
        for x in p:
            if isinstance(x, str):
                out.append(self._lookup(x, tab))
            elif int(x) >= 0:
                out.append(int(x))
        return sorted(set(out))

    # -- bands ------------------------------------------------------------------------
    def band_masks(
        self, positives: PositiveSpec, level: str | None = None
    ) -> dict[str, np.ndarray]:
        """``{"excluded", "semi_hard", "easy"}``: disjoint boolean (B, N) masks covering N.

        ``excluded`` holds every positive of the row and the union of their ambiguous sets.
        """
        tab = self._tables_for(level)
        pos = self._padded(positives, tab)
        excluded = tab.excluded[pos].any(axis=1)
        semi = (tab.weights[pos] > 0).any(axis=1) & ~excluded
        return {"excluded": excluded, "semi_hard": semi, "easy": ~(excluded | semi)}

    def negative_mask(self, positives: PositiveSpec, level: str | None = None) -> np.ndarray:
        """Boolean (B, N): True where a term may serve as a negative (not excluded)."""
        tab = self._tables_for(level)
        pos = self._padded(positives, tab)
        return ~tab.excluded[pos].any(axis=1)

    def candidate_weights(self, positives: PositiveSpec, level: str | None = None) -> np.ndarray:
        """Float (B, N): the semi-hard walk weights (rows sum to 1; 0 outside the band)."""
        tab = self._tables_for(level)
        pos = self._padded(positives, tab)
        excluded = tab.excluded[pos].any(axis=1)
        w = np.where(excluded, 0.0, tab.weights[pos].sum(axis=1))
        s = w.sum(axis=1, keepdims=True)
        return np.divide(w, s, out=np.zeros_like(w), where=s > 0)

    def bands(self, positives: PositiveSpec, level: str | None = None) -> np.ndarray:
        """Int8 (B, N) band codes: 0 excluded, 1 semi-hard, 2 easy (see :data:`BANDS`)."""
        m = self.band_masks(positives, level)
        out = np.full(m["easy"].shape, EASY, dtype=np.int8)
        out[m["semi_hard"]] = SEMI_HARD
        out[m["excluded"]] = EXCLUDED
        return out

    # -- sampling ---------------------------------------------------------------------
    def negatives(
        self,
        positives: PositiveSpec,
        k: int,
        mix: Mapping[str, float] | float | None = None,
        rng: np.random.Generator | int | None = None,
        *,
        level: str | None = None,
        return_bands: bool = False,
        pad: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Draw ``k`` distinct negatives per row: an int64 (B, k) array of level indices.

        ``mix`` overrides the walker's mix; ``rng`` is a seed or a ``numpy`` Generator (the
        same seed gives the same negatives).  With ``return_bands`` also the (B, k) int8 band
        codes (1 semi-hard, 2 easy).  A row with fewer than ``k`` non-excluded terms raises
        :class:`UsageError`, or with ``pad=True`` is filled up with -1 (band code 0).
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise UsageError(f"k must be a positive integer, not {k!r}")
        k = int(k)
        share = self.mix if mix is None else check_mix(mix)
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        tab = self._tables_for(level)
        pos = self._padded(positives, tab)
        b, n = pos.shape[0], tab.n
        excluded = tab.excluded[pos].any(axis=1)
        w = np.where(excluded, 0.0, tab.weights[pos].sum(axis=1))
        semi = w > 0
        easy = ~(excluded | semi)

        # how many semi-hard slots per row: stochastic rounding of k * share
        want = k * share
        k_semi = np.floor(want).astype(np.int64) + (gen.random(b) < want - np.floor(want))
        n_semi, n_easy = semi.sum(axis=1), easy.sum(axis=1)
        short = n_semi + n_easy < k
        if short.any() and not pad:
            row = int(np.flatnonzero(short)[0])
            first = int(pos[row][pos[row] < n][0])
            raise UsageError(
                f"cannot draw k={k} negatives for "
                f"{self.kg.graph.nodes[tab.curies[first]]['label']!r} ({tab.curies[first]}): only "
                f"{int(n_semi[row] + n_easy[row])} of {n} {tab.level} "
                "terms are not excluded"
            )
        take_s = np.minimum(k_semi, n_semi)
        take_e = np.minimum(k - take_s, n_easy)
        take_s = np.minimum(k - take_e, n_semi)  # the easy band's shortfall goes to semi-hard

        # Gumbel-top-k: weighted sampling without replacement, all rows at once
        # (keys of band members are finite, those of other terms -inf)
        u = np.maximum(gen.random((b, n), dtype=np.float32), np.float32(1e-30))
        gumbel = -np.log(-np.log(u))
        with np.errstate(divide="ignore"):
            key_s = np.where(semi, np.log(w, dtype=np.float32) + gumbel, -np.inf)
        key_e = np.where(easy, gumbel, np.float32(-np.inf))
        m = min(k, n)
        top_s = _top(key_s, m)
        top_e = _top(key_e, m)
        slots = np.arange(m)
        cand = np.concatenate([top_s, top_e], axis=1)
        code = np.concatenate(
            [np.full((b, m), SEMI_HARD, np.int8), np.full((b, m), EASY, np.int8)], axis=1
        )
        take = np.concatenate([slots < take_s[:, None], slots < take_e[:, None]], axis=1)
        out = np.full((b, k), -1, dtype=np.int64)
        bands = np.full((b, k), EXCLUDED, dtype=np.int8)
        col = np.cumsum(take, axis=1) - 1
        rows = np.broadcast_to(np.arange(b)[:, None], take.shape)
        out[rows[take], col[take]] = cand[take]
        bands[rows[take], col[take]] = code[take]
        return (out, bands) if return_bands else out


def _top(keys: np.ndarray, m: int) -> np.ndarray:
    """Column indices of the ``m`` largest keys per row, largest first."""
    n = keys.shape[1]
    if m < n:
        part = np.argpartition(-keys, m - 1, axis=1)[:, :m]
    else:
        part = np.broadcast_to(np.arange(n), keys.shape).copy()
    order = np.argsort(-np.take_along_axis(keys, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)
