"""The in-memory ontology: terms, the 3-level hierarchy, lookup and edits.

The rest of anatloc talks to :class:`Ontology`, never to rdflib.  Terms are immutable
records (:class:`Term`); edits replace them and keep these invariants, or raise
:class:`~anatloc.ontology.errors.InvariantError` naming the one they would break:

* ``one-parent``: a fine term has exactly one coarse parent, a coarse term exactly one
  region, a region none;
* ``unique-label``: labels are unique within a level (case-insensitively);
* ``unique-synonym``: a synonym belongs to one term only;
* ``no-cycle``: the part_of hierarchy has no cycles (guaranteed by the levels, and checked);
* ``children``: a term with children is removed only with its subtree.

Name lookup (:meth:`Ontology.get`) follows one documented rule, see its docstring.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from . import vocab
from .errors import AmbiguousTermError, InvariantError, UnknownTermError, UsageError

_SPACE_RE = re.compile(r"\s+")
_SIDE_WORD_RE = re.compile(r"\b(?:left|right)\b", re.IGNORECASE)
#: the side as an L/R code: "Rib L7", the IASLC lymph node station "Mediastinum 4L"
_LR_CODES = (
    re.compile(r"(?P<stem>Rib )(?P<side>[LR])(?P<tail>\d+)"),
    re.compile(r"(?P<stem>Mediastinum \d+)(?P<side>[LR])(?P<tail>)"),
)


def norm(text: str) -> str:
    """Case- and space-insensitive key used for every name comparison."""
    return _SPACE_RE.sub(" ", text).strip().casefold()


def label_side(label: str) -> tuple[str | None, str | None]:
    """(side, twin label) that ``label`` names, or (None, None): the one rule for a label
    that has no term yet (``add`` giving a new term its laterality, the location-list import,
    a plain table of labels such as the atlas checks' vocabulary).

    A side is named by ``left`` or ``right`` as a word (exactly one of them, any case), or by
    the L/R of ``Rib L7``/``Rib R7`` and of the lymph node stations ``Mediastinum 4L``/``4R``;
    the twin label names the other side (same case).  Where a term exists its stored
    ``laterality`` and ``contralateral_to`` are the truth, never its label: 'Mediastinum 5' is
    left by curation and says so nowhere in its name.
    """
    for code in _LR_CODES:
        m = code.fullmatch(label)
        if m:
            side = "left" if m["side"] == "L" else "right"
            return side, f"{m['stem']}{'R' if m['side'] == 'L' else 'L'}{m['tail']}"
    words = {w.casefold() for w in _SIDE_WORD_RE.findall(label)}
    if len(words) != 1:
        return None, None
    return words.pop(), _SIDE_WORD_RE.sub(lambda w: _swap_case(w[0]), label)


def _swap_case(word: str) -> str:
    other = "right" if word.casefold() == "left" else "left"
    if word.isupper():
        return other.upper()
    return other.capitalize() if word[0].isupper() else other


@dataclass(frozen=True)
class Term:
    """One location of the ontology (an ``owl:Class``)."""

    curie: str
    label: str
    level: str  # region | coarse | fine
    parent: str | None = None  # CURIE of the part_of parent
    laterality: str = "unsided"
    definition: str = ""
    exact_synonyms: tuple[str, ...] = ()
    related_synonyms: tuple[str, ...] = ()
    preferred_synonym: str = ""
    xrefs: tuple[str, ...] = ()  # external CURIEs (skos:exactMatch)
    tissue: str = ""
    landmark: bool = False
    #: relation name -> sorted target CURIEs (curated and derived, see vocab.RELATIONS)
    relations: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    geometry: str = ""  # atlas geometry, canonical JSON text
    facts: Mapping[str, float] = field(default_factory=dict)  # derived numeric facts
    description: str = ""  # generated canonical description
    paraphrases: tuple[str, ...] = ()  # generated paraphrases
    description_generator: str = ""
    #: triples about this term that anatloc does not model, kept verbatim:
    #: (predicate IRI, object in N-Triples syntax)
    extra: tuple[tuple[str, str], ...] = ()
    #: matches to clinical codes (see vocab.CODE_SYSTEMS): (kind, code CURIE) with kind
    #: ``exact`` (skos:exactMatch) or ``broad`` (skos:broadMatch, the code is broader), e.g.
    #: ``("broad", "SCTID:10200004")`` (Liver) for Porta hepatis.  Not covered by the content hash.
    code_matches: tuple[tuple[str, str], ...] = ()
    #: where a report sentence puts a lesion here, with its preposition and article: "in the
    #: left humerus", "adjacent to the T8 vertebra" (see ``ontology.phrases``).  Not covered by
    #: the content hash: it reaches only the report sentence, never the model.
    report_phrase: str = ""
    #: the words radiologists' reports use for this location where the labels and synonyms
    #: miss them ("left posterior triangle of the neck"): vocabulary of the report annotator
    #: (``kgtools.annotate``), curated in tools/curation/report_synonyms.tsv.  Not synonyms
    #: of the ontology (no unique-synonym invariant) and not covered by the content hash.
    report_synonyms: tuple[str, ...] = ()

    @property
    def synonyms(self) -> tuple[str, ...]:
        return self.exact_synonyms + self.related_synonyms

    @property
    def iri(self) -> str:
        return vocab.iri_of(self.curie)

    def geometry_spec(self) -> dict | None:
        return json.loads(self.geometry) if self.geometry else None

    def codes(self, kind: str | None = None) -> list[str]:
        """The code CURIEs this term matches (of one kind: ``exact`` or ``broad``)."""
        return [c for k, c in self.code_matches if kind is None or k == kind]

    def hash_dict(self) -> dict[str, Any]:
        """What the content hash covers: :meth:`as_dict` without ``code_matches``,
        ``report_phrase`` and ``report_synonyms`` (annotations that never reach the model)."""
        d = self.as_dict()
        del d["code_matches"]
        del d["report_phrase"]
        del d["report_synonyms"]
        return d

    def as_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready view of every field."""
        d = dataclasses.asdict(self)
        d["relations"] = {k: list(v) for k, v in sorted(self.relations.items()) if v}
        d["facts"] = dict(sorted(self.facts.items()))
        for key in (
            "exact_synonyms",
            "related_synonyms",
            "xrefs",
            "paraphrases",
            "report_synonyms",
        ):
            d[key] = list(d[key])
        d["extra"] = [list(x) for x in self.extra]
        d["code_matches"] = [list(x) for x in self.code_matches]
        return d


def canonical_term(term: Term) -> Term:
    """Sort every multi-valued field so that equal content means equal records."""
    rel = {k: tuple(sorted(set(v))) for k, v in term.relations.items() if v}
    return dataclasses.replace(
        term,
        label=term.label.strip(),
        exact_synonyms=tuple(sorted(set(term.exact_synonyms), key=str.casefold)),
        related_synonyms=tuple(sorted(set(term.related_synonyms), key=str.casefold)),
        xrefs=tuple(sorted(set(term.xrefs))),
        relations=dict(sorted(rel.items())),
        facts=dict(sorted(term.facts.items())),
        paraphrases=tuple(sorted(set(term.paraphrases))),
        extra=tuple(sorted(set(term.extra))),
        code_matches=tuple(sorted(set(term.code_matches))),
        report_synonyms=tuple(sorted(set(term.report_synonyms), key=str.casefold)),
    )


@dataclass
class OntologyMeta:
    """The ontology header (everything that is not a term)."""

    iri: str = vocab.ONTOLOGY_IRI
    version_info: str = "1.0.0"
    title: str = "anatloc whole-body lesion location ontology"
    description: str = (
        "Locations in which a radiologist reports lesions on whole-body PET/CT: 8 regions, "
        "coarse locations and fine locations, with synonyms, definitions, relations, an "
        "atlas geometry and generated descriptions."
    )
    license: str = "https://creativecommons.org/licenses/by/4.0/"
    last_id: int = 0  # high-water mark of assigned CURIE numbers: never reused
    atlas_frame: str = ""  # canonical JSON of the atlas frame (auxiliary shapes, constants)
    derivation: str = ""  # version of the generator of derived facts
    extra: tuple[tuple[str, str], ...] = ()  # unknown header triples, kept verbatim


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Ontology:
    """The whole ontology in memory.  Obtain one with ``load_ontology``."""

    def __init__(
        self,
        terms: Iterable[Term],
        meta: OntologyMeta | None = None,
        source: Path | None = None,
        foreign: Iterable[tuple[str, str, str]] = (),
    ):
        self.meta = meta or OntologyMeta()
        self.source = source
        #: triples about subjects anatloc does not model (kept verbatim on save)
        self.foreign: list[tuple[str, str, str]] = sorted(foreign)
        #: the content hash written in the file this was loaded from (None if none)
        self.stored_hash: str | None = None
        self._terms: dict[str, Term] = {}
        for t in terms:
            if t.curie in self._terms:
                raise InvariantError("unique-curie", f"CURIE {t.curie} is used twice")
            self._terms[t.curie] = canonical_term(t)
        if self._terms:
            top = max(vocab.curie_number(c) for c in self._terms)
            self.meta.last_id = max(self.meta.last_id, top)
        self._reindex()

    # -- indexes ----------------------------------------------------------------------
    def _reindex(self) -> None:
        self._order = sorted(self._terms, key=vocab.curie_number)
        self._children: dict[str, list[str]] = {c: [] for c in self._order}
        self._by_label: dict[str, list[str]] = {}
        self._by_synonym: dict[str, list[str]] = {}
        for c in self._order:
            t = self._terms[c]
            if t.parent is not None and t.parent in self._children:
                self._children[t.parent].append(c)
            self._by_label.setdefault(norm(t.label), []).append(c)
            for s in t.synonyms:
                self._by_synonym.setdefault(norm(s), []).append(c)
        self._hash: str | None = None

    # -- reading ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._terms)

    def __iter__(self) -> Iterator[Term]:
        return (self._terms[c] for c in self._order)

    def __contains__(self, curie: object) -> bool:
        return curie in self._terms

    def __getitem__(self, curie: str) -> Term:
        try:
            return self._terms[curie]
        except KeyError:
            raise UnknownTermError(curie) from None

    def terms(self, level: str | None = None) -> list[Term]:
        """Terms in CURIE order (the fixed vocabulary order), optionally of one level."""
        if level is not None and level not in vocab.LEVELS:
            raise UsageError(f"unknown level {level!r}; expected one of {', '.join(vocab.LEVELS)}")
        return [t for t in self if level is None or t.level == level]

    def curies(self, level: str | None = None) -> list[str]:
        return [t.curie for t in self.terms(level)]

    def _term(self, term: Term | str) -> Term:
        return term if isinstance(term, Term) else self.get(term)

    def parent(self, term: Term | str) -> Term | None:
        t = self._term(term)
        return self._terms.get(t.parent) if t.parent else None

    def children(self, term: Term | str) -> list[Term]:
        t = self._term(term)
        return [self._terms[c] for c in self._children.get(t.curie, [])]

    def ancestors(self, term: Term | str) -> list[Term]:
        """Parent first, region last."""
        out: list[Term] = []
        seen: set[str] = set()
        t = self.parent(term)
        while t is not None and t.curie not in seen:
            out.append(t)
            seen.add(t.curie)
            t = self.parent(t)
        return out

    def descendants(self, term: Term | str) -> list[Term]:
        t = self._term(term)
        out: list[Term] = []
        stack = list(reversed(self._children.get(t.curie, [])))
        while stack:
            c = stack.pop()
            out.append(self._terms[c])
            stack.extend(reversed(self._children.get(c, [])))
        return out

    def region_of(self, term: Term | str) -> Term:
        t = self._term(term)
        return t if t.level == "region" else self.ancestors(t)[-1]

    def coarse_of(self, term: Term | str) -> Term | None:
        t = self._term(term)
        if t.level == "coarse":
            return t
        if t.level == "fine":
            return self.parent(t)
        return None

    def related(self, term: Term | str, relation: str) -> list[Term]:
        t = self._term(term)
        return [self._terms[c] for c in t.relations.get(relation, ()) if c in self._terms]

    # -- lookup -----------------------------------------------------------------------
    def find(self, name: str, level: str | None = None) -> list[Term]:
        """Every term whose CURIE, label or synonym is ``name`` (labels before synonyms)."""
        curie = vocab.normalize_curie(name)
        if curie is not None:
            return [self._terms[curie]] if curie in self._terms else []
        key = norm(name)
        hits = [self._terms[c] for c in self._by_label.get(key, [])]
        if not hits:
            hits = [self._terms[c] for c in self._by_synonym.get(key, [])]
        if level is not None:
            hits = [t for t in hits if t.level == level]
        return hits

    def get(
        self,
        name: str,
        level: str | None = None,
        *,
        levels: Iterable[str] | None = None,
        where: str = "",
    ) -> Term:
        """Resolve a CURIE, IRI, label or synonym to one term.

        The rule, in order:

        1. a CURIE (``ANATLOC:0000123``, ``ANATLOC_123``) or term IRI names its term;
        2. otherwise labels are matched (case- and space-insensitively); only when no label
           matches are synonyms matched;
        3. ``level`` keeps matches of that level, ``levels`` those of any level listed (a
           command that needs, say, a parent passes the levels that can be parents);
        4. when what remains is exactly one coarse and one fine term with the same label
           (85 names of the shipped ontology, e.g. "Brain", "Rib L7"), the **fine** term is
           meant: it is the location a report names, the coarse one is its group;
        5. anything else that is not exactly one term is an error: none → the closest labels
           are suggested; several → the candidates are listed with their CURIEs.
        """
        if level is not None and level not in vocab.LEVELS:
            raise UsageError(f"unknown level {level!r}; expected one of {', '.join(vocab.LEVELS)}")
        hits = self.find(name)
        allowed = set(levels) if levels is not None else None
        if level is not None:
            allowed = {level} if allowed is None else allowed & {level}
        if allowed is not None:
            hits = [t for t in hits if t.level in allowed]
        if len(hits) == 1:
            return hits[0]
        if len(hits) == 2 and {t.level for t in hits} == {"coarse", "fine"}:
            a, b = hits
            if norm(a.label) == norm(b.label):
                return a if a.level == "fine" else b
        if not hits:
            raise UnknownTermError(name, self.suggest(name), where)
        raise AmbiguousTermError(name, [(t.curie, t.label, t.level) for t in hits])

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """The labels (or synonyms) closest to ``name``."""
        key = norm(name)
        names: dict[str, str] = {}
        for t in self:
            names.setdefault(norm(t.label), t.label)
            for s in t.synonyms:
                names.setdefault(norm(s), s)
        close = difflib.get_close_matches(key, list(names), n=n, cutoff=0.6)
        if not close:
            close = [k for k in names if key and key in k][:n]
        return [names[k] for k in close]

    # -- identity -----------------------------------------------------------------------
    def content_hash(self) -> str:
        """SHA-256 of the terms (not the header): changes with any change of any term.

        Three fields are left out: the terms' ``code_matches`` (their SNOMED CT codes), their
        ``report_phrase`` (the words of the report sentence) and their ``report_synonyms``
        (the report annotator's extra vocabulary).  A trained
        model records this hash and refuses an ontology with another one, because what it
        learned — the locations, their order, words, descriptions and geometry — would differ.
        The codes and phrases reach no part of training or retrieval (only the DICOM SR and the
        report sentence), so curating them must not invalidate a model.  The hash of an
        ontology is the same with or without its code mappings and report phrases.
        """
        if self._hash is None:
            h = hashlib.sha256()
            for t in self:
                h.update(canonical_json(t.hash_dict()).encode("utf-8"))
                h.update(b"\n")
            h.update(self.meta.atlas_frame.encode("utf-8"))
            self._hash = "sha256:" + h.hexdigest()
        return self._hash

    def short_hash(self) -> str:
        return self.content_hash().split(":", 1)[1][:12]

    def stats(self) -> dict[str, Any]:
        counts = {lvl: 0 for lvl in vocab.LEVELS}
        for t in self:
            counts[t.level] += 1
        return {
            "regions": counts["region"],
            "coarse": counts["coarse"],
            "fine": counts["fine"],
            "terms": len(self),
            "hash": self.content_hash(),
            "version": self.meta.version_info,
            "defined": sum(1 for t in self if t.definition),
            "with_geometry": sum(1 for t in self if t.geometry),
            "with_description": sum(1 for t in self if t.description),
            "source": str(self.source) if self.source else None,
            "codes": self.code_coverage(),
        }

    def code_coverage(self) -> dict[str, dict[str, int]]:
        """Per level: terms with an exact code match, with only broad ones, with none."""
        out: dict[str, dict[str, int]] = {}
        for level in vocab.LEVELS:
            row = {"terms": 0, "exact": 0, "broad": 0, "none": 0}
            for t in self.terms(level):
                row["terms"] += 1
                kinds = {k for k, _ in t.code_matches}
                row["exact" if "exact" in kinds else "broad" if kinds else "none"] += 1
            out[level] = row
        return out

    def record(self, term: Term | str, *, full: bool = True) -> dict[str, Any]:
        """A JSON-ready view of a term with its context (labels of related terms)."""
        t = self._term(term)

        def ref(c: str | None) -> dict[str, str] | None:
            if c is None:
                return None
            return {"curie": c, "label": self._terms[c].label if c in self._terms else ""}

        region = self.region_of(t) if t.level else None
        coarse = self.coarse_of(t)
        out: dict[str, Any] = {
            "curie": t.curie,
            "iri": t.iri,
            "label": t.label,
            "level": t.level,
            "parent": ref(t.parent),
            "coarse": ref(coarse.curie) if coarse else None,
            "region": ref(region.curie) if region else None,
            "laterality": t.laterality,
            "tissue": t.tissue,
            "definition": t.definition,
            "exact_synonyms": list(t.exact_synonyms),
            "related_synonyms": list(t.related_synonyms),
            "preferred_synonym": t.preferred_synonym,
            "report_phrase": t.report_phrase,
            "report_synonyms": list(t.report_synonyms),
            "xrefs": list(t.xrefs),
            "code_matches": [{"kind": k, "code": c} for k, c in t.code_matches],
            "landmark": t.landmark,
        }
        if full:
            out["children"] = [ref(c.curie) for c in self.children(t)]
            out["relations"] = {k: [ref(c) for c in v] for k, v in t.relations.items()}
            out["geometry"] = t.geometry_spec()
            out["facts"] = dict(t.facts)
            out["description"] = t.description
            out["paraphrases"] = list(t.paraphrases)
            out["description_generator"] = t.description_generator
        return out

    def replace_with(self, other: Ontology) -> None:
        """Take over the terms, header and foreign triples of ``other`` (keeps ``source``)."""
        self._terms = dict(other._terms)
        self.meta = other.meta
        self.foreign = list(other.foreign)
        self._reindex()

    def copy(self) -> Ontology:
        return Ontology(list(self), dataclasses.replace(self.meta), self.source, self.foreign)

    # -- saving -----------------------------------------------------------------------
    #: The file writer behind :meth:`save`, ``(ontology, path, format) -> path``: io installs
    #: :func:`anatloc.ontology.io.save_ontology` here when it is imported, and the package's
    #: ``__init__`` imports io, so it is set before any ontology exists.  The model knows no
    #: file format and does not import io (which imports the model).
    writer: ClassVar[Callable[[Ontology, str | Path | None, str | None], Path] | None] = None

    def save(self, path: str | Path | None = None, format: str | None = None) -> Path:
        """Write atomically in ``format`` (by default Turtle, or as the suffix says)."""
        if Ontology.writer is None:
            raise UsageError("no ontology writer: import anatloc.ontology (it installs io's)")
        return Ontology.writer(self, path if path is not None else self.source, format)

    # -- edits --------------------------------------------------------------------------
    def _next_curie(self) -> str:
        self.meta.last_id += 1
        return vocab.curie_for(self.meta.last_id)

    def _check_label(self, label: str, level: str, ignore: str | None = None) -> str:
        label = _SPACE_RE.sub(" ", label).strip()
        if not label:
            raise InvariantError("missing-label", "a term needs a non-empty label")
        if "\t" in label or "\n" in label:
            raise InvariantError("missing-label", "a label cannot contain tabs or newlines")
        for c in self._by_label.get(norm(label), []):
            other = self._terms[c]
            if other.level == level and c != ignore:
                raise InvariantError(
                    "unique-label",
                    f"a {level} term labelled {other.label!r} exists already ({c})",
                )
        return label

    def _check_synonym(self, synonym: str, owner: str | None) -> str:
        synonym = _SPACE_RE.sub(" ", synonym).strip()
        if not synonym:
            raise InvariantError("unique-synonym", "a synonym cannot be empty")
        for c in self._by_synonym.get(norm(synonym), []):
            if c != owner:
                raise InvariantError(
                    "unique-synonym",
                    f"synonym {synonym!r} belongs to {c} ({self._terms[c].label}) already",
                )
        return synonym

    def _check_laterality(self, laterality: str) -> str:
        if laterality not in vocab.LATERALITIES:
            raise UsageError(
                f"unknown laterality {laterality!r}; expected one of {', '.join(vocab.LATERALITIES)}"
            )
        return laterality

    def _put(self, term: Term) -> Term:
        term = canonical_term(term)
        self._terms[term.curie] = term
        self._reindex()
        return term

    def add(
        self,
        label: str,
        parent: Term | str | None = None,
        *,
        level: str | None = None,
        laterality: str | None = None,
        definition: str = "",
        synonyms: Iterable[str] = (),
        tissue: str = "",
        geometry: dict | str | None = None,
    ) -> Term:
        """Add a term under ``parent``; its level is the one below the parent's.

        Without a parent the term is a region (``level`` may say so explicitly).
        Laterality defaults to the side named in the label, else the parent's side,
        else ``unsided``.
        """
        if parent is None:
            if level not in (None, "region"):
                raise InvariantError("one-parent", f"a {level} term needs a parent")
            new_level, parent_curie = "region", None
        else:
            p = (
                self._resolve_parent(parent, ("region", "coarse"), f"the new term {label!r}")
                if isinstance(parent, str)
                else parent
            )
            new_level = vocab.CHILD_LEVEL[p.level]
            if new_level is None:
                raise InvariantError(
                    "one-parent", f"{p.label!r} ({p.curie}) is a fine term and cannot have children"
                )
            if level is not None and level != new_level:
                raise InvariantError(
                    "one-parent",
                    f"a {level} term cannot be a part of the {p.level} term {p.label!r}",
                )
            parent_curie = p.curie
        label = self._check_label(label, new_level)
        syns = tuple(self._check_synonym(s, None) for s in synonyms)
        if len({norm(s) for s in syns}) != len(syns):
            raise InvariantError("unique-synonym", "the same synonym is given twice")
        named, _twin = label_side(label)
        if laterality is None:
            laterality = named
            if laterality is None and parent_curie is not None:
                pl = self._terms[parent_curie].laterality
                laterality = pl if pl in ("left", "right") else None
            laterality = laterality or "unsided"
        self._check_laterality(laterality)
        if named not in (None, laterality):
            raise InvariantError(
                "laterality-label",
                f"{label!r} names the {named} side but --laterality is {laterality}",
            )
        if tissue and tissue not in vocab.TISSUES:
            raise UsageError(
                f"unknown tissue {tissue!r}; expected one of {', '.join(vocab.TISSUES)}"
            )
        geom = _geometry_text(geometry)
        term = Term(
            curie=self._next_curie(),
            label=label,
            level=new_level,
            parent=parent_curie,
            laterality=laterality,
            definition=definition.strip(),
            exact_synonyms=syns,
            tissue=tissue,
            geometry=geom,
        )
        return self._put(term)

    def _resolve_parent(self, name: str, levels: tuple[str, ...], child: str) -> Term:
        """Resolve a parent name among ``levels``; a term of another level is an invariant error."""
        try:
            return self.get(name, levels=levels, where="--parent")
        except UnknownTermError:
            others = self.find(name)
            if not others:
                raise
            o = others[0]
            raise InvariantError(
                "one-parent",
                f"{o.label!r} ({o.curie}) is a {o.level} term and cannot be the parent of {child}; "
                f"a parent must be {' or '.join(levels)}",
            ) from None

    def rename(self, term: Term | str, new_label: str) -> Term:
        """Change the label; the CURIE never changes."""
        t = self._term(term)
        label = self._check_label(new_label, t.level, ignore=t.curie)
        side, _twin = label_side(label)  # a label that names a side sets the laterality
        return self._put(dataclasses.replace(t, label=label, laterality=side or t.laterality))

    def move(self, term: Term | str, new_parent: Term | str) -> Term:
        """Give ``term`` a new parent of the level above it."""
        t = self._term(term)
        want = vocab.PARENT_LEVEL[t.level]
        if want is None:
            raise InvariantError("one-parent", f"{t.label!r} is a region and has no parent")
        p = (
            self._resolve_parent(new_parent, (want,), f"the {t.level} term {t.label!r}")
            if isinstance(new_parent, str)
            else new_parent
        )
        if p.level != want:
            raise InvariantError(
                "one-parent",
                f"a {t.level} term needs a {want} parent, not the {p.level} {p.label!r}",
            )
        if p.curie == t.curie or any(a.curie == t.curie for a in self.ancestors(p)):
            raise InvariantError("no-cycle", f"moving {t.label!r} under {p.label!r} makes a cycle")
        return self._put(dataclasses.replace(t, parent=p.curie))

    def remove(self, term: Term | str, *, subtree: bool = False) -> list[Term]:
        """Remove a term (and, with ``subtree=True``, everything under it).

        References to removed terms from other terms' relations are dropped.  CURIEs of
        removed terms are never assigned again.
        """
        t = self._term(term)
        below = self.descendants(t)
        if below and not subtree:
            raise InvariantError(
                "children",
                f"{t.label!r} ({t.curie}) has {len(below)} descendant(s); remove the subtree "
                "explicitly (--subtree) or move them first",
            )
        gone = [t, *below]
        ids = {g.curie for g in gone}
        for c in ids:
            del self._terms[c]
        for c, other in list(self._terms.items()):
            rel = {k: tuple(x for x in v if x not in ids) for k, v in other.relations.items()}
            if rel != dict(other.relations):
                self._terms[c] = canonical_term(dataclasses.replace(other, relations=rel))
        self._reindex()
        return gone

    def set_definition(self, term: Term | str, definition: str) -> Term:
        t = self._term(term)
        return self._put(dataclasses.replace(t, definition=_SPACE_RE.sub(" ", definition).strip()))

    def add_synonym(self, term: Term | str, synonym: str, kind: str = "exact") -> Term:
        t = self._term(term)
        if kind not in ("exact", "related"):
            raise UsageError(f"unknown synonym kind {kind!r}; expected exact or related")
        syn = self._check_synonym(synonym, t.curie)
        if norm(syn) in {norm(s) for s in t.synonyms}:
            raise InvariantError("unique-synonym", f"{t.label!r} has the synonym {syn!r} already")
        if kind == "exact":
            return self._put(dataclasses.replace(t, exact_synonyms=(*t.exact_synonyms, syn)))
        return self._put(dataclasses.replace(t, related_synonyms=(*t.related_synonyms, syn)))

    def update(self, term: Term | str, **changes: Any) -> Term:
        """Replace fields of a term (used by the knowledge, atlas and description tools).

        ``label``, ``parent``, ``level`` and ``curie`` go through their own edits.
        """
        t = self._term(term)
        forbidden = {"curie", "label", "parent", "level"} & set(changes)
        if forbidden:
            raise UsageError(f"use rename/move to change {', '.join(sorted(forbidden))}")
        if "laterality" in changes:
            self._check_laterality(changes["laterality"])
        if changes.get("tissue") and changes["tissue"] not in vocab.TISSUES:
            raise UsageError(f"unknown tissue {changes['tissue']!r}")
        if "geometry" in changes:
            changes["geometry"] = _geometry_text(changes["geometry"])
        if "relations" in changes:
            self._check_relations(changes["relations"])
        new = dataclasses.replace(t, **changes)
        for syn in new.synonyms:
            if syn not in t.synonyms:
                self._check_synonym(syn, t.curie)
        return self._put(new)

    def _check_relations(self, relations: Mapping[str, Iterable[str]]) -> None:
        for name, targets in relations.items():
            if name not in vocab.RELATIONS:
                raise UsageError(f"unknown relation {name!r}")
            for c in targets:
                if c not in self._terms:
                    raise InvariantError("relation-target", f"relation target {c} is not a term")


def _geometry_text(geometry: dict | str | None) -> str:
    if geometry is None or geometry == "":
        return ""
    if isinstance(geometry, str):
        try:
            geometry = json.loads(geometry)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"geometry is not valid JSON: {exc.msg} at column {exc.colno}"
            ) from None
    if not isinstance(geometry, dict):
        raise UsageError("geometry must be a JSON object")
    return canonical_json(geometry)
