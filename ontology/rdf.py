"""The ontology as RDF: one triple generator, one parser, one deterministic Turtle writer.

Nodes are strings in N-Triples syntax (``<iri>``, ``_:b``, ``"text"``,
``"1.5"^^<...#decimal>``).  :func:`to_triples` is the single place where the model becomes
RDF; every export format starts from it.  :func:`from_triples` is its inverse and keeps
triples it does not understand verbatim, so a file edited in Protégé survives a load/save.

Decision: the Turtle writer stays hand-written.  Measured on the shipped ontology (Dec 2026,
rdflib 7.6, pyoxigraph 0.5): rdflib's ``longturtle`` writes 3.3 MB instead of 2.7 MB in
12.8 s instead of 1.4 s, names blank nodes differently on each run (two runs differ) and has
no ``# label`` comment before a term; pyoxigraph's Turtle writer is fast (0.2 s) but keeps
the input order, writes restrictions as named blank nodes (3.8 MB) and has no comments.
Neither gives the sorted, byte-stable file that the shipped ``anatloc.ttl`` and its
generated-file test rely on.  The N-Triples writer is kept too (it is a sort of
ready-made N-Triples lines); its escaping is the same as pyoxigraph's, line for line,
which a test checks.
"""

from __future__ import annotations

import functools
import json
import re
from collections import defaultdict
from collections.abc import Iterable

from . import vocab
from .errors import OntologyParseError
from .model import Ontology, OntologyMeta, Term, canonical_json

Triple = tuple[str, str, str]

# -- node helpers -----------------------------------------------------------------------
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESC_RE = re.compile(r'[\\"\n\r\t]')


def iri(value: str) -> str:
    return f"<{value}>"


def lit(text: str) -> str:
    return '"' + _ESC_RE.sub(lambda m: _ESCAPES[m.group(0)], text) + '"'


def typed(text: str, datatype: str) -> str:
    return lit(text) + f"^^<{datatype}>"


def decimal(value: float) -> str:
    text = f"{value:.1f}"
    if text == "-0.0":
        text = "0.0"
    return typed(text, vocab.XSD_DECIMAL)


def is_iri(node: str) -> bool:
    return node.startswith("<")


def iri_value(node: str) -> str:
    return node[1:-1]


_LIT_RE = re.compile(r'^"((?:[^"\\]|\\.)*)"(?:\^\^<([^>]*)>|@([A-Za-z0-9-]+))?$', re.S)
_UNESC = {"\\\\": "\\", '\\"': '"', "\\n": "\n", "\\r": "\r", "\\t": "\t", "\\'": "'"}


def literal_value(node: str) -> tuple[str, str | None]:
    """(lexical form, datatype IRI or None) of a literal node."""
    m = _LIT_RE.match(node)
    if not m:
        raise ValueError(f"not a literal: {node[:60]}")
    raw = re.sub(
        r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})|\\.",
        lambda e: (
            chr(int(e.group(1) or e.group(2), 16))
            if (e.group(1) or e.group(2))
            else _UNESC.get(e.group(0), e.group(0)[1:])
        ),
        m.group(1),
    )
    return raw, m.group(2)


def _text(node: str) -> str:
    return literal_value(node)[0] if node.startswith('"') else iri_value(node)


# -- model -> triples -------------------------------------------------------------------
def _bnode(term: Term, rel: str, target: str) -> str:
    return f"_:{term.curie.replace(':', '_')}_{rel}_{target.replace(':', '_')}"


def _restriction(subject: str, prop_iri: str, bnode: str, target_iri: str) -> list[Triple]:
    return [
        (subject, iri(vocab.RDFS_SUBCLASS_OF), bnode),
        (bnode, iri(vocab.RDF_TYPE), iri(vocab.OWL_RESTRICTION)),
        (bnode, iri(vocab.OWL_ON_PROPERTY), iri(prop_iri)),
        (bnode, iri(vocab.OWL_SOME_VALUES_FROM), iri(target_iri)),
    ]


def term_triples(t: Term) -> list[Triple]:
    s = iri(t.iri)
    out: list[Triple] = [(s, iri(vocab.RDF_TYPE), iri(vocab.OWL_CLASS))]
    if t.level:
        out.append((s, iri(vocab.RDFS_SUBCLASS_OF), iri(vocab.LEVEL_CLASS[t.level])))
    if t.parent:
        out += _restriction(
            s, vocab.PART_OF, _bnode(t, "part_of", t.parent), vocab.iri_of(t.parent)
        )
    for name, targets in t.relations.items():
        rel = vocab.RELATIONS[name]
        for target in targets:
            out += _restriction(s, rel.iri, _bnode(t, name, target), vocab.iri_of(target))
    if t.label:
        out.append((s, iri(vocab.RDFS_LABEL), lit(t.label)))
    if t.definition:
        out.append((s, iri(vocab.DEFINITION), lit(t.definition)))
    out += [(s, iri(vocab.EXACT_SYNONYM), lit(x)) for x in t.exact_synonyms]
    out += [(s, iri(vocab.RELATED_SYNONYM), lit(x)) for x in t.related_synonyms]
    if t.preferred_synonym:
        out.append((s, iri(vocab.PREFERRED_SYNONYM), lit(t.preferred_synonym)))
    if t.report_phrase:
        out.append((s, iri(vocab.REPORT_PHRASE), lit(t.report_phrase)))
    out += [(s, iri(vocab.REPORT_SYNONYM), lit(x)) for x in t.report_synonyms]
    out += [(s, iri(vocab.EXACT_MATCH), iri(vocab.expand(x))) for x in t.xrefs]
    out += [(s, iri(vocab.CODE_MATCH_KINDS[k]), iri(vocab.expand(c))) for k, c in t.code_matches]
    out.append((s, iri(vocab.LATERALITY), lit(t.laterality)))
    if t.tissue:
        out.append((s, iri(vocab.TISSUE), lit(t.tissue)))
    if t.landmark:
        out.append((s, iri(vocab.LANDMARK), typed("true", vocab.XSD_BOOLEAN)))
    if t.geometry:
        out.append((s, iri(vocab.ATLAS_GEOMETRY), lit(t.geometry)))
    out += [(s, iri(vocab.FACT_IRI[k]), decimal(v)) for k, v in t.facts.items()]
    if t.description:
        out.append((s, iri(vocab.CANONICAL_DESCRIPTION), lit(t.description)))
    out += [(s, iri(vocab.PARAPHRASE), lit(x)) for x in t.paraphrases]
    if t.description_generator:
        out.append((s, iri(vocab.DESCRIPTION_GENERATOR), lit(t.description_generator)))
    out += [(s, iri(p), o) for p, o in t.extra]
    return out


def _annotation_property(prop: str, label: str, comment: str) -> list[Triple]:
    return [
        (iri(prop), iri(vocab.RDF_TYPE), iri(vocab.OWL_ANNOTATION_PROPERTY)),
        (iri(prop), iri(vocab.RDFS_LABEL), lit(label)),
        (iri(prop), iri(vocab.RDFS_COMMENT), lit(comment)),
    ]


#: annotation properties anatloc declares: IRI -> (label, comment)
ANNOTATION_PROPERTIES = {
    vocab.DEFINITION: ("definition", "A curated one-sentence definition (IAO)."),
    vocab.EXACT_SYNONYM: ("has exact synonym", "A phrase that names exactly this location."),
    vocab.RELATED_SYNONYM: ("has related synonym", "A broader, narrower or loosely used phrase."),
    vocab.EXACT_MATCH: (
        "exact match",
        "The same location in an external ontology or code system (UBERON, SNOMED CT).",
    ),
    vocab.BROAD_MATCH: (
        "broad match",
        "A broader concept in a code system (SNOMED CT) for a location that has no code of "
        "its own: Porta hepatis has the broad match Liver.",
    ),
    vocab.LATERALITY: (
        "laterality",
        "left, right, midline or unsided: "
        + "; ".join(f"{k}: {v}" for k, v in vocab.LATERALITY_MEANING.items()),
    ),
    vocab.TISSUE: ("tissue", "What the location mostly is: one of " + ", ".join(vocab.TISSUES)),
    vocab.PREFERRED_SYNONYM: (
        "preferred synonym",
        "The phrase a report sentence gives in brackets after the label.",
    ),
    vocab.REPORT_PHRASE: (
        "report phrase",
        "Where a report sentence puts a lesion at this location, with its preposition and "
        "article: 'in the left humerus', 'adjacent to the T8 vertebra'. Generated, then "
        "reviewed and editable (see ontology/phrases.py); not covered by the content hash.",
    ),
    vocab.REPORT_SYNONYM: (
        "report synonym",
        "Words radiologists' reports use for this location where its labels and synonyms "
        "miss them; vocabulary of 'anatloc annotate' (curated in "
        "tools/curation/report_synonyms.tsv); not covered by the content hash.",
    ),
    vocab.LANDMARK: ("landmark", "True for locations used as landmarks in descriptions."),
    vocab.ATLAS_GEOMETRY: (
        "atlas geometry",
        "The location's shape in the body frame, as JSON (see docs/atlas.md). Curated.",
    ),
    vocab.CANONICAL_DESCRIPTION: (
        "canonical description",
        "Generated text describing the location (never a curated definition).",
    ),
    vocab.PARAPHRASE: ("paraphrase", "A generated alternative wording of the description."),
    vocab.DESCRIPTION_GENERATOR: (
        "description generator",
        "Name and version of the generator that wrote the descriptions.",
    ),
    vocab.CONTENT_HASH: (
        "content hash",
        "SHA-256 over the terms; changes with any change of any term.",
    ),
    vocab.LAST_ID: ("last assigned id", "The highest CURIE number ever assigned; never reused."),
    vocab.ATLAS_FRAME: (
        "atlas frame",
        "The atlas coordinate frame and auxiliary shapes, as JSON (see docs/atlas.md).",
    ),
    vocab.DERIVATION: ("derived by", "Name and version of the generator of the derived facts."),
    vocab.PROVENANCE: ("provenance", "Where the assertions of a property come from."),
    **{
        v: (k, f"Derived from the atlas at 4 mm in the reference subject ({k}, mm or ml).")
        for k, v in vocab.FACT_IRI.items()
    },
}


def schema_triples() -> list[Triple]:
    out: list[Triple] = []
    for prop, (label, comment) in ANNOTATION_PROPERTIES.items():
        out += _annotation_property(prop, label, comment)
    part_of = iri(vocab.PART_OF)
    out += [
        (part_of, iri(vocab.RDF_TYPE), iri(vocab.OWL_OBJECT_PROPERTY)),
        (part_of, iri(vocab.RDF_TYPE), iri(vocab.OWL_TRANSITIVE_PROPERTY)),
        (part_of, iri(vocab.RDFS_LABEL), lit("part of")),
        (part_of, iri(vocab.PROVENANCE), lit("curated")),
    ]
    for rel in vocab.RELATIONS.values():
        p = iri(rel.iri)
        out += [
            (p, iri(vocab.RDF_TYPE), iri(vocab.OWL_OBJECT_PROPERTY)),
            (p, iri(vocab.RDFS_LABEL), lit(rel.label)),
            (p, iri(vocab.RDFS_COMMENT), lit(rel.definition)),
            (p, iri(vocab.PROVENANCE), lit("derived from the atlas" if rel.derived else "curated")),
        ]
        if rel.symmetric:
            out.append((p, iri(vocab.RDF_TYPE), iri(vocab.OWL_SYMMETRIC_PROPERTY)))
        if rel.inverse:
            out.append((p, iri(vocab.OWL_INVERSE_OF), iri(vocab.RELATIONS[rel.inverse].iri)))
        if rel.name == "touches":
            out.append((p, iri(vocab.RDFS_SUBPROPERTY_OF), iri(vocab.RELATIONS["adjacent_to"].iri)))
    root = iri(vocab.ANATOMICAL_LOCATION)
    out += [
        (root, iri(vocab.RDF_TYPE), iri(vocab.OWL_CLASS)),
        (root, iri(vocab.RDFS_LABEL), lit("anatomical location")),
        (
            root,
            iri(vocab.RDFS_COMMENT),
            lit("A place in or on the body (or just outside it) where a lesion can be reported."),
        ),
    ]
    level_defs = {
        "region": "One of the 8 body regions that group the coarse locations.",
        "coarse": "A coarse location: the first step of localization, grouping fine locations.",
        "fine": "A fine location: the name a report gives to where a lesion is.",
    }
    for level, cls in vocab.LEVEL_CLASS.items():
        c = iri(cls)
        out += [
            (c, iri(vocab.RDF_TYPE), iri(vocab.OWL_CLASS)),
            (c, iri(vocab.RDFS_SUBCLASS_OF), root),
            (c, iri(vocab.RDFS_LABEL), lit(f"{level} location" if level != "region" else "region")),
            (c, iri(vocab.RDFS_COMMENT), lit(level_defs[level])),
        ]
    return out


def header_triples(ont: Ontology) -> list[Triple]:
    m = ont.meta
    s = iri(m.iri)
    out = [
        (s, iri(vocab.RDF_TYPE), iri(vocab.OWL_ONTOLOGY)),
        (s, iri(vocab.OWL_VERSION_INFO), lit(m.version_info)),
        (s, iri(vocab.DC_TITLE), lit(m.title)),
        (s, iri(vocab.DC_DESCRIPTION), lit(m.description)),
        (s, iri(vocab.DC_LICENSE), iri(m.license)),
        (s, iri(vocab.CONTENT_HASH), lit(ont.content_hash())),
        (s, iri(vocab.LAST_ID), typed(str(m.last_id), vocab.XSD_INTEGER)),
    ]
    if m.atlas_frame:
        out.append((s, iri(vocab.ATLAS_FRAME), lit(m.atlas_frame)))
    if m.derivation:
        out.append((s, iri(vocab.DERIVATION), lit(m.derivation)))
    out += [(s, iri(p), o) for p, o in m.extra]
    return out


def to_triples(ont: Ontology) -> list[Triple]:
    """Header, schema, then every term in CURIE order, then foreign triples."""
    out = header_triples(ont) + schema_triples()
    for t in ont:
        out += term_triples(t)
    out += ont.foreign
    return out


# -- triples -> model -------------------------------------------------------------------
_KNOWN_SCHEMA = {iri(x) for x in (vocab.ANATOMICAL_LOCATION, *vocab.LEVEL_CLASS.values())}
_KNOWN_SCHEMA |= {iri(p) for p in ANNOTATION_PROPERTIES}
_KNOWN_SCHEMA |= {iri(r.iri) for r in vocab.RELATIONS.values()} | {iri(vocab.PART_OF)}
_REL_BY_IRI = {iri(r.iri): r.name for r in vocab.RELATIONS.values()}
_FACT_BY_IRI = {iri(v): k for k, v in vocab.FACT_IRI.items()}


def from_triples(triples: Iterable[Triple], source: str = "<input>") -> Ontology:
    """Build the model from RDF triples (any order, any blank node labels)."""
    by_subject: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for s, p, o in triples:
        by_subject[s].append((p, o))

    def restriction_of(node: str) -> tuple[str, str] | None:
        props = dict(by_subject.get(node, ()))
        if (
            props.get(iri(vocab.RDF_TYPE)) != iri(vocab.OWL_RESTRICTION)
            and iri(vocab.OWL_ON_PROPERTY) not in props
        ):
            return None
        prop, target = (
            props.get(iri(vocab.OWL_ON_PROPERTY)),
            props.get(iri(vocab.OWL_SOME_VALUES_FROM)),
        )
        if prop is None or target is None or not is_iri(target):
            return None
        return prop, target

    used_bnodes: set[str] = set()
    meta = OntologyMeta(last_id=0)
    stored_hash: str | None = None
    ontology_subjects = [
        s for s, po in by_subject.items() if (iri(vocab.RDF_TYPE), iri(vocab.OWL_ONTOLOGY)) in po
    ]
    header_extra: list[tuple[str, str]] = []
    if ontology_subjects:
        hs = ontology_subjects[0]
        meta.iri = iri_value(hs)
        meta.extra = ()
        for p, o in by_subject[hs]:
            pv = iri_value(p)
            if pv == vocab.RDF_TYPE and o == iri(vocab.OWL_ONTOLOGY):
                continue
            if pv == vocab.OWL_VERSION_INFO:
                meta.version_info = _text(o)
            elif pv == vocab.DC_TITLE:
                meta.title = _text(o)
            elif pv == vocab.DC_DESCRIPTION:
                meta.description = _text(o)
            elif pv == vocab.DC_LICENSE:
                meta.license = _text(o)
            elif pv == vocab.LAST_ID:
                try:
                    meta.last_id = int(_text(o))
                except ValueError:
                    raise OntologyParseError(
                        f"{source}: lastAssignedId is not an integer"
                    ) from None
            elif pv == vocab.ATLAS_FRAME:
                meta.atlas_frame = _canonical_json_text(_text(o), source, "atlas frame")
            elif pv == vocab.DERIVATION:
                meta.derivation = _text(o)
            elif pv == vocab.CONTENT_HASH:
                stored_hash = _text(o)
            else:
                header_extra.append((pv, o))
        meta.extra = tuple(sorted(header_extra))

    terms: list[Term] = []
    term_subjects: set[str] = set()
    for s, po in by_subject.items():
        if not is_iri(s):
            continue
        curie = vocab.curie_of(iri_value(s))
        if curie is None:
            continue
        term_subjects.add(s)
        f: dict = {
            "curie": curie,
            "label": "",
            "level": "",
            "parent": None,
            "laterality": "unsided",
            "exact_synonyms": [],
            "related_synonyms": [],
            "xrefs": [],
            "code_matches": [],
            "relations": defaultdict(list),
            "facts": {},
            "paraphrases": [],
            "extra": [],
        }
        levels: list[str] = []
        parents: list[str] = []
        for p, o in po:
            pv = iri_value(p)
            if pv == vocab.RDF_TYPE and o == iri(vocab.OWL_CLASS):
                continue
            if pv == vocab.RDFS_SUBCLASS_OF:
                if is_iri(o) and iri_value(o) in vocab.LEVEL_OF_CLASS:
                    levels.append(vocab.LEVEL_OF_CLASS[iri_value(o)])
                    continue
                r = restriction_of(o) if o.startswith("_:") else None
                if r is not None:
                    prop, target = r
                    tc = vocab.curie_of(iri_value(target))
                    if tc is not None and prop == iri(vocab.PART_OF):
                        parents.append(tc)
                        used_bnodes.add(o)
                        continue
                    if tc is not None and prop in _REL_BY_IRI:
                        f["relations"][_REL_BY_IRI[prop]].append(tc)
                        used_bnodes.add(o)
                        continue
                f["extra"].append((pv, o))
            elif pv == vocab.RDFS_LABEL:
                if f["label"]:
                    raise OntologyParseError(f"{source}: {curie} has two labels")
                f["label"] = _text(o)
            elif pv == vocab.DEFINITION:
                f["definition"] = _text(o)
            elif pv == vocab.EXACT_SYNONYM:
                f["exact_synonyms"].append(_text(o))
            elif pv == vocab.RELATED_SYNONYM:
                f["related_synonyms"].append(_text(o))
            elif pv == vocab.PREFERRED_SYNONYM:
                f["preferred_synonym"] = _text(o)
            elif pv == vocab.REPORT_PHRASE:
                f["report_phrase"] = _text(o)
            elif pv == vocab.REPORT_SYNONYM:
                f.setdefault("report_synonyms", []).append(_text(o))
            elif (
                pv in (vocab.EXACT_MATCH, vocab.BROAD_MATCH)
                and is_iri(o)
                and (vocab.code_system_of(iri_value(o)))
            ):
                kind = "exact" if pv == vocab.EXACT_MATCH else "broad"
                f["code_matches"].append((kind, vocab.compact(iri_value(o))))
            elif pv == vocab.EXACT_MATCH and is_iri(o):
                f["xrefs"].append(vocab.compact(iri_value(o)))
            elif pv == vocab.LATERALITY:
                f["laterality"] = _text(o)
            elif pv == vocab.TISSUE:
                f["tissue"] = _text(o)
            elif pv == vocab.LANDMARK:
                f["landmark"] = _text(o).strip().lower() in ("true", "1")
            elif pv == vocab.ATLAS_GEOMETRY:
                f["geometry"] = _canonical_json_text(_text(o), source, f"geometry of {curie}")
            elif p in _FACT_BY_IRI:
                try:
                    f["facts"][_FACT_BY_IRI[p]] = float(_text(o))
                except ValueError:
                    raise OntologyParseError(f"{source}: {curie} has a non-numeric {pv}") from None
            elif pv == vocab.CANONICAL_DESCRIPTION:
                f["description"] = _text(o)
            elif pv == vocab.PARAPHRASE:
                f["paraphrases"].append(_text(o))
            elif pv == vocab.DESCRIPTION_GENERATOR:
                f["description_generator"] = _text(o)
            else:
                f["extra"].append((pv, o))
        if len(set(levels)) > 1:
            raise OntologyParseError(
                f"{source}: {curie} is a subclass of several level classes ({', '.join(sorted(set(levels)))})"
            )
        if len(set(parents)) > 1:
            raise OntologyParseError(
                f"{source}: {curie} is part_of several terms ({', '.join(sorted(set(parents)))}); "
                "a term has exactly one parent"
            )
        f["level"] = levels[0] if levels else ""
        f["parent"] = parents[0] if parents else None
        f["relations"] = {k: tuple(v) for k, v in f["relations"].items()}
        for key in (
            "exact_synonyms",
            "related_synonyms",
            "xrefs",
            "paraphrases",
            "extra",
            "code_matches",
        ):
            f[key] = tuple(f[key])
        f["report_synonyms"] = tuple(f.get("report_synonyms", ()))
        terms.append(Term(**f))

    # everything else that is not our header, schema or a restriction we consumed: keep it
    foreign: list[Triple] = []
    skip = set(ontology_subjects[:1]) | term_subjects | used_bnodes | _KNOWN_SCHEMA
    for s, po in by_subject.items():
        if s in skip:
            continue
        foreign += [(s, p, o) for p, o in po]
    ont = Ontology(terms, meta, foreign=foreign)
    ont.stored_hash = stored_hash
    return ont


def _canonical_json_text(text: str, source: str, what: str) -> str:
    try:
        return canonical_json(json.loads(text))
    except json.JSONDecodeError as exc:
        raise OntologyParseError(f"{source}: {what} is not valid JSON ({exc.msg})") from None


# -- Turtle writer ----------------------------------------------------------------------
_PRED_ORDER = [
    vocab.RDF_TYPE,
    vocab.RDFS_SUBCLASS_OF,
    vocab.RDFS_LABEL,
    vocab.DEFINITION,
    vocab.PREFERRED_SYNONYM,
    vocab.REPORT_PHRASE,
    vocab.REPORT_SYNONYM,
    vocab.EXACT_SYNONYM,
    vocab.RELATED_SYNONYM,
    vocab.EXACT_MATCH,
    vocab.BROAD_MATCH,
    vocab.LATERALITY,
    vocab.TISSUE,
    vocab.LANDMARK,
]
_PRED_RANK = {iri(p): i for i, p in enumerate(_PRED_ORDER)}
_PN_LOCAL_RE = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_\-.]*[A-Za-z0-9_\-])?$")


_PREFIX_ORDER = sorted(vocab.PREFIXES.items(), key=lambda kv: -len(kv[1]))


@functools.lru_cache(maxsize=65536)
def _compact_node(node: str) -> str:
    if not is_iri(node):
        return node
    value = iri_value(node)
    if value == vocab.RDF_TYPE:
        return "a"
    for prefix, ns in _PREFIX_ORDER:
        if value.startswith(ns):
            local = value[len(ns) :]
            if _PN_LOCAL_RE.match(local):
                return f"{prefix}:{local}"
    return node


def _render_object(node: str) -> str:
    if node.startswith('"'):
        value, dtype = literal_value(node)
        if dtype == vocab.XSD_DECIMAL and re.fullmatch(r"-?\d+\.\d+", value):
            return value
        if dtype == vocab.XSD_INTEGER and re.fullmatch(r"-?\d+", value):
            return value
        if dtype == vocab.XSD_BOOLEAN and value in ("true", "false"):
            return value
        if dtype == vocab.XSD_STRING:
            return node.split("^^", 1)[0]
        if dtype is not None:
            return node.split("^^", 1)[0] + "^^" + _compact_node(f"<{dtype}>")
        return node
    obj = _compact_node(node)
    return "rdf:type" if obj == "a" else obj


def _subject_rank(s: str, po: list[tuple[str, str]]) -> tuple:
    """The order of subjects in a written file: the ontology header, the schema, the terms
    by number, anything else."""
    if (iri(vocab.RDF_TYPE), iri(vocab.OWL_ONTOLOGY)) in po:
        return (0, s)
    c = vocab.curie_of(iri_value(s)) if is_iri(s) else None
    if c is not None:
        return (3, vocab.curie_number(c), s)
    if s in _KNOWN_SCHEMA:
        return (1, _compact_node(s))
    return (4, s)


def to_turtle(triples: list[Triple]) -> str:
    """Deterministic, sorted Turtle.  Blank nodes used once as an object are inlined."""
    by_subject: dict[str, list[tuple[str, str]]] = defaultdict(list)
    refs: dict[str, int] = defaultdict(int)
    for s, p, o in triples:
        by_subject[s].append((p, o))
        if o.startswith("_:"):
            refs[o] += 1
    inline = {b for b, n in refs.items() if n == 1 and b in by_subject}

    def render_po(po: list[tuple[str, str]], indent: str) -> list[str]:
        groups: dict[str, list[str]] = defaultdict(list)
        for p, o in po:
            if o in inline:
                groups[p].append("[ " + " ; ".join(render_po(by_subject[o], "")) + " ]")
            else:
                groups[p].append(_render_object(o))
        preds = sorted(groups, key=lambda p: (_PRED_RANK.get(p, len(_PRED_RANK)), _compact_node(p)))
        lines = []
        for p in preds:
            objs = sorted(set(groups[p]), key=lambda o: (o.startswith("["), o))
            sep = " ,\n" + indent + "    " if indent else " , "
            lines.append(f"{_compact_node(p)} " + sep.join(objs))
        return lines

    def subject_rank(s: str) -> tuple:
        return _subject_rank(s, by_subject[s])

    out = [f"@prefix {p}: <{ns}> ." for p, ns in sorted(vocab.PREFIXES.items())]
    out.append("")
    for s in sorted((s for s in by_subject if s not in inline), key=subject_rank):
        body = render_po(by_subject[s], "    ")
        labels = [o for p, o in by_subject[s] if p == iri(vocab.RDFS_LABEL) and o.startswith('"')]
        if labels and subject_rank(s)[0] == 3:
            out.append("# " + literal_value(labels[0])[0].replace("\n", " "))
        out.append(_compact_node(s) if not s.startswith("_:") else s)
        out.append("    " + " ;\n    ".join(body) + " .")
        out.append("")
    return "\n".join(out)


def to_ntriples(triples: list[Triple]) -> str:
    return "".join(f"{s} {p} {o} .\n" for s, p, o in sorted(set(triples)))


# -- RDF/XML, the way OWLAPI writes it --------------------------------------------------------
#: the types that name an element, most specific first (OWLAPI's choice for an OWL file)
_ELEMENT_TYPES = [
    vocab.OWL_ONTOLOGY,
    vocab.OWL_CLASS,
    vocab.OWL_OBJECT_PROPERTY,
    vocab.OWL + "DatatypeProperty",
    vocab.OWL_ANNOTATION_PROPERTY,
    vocab.OWL_RESTRICTION,
    vocab.OWL + "Axiom",
    vocab.OWL + "NamedIndividual",
]
_NCNAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_XML_ESC = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;"}
_XML_ESC_RE = re.compile(r'[&<>"\r]')
_LANG_RE = re.compile(r'"@([A-Za-z0-9-]+)$')


def _xml(text: str) -> str:
    return _XML_ESC_RE.sub(lambda m: _XML_ESC[m.group(0)], text)


def to_rdfxml(triples: list[Triple]) -> str:
    """RDF/XML as OWLAPI (Protégé, ROBOT) writes it, which readers that walk the XML rather
    than the triples (pronto, and OAK through it) need: the ``owl:Ontology`` element first,
    every node an element named by its type (``owl:Class``, ``owl:AnnotationProperty``,
    ``owl:Restriction`` …) instead of ``rdf:Description`` with an ``rdf:type``, restrictions
    nested where they are used.  Sorted like :func:`to_turtle`, so the output is
    byte-stable."""
    by_subject: dict[str, list[tuple[str, str]]] = defaultdict(list)
    refs: dict[str, int] = defaultdict(int)
    for s, p, o in sorted(set(triples)):
        by_subject[s].append((p, o))
        if o.startswith("_:"):
            refs[o] += 1
    inline = {b for b, n in refs.items() if n == 1 and b in by_subject}
    spaces = {ns: p for p, ns in sorted(vocab.PREFIXES.items()) if ns.endswith(("#", "/"))}
    spaces.setdefault("http://purl.obolibrary.org/obo/", "obo")

    def qname(value: str) -> str:
        cut = max(value.rfind("#"), value.rfind("/")) + 1
        ns, local = value[:cut], value[cut:]
        if not _NCNAME_RE.match(local):
            raise ValueError(f"<{value}> cannot be written as an RDF/XML element name")
        if ns not in spaces:
            spaces[ns] = f"ns{sum(p.startswith('ns') for p in spaces.values()) + 1}"
        return f"{spaces[ns]}:{local}"

    type_iri = iri(vocab.RDF_TYPE)

    def node(s: str, indent: str, attr: str) -> list[str]:
        po = by_subject[s]
        types = [iri_value(o) for p, o in po if p == type_iri and is_iri(o)]
        element = next((t for t in _ELEMENT_TYPES if t in types), None)
        rest = [(p, o) for p, o in po if not (p == type_iri and element and o == iri(element))]
        tag = qname(element) if element else "rdf:Description"
        lines = [f"{indent}<{tag}{attr}" + (">" if rest else "/>")]
        for p, o in sorted(
            rest,
            key=lambda po: (_PRED_RANK.get(po[0], len(_PRED_RANK)), _compact_node(po[0]), po[1]),
        ):
            name = qname(iri_value(p))
            inner = indent + "    "
            if is_iri(o):
                lines.append(f'{inner}<{name} rdf:resource="{_xml(iri_value(o))}"/>')
            elif o in inline:
                lines.append(f"{inner}<{name}>")
                lines += node(o, inner + "    ", "")
                lines.append(f"{inner}</{name}>")
            elif o.startswith("_:"):
                lines.append(f'{inner}<{name} rdf:nodeID="{_xml(o[2:])}"/>')
            else:
                value, dtype = literal_value(o)
                lang = _LANG_RE.search(o)
                extra = (
                    f' xml:lang="{lang.group(1)}"'
                    if lang
                    else f' rdf:datatype="{_xml(dtype)}"'
                    if dtype and dtype != vocab.XSD_STRING
                    else ""
                )
                lines.append(f"{inner}<{name}{extra}>{_xml(value)}</{name}>")
        if rest:
            lines.append(f"{indent}</{tag}>")
        return lines

    body: list[str] = []
    for s in sorted(
        (s for s in by_subject if s not in inline), key=lambda s: _subject_rank(s, by_subject[s])
    ):
        attr = f' rdf:about="{_xml(iri_value(s))}"' if is_iri(s) else f' rdf:nodeID="{_xml(s[2:])}"'
        body += node(s, "    ", attr)
        body.append("")
    head = ['<?xml version="1.0" encoding="utf-8"?>', "<rdf:RDF"]
    head += [
        f'    xmlns:{p}="{_xml(ns)}"' for ns, p in sorted(spaces.items(), key=lambda kv: kv[1])
    ]
    head[-1] += ">"
    return "\n".join([*head, "", *body, "</rdf:RDF>", ""])
