"""The knowledge graph of the ontology: typed edges, tree distances, paths, ambiguous sets.

:class:`KnowledgeGraph` is built from the :class:`~anatloc.ontology.Ontology` interface (never
from rdflib).  It holds a :class:`networkx.MultiDiGraph` whose

* **nodes** are CURIEs with the attributes ``label``, ``level``, ``region`` (the CURIE of the
  region the term lies in), ``laterality``, ``tissue`` and ``index`` (the term's position in
  its level's vocabulary, ``ont.curies(level)``);
* **edges** are keyed by their relation and carry it as the attribute ``relation``:
  ``part_of`` (child → parent) and every relation of :data:`anatloc.ontology.vocab.RELATIONS`
  that the ontology states (``adjacent_to``, ``contralateral_to``, ``surrounds`` and, once the
  atlas is derived, ``touches``, the six positional relations and ``at_level_of``).
  Symmetric relations are present in both directions (the reverse edge is added when a
  hand-edited file states only one).

On top of it the graph answers:

* tree distance and lowest common ancestor (:meth:`KnowledgeGraph.tree_distance`,
  :meth:`KnowledgeGraph.lca`, :meth:`KnowledgeGraph.lca_level`), also as a whole matrix per
  level (:meth:`KnowledgeGraph.distance_matrix`);
* shortest paths over chosen relations, edges walked in either direction
  (:meth:`KnowledgeGraph.shortest_path`);
* neighbours by relation, including the inverse views ``has_part``, ``surrounded_by`` and
  ``level_of`` (:meth:`KnowledgeGraph.neighbours`);
* the **ambiguous set** of a term (:meth:`KnowledgeGraph.ambiguous`): the terms too close to it
  to serve as its negatives in contrastive training.  It holds

  - ``ancestor`` / ``descendant``: its part_of ancestors and descendants (a lesion in
    "Liver S7" is also in "Liver" and in the "Abdomen");
  - ``surrounds`` / ``surrounded_by``: the "Near / Around / Between" partners it surrounds or
    is surrounded by.  A target above the fine level stands for its parts as well:
    "Around the liver" surrounds the coarse "Liver", so it is ambiguous with every liver
    segment (``expand_surrounds=True``, the default);
  - ``same_description``: terms whose canonical description (``Term.description``, the label
    when there is none) is nearly the same — a weighted Jaccard similarity of word unigrams
    and bigrams (counted with multiplicity, so that word order and repetition matter) of at
    least ``similarity_threshold`` (default :data:`SIMILARITY_THRESHOLD` = 0.9).  In the
    shipped ontology this flags four pairs of lung segments whose descriptions differ in one
    word; contralateral twins (at most 0.75) and neighbouring vertebrae or ribs (at most
    0.81) stay below it and remain usable as semi-hard negatives.

Building the graph of the shipped ontology takes about 40 ms (see ``bench/walker.py``).
networkx is imported when a graph is built, not when this module is imported.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

from anatloc.ontology import vocab
from anatloc.ontology.errors import EXIT_CHECK_FAILED, AnatlocError, UsageError
from anatloc.ontology.model import Ontology, Term

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

#: The hierarchy edge (child → parent), BFO:0000050.
PART_OF = "part_of"
#: Every edge relation the graph can hold: part_of, then the ontology's relations.
EDGE_RELATIONS: tuple[str, ...] = (PART_OF, *vocab.RELATIONS)
#: Names of the reverse view of the directed relations that have no inverse of their own.
INVERSE_NAMES: dict[str, str] = {
    PART_OF: "has_part",
    "surrounds": "surrounded_by",
    "at_level_of": "level_of",
}
#: Every relation name that :meth:`KnowledgeGraph.neighbours` accepts.
NEIGHBOUR_RELATIONS: tuple[str, ...] = (
    PART_OF,
    "has_part",
    *vocab.RELATIONS,
    "surrounded_by",
    "level_of",
)
#: Default threshold of the description similarity above which two terms are ambiguous.
SIMILARITY_THRESHOLD = 0.9
#: The reasons a term can be in another's ambiguous set.
AMBIGUITY_REASONS = (
    "ancestor",
    "descendant",
    "surrounds",
    "surrounded_by",
    "same_description",
)

_WORD_RE = re.compile(r"[a-z0-9]+")
_LEVEL_DEPTH = {lvl: i for i, lvl in enumerate(vocab.LEVELS)}


class NoPathError(AnatlocError):
    """No path joins two terms over the chosen relations (exit code 1, like a failed check)."""

    exit_code = EXIT_CHECK_FAILED


def check_relations(
    relations: Iterable[str] | None,
    valid: Sequence[str] = EDGE_RELATIONS,
    option: str = "--relation",
) -> tuple[str, ...] | None:
    """Validate relation names; ``None`` (or nothing) means all relations.

    Raises :class:`UsageError` naming the bad value and the valid choices.
    """
    if relations is None:
        return None
    rels = tuple(dict.fromkeys(relations))
    if not rels:
        return None
    for r in rels:
        if r not in valid:
            raise UsageError(
                f"unknown relation {r!r} for {option}; expected one of {', '.join(valid)}"
            )
    return rels


def description_features(text: str) -> Counter[str]:
    """Word unigrams and bigrams of ``text`` (lower-cased), with their counts."""
    words = _WORD_RE.findall(text.lower())
    feats: Counter[str] = Counter(words)
    feats.update(f"{a} {b}" for a, b in pairwise(words))
    return feats


def description_similarity(texts: Sequence[str]) -> np.ndarray:
    """Pairwise weighted Jaccard similarity (Σ min / Σ max of feature counts), (n, n) float32.

    Each feature's k-th occurrence is its own binary column, so that Σ min over counts is the
    dot product of binary rows and the whole matrix is one matrix product.
    """
    n = len(texts)
    columns: dict[str, int] = {}
    rows: list[list[int]] = []
    for text in texts:
        cols = []
        for feat, count in description_features(text).items():
            for k in range(count):
                cols.append(columns.setdefault(f"{feat}#{k}", len(columns)))
        rows.append(cols)
    sizes = np.array([len(r) for r in rows], dtype=np.float32)
    # columns seen in a single text add to its size but never to an intersection: drop them
    df = np.zeros(len(columns), dtype=np.int32)
    for cols in rows:
        df[cols] += 1
    keep = np.flatnonzero(df > 1)
    remap = np.full(len(columns), -1, dtype=np.int64)
    remap[keep] = np.arange(keep.size)
    x = np.zeros((n, keep.size), dtype=np.float32)
    for i, cols in enumerate(rows):
        c = remap[cols]
        x[i, c[c >= 0]] = 1.0
    inter = x @ x.T
    union = sizes[:, None] + sizes[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = np.where(union > 0, inter / union, 0.0).astype(np.float32)
    return sim


class KnowledgeGraph:
    """The ontology as a typed graph, with distances, paths and ambiguous sets.

    ``KnowledgeGraph(ont)`` builds everything once; it does not follow later edits of ``ont``
    (build a new one after editing).
    """

    def __init__(
        self,
        ont: Ontology,
        *,
        similarity_threshold: float = SIMILARITY_THRESHOLD,
        expand_surrounds: bool = True,
    ):
        import networkx as nx

        if not 0.0 < similarity_threshold <= 1.0:
            raise UsageError(
                f"similarity_threshold must be in (0, 1], not {similarity_threshold!r}"
            )
        self.ont = ont
        self.similarity_threshold = float(similarity_threshold)
        self.expand_surrounds = bool(expand_surrounds)
        terms = list(ont)
        self.curies: list[str] = [t.curie for t in terms]
        self._pos = {c: i for i, c in enumerate(self.curies)}
        index_in_level: dict[str, int] = {}
        for lvl in vocab.LEVELS:
            for i, c in enumerate(ont.curies(lvl)):
                index_in_level[c] = i

        g = nx.MultiDiGraph(
            ontology_hash=ont.content_hash(),
            ontology_version=ont.meta.version_info,
        )
        for t in terms:
            region = ont.region_of(t)
            g.add_node(
                t.curie,
                label=t.label,
                level=t.level,
                region=region.curie,
                laterality=t.laterality,
                tissue=t.tissue,
                index=index_in_level[t.curie],
            )
        for t in terms:
            if t.parent is not None and t.parent in self._pos:
                g.add_edge(t.curie, t.parent, key=PART_OF, relation=PART_OF)
            for rel, targets in t.relations.items():
                if rel not in vocab.RELATIONS:
                    continue
                symmetric = vocab.RELATIONS[rel].symmetric
                for c in targets:
                    if c not in self._pos or c == t.curie:
                        continue
                    g.add_edge(t.curie, c, key=rel, relation=rel)
                    if symmetric:
                        g.add_edge(c, t.curie, key=rel, relation=rel)
        present = sorted(
            {k for _, _, k in g.edges(keys=True)}, key=lambda r: EDGE_RELATIONS.index(r)
        )
        g.graph["relations"] = " ".join(present)
        self.graph: nx.MultiDiGraph = g
        self.relations_present: tuple[str, ...] = tuple(present)

        # hierarchy arrays over all terms (ontology order)
        n = len(terms)
        self._parent = np.full(n, -1, dtype=np.int64)
        for i, t in enumerate(terms):
            if t.parent is not None and t.parent in self._pos:
                self._parent[i] = self._pos[t.parent]
        self._depth = np.array([_LEVEL_DEPTH[t.level] for t in terms], dtype=np.int64)
        # ancestors[i, d] = the ancestor of i at depth d (itself at its own depth), else -1
        anc = np.full((n, len(vocab.LEVELS)), -1, dtype=np.int64)
        for i in range(n):
            j, guard = i, 0
            while j >= 0 and guard <= len(vocab.LEVELS):
                anc[i, self._depth[j]] = j
                j = self._parent[j]
                guard += 1
        self._anc = anc
        self._similarity = description_similarity([t.description or t.label for t in terms])
        self._ambiguous: dict[str, dict[str, str]] | None = None

    # -- lookup -----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.curies)

    def __contains__(self, curie: object) -> bool:
        return curie in self._pos

    def resolve(self, term: Term | str, level: str | None = None) -> str:
        """The CURIE of a term given as a :class:`Term`, CURIE, label or synonym."""
        if isinstance(term, Term):
            if term.curie not in self._pos:
                return self.ont[term.curie].curie  # raises UnknownTermError
            return term.curie
        if term in self._pos:
            return term
        return self.ont.get(term, level).curie

    def node(self, term: Term | str) -> dict[str, Any]:
        """A JSON-ready view of a node: its CURIE and attributes."""
        c = self.resolve(term)
        return {"curie": c, **self.graph.nodes[c]}

    def ref(self, curie: str) -> dict[str, str]:
        """``{"curie", "label", "level"}`` of a node."""
        a = self.graph.nodes[curie]
        return {"curie": curie, "label": a["label"], "level": a["level"]}

    # -- neighbours -------------------------------------------------------------------
    def neighbours(
        self, term: Term | str, relations: Iterable[str] | None = None
    ) -> dict[str, list[str]]:
        """Neighbours of a term by relation (only relations with at least one neighbour).

        Outgoing edges appear under their relation; the reverse of ``part_of``,
        ``surrounds`` and ``at_level_of`` appears as ``has_part``, ``surrounded_by`` and
        ``level_of``.  ``relations`` restricts to some of :data:`NEIGHBOUR_RELATIONS`.
        """
        c = self.resolve(term)
        wanted = check_relations(relations, NEIGHBOUR_RELATIONS)
        out: dict[str, list[str]] = {}
        for _, v, k in self.graph.out_edges(c, keys=True):
            out.setdefault(k, []).append(v)
        for u, _, k in self.graph.in_edges(c, keys=True):
            if k in INVERSE_NAMES:
                out.setdefault(INVERSE_NAMES[k], []).append(u)
        ordered = {}
        for r in NEIGHBOUR_RELATIONS:
            if r in out and (wanted is None or r in wanted):
                ordered[r] = sorted(dict.fromkeys(out[r]), key=vocab.curie_number)
        return ordered

    def part_of_chain(self, term: Term | str) -> list[str]:
        """The CURIEs of the ancestors, parent first, region last."""
        i = self._pos[self.resolve(term)]
        out = []
        j = self._parent[i]
        while j >= 0:
            out.append(self.curies[j])
            j = self._parent[j]
        return out

    # -- tree distances ---------------------------------------------------------------
    def lca(self, a: Term | str, b: Term | str) -> str | None:
        """The lowest common part_of ancestor (a term is its own ancestor); None across regions."""
        i, j = self._pos[self.resolve(a)], self._pos[self.resolve(b)]
        best = -1
        for d in range(len(vocab.LEVELS)):
            x, y = self._anc[i, d], self._anc[j, d]
            if x >= 0 and x == y:
                best = x
        return self.curies[best] if best >= 0 else None

    def lca_level(self, a: Term | str, b: Term | str) -> str | None:
        """The level of :meth:`lca` (``region``, ``coarse`` or ``fine``), None across regions."""
        c = self.lca(a, b)
        return self.graph.nodes[c]["level"] if c is not None else None

    def tree_distance(self, a: Term | str, b: Term | str) -> int:
        """Number of part_of edges between two terms through their lowest common ancestor.

        Terms of different regions meet at a virtual root above the regions, so two fine terms
        of different regions are 6 apart, two fine siblings 2, a term and its parent 1.
        """
        i, j = self._pos[self.resolve(a)], self._pos[self.resolve(b)]
        return int(self._distance(np.array([i]), np.array([j]))[0, 0])

    def _distance(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Tree distances between the terms at positions ``rows`` and ``cols`` (a matrix)."""
        ar, ac = self._anc[rows], self._anc[cols]  # (R, D), (C, D)
        same = (ar[:, None, :] == ac[None, :, :]) & (ar[:, None, :] >= 0)
        # depth of the lowest common ancestor; -1 = the virtual root
        levels = np.arange(len(vocab.LEVELS))
        lca_depth = np.where(same, levels, -1).max(axis=2)
        dr, dc = self._depth[rows], self._depth[cols]
        return dr[:, None] + dc[None, :] - 2 * lca_depth

    def distance_matrix(self, level: str) -> np.ndarray:
        """Tree distances between all terms of one level, in vocabulary order (int64, (N, N))."""
        idx = np.array([self._pos[c] for c in self.ont.curies(level)], dtype=np.int64)
        return self._distance(idx, idx)

    # -- paths ------------------------------------------------------------------------
    def shortest_path(
        self, a: Term | str, b: Term | str, relations: Iterable[str] | None = None
    ) -> list[dict[str, Any]]:
        """The fewest-step path from ``a`` to ``b`` over ``relations`` (default: all).

        Edges are walked in either direction.  Each step is ``{"from", "relation", "to",
        "inverse"}``; ``inverse`` is true when the edge was walked backwards (``Liver S6
        --part_of--> Liver`` walked from Liver to Liver S6).  Ties are broken by CURIE order,
        so the answer is deterministic.  Raises :class:`NoPathError` when there is none.
        """
        src, dst = self.resolve(a), self.resolve(b)
        rels = check_relations(relations)
        allowed = set(rels) if rels is not None else None
        if src == dst:
            return []
        prev: dict[str, tuple[str, str, bool]] = {src: ("", "", False)}
        queue = deque([src])
        while queue:
            u = queue.popleft()
            for v, rel, inverse in self._steps(u, allowed):
                if v in prev:
                    continue
                prev[v] = (u, rel, inverse)
                if v == dst:
                    queue.clear()
                    break
                queue.append(v)
        if dst not in prev:
            which = ", ".join(rels) if rels else "any relation"
            la, lb = self.graph.nodes[src]["label"], self.graph.nodes[dst]["label"]
            raise NoPathError(f"no path between {la!r} ({src}) and {lb!r} ({dst}) over {which}")
        steps = []
        v = dst
        while v != src:
            u, rel, inverse = prev[v]
            steps.append({"from": u, "relation": rel, "to": v, "inverse": inverse})
            v = u
        return steps[::-1]

    def _steps(self, u: str, allowed: set[str] | None) -> list[tuple[str, str, bool]]:
        out = []
        for _, v, k in self.graph.out_edges(u, keys=True):
            if allowed is None or k in allowed:
                out.append((v, k, False))
        for w, _, k in self.graph.in_edges(u, keys=True):
            if allowed is None or k in allowed:
                out.append((w, k, True))
        out.sort(key=lambda s: (vocab.curie_number(s[0]), EDGE_RELATIONS.index(s[1]), s[2]))
        return out

    # -- ambiguous sets ---------------------------------------------------------------
    def similarity(self, a: Term | str, b: Term | str) -> float:
        """The description similarity of two terms (see the module docstring)."""
        return float(self._similarity[self._pos[self.resolve(a)], self._pos[self.resolve(b)]])

    def _build_ambiguous(self) -> dict[str, dict[str, str]]:
        ont = self.ont
        out: dict[str, dict[str, str]] = {c: {} for c in self.curies}

        def put(a: str, b: str, reason: str) -> None:
            if a != b:
                out[a].setdefault(b, reason)

        for t in ont:
            for anc in ont.ancestors(t):
                put(t.curie, anc.curie, "ancestor")
                put(anc.curie, t.curie, "descendant")
        for t in ont:
            for target in t.relations.get("surrounds", ()):
                if target not in self._pos:
                    continue
                covered = [target]
                if self.expand_surrounds:
                    covered += [d.curie for d in ont.descendants(target)]
                for c in covered:
                    put(t.curie, c, "surrounds")
                    put(c, t.curie, "surrounded_by")
        sim = self._similarity
        rows, cols = np.nonzero(sim >= self.similarity_threshold)
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
            if i != j:
                put(self.curies[i], self.curies[j], "same_description")
        return out

    def ambiguous(self, term: Term | str) -> dict[str, str]:
        """The ambiguous set of a term: CURIE → reason (one of :data:`AMBIGUITY_REASONS`).

        The term itself is not in it.  When several reasons hold, the first of ancestor,
        descendant, surrounds, surrounded_by, same_description is given.
        """
        if self._ambiguous is None:
            self._ambiguous = self._build_ambiguous()
        c = self.resolve(term)
        return dict(sorted(self._ambiguous[c].items(), key=lambda kv: vocab.curie_number(kv[0])))

    def ambiguous_matrix(self, level: str) -> np.ndarray:
        """(N, N) boolean: ``[i, j]`` when term j of ``level`` is in term i's ambiguous set."""
        if self._ambiguous is None:
            self._ambiguous = self._build_ambiguous()
        curies = self.ont.curies(level)
        pos = {c: i for i, c in enumerate(curies)}
        m = np.zeros((len(curies), len(curies)), dtype=bool)
        for i, c in enumerate(curies):
            js = [pos[x] for x in self._ambiguous[c] if x in pos]
            m[i, js] = True
        return m

    # -- export -----------------------------------------------------------------------
    def to_graphml(self) -> bytes:
        """The graph in GraphML (node attributes and the edge relation as data keys)."""
        import io

        import networkx as nx

        buf = io.BytesIO()
        nx.write_graphml(self.graph, buf, encoding="utf-8", prettyprint=True)
        return buf.getvalue()

    def to_json(self) -> dict[str, Any]:
        """A node-link view (``networkx.node_link_graph(data, edges="edges")`` reads it back)."""
        g = self.graph
        return {
            "directed": True,
            "multigraph": True,
            "graph": dict(g.graph),
            "nodes": [{"id": n, **a} for n, a in g.nodes(data=True)],
            "edges": [
                {"source": u, "target": v, "key": k, "relation": k}
                for u, v, k in g.edges(keys=True)
            ],
        }


def build_graph(ont: Ontology, **kwargs: Any) -> KnowledgeGraph:
    """Build the :class:`KnowledgeGraph` of ``ont`` (keyword arguments as its constructor)."""
    return KnowledgeGraph(ont, **kwargs)
