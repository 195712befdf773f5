"""The ontology in OBO flat-file format 1.4, for OBO tools (pronto, fastobo, OAK, OBO-Edit).

Decisions:

* Written from the model, not converted from RDF: the OBO stanza of a term is short and
  fixed (``id``, ``name``, ``def``, ``synonym``, ``xref``, ``is_a``, ``relationship``,
  ``property_value``), and writing it here keeps the output sorted and byte-stable without
  a third-party writer in the install.  Export only: anatloc reads its own formats (Turtle,
  RDF/XML, JSON-LD, N-Triples, TSV), and the OBO file carries no atlas geometry or
  generated text.
* ``idspace`` lines map the prefixes to anatloc's IRIs (``ANATLOC`` →
  ``https://w3id.org/anatloc/ANATLOC_``), so an OBO reader shows ``ANATLOC:0000285`` and
  can expand it to the same IRI as the Turtle.
* The three level classes become terms ``anatloc:Region`` … (``is_a`` of every location);
  ``part_of`` is ``BFO:0000050``; the other relations are typedefs named as in the Turtle
  (``adjacent_to`` …), with ``is_symmetric`` where they are.
* Laterality and tissue are ``property_value`` lines under anatloc's vocabulary prefix.
"""

from __future__ import annotations

import re

from . import vocab
from .model import Ontology

#: the typedef of part_of (OBO's usual id for BFO:0000050)
PART_OF = "BFO:0000050"
_LEVEL_TERMS = {
    level: "anatloc:" + iri.rsplit("#", 1)[1] for level, iri in vocab.LEVEL_CLASS.items()
}
_LEVEL_NAMES = {"region": "region", "coarse": "coarse location", "fine": "fine location"}
_IDSPACES = {
    "ANATLOC": vocab.PREFIXES["ANATLOC"],
    "anatloc": vocab.PREFIXES["anatloc"],
}


def _quoted(text: str) -> str:
    """An OBO quoted string: backslash and double quote escaped, line breaks as ``\\n``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _value(text: str) -> str:
    """An unquoted OBO value (``name:``): line breaks and the comment sign ``!`` escaped."""
    return re.sub(r"([\\!{])", r"\\\1", text).replace("\n", "\\n")


def _xref(curie: str) -> str:
    return curie.replace(" ", "_")


def to_obo(ont: Ontology) -> str:
    """The ontology as an OBO 1.4 document (sorted, byte-stable)."""
    meta = ont.meta
    out = [
        "format-version: 1.4",
        f"data-version: {meta.version_info}",
        *(f"idspace: {p} {ns}" for p, ns in sorted(_IDSPACES.items())),
        "ontology: anatloc",
        f"property_value: http://purl.org/dc/terms/title {_quoted(meta.title)} xsd:string",
        f"property_value: http://purl.org/dc/terms/license {meta.license}",
        "",
    ]
    for level, curie in _LEVEL_TERMS.items():
        out += ["[Term]", f"id: {curie}", f"name: {_LEVEL_NAMES[level]}", ""]
    terms = sorted(ont.terms(), key=lambda t: vocab.curie_number(t.curie))
    for t in terms:
        out += ["[Term]", f"id: {t.curie}", f"name: {_value(t.label)}"]
        if t.definition:
            out.append(f"def: {_quoted(t.definition)} []")
        for syn in t.exact_synonyms:
            out.append(f"synonym: {_quoted(syn)} EXACT []")
        for syn in t.related_synonyms:
            out.append(f"synonym: {_quoted(syn)} RELATED []")
        for x in sorted(t.xrefs):
            out.append(f"xref: {_xref(x)}")
        for _, code in sorted(t.code_matches):
            out.append(f"xref: {_xref(code)}")
        if t.level in _LEVEL_TERMS:
            out.append(f"is_a: {_LEVEL_TERMS[t.level]} ! {_LEVEL_NAMES[t.level]}")
        rels = []
        if t.parent:
            rels.append((PART_OF, t.parent))
        for name in sorted(t.relations):
            rels += [(name, target) for target in sorted(t.relations[name])]
        for rel, target in rels:
            label = ont[target].label if target in ont else ""
            out.append(f"relationship: {rel} {target}" + (f" ! {label}" if label else ""))
        out.append(f"property_value: anatloc:laterality {_quoted(t.laterality)} xsd:string")
        if t.tissue:
            out.append(f"property_value: anatloc:tissue {_quoted(t.tissue)} xsd:string")
        out.append("")
    out += ["[Typedef]", f"id: {PART_OF}", "name: part of", "is_transitive: true", ""]
    for name, rel in sorted(vocab.RELATIONS.items()):
        out += ["[Typedef]", f"id: {name}", f"name: {_value(rel.label)}"]
        out.append(f"def: {_quoted(rel.definition)} []")
        out.append(f"xref: anatloc:{name}")
        if rel.symmetric:
            out.append("is_symmetric: true")
        if rel.inverse:
            out.append(f"inverse_of: {rel.inverse}")
        out.append("")
    return "\n".join(out)
