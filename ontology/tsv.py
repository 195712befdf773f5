"""Tab-separated forms of the ontology.

* The **term table** (``write_tsv``/``read_tsv``): one row per term with the columns
  ``curie label level parent laterality exact_synonyms definition`` followed by every other
  field anatloc keeps, and ``#`` header lines for the ontology header.  It is a complete
  serialization: export → import → export gives the same bytes.
* The **location list** (``read_location_list``): the 3-column ``region coarse location``
  table the vocabulary was first defined with (``/shared/anatomy/locations.tsv``); importing
  it builds a fresh ontology with CURIEs assigned by level (regions, then coarse, then fine,
  each in order of first appearance).

List fields are ``|``-separated; ``\\``, tab, newline and ``|`` inside a value are escaped
as ``\\\\``, ``\\t``, ``\\n`` and ``\\|``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import vocab
from .errors import DataError
from .model import Ontology, OntologyMeta, Term, label_side

COLUMNS = (
    "curie",
    "label",
    "level",
    "parent",
    "laterality",
    "exact_synonyms",
    "definition",
    "related_synonyms",
    "preferred_synonym",
    "xrefs",
    "tissue",
    "landmark",
    "relations",
    "geometry",
    "facts",
    "description",
    "paraphrases",
    "description_generator",
    "code_matches",
    "report_phrase",
    "report_synonyms",
)
MAGIC = "# anatloc ontology TSV v1"
_HEADER_FIELDS = (
    "iri",
    "version_info",
    "title",
    "description",
    "license",
    "last_id",
    "atlas_frame",
    "derivation",
)


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("|", "\\|")


def _unesc(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n"}.get(m.group(1), m.group(1)), text)


def _join(items) -> str:
    return "|".join(_esc(x) for x in items)


def _split(field: str) -> list[str]:
    """Split on unescaped ``|`` and unescape each item."""
    if field == "":
        return []
    items, cur, i = [], [], 0
    while i < len(field):
        ch = field[i]
        if ch == "\\" and i + 1 < len(field):
            cur.append(field[i : i + 2])
            i += 2
            continue
        if ch == "|":
            items.append(_unesc("".join(cur)))
            cur = []
        else:
            cur.append(ch)
        i += 1
    items.append(_unesc("".join(cur)))
    return items


def _code_matches(field: str, source: str, n: int) -> tuple[tuple[str, str], ...]:
    """``exact:SCTID:10200004|broad:SCTID:…`` → ((kind, code), …)."""
    out = []
    for item in _split(field):
        kind, _, code = item.partition(":")
        if kind not in vocab.CODE_MATCH_KINDS or code.partition(":")[0] not in vocab.CODE_SYSTEMS:
            raise DataError(
                f"{source}: line {n}: bad code match {item!r} "
                f"(expected exact:SCTID:<code> or broad:SCTID:<code>)"
            )
        out.append((kind, code))
    return tuple(out)


def write_tsv(ont: Ontology) -> str:
    m = ont.meta
    lines = [MAGIC]
    for key in _HEADER_FIELDS:
        lines.append(f"# {key}: {_esc(str(getattr(m, key)))}")
    for p, o in m.extra:
        lines.append(f"#@ {_esc(p)}\t{_esc(o)}")
    for s, p, o in ont.foreign:
        lines.append(f"#! {_esc(s)}\t{_esc(p)}\t{_esc(o)}")
    lines.append("\t".join(COLUMNS))
    for t in ont:
        row = {
            "curie": t.curie,
            "label": _esc(t.label),
            "level": t.level,
            "parent": t.parent or "",
            "laterality": t.laterality,
            "exact_synonyms": _join(t.exact_synonyms),
            "definition": _esc(t.definition),
            "related_synonyms": _join(t.related_synonyms),
            "preferred_synonym": _esc(t.preferred_synonym),
            "xrefs": _join(t.xrefs),
            "tissue": t.tissue,
            "landmark": "true" if t.landmark else "",
            "relations": _join(f"{k}:{c}" for k, v in t.relations.items() for c in v),
            "geometry": _esc(t.geometry),
            "facts": _join(f"{k}={v:.1f}" for k, v in t.facts.items()),
            "description": _esc(t.description),
            "paraphrases": _join(t.paraphrases),
            "description_generator": _esc(t.description_generator),
            "code_matches": _join(f"{k}:{c}" for k, c in t.code_matches),
            "report_phrase": _esc(t.report_phrase),
            "report_synonyms": _join(t.report_synonyms),
        }
        lines.append("\t".join(row[c] for c in COLUMNS))
    for t in ont:  # extra triples of terms, after the table so the table stays rectangular
        for p, o in t.extra:
            lines.append(f"#+ {t.curie}\t{_esc(p)}\t{_esc(o)}")
    return "\n".join(lines) + "\n"


@dataclass
class _Table:
    """What the lines of a term table hold, before the terms are built."""

    meta: OntologyMeta = field(default_factory=OntologyMeta)
    header_extra: list[tuple[str, str]] = field(default_factory=list)
    foreign: list[tuple[str, str, str]] = field(default_factory=list)
    term_extra: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    columns: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)


def read_tsv(text: str, source: str = "<tsv>") -> Ontology:
    """Read either TSV form (the term table or the 3-column location list)."""
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    if not first:
        raise DataError(f"{source}: the file is empty")
    if first.rstrip("\r").split("\t") == ["region", "coarse", "location"]:
        return read_location_list(text, source)
    if first.strip() != MAGIC and not first.startswith("curie\t"):
        raise DataError(
            f"{source}: line 1: expected the header '{MAGIC}' (an anatloc term table) or "
            "'region<TAB>coarse<TAB>location' (a location list)"
        )
    tab = _Table()
    for n, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if line.startswith("#"):
            _read_comment(tab, line, n, source)
        else:
            _read_row(tab, line, n, source)
    if tab.columns is None:
        raise DataError(f"{source}: no column header line found")
    tab.meta.extra = tuple(tab.header_extra)
    terms: list[Term] = []
    seen: dict[str, int] = {}
    for n, r in tab.rows:
        curie = _new_curie(r["curie"], seen, n, source)
        terms.append(_term_of_row(curie, r, n, source, tab.term_extra.get(curie, ())))
    _check_parents(tab.rows, terms, source)
    return Ontology(terms, tab.meta, foreign=tab.foreign)


def _check_parents(rows: list[tuple[int, dict[str, str]]], terms: list[Term], source: str) -> None:
    known = {t.curie for t in terms}
    for (n, r), t in zip(rows, terms, strict=True):
        if t.parent is not None and t.parent not in known:
            raise DataError(
                f"{source}: line {n}: parent {r['parent']!r} of {t.label!r} is not a term of the table"
            )
        if t.parent is None and t.level != "region":
            raise DataError(f"{source}: line {n}: the {t.level} term {t.label!r} has no parent")


def _new_curie(text: str, seen: dict[str, int], n: int, source: str) -> str:
    """The CURIE of row ``n``, which no earlier row has (``seen``: CURIE -> line)."""
    curie = vocab.normalize_curie(text)
    if curie is None:
        raise DataError(f"{source}: line {n}: {text!r} is not an ANATLOC CURIE")
    if curie in seen:
        raise DataError(
            f"{source}: line {n}: {curie} is listed twice (first on line {seen[curie]})"
        )
    seen[curie] = n
    return curie


#: the '#x ' lines after the header: how many tab-separated fields each has
_EXTRA_LINES = {"#! ": 3, "#@ ": 2, "#+ ": 3}


def _read_comment(tab: _Table, line: str, n: int, source: str) -> None:
    """A '#' line: foreign triple (#!), header triple (#@), term triple (#+) or header field."""
    want = _EXTRA_LINES.get(line[:3])
    if want is None:
        _read_header_field(tab.meta, line, n, source)
        return
    parts = line[3:].split("\t")
    if len(parts) != want:
        raise DataError(
            f"{source}: line {n}: a '{line[:2]}' line needs {want} tab-separated fields"
        )
    if line.startswith("#! "):
        tab.foreign.append(tuple(_unesc(p) for p in parts))  # type: ignore[arg-type]
    elif line.startswith("#@ "):
        tab.header_extra.append((_unesc(parts[0]), _unesc(parts[1])))
    else:
        tab.term_extra.setdefault(parts[0], []).append((_unesc(parts[1]), _unesc(parts[2])))


def _read_header_field(meta: OntologyMeta, line: str, n: int, source: str) -> None:
    key, sep, value = line[1:].strip().partition(": ")
    if not (sep and key in _HEADER_FIELDS):
        return  # any other comment
    value = _unesc(value)
    if key != "last_id":
        setattr(meta, key, value)
        return
    try:
        meta.last_id = int(value)
    except ValueError:
        raise DataError(f"{source}: line {n}: last_id must be an integer") from None


def _read_row(tab: _Table, line: str, n: int, source: str) -> None:
    """The column header (the first row) or one term's row."""
    fields = line.split("\t")
    if tab.columns is None:
        tab.columns = fields
        missing = [c for c in COLUMNS[:7] if c not in fields]
        if missing:
            raise DataError(f"{source}: line {n}: missing column(s) {', '.join(missing)}")
        return
    if len(fields) != len(tab.columns):
        raise DataError(
            f"{source}: line {n}: expected {len(tab.columns)} tab-separated fields, found {len(fields)}"
        )
    tab.rows.append((n, dict(zip(tab.columns, fields, strict=True))))


def _term_of_row(
    curie: str, r: dict[str, str], n: int, source: str, extra: Iterable[tuple[str, str]]
) -> Term:
    level = r["level"]
    if level not in vocab.LEVELS:
        raise DataError(
            f"{source}: line {n}: level {level!r} is not one of {', '.join(vocab.LEVELS)}"
        )
    lat = r["laterality"] or "unsided"
    if lat not in vocab.LATERALITIES:
        raise DataError(
            f"{source}: line {n}: laterality {lat!r} is not one of {', '.join(vocab.LATERALITIES)}"
        )
    relations = _relations_of(r.get("relations", ""), n, source)
    facts = _facts_of(r.get("facts", ""), n, source)
    parent = r["parent"].strip()
    return Term(
        curie=curie,
        label=_unesc(r["label"]),
        level=level,
        parent=(vocab.normalize_curie(parent) or parent) if parent else None,
        laterality=lat,
        definition=_unesc(r["definition"]),
        exact_synonyms=tuple(_split(r["exact_synonyms"])),
        related_synonyms=tuple(_split(r.get("related_synonyms", ""))),
        preferred_synonym=_unesc(r.get("preferred_synonym", "")),
        xrefs=tuple(_split(r.get("xrefs", ""))),
        tissue=r.get("tissue", ""),
        landmark=r.get("landmark", "") == "true",
        relations=relations,
        geometry=_unesc(r.get("geometry", "")),
        facts=facts,
        description=_unesc(r.get("description", "")),
        paraphrases=tuple(_split(r.get("paraphrases", ""))),
        description_generator=_unesc(r.get("description_generator", "")),
        extra=tuple(extra),
        code_matches=_code_matches(r.get("code_matches", ""), source, n),
        report_phrase=_unesc(r.get("report_phrase", "")),
        report_synonyms=tuple(_split(r.get("report_synonyms", ""))),
    )


def _relations_of(cell: str, n: int, source: str) -> dict[str, tuple[str, ...]]:
    relations: dict[str, list[str]] = {}
    for item in _split(cell):
        name, _, target = item.partition(":")
        if name not in vocab.RELATIONS or vocab.normalize_curie(target) is None:
            raise DataError(f"{source}: line {n}: bad relation {item!r} (expected name:CURIE)")
        relations.setdefault(name, []).append(vocab.normalize_curie(target))
    return {k: tuple(v) for k, v in relations.items()}


def _facts_of(cell: str, n: int, source: str) -> dict[str, float]:
    facts = {}
    for item in _split(cell):
        k, _, v = item.partition("=")
        try:
            facts[k] = float(v)
        except ValueError:
            raise DataError(
                f"{source}: line {n}: bad fact {item!r} (expected name=number)"
            ) from None
    return facts


def read_location_list(text: str, source: str = "<tsv>") -> Ontology:
    """Build a fresh ontology from the 3-column ``region coarse location`` list."""
    regions, coarse, fine = _location_table(text, source)
    terms: list[Term] = []
    ids: dict[tuple[str, str], str] = {}
    number = 0
    for level, items in (
        ("region", {r: None for r in regions}),
        ("coarse", coarse),
        ("fine", fine),
    ):
        for label, parent_label in items.items():
            number += 1
            curie = vocab.curie_for(number)
            ids[(level, label)] = curie
            parent = None
            if parent_label is not None:
                parent = ids[(vocab.PARENT_LEVEL[level], parent_label)]
            terms.append(Term(curie, label, level, parent, label_side(label)[0] or "unsided"))
    return Ontology(terms, OntologyMeta(last_id=number))


def _location_table(text: str, source: str) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """(regions in order, coarse label -> region, fine label -> coarse) of a location list."""
    regions: list[str] = []
    coarse: dict[str, str] = {}  # coarse label -> region label
    fine: dict[str, str] = {}  # fine label -> coarse label
    header_seen = False
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.strip() or line.startswith("#"):
            continue
        if not header_seen:
            header_seen = True
            continue
        region, crs, loc = _location_row(line.split("\t"), n, source)
        if region not in regions:
            regions.append(region)
        if coarse.setdefault(crs, region) != region:
            raise DataError(
                f"{source}: line {n}: coarse location {crs!r} is under {coarse[crs]!r} and {region!r}; "
                "a coarse location has exactly one region"
            )
        if loc in fine:
            raise DataError(f"{source}: line {n}: location {loc!r} is listed twice")
        fine[loc] = crs
    if not fine:
        raise DataError(f"{source}: no locations found")
    return regions, coarse, fine


def _location_row(fields: list[str], n: int, source: str) -> tuple[str, str, str]:
    if len(fields) != 3:
        raise DataError(
            f"{source}: line {n}: expected 3 tab-separated fields (region, coarse, location), found {len(fields)}"
        )
    region, crs, loc = (f.strip() for f in fields)
    if not loc:
        raise DataError(f"{source}: line {n}: the location is empty")
    if not crs:
        raise DataError(f"{source}: line {n}: location {loc!r} has no coarse parent")
    if not region:
        raise DataError(f"{source}: line {n}: coarse location {crs!r} has no region")
    return region, crs, loc
