"""Negative bands for the loss, from the knowledge-graph walker (``anatloc.kgtools.walker``).

:class:`NegativeBands` gives, for a batch of positives (B, P) padded with −1, the boolean
(B, N) masks ``excluded`` (masked out of the softmax: the walker's ambiguous set —
ancestors, descendants, "Near X" partners — never the positives themselves, which the loss
keeps) and ``semi_hard`` (close but distinct terms: siblings, neighbours, the contralateral
twin, adjacent levels), over the whole vocabulary of a level.

The walker is imported lazily.  Where it cannot be imported (an install without kgtools),
a plain hierarchy rule stands in and says so once in the log: at the fine level the
semi-hard band is the siblings under the same coarse location, at the coarse level the
coarse locations of the same region; nothing is excluded.

With ``exclude=False`` the excluded mask is empty and the semi-hard band stays as it is (the
``no-exclusions`` ablation: it separates the two walker mechanisms).

Per-term rows are computed once and cached, so a batch costs one gather and an OR over P.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)


class NegativeBands:
    """Band masks over the coarse and fine vocabularies of an ontology."""

    def __init__(self, ont, *, use_walker: bool = True, exclude: bool = True):
        self.ont = ont
        #: False: nothing is masked out (the ``no-exclusions`` ablation); the ambiguous
        #: terms become ordinary negatives of weight 1, the semi-hard band is unchanged
        self.exclude = exclude
        self.source = "hierarchy"
        self._walker = None
        if use_walker:
            try:
                from anatloc.kgtools.walker import Walker
            except ImportError as exc:  # kgtools missing: the hierarchy rule
                log.info("kgtools walker unavailable (%s); using the hierarchy rule", exc)
            else:
                self._walker = Walker(ont, level="fine")
                self.source = "walker"
        self._tables: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _level_tables(self, level: str) -> tuple[np.ndarray, np.ndarray]:
        """(N+1, N) excluded and semi-hard rows per single positive; row N is empty."""
        if level in self._tables:
            return self._tables[level]
        curies = self.ont.curies(level)
        n = len(curies)
        exc = np.zeros((n + 1, n), dtype=bool)
        semi = np.zeros((n + 1, n), dtype=bool)
        if self._walker is not None:
            m = self._walker.band_masks(np.arange(n)[:, None], level=level)
            exc[:n] = m["excluded"]
            semi[:n] = m["semi_hard"]
        else:
            if level == "fine":
                group = np.array([self.ont[c].parent for c in curies])
            else:
                group = np.array([self.ont.region_of(c).curie for c in curies])
            semi[:n] = group[:, None] == group[None, :]
        eye = np.eye(n, dtype=bool)
        exc[:n] &= ~eye  # the positives themselves are the loss's business, not excluded
        semi[:n] &= ~eye & ~exc[:n]
        self._tables[level] = (exc, semi)
        return exc, semi

    def relation(self, level: str, positives: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        """How each ``predicted[b]`` (term index) relates to the positives of row b (B, P),
        −1 padding: "positive", "excluded" (in the walker's ambiguous set of a positive),
        "semi-hard" (in its band) or "easy"; an object array of str.  Read from the walker's
        tables whether or not this instance excludes (``exclude``)."""
        exc_t, semi_t = self._level_tables(level)
        n = exc_t.shape[1]
        pos = np.asarray(positives, dtype=np.int64)
        if pos.ndim == 1:
            pos = pos[:, None]
        pred = np.asarray(predicted, dtype=np.int64)[:, None]
        idx = np.where(pos < 0, n, pos)
        out = np.full(len(pred), "easy", dtype=object)
        out[semi_t[idx, pred].any(axis=1)] = "semi-hard"
        out[exc_t[idx, pred].any(axis=1)] = "excluded"
        out[(pos == pred).any(axis=1)] = "positive"
        return out

    def masks(self, level: str, positives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(excluded, semi_hard)`` boolean (B, N) for positives (B, P) padded with −1.

        A term that is a positive of the row is neither excluded nor semi-hard; a term that
        one positive excludes stays excluded even if another positive would call it
        semi-hard.
        """
        exc_t, semi_t = self._level_tables(level)
        n = exc_t.shape[1]
        pos = np.asarray(positives, dtype=np.int64)
        if pos.ndim == 1:
            pos = pos[:, None]
        idx = np.where(pos < 0, n, pos)
        excluded = exc_t[idx].any(axis=1)
        semi = semi_t[idx].any(axis=1)
        is_pos = np.zeros((pos.shape[0], n + 1), dtype=bool)
        np.put_along_axis(is_pos, idx, True, axis=1)
        is_pos = is_pos[:, :n]
        excluded &= ~is_pos
        semi &= ~is_pos & ~excluded
        if not self.exclude:
            excluded[:] = False
        return excluded, semi
